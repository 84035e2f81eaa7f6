// Package idcard parses and checks resident ID numbers (公民身份号码, GB 11643-1999): the
// 18-character form with its ISO 7064 MOD 11-2 check character, and the 15-digit legacy form,
// which it upgrades to 18.
//
// Whether the address code names a real division is not checked here; package division does that.
package idcard

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"yipanqi"
)

// field is the Error.Field of every error Parse returns.
const field = "id_number"

// ID is a parsed, valid resident ID number.
type ID struct {
	Number string // the 18-character form, check character X in upper case
	Region string // 6-digit address code (where the number was issued)
	Birth  yipanqi.Date
	Sex    yipanqi.Sex // yipanqi.Male for an odd sequence number, yipanqi.Female for even
	Legacy bool        // given as a 15-digit legacy number
}

// weights are 2^(17-i) mod 11 for the 17 body digits (ISO 7064 MOD 11-2).
var weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// checkChars maps the weighted sum mod 11 to the check character.
const checkChars = "10X98765432"

// Parse checks s as an 18-character or 15-digit legacy resident ID number, after trimming
// spaces around it, and returns it in 18-character form. A lower-case x is accepted as X.
// The birth date must be a real date from 1900-01-01 up to today; a zero today skips the
// upper bound.
//
// Errors are *yipanqi.Error with code EINVALID and Field "id_number", whose Chinese message
// says what is wrong: the length, the position of the first character that is not a digit,
// the birth date, or the check character. It names the rule and the position, never the
// characters given: the message may be shown or kept where the number may not.
func Parse(s string, today yipanqi.Date) (ID, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n != 18 && n != 15 {
		return ID{}, invalid("公民身份号码应为 18 位（或 15 位旧号码），实际为 %d 位", n)
	}
	pos := 0
	for _, r := range s {
		pos++
		if r >= '0' && r <= '9' {
			continue
		}
		if pos == 18 && (r == 'X' || r == 'x') {
			continue
		}
		if pos == 18 {
			return ID{}, invalid("第 18 位不是数字或 X")
		}
		return ID{}, invalid("第 %d 位不是数字", pos)
	}
	// From here on s is ASCII.
	id := ID{Legacy: n == 15}
	body := s
	if id.Legacy {
		body = s[:6] + "19" + s[6:]
	} else {
		body = s[:17]
	}
	birth, err := parseBirth(body[6:14], today)
	if err != nil {
		return ID{}, err
	}
	want := CheckChar(body)
	if !id.Legacy {
		got := s[17]
		if got == 'x' {
			got = 'X'
		}
		if got != want {
			return ID{}, invalid("校验码（第 18 位）错误：与前 17 位不符")
		}
	}
	id.Number = body + string(want)
	id.Region = body[:6]
	id.Birth = birth
	id.Sex = yipanqi.Female
	if (body[16]-'0')%2 == 1 {
		id.Sex = yipanqi.Male
	}
	return id, nil
}

// parseBirth checks the 8 digits YYYYMMDD of a birth date.
func parseBirth(s string, today yipanqi.Date) (yipanqi.Date, error) {
	y := atoi(s[0:4])
	m := atoi(s[4:6])
	d := atoi(s[6:8])
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return yipanqi.Date{}, invalid("出生日期（第 7–14 位）不是有效日期")
	}
	if y < 1900 {
		return yipanqi.Date{}, invalid("出生日期（第 7–14 位）早于 1900 年")
	}
	birth := yipanqi.Date{Year: y, Month: time.Month(m), Day: d}
	if !today.IsZero() && today.Before(birth) {
		return yipanqi.Date{}, invalid("出生日期（第 7–14 位）晚于今天")
	}
	return birth, nil
}

// CheckChar returns the ISO 7064 MOD 11-2 check character ('0'–'9' or 'X') for the first 17
// digits of an ID number. first17 must be 17 ASCII digits; CheckChar panics otherwise.
func CheckChar(first17 string) byte {
	if len(first17) != 17 {
		panic(fmt.Sprintf("idcard.CheckChar: need 17 digits, got %d characters", len(first17)))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			panic(fmt.Sprintf("idcard.CheckChar: character %d is not a digit", i+1))
		}
		sum += int(c-'0') * weights[i]
	}
	return checkChars[sum%11]
}

// Make builds a valid 18-character number from a 6-digit address code, a birth date and a
// sequence number 0–999 (odd for a man, even for a woman). It is meant for synthetic data and
// panics on arguments that cannot make a number.
func Make(region string, birth yipanqi.Date, seq int) string {
	if len(region) != 6 || strings.Trim(region, "0123456789") != "" {
		panic(fmt.Sprintf("idcard.Make: region must be 6 digits, got %q", region))
	}
	if seq < 0 || seq > 999 {
		panic(fmt.Sprintf("idcard.Make: seq %d out of 0..999", seq))
	}
	if birth.Year < 1000 || birth.Year > 9999 {
		panic(fmt.Sprintf("idcard.Make: birth year %d is not 4 digits", birth.Year))
	}
	body := fmt.Sprintf("%s%04d%02d%02d%03d", region, birth.Year, int(birth.Month), birth.Day, seq)
	return body + string(CheckChar(body))
}

// Mask hides the middle of an ID number for lists: "440103********1234" shows the first 6 and
// the last 4 characters. A value of 10 characters or fewer is hidden entirely.
func Mask(number string) string {
	r := []rune(number)
	if len(r) <= 10 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:6]) + strings.Repeat("*", len(r)-10) + string(r[len(r)-4:])
}

func invalid(format string, args ...any) error {
	return yipanqi.FieldErrorf(yipanqi.EINVALID, field, format, args...)
}

// atoi converts a string of ASCII digits already checked by Parse.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
