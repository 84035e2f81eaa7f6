package idcard_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/idcard"
)

// refCheck computes the check character independently of the package: weights 2^(17-i) mod 11,
// check = (12 - sum mod 11) mod 11, with 10 written as X.
func refCheck(first17 string) string {
	sum := 0
	for i := 0; i < 17; i++ {
		w := 1
		for k := 0; k < 17-i; k++ {
			w = w * 2 % 11
		}
		sum += int(first17[i]-'0') * w
	}
	c := (12 - sum%11) % 11
	if c == 10 {
		return "X"
	}
	return fmt.Sprint(c)
}

// valid completes 17 digits with their check character.
func valid(first17 string) string { return first17 + refCheck(first17) }

// wrongCheck completes 17 digits with a check character that is not the right one.
func wrongCheck(first17 string) (number, want, got string) {
	want = refCheck(first17)
	got = "0"
	if want == "0" {
		got = "1"
	}
	return first17 + got, want, got
}

var today = yipanqi.Date{Year: 2025, Month: time.June, Day: 15}

func date(y int, m time.Month, d int) yipanqi.Date { return yipanqi.Date{Year: y, Month: m, Day: d} }

func TestParseValid(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		number string
		region string
		birth  yipanqi.Date
		sex    yipanqi.Sex
		legacy bool
	}{
		{"well-known sample", "11010519491231002X", "11010519491231002X", "110105", date(1949, 12, 31), yipanqi.Female, false},
		{"lower-case x", "11010519491231002x", "11010519491231002X", "110105", date(1949, 12, 31), yipanqi.Female, false},
		{"spaces trimmed", "  " + valid("44010319900307123") + "\t", valid("44010319900307123"), "440103", date(1990, 3, 7), yipanqi.Male, false},
		{"guangzhou woman", valid("44010620000229004"), valid("44010620000229004"), "440106", date(2000, 2, 29), yipanqi.Female, false},
		{"born 1900-01-01", valid("35010219000101001"), valid("35010219000101001"), "350102", date(1900, 1, 1), yipanqi.Male, false},
		{"born today", valid("45010220250615008"), valid("45010220250615008"), "450102", today, yipanqi.Female, false},
		{"legacy 15 digits", "440103820615123", valid("44010319820615123"), "440103", date(1982, 6, 15), yipanqi.Male, true},
		{"legacy woman", "510104701231002", valid("51010419701231002"), "510104", date(1970, 12, 31), yipanqi.Female, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := idcard.Parse(tt.in, today)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			want := idcard.ID{Number: tt.number, Region: tt.region, Birth: tt.birth, Sex: tt.sex, Legacy: tt.legacy}
			if id != want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, id, want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	badCheck, _, _ := wrongCheck("44010319900307123")
	tests := []struct {
		name string
		in   string
		msg  string
	}{
		{"empty", "", "公民身份号码应为 18 位（或 15 位旧号码），实际为 0 位"},
		{"17 digits", "44010319900307123", "公民身份号码应为 18 位（或 15 位旧号码），实际为 17 位"},
		{"19 digits", valid("44010319900307123") + "1", "公民身份号码应为 18 位（或 15 位旧号码），实际为 19 位"},
		{"16 digits", "4401038206151234", "公民身份号码应为 18 位（或 15 位旧号码），实际为 16 位"},
		{"chinese characters counted as characters", "４４０１０３１９９００３０７１２３４", "第 1 位不是数字"},
		{"letter inside", "4401031990O307123X", "第 11 位不是数字"},
		{"x not last", "440x03199003071234", "第 4 位不是数字"},
		{"bad last char", "44010319900307123Y", "第 18 位不是数字或 X"},
		{"x in legacy", "44010382061512X", "第 15 位不是数字"},
		{"february 30", valid("44010319990230123"), "出生日期（第 7–14 位）不是有效日期"},
		{"month 13", valid("44010319991301123"), "出生日期（第 7–14 位）不是有效日期"},
		{"day 00", valid("44010319990100123"), "出生日期（第 7–14 位）不是有效日期"},
		{"1900 not a leap year", valid("44010319000229123"), "出生日期（第 7–14 位）不是有效日期"},
		{"future", valid("44010320990101123"), "出生日期（第 7–14 位）晚于今天"},
		{"tomorrow", valid("44010320250616123"), "出生日期（第 7–14 位）晚于今天"},
		{"before 1900", valid("44010318991231123"), "出生日期（第 7–14 位）早于 1900 年"},
		{"legacy bad date", "440103990230123", "出生日期（第 7–14 位）不是有效日期"},
		{"check character", badCheck, "校验码（第 18 位）错误：与前 17 位不符"},
		{"sample with wrong check", "110105194912310021", "校验码（第 18 位）错误：与前 17 位不符"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := idcard.Parse(tt.in, today)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error %q", tt.in, id, tt.msg)
			}
			if code := yipanqi.ErrorCode(err); code != yipanqi.EINVALID {
				t.Errorf("code = %q, want %q", code, yipanqi.EINVALID)
			}
			if f := yipanqi.ErrorField(err); f != "id_number" {
				t.Errorf("field = %q, want id_number", f)
			}
			if msg := yipanqi.ErrorMessage(err); msg != tt.msg {
				t.Errorf("message = %q, want %q", msg, tt.msg)
			}
		})
	}
}

