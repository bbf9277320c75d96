package health

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock"
)

// Measurement is one observation made by an [Evaluator].
//
// Phase says what the observation means:
//   - [Successful]: a value was obtained (and, for evaluators that judge,
//     such as [HTTPProbe], it was acceptable);
//   - [Failed]: the evaluator judged the target unhealthy;
//   - [Inconclusive]: there was no data (an empty query result, NaN, a
//     counter not yet seen twice) — never success;
//   - [Error]: the measurement could not be taken (unreachable endpoint,
//     timeout, malformed response); Err says why.
type Measurement struct {
	// Time is when the measurement was taken.
	Time time.Time
	// Value is the primary value; NaN when there is none.
	Value float64
	// Values holds every value of a multi-valued measurement (one per
	// series or per named child), keyed by a stable label string. Nil for
	// single-valued measurements.
	Values map[string]float64
	// Phase is the outcome; see the type documentation.
	Phase Phase
	// Message explains the phase in words a person can act on.
	Message string
	// Err is the cause of an Error phase, nil otherwise.
	Err error
}

// Evaluator takes one measurement of something whose health matters.
// Evaluate must respect ctx: once ctx is done it returns promptly with an
// [Error] measurement whose Err wraps ctx.Err(). Implementations must be
// safe for concurrent use.
type Evaluator interface {
	Evaluate(ctx context.Context) Measurement
}

// Func adapts an ordinary function to [Evaluator].
type Func func(ctx context.Context) Measurement

// Evaluate calls f(ctx).
func (f Func) Evaluate(ctx context.Context) Measurement { return f(ctx) }

var _ Evaluator = Func(nil)

// ErrNoData names the lack of data: an empty query result, a NaN value, or
// a rate asked for before two scrapes. Evaluators report no data as an
// [Inconclusive] measurement without Err whose Message ends with it; a
// metric whose Metric.NoData is [Error] gets an Error measurement whose
// Err is ErrNoData.
var ErrNoData = errors.New("no data")

// ErrMultipleSeries is the Err of an [Error] measurement from an evaluator
// that expected one series and got several.
var ErrMultipleSeries = errors.New("more than one series where one was expected")

// errorMeasurement builds an Error measurement taken at t.
func errorMeasurement(t time.Time, err error) Measurement {
	return Measurement{Time: t, Value: math.NaN(), Phase: Error, Message: err.Error(), Err: err}
}

func noData(t time.Time, what string) Measurement {
	return Measurement{Time: t, Value: math.NaN(), Phase: Inconclusive,
		Message: what + ": " + ErrNoData.Error(), Err: nil}
}

func valueMeasurement(t time.Time, v float64, msg string) Measurement {
	return Measurement{Time: t, Value: v, Phase: Successful, Message: msg}
}

// phaseRank orders phases as Argo Rollouts does when it aggregates
// measurements into a run: Successful < Inconclusive < Error < Failed.
func phaseRank(p Phase) int {
	switch p {
	case Successful:
		return 0
	case Running, "":
		return 1
	case Inconclusive:
		return 2
	case Error:
		return 3
	case Failed:
		return 4
	}
	return 3
}

// WorsePhase returns the worse of a and b in the order Successful <
// Running < Inconclusive < Error < Failed.
func WorsePhase(a, b Phase) Phase {
	if phaseRank(b) > phaseRank(a) {
		return b
	}
	return a
}

// Named pairs an evaluator with a name for combinators and analysis runs.
type Named struct {
	Name      string
	Evaluator Evaluator
}

// evaluateAll runs every evaluator concurrently and returns the
// measurements in the given order.
func evaluateAll(ctx context.Context, evals []Named) []Measurement {
	out := make([]Measurement, len(evals))
	var wg sync.WaitGroup
	for i, e := range evals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = e.Evaluator.Evaluate(ctx)
		}()
	}
	wg.Wait()
	return out
}

// settle applies the fail-safe rules every consumer of a measurement
// relies on: a Successful measurement without a value (Value NaN and no
// Values) is no data, a phase outside the documented set is an Error, and
// an Error always carries Err.
func settle(m Measurement) Measurement {
	switch m.Phase {
	case Successful:
		if math.IsNaN(m.Value) && len(m.Values) == 0 {
			m.Phase = Inconclusive
			m.Message = withReason(m.Message, "successful without a value: "+ErrNoData.Error())
		}
	case Failed, Inconclusive, Running:
	case "":
		m.Phase = Running
	case Error:
		if m.Err == nil {
			m.Err = errors.New(withReason(m.Message, "error without a cause"))
		}
	default:
		m.Err = fmt.Errorf("%w: phase %q", ErrUnknownPhase, m.Phase)
		m.Message = withReason(m.Message, m.Err.Error())
		m.Phase = Error
	}
	return m
}

// withReason appends reason to msg, or returns reason alone.
func withReason(msg, reason string) string {
	if msg == "" {
		return reason
	}
	return msg + " (" + reason + ")"
}

// ErrUnknownPhase is the Err of an [Error] measurement made from an
// evaluator's measurement whose phase is none of the documented ones: a
// phase nothing understands is never read as a verdict.
var ErrUnknownPhase = errors.New("unknown measurement phase")

