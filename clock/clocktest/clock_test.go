package clocktest_test

import (
	"context"
	"errors"
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

// Drive moves the clock each time the driven code waits on it, and
// returns what the code returned once it is done.
func TestDriveRunsTheCodeToItsEnd(t *testing.T) {
	c := clocktest.New(time.Time{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // hang guard only
	defer cancel()
	polls, err := clocktest.Drive(ctx, c, 1, func(ctx context.Context) (int, error) {
		for n := 1; ; n++ {
			if err := c.Sleep(ctx, time.Minute); err != nil {
				return n, err
			}
			if c.Now().Sub(clocktest.Default) >= 5*time.Minute {
				return n, nil
			}
		}
	})
	require.NoError(t, err)
	assert.Equal(t, 5, polls)
	assert.Equal(t, clocktest.Default.Add(5*time.Minute), c.Now())
	assert.Equal(t, 0, c.Pending())

	// A timer left pending is counted in: the code's deadline and its
	// polls.
	_ = c.After(time.Hour)
	_, err = clocktest.Drive(ctx, c, c.Pending()+2, func(ctx context.Context) (struct{}, error) {
		deadline := c.After(10 * time.Minute)
		for {
			select {
			case <-deadline:
				return struct{}{}, errors.New("deadline")
			case <-c.After(3 * time.Minute):
			}
		}
	})
	assert.EqualError(t, err, "deadline")
	assert.Equal(t, clocktest.Default.Add(15*time.Minute), c.Now(), "the deadline came after three polls")
}

// Drive stops moving the clock when its context ends, and returns once
// the code, which heeds the context, returns.
func TestDriveEndsWithContext(t *testing.T) {
	c := clocktest.New(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	_, err := clocktest.Drive(ctx, c, 2, func(ctx context.Context) (bool, error) {
		cancel() // the code waits on one timer, never on two
		return false, c.Sleep(ctx, time.Hour)
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, clocktest.Default, c.Now(), "the clock did not move")
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

func ExampleDrive() {
	c := clocktest.New(time.Time{})
	polls, _ := clocktest.Drive(context.Background(), c, 1, func(ctx context.Context) (int, error) {
		n := 0
		for ; c.Now().Before(clocktest.Default.Add(time.Minute)); n++ {
			if err := c.Sleep(ctx, 10*time.Second); err != nil {
				return n, err
			}
		}
		return n, nil
	})
	fmt.Println(polls, c.Now().Format(time.TimeOnly))
	// Output: 6 00:01:00
}

func ExampleNewAuto() {
	c := clocktest.NewAuto(time.Time{})
	_ = clock.Sleep(context.Background(), c, 10*time.Minute)
	fmt.Println(c.Now().Format(time.TimeOnly))
	// Output: 00:10:00
}
