package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock"
)

// Overflow says what a target's queue does with a new event when it is
// full. Either way the lost event is counted as dropped and logged.
type Overflow int

const (
	// DropOldest discards the oldest queued event to make room: the
	// latest news wins. The default.
	DropOldest Overflow = iota
	// DropNewest discards the new event: what was queued first is
	// delivered first.
	DropNewest
)

// DefaultQueueSize is a target's queue length when Target.QueueSize is
// zero.
const DefaultQueueSize = 256

// Filter selects the events a target receives. Each non-empty list must
// contain the event's value; the zero Filter selects every event.
type Filter struct {
	// Kinds the target wants; empty means all.
	Kinds []Kind
	// Apps the target wants; empty means all.
	Apps []string
	// Environments the target wants; empty means all, including events
	// without an environment.
	Environments []string
	// MinSeverity is the least severity ([Event.Level]) the target wants;
	// zero means all.
	MinSeverity Severity
}

// Match reports whether f selects e.
func (f Filter) Match(e Event) bool {
	return (len(f.Kinds) == 0 || slices.Contains(f.Kinds, e.Kind)) &&
		(len(f.Apps) == 0 || slices.Contains(f.Apps, e.App)) &&
		(len(f.Environments) == 0 || slices.Contains(f.Environments, e.Environment)) &&
		e.Level() >= f.MinSeverity
}

// Target is one destination of a [Fanout].
type Target struct {
	// Name identifies the target in logs, [Fanout.Stats] and the
	// "target" label of flightdeck_notifications_total, for example
	// "slack-prod". Required, unique within a Fanout, and a valid
	// flightdeck name (lower-case letters, digits, '-', '.', '_').
	Name string
	// Notifier delivers the target's events. Required.
	Notifier Notifier
	// Filter selects the events it receives; the zero Filter selects all.
	Filter Filter
	// QueueSize bounds the events waiting for the target. Zero means
	// [DefaultQueueSize].
	QueueSize int
	// Overflow says which event is dropped when the queue is full.
	Overflow Overflow
}

// TargetStats counts what happened to one target's events.
type TargetStats struct {
	// Name is the target's name.
	Name string
	// Queued is the number of events waiting now, the one being delivered
	// not included.
	Queued int
	// Delivered, Failed and Dropped count events since the Fanout was
	// created: delivered, given up on by the target's notifier (or
	// cancelled by Close), and lost to a full queue or to Close's
	// deadline.
	Delivered, Failed, Dropped uint64
}

// Fanout hands each event to every target whose filter selects it, and
// delivers in the background: Notify only puts the event on the targets'
// bounded queues, so a slow, hanging or failing receiver never blocks or
// fails the caller, and never delays another target. Each target has one
// worker that delivers its events in order. Create it with [NewFanout];
// it is safe for concurrent use. Call [Fanout.Close] to drain it.
type Fanout struct {
	targets []*target
	clock   clock.Clock
	logger  *slog.Logger
	metrics *metrics

	ctx    context.Context // deliveries; cancelled by Close's deadline
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.RWMutex
	closed bool
}

type target struct {
	Target
	mu    sync.Mutex
	queue []Event
	wake  chan struct{} // capacity 1: "the queue changed"
	done  bool          // no more events will be queued

	delivered, failed, dropped atomic.Uint64
}

var _ Notifier = (*Fanout)(nil)

// NewFanout starts one delivery worker per target. Targets are checked
// first: each needs a valid, unique name and a notifier, and a
// non-negative queue size. It honours [WithClock] (stamping events
// without a time), [WithLogger] and [WithRegisterer].
func NewFanout(targets []Target, opts ...Option) (*Fanout, error) {
	o := buildOptions(opts)
	var errs []error
	seen := map[string]bool{}
	for i, t := range targets {
		switch {
		case !flightdeck.ValidName(t.Name):
			errs = append(errs, fmt.Errorf("target %d: name %q: want lower-case letters, digits, '-', '.' and '_'", i, t.Name))
		case seen[t.Name]:
			errs = append(errs, fmt.Errorf("target %d: name %q is used twice", i, t.Name))
		}
		seen[t.Name] = true
		if t.Notifier == nil {
			errs = append(errs, fmt.Errorf("target %q: no notifier", t.Name))
		}
		if t.QueueSize < 0 {
			errs = append(errs, fmt.Errorf("target %q: negative queue size %d", t.Name, t.QueueSize))
		}
		if t.Overflow != DropOldest && t.Overflow != DropNewest {
			errs = append(errs, fmt.Errorf("target %q: unknown overflow %d", t.Name, t.Overflow))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("notify: fan-out: %w", err)
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	m, err := newMetrics(o.registerer, names)
	if err != nil {
		return nil, err
	}
	f := &Fanout{clock: o.clock, logger: o.logger, metrics: m}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	for _, t := range targets {
		if t.QueueSize == 0 {
			t.QueueSize = DefaultQueueSize
		}
		tg := &target{Target: t, wake: make(chan struct{}, 1)}
		f.targets = append(f.targets, tg)
		f.wg.Add(1)
		go f.run(tg)
	}
	return f, nil
}

// Notify queues e, stamped with the fan-out's clock when its Time is
// zero, for every target whose filter selects it, and returns at once: it
// never waits for a receiver and never reports a delivery's failure
// (those are logged and counted). ctx is not used for the delivery, which
// outlives the call. It returns an error wrapping [ErrInvalidEvent] for
// an event that cannot be delivered, and [ErrClosed] after Close.
func (f *Fanout) Notify(_ context.Context, e Event) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("notify: fan-out: %w", err)
	}
	e = stamp(e, f.clock)
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return ErrClosed
	}
	for _, t := range f.targets {
		if t.Filter.Match(e) {
			f.enqueue(t, e)
		}
	}
	return nil
}