func TestParseZeroTodayHasNoUpperBound(t *testing.T) {
	n := valid("44010320990101123")
	if _, err := idcard.Parse(n, yipanqi.Date{}); err != nil {
		t.Fatalf("Parse(%q, zero today): %v", n, err)
	}
}

func TestCheckChar(t *testing.T) {
	// Every body digit at every position moves the check character: change each and compare
	// with the reference implementation.
	base := "44010319900307123"
	for i := 0; i < 17; i++ {
		for d := byte('0'); d <= '9'; d++ {
			b := []byte(base)
			b[i] = d
			got := string(idcard.CheckChar(string(b)))
			if want := refCheck(string(b)); got != want {
				t.Fatalf("CheckChar(%s) = %s, want %s", b, got, want)
			}
		}
	}
	if got := idcard.CheckChar("11010519491231002"); got != 'X' {
		t.Errorf("CheckChar of the well-known sample = %c, want X", got)
	}
}

func TestMake(t *testing.T) {
	tests := []struct {
		region string
		birth  yipanqi.Date
		seq    int
		want   string
	}{
		{"110105", date(1949, 12, 31), 2, "11010519491231002X"},
		{"440103", date(1990, 3, 7), 123, valid("44010319900307123")},
		{"450102", date(2008, 8, 8), 0, valid("45010220080808000")},
		{"350102", date(1985, 11, 9), 999, valid("35010219851109999")},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := idcard.Make(tt.region, tt.birth, tt.seq)
			if got != tt.want {
				t.Fatalf("Make(%s, %s, %d) = %s, want %s", tt.region, tt.birth, tt.seq, got, tt.want)
			}
			id, err := idcard.Parse(got, today)
			if err != nil {
				t.Fatalf("Parse(Make(...)): %v", err)
			}
			wantSex := yipanqi.Female
			if tt.seq%2 == 1 {
				wantSex = yipanqi.Male
			}
			if id.Region != tt.region || id.Birth != tt.birth || id.Sex != wantSex {
				t.Errorf("Parse(Make(...)) = %+v", id)
			}
		})
	}
}

func TestMakePanicsOnBadInput(t *testing.T) {
	tests := []struct {
		name   string
		region string
		seq    int
	}{
		{"short region", "44010", 1},
		{"letters in region", "44A103", 1},
		{"seq too large", "440103", 1000},
		{"negative seq", "440103", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Make(%q, …, %d) did not panic", tt.region, tt.seq)
				}
			}()
			idcard.Make(tt.region, date(1990, 1, 1), tt.seq)
		})
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"440103199003071234", "440103********1234"},
		{"11010519491231002X", "110105********002X"},
		{"440103820615123", "440103*****5123"},
		{"1234567890", "**********"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := idcard.Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if n := len(idcard.Mask(tt.in)); n != len(tt.in) {
			t.Errorf("Mask(%q) changed the length to %d", tt.in, n)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"11010519491231002X", "11010519491231002x", "440103820615123", "44010319990230123",
		"", "x", "４４０１０３", " 440103199003071234 ", strings.Repeat("9", 18),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := idcard.Parse(s, today)
		if err != nil {
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID || yipanqi.ErrorField(err) != "id_number" {
				t.Fatalf("Parse(%q) error %v is not an EINVALID id_number error", s, err)
			}
			return
		}
		again, err := idcard.Parse(id.Number, today)
		if err != nil {
			t.Fatalf("Parse(%q) accepted as %s, which does not re-parse: %v", s, id.Number, err)
		}
		if again.Number != id.Number || again.Region != id.Region || again.Birth != id.Birth || again.Sex != id.Sex || again.Legacy {
			t.Fatalf("re-parse of %s = %+v, first parse %+v", id.Number, again, id)
		}
		seq := int(id.Number[14]-'0')*100 + int(id.Number[15]-'0')*10 + int(id.Number[16]-'0')
		if made := idcard.Make(id.Region, id.Birth, seq); made != id.Number {
			t.Fatalf("Make(%s, %s, %d) = %s, want %s", id.Region, id.Birth, seq, made, id.Number)
		}
		if m := idcard.Mask(id.Number); m[:6] != id.Region || m[14:] != id.Number[14:] {
			t.Fatalf("Mask(%s) = %s", id.Number, m)
		}
	})
}
