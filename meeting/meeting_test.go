package meeting_test

import (
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/meeting"
)

func TestRotation(t *testing.T) {
	r := meeting.DefaultRotation()
	var got []string
	for y := 2026; y <= 2037; y++ {
		got = append(got, yipanqi.ProvinceName(r.Host(y)))
	}
	if want := "广东 福建 江西 湖北 湖南 广西 海南 贵州 重庆 四川 云南 广东"; strings.Join(got, " ") != want {
		t.Errorf("2026–2037 hosts = %s, want %s", strings.Join(got, " "), want)
	}
	if r.Host(2025) != "53" {
		t.Errorf("2025 host = %s, want 53 (the year before the first wraps)", r.Host(2025))
	}
	c, err := meeting.ParseRotation("53, 51,50,52,46,45,43,42,36,35,44", 2030)
	if err != nil || c.Host(2030) != "53" || c.Host(2031) != "51" {
		t.Fatalf("configured rotation: %+v, %v", c, err)
	}
	for _, bad := range []string{"44,35", "44,35,36,42,43,45,46,52,50,51,11", "44,44,36,42,43,45,46,52,50,51,53"} {
		if _, err := meeting.ParseRotation(bad, 2026); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
			t.Errorf("ParseRotation(%q) = %v, want EINVALID", bad, err)
		}
	}
}

func TestCheck(t *testing.T) {
	r := meeting.DefaultRotation()
	m := &meeting.Meeting{Year: 2027, HeldOn: yipanqi.Date{Year: 2027, Month: 6, Day: 10}, Agenda: "议程"}
	if err := m.Check(r); err != nil || m.Host != "35" {
		t.Fatalf("check: host %s, %v; want 35 by rotation", m.Host, err)
	}
	for _, tt := range []struct {
		m     meeting.Meeting
		field string
	}{
		{meeting.Meeting{Year: 2027, HeldOn: yipanqi.Date{Year: 2026, Month: 6, Day: 10}, Agenda: "x"}, "held_on"},
		{meeting.Meeting{Year: 2027, Host: "11", HeldOn: yipanqi.Date{Year: 2027, Month: 6, Day: 10}, Agenda: "x"}, "host"},
		{meeting.Meeting{Year: 2027, HeldOn: yipanqi.Date{Year: 2027, Month: 6, Day: 10}}, "agenda"},
	} {
		if err := tt.m.Check(r); yipanqi.ErrorCode(err) != yipanqi.EINVALID || yipanqi.ErrorField(err) != tt.field {
			t.Errorf("Check(%+v) = %v, want EINVALID on %s", tt.m, err, tt.field)
		}
	}
	if err := (&meeting.Resolution{Text: "x", Lead: "44", Counterpart: "44"}).Check(); yipanqi.ErrorField(err) != "counterpart" {
		t.Errorf("resolution with itself as counterpart: %v", err)
	}
}
