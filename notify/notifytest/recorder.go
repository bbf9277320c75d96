package notifytest

import (
	"context"
	"errors"
	"sync"

	"github.com/flightdeck-dev/flightdeck/notify"
)

// ErrInjected is the error a [Recorder] returns for an injected failure
// when the test gave none.
var ErrInjected = errors.New("notifytest: injected failure")

// Recorder is a [notify.Notifier] that records the events it is given.
// A test can make it fail the next calls ([Recorder.FailNext]) or hold
// every call until released ([Recorder.Block]). The zero value is ready
// to use.
type Recorder struct {
	mu       sync.Mutex
	events   []notify.Event
	calls    int
	failN    int
	failErr  error
	blocked  gate
	changes  changes
	inFlight int
}

var _ notify.Notifier = (*Recorder)(nil)

// Notify counts the call, then blocks while the recorder is blocked (until
// [Recorder.Release] or ctx ends, returning ctx's error), then fails if a
// failure is pending, else records e and returns nil.
func (r *Recorder) Notify(ctx context.Context, e notify.Event) error {
	r.mu.Lock()
	r.calls++
	block := r.blocked.holder()
	r.inFlight++
	r.changes.broadcast()
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inFlight--
		r.changes.broadcast()
		r.mu.Unlock()
	}()

	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failN > 0 {
		r.failN--
		r.changes.broadcast()
		return r.failErr
	}
	r.events = append(r.events, e)
	r.changes.broadcast()
	return nil
}

// FailNext makes the next n calls (after any block) fail with err, or
// with [ErrInjected] when err is nil.
func (r *Recorder) FailNext(n int, err error) {
	if err == nil {
		err = ErrInjected
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failN, r.failErr = n, err
}

// Block makes calls wait, from now until [Recorder.Release]: a receiver
// that hangs.
func (r *Recorder) Block() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blocked.close()
}

// Release lets every waiting call go on and stops blocking new ones.
func (r *Recorder) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blocked.open()
}

// Events returns the recorded events, in the order recorded.
func (r *Recorder) Events() []notify.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Event(nil), r.events...)
}

// Calls returns how many times Notify was called, failed and blocked
// calls included.
func (r *Recorder) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// InFlight returns how many calls are inside Notify now (blocked ones
// included).
func (r *Recorder) InFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inFlight
}

// WaitForEvents blocks until at least n events are recorded, or returns
// ctx's error.
func (r *Recorder) WaitForEvents(ctx context.Context, n int) error {
	return r.changes.wait(ctx, &r.mu, func() bool { return len(r.events) >= n })
}

// WaitForCalls blocks until Notify has been called at least n times
// (blocked calls included), or returns ctx's error. With [Recorder.Block]
// it is how a test knows a delivery is hanging.
func (r *Recorder) WaitForCalls(ctx context.Context, n int) error {
	return r.changes.wait(ctx, &r.mu, func() bool { return r.calls >= n })
}
