package stats

import (
	"sort"
	"time"

	"yipanqi"
	"yipanqi/assess"
)

// Exchange volumes and timeliness of a month (ARCHITECTURE §4), by case type and in total,
// for a unit's subtree. The figures are those the assessment reads — the counts the deadline
// clock keeps as cases change (assess.Count, the assess_counts table) — plus the cases the
// unit's subtree sent in the month, counted from the cases themselves. See docs/stats.md.

// ExchangeRow is one line of the exchange table: a case type, or the total.
type ExchangeRow struct {
	Type     string // catalog name; "" for the total
	Label    string // Chinese name of the type, or 合计
	Sent     int64  // outgoing cases sent in the month (created, drafts left out)
	Received int64  // incoming cases received in the month (the receiver's signed receipt)
	OnTime   int64  // incoming cases replied in the month by their deadline
	Late     int64  // incoming cases replied in the month after their deadline
	Overdue  int64  // incoming cases whose deadline fell in the month, still open and overdue
	// MedianReplyDays is the lower median of the working days from receipt to reply of the
	// cases replied in the month; -1 when none was.
	MedianReplyDays float64
}

// Exchange is the exchange table of a monthly report.
type Exchange struct {
	Unit  string
	Month Month
	Rows  []ExchangeRow // one per type with any figure, in catalog name order
	Total ExchangeRow
}

// Period returns the assessment period of the month: the key the kept counts are read under.
func (m Month) Period() assess.Period {
	return assess.Period{Kind: assess.Month, Year: m.Year, N: int(m.Month)}
}

// NewExchange builds the exchange table of unit for month m from the kept counts of the
// month's period for the unit's subtree (as sqlstore AssessmentCounts returns them) and the
// cases sent in the month by type. Received, on time, late, overdue and the median are
// computed by assess.Build, so they are the assessment's figures of the month, per type.
func NewExchange(unit string, m Month, counts []assess.Count, sent map[string]int64) *Exchange {
	byType := map[string][]assess.Count{}
	for _, c := range counts {
		byType[c.Type] = append(byType[c.Type], c)
	}
	names := make([]string, 0, len(byType)+len(sent))
	for t := range byType {
		names = append(names, t)
	}
	for t, n := range sent {
		if _, ok := byType[t]; !ok && n != 0 {
			names = append(names, t)
		}
	}
	sort.Strings(names)
	x := &Exchange{Unit: unit, Month: m}
	for _, t := range names {
		row := exchangeRow(unit, m, byType[t])
		row.Type, row.Label, row.Sent = t, typeLabel(t), sent[t]
		x.Rows = append(x.Rows, row)
		x.Total.Sent += row.Sent
	}
	total := exchangeRow(unit, m, counts)
	total.Label, total.Sent = "合计", x.Total.Sent
	x.Total = total
	return x
}

// exchangeRow sums counts as the assessment does for the unit at the top of the report.
func exchangeRow(unit string, m Month, counts []assess.Count) ExchangeRow {
	rep := assess.Build(unit, m.Period(), counts, nil, assess.DefaultRules(), time.Time{})
	f := rep.Rows[0].Figures // the unit itself comes first
	return ExchangeRow{Received: f.Received, OnTime: f.OnTime, Late: f.Late, Overdue: f.Overdue,
		MedianReplyDays: f.MedianReplyDays}
}

func typeLabel(name string) string {
	if t, err := yipanqi.Catalog().Type(name); err == nil {
		return t.Label
	}
	return name
}

// MedianLabel is the median as a cell shows it: "—" when nothing was replied.
func (r ExchangeRow) MedianLabel() string {
	if r.MedianReplyDays < 0 {
		return "—"
	}
	return itoa(int(r.MedianReplyDays))
}

// ExchangeNote explains the exchange table under a report's heading.
const ExchangeNote = "交换量：发出为本月发出的案件；收到为本月签收的来件；按时、逾期答复为本月答复的来件；" +
	"仍超期未答复为期限在本月、至今未答复的来件；答复用时为签收至答复的工作日数（中位数）。数据为期限时钟保持的案件计数"
