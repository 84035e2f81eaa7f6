package assess

import (
	"sort"
	"time"

	"yipanqi"
	"yipanqi/calendar"
	"yipanqi/sla"
)

// Metrics a case is counted under (the metric column of the stored counts).
const (
	MetricReceived  = "received"   // received in the month (received_at)
	MetricOnTime    = "on_time"    // replied in the month, by the deadline
	MetricLate      = "late"       // replied in the month, after the deadline
	MetricOverdue   = "overdue"    // deadline in the month, still open and overdue
	MetricReplyDays = "reply_days" // replied in the month; bucket: working days receipt → reply
	MetricCert7     = "cert_7d"    // cert.reissue replied in the month within 7 working days
)

// Case types the figures single out.
const (
	TypeCert     = "cert.reissue"
	TypePetition = "petition.forward"
	TypeService  = "service.result"
)

// Case is what the assessment reads of a case.
type Case struct {
	Type       string
	Direction  yipanqi.Direction
	State      yipanqi.CaseState
	ReceivedAt time.Time
	DueAt      time.Time
	RepliedAt  time.Time
	Overdue    bool
}

// Key is one count a case contributes to: +1 under (its holder, Month, its type, Metric,
// Bucket).
type Key struct {
	Month  string
	Metric string
	Bucket int
}

// Tally returns the keys a case counts under as it stands. Only cases this node received
// (incoming) are assessed: they are what its units owe. A case is replied when it has a reply
// time and is replied or closed; only a case with a deadline is on time or late.
func Tally(c *Case, cal *calendar.Calendar) []Key {
	if c.Direction != yipanqi.Incoming || c.ReceivedAt.IsZero() {
		return nil
	}
	keys := []Key{{Month: MonthOf(c.ReceivedAt), Metric: MetricReceived}}
	replied := !c.RepliedAt.IsZero() && (c.State == yipanqi.CaseReplied || c.State == yipanqi.CaseClosed)
	if replied && !c.DueAt.IsZero() {
		m := MonthOf(c.RepliedAt)
		if c.RepliedAt.After(c.DueAt) {
			keys = append(keys, Key{Month: m, Metric: MetricLate})
		} else {
			keys = append(keys, Key{Month: m, Metric: MetricOnTime})
		}
		loc := yipanqi.Shanghai
		days, _ := cal.Workdays(yipanqi.DateOf(c.ReceivedAt.In(loc)), yipanqi.DateOf(c.RepliedAt.In(loc)))
		days = max(days, 0)
		keys = append(keys, Key{Month: m, Metric: MetricReplyDays, Bucket: days})
		if c.Type == TypeCert && days <= 7 {
			keys = append(keys, Key{Month: m, Metric: MetricCert7})
		}
	}
	if c.Overdue && sla.Open(c.State) && !c.DueAt.IsZero() {
		keys = append(keys, Key{Month: MonthOf(c.DueAt), Metric: MetricOverdue})
	}
	return keys
}

// Count is a stored count summed over a period: N cases of the type held by OrgUnit under
// Metric and Bucket.
type Count struct {
	OrgUnit string
	Type    string
	Metric  string
	Bucket  int
	N       int64
}

// Figures are one unit's results for a period (its whole subtree).
type Figures struct {
	Received        int64   `json:"received"`          // 收件数
	OnTime          int64   `json:"replied_on_time"`   // 按时答复
	Late            int64   `json:"replied_late"`      // 逾期答复
	Overdue         int64   `json:"still_overdue"`     // 仍超期未答复
	MedianReplyDays float64 `json:"median_reply_days"` // 答复用时中位数（工作日）; -1: none replied
	CertReplied     int64   `json:"cert_replied"`      // 婚育证明补办已答复
	CertWithin7     int64   `json:"cert_within_7"`     // 其中 7 个工作日内
	Petitions       int64   `json:"petitions_received"`
	PetitionsDone   int64   `json:"petitions_outcome_sent"` // 信访转办结果已反馈
	ServiceResults  int64   `json:"service_results_acknowledged"`

	hist map[int]int64
}

// Add counts c into f.
func (f *Figures) Add(c Count) {
	switch c.Metric {
	case MetricReceived:
		f.Received += c.N
		switch c.Type {
		case TypePetition:
			f.Petitions += c.N
		case TypeService:
			f.ServiceResults += c.N
		}
	case MetricOnTime, MetricLate:
		if c.Metric == MetricOnTime {
			f.OnTime += c.N
		} else {
			f.Late += c.N
		}
		switch c.Type {
		case TypeCert:
			f.CertReplied += c.N
		case TypePetition:
			f.PetitionsDone += c.N
		}
	case MetricOverdue:
		f.Overdue += c.N
	case MetricCert7:
		f.CertWithin7 += c.N
	case MetricReplyDays:
		if f.hist == nil {
			f.hist = map[int]int64{}
		}
		f.hist[c.Bucket] += c.N
	}
}

// finish computes the median from the histogram of working days to reply: the lower median
// for an even count, so it is always a number of days some case took.
func (f *Figures) finish() {
	var total int64
	days := make([]int, 0, len(f.hist))
	for d, n := range f.hist {
		total += n
		days = append(days, d)
	}
	f.MedianReplyDays = -1
	if total == 0 {
		return
	}
	sort.Ints(days)
	half := (total + 1) / 2
	var seen int64
	for _, d := range days {
		seen += f.hist[d]
		if seen >= half {
			f.MedianReplyDays = float64(d)
			return
		}
	}
}

// Rates the rules score (metric names of [weights]); a rate with nothing to count is 1.
func (f *Figures) rate(name string) float64 {
	ratio := func(a, b int64) float64 {
		if b <= 0 {
			return 1
		}
		return min(1, float64(a)/float64(b))
	}
	switch name {
	case "on_time_rate":
		return ratio(f.OnTime, f.OnTime+f.Late+f.Overdue)
	case "cert_7d_rate":
		return ratio(f.CertWithin7, f.CertReplied)
	case "petition_outcome_rate":
		return ratio(f.PetitionsDone, f.Petitions)
	}
	return 0
}

// count is a figure the rules award or deduct per case (names of [bonus.*] and [deductions.*]).
func (f *Figures) count(name string) int64 {
	switch name {
	case "received":
		return f.Received
	case "late":
		return f.Late
	case "overdue":
		return f.Overdue
	case "service_results":
		return f.ServiceResults
	case "petitions_outcome":
		return f.PetitionsDone
	}
	return 0
}
