package healthtest

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/health"
)

// checkMeasurement checks one measurement against the contract of
// [health.Evaluator].
func checkMeasurement(t *testing.T, m health.Measurement) {
	t.Helper()
	assert.False(t, m.Time.IsZero(), "measurement has no Time")
	assert.Contains(t, []health.Phase{health.Successful, health.Failed, health.Inconclusive, health.Error}, m.Phase,
		"phase %q is not terminal", m.Phase)
	if m.Phase == health.Error {
		assert.Error(t, m.Err, "Error measurement without Err")
	} else {
		assert.NoError(t, m.Err, "%s measurement with Err", m.Phase)
	}
	if m.Phase == health.Error || m.Phase == health.Inconclusive {
		assert.NotEmpty(t, m.Message, "%s measurement without a message", m.Phase)
	}
	if m.Phase == health.Successful {
		assert.True(t, !math.IsNaN(m.Value) || len(m.Values) > 0, "Successful measurement without a value")
	}
	if m.Err != nil {
		msg := m.Err.Error()
		assert.Equal(t, strings.TrimSpace(msg), msg, "error text with leading or trailing space: %q", msg)
	}
	assert.Equal(t, strings.TrimSpace(m.Message), m.Message, "message with leading or trailing space: %q", m.Message)
}

// evaluateConcurrently takes n measurements of e at once.
func evaluateConcurrently(e health.Evaluator, n int) []health.Measurement {
	ms := make([]health.Measurement, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ms[i] = e.Evaluate(context.Background())
		}()
	}
	wg.Wait()
	return ms
}

// TestEvaluator runs the conformance suite against evaluators built by
// newEvaluator, which is called once per subtest and must return an
// evaluator of a target that is up (its phase may be anything). It checks
// the contract of [health.Evaluator]:
//
//   - every measurement has a Time and a terminal phase (Successful,
//     Failed, Inconclusive or Error);
//   - Err is non-nil exactly when the phase is Error, and Error and
//     Inconclusive measurements carry a message;
//   - a Successful measurement carries a value (Value not NaN, or Values);
//   - neither Err's text nor Message starts or ends with white space (no
//     trailing newline);
//   - a cancelled or expired context yields an Error measurement whose Err
//     wraps context.Canceled or context.DeadlineExceeded;
//   - concurrent calls are safe (run the suite with -race).
//
// [TestEvaluatorFailSafe] checks the other half of the contract: an
// evaluator that cannot measure never reports Successful.
func TestEvaluator(t *testing.T, newEvaluator func(t *testing.T) health.Evaluator) {
	t.Helper()
	check := checkMeasurement

	t.Run("Measurement", func(t *testing.T) {
		e := newEvaluator(t)
		require.NotNil(t, e)
		check(t, e.Evaluate(context.Background()))
	})

	t.Run("Cancelled", func(t *testing.T) {
		e := newEvaluator(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		m := e.Evaluate(ctx)
		check(t, m)
		assert.Equal(t, health.Error, m.Phase)
		assert.True(t, errors.Is(m.Err, context.Canceled), "Err %v does not wrap context.Canceled", m.Err)
	})

	t.Run("DeadlineExceeded", func(t *testing.T) {
		e := newEvaluator(t)
		ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
		defer cancel()
		m := e.Evaluate(ctx)
		check(t, m)
		assert.Equal(t, health.Error, m.Phase)
		assert.True(t, errors.Is(m.Err, context.DeadlineExceeded), "Err %v does not wrap context.DeadlineExceeded", m.Err)
	})

	t.Run("Concurrent", func(t *testing.T) {
		for _, m := range evaluateConcurrently(newEvaluator(t), 8) {
			check(t, m)
		}
	})
}

// TestEvaluatorFailSafe runs the fail-safe suite against evaluators built
// by newBroken, which is called once per subtest and must return an
// evaluator that cannot measure a healthy target: its target is down,
// answers errors or garbage, has no data, or is judged unhealthy. Call it
// once per way of breaking the target. It checks that:
//
//   - no measurement is Successful, whether taken once, repeatedly (an
//     evaluator that keeps state between calls, such as a probe's
//     consecutive counts or a rate's previous reading, must stay
//     fail-safe) or concurrently, and each still meets the contract
//     [TestEvaluator] checks;
//   - no analysis of it is Successful, under every combination of success
//     and failure conditions (none, always true, always false) and every
//     metric shape (measured once, a count, a background metric ended by
//     the analysis duration): no condition turns its failure or its
//     missing data into a success. The analyses run on a clocktest auto
//     clock, so they take no real time.
func TestEvaluatorFailSafe(t *testing.T, newBroken func(t *testing.T) health.Evaluator) {
	t.Helper()
	notSuccessful := func(t *testing.T, m health.Measurement) {
		t.Helper()
		checkMeasurement(t, m)
		assert.NotEqual(t, health.Successful, m.Phase,
			"an evaluator that cannot measure reported Successful: %s (value %g)", m.Message, m.Value)
	}

	t.Run("Repeated", func(t *testing.T) {
		e := newBroken(t)
		require.NotNil(t, e)
		for range 6 {
			notSuccessful(t, e.Evaluate(context.Background()))
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		for _, m := range evaluateConcurrently(newBroken(t), 8) {
			notSuccessful(t, m)
		}
	})

	conditions := []struct {
		name string
		cond health.Condition
	}{
		{"none", nil},
		{"always", func(health.Measurement) bool { return true }},
		{"never", func(health.Measurement) bool { return false }},
	}
	shapes := []struct {
		name     string
		metric   health.Metric
		duration time.Duration
	}{
		{"once", health.Metric{}, 0},
		{"count", health.Metric{Interval: time.Minute, Count: 3, FailureLimit: 1, InconclusiveLimit: 1}, 0},
		{"background", health.Metric{Interval: time.Minute, FailureLimit: -1, InconclusiveLimit: -1,
			ConsecutiveErrorLimit: health.Limit(1000)}, 2 * time.Minute},
	}
	t.Run("Analysis", func(t *testing.T) {
		for _, sh := range shapes {
			for _, sc := range conditions {
				for _, fc := range conditions {
					t.Run(sh.name+"/success="+sc.name+"/failure="+fc.name, func(t *testing.T) {
						r, err := health.NewRunner(health.WithClock(clocktest.NewAuto(time.Time{})))
						require.NoError(t, err)
						m := sh.metric
						m.Name, m.Evaluator = "broken", newBroken(t)
						m.SuccessCondition, m.FailureCondition = sc.cond, fc.cond
						res, err := r.Run(context.Background(), health.Analysis{Metrics: []health.Metric{m}, Duration: sh.duration})
						require.NoError(t, err)
						assert.NotEqual(t, health.Successful, res.Phase, "the analysis of an evaluator that cannot measure is Successful: %s", res.Message)
						if mr := res.Metric("broken"); assert.NotNil(t, mr) {
							assert.Zero(t, mr.Successful, "successful measurements from an evaluator that cannot measure")
						}
					})
				}
			}
		}
	})
}
