package stats

import "sort"

// OriginGroup counts the people present at the end of the month with one hukou city and one
// residence city (4-digit codes).
type OriginGroup struct {
	Hukou     string
	Residence string
	People    int
}

// Cell is one entry of a flow matrix: people from Origin living in Dest.
type Cell struct {
	Origin     string `json:"origin"`
	OriginName string `json:"origin_name"`
	Dest       string `json:"dest"`
	DestName   string `json:"dest_name"`
	People     int    `json:"people"`
}

// NodeSource says where one node's part of a matrix came from.
type NodeSource struct {
	Store    string    // the database, without any password
	Units    []string  // the provinces it holds people of
	Snapshot *Snapshot // nil: computed live
}

// Matrix is the origin × destination flow matrix of the region for a month: province →
// province for everyone, and city → city for people whose hukou and residence are in one
// province. Within one node every destination is the node's own province; the region's matrix
// is the union of the nodes' groups (MergeOrigins).
type Matrix struct {
	Month     Month
	Sources   []NodeSource
	Provinces []Cell // origin province (2 digits) × residence province
	Cities    []Cell // within one province: hukou city (4 digits) × residence city
	People    int    // everyone counted: the sum of Provinces
}

// NewMatrix builds the matrix from the origin groups of every node (they do not overlap: a
// person lives in one province, whose node alone counts them).
func NewMatrix(m Month, sources []NodeSource, groups []OriginGroup, name NameFunc) *Matrix {
	prov := map[[2]string]int{}
	city := map[[2]string]int{}
	out := &Matrix{Month: m, Sources: sources}
	for _, g := range groups {
		if len(g.Hukou) < 2 || len(g.Residence) < 2 {
			continue
		}
		prov[[2]string{g.Hukou[:2], g.Residence[:2]}] += g.People
		if g.Hukou[:2] == g.Residence[:2] {
			city[[2]string{cut(g.Hukou, 4), cut(g.Residence, 4)}] += g.People
		}
		out.People += g.People
	}
	out.Provinces = cells(prov, name)
	out.Cities = cells(city, name)
	return out
}

func cells(m map[[2]string]int, name NameFunc) []Cell {
	out := make([]Cell, 0, len(m))
	for k, n := range m {
		out = append(out, Cell{Origin: k[0], OriginName: name(k[0]), Dest: k[1], DestName: name(k[1]), People: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Dest != out[j].Dest {
			return out[i].Dest < out[j].Dest
		}
		return out[i].Origin < out[j].Origin
	})
	return out
}
