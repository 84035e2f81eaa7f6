package web

import (
	"embed"
	"html/template"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"yipanqi"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"typeLabel":  typeLabel,
	"dirLabel":   dirLabel,
	"stateLabel": stateLabel,
	"clock":      clock,
	"seconds":    func(d time.Duration) string { return d.Round(time.Second).String() },
	"errText":    func(err error) string { return reason(err) },
}).ParseFS(templateFS, "templates/*.html"))

func clock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(yipanqi.Shanghai).Format("2006-01-02 15:04:05")
}

// statusCatalog is the region's case-type catalog, read for the status page's type names.
var statusCatalog = yipanqi.Catalog()

// typeLabel is the Chinese name of a case type from the catalog, or the name itself.
func typeLabel(t string) string {
	if ct, err := statusCatalog.Type(t); err == nil {
		return ct.Label
	}
	return t
}

func dirLabel(d yipanqi.Direction) string {
	if d == yipanqi.Outgoing {
		return "发出"
	}
	return "收到"
}

var stateLabels = map[yipanqi.CaseState]string{
	yipanqi.CaseDrafted: "草拟", yipanqi.CaseSent: "已发送", yipanqi.CaseDelivered: "已送达",
	yipanqi.CaseInProgress: "办理中", yipanqi.CaseReplied: "已答复", yipanqi.CaseClosed: "已办结",
	yipanqi.CaseTransferred: "已转办", yipanqi.CaseWithdrawn: "已撤回", yipanqi.CaseRejected: "已退回",
}

func stateLabel(s yipanqi.CaseState) string {
	if l, ok := stateLabels[s]; ok {
		return l
	}
	return string(s)
}

// caseRow is one line of the page's case table: a type and direction, counts by state.
type caseRow struct {
	Type      string
	Direction yipanqi.Direction
	Counts    []int // by CaseStates
	Total     int
}

// statusPage is what templates/status.html renders.
type statusPage struct {
	*Status
	States []yipanqi.CaseState
	Rows   []caseRow
}

func newStatusPage(s *Status) statusPage {
	p := statusPage{Status: s, States: CaseStates}
	index := map[[2]string]int{}
	for _, c := range s.Cases {
		key := [2]string{c.Type, string(c.Direction)}
		i, ok := index[key]
		if !ok {
			i = len(p.Rows)
			index[key] = i
			p.Rows = append(p.Rows, caseRow{Type: c.Type, Direction: c.Direction, Counts: make([]int, len(CaseStates))})
		}
		for j, st := range CaseStates {
			if st == c.State {
				p.Rows[i].Counts[j] += c.N
			}
		}
		p.Rows[i].Total += c.N
	}
	return p
}

// Handler serves one node: "/" the status page, "/healthz" and "/metrics". Mount it under a
// prefix with http.StripPrefix; the page's links are relative.
func Handler(n *Node) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(n), verifyHits)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := n.Health(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(reason(err) + "\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		render(w, "status.html", newStatusPage(n.Status(r.Context())))
	})
	return mux
}

// indexPage is what templates/index.html renders.
type indexPage struct {
	Title string
	Nodes []indexRow
}

type indexRow struct {
	*Status
	Path          string
	Out, In       int
	Replied, Open int
}

// Index serves a page listing several nodes, each served by Handler under "/<code>/": the
// whole-region demo's front page.
func Index(title string, nodes []*Node) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		p := indexPage{Title: title}
		for _, n := range nodes {
			s := n.Status(r.Context())
			p.Nodes = append(p.Nodes, indexRow{Status: s, Path: "/" + n.Code + "/",
				Out: s.Sum("", yipanqi.Outgoing, ""), In: s.Sum("", yipanqi.Incoming, ""),
				Replied: s.Sum("", yipanqi.Outgoing, yipanqi.CaseReplied),
				Open:    s.Sum("", yipanqi.Incoming, yipanqi.CaseDelivered) + s.Sum("", yipanqi.Incoming, yipanqi.CaseInProgress)})
		}
		render(w, "index.html", p)
	})
}

func render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := templates.ExecuteTemplate(w, name, data); err != nil {
		// The header is out already; the page ends where it failed.
		_, _ = w.Write([]byte("<p>页面生成出错。</p>"))
	}
}
