package pipelinetest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/flightdeck-dev/flightdeck/pipeline"
)

// ErrInjected is the error a [Stage] fails with when no other error was
// given.
var ErrInjected = errors.New("pipelinetest: injected failure")

// Call is one recorded attempt of a [Stage].
type Call struct {
	// Attempt is the 1-based number of the call.
	Attempt int
	// HadDeadline reports whether the attempt's context had a deadline,
	// and Deadline is that deadline.
	HadDeadline bool
	Deadline    time.Time
	// CtxErr is the context's error when the call returned.
	CtxErr error
	// Err is what the call returned.
	Err error
}

// Stage is a fake [pipeline.Stage]. It fails its first N calls (see
// [FailTimes]), or always ([Fail]), or blocks until its context ends
// ([Block]), and otherwise succeeds, running its [Stage.Do] hook. Faults
// can be added while it is in use with [Stage.FailNext]. It records every
// call. Use the constructors; the zero value is a stage with no name
// that always succeeds.
type Stage struct {
	name string

	mu       sync.Mutex
	failLeft int   // remaining calls to fail; -1 = always
	err      error // error to fail with
	block    bool
	do       func(ctx context.Context, s *pipeline.State) error
	calls    []Call
	started  chan struct{}
	once     sync.Once
}

var _ pipeline.Stage = (*Stage)(nil)

// Succeed returns a stage that always succeeds.
func Succeed(name string) *Stage { return &Stage{name: name} }

// FailTimes returns a stage whose first n calls fail with err (nil means
// [ErrInjected]) and whose later calls succeed.
func FailTimes(name string, n int, err error) *Stage {
	return &Stage{name: name, failLeft: n, err: err}
}

// Fail returns a stage whose every call fails with err (nil means
// [ErrInjected]).
func Fail(name string, err error) *Stage {
	return &Stage{name: name, failLeft: -1, err: err}
}

// Block returns a stage whose calls block until their context ends and
// then return the context's error.
func Block(name string) *Stage { return &Stage{name: name, block: true} }

// Do sets a hook that runs on every call that does not fail or block,
// typically to put results into the state; its error is the call's. It
// returns s.
func (s *Stage) Do(fn func(ctx context.Context, st *pipeline.State) error) *Stage {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.do = fn
	return s
}

// FailNext makes the next n calls fail with err (nil means
// [ErrInjected]).
func (s *Stage) FailNext(n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLeft, s.err = n, err
}

// Name returns the stage's name.
func (s *Stage) Name() string { return s.name }

// Run records the call and behaves as configured.
func (s *Stage) Run(ctx context.Context, st *pipeline.State) error {
	s.mu.Lock()
	c := Call{Attempt: len(s.calls) + 1}
	c.Deadline, c.HadDeadline = ctx.Deadline()
	fail := s.failLeft != 0
	if s.failLeft > 0 {
		s.failLeft--
	}
	injected, block, do := s.err, s.block, s.do
	s.mu.Unlock()
	s.once.Do(func() { s.mu.Lock(); s.initStarted(); close(s.started); s.mu.Unlock() })

	var err error
	switch {
	case fail:
		err = injected
		if err == nil {
			err = ErrInjected
		}
	case block:
		<-ctx.Done()
		err = ctx.Err()
	case do != nil:
		err = do(ctx, st)
	}
	c.CtxErr, c.Err = ctx.Err(), err
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	return err
}

func (s *Stage) initStarted() {
	if s.started == nil {
		s.started = make(chan struct{})
	}
}

// Started returns a channel closed when the first call starts.
func (s *Stage) Started() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initStarted()
	return s.started
}

// Calls returns the finished calls, in order.
func (s *Stage) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallCount returns the number of finished calls.
func (s *Stage) CallCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}
