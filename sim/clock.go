package sim

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock is a drivable clock. Time moves only when [Clock.Advance],
// [Clock.AdvanceToNext] or [Clock.Accelerate] moves it, so a test decides
// exactly when timers fire. It satisfies gitops.Clock. The zero value is
// not usable; call [NewClock]. A Clock is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer
	changed chan struct{} // closed and replaced whenever timers change
}

type timer struct {
	at time.Time
	ch chan time.Time
}

// NewClock returns a clock reading start. A zero start means
// 2026-01-01T00:00:00Z, so outputs are reproducible.
func NewClock(start time.Time) *Clock {
	if start.IsZero() {
		start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return &Clock{now: start, changed: make(chan struct{})}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once it has moved
// d past now. A d of zero or less fires at once.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, &timer{at: c.now.Add(d), ch: ch})
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	c.notify()
	return ch
}

// Sleep blocks until the clock has moved d past now or ctx ends, and
// returns ctx's error in the latter case.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-c.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Advance moves the clock forward by d, firing every timer that falls due,
// in deadline order. A negative d is ignored.
func (c *Clock) Advance(d time.Duration) {
	if d < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceTo(c.now.Add(d))
}

// AdvanceToNext moves the clock to the earliest pending timer and fires it
// (and any other timer due at the same instant). It reports false, and
// leaves the clock alone, when no timer is pending.
func (c *Clock) AdvanceToNext() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return false
	}
	at := c.timers[0].at
	if at.Before(c.now) {
		at = c.now
	}
	c.advanceTo(at)
	return true
}

// Pending returns the number of timers not yet fired.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// WaitForTimers blocks until at least n timers are pending, which is how a
// test knows the code under test is waiting on the clock. It returns ctx's
// error if ctx ends first.
func (c *Clock) WaitForTimers(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		pending, changed := len(c.timers), c.changed
		c.mu.Unlock()
		if pending >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Accelerate moves the clock forward in real time, factor times faster
// than the wall clock, until ctx ends: every millisecond of real time
// advances it by factor milliseconds. With factor 100000 a ten-minute
// rollout plays out in about six milliseconds. It blocks; run it in a
// goroutine. A factor below 1 is treated as 1.
func (c *Clock) Accelerate(ctx context.Context, factor float64) {
	if factor < 1 {
		factor = 1
	}
	step := time.Duration(float64(time.Millisecond) * factor)
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Advance(step)
		}
	}
}

// advanceTo fires due timers in order and sets now; c.mu is held.
func (c *Clock) advanceTo(to time.Time) {
	fired := 0
	for _, t := range c.timers {
		if t.at.After(to) {
			break
		}
		if t.at.After(c.now) {
			c.now = t.at
		}
		t.ch <- c.now
		fired++
	}
	if fired > 0 {
		c.timers = append([]*timer(nil), c.timers[fired:]...)
		c.notify()
	}
	if to.After(c.now) {
		c.now = to
	}
}

func (c *Clock) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}
