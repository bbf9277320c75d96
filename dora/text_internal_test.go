package dora

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDayCount(t *testing.T) {
	for d, want := range map[float64]string{1: "1 day", 7: "7 days", 0.5: "0.5 days", 30: "30 days"} {
		if got := dayCount(d); got != want {
			t.Errorf("dayCount(%v) = %q, want %q", d, got, want)
		}
	}
}

// A period shorter than a day says how long it was, and that the
// frequency counts it as a day, instead of calling it "1 day".
func TestPeriodText(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 23, 29, 0, time.UTC)
	assert.Equal(t, "1h4m; per-day figures count it as 1 day", periodText(at, at.Add(64*time.Minute+12*time.Second)))
	assert.Equal(t, "1 day", periodText(at, at.Add(Day)))
	assert.Equal(t, "7 days", periodText(at, at.Add(7*Day)))
}
