package health

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock"
)

// SampleSource returns the samples of one series over a time range;
// [*PrometheusQuery] is one.
type SampleSource interface {
	Range(ctx context.Context, start, end time.Time, step time.Duration) ([]float64, error)
}

var _ SampleSource = (*PrometheusQuery)(nil)

// CanaryQuery pairs a metric's judging configuration with where its
// baseline and canary samples come from. Metric.Control and
// Metric.Experiment are ignored: they are fetched on every evaluation.
type CanaryQuery struct {
	Metric           CanaryMetric
	Baseline, Canary SampleSource
}

// CanaryJudge is an [Evaluator] that fetches the trailing window of every
// metric for baseline and canary and judges them with [Judge]. The
// measurement's Value is the score, Values holds each metric's ratio, and
// the phase is the judgement's (Pass → Successful, Marginal →
// Inconclusive, Fail → Failed); a failed fetch is an Error.
type CanaryJudge struct {
	metrics      []CanaryQuery
	window, step time.Duration
	cfg          JudgeConfig
	o            options
}

var _ Evaluator = (*CanaryJudge)(nil)

// NewCanaryJudge returns a CanaryJudge over the trailing window sampled
// every step. It honours [WithClock] (default the system clock; the
// window ends at the clock's time) and [WithLogger]. It returns an error wrapping
// [ErrInvalidJudgement] for no metrics, a metric without both sources, or
// a window or step that is not positive.
func NewCanaryJudge(metrics []CanaryQuery, window, step time.Duration, cfg JudgeConfig, opts ...Option) (*CanaryJudge, error) {
	var errs []error
	if len(metrics) == 0 {
		errs = append(errs, fmt.Errorf("%w: no metrics", ErrInvalidJudgement))
	}
	for _, m := range metrics {
		if m.Baseline == nil || m.Canary == nil {
			errs = append(errs, fmt.Errorf("%w: metric %q needs a baseline and a canary source", ErrInvalidJudgement, m.Metric.Name))
		}
	}
	if window <= 0 || step <= 0 || step > window {
		errs = append(errs, fmt.Errorf("%w: window %s and step %s", ErrInvalidJudgement, window, step))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &CanaryJudge{metrics: metrics, window: window, step: step, cfg: cfg, o: buildOptions(0, opts)}, nil
}

// Evaluate fetches the samples and judges them; see [CanaryJudge].
func (c *CanaryJudge) Evaluate(ctx context.Context) Measurement {
	t := c.o.clock.Now()
	if err := ctx.Err(); err != nil {
		return errorMeasurement(t, fmt.Errorf("canary judge: %w", err))
	}
	start := t.Add(-c.window)
	ms := make([]CanaryMetric, len(c.metrics))
	for i, q := range c.metrics {
		m := q.Metric
		var err error
		if m.Control, err = q.Baseline.Range(ctx, start, t, c.step); err != nil {
			return errorMeasurement(t, fmt.Errorf("canary judge: baseline of %s: %w", m.Name, err))
		}
		if m.Experiment, err = q.Canary.Range(ctx, start, t, c.step); err != nil {
			return errorMeasurement(t, fmt.Errorf("canary judge: canary of %s: %w", m.Name, err))
		}
		ms[i] = m
	}
	j, err := Judge(c.cfg, ms)
	if err != nil {
		return errorMeasurement(t, fmt.Errorf("canary judge: %w", err))
	}
	m := Measurement{Time: t, Value: j.Score, Values: map[string]float64{}, Phase: j.Phase(),
		Message: fmt.Sprintf("canary judge: %s, %s", j.Classification, j.Reason)}
	for _, v := range j.Metrics {
		m.Values[v.Name] = v.Ratio
	}
	return m
}

// ErrorSplit is an [Evaluator] that feeds a [SequentialTest] from two
// cumulative error counters (for example PrometheusQuery or Scrape
// evaluators of errors_total for each track). Each Evaluate reads both,
// observes the increase since the previous reading (a decrease is a
// counter reset: the new value is the increase), and reports the test:
//
//   - Failed once the test finds the canary worse;
//   - Successful once it concludes the canary no worse, and also while it
//     is still running: no evidence of harm so far (so zero errors never
//     fail a run, and a metric with a count passes unless harm is found);
//   - Error when a counter cannot be read or its reading cannot be an
//     error count (infinite, negative, or an increase that overflows the
//     totals; Err wraps [ErrBadCounter]) — never "no evidence of harm";
//   - Inconclusive when a counter has no data (NaN, empty).
//
// The first reading only sets the starting point. Value is the log
// likelihood ratio of "worse"; Values carries the counts and both ratios.
// Safe for concurrent use: calls are serialised, each reading both
// counters in turn ([NewErrorSplit]) or both at one instant
// ([NewErrorSplitOf]).
type ErrorSplit struct {
	test  *SequentialTest
	read  func(ctx context.Context) (canary, stable Measurement)
	clock clock.Clock

	mu                   sync.Mutex
	lastCanary, lastStab float64
	started              bool
}

var _ Evaluator = (*ErrorSplit)(nil)

// NewErrorSplit returns an ErrorSplit feeding test from the canary and
// stable error counters. It honours [WithClock] (default the system
// clock; it stamps the measurements). It returns an error wrapping
// [ErrInvalidSequential] when test or a counter is nil.
func NewErrorSplit(test *SequentialTest, canary, stable Evaluator, opts ...Option) (*ErrorSplit, error) {
	if test == nil || canary == nil || stable == nil {
		return nil, fmt.Errorf("%w: error split needs a test and both counters", ErrInvalidSequential)
	}
	read := func(ctx context.Context) (Measurement, Measurement) {
		return settle(canary.Evaluate(ctx)), settle(stable.Evaluate(ctx))
	}
	return &ErrorSplit{test: test, read: read, clock: buildOptions(0, opts).clock}, nil
}

// Keys of the two counters in the Values of the one measurement an
// [ErrorSplit] made by [NewErrorSplitOf] reads.
const (
	CanaryErrorsKey = "canary"
	StableErrorsKey = "stable"
)

// NewErrorSplitOf returns an ErrorSplit that reads both counters from
// one measurement of both: Values[CanaryErrorsKey] and
// Values[StableErrorsKey] of what both returns (for example one PromQL
// query summing the errors by track, or one scrape). Read at one
// instant, the two increments cover the same interval exactly; two
// evaluators read one after the other ([NewErrorSplit]) count the
// traffic between the two reads on one side only, which matters where
// reads are slow against the traffic. A measurement without a key has no
// data (Inconclusive). Options and errors as [NewErrorSplit].
func NewErrorSplitOf(test *SequentialTest, both Evaluator, opts ...Option) (*ErrorSplit, error) {
	if test == nil || both == nil {
		return nil, fmt.Errorf("%w: error split needs a test and a counter of both tracks", ErrInvalidSequential)
	}
	read := func(ctx context.Context) (Measurement, Measurement) {
		m := settle(both.Evaluate(ctx))
		c, s := m, m
		c.Value, s.Value = math.NaN(), math.NaN()
		if v, ok := m.Values[CanaryErrorsKey]; ok {
			c.Value = v
		}
		if v, ok := m.Values[StableErrorsKey]; ok {
			s.Value = v
		}
		return c, s
	}
	return &ErrorSplit{test: test, read: read, clock: buildOptions(0, opts).clock}, nil
}

// maxErrorCount bounds a counter reading and the test's totals: beyond
// 2^53 a float64 no longer counts errors one by one, and an int total
// could overflow.
const maxErrorCount = 1 << 53

// ErrBadCounter is wrapped by the Err of an [Error] measurement from an
// [ErrorSplit] whose counter reading cannot be an error count: infinite,
// negative, an increment that would overflow the totals, or a reading the
// counter's evaluator did not report Successful.
var ErrBadCounter = errors.New("bad error counter reading")

// Evaluate reads both counters and advances the test.
func (e *ErrorSplit) Evaluate(ctx context.Context) Measurement {
	t := e.clock.Now()
	if err := ctx.Err(); err != nil {
		return errorMeasurement(t, fmt.Errorf("error split: %w", err))
	}
	// Read under the lock so concurrent calls observe the counters in one
	// order: an older reading after a newer one would pass for a counter
	// reset and count the whole counter as new errors.
	e.mu.Lock()
	defer e.mu.Unlock()
	c, s := e.read(ctx)
	for _, r := range []struct {
		name string
		m    Measurement
	}{{"canary", c}, {"stable", s}} {
		switch {
		case r.m.Phase == Error:
			return errorMeasurement(t, fmt.Errorf("error split: %s errors: %w", r.name, r.m.Err))
		case r.m.Phase == Inconclusive || math.IsNaN(r.m.Value):
			return noData(t, "error split: "+r.name+" errors")
		case r.m.Phase != Successful:
			return errorMeasurement(t, fmt.Errorf("error split: %s errors: %w: phase %s (%s)", r.name, ErrBadCounter, r.m.Phase, r.m.Message))
		case math.IsInf(r.m.Value, 0) || r.m.Value < 0 || r.m.Value > maxErrorCount:
			return errorMeasurement(t, fmt.Errorf("error split: %s errors: %w: %g is not an error count", r.name, ErrBadCounter, r.m.Value))
		}
	}
	if !e.started {
		e.lastCanary, e.lastStab, e.started = c.Value, s.Value, true
		st := e.test.State()
		return e.measurement(t, st, "starting point taken")
	}
	inc := func(now, last float64) float64 {
		if d := now - last; d >= 0 {
			return math.Round(d)
		}
		return math.Round(now) // counter reset: the new value is the increase
	}
	dc, ds := inc(c.Value, e.lastCanary), inc(s.Value, e.lastStab)
	st := e.test.State()
	if float64(st.CanaryErrors)+dc > maxErrorCount || float64(st.StableErrors)+ds > maxErrorCount {
		return errorMeasurement(t, fmt.Errorf("error split: %w: +%g canary, +%g stable errors overflow the totals %d and %d",
			ErrBadCounter, dc, ds, st.CanaryErrors, st.StableErrors))
	}
	e.lastCanary, e.lastStab = c.Value, s.Value
	e.test.Observe(int(dc), int(ds))
	return e.measurement(t, e.test.State(), fmt.Sprintf("+%d canary, +%d stable errors", int(dc), int(ds)))
}

func (e *ErrorSplit) measurement(t time.Time, st SequentialState, note string) Measurement {
	m := Measurement{Time: t, Value: st.LogRatioWorse, Values: map[string]float64{
		"canary_errors": float64(st.CanaryErrors), "stable_errors": float64(st.StableErrors),
		"log_ratio_worse": st.LogRatioWorse, "log_ratio_no_worse": st.LogRatioNoWorse,
	}}
	// The counts alone read wrong ("50 canary vs 50 stable errors" is
	// worse when the canary serves a fifth of the traffic): say the share.
	counts := fmt.Sprintf("%d canary vs %d stable errors, the canary serving %.3g%% of the traffic",
		st.CanaryErrors, st.StableErrors, 100*e.test.cfg.CanaryShare)
	switch st.Phase {
	case Failed:
		m.Phase = Failed
		m.Message = "error split: canary worse (" + counts + ")"
	case Successful:
		m.Phase = Successful
		m.Message = "error split: canary no worse (" + counts + ")"
	default:
		m.Phase = Successful
		m.Message = fmt.Sprintf("error split: no evidence of harm yet, %s (%s)", note, counts)
	}
	return m
}
