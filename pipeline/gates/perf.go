package gates

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors of the performance gate.
var (
	// ErrBudgetExceeded is wrapped by the [*BudgetError] that [Check]
	// returns when a measurement is over a budget.
	ErrBudgetExceeded = errors.New("performance budget exceeded")
	// ErrNoMeasurement means a budget matched no measurement.
	ErrNoMeasurement = errors.New("no measurement for budget")
	// ErrInvalidInput means benchmark output or a load-test result could
	// not be parsed, or held nothing to measure.
	ErrInvalidInput = errors.New("invalid performance input")
)

// Measurement is one measured subject: a benchmark (aggregated over its
// runs) or a load test.
type Measurement struct {
	// Name is the benchmark name without the GOMAXPROCS suffix
	// ("BenchmarkPush/50MB"), or the load test's name.
	Name string
	// Samples is the number of benchmark runs or load-test requests.
	Samples int
	// Latency is the median ns/op of a benchmark, or the median request
	// latency of a load test.
	Latency time.Duration
	// P95Latency is the 95th percentile of a benchmark's ns/op samples,
	// or of a load test's request latencies.
	P95Latency time.Duration
	// Throughput is operations (or requests) per second.
	Throughput float64
	// AllocsPerOp and BytesPerOp are the worst benchmark sample's
	// -benchmem figures; HasMem reports whether they were present.
	AllocsPerOp, BytesPerOp float64
	HasMem                  bool
	// ErrorRate is failed requests / requests of a load test, 0..1.
	ErrorRate float64
	// Metrics holds every other unit reported (for example "ns/step"
	// from b.ReportMetric), median over the runs; for a k6 summary, every
	// statistic as "<metric>.<stat>" (see [ParseK6Summary]).
	Metrics map[string]float64
	// Origin names, per limit ([LimitP95Latency] and the others), the
	// tool's metric a figure was read from, for example
	// "k6 http_req_duration p(95)"; a refusal names it beside the limit.
	// Nil for Go benchmarks.
	Origin map[string]string
}

// Names of the limits a [Violation] reports, and keys of
// [Measurement].Origin.
const (
	LimitP95Latency    = "p95 latency"
	LimitMedianLatency = "median latency"
	LimitThroughput    = "throughput"
	LimitErrorRate     = "error rate"
)

// Budget is a limit on measurements. Zero fields are not checked.
type Budget struct {
	// Match is a regular expression selecting measurements by name;
	// empty matches all.
	Match string
	// MaxP95Latency caps P95Latency.
	MaxP95Latency time.Duration
	// MaxLatency caps Latency (the median).
	MaxLatency time.Duration
	// MinThroughput is the lowest acceptable Throughput.
	MinThroughput float64
	// MaxAllocsPerOp and MaxBytesPerOp cap the -benchmem figures; set
	// ZeroAllocs to require no allocations at all.
	MaxAllocsPerOp, MaxBytesPerOp float64
	ZeroAllocs                    bool
	// MaxErrorRate caps ErrorRate (0..1).
	MaxErrorRate float64
	// MaxMetric caps custom metrics by unit, for example
	// {"ns/step": 5000}.
	MaxMetric map[string]float64
}

// Violation is one budget a measurement exceeded.
type Violation struct {
	// Measurement is the measurement's name.
	Measurement string
	// Limit names the budget field, for example "p95 latency", followed
	// by the tool's metric in parentheses when the measurement names one
	// ("p95 latency (k6 http_req_duration p(95))").
	Limit string
	// Want and Got are the limit and the measured value, formatted.
	Want, Got string
}

// String returns "NAME: p95 latency 12ms exceeds 10ms" or similar.
func (v Violation) String() string {
	return fmt.Sprintf("%s: %s %s, budget %s", v.Measurement, v.Limit, v.Got, v.Want)
}

// BudgetError lists the exceeded budgets.
type BudgetError struct {
	Violations []Violation
}

// Error lists every violation.
func (e *BudgetError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.String()
	}
	return fmt.Sprintf("%v: %s", ErrBudgetExceeded, strings.Join(parts, "; "))
}

// Unwrap returns [ErrBudgetExceeded].
func (e *BudgetError) Unwrap() error { return ErrBudgetExceeded }

