package registry

// GB2022Tables exposes the generated GB18030-2022 tables to the tests: code and character
// pairs, decoding then encoding.
func GB2022Tables() (dec, enc [][2]uint32) {
	for _, e := range gb2022Decode {
		dec = append(dec, [2]uint32{e.code, uint32(e.r)})
	}
	for _, e := range gb2022Encode {
		enc = append(enc, [2]uint32{e.code, uint32(e.r)})
	}
	return dec, enc
}