func (f *Fanout) enqueue(t *target, e Event) {
	t.mu.Lock()
	lost, dropped := e, false
	if len(t.queue) >= t.QueueSize {
		dropped = true
		if t.Overflow == DropOldest {
			lost = t.queue[0]
			t.queue = append(t.queue[:0], t.queue[1:]...)
			t.queue = append(t.queue, e)
		}
	} else {
		t.queue = append(t.queue, e)
	}
	t.mu.Unlock()
	if dropped {
		f.drop(t, lost, "queue full")
	}
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (f *Fanout) drop(t *target, e Event, why string) {
	t.dropped.Add(1)
	f.metrics.inc(t.Name, resultDropped)
	f.logger.Warn("notification dropped", "target", t.Name, "kind", string(e.Kind), "app", e.App,
		"environment", e.Environment, "key", e.Key(), "reason", why)
}

// run is a target's worker.
func (f *Fanout) run(t *target) {
	defer f.wg.Done()
	for {
		e, ok := f.next(t)
		if !ok {
			return
		}
		f.deliver(t, e)
	}
}

// next waits for the target's next event; false means stop.
func (f *Fanout) next(t *target) (Event, bool) {
	for {
		if f.ctx.Err() != nil {
			return Event{}, false
		}
		t.mu.Lock()
		if len(t.queue) > 0 {
			e := t.queue[0]
			t.queue[0] = Event{}
			t.queue = t.queue[1:]
			t.mu.Unlock()
			return e, true
		}
		done := t.done
		t.mu.Unlock()
		if done {
			return Event{}, false
		}
		select {
		case <-t.wake:
		case <-f.ctx.Done():
		}
	}
}

func (f *Fanout) deliver(t *target, e Event) {
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("notifier panicked: %v", r)
			}
		}()
		return t.Notifier.Notify(f.ctx, e)
	}()
	if err == nil {
		t.delivered.Add(1)
		f.metrics.inc(t.Name, resultDelivered)
		return
	}
	t.failed.Add(1)
	f.metrics.inc(t.Name, resultFailed)
	f.logger.Warn("notification failed", "target", t.Name, "kind", string(e.Kind), "app", e.App,
		"environment", e.Environment, "key", e.Key(), "error", err.Error())
}

// Stats returns each target's counts, in the order of the targets given
// to NewFanout.
func (f *Fanout) Stats() []TargetStats {
	out := make([]TargetStats, len(f.targets))
	for i, t := range f.targets {
		t.mu.Lock()
		q := len(t.queue)
		t.mu.Unlock()
		out[i] = TargetStats{Name: t.Name, Queued: q, Delivered: t.delivered.Load(),
			Failed: t.failed.Load(), Dropped: t.dropped.Load()}
	}
	return out
}

// Close stops accepting events and waits until every queued event has
// been delivered or given up on, or until ctx ends. When ctx ends first,
// the deliveries in flight are cancelled (counted as failed), the events
// still queued are dropped (counted and logged), and Close returns an
// error wrapping ctx's error that says how many were dropped, without
// waiting for notifiers that ignore cancellation. Close may be called
// more than once.
func (f *Fanout) Close(ctx context.Context) error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	for _, t := range f.targets {
		t.mu.Lock()
		t.done = true
		t.mu.Unlock()
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
	drained := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(drained)
	}()
	select {
	case <-drained:
		f.cancel()
		return nil
	case <-ctx.Done():
	}
	f.cancel()
	lost := 0
	for _, t := range f.targets {
		t.mu.Lock()
		q := t.queue
		t.queue = nil
		t.mu.Unlock()
		for _, e := range q {
			f.drop(t, e, "closed before delivery")
		}
		lost += len(q)
	}
	return fmt.Errorf("notify: close fan-out: %d queued notifications dropped, deliveries in flight cancelled: %w", lost, ctx.Err())
}
