package print_test

import (
	"strings"
	"testing"

	"yipanqi/web/print"
)

// decodeQR reads the text of a QR code from its module matrix (quiet zone included), for
// versions 1–6 without damage: format information, unmasking, the zigzag data path, the
// block de-interleaving and the numeric, alphanumeric and byte segments. It skips error
// correction, which an undamaged symbol does not need, and so checks the encoder from the
// outside: what a phone would read.
func decodeQR(t *testing.T, grid [][]bool) string {
	t.Helper()
	border := 0
	for border < len(grid) && !anyDark(grid[border]) {
		border++
	}
	size := len(grid) - 2*border
	if size < 21 || (size-17)%4 != 0 {
		t.Fatalf("QR decode: %d modules inside a border of %d is no QR size", size, border)
	}
	get := func(x, y int) bool { return grid[y+border][x+border] }
	version := (size - 17) / 4
	if version > 6 {
		t.Fatalf("QR decode: version %d; this test decoder reads 1–6", version)
	}

	// Format information, the copy around the top-left finder, most significant bit first.
	var format int
	for _, p := range [][2]int{{0, 8}, {1, 8}, {2, 8}, {3, 8}, {4, 8}, {5, 8}, {7, 8}, {8, 8}, {8, 7},
		{8, 5}, {8, 4}, {8, 3}, {8, 2}, {8, 1}, {8, 0}} {
		format <<= 1
		if get(p[0], p[1]) {
			format |= 1
		}
	}
	format ^= 0x5412
	level := "MLHQ"[(format>>13)&3] // 00 M, 01 L, 10 H, 11 Q
	mask := (format >> 10) & 7

	function := func(x, y int) bool {
		switch {
		case x <= 8 && y <= 8, x >= size-8 && y <= 8, x <= 8 && y >= size-8, x == 6, y == 6:
			return true
		}
		if version >= 2 {
			c := []int{6, 4*version + 10}
			for _, ax := range c {
				for _, ay := range c {
					if ax == 6 && ay == 6 || ax == c[1] && ay == 6 || ax == 6 && ay == c[1] {
						continue // overlaps a finder
					}
					if x >= ax-2 && x <= ax+2 && y >= ay-2 && y <= ay+2 {
						return true
					}
				}
			}
		}
		return false
	}
	masked := func(x, y int) bool {
		i, j := y, x
		switch mask {
		case 0:
			return (i+j)%2 == 0
		case 1:
			return i%2 == 0
		case 2:
			return j%3 == 0
		case 3:
			return (i+j)%3 == 0
		case 4:
			return (i/2+j/3)%2 == 0
		case 5:
			return (i*j)%2+(i*j)%3 == 0
		case 6:
			return ((i*j)%2+(i*j)%3)%2 == 0
		}
		return ((i+j)%2+(i*j)%3)%2 == 0
	}

	var bits []bool
	up := true
	for j := size - 1; j > 0; j -= 2 {
		if j == 6 {
			j--
		}
		for c := 0; c < size; c++ {
			y := c
			if up {
				y = size - 1 - c
			}
			for k := 0; k < 2; k++ {
				x := j - k
				if !function(x, y) {
					bits = append(bits, get(x, y) != masked(x, y))
				}
			}
		}
		up = !up
	}
	var words []int
	for i := 0; i+8 <= len(bits); i += 8 {
		w := 0
		for _, b := range bits[i : i+8] {
			w <<= 1
			if b {
				w |= 1
			}
		}
		words = append(words, w)
	}

	// Blocks: data codewords per block, for each version and level.
	blocks := map[int]map[byte][]int{
		1: {'L': {19}, 'M': {16}, 'Q': {13}, 'H': {9}},
		2: {'L': {34}, 'M': {28}, 'Q': {22}, 'H': {16}},
		3: {'L': {55}, 'M': {44}, 'Q': {17, 17}, 'H': {13, 13}},
		4: {'L': {80}, 'M': {32, 32}, 'Q': {24, 24}, 'H': {9, 9, 9, 9}},
		5: {'L': {108}, 'M': {43, 43}, 'Q': {15, 15, 16, 16}, 'H': {11, 11, 12, 12}},
		6: {'L': {68, 68}, 'M': {27, 27, 27, 27}, 'Q': {19, 19, 19, 19}, 'H': {15, 15, 15, 15}},
	}[version][level]
	per := make([][]int, len(blocks))
	next := 0
	for i := 0; ; i++ {
		took := false
		for b, n := range blocks {
			if i < n {
				per[b] = append(per[b], words[next])
				next++
				took = true
			}
		}
		if !took {
			break
		}
	}
	var data []bool
	for _, blk := range per {
		for _, w := range blk {
			for k := 7; k >= 0; k-- {
				data = append(data, w>>k&1 == 1)
			}
		}
	}

	pos := 0
	read := func(n int) int {
		v := 0
		for k := 0; k < n; k++ {
			v <<= 1
			if pos < len(data) && data[pos] {
				v |= 1
			}
			pos++
		}
		return v
	}
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	var out strings.Builder
	for pos+4 <= len(data) {
		switch mode := read(4); mode {
		case 0:
			return out.String()
		case 1: // numeric
			n := read(10)
			for ; n >= 3; n -= 3 {
				v := read(10)
				out.WriteString(string(rune('0'+v/100)) + string(rune('0'+v/10%10)) + string(rune('0'+v%10)))
			}
			switch n {
			case 2:
				v := read(7)
				out.WriteString(string(rune('0'+v/10)) + string(rune('0'+v%10)))
			case 1:
				out.WriteByte(byte('0' + read(4)))
			}
		case 2: // alphanumeric
			n := read(9)
			for ; n >= 2; n -= 2 {
				v := read(11)
				out.WriteByte(alnum[v/45])
				out.WriteByte(alnum[v%45])
			}
			if n == 1 {
				out.WriteByte(alnum[read(6)])
			}
		case 4: // byte
			n := read(8)
			for k := 0; k < n; k++ {
				out.WriteByte(byte(read(8)))
			}
		default:
			t.Fatalf("QR decode: unexpected mode %04b after %q", mode, out.String())
		}
	}
	return out.String()
}

func anyDark(row []bool) bool {
	for _, b := range row {
		if b {
			return true
		}
	}
	return false
}

// TestQRDecoder checks the test decoder itself on codes of every version it reads.
func TestQRDecoder(t *testing.T) {
	for _, text := range []string{
		"hello",
		"HTTPS://X/1",
		"0123456789012345",
		"https://ypq.gd.example/verify/cert/440106001-2026-000001",
		"https://yipanqi.jiangxi.example.gov.cn/verify/cert/360121100-2026-123456?x=1",
		strings.Repeat("婚育证明", 8),
	} {
		m, err := print.QRMatrix(text)
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeQR(t, m); got != text {
			t.Errorf("decode(QR(%q)) = %q", text, got)
		}
	}
}
