package division_test

import (
	"runtime"
	"testing"

	"yipanqi/division"
)

// BenchmarkLoad loads the embedded data, to villages. It reports the live heap the tree holds
// once loaded ("heap-MB", after a GC, with only the tree alive) beside time and allocations.
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	var tree *division.Tree
	for b.Loop() {
		var err error
		if tree, err = division.Load(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	var with, without runtime.MemStats
	runtime.ReadMemStats(&with)
	runtime.KeepAlive(tree) // the tree is live until here
	runtime.GC()
	runtime.ReadMemStats(&without)
	b.ReportMetric(float64(with.HeapAlloc)/(1<<20), "heap-MB")
	b.ReportMetric(float64(with.HeapAlloc-without.HeapAlloc)/(1<<20), "tree-MB")
}

var (
	sinkString string
	sinkList   []division.Division
)

func BenchmarkLookup(b *testing.B) {
	tree := MustTree(b)
	codes := []string{"44", "4401", "440106", "440106001", "440106001001", "533423207209"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d, err := tree.Lookup(codes[i%len(codes)])
		if err != nil {
			b.Fatal(err)
		}
		sinkString = d.Name
		i++
	}
}

func BenchmarkFullName(b *testing.B) {
	tree := MustTree(b)
	codes := []string{"440106001001", "500101", "429004", "533423207209"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s, err := tree.FullName(codes[i%len(codes)])
		if err != nil {
			b.Fatal(err)
		}
		sinkString = s
		i++
	}
}

func BenchmarkSearch(b *testing.B) {
	tree := MustTree(b)
	b.ReportAllocs()
	for b.Loop() {
		sinkList = tree.Search("天河", 20)
	}
}
