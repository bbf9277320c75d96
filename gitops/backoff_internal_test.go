package gitops

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The wait between attempts is jittered within [d/2, d), where d doubles
// per attempt from the larger of the base and the lost attempt's length,
// and is capped.
func TestBackoffIsJitteredGrowingAndCapped(t *testing.T) {
	r, err := New("file:///nowhere", WithRetry(10, 10*time.Millisecond, 80*time.Millisecond))
	require.NoError(t, err)
	for _, c := range []struct {
		attempt int
		took    time.Duration
		d       time.Duration
	}{
		{1, 0, 10 * time.Millisecond},
		{2, 0, 20 * time.Millisecond},
		{3, time.Millisecond, 40 * time.Millisecond},
		{1, 30 * time.Millisecond, 30 * time.Millisecond},
		{4, 0, 80 * time.Millisecond},
		{9, 0, 80 * time.Millisecond},
		{64, 0, 80 * time.Millisecond},
	} {
		seen := map[time.Duration]bool{}
		for range 200 {
			w := r.backoff(c.attempt, c.took)
			require.GreaterOrEqual(t, w, c.d/2, "attempt %d", c.attempt)
			require.Less(t, w, c.d, "attempt %d", c.attempt)
			seen[w] = true
		}
		assert.Greater(t, len(seen), 1, "attempt %d: the wait is jittered", c.attempt)
	}
}
