package gates_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck/pipeline/gates"
)

// Benchmark output checked against a latency and an allocation budget.
func ExampleCheck() {
	out := `BenchmarkHandler-8   100000   48000 ns/op   2048 B/op   12 allocs/op
BenchmarkHandler-8   100000   52000 ns/op   2048 B/op   12 allocs/op`
	ms, _ := gates.ParseBench(strings.NewReader(out))
	err := gates.Check(ms, gates.Budget{
		Match:          "Handler",
		MaxP95Latency:  50 * time.Microsecond,
		MaxAllocsPerOp: 16,
	})
	fmt.Println(err)
	// Output:
	// performance budget exceeded: BenchmarkHandler: p95 latency 52µs, budget ≤ 50µs
}
