package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flightdeck-dev/flightdeck/clock"
)

// Defaults of [New].
const (
	// DefaultParallelism is how many steps run at once when
	// [WithParallelism] is not given.
	DefaultParallelism = 4
	// DefaultFinallyTimeout bounds the finally steps of a run when
	// [WithFinallyTimeout] is not given.
	DefaultFinallyTimeout = 5 * time.Minute
)

// Option configures an [Engine].
type Option func(*options)

type options struct {
	parallelism    int
	finallyTimeout time.Duration
	logger         *slog.Logger
	registerer     prometheus.Registerer
	observers      []Observer
	clock          clock.Clock
}

// WithParallelism sets how many steps may run at once; n below 1 means 1.
// Default [DefaultParallelism].
func WithParallelism(n int) Option {
	return func(o *options) {
		if n < 1 {
			n = 1
		}
		o.parallelism = n
	}
}

// WithFinallyTimeout sets the deadline of the finally phase, counted from
// its start on the engine's clock; zero or less keeps the default
// [DefaultFinallyTimeout]. The run's own context deadline does not apply
// to finally steps.
func WithFinallyTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.finallyTimeout = d
		}
	}
}

// WithLogger sets the logger. Step starts and ends are logged at debug
// level, failed attempts at info and failed steps at warn. Default: logs
// are discarded.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithRegisterer registers the engine's metrics with r:
// flightdeck_stage_duration_seconds (histogram, labels stage and result)
// and flightdeck_stage_attempts_total (counter, labels stage and result).
// The stage label is the step name, so step names should come from the
// graph's definition, never from run data. If the collectors are already
// registered with r (by another engine), those are shared. Default: nil,
// no metrics.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(o *options) { o.registerer = r }
}

// WithObserver adds observers that receive every step event. Default:
// none.
func WithObserver(obs ...Observer) Option {
	return func(o *options) {
		for _, ob := range obs {
			if ob != nil {
				o.observers = append(o.observers, ob)
			}
		}
	}
}

// WithClock sets the clock that times steps, stamps events, waits out
// retry backoff and measures each attempt's Timeout and the finally
// phase's deadline ([WithFinallyTimeout]). A drivable clock
// (clocktest.Clock) thus drives a whole run, timeouts included: an attempt
// whose Timeout passes on it sees its context end with
// [context.DeadlineExceeded]. Default (and nil): the system clock.
func WithClock(c clock.Clock) Option {
	return func(o *options) { o.clock = clock.Or(c) }
}

// Engine runs [Graph]s. It holds configuration only, so one engine may run
// many graphs, also concurrently.
type Engine struct {
	opts    options
	metrics *metrics
}

// New returns an engine configured by opts. It fails only when the
// metrics cannot be registered with the given Registerer.
func New(opts ...Option) (*Engine, error) {
	o := options{
		parallelism:    DefaultParallelism,
		finallyTimeout: DefaultFinallyTimeout,
		logger:         slog.New(slog.DiscardHandler),
		clock:          clock.System(),
	}
	for _, opt := range opts {
		opt(&o)
	}
	e := &Engine{opts: o}
	if o.registerer != nil {
		m, err := newMetrics(o.registerer)
		if err != nil {
			return nil, err
		}
		e.metrics = m
	}
	return e, nil
}

