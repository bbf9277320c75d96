package health_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/flightdeck-dev/flightdeck/health"
)

func TestWorst(t *testing.T) {
	order := []health.Status{health.Healthy, health.Suspended, health.Progressing, health.Missing, health.Degraded, health.Unknown}
	for i, a := range order {
		for j, b := range order {
			want := a
			if j > i {
				want = b
			}
			assert.Equal(t, want, health.Worst(a, b), "%s vs %s", a, b)
		}
	}
	assert.Equal(t, health.Healthy, health.Worst())
	assert.Equal(t, health.Status("Weird"), health.Worst(health.Degraded, "Weird"), "an unrecognised status counts as Unknown")
}

func TestPhaseCompleted(t *testing.T) {
	assert.False(t, health.Running.Completed())
	assert.False(t, health.Phase("").Completed())
	for _, p := range []health.Phase{health.Successful, health.Failed, health.Inconclusive, health.Error} {
		assert.True(t, p.Completed(), p)
	}
}
