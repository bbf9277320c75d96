package dora

import "testing"

func TestDayCount(t *testing.T) {
	for d, want := range map[float64]string{1: "1 day", 7: "7 days", 0.5: "0.5 days", 30: "30 days"} {
		if got := dayCount(d); got != want {
			t.Errorf("dayCount(%v) = %q, want %q", d, got, want)
		}
	}
}
