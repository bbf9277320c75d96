package pipelinetest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/pipelinetest"
)

func TestFailTimesThenSucceeds(t *testing.T) {
	boom := errors.New("boom")
	s := pipelinetest.FailTimes("x", 2, boom)
	ctx := context.Background()
	assert.ErrorIs(t, s.Run(ctx, nil), boom)
	assert.ErrorIs(t, s.Run(ctx, nil), boom)
	assert.NoError(t, s.Run(ctx, nil))
	calls := s.Calls()
	require.Len(t, calls, 3)
	assert.Equal(t, []int{1, 2, 3}, []int{calls[0].Attempt, calls[1].Attempt, calls[2].Attempt})
	assert.ErrorIs(t, calls[0].Err, boom)
	assert.NoError(t, calls[2].Err)
	assert.Equal(t, "x", s.Name())
}

func TestFailAlwaysAndDefaultError(t *testing.T) {
	s := pipelinetest.Fail("x", nil)
	for range 3 {
		assert.ErrorIs(t, s.Run(context.Background(), nil), pipelinetest.ErrInjected)
	}
	assert.Equal(t, 3, s.CallCount())
}

func TestFailNextInjectsIntoSucceedingStage(t *testing.T) {
	s := pipelinetest.Succeed("x")
	require.NoError(t, s.Run(context.Background(), nil))
	s.FailNext(1, nil)
	assert.ErrorIs(t, s.Run(context.Background(), nil), pipelinetest.ErrInjected)
	assert.NoError(t, s.Run(context.Background(), nil))
}

func TestBlockUntilCancelledRecordsDeadline(t *testing.T) {
	s := pipelinetest.Block("x")
	deadline := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	go func() { <-s.Started(); cancel() }()
	err := s.Run(ctx, nil)
	require.ErrorIs(t, err, context.Canceled)
	c := s.Calls()[0]
	assert.True(t, c.HadDeadline)
	assert.True(t, c.Deadline.Equal(deadline))
	assert.ErrorIs(t, c.CtxErr, context.Canceled)
}

func TestDoHookRunsOnSuccess(t *testing.T) {
	k := pipeline.NewKey[string]("t.k")
	st := pipeline.NewState()
	s := pipelinetest.Succeed("x").Do(func(_ context.Context, st *pipeline.State) error {
		k.Put(st, "v")
		return nil
	})
	require.NoError(t, s.Run(context.Background(), st))
	v, err := k.Get(st)
	require.NoError(t, err)
	assert.Equal(t, "v", v)
}

func TestStageConcurrentUse(t *testing.T) {
	s := pipelinetest.FailTimes("x", 5, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	fails := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.Run(context.Background(), nil) != nil {
				mu.Lock()
				fails++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 5, fails)
	assert.Equal(t, 20, s.CallCount())
}

func TestGateCountsConcurrency(t *testing.T) {
	g := pipelinetest.NewGate()
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); assert.NoError(t, g.Stage(fmt.Sprint(i)).Run(ctx, nil)) }()
	}
	require.NoError(t, g.WaitActive(ctx, 3))
	g.Open()
	g.Open() // idempotent
	wg.Wait()
	assert.Equal(t, 3, g.Max())
	assert.Equal(t, 3, g.Entered())

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, pipelinetest.NewGate().WaitActive(cctx, 1), context.Canceled)
	assert.ErrorIs(t, pipelinetest.NewGate().Stage("s").Run(cctx, nil), context.Canceled)
}

func TestRecorder(t *testing.T) {
	var r pipelinetest.Recorder
	r.OnEvent(pipeline.Event{Type: pipeline.StepStarted, Step: "a", Attempt: 1})
	r.OnEvent(pipeline.Event{Type: pipeline.StepSkipped, Step: "b", Reason: "condition is false"})
	r.OnEvent(pipeline.Event{Type: pipeline.AttemptFailed, Step: "a", Attempt: 1, Backoff: time.Second})
	r.OnEvent(pipeline.Event{Type: pipeline.StepFinished, Step: "a", Attempt: 2, Status: pipeline.Failed})
	assert.Len(t, r.Events(), 4)
	assert.Len(t, r.For("a"), 3)
	assert.Equal(t, []string{
		"a started attempt=1",
		"b skipped: condition is false",
		"a attempt-failed attempt=1 backoff=1s",
		"a finished failed attempts=2",
	}, r.Lines())
}

// A stage that fails twice succeeds on the third attempt of a retried step.
func ExampleFailTimes() {
	flaky := pipelinetest.FailTimes("flaky", 2, nil)
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: flaky, Retry: pipeline.Retry{Attempts: 3, Backoff: time.Millisecond}})
	g, _ := b.Build()
	e, _ := pipeline.New()
	rep, err := e.Run(context.Background(), g, nil)
	s, _ := rep.Step("flaky")
	fmt.Println(s.Status, s.Attempts, err, flaky.CallCount())
	// Output: succeeded 3 <nil> 3
}

func TestConformanceOfFakes(t *testing.T) {
	for name, mk := range map[string]func() pipeline.Stage{
		"succeed": func() pipeline.Stage { return pipelinetest.Succeed("s") },
		"fail":    func() pipeline.Stage { return pipelinetest.Fail("f", nil) },
		"block":   func() pipeline.Stage { return pipelinetest.Block("b") },
		"gate":    func() pipeline.Stage { return pipelinetest.NewGate().Stage("g") },
	} {
		t.Run(name, func(t *testing.T) {
			pipelinetest.TestStage(t, func(t *testing.T) (pipeline.Stage, *pipeline.State) {
				return mk(), pipeline.NewState()
			})
		})
	}
}
