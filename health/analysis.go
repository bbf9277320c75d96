package health

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrInvalidAnalysis is returned (wrapped) by [Runner.Run] when the
// analysis is not well formed: no metrics, a metric without a name or
// evaluator, a duplicate name, or a negative interval, delay or count.
var ErrInvalidAnalysis = errors.New("invalid analysis")

// ErrAnalysisCancelled is wrapped by the Err of a [RunResult] whose
// context was cancelled before the run decided; the Err also wraps the
// context's error.
var ErrAnalysisCancelled = errors.New("analysis cancelled")

// Condition judges one measurement; see [Below], [Above], [Between].
type Condition func(m Measurement) bool

// Below holds when the value is strictly below x.
func Below(x float64) Condition { return func(m Measurement) bool { return m.Value < x } }

// Above holds when the value is strictly above x.
func Above(x float64) Condition { return func(m Measurement) bool { return m.Value > x } }

// AtMost holds when the value is at most x.
func AtMost(x float64) Condition { return func(m Measurement) bool { return m.Value <= x } }

// AtLeast holds when the value is at least x.
func AtLeast(x float64) Condition { return func(m Measurement) bool { return m.Value >= x } }

// Between holds when lo ≤ value ≤ hi.
func Between(lo, hi float64) Condition {
	return func(m Measurement) bool { return m.Value >= lo && m.Value <= hi }
}

// Limit returns a pointer to n, for [Metric.ConsecutiveErrorLimit].
func Limit(n int) *int { return &n }

// DefaultConsecutiveErrorLimit is the consecutive-error limit of a metric
// that does not set one, as in Argo Rollouts.
const DefaultConsecutiveErrorLimit = 4

// Metric is one named measurement series of an [Analysis]. Its zero
// values are Argo Rollouts' defaults.
type Metric struct {
	// Name identifies the metric in the record; required and unique.
	Name string
	// Evaluator takes each measurement; required.
	Evaluator Evaluator
	// InitialDelay postpones the first measurement.
	InitialDelay time.Duration
	// Interval separates measurements. Zero means measure once.
	Interval time.Duration
	// Count is the number of measurements after which the metric is
	// Successful (unless a limit decided earlier). Zero means 1 when
	// Interval is zero, and unbounded otherwise: such a metric runs until
	// the analysis ends (Analysis.Duration) or another metric decides.
	Count int
	// SuccessCondition and FailureCondition classify a measurement that
	// has a value; see the package documentation for the table.
	SuccessCondition, FailureCondition Condition
	// FailureLimit is how many Failed measurements are tolerated; the
	// metric fails on one more. Default 0; negative disables the limit.
	FailureLimit int
	// InconclusiveLimit is how many Inconclusive measurements are
	// tolerated; default 0; negative disables the limit.
	InconclusiveLimit int
	// ConsecutiveErrorLimit is how many consecutive Error measurements are
	// tolerated; nil means [DefaultConsecutiveErrorLimit], Limit(0) fails
	// on the first error.
	ConsecutiveErrorLimit *int
	// ConsecutiveSuccessLimit, when positive, makes the metric Successful
	// as soon as that many consecutive measurements succeed, and
	// Inconclusive if Count is reached without it.
	ConsecutiveSuccessLimit int
	// NoData is the phase given to a measurement without data (an
	// Inconclusive measurement from the evaluator, or a NaN value).
	// Default Inconclusive; Failed, Successful or Error are allowed.
	NoData Phase
	// DryRun records the metric's measurements and phase but never lets
	// it decide the run.
	DryRun bool
}

// Analysis is the per-call input of [Runner.Run].
type Analysis struct {
	// Metrics are evaluated concurrently on their own schedules.
	Metrics []Metric
	// Duration, when positive, ends the run after that long: metrics still
	// running without a count are then Successful (Argo Rollouts'
	// termination of a background analysis) and metrics with a count not
	// yet reached are Inconclusive.
	Duration time.Duration
}

// MetricResult is the record of one metric.
type MetricResult struct {
	Name         string
	DryRun       bool
	Phase        Phase
	Message      string
	Count        int
	Successful   int
	Failed       int
	Inconclusive int
	Error        int
	// ConsecutiveError and ConsecutiveSuccess are the current streaks.
	ConsecutiveError   int
	ConsecutiveSuccess int
	// Measurements is every measurement in order, each with the phase the
	// metric's conditions gave it.
	Measurements []Measurement
}

