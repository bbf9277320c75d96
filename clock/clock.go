package clock

import (
	"context"
	"time"
)

// Clock tells the time and fires timers. Implementations must be safe for
// concurrent use. [System] is the wall clock; clocktest.Clock is a
// drivable fake.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	// A d of zero or less fires at once.
	After(d time.Duration) <-chan time.Time
}

type system struct{}

func (system) Now() time.Time                         { return time.Now() }
func (system) After(d time.Duration) <-chan time.Time { return time.After(d) }

// System returns the wall clock: [time.Now] and [time.After].
func System() Clock { return system{} }

// Or returns c, or [System] when c is nil. Packages use it to apply the
// "nil means the system clock" default.
func Or(c Clock) Clock {
	if c == nil {
		return system{}
	}
	return c
}

// Sleep waits until d has passed on c or ctx ends, and returns ctx's error
// in the latter case. A nil c is the system clock.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	select {
	case <-Or(c).After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Since returns the time elapsed on c since t. A nil c is the system
// clock.
func Since(c Clock, t time.Time) time.Duration { return Or(c).Now().Sub(t) }

// Func adapts a bare time source (such as time.Now) to a Clock whose
// timers are the system's. It exists for callers that only ever stamp
// times.
type Func func() time.Time

// Now calls f.
func (f Func) Now() time.Time { return f() }

// After returns [time.After](d).
func (f Func) After(d time.Duration) <-chan time.Time { return time.After(d) }

var (
	_ Clock = system{}
	_ Clock = Func(nil)
)