// Check checks ms against budgets. It returns a [*BudgetError] listing
// every exceeded limit, joined with an error wrapping [ErrNoMeasurement]
// for each budget that matched nothing, and an error wrapping
// [ErrInvalidInput] for a Match that is not a valid regular expression.
func Check(ms []Measurement, budgets ...Budget) error {
	var errs []error
	var vs []Violation
	for i, b := range budgets {
		re, err := regexp.Compile(b.Match)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: budget %d: match %q: %v", ErrInvalidInput, i, b.Match, err))
			continue
		}
		matched := 0
		for _, m := range ms {
			if !re.MatchString(m.Name) {
				continue
			}
			matched++
			vs = append(vs, b.check(m)...)
		}
		if matched == 0 {
			errs = append(errs, fmt.Errorf("%w: budget %d matches %q, measured: %s", ErrNoMeasurement, i, b.Match, names(ms)))
		}
	}
	if len(vs) > 0 {
		errs = append([]error{&BudgetError{Violations: vs}}, errs...)
	}
	return errors.Join(errs...)
}

func names(ms []Measurement) string {
	if len(ms) == 0 {
		return "nothing"
	}
	n := make([]string, len(ms))
	for i, m := range ms {
		n[i] = m.Name
	}
	return strings.Join(n, ", ")
}

