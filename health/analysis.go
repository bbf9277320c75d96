package health

import (
	"context"
	"errors"
	"fmt"
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

// DefaultErrorRetryInterval is how long a metric waits after an Error
// measurement before measuring again when it does not set
// Metric.ErrorRetryInterval: 10s, Argo Rollouts' DefaultErrorRetryInterval.
const DefaultErrorRetryInterval = 10 * time.Second

// Metric is one named measurement series of an [Analysis]. Its zero
// values are Argo Rollouts' defaults.
type Metric struct {
	// Name identifies the metric in the record; required and unique.
	Name string
	// Evaluator takes each measurement; required.
	Evaluator Evaluator
	// InitialDelay postpones the first measurement.
	InitialDelay time.Duration
	// Interval separates measurements. Zero means measure once (and
	// again after each Error, see ErrorRetryInterval).
	Interval time.Duration
	// Count is the number of measurements that are not errors after which
	// the metric decides (unless a limit decided earlier): Error
	// measurements do not count, as in Argo Rollouts. Zero means 1 when
	// Interval is zero, and unbounded otherwise: such a metric runs until
	// the analysis ends (Analysis.Duration) or another metric decides.
	Count int
	// ErrorRetryInterval is the wait after an Error measurement before the
	// next one, whatever Interval says (also for a metric without an
	// Interval). Zero means [DefaultErrorRetryInterval].
	ErrorRetryInterval time.Duration
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
	// tolerated; one more ends the metric in Error. Nil means
	// [DefaultConsecutiveErrorLimit], Limit(0) ends it on the first error.
	ConsecutiveErrorLimit *int
	// ConsecutiveSuccessLimit, when positive, makes the metric Successful
	// as soon as that many consecutive measurements succeed, and
	// Inconclusive if Count is reached without it.
	ConsecutiveSuccessLimit int
	// NoData is the phase given to a measurement without data (an
	// Inconclusive measurement from the evaluator, or a Successful one
	// without a value). Default Inconclusive; Failed and Error are also
	// allowed. Successful is refused: missing data is never a success (a
	// query that should read "no series" as zero says so itself, as in
	// PromQL's "... or vector(0)").
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
	// running without a count are then Successful if they had a successful
	// measurement (Argo Rollouts' termination of a background analysis),
	// metrics with a count not yet reached are Inconclusive, and a metric
	// without any successful measurement takes the worst phase it
	// measured (Error when every measurement errored), never Successful.
	Duration time.Duration
}

// MetricResult is the record of one metric.
type MetricResult struct {
	// Name and DryRun repeat the metric's.
	Name   string
	DryRun bool
	// Phase is the metric's verdict and Message says why.
	Phase   Phase
	Message string
	// Count is the number of measurements that were not errors:
	// Successful + Failed + Inconclusive, as in Argo Rollouts.
	Count int
	// Successful, Failed, Inconclusive and Error count the measurements
	// of each phase.
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

// NewRunner returns a Runner. It honours [WithClock] (default the system
// clock; tests drive a run with clocktest.Clock),
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
		if m.Interval < 0 || m.InitialDelay < 0 || m.Count < 0 || m.ErrorRetryInterval < 0 {
			errs = append(errs, fmt.Errorf("%w: metric %q has a negative interval, delay, error retry interval or count", ErrInvalidAnalysis, m.Name))
		}
		if m.Count > 1 && m.Interval == 0 {
			errs = append(errs, fmt.Errorf("%w: metric %q has count %d but no interval", ErrInvalidAnalysis, m.Name, m.Count))
		}
		switch m.NoData {
		case "", Inconclusive, Failed, Error:
		case Successful:
			errs = append(errs, fmt.Errorf("%w: metric %q: NoData phase Successful would read missing data as a success; "+
				"make the evaluator return a value instead (PromQL: \"... or vector(0)\")", ErrInvalidAnalysis, m.Name))
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
// See the decision table in the package documentation. A condition only
// ever sees a measurement the evaluator reported Successful with a value;
// it can confirm or withdraw that success but never turn another phase
// into one.
func classify(m Metric, meas Measurement) Measurement {
	noData := m.NoData
	if noData == "" {
		noData = Inconclusive
	}
	meas = settle(meas) // a Successful without a value is now Inconclusive
	switch meas.Phase {
	case Error, Failed:
		return meas // an error stays one; a judging evaluator's Failed is never overruled
	case Running:
		// Not a verdict: record it as undecided rather than let it count.
		meas.Phase = Inconclusive
		return meas
	case Inconclusive:
		meas.Phase = noData
		if noData == Error && meas.Err == nil {
			meas.Err = ErrNoData
		}
		return meas
	}
	// Successful with a value (a number, ±Inf included, or Values).
	if m.SuccessCondition == nil && m.FailureCondition == nil {
		return meas // no condition: the evaluator's own verdict stands
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

// record adds a classified measurement and re-assesses the metric. An
// Error measurement does not count toward Count (Argo Rollouts).
func (s *metricState) record(meas Measurement) {
	r := &s.res
	r.Measurements = append(r.Measurements, meas)
	switch meas.Phase {
	case Successful:
		r.Count++
		r.Successful++
		r.ConsecutiveSuccess++
		r.ConsecutiveError = 0
	case Failed:
		r.Count++
		r.Failed++
		r.ConsecutiveSuccess, r.ConsecutiveError = 0, 0
	case Inconclusive:
		r.Count++
		r.Inconclusive++
		r.ConsecutiveSuccess, r.ConsecutiveError = 0, 0
	case Error:
		r.Error++
		r.ConsecutiveError++
		r.ConsecutiveSuccess = 0
	}
	s.assess()
}

// wait returns how long after meas the metric measures again: the error
// retry interval after an error, else its interval.
func (s *metricState) wait(meas Measurement) time.Duration {
	if meas.Phase != Error {
		return s.spec.Interval
	}
	if s.spec.ErrorRetryInterval > 0 {
		return s.spec.ErrorRetryInterval
	}
	return DefaultErrorRetryInterval
}

// exceed returns "1 <noun> exceeds" or "<n> <noun>s exceed".
func exceed(n int, noun string) string { return counted(n, noun, "exceeds", "exceed") }

// counted returns n and noun, plural unless n is 1, followed by the verb
// that agrees with it (none when both are empty): "1 measurement",
// "2 failed measurements exceed".
func counted(n int, noun, one, many string) string {
	s := fmt.Sprintf("%d %s", n, noun)
	verb := one
	if n != 1 {
		s, verb = s+"s", many
	}
	if verb != "" {
		s += " " + verb
	}
	return s
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
		decide(Failed, "%s the failure limit %d: %s", exceed(r.Failed, "failed measurement"), m.FailureLimit, lastMessage(r))
	case m.InconclusiveLimit >= 0 && r.Inconclusive > m.InconclusiveLimit:
		decide(Inconclusive, "%s the inconclusive limit %d: %s", exceed(r.Inconclusive, "inconclusive measurement"), m.InconclusiveLimit, lastMessage(r))
	case r.ConsecutiveError > errLimit:
		decide(Error, "%s the limit %d: %s", exceed(r.ConsecutiveError, "consecutive error"), errLimit, lastMessage(r))
	case m.ConsecutiveSuccessLimit > 0 && r.ConsecutiveSuccess >= m.ConsecutiveSuccessLimit:
		decide(Successful, "%s the limit", counted(r.ConsecutiveSuccess, "consecutive successful measurement", "reaches", "reach"))
	case count > 0 && r.Count >= count && m.ConsecutiveSuccessLimit > 0:
		decide(Inconclusive, "count %d reached without %d consecutive successes", count, m.ConsecutiveSuccessLimit)
	case count > 0 && r.Count >= count && r.Successful == 0:
		decide(worstMeasured(r), "count %d reached without a successful measurement (%s)", count, tally(r))
	case count > 0 && r.Count >= count:
		decide(Successful, "%s within limits (%s)", counted(r.Count, "measurement", "", ""), tally(r))
	default:
		r.Phase = Running
	}
}

// worstMeasured is the verdict of a metric that has nothing successful to
// show: the worst phase it measured (Failed > Error > Inconclusive), or
// Inconclusive when it measured nothing.
func worstMeasured(r *MetricResult) Phase {
	switch {
	case r.Failed > 0:
		return Failed
	case r.Error > 0:
		return Error
	}
	return Inconclusive
}

func tally(r *MetricResult) string {
	return fmt.Sprintf("%d successful, %d failed, %d inconclusive, %d errors", r.Successful, r.Failed, r.Inconclusive, r.Error)
}

// terminate ends a metric that has not decided when the run ends.
func (s *metricState) terminate(reason string) {
	if s.done {
		return
	}
	s.done = true
	r := &s.res
	switch {
	case len(r.Measurements) == 0:
		r.Phase, r.Message = Inconclusive, reason+" before the first measurement"
	case r.Successful == 0:
		// A background metric whose every measurement errored is an
		// Error, not a success (Argo Rollouts would say Successful).
		r.Phase, r.Message = worstMeasured(r), fmt.Sprintf("%s without a successful measurement (%s)", reason, tally(r))
	case s.effectiveCount() == 0:
		r.Phase, r.Message = Successful, fmt.Sprintf("%s after %d measurements within limits (%s)", reason, r.Count, tally(r))
	default:
		r.Phase, r.Message = Inconclusive, fmt.Sprintf("%s after %d of %d measurements, before the metric decided", reason, r.Count, s.effectiveCount())
	}
}

// lastMessage is the message of the metric's last measurement: what the
// evidence said when the metric decided.
func lastMessage(r *MetricResult) string {
	if n := len(r.Measurements); n > 0 && r.Measurements[n-1].Message != "" {
		return r.Measurements[n-1].Message
	}
	return "no message"
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
	start := r.o.clock.Now()
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
		rr := RunResult{Phase: p, Message: msg, Started: start, Finished: r.o.clock.Now(), Err: err}
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
		if wait := next.Sub(r.o.clock.Now()); wait > 0 {
			select {
			case <-ctx.Done():
				return r.cancelled(ctx, result)
			case <-r.o.clock.After(wait):
			}
		}
		if ctx.Err() != nil {
			return r.cancelled(ctx, result)
		}
		now := r.o.clock.Now()
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
			s.nextAt = now.Add(s.wait(meas))
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
