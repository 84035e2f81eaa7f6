package print_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/idcard"
	"yipanqi/web/print"
)

var (
	issued   = yipanqi.Date{Year: 2026, Month: 6, Day: 15}
	holderID = idcard.Make("360121", yipanqi.Date{Year: 1990, Month: 3, Day: 7}, 123) // odd: male
	womanID  = idcard.Make("360121", yipanqi.Date{Year: 1992, Month: 11, Day: 2}, 24)
	testCert = &yipanqi.Certificate{Number: "360121100-2026-000017", Kind: yipanqi.CertIssued, IDNumber: holderID,
		HolderName: "张三明", HukouAddress: "江西省南昌县莲塘镇某村 8 号", IssuerCode: "360121100", IssuedOn: issued,
		ValidUntil: issued.AddDays(3 * 365), MaritalStatus: yipanqi.FirstMarried}
)

// mustContain fails for every want missing from page.
func mustContain(t *testing.T, page string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func mustNotContain(t *testing.T, page string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(page, b) {
			t.Errorf("page contains %q", b)
		}
	}
}

// selfContained checks the print rules every document shares: A4, the serif CJK stack, and
// nothing fetched from elsewhere.
func selfContained(t *testing.T, page string) {
	t.Helper()
	mustContain(t, page, "<!DOCTYPE html>", `lang="zh-CN"`, "size: A4", "SimSun", "serif")
	for _, re := range []string{`<link\b`, `<script\b`, `<img\b[^>]*src="http`, `url\(`, `@import`} {
		if regexp.MustCompile(re).MatchString(page) {
			t.Errorf("page refers to an external asset (%s)", re)
		}
	}
}

