package gates

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/flightdeck-dev/flightdeck/pipeline"
)

// The k6 metrics [ParseK6Summary] reads. Every other metric of the
// summary goes into [Measurement].Metrics.
const (
	// K6Duration is k6's trend of HTTP request durations, in
	// milliseconds; its "med" becomes Latency and its "p(95)"
	// P95Latency.
	K6Duration = "http_req_duration"
	// K6Failed is k6's rate of failed HTTP requests; its "value" (0..1)
	// becomes ErrorRate.
	K6Failed = "http_req_failed"
	// K6Requests is k6's counter of HTTP requests; its "count" becomes
	// Samples and its "rate" (requests per second over the whole run)
	// Throughput.
	K6Requests = "http_reqs"
)

// k6Summary is the document `k6 run --summary-export=FILE` writes. Its
// metrics are flat maps of statistic to number ("avg", "p(95)",
// "count", "rate", "value", "passes", …) with an optional "thresholds"
// map of threshold expression to whether it was crossed (k6 itself
// exits non-zero for those, so they are not read here). The JSON a
// handleSummary() callback receives nests the numbers under "values"
// instead and calls a rate's value "rate"; both are read.
type k6Summary struct {
	Metrics map[string]json.RawMessage `json:"metrics"`
}

// k6Metric is one metric's statistics, whichever layout it came in.
type k6Metric struct {
	stats map[string]float64
}

func decodeK6Metric(raw json.RawMessage) (k6Metric, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return k6Metric{}, err
	}
	m := k6Metric{stats: map[string]float64{}}
	if v, ok := fields["values"]; ok { // handleSummary() layout
		if err := json.Unmarshal(v, &m.stats); err != nil {
			return k6Metric{}, fmt.Errorf("values: %v", err)
		}
		if _, ok := m.stats["value"]; !ok && isRateType(fields["type"]) {
			if r, ok := m.stats["rate"]; ok {
				m.stats["value"] = r
				delete(m.stats, "rate")
			}
		}
		return m, nil
	}
	for k, v := range fields {
		if k == "thresholds" { // expression -> crossed; k6 fails the run for them itself
			continue
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			return k6Metric{}, fmt.Errorf("%s: not a number", k)
		}
		m.stats[k] = f
	}
	return m, nil
}

func isRateType(raw json.RawMessage) bool {
	var s string
	return json.Unmarshal(raw, &s) == nil && s == "rate"
}

// ParseK6Summary reads the end-of-test summary that `k6 run
// --summary-export=FILE` writes (also the data a handleSummary() callback
// receives, serialised with JSON.stringify) and returns the run as one
// [Measurement] named name ("k6" when empty; errors then name just the
// "k6 summary"):
//
//   - Latency and P95Latency are http_req_duration's "med" and "p(95)"
//     (k6 reports them in milliseconds);
//   - ErrorRate is http_req_failed's "value", the share of failed
//     requests;
//   - Throughput and Samples are http_reqs' "rate" and "count";
//   - Metrics holds every statistic of every metric as
//     "<metric>.<stat>", in the summary's own units, for example
//     "http_req_duration.max" or "iteration_duration.p(90)", so a
//     [Budget].MaxMetric can cap any of them.
//
// Origin names the k6 metric behind each budgeted figure, so refusals
// say which one was over. It returns an error wrapping [ErrInvalidInput]
// for JSON that does not parse, a summary without the three HTTP
// metrics (a run that made no HTTP request, or a --summary-trend-stats
// that leaves out "med" or "p(95)"), or values out of range.
func ParseK6Summary(r io.Reader, name string) (Measurement, error) {
	// what names the summary in errors: "k6 summary checkout", or just
	// "k6 summary" when no name was given (not "k6 summary k6").
	what := "k6 summary"
	if name == "" {
		name = "k6"
	} else {
		what += " " + name
	}
	var sum k6Summary
	if err := json.NewDecoder(r).Decode(&sum); err != nil {
		return Measurement{}, fmt.Errorf("%w: %s: %v", ErrInvalidInput, what, err)
	}
	if sum.Metrics == nil {
		return Measurement{}, fmt.Errorf("%w: %s: no \"metrics\" object (is this k6's --summary-export output?)", ErrInvalidInput, what)
	}
	metrics := make(map[string]k6Metric, len(sum.Metrics))
	for mn, raw := range sum.Metrics {
		km, err := decodeK6Metric(raw)
		if err != nil {
			return Measurement{}, fmt.Errorf("%w: %s: metric %s: %v", ErrInvalidInput, what, mn, err)
		}
		metrics[mn] = km
	}
	need := func(metric, stat string) (float64, error) {
		km, ok := metrics[metric]
		if !ok {
			return 0, fmt.Errorf("%w: %s: no %s metric (the run made no HTTP request?)", ErrInvalidInput, what, metric)
		}
		v, ok := km.stats[stat]
		if !ok {
			return 0, fmt.Errorf("%w: %s: %s has no %q (add it to --summary-trend-stats)", ErrInvalidInput, what, metric, stat)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return 0, fmt.Errorf("%w: %s: %s %s is %v", ErrInvalidInput, what, metric, stat, v)
		}
		return v, nil
	}
	m := Measurement{Name: name, Metrics: map[string]float64{}, Origin: map[string]string{
		LimitP95Latency:    "k6 " + K6Duration + " p(95)",
		LimitMedianLatency: "k6 " + K6Duration + " med",
		LimitErrorRate:     "k6 " + K6Failed + " rate",
		LimitThroughput:    "k6 " + K6Requests + " rate",
	}}
	ms := func(v float64) time.Duration { return time.Duration(math.Round(v * float64(time.Millisecond))) }
	p95, err := need(K6Duration, "p(95)")
	if err != nil {
		return Measurement{}, err
	}
	med, err := need(K6Duration, "med")
	if err != nil {
		return Measurement{}, err
	}
	m.P95Latency, m.Latency = ms(p95), ms(med)
	if m.ErrorRate, err = need(K6Failed, "value"); err != nil {
		return Measurement{}, err
	}
	if m.ErrorRate > 1 {
		return Measurement{}, fmt.Errorf("%w: %s: %s value %v is not a share between 0 and 1", ErrInvalidInput, what, K6Failed, m.ErrorRate)
	}
	if m.Throughput, err = need(K6Requests, "rate"); err != nil {
		return Measurement{}, err
	}
	count, err := need(K6Requests, "count")
	if err != nil {
		return Measurement{}, err
	}
	m.Samples = int(count)
	for mn, km := range metrics {
		for stat, v := range km.stats {
			m.Metrics[mn+"."+stat] = v
		}
	}
	return m, nil
}

// K6SummaryFile reads the k6 summary (see [ParseK6Summary]) from the file
// at path, as written by `k6 run --summary-export=path`; the measurement
// is named name ("k6" when empty).
func K6SummaryFile(path, name string) Source {
	return SourceFunc(func(context.Context, *pipeline.State) ([]Measurement, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("k6 summary: %w", err)
		}
		defer f.Close()
		m, err := ParseK6Summary(f, name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return []Measurement{m}, nil
	})
}