func combine(kind string, evals []Named, decide func([]Measurement) Phase) Evaluator {
	return Func(func(ctx context.Context) Measurement {
		if err := ctx.Err(); err != nil {
			return errorMeasurement(time.Now(), fmt.Errorf("%s: %w", kind, err))
		}
		if len(evals) == 0 {
			return noData(time.Now(), kind+" of nothing")
		}
		ms := evaluateAll(ctx, evals)
		// The combined measurement is as late as its latest child, so the
		// children's clock (a fake one in tests) dates it.
		var t time.Time
		for i := range ms {
			ms[i] = settle(ms[i])
			if ms[i].Time.After(t) {
				t = ms[i].Time
			}
		}
		if t.IsZero() {
			t = time.Now()
		}
		m := Measurement{Time: t, Value: math.NaN(), Values: make(map[string]float64, len(ms))}
		var errs []error
		var parts []string
		for i, c := range ms {
			m.Values[evals[i].Name] = c.Value
			parts = append(parts, fmt.Sprintf("%s: %s", evals[i].Name, c.Phase))
			if c.Err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", evals[i].Name, c.Err))
			}
		}
		m.Phase = decide(ms)
		m.Message = kind + " (" + strings.Join(parts, ", ") + ")"
		if m.Phase == Error {
			m.Err = errors.Join(errs...)
		}
		if ctx.Err() != nil && m.Phase != Error {
			// Children cut short by the caller: what they said is not a verdict.
			m.Phase, m.Err = Error, fmt.Errorf("%s: %w", kind, ctx.Err())
		}
		return m
	})
}

// AllOf returns an evaluator that evaluates every child concurrently and is
// [Successful] only when all children are; otherwise it takes the worst
// child phase (Running < Inconclusive < Error < Failed). Values holds each
// child's value by name. With no children it is Inconclusive (no data).
// A child's Successful measurement without a value counts as no data and
// a child's unknown phase as an Error, so a child that cannot measure
// never makes the combination Successful. The measurement's Time is the
// latest child's.
func AllOf(evals ...Named) Evaluator {
	return combine("all of", evals, func(ms []Measurement) Phase {
		p := Successful
		for _, m := range ms {
			p = WorsePhase(p, m.Phase)
		}
		return p
	})
}

// AnyOf returns an evaluator that evaluates every child concurrently and is
// [Successful] when at least one child is; otherwise it takes the least bad
// child phase (Running < Inconclusive < Error < Failed), so it is Failed
// only when every child failed. With no children it is Inconclusive (no
// data). Children are read as for [AllOf].
func AnyOf(evals ...Named) Evaluator {
	return combine("any of", evals, func(ms []Measurement) Phase {
		best := Failed
		for _, m := range ms {
			if m.Phase == Successful {
				return Successful
			}
			if phaseRank(m.Phase) < phaseRank(best) {
				best = m.Phase
			}
		}
		return best
	})
}

// WorstStatus evaluates a set of status sources and aggregates them with
// [Worst], as Argo CD aggregates resource health into application health.
// Use it with [ObjectHealth] to turn a set of Kubernetes objects into one
// measurement.
type WorstStatus struct {
	// Objects lists the objects to assess. It is called on every
	// evaluation; an error becomes an Error measurement.
	Objects func(ctx context.Context) ([]map[string]any, error)
	// Clock stamps the measurements; nil means the system clock.
	Clock clock.Clock
}

var _ Evaluator = (*WorstStatus)(nil)

// Evaluate assesses every object with [ObjectHealth] and maps the worst
// status to a phase: Healthy → Successful, Degraded → Failed, Suspended,
// Progressing and Missing → Inconclusive (not decided yet; an analysis
// metric waiting for health sets InconclusiveLimit accordingly), Unknown →
// Error.
// No objects at all is no data (Inconclusive wrapping nothing, message
// ending in [ErrNoData]): nothing to judge is not healthy. A malformed
// object is an Error naming it. Values counts the objects per status.
func (w *WorstStatus) Evaluate(ctx context.Context) Measurement {
	t := clock.Or(w.Clock).Now()
	if w.Objects == nil {
		return errorMeasurement(t, errors.New("worst status: no object source"))
	}
	if err := ctx.Err(); err != nil {
		return errorMeasurement(t, fmt.Errorf("worst status: %w", err))
	}
	objs, err := w.Objects(ctx)
	if err != nil {
		return errorMeasurement(t, fmt.Errorf("worst status: listing objects: %w", err))
	}
	if len(objs) == 0 {
		return noData(t, "worst status of no objects")
	}
	counts := map[string]float64{}
	worst := Healthy
	var msgs []string
	for _, o := range objs {
		st, msg, err := ObjectHealth(o)
		if err != nil {
			return errorMeasurement(t, fmt.Errorf("worst status: %w", err))
		}
		counts[string(st)]++
		worst = Worst(worst, st)
		if st != Healthy && msg != "" {
			msgs = append(msgs, msg)
		}
	}
	sort.Strings(msgs)
	m := Measurement{Time: t, Value: math.NaN(), Values: counts,
		Message: fmt.Sprintf("worst status of %d objects %s", len(objs), worst)}
	if len(msgs) > 0 {
		m.Message += ": " + strings.Join(msgs, "; ")
	}
	switch worst {
	case Healthy:
		m.Phase = Successful
	case Degraded:
		m.Phase = Failed
	case Unknown:
		m.Phase = Error
		m.Err = errors.New(m.Message)
	default:
		m.Phase = Inconclusive
	}
	return m
}