// Run runs g with st as its state (nil means a fresh one) and returns the
// report. Main steps run in dependency order, up to the parallelism limit
// at once; then the finally steps run. The returned error joins every
// failed or canceled step's [*StepError], when the context ended before
// some steps could start the context's error, and one error per observer
// that panicked (wrapping [ErrPanic]); it is nil when every step succeeded
// or was skipped by a condition and no observer panicked. The report is
// complete even when the error is not nil.
//
// When ctx ends, running stages see their contexts end, steps waiting to
// retry stop waiting, no further main steps start (they are reported as
// skipped, naming the context's error), and the finally steps still run.
// Run returns only after every stage it started has returned. A nil graph
// returns [ErrNilGraph] and an empty report.
func (e *Engine) Run(ctx context.Context, g *Graph, st *State) (*Report, error) {
	if g == nil {
		return &Report{}, ErrNilGraph
	}
	if st == nil {
		st = &State{}
	}
	r := &run{e: e, g: g, st: st, reports: make([]StepReport, len(g.nodes)), metrics: e.metrics.forGraph(g),
		obsBroken: make([]atomic.Bool, len(e.opts.observers))}
	start := e.opts.clock.Now()
	for i, n := range g.nodes {
		r.reports[i] = StepReport{Name: n.name, Finally: n.finally, Status: Pending}
	}
	abandoned := r.phase(ctx, 0, g.mainLen)
	var runErr error
	if abandoned > 0 {
		runErr = fmt.Errorf("pipeline: %d step(s) not started: %w", abandoned, context.Cause(ctx))
	}
	if g.mainLen < len(g.nodes) {
		fctx, cancel := withTimeout(context.WithoutCancel(ctx), e.opts.clock, e.opts.finallyTimeout)
		fab := r.phase(fctx, g.mainLen, len(g.nodes))
		if fab > 0 {
			runErr = errors.Join(runErr, fmt.Errorf("pipeline: %d finally step(s) not started: %w", fab, context.Cause(fctx)))
		}
		cancel()
	}
	rep := &Report{Steps: r.reports, Start: start, Duration: e.opts.clock.Now().Sub(start)}
	r.mu.Lock()
	obsErr := errors.Join(r.obsErrs...)
	r.mu.Unlock()
	return rep, errors.Join(rep.Err(), runErr, obsErr)
}

// run is the state of one Engine.Run.
type run struct {
	e       *Engine
	g       *Graph
	st      *State
	reports []StepReport   // reports[i] is written by step i's goroutine, read after it reports done
	metrics []*stepMetrics // metrics[i] records step i; nil without metrics

	obsBroken []atomic.Bool // obsBroken[i]: observer i panicked and gets no more events
	mu        sync.Mutex
	obsErrs   []error // one per observer that panicked
}

// phase runs steps [lo, hi) of the graph and returns how many were not
// started because ctx ended.
func (r *run) phase(ctx context.Context, lo, hi int) (abandoned int) {
	nodes := r.g.nodes
	indeg := make([]int, hi-lo)
	ready := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		indeg[i-lo] = len(nodes[i].deps)
		if indeg[i-lo] == 0 {
			ready = append(ready, i)
		}
	}
	limit := r.e.opts.parallelism
	done := make(chan int, limit)
	var jobs chan int // worker pool, started on first use when limit > 1
	running := 0
	stopped := ""
	release := func(i int) {
		for _, d := range nodes[i].dependents {
			indeg[d-lo]--
			if indeg[d-lo] == 0 {
				ready = append(ready, d)
			}
		}
	}
	head := 0
	for {
		for running < limit && head < len(ready) {
			i := ready[head]
			head++
			switch {
			case stopped != "":
				r.skip(i, stopped)
				release(i)
			case ctx.Err() != nil:
				r.skip(i, "run context ended: "+context.Cause(ctx).Error())
				abandoned++
				release(i)
			default:
				if reason := r.missingNeeds(i); reason != "" {
					r.skip(i, reason)
					release(i)
					continue
				}
				running++
				if limit == 1 {
					// Nothing else may run: skip the goroutine hand-off.
					r.exec(ctx, i)
					done <- i
					continue
				}
				if jobs == nil {
					jobs = make(chan int, limit)
					for range min(limit, hi-lo) {
						go func() {
							for j := range jobs {
								r.exec(ctx, j)
								done <- j
							}
						}()
					}
					defer close(jobs)
				}
				jobs <- i
			}
		}
		if running == 0 {
			return abandoned
		}
		i := <-done
		running--
		if rep := &r.reports[i]; rep.Status != Succeeded && rep.Status != Skipped &&
			!nodes[i].step.ContinueOnError && !nodes[i].finally && stopped == "" {
			stopped = fmt.Sprintf("run stopped: step %q %s", rep.Name, rep.Status)
		}
		release(i)
	}
}

