package pipeline

import (
	"errors"
	"time"
)

// Status is the outcome of one step in a run.
type Status string

// Step statuses.
const (
	// Pending means the step has not been decided yet; a finished run
	// never reports it.
	Pending Status = "pending"
	// Succeeded means the stage returned nil and put every result its
	// step provides.
	Succeeded Status = "succeeded"
	// Failed means the last attempt returned an error.
	Failed Status = "failed"
	// Skipped means the step did not run; StepReport.SkipReason says why.
	Skipped Status = "skipped"
	// Canceled means the run's context ended while the step was running
	// or waiting to retry.
	Canceled Status = "canceled"
)

// StepReport is what happened to one step in a run.
type StepReport struct {
	// Name is the step's name.
	Name string
	// Finally reports whether the step is a finally step.
	Finally bool
	// Status is the outcome.
	Status Status
	// Attempts is the number of times the stage was run.
	Attempts int
	// Start is when the first attempt started; zero if it never ran.
	Start time.Time
	// Duration is from the first attempt's start to the step's end,
	// including waits between attempts.
	Duration time.Duration
	// SkipReason says why a skipped step did not run.
	SkipReason string
	// Err is the step's error (a [*StepError]) when it failed or was
	// canceled.
	Err error
}

// Report is what happened in one run: a [StepReport] per step, main steps
// first then finally steps, each group in the order the steps were added.
type Report struct {
	// Steps holds one report per step.
	Steps []StepReport
	// Start is when the run started.
	Start time.Time
	// Duration is the run's wall time, finally steps included.
	Duration time.Duration
}

// Step returns the report of the step named name.
func (r *Report) Step(name string) (StepReport, bool) {
	for _, s := range r.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return StepReport{}, false
}

// Err returns the errors of all failed and canceled steps, joined, or nil.
func (r *Report) Err() error {
	var errs []error
	for _, s := range r.Steps {
		if s.Err != nil {
			errs = append(errs, s.Err)
		}
	}
	return errors.Join(errs...)
}

// Count returns how many steps ended with status st.
func (r *Report) Count(st Status) int {
	n := 0
	for _, s := range r.Steps {
		if s.Status == st {
			n++
		}
	}
	return n
}

// EventType says what an [Event] reports.
type EventType string

// Event types, in the order a step emits them.
const (
	// StepStarted: the step's first attempt is starting.
	StepStarted EventType = "started"
	// AttemptFailed: an attempt failed and the step will retry after
	// Event.Backoff.
	AttemptFailed EventType = "attempt-failed"
	// StepFinished: the step succeeded, failed or was canceled.
	StepFinished EventType = "finished"
	// StepSkipped: the step will not run; Event.Reason says why.
	StepSkipped EventType = "skipped"
)

// Event is one thing that happened to a step, delivered to [Observer]s.
type Event struct {
	// Type is what happened.
	Type EventType
	// Step is the step's name.
	Step string
	// Finally reports whether the step is a finally step.
	Finally bool
	// Time is when it happened, by the engine's clock.
	Time time.Time
	// Attempt is the attempt number (1-based) for StepStarted,
	// AttemptFailed and StepFinished.
	Attempt int
	// Status is the step's final status for StepFinished and StepSkipped.
	Status Status
	// Duration is the step's duration for StepFinished.
	Duration time.Duration
	// Backoff is the wait before the next attempt for AttemptFailed.
	Backoff time.Duration
	// Reason is the skip reason for StepSkipped.
	Reason string
	// Err is the attempt's error for AttemptFailed and the step's error
	// for a failed or canceled StepFinished.
	Err error
}

// Observer receives step events as a run progresses, for progress output
// and logs. Events of one step arrive in order; events of steps running
// in parallel arrive concurrently, so an Observer must be safe for
// concurrent use. OnEvent runs on the engine's goroutines and must not
// block. An observer that panics is recovered: it receives no further
// events of that run, and [Engine.Run]'s error includes a [*PanicError]
// naming it and the event, so a broken audit or progress observer is never
// silent. The steps' outcomes are not changed.
type Observer interface {
	// OnEvent receives one event.
	OnEvent(e Event)
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(e Event)

var _ Observer = ObserverFunc(nil)

// OnEvent calls f(e).
func (f ObserverFunc) OnEvent(e Event) { f(e) }
