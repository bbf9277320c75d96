package notifytest

import (
	"context"
	"sync"
)

// changes lets goroutines wait for a condition on state guarded by a
// mutex, ending with a context. The zero value is ready to use.
type changes struct{ ch chan struct{} }

// broadcast wakes every waiter; the caller holds the mutex.
func (c *changes) broadcast() {
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// wait blocks until done (called with mu held) is true, or returns ctx's
// error.
func (c *changes) wait(ctx context.Context, mu *sync.Mutex, done func() bool) error {
	for {
		mu.Lock()
		ok := done()
		if c.ch == nil {
			c.ch = make(chan struct{})
		}
		ch := c.ch
		mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// gate holds callers back while closed. The zero value is open; the
// owner guards it with its mutex.
type gate struct{ ch chan struct{} }

// close makes later callers of wait block until open.
func (g *gate) close() {
	if g.ch == nil {
		g.ch = make(chan struct{})
	}
}

// open lets every held caller go on.
func (g *gate) open() {
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
	}
}

// holder returns the channel to wait on, nil when open. The caller reads
// it under the owner's mutex and waits on it after unlocking.
func (g *gate) holder() <-chan struct{} { return g.ch }
