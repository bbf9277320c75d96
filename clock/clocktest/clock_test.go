package clocktest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
)

func TestManualFiresInDeadlineOrder(t *testing.T) {
	c := clocktest.New(time.Time{})
	assert.Equal(t, clocktest.Default, c.Now())
	late, early := c.After(2*time.Minute), c.After(time.Minute)
	assert.Equal(t, 2, c.Pending())

	c.Advance(30 * time.Second)
	select {
	case <-early:
		t.Fatal("timer fired before its deadline")
	default:
	}
	require.True(t, c.AdvanceToNext())
	assert.Equal(t, clocktest.Default.Add(time.Minute), <-early)
	c.Advance(time.Hour)
	assert.Equal(t, clocktest.Default.Add(2*time.Minute), <-late, "a timer reads its own deadline")
	assert.Equal(t, clocktest.Default.Add(time.Minute+time.Hour), c.Now())
	assert.False(t, c.AdvanceToNext())
	assert.Equal(t, []time.Duration{2 * time.Minute, time.Minute}, c.Waits())
}

func TestAutoMovesToTheDeadline(t *testing.T) {
	c := clocktest.NewAuto(time.Time{})
	got := <-c.After(10 * time.Minute)
	assert.Equal(t, clocktest.Default.Add(10*time.Minute), got)
	assert.Equal(t, got, c.Now())
	assert.Equal(t, 0, c.Pending())
	require.NoError(t, clock.Sleep(context.Background(), c, time.Hour))
	assert.Equal(t, clocktest.Default.Add(70*time.Minute), c.Now())
}

func TestSleepEndsWithContext(t *testing.T) {
	c := clocktest.New(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Sleep(ctx, time.Hour) }()
	require.NoError(t, c.WaitForTimers(context.Background(), 1))
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

func TestConcurrentUse(t *testing.T) {
	c := clocktest.New(time.Time{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-c.After(time.Second)
		}()
	}
	require.NoError(t, c.WaitForTimers(context.Background(), 8))
	c.Advance(time.Second)
	wg.Wait()
	assert.Equal(t, 0, c.Pending())
}

func TestOrAndSystem(t *testing.T) {
	assert.Equal(t, clock.System(), clock.Or(nil))
	c := clocktest.New(time.Time{})
	assert.Same(t, c, clock.Or(c))
	before := time.Now()
	assert.False(t, clock.System().Now().Before(before))
	assert.Equal(t, 5*time.Minute, clock.Since(c, clocktest.Default.Add(-5*time.Minute)))
}

func ExampleClock() {
	c := clocktest.New(time.Time{})
	tick := c.After(90 * time.Second)
	c.Advance(time.Minute)
	c.Advance(time.Minute)
	fmt.Println((<-tick).Format(time.TimeOnly), c.Now().Format(time.TimeOnly))
	// Output: 00:01:30 00:02:00
}

func ExampleNewAuto() {
	c := clocktest.NewAuto(time.Time{})
	_ = clock.Sleep(context.Background(), c, 10*time.Minute)
	fmt.Println(c.Now().Format(time.TimeOnly))
	// Output: 00:10:00
}
