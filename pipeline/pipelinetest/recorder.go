package pipelinetest

import (
	"fmt"
	"sync"

	"github.com/flightdeck-dev/flightdeck/pipeline"
)

// Recorder is a [pipeline.Observer] that keeps every event. The zero value
// is ready to use.
type Recorder struct {
	mu     sync.Mutex
	events []pipeline.Event
}

var _ pipeline.Observer = (*Recorder)(nil)

// OnEvent records e.
func (r *Recorder) OnEvent(e pipeline.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Events returns all events so far, in the order received.
func (r *Recorder) Events() []pipeline.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pipeline.Event(nil), r.events...)
}

// For returns the events of one step, in order.
func (r *Recorder) For(step string) []pipeline.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []pipeline.Event
	for _, e := range r.events {
		if e.Step == step {
			out = append(out, e)
		}
	}
	return out
}

// Lines returns one line per event, "step type[ detail]", in the order
// received: handy for comparing a sequential run against a golden list.
func (r *Recorder) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.events))
	for i, e := range r.events {
		line := fmt.Sprintf("%s %s", e.Step, e.Type)
		switch e.Type {
		case pipeline.StepStarted:
			line += fmt.Sprintf(" attempt=%d", e.Attempt)
		case pipeline.AttemptFailed:
			line += fmt.Sprintf(" attempt=%d backoff=%s", e.Attempt, e.Backoff)
		case pipeline.StepFinished:
			line += fmt.Sprintf(" %s attempts=%d", e.Status, e.Attempt)
		case pipeline.StepSkipped:
			line += ": " + e.Reason
		}
		out[i] = line
	}
	return out
}