func (b Budget) check(m Measurement) []Violation {
	var vs []Violation
	over := func(limit string, want, got string) {
		if o := m.Origin[limit]; o != "" {
			limit += " (" + o + ")"
		}
		vs = append(vs, Violation{Measurement: m.Name, Limit: limit, Want: want, Got: got})
	}
	if b.MaxP95Latency > 0 && m.P95Latency > b.MaxP95Latency {
		over(LimitP95Latency, "≤ "+b.MaxP95Latency.String(), m.P95Latency.String())
	}
	if b.MaxLatency > 0 && m.Latency > b.MaxLatency {
		over(LimitMedianLatency, "≤ "+b.MaxLatency.String(), m.Latency.String())
	}
	if b.MinThroughput > 0 && m.Throughput < b.MinThroughput {
		over(LimitThroughput, "≥ "+num(b.MinThroughput)+"/s", num(m.Throughput)+"/s")
	}
	if (b.ZeroAllocs || b.MaxAllocsPerOp > 0) && !m.HasMem {
		over("allocs/op", "measured", "not reported (run with -benchmem)")
	} else {
		if b.ZeroAllocs && m.AllocsPerOp > 0 {
			over("allocs/op", "0", num(m.AllocsPerOp))
		}
		if b.MaxAllocsPerOp > 0 && m.AllocsPerOp > b.MaxAllocsPerOp {
			over("allocs/op", "≤ "+num(b.MaxAllocsPerOp), num(m.AllocsPerOp))
		}
	}
	if b.MaxBytesPerOp > 0 && m.HasMem && m.BytesPerOp > b.MaxBytesPerOp {
		over("B/op", "≤ "+num(b.MaxBytesPerOp), num(m.BytesPerOp))
	}
	if b.MaxErrorRate > 0 && m.ErrorRate > b.MaxErrorRate {
		over(LimitErrorRate, "≤ "+num(b.MaxErrorRate), num(m.ErrorRate))
	}
	units := make([]string, 0, len(b.MaxMetric))
	for u := range b.MaxMetric {
		units = append(units, u)
	}
	slices.Sort(units)
	for _, u := range units {
		got, ok := m.Metrics[u]
		switch {
		case !ok:
			over(u, "measured", "not reported")
		case got > b.MaxMetric[u]:
			over(u, "≤ "+num(b.MaxMetric[u]), num(got))
		}
	}
	return vs
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

var procSuffix = regexp.MustCompile(`-\d+$`)

// ParseBench reads Go benchmark output (`go test -bench`, with or without
// -benchmem and -count) and returns one aggregated [Measurement] per
// benchmark, in the order first seen. Other lines are ignored. It
// returns an error wrapping [ErrInvalidInput] when no benchmark line is
// found or a line's figures do not parse.
func ParseBench(r io.Reader) ([]Measurement, error) {
	type agg struct {
		ns, allocs, bytes []float64
		other             map[string][]float64
	}
	var order []string
	by := map[string]*agg{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		a, ok := by[name]
		if !ok {
			a = &agg{other: map[string][]float64{}}
			by[name] = a
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: %s: value %q", ErrInvalidInput, line, name, f[i])
			}
			switch unit := f[i+1]; unit {
			case "ns/op":
				a.ns = append(a.ns, v)
			case "allocs/op":
				a.allocs = append(a.allocs, v)
			case "B/op":
				a.bytes = append(a.bytes, v)
			default:
				a.other[unit] = append(a.other[unit], v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("%w: no benchmark results found", ErrInvalidInput)
	}
	out := make([]Measurement, 0, len(order))
	for _, name := range order {
		a := by[name]
		m := Measurement{Name: name, Samples: len(a.ns), Metrics: map[string]float64{}}
		if len(a.ns) > 0 {
			med := percentile(a.ns, 50)
			m.Latency = time.Duration(med)
			m.P95Latency = time.Duration(percentile(a.ns, 95))
			if med > 0 {
				m.Throughput = 1e9 / med
			}
		}
		if len(a.allocs) > 0 || len(a.bytes) > 0 {
			m.HasMem = true
			m.AllocsPerOp = slices.Max(append(a.allocs, 0))
			m.BytesPerOp = slices.Max(append(a.bytes, 0))
		}
		for u, vs := range a.other {
			m.Metrics[u] = percentile(vs, 50)
		}
		out = append(out, m)
	}
	return out, nil
}

// percentile returns the p-th percentile of vs by the nearest-rank method.
func percentile(vs []float64, p float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = max(1, min(rank, len(s)))
	return s[rank-1]
}

// LoadTest is the load-test result format [ParseLoadTest] reads. A load
// tool's output is converted to it with a few lines of jq or code.
//
//	{"name": "checkout", "duration_seconds": 60, "requests": 12000,
//	 "errors": 12, "latency_ms": {"p50": 11.5, "p95": 48}}
//
// Instead of latency_ms, "samples_ms" may list every request's latency;
// the percentiles are then computed from it.
type LoadTest struct {
	Name            string             `json:"name"`
	DurationSeconds float64            `json:"duration_seconds"`
	Requests        int                `json:"requests"`
	Errors          int                `json:"errors"`
	LatencyMS       map[string]float64 `json:"latency_ms"`
	SamplesMS       []float64          `json:"samples_ms"`
}

// ParseLoadTest reads one [LoadTest] JSON document and returns its
// measurement. It returns an error wrapping [ErrInvalidInput] for
// malformed JSON, a missing name, a non-positive duration or request
// count, or no latency figures.
func ParseLoadTest(r io.Reader) (Measurement, error) {
	var lt LoadTest
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&lt); err != nil {
		return Measurement{}, fmt.Errorf("%w: load test JSON: %v", ErrInvalidInput, err)
	}
	switch {
	case lt.Name == "":
		return Measurement{}, fmt.Errorf("%w: load test has no name", ErrInvalidInput)
	case lt.DurationSeconds <= 0:
		return Measurement{}, fmt.Errorf("%w: load test %s: duration_seconds must be positive", ErrInvalidInput, lt.Name)
	case lt.Requests <= 0:
		return Measurement{}, fmt.Errorf("%w: load test %s: requests must be positive", ErrInvalidInput, lt.Name)
	case lt.Errors < 0 || lt.Errors > lt.Requests:
		return Measurement{}, fmt.Errorf("%w: load test %s: errors must be between 0 and requests", ErrInvalidInput, lt.Name)
	}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	m := Measurement{
		Name:       lt.Name,
		Samples:    lt.Requests,
		Throughput: float64(lt.Requests) / lt.DurationSeconds,
		ErrorRate:  float64(lt.Errors) / float64(lt.Requests),
	}
	p50, ok50 := lt.LatencyMS["p50"]
	p95, ok95 := lt.LatencyMS["p95"]
	if len(lt.SamplesMS) > 0 {
		if !ok50 {
			p50, ok50 = percentile(lt.SamplesMS, 50), true
		}
		if !ok95 {
			p95, ok95 = percentile(lt.SamplesMS, 95), true
		}
	}
	if !ok95 {
		return Measurement{}, fmt.Errorf("%w: load test %s: no p95 latency (latency_ms.p95 or samples_ms)", ErrInvalidInput, lt.Name)
	}
	m.P95Latency = ms(p95)
	if ok50 {
		m.Latency = ms(p50)
	}
	return m, nil
}
