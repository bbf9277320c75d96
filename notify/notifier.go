package notify

import "context"

// Notifier delivers an event to stakeholders. Notify returns once the
// event is delivered or delivery has failed for good; it must return
// promptly when ctx ends. Implementations must be safe for concurrent use.
//
// A deployment should not wait on a receiver: hand events to a [Fanout],
// whose Notify only queues them.
type Notifier interface {
	Notify(ctx context.Context, e Event) error
}

// NotifierFunc adapts a function to a [Notifier].
type NotifierFunc func(ctx context.Context, e Event) error

// Notify calls f(ctx, e).
func (f NotifierFunc) Notify(ctx context.Context, e Event) error { return f(ctx, e) }

var _ Notifier = NotifierFunc(nil)