func TestMask(t *testing.T) {
	for _, tc := range []struct {
		f        func(string) string
		in, want string
	}{
		{print.MaskName, "张三明", "张*明"},
		{print.MaskName, "欧阳志华", "欧**华"},
		{print.MaskName, "李四", "李*"},
		{print.MaskName, "王", "*"},
		{print.MaskName, "", ""},
		{print.MaskIDNumber, "11010519491231002X", "110105********002X"},
		{print.MaskPhone, "13812345678", "138****5678"},
		{print.MaskPhone, "020-87654321", "********4321"},
		{print.MaskPhone, "110", "***"},
	} {
		if got := tc.f(tc.in); got != tc.want {
			t.Errorf("mask(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNotice(t *testing.T) {
	n := print.Notice{Number: "TZ-2026-0042", Name: "李小红", IDNumber: womanID, ResidenceUnit: "广州市天河区石牌街道",
		ResidenceAddress: "某路 1 号", IssuedOn: issued, IssuingUnit: "天河区石牌街道办事处", Contact: "石牌街道社区服务中心，020-00000000"}
	var b bytes.Buffer
	if err := print.WriteNotice(&b, n); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	selfContained(t, page)
	mustContain(t, page, "限期补办通知书", "TZ-2026-0042", "李小红", print.MaskIDNumber(womanID), "广州市天河区石牌街道",
		"2026年6月15日", "2026年7月15日", // issued, and the default 30 days later
		"您享有的权利", "免费", "天河区石牌街道办事处", "盖章", "石牌街道社区服务中心")
	mustNotContain(t, page, womanID)

	n.Days = 14
	b.Reset()
	if err := print.WriteNotice(&b, n); err != nil {
		t.Fatal(err)
	}
	mustContain(t, b.String(), "2026年6月29日")

	for _, tc := range []struct {
		field  string
		change func(n *print.Notice)
	}{
		{"name", func(n *print.Notice) { n.Name = " " }},
		{"id_number", func(n *print.Notice) { n.IDNumber = "" }},
		{"issued_on", func(n *print.Notice) { n.IssuedOn = yipanqi.Date{} }},
		{"deadline", func(n *print.Notice) { n.Deadline = issued }},
	} {
		bad := n
		tc.change(&bad)
		b.Reset()
		err := print.WriteNotice(&b, bad)
		if yipanqi.ErrorCode(err) != yipanqi.EINVALID || yipanqi.ErrorField(err) != tc.field {
			t.Errorf("%s: %v; want EINVALID on %s", tc.field, err, tc.field)
		}
		if b.Len() != 0 {
			t.Errorf("%s: a refused notice wrote %d bytes", tc.field, b.Len())
		}
	}
}

// svgMatrix reads back the module matrix the certificate's QR SVG draws.
func svgMatrix(t *testing.T, page string) [][]bool {
	t.Helper()
	m := regexp.MustCompile(`(?s)<svg[^>]*class="qr".*?</svg>`).FindString(page)
	if m == "" {
		t.Fatal("no QR code svg in the page")
	}
	var svg struct {
		ViewBox string `xml:"viewBox,attr"`
		Title   string `xml:"title"`
		Path    struct {
			D string `xml:"d,attr"`
		} `xml:"path"`
	}
	if err := xml.Unmarshal([]byte(m), &svg); err != nil {
		t.Fatalf("QR svg is not XML: %v", err)
	}
	var n int
	if _, err := fmt.Sscanf(svg.ViewBox, "0 0 %d %d", &n, &n); err != nil {
		t.Fatalf("viewBox %q: %v", svg.ViewBox, err)
	}
	grid := make([][]bool, n)
	for i := range grid {
		grid[i] = make([]bool, n)
	}
	for _, sq := range regexp.MustCompile(`M(\d+) (\d+)h1v1h-1z`).FindAllStringSubmatch(svg.Path.D, -1) {
		var x, y int
		fmt.Sscanf(sq[1]+" "+sq[2], "%d %d", &x, &y)
		grid[y][x] = true
	}
	return grid
}

func TestCertificate(t *testing.T) {
	var b bytes.Buffer
	doc := print.CertificateDoc{Cert: testCert, IssuerName: "南昌县莲塘镇人民政府", VerifyBase: "https://ypq.jx.example/"}
	if err := print.WriteCertificate(&b, doc); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	selfContained(t, page)
	mustContain(t, page, "流动人口婚育证明", "No.360121100-2026-000017", "张三明", "男", "1990年3月7日", holderID,
		"江西省南昌县莲塘镇某村 8 号", "初婚", "南昌县莲塘镇人民政府", "2026年6月15日", "2029年6月14日",
		"https://ypq.jx.example/verify/cert/360121100-2026-000017")

	// The QR code drawn is the one of the verification URL, module for module.
	want, err := print.QRMatrix("https://ypq.jx.example/verify/cert/360121100-2026-000017")
	if err != nil {
		t.Fatal(err)
	}
	got := svgMatrix(t, page)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the QR code drawn (%d modules) is not the code of the verification URL (%d)", len(got), len(want))
	}
	other, _ := print.QRMatrix("https://ypq.jx.example/verify/cert/360121100-2026-000018")
	if reflect.DeepEqual(got, other) {
		t.Error("the QR code of another number draws the same: the comparison proves nothing")
	}
	if text := decodeQR(t, got); text != "https://ypq.jx.example/verify/cert/360121100-2026-000017" {
		t.Errorf("QR code decodes to %q", text)
	}

	for _, tc := range []struct {
		field string
		doc   print.CertificateDoc
	}{
		{"number", print.CertificateDoc{IssuerName: "x", VerifyBase: "https://x"}},
		{"verify_base", print.CertificateDoc{Cert: testCert, IssuerName: "x"}},
		{"id_number", print.CertificateDoc{Cert: &yipanqi.Certificate{Number: "1", HolderName: "a", IDNumber: "123"}, IssuerName: "x", VerifyBase: "https://x"}},
	} {
		b.Reset()
		err := print.WriteCertificate(&b, tc.doc)
		if yipanqi.ErrorField(err) != tc.field || b.Len() != 0 {
			t.Errorf("%s: %v, %d bytes; want EINVALID on %s and nothing written", tc.field, err, b.Len(), tc.field)
		}
	}
}

func TestServiceReport(t *testing.T) {
	// The report carries the minimum of SCOPE.md and no more: a new field must be a decision.
	var fields []string
	rt := reflect.TypeFor[print.ServiceReport]()
	for i := range rt.NumField() {
		fields = append(fields, rt.Field(i).Name)
	}
	if want := []string{"Number", "Name", "IDNumber", "ServiceKind", "ServiceDate", "Provider", "CheckupDone", "IssuingUnit", "IssuedOn"}; !reflect.DeepEqual(fields, want) {
		t.Errorf("ServiceReport fields = %v; want exactly %v (SCOPE.md: the minimum)", fields, want)
	}
	r := print.ServiceReport{Name: "李小红", IDNumber: womanID, ServiceKind: "health_checkup",
		ServiceDate: issued.AddDays(-3), Provider: "天河区妇幼保健院", CheckupDone: true, IssuingUnit: "石牌街道社区卫生服务中心", IssuedOn: issued}
	var b bytes.Buffer
	if err := print.WriteServiceReport(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	selfContained(t, page)
	mustContain(t, page, "流动人口避孕节育情况报告单", "李小红", womanID, "免费生殖健康检查", "2026年6月12日",
		"天河区妇幼保健院", "<td>是</td>", "石牌街道社区卫生服务中心", "本人单独同意")
	r.CheckupDone = false
	b.Reset()
	if err := print.WriteServiceReport(&b, r); err != nil {
		t.Fatal(err)
	}
	mustContain(t, b.String(), "<td>否</td>")
	r.ServiceKind = "pregnancy_check"
	b.Reset()
	if err := print.WriteServiceReport(&b, r); yipanqi.ErrorField(err) != "service_kind" || b.Len() != 0 {
		t.Errorf("unknown service kind: %v, %d bytes", err, b.Len())
	}
}

func TestPostingSlip(t *testing.T) {
	s := print.PostingSlip{TrackingNo: "1180012345678", From: "南昌县莲塘镇人民政府", FromAddress: "江西省南昌县莲塘镇某路 2 号",
		To: "天河区石牌街道办事处", ToAddress: "广州市天河区某路 9 号", CertificateNumber: testCert.Number, Date: issued}
	var b bytes.Buffer
	if err := print.WritePostingSlip(&b, s); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	selfContained(t, page)
	mustContain(t, page, "1180012345678", "南昌县莲塘镇人民政府", "天河区石牌街道办事处", "婚育证明 No.360121100-2026-000017", "2026年6月15日")
	s.TrackingNo = ""
	b.Reset()
	if err := print.WritePostingSlip(&b, s); yipanqi.ErrorField(err) != "tracking_number" || b.Len() != 0 {
		t.Errorf("no tracking number: %v", err)
	}
}

func TestPersonalCopy(t *testing.T) {
	p := &yipanqi.Person{IDNumber: holderID, Name: "张三明", Sex: yipanqi.Male, BirthDate: yipanqi.Date{Year: 1990, Month: 3, Day: 7},
		MaritalStatus: yipanqi.FirstMarried, HukouCode: "360121", HukouAddress: "莲塘镇某村 8 号", ResidenceCode: "440106001",
		ResidenceAddress: "某路 1 号", Phone: "13812345678", ArrivedOn: yipanqi.Date{Year: 2023, Month: 3, Day: 1}, FlowStatus: yipanqi.FlowArrived}
	at := time.Date(2026, 6, 15, 2, 0, 0, 0, time.UTC)
	expired := *testCert
	expired.Number, expired.IssuedOn, expired.ValidUntil = "360121100-2020-000003", yipanqi.Date{Year: 2020, Month: 1, Day: 2}, yipanqi.Date{Year: 2023, Month: 1, Day: 1}
	c := print.PersonalCopy{
		Person:       p,
		Flows:        []*yipanqi.FlowEvent{{Kind: yipanqi.FlowArrived, On: p.ArrivedOn, FromCode: "360121", ToCode: "440106001"}},
		Certificates: []*yipanqi.Certificate{testCert, &expired},
		Exchanges: []*yipanqi.Case{
			{Type: "verify.identity", Direction: yipanqi.Outgoing, PeerNode: "36", PeerUnit: "360121", State: yipanqi.CaseReplied,
				Data: json.RawMessage(`{"note":"SECRET-DATA"}`), CreatedAt: at.Add(-48 * time.Hour)},
			{Type: "cert.check", Direction: yipanqi.Incoming, PeerNode: "45", State: yipanqi.CaseClosed, CreatedAt: at.Add(-time.Hour)},
		},
		HoldingUnit: "天河区石牌街道办事处",
		PrintedAt:   at,
		UnitName: func(code string) string {
			return map[string]string{"360121": "南昌县", "440106001": "石牌街道", "45": "广西壮族自治区"}[code]
		},
	}
	var b bytes.Buffer
	if err := print.WritePersonalCopy(&b, c); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	selfContained(t, page)
	mustContain(t, page, "本人信息副本", "张三明", holderID, "13812345678", "南昌县", "石牌街道", "流入",
		testCert.Number, "有效", expired.Number, "已过期",
		"身份住址核实", "发出", "已答复", "婚育证明查验", "收到", "广西壮族自治区", "已办结",
		"2026年6月13日 10:00", "2 件信息交换")
	mustNotContain(t, page, "SECRET-DATA")
	if err := print.WritePersonalCopy(&b, print.PersonalCopy{HoldingUnit: "x", PrintedAt: at}); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
		t.Errorf("no person: %v", err)
	}
}

// TestCertificateQRPayload: with a signed payload the QR code carries the address and ?p=.
func TestCertificateQRPayload(t *testing.T) {
	var b bytes.Buffer
	const p = "1.MzYwMTIxMTAwLTIwMjYtMDAwMDE3LUs3UVgyTXzlvKAq5piOfDIwMjYwMzAyfDIwMjkwMzAxfDIwMjYwMzAyfDM2LTdjZmUwNzU2.MEYCIQCENZSX48CH8xdV8GeT_jeDEXQTodTTwhK88zE-d-iHUQIhAPMgrFYfskteqsTRS2ZLTGfpkl7oWWIWXa_9MCa9fHh2"
	doc := print.CertificateDoc{Cert: testCert, IssuerName: "南昌县莲塘镇人民政府", VerifyBase: "https://ypq.jx.example", Payload: p}
	if err := print.WriteCertificate(&b, doc); err != nil {
		t.Fatal(err)
	}
	// Too large for the test decoder (versions 1–6): compared module for module instead.
	want, err := print.QRMatrix("https://ypq.jx.example/verify/cert/360121100-2026-000017?p=" + p)
	if err != nil {
		t.Fatal(err)
	}
	if got := svgMatrix(t, b.String()); !reflect.DeepEqual(got, want) {
		t.Errorf("the QR code drawn (%d modules) is not the code of the address with ?p= (%d)", len(got), len(want))
	}
}

// TestLimiter: a burst, then one request per interval, per client; a client's refusal says
// how long to wait.
func TestLimiter(t *testing.T) {
	now := time.Date(2026, 6, 15, 9, 0, 0, 0, time.UTC)
	l := print.NewLimiter(3, 2*time.Second, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := l.Allow("192.0.2.1"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("192.0.2.1")
	if ok || wait != 2*time.Second {
		t.Fatalf("over the burst: allowed %v, wait %v; want refused, 2s", ok, wait)
	}
	if ok, _ := l.Allow("192.0.2.2"); !ok {
		t.Error("another client refused")
	}
	now = now.Add(time.Second)
	if ok, wait := l.Allow("192.0.2.1"); ok || wait != time.Second {
		t.Errorf("half an interval later: allowed %v, wait %v; want refused, 1s", ok, wait)
	}
	now = now.Add(time.Second)
	if ok, _ := l.Allow("192.0.2.1"); !ok {
		t.Error("a full interval later: refused")
	}
	if ok, _ := l.Allow("192.0.2.1"); ok {
		t.Error("two requests for one interval")
	}
}
