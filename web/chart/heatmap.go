package chart

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// Heat map layout, in pixels.
const (
	cellW      = 48.0
	cellH      = 30.0
	heatFont   = 12.0
	heatTitleH = 32.0
	legendH    = 56.0
	legendW    = 240.0
)

// scale is the sequential colour scale, light to dark (ColorBrewer "Blues", 5 classes):
// readable in print and by people with the common colour-vision deficiencies.
var scale = [][3]float64{
	{0xef, 0xf3, 0xff},
	{0xbd, 0xd7, 0xe7},
	{0x6b, 0xae, 0xd6},
	{0x31, 0x82, 0xbd},
	{0x08, 0x51, 0x9c},
}

// axisLabel names the two axes in the corner: rows are origins, columns destinations.
const axisLabel = "流出＼流入"

// noData is the fill of a cell without a value.
const noData = "#d9d9d9"

// Color returns the colour of t in [0, 1] on the scale, as #rrggbb; t outside is clamped.
func Color(t float64) string {
	if math.IsNaN(t) || t < 0 {
		t = 0
	}
	if t > 1 {
		t = 1
	}
	pos := t * float64(len(scale)-1)
	i := min(int(pos), len(scale)-2)
	frac := pos - float64(i)
	var rgb [3]int
	for k := range 3 {
		rgb[k] = int(math.Round(scale[i][k] + (scale[i+1][k]-scale[i][k])*frac))
	}
	return fmt.Sprintf("#%02x%02x%02x", rgb[0], rgb[1], rgb[2])
}

// HeatMap draws a matrix of values — origin province (rows) × destination province
// (columns) flows — as coloured cells on a sequential scale from 0 to the largest value, with
// the value written in each cell, a <title> tooltip per cell ("广东 → 福建：1,234人"), and a
// colour legend. A NaN, infinite or missing value (a short row) is a grey cell "无数据";
// negative values count as 0 for the colour. Row and column labels are written as given.
func HeatMap(title string, rows, cols []string, values [][]float64, opts ...Option) template.HTML {
	c := newConfig(opts)
	at := func(r, col int) float64 {
		if r < len(values) && col < len(values[r]) {
			return values[r][col]
		}
		return math.NaN()
	}
	ok := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	maxV := 0.0
	rowW, colW := 0.0, 0.0
	for r := range rows {
		rowW = max(rowW, textWidth(rows[r], heatFont))
		for col := range cols {
			if v := at(r, col); ok(v) && v > maxV {
				maxV = v
			}
		}
	}
	for _, l := range cols {
		colW = max(colW, textWidth(l, heatFont))
	}
	t := func(v float64) float64 {
		if maxV <= 0 || v <= 0 {
			return 0
		}
		if c.log {
			return math.Log1p(v) / math.Log1p(maxV)
		}
		return v / maxV
	}

	// Column labels are turned 45° so long names fit over narrow cells.
	x0 := max(rowW, textWidth(axisLabel, 11)) + 8
	colLabelH := colW*math.Sqrt2/2 + 12
	y0 := heatTitleH + colLabelH
	width := max(x0+float64(len(cols))*cellW+colW*math.Sqrt2/2, legendW+40, textWidth(title, 16)+8)
	height := y0 + float64(len(rows))*cellH + legendH

	desc := c.desc
	if desc == "" {
		var d strings.Builder
		fmt.Fprintf(&d, "热力图：%d 行 × %d 列，行为流出地，列为流入地，颜色越深数值越大，最大值 %s。", len(rows), len(cols), c.value(maxV))
		for r := range rows {
			for col := range cols {
				if v := at(r, col); ok(v) && v > 0 {
					fmt.Fprintf(&d, "%s → %s：%s；", rows[r], cols[col], c.value(v))
				}
			}
		}
		desc = strings.TrimSuffix(d.String(), "；")
	}

	id := chartID("heat", title, rows, cols, values, c.unit, c.log)
	var b strings.Builder
	open(&b, id, width, height, title, desc)
	fmt.Fprintf(&b, `<text x="0" y="20" font-size="16" font-weight="bold" fill="#000">%s</text>`, esc(title))
	fmt.Fprintf(&b, `<text class="axis" x="0" y="%s" font-size="11" fill="#000">%s</text>`, f(y0-6), axisLabel)
	for col, l := range cols {
		x := x0 + float64(col)*cellW + cellW/2
		fmt.Fprintf(&b, `<text class="col" x="%s" y="%s" font-size="%s" transform="rotate(-45 %s %s)" fill="#000">%s</text>`,
			f(x), f(y0-6), f(heatFont), f(x), f(y0-6), esc(l))
	}
	for r, l := range rows {
		fmt.Fprintf(&b, `<text class="row" x="%s" y="%s" font-size="%s" text-anchor="end" dominant-baseline="central" fill="#000">%s</text>`,
			f(rowW), f(y0+float64(r)*cellH+cellH/2), f(heatFont), esc(l))
	}
	for r := range rows {
		for col := range cols {
			v := at(r, col)
			x, y := x0+float64(col)*cellW, y0+float64(r)*cellH
			fill, label, ink := noData, "无数据", "#000"
			if ok(v) {
				tv := t(v)
				fill, label = Color(tv), c.value(v)
				if tv > 0.55 {
					ink = "#fff"
				}
			}
			fmt.Fprintf(&b, `<g class="cell"><title>%s → %s：%s</title>`, esc(rows[r]), esc(cols[col]), esc(label))
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="#fff" stroke-width="1"/>`,
				f(x), f(y), f(cellW), f(cellH), fill)
			short := "—"
			if ok(v) {
				short = Compact(v)
			}
			fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="11" text-anchor="middle" dominant-baseline="central" fill="%s">%s</text>`,
				f(x+cellW/2), f(y+cellH/2), ink, esc(short))
			b.WriteString(`</g>`)
		}
	}

	// Legend: the gradient of the scale with its ends and middle marked.
	ly := y0 + float64(len(rows))*cellH + 16
	fmt.Fprintf(&b, `<g class="legend"><title>图例：颜色由浅到深表示 0 到 %s</title>`, esc(c.value(maxV)))
	fmt.Fprintf(&b, `<defs><linearGradient id="%s-g" x1="0" x2="1" y1="0" y2="0">`, id)
	for i := range scale {
		stop := float64(i) / float64(len(scale)-1)
		fmt.Fprintf(&b, `<stop offset="%s" stop-color="%s"/>`, f(stop), Color(stop))
	}
	b.WriteString(`</linearGradient></defs>`)
	fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="12" fill="url(#%s-g)" stroke="#000" stroke-width="0.5"/>`,
		f(x0), f(ly), f(legendW), id)
	mid := maxV / 2
	if c.log {
		mid = math.Expm1(math.Log1p(maxV) / 2)
	}
	for i, v := range []float64{0, mid, maxV} {
		x := x0 + legendW*float64(i)/2
		anchor := []string{"start", "middle", "end"}[i]
		fmt.Fprintf(&b, `<text class="tick" x="%s" y="%s" font-size="11" text-anchor="%s" fill="#000">%s</text>`,
			f(x), f(ly+26), anchor, esc(c.value(v)))
	}
	fmt.Fprintf(&b, `<rect x="%s" y="%s" width="12" height="12" fill="%s"/><text x="%s" y="%s" font-size="11" fill="#000">无数据</text></g>`,
		f(x0+legendW+12), f(ly), noData, f(x0+legendW+28), f(ly+10))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
