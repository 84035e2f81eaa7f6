package yipanqi_test

import (
	"testing"
	"time"

	"yipanqi"
)

// TestShanghai: the one zone of the system is the real Asia/Shanghai, not a fixed offset: it
// knows the summer time China kept from 1986 to 1991, and today's UTC+8.
func TestShanghai(t *testing.T) {
	if got := yipanqi.Shanghai.String(); got != "Asia/Shanghai" {
		t.Errorf("Shanghai = %q, want Asia/Shanghai", got)
	}
	if _, off := time.Date(1988, 7, 1, 12, 0, 0, 0, yipanqi.Shanghai).Zone(); off != 9*3600 {
		t.Errorf("1 July 1988 offset = %d, want %d (summer time)", off, 9*3600)
	}
	at := time.Date(2026, 6, 14, 20, 0, 0, 0, time.UTC) // already 15 June in Shanghai
	if got := yipanqi.DateOf(at.In(yipanqi.Shanghai)); got != (yipanqi.Date{Year: 2026, Month: time.June, Day: 15}) {
		t.Errorf("date of %v in Shanghai = %v, want 2026-06-15", at, got)
	}
}
