// Package meeting is the joint meeting of the 11 provinces (S4.2, 联席会议): held at least
// yearly, convened in rotation (轮值), with an agenda, minutes and resolutions; each
// resolution is followed up as a consult case (省际会商, consult.case) between provinces.
package meeting

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"yipanqi"
)

// Rotation says which province convenes the meeting of a year: Order[(year − FirstYear) mod
// len(Order)].
type Rotation struct {
	Order     []string
	FirstYear int
}

// DefaultRotation is the plan's order of the region's provinces (yipanqi.RegionCodes), 广东
// convening in 2026.
func DefaultRotation() Rotation {
	return Rotation{Order: yipanqi.RegionCodes(), FirstYear: 2026}
}

// ParseRotation reads a configured order — the 11 province codes separated by commas, each
// once — starting in firstYear. EINVALID naming field "rotation" otherwise.
func ParseRotation(order string, firstYear int) (Rotation, error) {
	var codes []string
	seen := map[string]bool{}
	for _, c := range strings.Split(order, ",") {
		c = strings.TrimSpace(c)
		switch {
		case yipanqi.ProvinceName(c) == "":
			return Rotation{}, yipanqi.FieldErrorf(yipanqi.EINVALID, "rotation", "轮值顺序中的“%s”不是泛珠三角区域的省份代码", c)
		case seen[c]:
			return Rotation{}, yipanqi.FieldErrorf(yipanqi.EINVALID, "rotation", "轮值顺序中“%s”出现了两次", c)
		}
		seen[c] = true
		codes = append(codes, c)
	}
	if len(codes) != len(yipanqi.RegionCodes()) {
		return Rotation{}, yipanqi.FieldErrorf(yipanqi.EINVALID, "rotation", "轮值顺序须列出全部 %d 个省份，现有 %d 个", len(yipanqi.RegionCodes()), len(codes))
	}
	if firstYear < 2000 || firstYear > 2999 {
		return Rotation{}, yipanqi.FieldErrorf(yipanqi.EINVALID, "first_year", "轮值起始年份“%d”无效", firstYear)
	}
	return Rotation{Order: codes, FirstYear: firstYear}, nil
}

// Host is the province that convenes the meeting of year.
func (r Rotation) Host(year int) string {
	n := len(r.Order)
	return r.Order[((year-r.FirstYear)%n+n)%n]
}

// Meeting is one joint meeting.
type Meeting struct {
	ID          int64
	Year        int
	Host        string       // the convening province's code
	HeldOn      yipanqi.Date // the day it met (or will meet)
	Place       string
	Agenda      string
	Minutes     string // empty until recorded
	Resolutions []*Resolution
	CreatedBy   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Resolution is one decision of a meeting, followed up as a consult case from Lead to
// Counterpart (CaseID once the case is sent; CaseState its state now).
type Resolution struct {
	ID          int64
	MeetingID   int64
	Seq         int // 1, 2, … within the meeting
	Text        string
	Lead        string // province that follows it up
	Counterpart string // province the consult case goes to
	CaseID      string
	CaseState   yipanqi.CaseState
}

// Check validates a meeting before it is stored, with the rotation's host as the default
// host; a host other than the rotation's is allowed (a swap agreed at the previous meeting)
// but must be one of the 11 provinces. EINVALID naming the field.
func (m *Meeting) Check(r Rotation) error {
	if m.Host == "" {
		m.Host = r.Host(m.Year)
	}
	switch {
	case m.Year < 2000 || m.Year > 2999:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "year", "会议年度“%d”无效", m.Year)
	case yipanqi.ProvinceName(m.Host) == "":
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "host", "召集省份“%s”不是泛珠三角区域的省份代码", m.Host)
	case m.HeldOn.IsZero() || m.HeldOn.Year != m.Year:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "held_on", "会议日期须在 %d 年内", m.Year)
	case strings.TrimSpace(m.Agenda) == "":
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "agenda", "会议议程不能为空")
	case utf8.RuneCountInString(m.Agenda) > 5000 || utf8.RuneCountInString(m.Minutes) > 50000 || utf8.RuneCountInString(m.Place) > 200:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "agenda", "议程、纪要或地点过长")
	}
	return nil
}

// Check validates a resolution. EINVALID naming the field.
func (x *Resolution) Check() error {
	switch {
	case strings.TrimSpace(x.Text) == "":
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "text", "决议内容不能为空")
	case utf8.RuneCountInString(x.Text) > 2000:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "text", "决议内容不能超过 2000 字")
	case yipanqi.ProvinceName(x.Lead) == "":
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "lead", "牵头省份“%s”不是泛珠三角区域的省份代码", x.Lead)
	case yipanqi.ProvinceName(x.Counterpart) == "" || x.Counterpart == x.Lead:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "counterpart", "会商对方省份“%s”无效：须为另一个区域省份", x.Counterpart)
	}
	return nil
}

// Label is the meeting in Chinese, e.g. 2026年泛珠三角区域联席会议（广东召集）.
func (m *Meeting) Label() string {
	return fmt.Sprintf("%d年泛珠三角区域联席会议（%s召集）", m.Year, yipanqi.ProvinceName(m.Host))
}