// missingNeeds returns why step i cannot run for lack of a result, or "".
func (r *run) missingNeeds(i int) string {
	for _, nd := range r.g.nodes[i].needs {
		p := &r.reports[nd.producer]
		if p.Status == Succeeded {
			continue
		}
		why := string(p.Status)
		switch p.Status {
		case Skipped:
			why = "was skipped (" + p.SkipReason + ")"
		case Pending:
			why = "did not run"
		}
		return fmt.Sprintf("needs %q from step %q, which %s", nd.key, p.Name, why)
	}
	return ""
}

func (r *run) skip(i int, reason string) {
	rep := &r.reports[i]
	rep.Status = Skipped
	rep.SkipReason = reason
	r.e.opts.logger.LogAttrs(context.Background(), slog.LevelDebug, "pipeline step skipped",
		slog.String("step", rep.Name), slog.String("reason", reason))
	r.emit(Event{Type: StepSkipped, Step: rep.Name, Finally: rep.Finally, Status: Skipped, Reason: reason})
}

func (r *run) emit(ev Event) {
	obs := r.e.opts.observers
	if len(obs) == 0 {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = r.e.opts.clock.Now()
	}
	for i, o := range obs {
		if r.obsBroken[i].Load() {
			continue
		}
		if err := callObserver(o, ev); err != nil {
			// An observer that panicked may be in any state: it gets no
			// further events of this run, and the run reports it.
			r.obsBroken[i].Store(true)
			r.logPanic(context.Background(), ev.Step, err)
			r.mu.Lock()
			r.obsErrs = append(r.obsErrs, fmt.Errorf("pipeline: observer %d (%T) on step %q %s event: %w; it received no further events of this run",
				i+1, o, ev.Step, ev.Type, err))
			r.mu.Unlock()
		}
	}
}

// exec runs step i: its condition, then its attempts.
func (r *run) exec(ctx context.Context, i int) {
	n := r.g.nodes[i]
	rep := &r.reports[i]
	log := r.e.opts.logger
	if n.step.When != nil {
		ok, err := callWhen(n.step.When, r.st)
		if err != nil {
			r.logPanic(ctx, n.name, err)
			rep.Status = Failed
			rep.Err = &StepError{Step: n.name, Err: err}
			r.emit(Event{Type: StepFinished, Step: n.name, Finally: n.finally, Status: Failed, Err: rep.Err})
			return
		}
		if !ok {
			r.skip(i, "condition is false")
			return
		}
	}
	clk := r.e.opts.clock
	start := clk.Now()
	rep.Start = start
	log.LogAttrs(ctx, slog.LevelDebug, "pipeline step started", slog.String("step", n.name))
	r.emit(Event{Type: StepStarted, Step: n.name, Finally: n.finally, Time: start, Attempt: 1})
	var err error
	status := Failed
	attempt := 0
	var met *stepMetrics
	if r.metrics != nil {
		met = r.metrics[i]
	}
	for {
		attempt++
		err = r.attempt(ctx, n)
		if err == nil {
			status = Succeeded
			met.attempt("succeeded")
			break
		}
		if ctx.Err() != nil {
			status = Canceled
			met.attempt("canceled")
			break
		}
		if errors.Is(err, ErrAttemptTimeout) {
			met.attempt("timeout")
		} else {
			met.attempt("failed")
		}
		if attempt >= n.step.Retry.Attempts || IsPermanent(err) {
			break
		}
		if n.step.Retry.If != nil {
			retry, perr := callRetryIf(n.step.Retry.If, err)
			if perr != nil {
				r.logPanic(ctx, n.name, perr)
				err = perr
				break
			}
			if !retry {
				break
			}
		}
		wait := n.step.Retry.delay(attempt)
		log.LogAttrs(ctx, slog.LevelInfo, "pipeline step attempt failed",
			slog.String("step", n.name), slog.Int("attempt", attempt),
			slog.Duration("backoff", wait), slog.String("error", err.Error()))
		r.emit(Event{Type: AttemptFailed, Step: n.name, Finally: n.finally, Attempt: attempt, Backoff: wait, Err: err})
		select {
		case <-clk.After(wait):
		case <-ctx.Done():
			err = fmt.Errorf("%w while waiting to retry; last attempt: %w", context.Cause(ctx), err)
			status = Canceled
		}
		if status == Canceled {
			break
		}
	}
	rep.Attempts = attempt
	rep.Status = status
	rep.Duration = clk.Now().Sub(start)
	if err != nil {
		rep.Err = &StepError{Step: n.name, Attempts: attempt, Err: err}
		log.LogAttrs(ctx, slog.LevelWarn, "pipeline step "+string(status),
			slog.String("step", n.name), slog.Int("attempts", attempt), slog.String("error", err.Error()))
	} else {
		log.LogAttrs(ctx, slog.LevelDebug, "pipeline step succeeded",
			slog.String("step", n.name), slog.Int("attempts", attempt))
	}
	met.step(string(status), rep.Duration)
	r.emit(Event{Type: StepFinished, Step: n.name, Finally: n.finally, Attempt: attempt,
		Status: status, Duration: rep.Duration, Err: rep.Err})
}

