package registry

//go:generate go test -run TestGB18030TableMatchesIconv -update

import (
	"errors"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// GB18030-2022 differs from the 2005 mapping golang.org/x/text implements: 18 two-byte codes
// that 2005 mapped to private-use characters now map to the standard characters (FE51 → 𠂇
// U+20087, FE59 → 龴 U+9FB4, A6D9–A6DF → vertical forms, A8BC → ḿ U+1E3F, …), and the
// user-defined areas (AAA1–AFFE, F8A1–FEFE, A140–A7A0) map to the private-use area, which
// x/text does not decode. Files written today by glibc iconv or Windows use the 2022 mapping.
//
// gb2022Decode and gb2022Encode (gb18030_2022.go) list every code and character where the
// 2022 mapping, as glibc iconv implements it, differs from x/text. They are generated from
// iconv by `go test ./registry -run TestGB18030TableMatchesIconv -update`, and the test checks
// them against iconv whenever iconv is present.

// GB18030Decoder returns a decoder for GB18030-2022. A byte sequence that is not a character
// (a lone lead byte, an unassigned code) decodes to U+FFFD, which the Validator rejects with
// the row and column it is in: nothing undecodable is ever stored.
func GB18030Decoder() transform.Transformer { return &gbDecoder{} }

// GB18030Encoder returns an encoder for GB18030-2022. A character GB18030 cannot encode (a
// surrogate half) is an error, never a replacement.
func GB18030Encoder() *encoding.Encoder {
	return &encoding.Encoder{Transformer: &gbEncoder{xt: simplifiedchinese.GB18030.NewEncoder()}}
}

// gbTwoByte holds the character of every two-byte code, lead 0x81–0xFE × trail 0x40–0x7E,
// 0x80–0xFE, under the 2022 mapping; utf8.RuneError for codes with none.
var gbTwoByte = sync.OnceValue(func() *[126 * 190]rune {
	var t [126 * 190]rune
	dec := simplifiedchinese.GB18030.NewDecoder()
	var buf [8]byte
	for lead := 0x81; lead <= 0xFE; lead++ {
		for trail := 0x40; trail <= 0xFE; trail++ {
			if trail == 0x7F {
				continue
			}
			code := uint32(lead)<<8 | uint32(trail)
			r := utf8.RuneError
			if o, ok := gb2022DecodeMap()[code]; ok {
				r = o
			} else if n, _, err := dec.Transform(buf[:], []byte{byte(lead), byte(trail)}, true); err == nil {
				r, _ = utf8.DecodeRune(buf[:n])
			}
			t[gbIndex(byte(lead), byte(trail))] = r
		}
	}
	return &t
})

func gbIndex(lead, trail byte) int {
	t := int(trail) - 0x40
	if trail > 0x7F {
		t--
	}
	return int(lead-0x81)*190 + t
}

var gb2022DecodeMap = sync.OnceValue(func() map[uint32]rune {
	m := make(map[uint32]rune, len(gb2022Decode))
	for _, e := range gb2022Decode {
		m[e.code] = e.r
	}
	return m
})

var gb2022EncodeMap = sync.OnceValue(func() map[rune]uint32 {
	m := make(map[rune]uint32, len(gb2022Encode))
	for _, e := range gb2022Encode {
		m[e.r] = e.code
	}
	return m
})

type gbDecoder struct{ transform.NopResetter }

// Transform implements transform.Transformer.
func (d *gbDecoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	two := gbTwoByte()
	for nSrc < len(src) {
		c0 := src[nSrc]
		if c0 < utf8.RuneSelf {
			if nDst >= len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			dst[nDst] = c0
			nDst++
			nSrc++
			continue
		}
		r, size := utf8.RuneError, 1
		switch {
		case c0 == 0x80:
			r = '€' // Code Page 936's euro sign, as x/text and Windows read it
		case c0 == 0xFF:
		case nSrc+1 >= len(src):
			if !atEOF {
				return nDst, nSrc, transform.ErrShortSrc
			}
		default:
			c1 := src[nSrc+1]
			switch {
			case 0x40 <= c1 && c1 <= 0xFE && c1 != 0x7F:
				r, size = two[gbIndex(c0, c1)], 2
			case 0x30 <= c1 && c1 <= 0x39:
				if nSrc+3 >= len(src) {
					if !atEOF {
						return nDst, nSrc, transform.ErrShortSrc
					}
					break
				}
				c2, c3 := src[nSrc+2], src[nSrc+3]
				if c2 < 0x81 || c2 > 0xFE || c3 < 0x30 || c3 > 0x39 {
					break
				}
				r, size = gbFourByte(src[nSrc:nSrc+4]), 4
			}
		}
		if nDst+utf8.RuneLen(r) > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += utf8.EncodeRune(dst[nDst:], r)
		nSrc += size
	}
	return nDst, nSrc, nil
}

// gbFourByte decodes a four-byte code: the 2022 table first, then x/text's ranges.
func gbFourByte(b []byte) rune {
	code := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if r, ok := gb2022DecodeMap()[code]; ok {
		return r
	}
	var buf [8]byte
	n, _, err := simplifiedchinese.GB18030.NewDecoder().Transform(buf[:], b, true)
	if err != nil {
		return utf8.RuneError
	}
	r, _ := utf8.DecodeRune(buf[:n])
	return r
}

// ErrNotGB18030 is the encoder's error for a character GB18030-2022 has no code for (the
// private-use characters that the 2005 mapping gave to codes 2022 assigns to standard ones).
var ErrNotGB18030 = errors.New("character has no GB18030-2022 code")

type gbEncoder struct {
	xt transform.Transformer
}

func (e *gbEncoder) Reset() { e.xt.Reset() }

// Transform implements transform.Transformer.
func (e *gbEncoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	over := gb2022EncodeMap()
	for nSrc < len(src) {
		c := src[nSrc]
		if c < utf8.RuneSelf {
			if nDst >= len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			dst[nDst] = c
			nDst++
			nSrc++
			continue
		}
		if !utf8.FullRune(src[nSrc:]) && !atEOF {
			return nDst, nSrc, transform.ErrShortSrc
		}
		r, size := utf8.DecodeRune(src[nSrc:])
		if r == utf8.RuneError && size == 1 {
			return nDst, nSrc, encoding.ErrInvalidUTF8
		}
		if code, ok := over[r]; ok {
			if code == 0 {
				return nDst, nSrc, ErrNotGB18030
			}
			var b [4]byte
			n := 2
			if code > 0xFFFF {
				b[0], b[1], b[2], b[3], n = byte(code>>24), byte(code>>16), byte(code>>8), byte(code), 4
			} else {
				b[0], b[1] = byte(code>>8), byte(code)
			}
			if nDst+n > len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			nDst += copy(dst[nDst:], b[:n])
			nSrc += size
			continue
		}
		n, m, err := e.xt.Transform(dst[nDst:], src[nSrc:nSrc+size], true)
		if err != nil {
			if err == transform.ErrShortDst {
				return nDst, nSrc, err
			}
			return nDst, nSrc, encoding.ErrInvalidUTF8
		}
		nDst += n
		nSrc += m
	}
	return nDst, nSrc, nil
}
