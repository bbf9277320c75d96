package gates_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/command"
	"github.com/flightdeck-dev/flightdeck/pipeline/gates"
)

const benchOut = `goos: linux
goarch: amd64
pkg: example.com/app
cpu: AMD EPYC
BenchmarkEncode-2     	  500000	      2000 ns/op	     512 B/op	       4 allocs/op
BenchmarkEncode-2     	  500000	      2200 ns/op	     512 B/op	       5 allocs/op
BenchmarkEncode-2     	  500000	      9000 ns/op	     512 B/op	       4 allocs/op
BenchmarkEngine/parallelism=4-2         	      31	  33460267 ns/op	      3346 ns/step	 1927729 B/op	   10031 allocs/op
BenchmarkNoMem-2 	 1000	 1000 ns/op
PASS
ok  	example.com/app	3.424s
`

func TestParseBenchAggregates(t *testing.T) {
	ms, err := gates.ParseBench(strings.NewReader(benchOut))
	require.NoError(t, err)
	require.Len(t, ms, 3)

	enc := ms[0]
	assert.Equal(t, "BenchmarkEncode", enc.Name)
	assert.Equal(t, 3, enc.Samples)
	assert.Equal(t, 2200*time.Nanosecond, enc.Latency, "median of 2000, 2200, 9000")
	assert.Equal(t, 9000*time.Nanosecond, enc.P95Latency)
	assert.InDelta(t, 1e9/2200.0, enc.Throughput, 1e-6)
	assert.True(t, enc.HasMem)
	assert.Equal(t, 5.0, enc.AllocsPerOp, "worst sample")
	assert.Equal(t, 512.0, enc.BytesPerOp)

	eng := ms[1]
	assert.Equal(t, "BenchmarkEngine/parallelism=4", eng.Name)
	assert.Equal(t, 3346.0, eng.Metrics["ns/step"])

	assert.False(t, ms[2].HasMem)
}

func TestParseBenchBadInput(t *testing.T) {
	_, err := gates.ParseBench(strings.NewReader("PASS\nok x 1s\n"))
	require.ErrorIs(t, err, gates.ErrInvalidInput)
	assert.Contains(t, err.Error(), "no benchmark results found")

	_, err = gates.ParseBench(strings.NewReader("BenchmarkX-2 10 abc ns/op\n"))
	require.ErrorIs(t, err, gates.ErrInvalidInput)
	assert.Contains(t, err.Error(), `line 1: BenchmarkX: value "abc"`)
}

func TestCheckBudgets(t *testing.T) {
	ms, err := gates.ParseBench(strings.NewReader(benchOut))
	require.NoError(t, err)

	require.NoError(t, gates.Check(ms, gates.Budget{Match: "^BenchmarkEncode$", MaxP95Latency: 10 * time.Microsecond, MaxAllocsPerOp: 5, MinThroughput: 400000}))

	err = gates.Check(ms,
		gates.Budget{Match: "Encode", MaxP95Latency: 5 * time.Microsecond, MaxLatency: time.Microsecond, MinThroughput: 1e6, MaxAllocsPerOp: 4, MaxBytesPerOp: 256},
		gates.Budget{Match: "Engine", MaxMetric: map[string]float64{"ns/step": 5000, "ns/missing": 1}},
		gates.Budget{Match: "NoMem", ZeroAllocs: true},
	)
	require.ErrorIs(t, err, gates.ErrBudgetExceeded)
	var be *gates.BudgetError
	require.ErrorAs(t, err, &be)
	got := texts(be.Violations)
	assert.Equal(t, []string{
		"BenchmarkEncode: p95 latency 9µs, budget ≤ 5µs",
		"BenchmarkEncode: median latency 2.2µs, budget ≤ 1µs",
		"BenchmarkEncode: throughput 454545/s, budget ≥ 1e+06/s",
		"BenchmarkEncode: allocs/op 5, budget ≤ 4",
		"BenchmarkEncode: B/op 512, budget ≤ 256",
		"BenchmarkEngine/parallelism=4: ns/missing not reported, budget measured",
		"BenchmarkNoMem: allocs/op not reported (run with -benchmem), budget measured",
	}, got)
}

func TestCheckZeroAllocsAndErrorRate(t *testing.T) {
	err := gates.Check([]gates.Measurement{{Name: "x", HasMem: true, AllocsPerOp: 1, ErrorRate: 0.2}},
		gates.Budget{ZeroAllocs: true, MaxErrorRate: 0.01})
	var be *gates.BudgetError
	require.ErrorAs(t, err, &be)
	require.Len(t, be.Violations, 2)
	assert.Equal(t, "x: allocs/op 1, budget 0", be.Violations[0].String())
	assert.Equal(t, "x: error rate 0.2, budget ≤ 0.01", be.Violations[1].String())
}

func TestCheckBudgetWithoutMeasurementAndBadMatch(t *testing.T) {
	ms := []gates.Measurement{{Name: "BenchmarkA"}}
	err := gates.Check(ms, gates.Budget{Match: "BenchmarkRenamed", MaxLatency: time.Second})
	require.ErrorIs(t, err, gates.ErrNoMeasurement)
	assert.Contains(t, err.Error(), `budget 0 matches "BenchmarkRenamed", measured: BenchmarkA`)
	assert.NotErrorIs(t, err, gates.ErrBudgetExceeded)

	err = gates.Check(ms, gates.Budget{Match: "("})
	require.ErrorIs(t, err, gates.ErrInvalidInput)
}

