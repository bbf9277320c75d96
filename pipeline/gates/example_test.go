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

// A k6 run's --summary-export file checked against budgets on p95
// latency, error rate and throughput.
func ExampleParseK6Summary() {
	summary := `{"metrics": {
  "http_req_duration": {"avg": 120.5, "min": 9.1, "med": 98.2, "max": 1500, "p(90)": 410, "p(95)": 640.25},
  "http_req_failed": {"passes": 3, "fails": 997, "value": 0.003},
  "http_reqs": {"count": 1000, "rate": 16.6}
}}`
	m, _ := gates.ParseK6Summary(strings.NewReader(summary), "checkout")
	err := gates.Check([]gates.Measurement{m}, gates.Budget{
		MaxP95Latency: 500 * time.Millisecond,
		MaxErrorRate:  0.01,
		MinThroughput: 10,
	})
	fmt.Println(err)
	// Output:
	// performance budget exceeded: checkout: p95 latency (k6 http_req_duration p(95)) 640.25ms, budget ≤ 500ms
}