// RunResult is the full record of an analysis run: the evidence a
// rollback can cite.
type RunResult struct {
	Phase    Phase
	Message  string
	Started  time.Time
	Finished time.Time
	Metrics  []MetricResult
	// Err is set when the run was cancelled; it wraps
	// [ErrAnalysisCancelled] and the context's error.
	Err error
}

// Metric returns the result of the named metric, or nil.
func (r *RunResult) Metric(name string) *MetricResult {
	for i := range r.Metrics {
		if r.Metrics[i].Name == name {
			return &r.Metrics[i]
		}
	}
	return nil
}

// Runner runs analyses. It is safe for concurrent use.
type Runner struct {
	o            options
	measurements *prometheus.CounterVec
	runs         *prometheus.CounterVec
}

// NewRunner returns a Runner. It honours [WithClock] and [WithAfter]
// (defaults time.Now and time.After; tests drive a run with a fake clock),
// [WithLogger] (default discard) and [WithRegisterer] (default nil). When
// registered it exports flightdeck_analysis_measurements_total{phase} and
// flightdeck_analysis_runs_total{phase}.
func NewRunner(opts ...Option) (*Runner, error) {
	o := buildOptions(0, opts)
	r := &Runner{
		o: o,
		measurements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flightdeck_analysis_measurements_total",
			Help: "Measurements taken by analysis runs, by measurement phase.",
		}, []string{"phase"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flightdeck_analysis_runs_total",
			Help: "Analysis runs finished, by run phase.",
		}, []string{"phase"}),
	}
	if o.registerer != nil {
		for _, c := range []prometheus.Collector{r.measurements, r.runs} {
			if err := o.registerer.Register(c); err != nil {
				return nil, fmt.Errorf("registering analysis metrics: %w", err)
			}
		}
	}
	return r, nil
}

func validate(a Analysis) error {
	if len(a.Metrics) == 0 {
		return fmt.Errorf("%w: no metrics", ErrInvalidAnalysis)
	}
	seen := map[string]bool{}
	var errs []error
	for i, m := range a.Metrics {
		switch {
		case m.Name == "":
			errs = append(errs, fmt.Errorf("%w: metric %d has no name", ErrInvalidAnalysis, i))
		case seen[m.Name]:
			errs = append(errs, fmt.Errorf("%w: metric %q is defined twice", ErrInvalidAnalysis, m.Name))
		}
		seen[m.Name] = true
		if m.Evaluator == nil {
			errs = append(errs, fmt.Errorf("%w: metric %q has no evaluator", ErrInvalidAnalysis, m.Name))
		}
		if m.Interval < 0 || m.InitialDelay < 0 || m.Count < 0 {
			errs = append(errs, fmt.Errorf("%w: metric %q has a negative interval, delay or count", ErrInvalidAnalysis, m.Name))
		}
		if m.Count > 1 && m.Interval == 0 {
			errs = append(errs, fmt.Errorf("%w: metric %q has count %d but no interval", ErrInvalidAnalysis, m.Name, m.Count))
		}
		switch m.NoData {
		case "", Inconclusive, Failed, Successful, Error:
		default:
			errs = append(errs, fmt.Errorf("%w: metric %q: NoData phase %q", ErrInvalidAnalysis, m.Name, m.NoData))
		}
	}
	if a.Duration < 0 {
		errs = append(errs, fmt.Errorf("%w: negative duration", ErrInvalidAnalysis))
	}
	return errors.Join(errs...)
}

// classify gives a measurement its phase under the metric's conditions.
// See the decision table in the package documentation.
func classify(m Metric, meas Measurement) Measurement {
	noData := m.NoData
	if noData == "" {
		noData = Inconclusive
	}
	switch {
	case meas.Phase == Error:
		return meas
	case meas.Phase == Running || meas.Phase == "":
		// Not a verdict: record it as undecided rather than let it count.
		meas.Phase = Inconclusive
		return meas
	case meas.Phase == Inconclusive || (meas.Phase == Successful && math.IsNaN(meas.Value) && len(meas.Values) == 0):
		meas.Phase = noData
		if noData == Error && meas.Err == nil {
			meas.Err = ErrNoData
		}
		return meas
	case m.SuccessCondition == nil && m.FailureCondition == nil:
		return meas // no condition: the evaluator's own verdict stands
	case meas.Phase == Failed && m.FailureCondition == nil:
		return meas // a judging evaluator said Failed; a success condition cannot overrule it
	}
	var succ, fail bool
	if m.SuccessCondition != nil {
		succ = m.SuccessCondition(meas)
	}
	if m.FailureCondition != nil {
		fail = m.FailureCondition(meas)
	}
	switch {
	case m.FailureCondition == nil:
		fail = !succ
	case m.SuccessCondition == nil:
		succ = !fail
	}
	switch {
	case fail:
		meas.Phase = Failed
	case succ:
		meas.Phase = Successful
	default:
		meas.Phase = Inconclusive
	}
	return meas
}

