package rollbacktest

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/flightdeck-dev/flightdeck/health"
)

// Series is a time series of samples that answers range queries as a
// Prometheus query_range does for a series already recorded: the values
// whose time lies in [start, end], in time order, NaNs left out. It is a
// health.SampleSource, safe for concurrent use, records the ranges it was
// asked for, and can be told to fail.
type Series struct {
	mu     sync.Mutex
	points []point
	calls  []Window
	err    error
}

type point struct {
	t time.Time
	v float64
}

// Window is one range a [Series] was asked for.
type Window struct {
	Start, End time.Time
	Step       time.Duration
}

var _ health.SampleSource = (*Series)(nil)

// Add appends the sample v at time t.
func (s *Series) Add(t time.Time, v float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.points = append(s.points, point{t, v})
	sort.SliceStable(s.points, func(i, j int) bool { return s.points[i].t.Before(s.points[j].t) })
}

// AddEvery appends one sample every step from start on, values in turn.
func (s *Series) AddEvery(start time.Time, step time.Duration, values ...float64) {
	for i, v := range values {
		s.Add(start.Add(time.Duration(i)*step), v)
	}
}

// FailWith makes every later Range return err (nil heals it).
func (s *Series) FailWith(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// Calls returns the ranges asked for, in order.
func (s *Series) Calls() []Window {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Window(nil), s.calls...)
}

// Len returns the number of samples.
func (s *Series) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.points)
}

// Range implements health.SampleSource.
func (s *Series) Range(ctx context.Context, start, end time.Time, step time.Duration) ([]float64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Window{start, end, step})
	if s.err != nil {
		return nil, s.err
	}
	var out []float64
	for _, p := range s.points {
		if !p.t.Before(start) && !p.t.After(end) && !math.IsNaN(p.v) {
			out = append(out, p.v)
		}
	}
	return out, nil
}
