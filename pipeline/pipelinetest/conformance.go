package pipelinetest

import (
	"context"
	"sync"
	"testing"

	"github.com/flightdeck-dev/flightdeck/pipeline"
)

// TestStage is a conformance suite for [pipeline.Stage] implementations,
// in the style of testing/slogtest. newStage returns the stage under test
// and a state holding whatever inputs it reads; it is called once per
// subtest. The suite checks that
//
//   - Name is non-empty and stable;
//   - Run returns when its context is already cancelled (a stage that
//     ignores its context makes the subtest hang until the test binary's
//     timeout), and an error it returns then is not nil-wrapped garbage:
//     it has a message;
//   - Run returns when its context is cancelled while it runs;
//   - concurrent Runs, each with its own state, are race-free (run the
//     suite with -race); their shared context is cancelled once all have
//     been launched, so stages that run long still end.
//
// The stage's work should be cheap or fake: the suite runs it several
// times.
func TestStage(t *testing.T, newStage func(t *testing.T) (pipeline.Stage, *pipeline.State)) {
	t.Helper()
	t.Run("Name", func(t *testing.T) {
		s, _ := newStage(t)
		n := s.Name()
		if n == "" {
			t.Fatal("Name() is empty")
		}
		if s.Name() != n {
			t.Fatalf("Name() changed between calls: %q then %q", n, s.Name())
		}
	})
	t.Run("CancelledBeforeRun", func(t *testing.T) {
		s, st := newStage(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Run(ctx, st); err != nil && err.Error() == "" {
			t.Fatal("Run returned an error with an empty message")
		}
	})
	t.Run("CancelledWhileRunning", func(t *testing.T) {
		s, st := newStage(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, st) }()
		cancel()
		<-done
	})
	t.Run("Concurrent", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 4 {
			s, st := newStage(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = s.Run(ctx, st)
			}()
		}
		// Cancelled once all are launched, so long-running stages end
		// too; short ones usually finish first.
		cancel()
		wg.Wait()
	})
}