type metricState struct {
	spec   Metric
	res    MetricResult
	nextAt time.Time
	done   bool
}

func (s *metricState) effectiveCount() int {
	if s.spec.Count > 0 {
		return s.spec.Count
	}
	if s.spec.Interval == 0 {
		return 1
	}
	return 0 // unbounded
}

// record adds a classified measurement and re-assesses the metric.
func (s *metricState) record(meas Measurement) {
	r := &s.res
	r.Measurements = append(r.Measurements, meas)
	r.Count++
	switch meas.Phase {
	case Successful:
		r.Successful++
		r.ConsecutiveSuccess++
		r.ConsecutiveError = 0
	case Failed:
		r.Failed++
		r.ConsecutiveSuccess, r.ConsecutiveError = 0, 0
	case Inconclusive:
		r.Inconclusive++
		r.ConsecutiveSuccess, r.ConsecutiveError = 0, 0
	case Error:
		r.Error++
		r.ConsecutiveError++
		r.ConsecutiveSuccess = 0
	}
	s.assess()
}

// assess applies the per-metric decision table, first matching row wins.
func (s *metricState) assess() {
	r, m := &s.res, s.spec
	errLimit := DefaultConsecutiveErrorLimit
	if m.ConsecutiveErrorLimit != nil {
		errLimit = *m.ConsecutiveErrorLimit
	}
	count := s.effectiveCount()
	decide := func(p Phase, format string, args ...any) {
		r.Phase, r.Message, s.done = p, fmt.Sprintf(format, args...), true
	}
	switch {
	case m.FailureLimit >= 0 && r.Failed > m.FailureLimit:
		decide(Failed, "%d failed measurements exceed the failure limit %d", r.Failed, m.FailureLimit)
	case m.InconclusiveLimit >= 0 && r.Inconclusive > m.InconclusiveLimit:
		decide(Inconclusive, "%d inconclusive measurements exceed the inconclusive limit %d", r.Inconclusive, m.InconclusiveLimit)
	case r.ConsecutiveError > errLimit:
		decide(Error, "%d consecutive errors exceed the limit %d: %s", r.ConsecutiveError, errLimit, lastMessage(r))
	case m.ConsecutiveSuccessLimit > 0 && r.ConsecutiveSuccess >= m.ConsecutiveSuccessLimit:
		decide(Successful, "%d consecutive successful measurements reach the limit", r.ConsecutiveSuccess)
	case count > 0 && r.Count >= count && m.ConsecutiveSuccessLimit > 0:
		decide(Inconclusive, "count %d reached without %d consecutive successes", count, m.ConsecutiveSuccessLimit)
	case count > 0 && r.Count >= count:
		decide(Successful, "%d measurements within limits", r.Count)
	default:
		r.Phase = Running
	}
}

// terminate ends a metric that has not decided when the run ends.
func (s *metricState) terminate(reason string) {
	if s.done {
		return
	}
	s.done = true
	if s.effectiveCount() == 0 && s.res.Count > 0 {
		s.res.Phase, s.res.Message = Successful, fmt.Sprintf("%s after %d measurements within limits", reason, s.res.Count)
		return
	}
	s.res.Phase, s.res.Message = Inconclusive, fmt.Sprintf("%s after %d measurements, before the metric decided", reason, s.res.Count)
}

func lastMessage(r *MetricResult) string {
	if n := len(r.Measurements); n > 0 {
		return r.Measurements[n-1].Message
	}
	return ""
}

