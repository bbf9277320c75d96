// Package bench has one benchmark that allocates and one that does not,
// for the performance gate's test on real `go test -bench` output.
package bench

import "testing"

var sink []byte

func BenchmarkAlloc(b *testing.B) {
	for b.Loop() {
		sink = make([]byte, 1024)
	}
}

func BenchmarkNoAlloc(b *testing.B) {
	x := 0
	for b.Loop() {
		x++
	}
	_ = x
}