// attempt runs the stage once under the step's per-attempt timeout.
func (r *run) attempt(ctx context.Context, n *node) error {
	actx, cancel := ctx, context.CancelFunc(nil)
	if n.step.Timeout > 0 {
		actx, cancel = withTimeout(ctx, r.e.opts.clock, n.step.Timeout)
	}
	err := callStage(actx, n.step.Stage, r.st)
	if err != nil {
		r.logPanic(ctx, n.name, err)
	}
	if err == nil {
		for _, k := range n.step.Provides {
			if !r.st.Has(k) {
				err = fmt.Errorf("%w %q; put it in the state before returning nil, or drop it from the step's Provides", ErrMissingResult, k.Name())
				break
			}
		}
	}
	if err != nil && cancel != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w after %s: %w", ErrAttemptTimeout, n.step.Timeout, err)
	}
	if cancel != nil {
		cancel()
	}
	return err
}

func callStage(ctx context.Context, s Stage, st *State) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = newPanicError("stage", p)
		}
	}()
	return s.Run(ctx, st)
}

func callWhen(when func(*State) bool, st *State) (ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = newPanicError("When condition", p)
		}
	}()
	return when(st), nil
}

// callRetryIf asks retryIf about err. A panic becomes the step's error,
// keeping err, the attempt's error it was asked about.
func callRetryIf(retryIf func(error) bool, err error) (retry bool, perr error) {
	defer func() {
		if p := recover(); p != nil {
			pe := newPanicError("Retry.If", p)
			perr = fmt.Errorf("%w; the attempt's error was: %w", pe, err)
		}
	}()
	return retryIf(err), nil
}

func callObserver(o Observer, ev Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = newPanicError("observer", p)
		}
	}()
	o.OnEvent(ev)
	return nil
}

// logPanic logs a recovered panic with its stack at error level.
func (r *run) logPanic(ctx context.Context, step string, err error) {
	var pe *PanicError
	if !errors.As(err, &pe) {
		return
	}
	r.e.opts.logger.LogAttrs(ctx, slog.LevelError, "pipeline recovered a panic",
		slog.String("step", step), slog.String("in", pe.In),
		slog.String("panic", fmt.Sprint(pe.Value)), slog.String("stack", string(pe.Stack)))
}
