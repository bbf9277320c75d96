package sim

import (
	"time"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
)

// Clock is the drivable clock of the simulated cluster: the same type as
// [clocktest.Clock], so one clock drives the cluster, the fake Argo CD
// server, analysis runs and gitops.WaitFor in a test.
type Clock = clocktest.Clock

// NewClock returns a clock reading start that moves only when the test
// moves it. A zero start means 2026-01-01T00:00:00Z, so outputs are
// reproducible. It is [clocktest.New].
func NewClock(start time.Time) *Clock { return clocktest.New(start) }
