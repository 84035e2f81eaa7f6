// Package chart draws the charts of the web application on the server, as inline SVG: a
// horizontal bar chart (Bars) and a province × province heat map (HeatMap). The output is
// accessible (role="img", a <title> and a <desc> listing the data, a <title> tooltip on every
// bar and cell), every piece of text is escaped, and the same input always gives the same
// bytes, so a page can be cached and a test can compare. No JavaScript, no fonts or images
// from elsewhere; it prints in black and white too (values are written on the bars and
// cells).
package chart

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// config holds what the options set.
type config struct {
	width int
	unit  string
	desc  string
	log   bool
}

// Option changes how a chart is drawn.
type Option func(*config)

// Width sets the width of the chart in CSS pixels (default 640 for Bars; HeatMap sizes
// itself from its cells and ignores it).
func Width(px int) Option { return func(c *config) { c.width = px } }

// Unit is written after values in labels, tooltips and the legend, e.g. "人" or "件".
func Unit(u string) Option { return func(c *config) { c.unit = u } }

// Desc replaces the generated description read out by screen readers.
func Desc(d string) Option { return func(c *config) { c.desc = d } }

// LogScale colours a heat map by log(1+v) instead of v, for flows whose largest values would
// otherwise wash out all the others.
func LogScale() Option { return func(c *config) { c.log = true } }

func newConfig(opts []Option) *config {
	c := &config{width: 640}
	for _, o := range opts {
		o(c)
	}
	if c.width < 240 {
		c.width = 240
	}
	return c
}

// value formats v (Number) with the unit; "—" for a missing value.
func (c *config) value(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return Number(v) + c.unit
}

// Number formats v with thousands grouped and at most one decimal: 12,345 or 3.5.
func Number(v float64) string {
	neg := v < 0
	if neg {
		v = -v
	}
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// Compact formats v briefly for a small cell: 950, 1.2万, 3.4亿.
func Compact(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e8:
		return strconv.FormatFloat(math.Round(v/1e7)/10, 'f', -1, 64) + "亿"
	case a >= 1e4:
		return strconv.FormatFloat(math.Round(v/1e3)/10, 'f', -1, 64) + "万"
	}
	return Number(v)
}

// esc escapes text for SVG content and attribute values.
func esc(s string) string { return template.HTMLEscapeString(s) }

// f writes a coordinate with one decimal, the same bytes on every platform.
func f(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// textWidth estimates the width in pixels of s at a font size: a CJK (wide) character is one
// em, anything else about 0.6 em. Good enough to lay out labels without measuring fonts.
func textWidth(s string, size float64) float64 {
	w := 0.0
	for _, r := range s {
		if r >= 0x2E80 {
			w += size
		} else {
			w += 0.6 * size
		}
	}
	return w
}

// chartID is an id for the chart's title, desc and gradient, unique per content so that two
// charts on one page do not clash, and stable so the output is deterministic.
func chartID(kind string, parts ...any) string {
	h := sha256.New()
	fmt.Fprint(h, kind)
	for _, p := range parts {
		fmt.Fprintf(h, "\x00%v", p)
	}
	return kind + "-" + hex.EncodeToString(h.Sum(nil))[:10]
}

// font is the family of every chart's text: the web pages' CJK sans stack.
const font = `"PingFang SC","Microsoft YaHei","Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei",sans-serif`

// open writes the <svg> element with its accessible name and description.
func open(b *strings.Builder, id string, w, h float64, title, desc string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-labelledby="%s-t %s-d" width="%s" height="%s" viewBox="0 0 %s %s" font-family="%s">`,
		id, id, f(w), f(h), f(w), f(h), esc(font))
	fmt.Fprintf(b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, esc(title), id, esc(desc))
}