func TestParseLoadTest(t *testing.T) {
	m, err := gates.ParseLoadTest(strings.NewReader(`{"name":"checkout","duration_seconds":60,"requests":12000,"errors":12,"latency_ms":{"p50":11.5,"p95":48}}`))
	require.NoError(t, err)
	assert.Equal(t, gates.Measurement{Name: "checkout", Samples: 12000, Latency: 11500 * time.Microsecond,
		P95Latency: 48 * time.Millisecond, Throughput: 200, ErrorRate: 0.001}, m)

	samples := make([]string, 100)
	for i := range samples {
		samples[i] = strconv.Itoa(i + 1)
	}
	m, err = gates.ParseLoadTest(strings.NewReader(`{"name":"s","duration_seconds":10,"requests":100,"samples_ms":[` + strings.Join(samples, ",") + `]}`))
	require.NoError(t, err)
	assert.Equal(t, 95*time.Millisecond, m.P95Latency)
	assert.Equal(t, 50*time.Millisecond, m.Latency)
	assert.Equal(t, 10.0, m.Throughput)
}

func TestParseLoadTestBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"not json":      `{`,
		"unknown field": `{"name":"x","duration_seconds":1,"requests":1,"latency_ms":{"p95":1},"p99":3}`,
		"no name":       `{"duration_seconds":1,"requests":1,"latency_ms":{"p95":1}}`,
		"no duration":   `{"name":"x","requests":1,"latency_ms":{"p95":1}}`,
		"no requests":   `{"name":"x","duration_seconds":1,"latency_ms":{"p95":1}}`,
		"errors > reqs": `{"name":"x","duration_seconds":1,"requests":1,"errors":2,"latency_ms":{"p95":1}}`,
		"no p95":        `{"name":"x","duration_seconds":1,"requests":1,"latency_ms":{"p50":1}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := gates.ParseLoadTest(strings.NewReader(in))
			assert.ErrorIs(t, err, gates.ErrInvalidInput)
		})
	}
}

func TestLoadTestFileGate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "load.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"name":"api","duration_seconds":10,"requests":500,"errors":0,"latency_ms":{"p95":250}}`), 0o644))
	st := pipeline.NewState()
	ok := gates.NewPerfGate("load-ok", gates.LoadTestFile(path), gates.Budget{MaxP95Latency: 300 * time.Millisecond, MinThroughput: 40})
	assert.NoError(t, ok.Run(context.Background(), st))
	bad := gates.NewPerfGate("load-slow", gates.LoadTestFile(path), gates.Budget{MaxP95Latency: 200 * time.Millisecond})
	err := bad.Run(context.Background(), st)
	require.ErrorIs(t, err, gates.ErrBudgetExceeded)
	assert.True(t, pipeline.IsPermanent(err))
	assert.Contains(t, err.Error(), "gate load-slow: performance budget exceeded: api: p95 latency 250ms, budget ≤ 200ms")

	missing := gates.NewPerfGate("load-missing", gates.LoadTestFile(filepath.Join(dir, "nope.json")))
	err = missing.Run(context.Background(), st)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.False(t, pipeline.IsPermanent(err), "a missing file may appear on retry")

	require.NoError(t, os.WriteFile(path, []byte(`{}`), 0o644))
	err = ok.Run(context.Background(), st)
	require.ErrorIs(t, err, gates.ErrInvalidInput)
	assert.True(t, pipeline.IsPermanent(err))
}

// TestPerfGateOnRealBenchmarks runs real Go benchmarks with the command
// stage and gates their output.
func TestPerfGateOnRealBenchmarks(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "allocbench"))
	require.NoError(t, err)
	out := pipeline.NewKey[command.Result]("test.bench")
	measured := pipeline.NewKey[[]gates.Measurement]("test.measured")
	bench := command.New("bench", command.Spec{
		Program: "go", Args: []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "2", "-benchtime", "100x"},
		Dir: dir, Env: []string{"GOFLAGS=", "GOTOOLCHAIN=local", "GOWORK=off"},
	}).WithResult(out)
	gate := gates.NewPerfGate("perf", gates.BenchOutput(out),
		gates.Budget{Match: "NoAlloc", ZeroAllocs: true},
		gates.Budget{Match: "^BenchmarkAlloc$", ZeroAllocs: true},
	).WithResult(measured)

	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: bench, Provides: []pipeline.AnyKey{out}},
		pipeline.Step{Stage: gate, Needs: []pipeline.AnyKey{out}, Provides: []pipeline.AnyKey{measured}, Retry: pipeline.Retry{Attempts: 3}},
	)
	g, err := b.Build()
	require.NoError(t, err)
	e, err := pipeline.New()
	require.NoError(t, err)
	st := pipeline.NewState()
	rep, err := e.Run(context.Background(), g, st)
	require.ErrorIs(t, err, gates.ErrBudgetExceeded)
	assert.Contains(t, err.Error(), "BenchmarkAlloc: allocs/op 1, budget 0")
	assert.NotContains(t, err.Error(), "BenchmarkNoAlloc:")
	s, _ := rep.Step("perf")
	assert.Equal(t, 1, s.Attempts, "a failed gate is permanent, not retried")
	ms, err := measured.Get(st)
	require.NoError(t, err)
	require.Len(t, ms, 2)
	assert.Equal(t, 2, ms[0].Samples)
}
