package chart_test

import (
	"encoding/xml"
	"math"
	"strconv"
	"strings"
	"testing"

	"yipanqi/web/chart"
)

// node is a parsed SVG element.
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []*node    `xml:",any"`
}

func (n *node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n *node) num(t *testing.T, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.attr(name), 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.XMLName.Local, name, n.attr(name), err)
	}
	return v
}

// all returns the elements named local under n, depth first, in document order.
func (n *node) all(local string) []*node {
	var out []*node
	for _, c := range n.Children {
		if c.XMLName.Local == local {
			out = append(out, c)
		}
		out = append(out, c.all(local)...)
	}
	return out
}

func (n *node) child(local string) *node {
	for _, c := range n.Children {
		if c.XMLName.Local == local {
			return c
		}
	}
	return nil
}

// parse parses svg strictly as XML and checks the accessibility every chart has.
func parse(t *testing.T, svg string, title string) *node {
	t.Helper()
	var root node
	if err := xml.Unmarshal([]byte(svg), &root); err != nil {
		t.Fatalf("chart is not well-formed XML: %v\n%s", err, svg)
	}
	if root.XMLName.Local != "svg" || root.XMLName.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root is %v, want svg in the SVG namespace", root.XMLName)
	}
	if root.attr("role") != "img" {
		t.Errorf("role = %q, want img", root.attr("role"))
	}
	if len(root.Children) < 2 || root.Children[0].XMLName.Local != "title" || root.Children[1].XMLName.Local != "desc" {
		t.Fatal("the svg does not open with <title> and <desc>")
	}
	if got := root.Children[0].Text; got != title {
		t.Errorf("<title> = %q, want %q", got, title)
	}
	if root.Children[1].Text == "" {
		t.Error("empty <desc>")
	}
	ids := strings.Fields(root.attr("aria-labelledby"))
	if len(ids) != 2 || ids[0] != root.Children[0].attr("id") || ids[1] != root.Children[1].attr("id") {
		t.Errorf("aria-labelledby %q does not name the title and desc", root.attr("aria-labelledby"))
	}
	return &root
}

func TestBars(t *testing.T) {
	labels := []string{"广东省", "福建省", "<script>alert(1)</script> & 江西", "海南省"}
	values := []float64{1200, 600, 300, 0}
	svg := string(chart.Bars("各省流入人数", labels, values, chart.Unit("人")))
	root := parse(t, svg, "各省流入人数")
	if svg != string(chart.Bars("各省流入人数", labels, values, chart.Unit("人"))) {
		t.Error("the same data drew different bytes")
	}
	if strings.Contains(svg, "<script>") {
		t.Error("a label was not escaped")
	}
	bars := root.all("g")
	if len(bars) != len(labels) {
		t.Fatalf("%d bars, want %d", len(bars), len(labels))
	}
	full := bars[0].child("rect").num(t, "width")
	if full <= 0 {
		t.Fatalf("the largest bar has width %v", full)
	}
	for i, g := range bars {
		if tip := g.child("title").Text; tip != labels[i]+"："+chart.Number(values[i])+"人" {
			t.Errorf("bar %d tooltip %q", i, tip)
		}
		texts := g.all("text")
		if len(texts) != 2 || texts[0].Text != labels[i] || texts[1].Text != chart.Number(values[i])+"人" {
			t.Errorf("bar %d texts %v", i, texts)
		}
		// The scale: lengths are proportional to the values.
		if w, want := g.child("rect").num(t, "width"), full*values[i]/values[0]; math.Abs(w-want) > 0.15 {
			t.Errorf("bar %d (%v) width %v, want %v", i, values[i], w, want)
		}
	}
	if desc := root.Children[1].Text; !strings.Contains(desc, "共 4 项") || !strings.Contains(desc, "广东省 1,200人") {
		t.Errorf("desc %q", desc)
	}

	// Wider chart, longer bars; odd input drawn without bars rather than broken.
	wide := parse(t, string(chart.Bars("t", labels, values, chart.Width(1000))), "t")
	if w := wide.all("g")[0].child("rect").num(t, "width"); w <= full {
		t.Errorf("at width 1000 the full bar is %v, not longer than %v", w, full)
	}
	odd := parse(t, string(chart.Bars("t", []string{"a", "b", "c"}, []float64{math.NaN(), -5})), "t")
	if g := odd.all("g"); len(g) != 2 || g[0].child("rect").num(t, "width") != 0 || g[1].child("rect").num(t, "width") != 0 {
		t.Errorf("NaN and negative values: %d bars", len(g))
	}
	parse(t, string(chart.Bars("空", nil, nil)), "空")
}

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{0, "0"}, {999, "999"}, {1234, "1,234"}, {1234567.25, "1,234,567.3"}, {-4500, "-4,500"}, {3.5, "3.5"}} {
		if got := chart.Number(tc.v); got != tc.want {
			t.Errorf("Number(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	if got := chart.Compact(123456); got != "12.3万" {
		t.Errorf("Compact(123456) = %q", got)
	}
}

// luminance of #rrggbb, for checking the scale runs light to dark.
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil || len(hex) != 7 {
		t.Fatalf("colour %q", hex)
	}
	return 0.2126*float64(v>>16&0xff) + 0.7152*float64(v>>8&0xff) + 0.0722*float64(v&0xff)
}