// Run executes the analysis and returns its full record. It returns an
// error wrapping [ErrInvalidAnalysis] (and no record) when the analysis is
// malformed. Otherwise it measures each metric on its schedule until every
// metric has decided, a deciding metric ends the run early (the run phase
// is then the worst decided phase), Analysis.Duration passes, or ctx is
// done. On cancellation it returns promptly with the record so far, phase
// [Error] and Err wrapping [ErrAnalysisCancelled] and ctx.Err(): a
// cancelled analysis never reads as a success. It does not wait for an
// evaluator that ignores ctx; that measurement is dropped.
func (r *Runner) Run(ctx context.Context, a Analysis) (RunResult, error) {
	if err := validate(a); err != nil {
		return RunResult{}, err
	}
	start := r.o.now()
	states := make([]*metricState, len(a.Metrics))
	for i, m := range a.Metrics {
		states[i] = &metricState{spec: m, nextAt: start.Add(m.InitialDelay),
			res: MetricResult{Name: m.Name, DryRun: m.DryRun, Phase: Running}}
	}
	var deadline time.Time
	if a.Duration > 0 {
		deadline = start.Add(a.Duration)
	}
	result := func(p Phase, msg string, err error) (RunResult, error) {
		rr := RunResult{Phase: p, Message: msg, Started: start, Finished: r.o.now(), Err: err}
		for _, s := range states {
			rr.Metrics = append(rr.Metrics, s.res)
		}
		r.runs.WithLabelValues(string(p)).Inc()
		r.o.logger.Info("analysis finished", "phase", p, "message", msg)
		return rr, nil
	}
	for {
		if p, msg, over := runPhase(states); over {
			for _, s := range states {
				s.terminate("run ended")
			}
			return result(p, msg, nil)
		}
		// Wait for the earliest due metric, the deadline, or cancellation.
		next := time.Time{}
		for _, s := range states {
			if !s.done && (next.IsZero() || s.nextAt.Before(next)) {
				next = s.nextAt
			}
		}
		if !deadline.IsZero() && !deadline.After(next) {
			next = deadline
		}
		if wait := next.Sub(r.o.now()); wait > 0 {
			select {
			case <-ctx.Done():
				return r.cancelled(ctx, result)
			case <-r.o.after(wait):
			}
		}
		if ctx.Err() != nil {
			return r.cancelled(ctx, result)
		}
		now := r.o.now()
		if !deadline.IsZero() && !now.Before(deadline) {
			for _, s := range states {
				s.terminate("analysis duration reached")
			}
			p, msg, _ := runPhase(states)
			return result(p, msg, nil)
		}
		var due []*metricState
		for _, s := range states {
			if !s.done && !s.nextAt.After(now) {
				due = append(due, s)
			}
		}
		ms := make([]Measurement, len(due))
		var wg sync.WaitGroup
		for i, s := range due {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ms[i] = s.spec.Evaluator.Evaluate(ctx)
			}()
		}
		measured := make(chan struct{})
		go func() {
			wg.Wait()
			close(measured)
		}()
		select {
		case <-measured:
		case <-ctx.Done():
			// An evaluator that ignores ctx must not hold the run: return
			// now; its late measurement lands in ms, which nothing reads.
			return r.cancelled(ctx, result)
		}
		if ctx.Err() != nil {
			return r.cancelled(ctx, result) // measurements cut short by cancellation are not evidence
		}
		for i, s := range due {
			meas := classify(s.spec, ms[i])
			r.measurements.WithLabelValues(string(meas.Phase)).Inc()
			r.o.logger.Debug("measurement", "metric", s.spec.Name, "phase", meas.Phase, "value", meas.Value)
			s.record(meas)
			s.nextAt = now.Add(s.spec.Interval)
		}
	}
}

func (r *Runner) cancelled(ctx context.Context, result func(Phase, string, error) (RunResult, error)) (RunResult, error) {
	err := fmt.Errorf("%w: %w", ErrAnalysisCancelled, context.Cause(ctx))
	if !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return result(Error, err.Error(), err)
}

// runPhase applies the run-level decision: a decided non-dry-run metric
// in Failed, Error or Inconclusive ends the run with the worst such phase;
// the run is Successful when every non-dry-run metric is Successful.
func runPhase(states []*metricState) (Phase, string, bool) {
	worst := Successful
	var bad []string
	allDone := true
	deciding := 0
	for _, s := range states {
		if s.spec.DryRun {
			continue
		}
		deciding++
		if !s.done {
			allDone = false
			continue
		}
		if s.res.Phase != Successful {
			worst = WorsePhase(worst, s.res.Phase)
			bad = append(bad, fmt.Sprintf("%s %s: %s", s.res.Name, s.res.Phase, s.res.Message))
		}
	}
	sort.Strings(bad)
	switch {
	case deciding == 0:
		return Successful, "only dry-run metrics: nothing decides", allMetricsDone(states)
	case worst != Successful:
		return worst, strings.Join(bad, "; "), true
	case allDone:
		return Successful, fmt.Sprintf("all %d metrics successful", deciding), true
	}
	return Running, "", false
}

func allMetricsDone(states []*metricState) bool {
	for _, s := range states {
		if !s.done {
			return false
		}
	}
	return true
}
