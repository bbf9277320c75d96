package pipelinetest

import (
	"context"
	"sync"

	"github.com/flightdeck-dev/flightdeck/pipeline"
)

// Gate holds stages running until it is opened, and counts how many are
// inside at once, so a test can check a parallelism limit without timing.
// Use [NewGate].
type Gate struct {
	mu      sync.Mutex
	active  int
	max     int
	entered int
	open    chan struct{}
	changed chan struct{}
	once    sync.Once
}

// NewGate returns a closed gate.
func NewGate() *Gate {
	return &Gate{open: make(chan struct{}), changed: make(chan struct{})}
}

// Stage returns a stage named name that enters the gate, waits until the
// gate is opened or its context ends, and leaves.
func (g *Gate) Stage(name string) pipeline.Stage {
	return pipeline.Func(name, func(ctx context.Context, _ *pipeline.State) error {
		g.mu.Lock()
		g.active++
		g.entered++
		g.max = max(g.max, g.active)
		g.notify()
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			g.active--
			g.notify()
			g.mu.Unlock()
		}()
		select {
		case <-g.open:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

func (g *Gate) notify() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// WaitActive blocks until at least n stages are inside the gate, or ctx
// ends.
func (g *Gate) WaitActive(ctx context.Context, n int) error {
	for {
		g.mu.Lock()
		active, changed := g.active, g.changed
		g.mu.Unlock()
		if active >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Open lets every waiting and future stage through. It may be called more
// than once.
func (g *Gate) Open() { g.once.Do(func() { close(g.open) }) }

// Max returns the largest number of stages that were inside at once.
func (g *Gate) Max() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.max
}

// Entered returns how many stages have entered so far.
func (g *Gate) Entered() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.entered
}
