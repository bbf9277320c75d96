package pipeline

import (
	"context"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock"
)

// withTimeout returns a context that ends d from now on c, as
// [context.WithTimeout] does on the system clock: its Err and Cause are
// [context.DeadlineExceeded] once d has passed on c, and contexts derived
// from it see the same. On the system clock it is context.WithTimeout.
func withTimeout(parent context.Context, c clock.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	if c == clock.System() {
		return context.WithTimeout(parent, d)
	}
	inner, cancel := context.WithCancelCause(parent)
	t := &clockTimeout{Context: inner, deadline: c.Now().Add(d), done: make(chan struct{})}
	fired := c.After(d)
	go func() {
		select {
		case <-fired:
			cancel(context.DeadlineExceeded)
		case <-inner.Done():
		}
		<-inner.Done()
		close(t.done)
	}()
	return t, func() { cancel(context.Canceled) }
}

// clockTimeout is a context whose deadline passes on a clock.Clock. It
// embeds a cancelable context for Value and Cause but has its own Done
// channel, so the context package propagates its Err (not the embedded
// one's Canceled) to derived contexts.
type clockTimeout struct {
	context.Context
	deadline time.Time
	done     chan struct{}
}

func (t *clockTimeout) Deadline() (time.Time, bool) {
	if pd, ok := t.Context.Deadline(); ok && pd.Before(t.deadline) {
		return pd, true
	}
	return t.deadline, true
}

func (t *clockTimeout) Done() <-chan struct{} { return t.done }

func (t *clockTimeout) Err() error {
	select {
	case <-t.done:
	default:
		return nil
	}
	// Only the timer cancels with the cause DeadlineExceeded; a parent
	// that passed its own deadline already reports DeadlineExceeded.
	err := t.Context.Err()
	if err == context.Canceled && context.Cause(t.Context) == context.DeadlineExceeded {
		return context.DeadlineExceeded
	}
	return err
}
