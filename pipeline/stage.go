package pipeline

import (
	"context"
	"time"
)

// Stage is one unit of pipeline work: compile, run tests, build an image,
// scan, push, deploy. A stage does its work in Run, reading the inputs it
// needs from the run's [State] and putting its results there under typed
// [Key]s. Everything about how and when a stage runs (ordering, retries,
// timeouts, conditions) is policy on the [Step] that wraps it, not part of
// the stage.
//
// Run must return when ctx is done. A stage may be run several times in
// one pipeline run when its step retries, and by several steps at once
// when it is used in more than one step, so it must be safe for
// concurrent use.
type Stage interface {
	// Name returns the stage's default step name, for example "build".
	Name() string
	// Run does the stage's work.
	Run(ctx context.Context, s *State) error
}

// Func returns a [Stage] named name whose Run calls run. It is the adapter
// for stages written as plain functions.
func Func(name string, run func(ctx context.Context, s *State) error) Stage {
	return funcStage{name: name, run: run}
}

type funcStage struct {
	name string
	run  func(ctx context.Context, s *State) error
}

var _ Stage = funcStage{}

func (f funcStage) Name() string                            { return f.name }
func (f funcStage) Run(ctx context.Context, s *State) error { return f.run(ctx, s) }

// Step wraps a [Stage] with the policy that governs it inside a graph. The
// zero value of every field but Stage is the default.
type Step struct {
	// Name is the step's unique name in the graph. Empty means
	// Stage.Name().
	Name string
	// Stage is the work. Required.
	Stage Stage
	// After lists steps, by name, that must finish before this one
	// starts. It is ordering only: the step still runs when such a step
	// was skipped by its When condition, or failed with ContinueOnError.
	After []string
	// Needs lists the results this step reads. Each must be in the
	// Provides of exactly one other step, which becomes a dependency.
	// When that step did not succeed (it was skipped or failed), this
	// step is skipped and the reason names the missing result.
	Needs []AnyKey
	// Provides lists the results this step puts into the [State]. A
	// stage that returns nil without putting one of them fails with
	// [ErrMissingResult].
	Provides []AnyKey
	// When, if set, is evaluated just before the step would start; false
	// skips the step with the reason "condition is false". Steps that
	// need its results are skipped in turn. It must not block.
	When func(s *State) bool
	// Timeout bounds each attempt, measured on the engine's clock
	// ([WithClock]). Zero means no per-attempt limit (the run's context
	// still applies). An attempt that times out while the run's context
	// is still live fails with [ErrAttemptTimeout] and may be retried.
	Timeout time.Duration
	// Retry is the retry policy. The zero value runs the stage once.
	Retry Retry
	// ContinueOnError keeps the run going when this step fails: steps
	// that do not need its results still run. Its error is still part of
	// the run's error and report. When false (the default), a failure
	// stops the run: no further main steps start, steps already running
	// finish, and the finally steps run.
	ContinueOnError bool
}

// Retry is the retry policy of a [Step]. A run whose context is cancelled
// or past its deadline is never retried, and the wait between attempts
// ends early when the context ends. The zero value means one attempt.
type Retry struct {
	// Attempts is the maximum number of attempts, including the first.
	// Zero or one means no retries.
	Attempts int
	// Backoff is the wait before the second attempt. Zero means
	// [DefaultBackoff].
	Backoff time.Duration
	// Multiplier grows the wait after each failed attempt. Zero means 2;
	// values below 1 are treated as 1.
	Multiplier float64
	// MaxBackoff caps the wait. Zero means [DefaultMaxBackoff].
	MaxBackoff time.Duration
	// If, when set, decides whether an error is worth another attempt.
	// Nil retries every error. It is never consulted for errors caused by
	// the run's context ending, or for errors marked with [Permanent]. If
	// it panics, the step fails with a [*PanicError] ([ErrPanic]) that
	// also wraps the attempt's error.
	If func(err error) bool
}

// Defaults of [Retry].
const (
	// DefaultBackoff is the first wait between attempts when
	// Retry.Backoff is zero.
	DefaultBackoff = time.Second
	// DefaultMaxBackoff caps the wait between attempts when
	// Retry.MaxBackoff is zero.
	DefaultMaxBackoff = time.Minute
)

// delay returns the wait after failed attempt n (1-based).
func (r Retry) delay(n int) time.Duration {
	d := r.Backoff
	if d <= 0 {
		d = DefaultBackoff
	}
	maxd := r.MaxBackoff
	if maxd <= 0 {
		maxd = DefaultMaxBackoff
	}
	m := r.Multiplier
	if m == 0 {
		m = 2
	}
	if m < 1 {
		m = 1
	}
	f := float64(d)
	for i := 1; i < n; i++ {
		f *= m
		if f >= float64(maxd) {
			return maxd
		}
	}
	if time.Duration(f) > maxd {
		return maxd
	}
	return time.Duration(f)
}

func (s Step) name() string {
	if s.Name != "" {
		return s.Name
	}
	if s.Stage != nil {
		return s.Stage.Name()
	}
	return ""
}
