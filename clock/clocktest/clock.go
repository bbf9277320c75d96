package clocktest

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock"
)

// Default is the start time of a Clock created with a zero start:
// 2026-01-01T00:00:00Z, so outputs are reproducible.
var Default = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is a drivable [clock.Clock]. The zero value is not usable; call
// [New] or [NewAuto]. A Clock is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	auto    bool
	timers  []*timer
	waits   []time.Duration
	changed chan struct{} // closed and replaced whenever timers change
}

type timer struct {
	at time.Time
	ch chan time.Time
}

var _ clock.Clock = (*Clock)(nil)

// New returns a clock reading start that moves only when the test moves
// it. A zero start means [Default].
func New(start time.Time) *Clock {
	if start.IsZero() {
		start = Default
	}
	return &Clock{now: start, changed: make(chan struct{})}
}

// NewAuto returns a clock reading start (zero means [Default]) on which
// every timer fires at once: After(d) first moves the clock forward by d.
// Code that sleeps between polls then runs without real waiting, and the
// clock still reads the time it would have read.
func NewAuto(start time.Time) *Clock {
	c := New(start)
	c.auto = true
	return c
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once it has moved
// d past now. A d of zero or less fires at once. On an auto clock the
// clock moves forward by d first, so the channel is ready on return.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, &timer{at: c.now.Add(d), ch: ch})
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	if c.auto {
		c.advanceTo(c.now.Add(d))
	}
	c.notify()
	return ch
}

// Sleep blocks until the clock has moved d past now or ctx ends, and
// returns ctx's error in the latter case.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	return clock.Sleep(ctx, c, d)
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

// Set moves the clock to t if t is later than now, firing due timers.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.advanceTo(t)
	}
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

// Waits returns every duration passed to After, in order, so a test can
// assert how long the code under test chose to wait.
func (c *Clock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
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

// Drive runs fn in a goroutine and, whenever at least timers timers are
// pending on c while fn runs, moves c to the earliest of them
// ([Clock.AdvanceToNext]), until fn returns; it returns what fn returned.
// It is how a test lets code that polls, backs off and times out on a
// manual clock run to its end without sleeping. timers is what is pending
// while fn waits on the clock alone: for example its next poll and its
// deadline, plus the timers already pending before ([Clock.Pending]),
// such as deadlines left by earlier waits that returned early. fn gets a
// context that ends when ctx does; then Drive stops moving the clock and
// waits for fn, which must heed its context (pass ctx with a timeout as
// a guard against a hang).
func Drive[T any](ctx context.Context, c *Clock, timers int, fn func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn(ctx)
		done <- result{v, err}
		cancel()
	}()
	for c.WaitForTimers(ctx, timers) == nil {
		c.AdvanceToNext()
	}
	r := <-done
	return r.v, r.err
}