func TestHeatMap(t *testing.T) {
	rows := []string{"广东", "江西", "广西壮族自治区"}
	cols := []string{"广东", "福建", "湖南", "<b>&"}
	values := [][]float64{
		{0, 500, 1000, 20},
		{4000, 0, 250, 0},
		{3000, 1, math.NaN()}, // short row: the last cell has no data
	}
	svg := string(chart.HeatMap("省际流动", rows, cols, values, chart.Unit("人")))
	root := parse(t, svg, "省际流动")
	if svg != string(chart.HeatMap("省际流动", rows, cols, values, chart.Unit("人"))) {
		t.Error("the same data drew different bytes")
	}
	var cells []*node
	for _, g := range root.all("g") {
		if g.attr("class") == "cell" {
			cells = append(cells, g)
		}
	}
	if len(cells) != len(rows)*len(cols) {
		t.Fatalf("%d cells, want %d", len(cells), len(rows)*len(cols))
	}
	fill := map[float64]string{}
	for i, g := range cells {
		r, c := i/len(cols), i%len(cols)
		tip := g.child("title").Text
		if !strings.HasPrefix(tip, rows[r]+" → "+cols[c]+"：") {
			t.Errorf("cell %d,%d tooltip %q", r, c, tip)
		}
		v := math.NaN()
		if c < len(values[r]) {
			v = values[r][c]
		}
		color := g.child("rect").attr("fill")
		if math.IsNaN(v) {
			if !strings.HasSuffix(tip, "无数据") {
				t.Errorf("cell %d,%d without data: tooltip %q", r, c, tip)
			}
			continue
		}
		if want := chart.Number(v) + "人"; !strings.HasSuffix(tip, want) {
			t.Errorf("cell %d,%d tooltip %q, want it to end %q", r, c, tip, want)
		}
		fill[v] = color
	}
	// The scale: 0 is the lightest colour, the maximum (4000) the darkest, and colour darkens
	// as the value grows.
	if fill[0] != chart.Color(0) || fill[4000] != chart.Color(1) || fill[1000] != chart.Color(0.25) {
		t.Errorf("fills 0:%s 1000:%s 4000:%s; want %s %s %s", fill[0], fill[1000], fill[4000], chart.Color(0), chart.Color(0.25), chart.Color(1))
	}
	prev := math.Inf(1)
	for _, v := range []float64{0, 1, 20, 250, 500, 1000, 3000, 4000} {
		l := luminance(t, fill[v])
		if l > prev {
			t.Errorf("value %v is lighter (%v) than a smaller one (%v)", v, l, prev)
		}
		prev = l
	}
	// Legend: a gradient from the lightest to the darkest colour, ticks 0 … max.
	stops := root.all("stop")
	if len(stops) < 2 || stops[0].attr("stop-color") != chart.Color(0) || stops[len(stops)-1].attr("stop-color") != chart.Color(1) {
		t.Errorf("legend gradient stops %v", stops)
	}
	var ticks []string
	for _, tx := range root.all("text") {
		if tx.attr("class") == "tick" {
			ticks = append(ticks, tx.Text)
		}
	}
	if strings.Join(ticks, "|") != "0人|2,000人|4,000人" {
		t.Errorf("legend ticks %v", ticks)
	}
	if strings.Contains(svg, "<b>") {
		t.Error("a column label was not escaped")
	}
	var colLabels []string
	for _, tx := range root.all("text") {
		if tx.attr("class") == "col" {
			colLabels = append(colLabels, tx.Text)
		}
	}
	if strings.Join(colLabels, "|") != strings.Join(cols, "|") {
		t.Errorf("column labels %v", colLabels)
	}

	// A log scale lifts the small values.
	logSVG := parse(t, string(chart.HeatMap("省际流动", rows, cols, values, chart.LogScale())), "省际流动")
	for _, g := range logSVG.all("g") {
		if g.attr("class") == "cell" && strings.HasSuffix(g.child("title").Text, "：500") {
			if l := luminance(t, g.child("rect").attr("fill")); l >= luminance(t, fill[500]) {
				t.Errorf("on a log scale 500 is not darker than on a linear one")
			}
		}
	}
}
