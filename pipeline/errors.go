package pipeline

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// Errors returned by [Builder.Build], each inside a [*GraphError] naming
// the step, all joined. Like the other sentinels of this package their
// text carries no "pipeline:" prefix: the error that wraps them does.
var (
	// ErrInvalidStep means a step has no stage, no name, a negative
	// timeout or attempt count, or a nil or unnamed key.
	ErrInvalidStep = errors.New("invalid step")
	// ErrDuplicateStep means two steps share a name.
	ErrDuplicateStep = errors.New("duplicate step name")
	// ErrUnknownDependency means a step's After names no step of the
	// graph, or a main step is ordered after a finally step.
	ErrUnknownDependency = errors.New("unknown dependency")
	// ErrUnknownKey means a step needs a key that no step provides.
	ErrUnknownKey = errors.New("no step provides key")
	// ErrKeyConflict means two steps provide the same key, or two keys
	// share a name but not a type.
	ErrKeyConflict = errors.New("key conflict")
	// ErrCycle means the steps depend on each other in a cycle; the
	// error lists the steps on it.
	ErrCycle = errors.New("dependency cycle")
)

// ErrNilGraph is returned by [Engine.Run] when given a nil graph; build
// graphs with [Builder.Build].
var ErrNilGraph = errors.New("pipeline: nil graph; build graphs with Builder.Build")

// Errors returned by [Engine.Run], each inside a [*StepError].
var (
	// ErrAttemptTimeout means an attempt ran longer than its step's
	// Timeout while the run's context was still live.
	ErrAttemptTimeout = errors.New("attempt timed out")
	// ErrMissingResult means a stage returned nil without putting a
	// result its step Provides.
	ErrMissingResult = errors.New("stage did not provide result")
	// ErrPanic means a stage, a When condition or a Retry.If panicked; the
	// error is a [*PanicError] with the panic value and stack. A panic in
	// an [Observer] is recovered too, and reported in Run's error.
	ErrPanic = errors.New("panicked")
)

// ErrNoValue is returned (wrapped, naming the key) by [Key.Get] when the
// state holds no value of the key's type.
var ErrNoValue = errors.New("no value")

// GraphError is one problem [Builder.Build] found with a step.
type GraphError struct {
	// Step is the step's name (or its position when it has none).
	Step string
	// Err describes the problem and wraps one of the ErrX sentinels.
	Err error
}

// Error returns "pipeline: step NAME: problem".
func (e *GraphError) Error() string { return fmt.Sprintf("pipeline: step %q: %v", e.Step, e.Err) }

// Unwrap returns the underlying error.
func (e *GraphError) Unwrap() error { return e.Err }

// StepError is the failure of one step in a run, after its last attempt.
type StepError struct {
	// Step is the step's name.
	Step string
	// Attempts is the number of attempts made.
	Attempts int
	// Err is the last attempt's error.
	Err error
}

// Error returns "pipeline: step NAME failed after N attempt(s): cause".
func (e *StepError) Error() string {
	s := "s"
	if e.Attempts == 1 {
		s = ""
	}
	return fmt.Sprintf("pipeline: step %q failed after %d attempt%s: %v", e.Step, e.Attempts, s, e.Err)
}

// Unwrap returns the last attempt's error.
func (e *StepError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying: a step whose stage returns it
// fails at once, whatever its [Retry] policy says. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// IsPermanent reports whether err, or any error it wraps, was marked with
// [Permanent].
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// PanicError is a panic the engine recovered. It wraps [ErrPanic], and the
// panic value too when that is an error.
type PanicError struct {
	// In says what panicked: "stage", "When condition", "Retry.If" or
	// "observer".
	In string
	// Value is the value passed to panic.
	Value any
	// Stack is the panicking goroutine's stack.
	Stack []byte
}

func newPanicError(in string, v any) *PanicError {
	return &PanicError{In: in, Value: v, Stack: debug.Stack()}
}

// Error returns "IN panicked: VALUE".
func (e *PanicError) Error() string { return fmt.Sprintf("%s panicked: %v", e.In, e.Value) }

// Unwrap returns [ErrPanic], and the panic value when it is an error.
func (e *PanicError) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{ErrPanic, err}
	}
	return []error{ErrPanic}
}
