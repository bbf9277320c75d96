package strategytest

import (
	"sync"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/strategy"
)

// Target is a strategy.Target that records every Prepare and Write and
// passes them to the target it wraps, with errors injected on demand. It
// is safe for concurrent use.
type Target struct {
	inner strategy.Target

	mu       sync.Mutex
	prepares int
	writes   []strategy.Desired
	errs     []error
}

var _ strategy.Target = (*Target)(nil)

// NewTarget returns a recording Target around inner.
func NewTarget(inner strategy.Target) *Target { return &Target{inner: inner} }

// Prepare records the call and calls the wrapped target's Prepare, unless
// an error is injected.
func (r *Target) Prepare(t *gitops.Tree, rendered []byte) error {
	r.mu.Lock()
	r.prepares++
	err := r.next()
	r.mu.Unlock()
	if err != nil {
		return err
	}
	return r.inner.Prepare(t, rendered)
}

// Write records d and calls the wrapped target's Write, unless an error
// is injected. A Write that a push race replays is recorded each time.
func (r *Target) Write(t *gitops.Tree, d strategy.Desired) error {
	r.mu.Lock()
	r.writes = append(r.writes, d)
	err := r.next()
	r.mu.Unlock()
	if err != nil {
		return err
	}
	return r.inner.Write(t, d)
}

// Read calls the wrapped target's Read.
func (r *Target) Read(t *gitops.Tree) (strategy.Desired, error) { return r.inner.Read(t) }

// FailNext makes the next calls of Prepare or Write return errs, one per
// call, in order.
func (r *Target) FailNext(errs ...error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, errs...)
}

// Writes returns the states passed to Write so far, in order.
func (r *Target) Writes() []strategy.Desired {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]strategy.Desired(nil), r.writes...)
}

// Prepares returns how many times Prepare was called.
func (r *Target) Prepares() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.prepares
}

// next pops the next injected error; r.mu is held.
func (r *Target) next() error {
	if len(r.errs) == 0 {
		return nil
	}
	err := r.errs[0]
	r.errs = r.errs[1:]
	return err
}

// Overlay returns the wrapped target's overlay, if it says.
func (r *Target) Overlay() strategy.Overlay {
	if t, ok := r.inner.(interface{ Overlay() strategy.Overlay }); ok {
		return t.Overlay()
	}
	return strategy.Overlay{}
}
