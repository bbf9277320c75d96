package clock_test

import (
	"context"
	"fmt"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
)

// A component takes a clock.Clock; nil would mean the system clock. In a
// test, one clocktest.Clock drives it.
func ExampleSleep() {
	c := clocktest.NewAuto(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	for i := 0; i < 3; i++ {
		_ = clock.Sleep(context.Background(), c, 20*time.Minute)
	}
	fmt.Println(c.Now().Format(time.Kitchen))
	// Output: 10:00AM
}

func ExampleSleep_cancelled() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fmt.Println(clock.Sleep(ctx, nil, time.Hour))
	// Output: context canceled
}
