package chart

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// Bar chart layout, in pixels.
const (
	barTitleH = 32.0
	barRowH   = 26.0
	barH      = 18.0
	barFont   = 13.0
	barGap    = 8.0
)

// Bars draws a horizontal bar chart: one row per label, top to bottom in the order given,
// the label on the left, a bar whose length is proportional to its value (the largest value
// spans the plot), and the value after the bar. A negative, NaN or infinite value draws no
// bar and its value is written as it is ("—" for NaN). Labels without a value, or values
// without a label, are left out.
func Bars(title string, labels []string, values []float64, opts ...Option) template.HTML {
	c := newConfig(opts)
	n := min(len(labels), len(values))
	labels, values = labels[:n], values[:n]

	maxV, maxI := 0.0, -1
	labelW, valueW := 0.0, 0.0
	for i := range n {
		if v := values[i]; !math.IsNaN(v) && !math.IsInf(v, 0) && v > maxV {
			maxV, maxI = v, i
		}
		labelW = max(labelW, textWidth(labels[i], barFont))
		valueW = max(valueW, textWidth(c.value(values[i]), barFont))
	}
	width := float64(c.width)
	labelW = min(labelW, width*0.4)
	x0 := labelW + barGap
	plotW := max(width-x0-valueW-2*barGap, 20)
	height := barTitleH + float64(n)*barRowH + barGap

	desc := c.desc
	if desc == "" {
		var d strings.Builder
		fmt.Fprintf(&d, "横向条形图，共 %d 项", n)
		if maxI >= 0 {
			fmt.Fprintf(&d, "，最大为%s %s", labels[maxI], c.value(maxV))
		}
		d.WriteString("。")
		for i := range n {
			if i > 0 {
				d.WriteString("；")
			}
			fmt.Fprintf(&d, "%s：%s", labels[i], c.value(values[i]))
		}
		if n > 0 {
			d.WriteString("。")
		}
		desc = d.String()
	}

	var b strings.Builder
	open(&b, chartID("bars", title, labels, values, c.unit, c.width), width, height, title, desc)
	fmt.Fprintf(&b, `<text x="0" y="20" font-size="16" font-weight="bold" fill="#000">%s</text>`, esc(title))
	for i := range n {
		v := values[i]
		y := barTitleH + float64(i)*barRowH
		w := 0.0
		if maxV > 0 && v > 0 && !math.IsInf(v, 0) {
			w = v / maxV * plotW
		}
		mid := y + barRowH/2
		fmt.Fprintf(&b, `<g class="bar"><title>%s：%s</title>`, esc(labels[i]), esc(c.value(v)))
		fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="%s" text-anchor="end" dominant-baseline="central" fill="#000">%s</text>`,
			f(labelW), f(mid), f(barFont), esc(labels[i]))
		fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="#2b6cb0"/>`, f(x0), f(mid-barH/2), f(w), f(barH))
		fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="%s" dominant-baseline="central" fill="#000">%s</text></g>`,
			f(x0+w+barGap/2), f(mid), f(barFont), esc(c.value(v)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
