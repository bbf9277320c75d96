package rollbacktest

import (
	"context"
	"slices"
	"sync"

	"github.com/flightdeck-dev/flightdeck/rollback"
)

// Observer is a rollback.Observer that records every event. It is safe
// for concurrent use.
type Observer struct {
	mu     sync.Mutex
	events []rollback.Event
}

var _ rollback.Observer = (*Observer)(nil)

// Observe records e.
func (o *Observer) Observe(_ context.Context, e rollback.Event) {
	o.mu.Lock()
	o.events = append(o.events, e)
	o.mu.Unlock()
}

// Events returns the events recorded so far, in order.
func (o *Observer) Events() []rollback.Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.events)
}

// Kinds returns the kinds of the events recorded so far, in order.
func (o *Observer) Kinds() []rollback.EventKind {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]rollback.EventKind, len(o.events))
	for i, e := range o.events {
		out[i] = e.Kind
	}
	return out
}

// Decisions returns the decisions of the decision events, in order.
func (o *Observer) Decisions() []rollback.Decision {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []rollback.Decision
	for _, e := range o.events {
		if e.Kind == rollback.EventDecision {
			out = append(out, e.Decision)
		}
	}
	return out
}
