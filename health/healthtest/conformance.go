package healthtest

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/health"
)

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
//   - a cancelled or expired context yields an Error measurement whose Err
//     wraps context.Canceled or context.DeadlineExceeded;
//   - concurrent calls are safe (run the suite with -race).
func TestEvaluator(t *testing.T, newEvaluator func(t *testing.T) health.Evaluator) {
	t.Helper()
	check := func(t *testing.T, m health.Measurement) {
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
	}

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
		e := newEvaluator(t)
		const n = 8
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
		for _, m := range ms {
			check(t, m)
		}
	})
}
