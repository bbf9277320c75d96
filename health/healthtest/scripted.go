package healthtest

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/health"
)

// Success returns a Successful measurement of v.
func Success(v float64) health.Measurement {
	return health.Measurement{Value: v, Phase: health.Successful, Message: fmt.Sprintf("value %g", v)}
}

// Failure returns a Failed measurement of v.
func Failure(v float64) health.Measurement {
	return health.Measurement{Value: v, Phase: health.Failed, Message: fmt.Sprintf("failed with value %g", v)}
}

// NoData returns an Inconclusive measurement without a value.
func NoData() health.Measurement {
	return health.Measurement{Value: math.NaN(), Phase: health.Inconclusive, Message: "no data"}
}

// Err returns an Error measurement caused by err.
func Err(err error) health.Measurement {
	return health.Measurement{Value: math.NaN(), Phase: health.Error, Message: err.Error(), Err: err}
}

// Scripted is an [health.Evaluator] that returns a scripted sequence of
// measurements, one per call, then repeats the last one. An empty script
// yields Inconclusive measurements. It stamps each measurement with its
// clock's time when Time is zero, returns an Error measurement wrapping
// ctx.Err() when the context is done, and can be made to block until the
// context is done to test cancellation. Safe for concurrent use.
type Scripted struct {
	mu      sync.Mutex
	script  []health.Measurement
	next    int
	calls   int
	fault   error
	block   bool
	clock   clock.Clock
	entered chan struct{}
}

var _ health.Evaluator = (*Scripted)(nil)

// NewScripted returns a Scripted evaluator replaying ms.
func NewScripted(ms ...health.Measurement) *Scripted {
	return &Scripted{script: append([]health.Measurement(nil), ms...), clock: clock.System(),
		entered: make(chan struct{}, 1)}
}

// Values returns a Scripted evaluator replaying Successful measurements of
// each value in turn.
func Values(vs ...float64) *Scripted {
	ms := make([]health.Measurement, len(vs))
	for i, v := range vs {
		ms[i] = Success(v)
	}
	return NewScripted(ms...)
}

// SetClock sets the clock that stamps measurements whose Time is zero;
// nil means the system clock (the default).
func (s *Scripted) SetClock(c clock.Clock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = clock.Or(c)
}

// Push appends measurements to the script.
func (s *Scripted) Push(ms ...health.Measurement) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, ms...)
}

// FailWith makes every following call return an Error measurement caused
// by err, without consuming the script, until FailWith(nil).
func (s *Scripted) FailWith(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = err
}

// Block makes every following call block until its context is done (then
// return an Error measurement), until Block(false).
func (s *Scripted) Block(b bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.block = b
}

// Entered returns a channel that receives a value when a call starts
// blocking, so a test can cancel at the right moment without sleeping.
func (s *Scripted) Entered() <-chan struct{} { return s.entered }

// Calls returns how many times Evaluate was called.
func (s *Scripted) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Evaluate returns the next scripted measurement.
func (s *Scripted) Evaluate(ctx context.Context) health.Measurement {
	s.mu.Lock()
	s.calls++
	clk, block, fault := s.clock, s.block, s.fault
	var m health.Measurement
	switch {
	case len(s.script) == 0:
		m = NoData()
	case s.next < len(s.script):
		m = s.script[s.next]
		if fault == nil {
			s.next++
		}
	default:
		m = s.script[len(s.script)-1]
	}
	s.mu.Unlock()

	t := clk.Now()
	if block {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		<-ctx.Done()
	}
	if err := ctx.Err(); err != nil {
		m = Err(fmt.Errorf("scripted evaluator: %w", err))
	} else if fault != nil {
		m = Err(fault)
	}
	if m.Time.IsZero() {
		m.Time = t
	}
	return m
}
