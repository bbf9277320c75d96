package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/pipelinetest"
)

var (
	keyA = pipeline.NewKey[string]("test.a")
	keyB = pipeline.NewKey[int]("test.b")
)

func keys(k ...pipeline.AnyKey) []pipeline.AnyKey { return k }

func build(t *testing.T, b *pipeline.Builder) *pipeline.Graph {
	t.Helper()
	g, err := b.Build()
	require.NoError(t, err)
	return g
}

func newEngine(t *testing.T, opts ...pipeline.Option) *pipeline.Engine {
	t.Helper()
	e, err := pipeline.New(opts...)
	require.NoError(t, err)
	return e
}

// drive advances clock to each pending timer until ctx ends, so retry
// backoff elapses without real waiting.
func drive(ctx context.Context, clock *clocktest.Clock) {
	for {
		if clock.WaitForTimers(ctx, 1) != nil {
			return
		}
		clock.AdvanceToNext()
	}
}

func TestDataDependencyHandsValueAndOrders(t *testing.T) {
	var got string
	var b pipeline.Builder
	// Added consumer first: the data dependency, not insertion order,
	// must decide the order.
	b.Add(
		pipeline.Step{Stage: pipeline.Func("use", func(_ context.Context, s *pipeline.State) error {
			v, err := keyA.Get(s)
			got = v
			return err
		}), Needs: keys(keyA)},
		pipeline.Step{Stage: pipeline.Func("make", func(_ context.Context, s *pipeline.State) error {
			keyA.Put(s, "sha256:abc")
			return nil
		}), Provides: keys(keyA)},
	)
	rep, err := newEngine(t, pipeline.WithParallelism(4)).Run(context.Background(), build(t, &b), nil)
	require.NoError(t, err)
	assert.Equal(t, "sha256:abc", got)
	assert.Equal(t, 2, rep.Count(pipeline.Succeeded))
}

func TestAfterOrdersSteps(t *testing.T) {
	rec := &pipelinetest.Recorder{}
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: pipelinetest.Succeed("second"), After: []string{"first"}},
		pipeline.Step{Stage: pipelinetest.Succeed("first")},
		pipeline.Step{Stage: pipelinetest.Succeed("third"), After: []string{"second", "first"}},
	)
	_, err := newEngine(t, pipeline.WithParallelism(8), pipeline.WithObserver(rec)).Run(context.Background(), build(t, &b), nil)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"first started attempt=1", "first finished succeeded attempts=1",
		"second started attempt=1", "second finished succeeded attempts=1",
		"third started attempt=1", "third finished succeeded attempts=1",
	}, rec.Lines())
}

func TestPrefilledStateIsVisible(t *testing.T) {
	st := pipeline.NewState()
	keyB.Put(st, 41)
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: pipeline.Func("inc", func(_ context.Context, s *pipeline.State) error {
		v, err := keyB.Get(s)
		keyB.Put(s, v+1)
		return err
	})})
	_, err := newEngine(t).Run(context.Background(), build(t, &b), st)
	require.NoError(t, err)
	v, ok := keyB.Lookup(st)
	require.True(t, ok)
	assert.Equal(t, 42, v)
	assert.Equal(t, []string{"test.b"}, st.Keys())
}

func TestWhenFalseSkipsStepAndCascadesAlongData(t *testing.T) {
	k2 := pipeline.NewKey[string]("test.k2")
	after := pipelinetest.Succeed("after")
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: pipelinetest.Succeed("gen"), Provides: keys(keyA),
			When: func(*pipeline.State) bool { return false }},
		pipeline.Step{Stage: pipelinetest.Succeed("mid"), Needs: keys(keyA), Provides: keys(k2)},
		pipeline.Step{Stage: pipelinetest.Succeed("last"), Needs: keys(k2)},
		pipeline.Step{Stage: after, After: []string{"gen"}},
	)
	rep, err := newEngine(t).Run(context.Background(), build(t, &b), nil)
	require.NoError(t, err, "skips are not errors")

	gen, _ := rep.Step("gen")
	assert.Equal(t, pipeline.Skipped, gen.Status)
	assert.Equal(t, "condition is false", gen.SkipReason)
	assert.Zero(t, gen.Attempts)

	mid, _ := rep.Step("mid")
	assert.Equal(t, pipeline.Skipped, mid.Status)
	assert.Equal(t, `needs "test.a" from step "gen", which was skipped (condition is false)`, mid.SkipReason)

	last, _ := rep.Step("last")
	assert.Equal(t, pipeline.Skipped, last.Status)
	assert.Contains(t, last.SkipReason, `needs "test.k2" from step "mid", which was skipped (needs "test.a"`)

	// After is ordering only: a condition skip does not stop it.
	a, _ := rep.Step("after")
	assert.Equal(t, pipeline.Succeeded, a.Status)
	assert.Equal(t, 1, after.CallCount())
}

func TestWhenSeesState(t *testing.T) {
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: pipeline.Func("set", func(_ context.Context, s *pipeline.State) error {
			keyB.Put(s, 7)
			return nil
		}), Provides: keys(keyB)},
		pipeline.Step{Stage: pipelinetest.Succeed("big"), After: []string{"set"},
			When: func(s *pipeline.State) bool { v, _ := keyB.Lookup(s); return v > 5 }},
		pipeline.Step{Stage: pipelinetest.Succeed("small"), After: []string{"set"},
			When: func(s *pipeline.State) bool { v, _ := keyB.Lookup(s); return v <= 5 }},
	)
	rep, err := newEngine(t).Run(context.Background(), build(t, &b), nil)
	require.NoError(t, err)
	big, _ := rep.Step("big")
	small, _ := rep.Step("small")
	assert.Equal(t, pipeline.Succeeded, big.Status)
	assert.Equal(t, pipeline.Skipped, small.Status)
}

func TestRetryWithBackoffUntilSuccess(t *testing.T) {
	clock := clocktest.New(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go drive(ctx, clock)

	flaky := pipelinetest.FailTimes("flaky", 3, nil)
	rec := &pipelinetest.Recorder{}
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: flaky, Retry: pipeline.Retry{Attempts: 5, Backoff: time.Second, Multiplier: 3, MaxBackoff: 5 * time.Second}})
	rep, err := newEngine(t, pipeline.WithClock(clock), pipeline.WithObserver(rec)).Run(context.Background(), build(t, &b), nil)
	require.NoError(t, err)

	s, _ := rep.Step("flaky")
	assert.Equal(t, pipeline.Succeeded, s.Status)
	assert.Equal(t, 4, s.Attempts)
	assert.Equal(t, 4, flaky.CallCount())
	assert.Equal(t, 9*time.Second, s.Duration, "1s + 3s + 5s (capped) of backoff on the drivable clock")
	assert.Equal(t, []string{
		"flaky started attempt=1",
		"flaky attempt-failed attempt=1 backoff=1s",
		"flaky attempt-failed attempt=2 backoff=3s",
		"flaky attempt-failed attempt=3 backoff=5s",
		"flaky finished succeeded attempts=4",
	}, rec.Lines())
}

func TestRetryDefaultsAndExhaustion(t *testing.T) {
	clock := clocktest.New(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go drive(ctx, clock)

	rec := &pipelinetest.Recorder{}
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: pipelinetest.Fail("bad", nil), Retry: pipeline.Retry{Attempts: 3}})
	rep, err := newEngine(t, pipeline.WithClock(clock), pipeline.WithObserver(rec)).Run(context.Background(), build(t, &b), nil)
	require.ErrorIs(t, err, pipelinetest.ErrInjected)
	var se *pipeline.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "bad", se.Step)
	assert.Equal(t, 3, se.Attempts)
	assert.EqualError(t, se, `pipeline: step "bad" failed after 3 attempts: pipelinetest: injected failure`)
	assertOnePrefix(t, err)
	s, _ := rep.Step("bad")
	assert.Equal(t, pipeline.Failed, s.Status)
	assert.Equal(t, 3, s.Attempts)
	evs := rec.For("bad")
	require.Len(t, evs, 4)
	assert.Equal(t, pipeline.DefaultBackoff, evs[1].Backoff)
	assert.Equal(t, 2*pipeline.DefaultBackoff, evs[2].Backoff)
}

func TestRetryIfAndPermanentStopRetries(t *testing.T) {
	errNo := errors.New("not retryable")
	for name, st := range map[string]pipeline.Step{
		"retry-if":  {Stage: pipelinetest.Fail("s", errNo), Retry: pipeline.Retry{Attempts: 5, If: func(err error) bool { return !errors.Is(err, errNo) }}},
		"permanent": {Stage: pipelinetest.Fail("s", pipeline.Permanent(errNo)), Retry: pipeline.Retry{Attempts: 5}},
	} {
		t.Run(name, func(t *testing.T) {
			var b pipeline.Builder
			b.Add(st)
			rep, err := newEngine(t).Run(context.Background(), build(t, &b), nil)
			require.ErrorIs(t, err, errNo)
			s, _ := rep.Step("s")
			assert.Equal(t, 1, s.Attempts)
			assert.Equal(t, pipeline.Failed, s.Status)
		})
	}
	assert.Nil(t, pipeline.Permanent(nil))
	assert.False(t, pipeline.IsPermanent(errNo))
	assert.True(t, pipeline.IsPermanent(fmt.Errorf("wrapped: %w", pipeline.Permanent(errNo))))
}

func TestCancelledRunIsNotRetried(t *testing.T) {
	blk := pipelinetest.Block("blk")
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: blk, Retry: pipeline.Retry{Attempts: 5, Backoff: time.Nanosecond}})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-blk.Started(); cancel() }()
	rep, err := newEngine(t).Run(ctx, build(t, &b), nil)
	require.ErrorIs(t, err, context.Canceled)
	s, _ := rep.Step("blk")
	assert.Equal(t, pipeline.Canceled, s.Status)
	assert.Equal(t, 1, s.Attempts)
	assert.Equal(t, 1, blk.CallCount())
}

func TestTimedOutRunIsNotRetried(t *testing.T) {
	blk := pipelinetest.Block("blk")
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: blk, Retry: pipeline.Retry{Attempts: 5, Backoff: time.Nanosecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	rep, err := newEngine(t).Run(ctx, build(t, &b), nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, pipeline.ErrAttemptTimeout, "the run's deadline is not an attempt timeout")
	s, _ := rep.Step("blk")
	assert.Equal(t, pipeline.Canceled, s.Status)
	assert.Equal(t, 1, blk.CallCount())
}

func TestCancelDuringBackoffStopsWaiting(t *testing.T) {
	clock := clocktest.New(time.Time{}) // never advanced: the backoff never ends by itself
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: pipelinetest.Fail("bad", nil), Retry: pipeline.Retry{Attempts: 3, Backoff: time.Hour}})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_ = clock.WaitForTimers(context.Background(), 1)
		cancel()
	}()
	rep, err := newEngine(t, pipeline.WithClock(clock)).Run(ctx, build(t, &b), nil)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, pipelinetest.ErrInjected, "the last attempt's error is kept")
	s, _ := rep.Step("bad")
	assert.Equal(t, pipeline.Canceled, s.Status)
	assert.Equal(t, 1, s.Attempts)
	assert.Contains(t, s.Err.Error(), "while waiting to retry")
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	clock := clocktest.New(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go drive(ctx, clock)

	blk := pipelinetest.Block("slow")
	reg := prometheus.NewPedanticRegistry()
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: blk, Timeout: 5 * time.Millisecond, Retry: pipeline.Retry{Attempts: 2}})
	rep, err := newEngine(t, pipeline.WithClock(clock), pipeline.WithRegisterer(reg)).Run(context.Background(), build(t, &b), nil)
	require.ErrorIs(t, err, pipeline.ErrAttemptTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	s, _ := rep.Step("slow")
	assert.Equal(t, pipeline.Failed, s.Status)
	assert.Equal(t, 2, s.Attempts)
	calls := blk.Calls()
	require.Len(t, calls, 2)
	for _, c := range calls {
		assert.True(t, c.HadDeadline)
		assert.ErrorIs(t, c.CtxErr, context.DeadlineExceeded)
	}
	want := `
# HELP flightdeck_stage_attempts_total Attempts of pipeline steps, by step and attempt result (succeeded, failed, timeout, canceled).
# TYPE flightdeck_stage_attempts_total counter
flightdeck_stage_attempts_total{result="timeout",stage="slow"} 2
`
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "flightdeck_stage_attempts_total"))
}

func TestStopOnErrorSkipsRestButRunningStepsFinish(t *testing.T) {
	// "running" returns only once the engine has acted on a's failure,
	// which it shows by skipping "after-a".
	stopSeen := make(chan struct{})
	obs := pipeline.ObserverFunc(func(e pipeline.Event) {
		if e.Step == "after-a" && e.Type == pipeline.StepSkipped {
			close(stopSeen)
		}
	})
	running := pipeline.Func("running", func(ctx context.Context, _ *pipeline.State) error {
		<-stopSeen // still running when a fails
		return nil
	})
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: pipelinetest.Fail("a", nil)},
		pipeline.Step{Stage: running},
		pipeline.Step{Stage: pipelinetest.Succeed("after-a"), After: []string{"a"}},
		pipeline.Step{Stage: pipelinetest.Succeed("after-running"), After: []string{"running"}},
	)
	rep, err := newEngine(t, pipeline.WithParallelism(2), pipeline.WithObserver(obs)).Run(context.Background(), build(t, &b), nil)
	require.ErrorIs(t, err, pipelinetest.ErrInjected)
	get := func(n string) pipeline.StepReport { s, _ := rep.Step(n); return s }
	assert.Equal(t, pipeline.Failed, get("a").Status)
	assert.Equal(t, pipeline.Succeeded, get("running").Status, "a step already running finishes")
	assert.Equal(t, pipeline.Skipped, get("after-a").Status)
	assert.Equal(t, `run stopped: step "a" failed`, get("after-a").SkipReason)
	assert.Equal(t, pipeline.Skipped, get("after-running").Status)
	assert.Equal(t, `run stopped: step "a" failed`, get("after-running").SkipReason)
}

func TestContinueOnErrorKeepsGoingAndJoinsErrors(t *testing.T) {
	errA := errors.New("lint failed")
	errC := errors.New("integration failed")
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: pipelinetest.Fail("a", errA), Provides: keys(keyA), ContinueOnError: true},
		pipeline.Step{Stage: pipelinetest.Succeed("after-a"), After: []string{"a"}},
		pipeline.Step{Stage: pipelinetest.Succeed("needs-a"), Needs: keys(keyA)},
		pipeline.Step{Stage: pipelinetest.Fail("c", errC), After: []string{"after-a"}, ContinueOnError: true},
		pipeline.Step{Stage: pipelinetest.Succeed("d"), After: []string{"c"}},
	)
	rep, err := newEngine(t, pipeline.WithParallelism(1)).Run(context.Background(), build(t, &b), nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, errA)
	assert.ErrorIs(t, err, errC)
	assert.Equal(t, rep.Err().Error(), err.Error())
	get := func(n string) pipeline.StepReport { s, _ := rep.Step(n); return s }
	assert.Equal(t, pipeline.Succeeded, get("after-a").Status)
	assert.Equal(t, pipeline.Skipped, get("needs-a").Status)
	assert.Equal(t, `needs "test.a" from step "a", which failed`, get("needs-a").SkipReason)
	assert.Equal(t, pipeline.Succeeded, get("d").Status)
	assert.Equal(t, 2, rep.Count(pipeline.Failed))
}

func TestFinallyRunsAfterFailureOnUncancelledContext(t *testing.T) {
	type ctxKey struct{}
	var b pipeline.Builder
	var sawValue any
	fin := pipelinetest.Succeed("cleanup").Do(func(ctx context.Context, _ *pipeline.State) error {
		sawValue = ctx.Value(ctxKey{})
		return nil
	})
	b.Add(pipeline.Step{Stage: pipelinetest.Fail("build", nil)})
	b.Finally(pipeline.Step{Stage: fin})
	ctx := context.WithValue(context.Background(), ctxKey{}, "v")
	rep, err := newEngine(t, pipeline.WithFinallyTimeout(time.Hour)).Run(ctx, build(t, &b), nil)
	require.ErrorIs(t, err, pipelinetest.ErrInjected)
	s, _ := rep.Step("cleanup")
	assert.Equal(t, pipeline.Succeeded, s.Status)
	assert.True(t, s.Finally)
	assert.Equal(t, "v", sawValue, "finally keeps the run context's values")
	calls := fin.Calls()
	require.Len(t, calls, 1)
	assert.True(t, calls[0].HadDeadline, "finally steps have their own deadline")
	assert.NoError(t, calls[0].CtxErr)
}

func TestFinallyRunsAfterRunTimeout(t *testing.T) {
	blk := pipelinetest.Block("deploy")
	fin := pipelinetest.Succeed("notify")
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: blk}, pipeline.Step{Stage: pipelinetest.Succeed("verify"), After: []string{"deploy"}})
	b.Finally(pipeline.Step{Stage: fin})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	rep, err := newEngine(t).Run(ctx, build(t, &b), nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	get := func(n string) pipeline.StepReport { s, _ := rep.Step(n); return s }
	assert.Equal(t, pipeline.Canceled, get("deploy").Status)
	assert.Equal(t, pipeline.Skipped, get("verify").Status)
	assert.Equal(t, `run stopped: step "deploy" canceled`, get("verify").SkipReason)
	assert.Equal(t, pipeline.Succeeded, get("notify").Status)
	calls := fin.Calls()
	require.Len(t, calls, 1)
	assert.NoError(t, calls[0].CtxErr, "the run's deadline does not reach finally steps")
	assert.True(t, calls[0].Deadline.After(time.Now().Add(time.Minute)), "finally deadline is the finally timeout, not the run's")
}

func TestFinallyHasItsOwnDeadline(t *testing.T) {
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: pipelinetest.Succeed("main")})
	b.Finally(
		pipeline.Step{Stage: pipelinetest.Block("hang")},
		pipeline.Step{Stage: pipelinetest.Succeed("after-hang"), After: []string{"hang"}},
	)
	rep, err := newEngine(t, pipeline.WithFinallyTimeout(10*time.Millisecond)).Run(context.Background(), build(t, &b), nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	get := func(n string) pipeline.StepReport { s, _ := rep.Step(n); return s }
	assert.Equal(t, pipeline.Succeeded, get("main").Status)
	assert.Equal(t, pipeline.Canceled, get("hang").Status)
	assert.Equal(t, pipeline.Skipped, get("after-hang").Status)
	assert.Contains(t, get("after-hang").SkipReason, "context deadline exceeded")
}

func TestFinallyNeedsSkippedWhenMainResultMissing(t *testing.T) {
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: pipelinetest.Fail("build", nil), Provides: keys(keyA)})
	b.Finally(
		pipeline.Step{Stage: pipelinetest.Succeed("report"), Needs: keys(keyA)},
		pipeline.Step{Stage: pipelinetest.Succeed("always")},
	)
	rep, err := newEngine(t).Run(context.Background(), build(t, &b), nil)
	require.Error(t, err)
	r, _ := rep.Step("report")
	assert.Equal(t, pipeline.Skipped, r.Status)
	assert.Equal(t, `needs "test.a" from step "build", which failed`, r.SkipReason)
	a, _ := rep.Step("always")
	assert.Equal(t, pipeline.Succeeded, a.Status)
}

func TestCancelledBeforeStartSkipsAllAndRunsFinally(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s1 := pipelinetest.Succeed("one")
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: s1})
	b.Finally(pipeline.Step{Stage: pipelinetest.Succeed("fin")})
	rep, err := newEngine(t).Run(ctx, build(t, &b), nil)
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "1 step(s) not started")
	one, _ := rep.Step("one")
	assert.Equal(t, pipeline.Skipped, one.Status)
	assert.Equal(t, "run context ended: context canceled", one.SkipReason)
	assert.Zero(t, s1.CallCount())
	fin, _ := rep.Step("fin")
	assert.Equal(t, pipeline.Succeeded, fin.Status)
}

func TestParallelismLimit(t *testing.T) {
	for _, limit := range []int{1, 3} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			gate := pipelinetest.NewGate()
			var b pipeline.Builder
			for i := range 7 {
				b.Add(pipeline.Step{Stage: gate.Stage(fmt.Sprintf("s%d", i))})
			}
			g := build(t, &b)
			done := make(chan error, 1)
			go func() {
				_, err := newEngine(t, pipeline.WithParallelism(limit)).Run(context.Background(), g, nil)
				done <- err
			}()
			require.NoError(t, gate.WaitActive(context.Background(), limit))
			gate.Open()
			require.NoError(t, <-done)
			assert.Equal(t, limit, gate.Max())
			assert.Equal(t, 7, gate.Entered())
		})
	}
}

func TestStagePanicAndMissingResultFail(t *testing.T) {
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: pipeline.Func("boom", func(context.Context, *pipeline.State) error { panic("kaput") }), ContinueOnError: true},
		pipeline.Step{Stage: pipelinetest.Succeed("lazy"), Provides: keys(keyB), ContinueOnError: true},
		pipeline.Step{Stage: pipelinetest.Succeed("cond"), ContinueOnError: true,
			When: func(*pipeline.State) bool { panic("bad condition") }},
	)
	rep, err := newEngine(t).Run(context.Background(), build(t, &b), nil)
	require.ErrorIs(t, err, pipeline.ErrPanic)
	require.ErrorIs(t, err, pipeline.ErrMissingResult)
	boom, _ := rep.Step("boom")
	assert.Contains(t, boom.Err.Error(), "kaput")
	lazy, _ := rep.Step("lazy")
	assert.Equal(t, pipeline.Failed, lazy.Status)
	assert.EqualError(t, lazy.Err, `pipeline: step "lazy" failed after 1 attempt: stage did not provide result "test.b"; put it in the state before returning nil, or drop it from the step's Provides`)
	assert.EqualError(t, boom.Err, `pipeline: step "boom" failed after 1 attempt: stage panicked: kaput`)
	assertOnePrefix(t, err)
	cond, _ := rep.Step("cond")
	assert.Equal(t, pipeline.Failed, cond.Status)
	assert.Contains(t, cond.Err.Error(), "bad condition")
}

func TestReportFieldsWithDrivableClock(t *testing.T) {
	clock := clocktest.New(time.Time{})
	start := clock.Now()
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: pipeline.Func("tick", func(context.Context, *pipeline.State) error {
		clock.Advance(90 * time.Second)
		return nil
	})})
	rep, err := newEngine(t, pipeline.WithClock(clock)).Run(context.Background(), build(t, &b), nil)
	require.NoError(t, err)
	s, ok := rep.Step("tick")
	require.True(t, ok)
	assert.Equal(t, pipeline.StepReport{Name: "tick", Status: pipeline.Succeeded, Attempts: 1, Start: start, Duration: 90 * time.Second}, s)
	assert.Equal(t, start, rep.Start)
	assert.Equal(t, 90*time.Second, rep.Duration)
	_, ok = rep.Step("nope")
	assert.False(t, ok)
}

func TestMetrics(t *testing.T) {
	clock := clocktest.New(time.Time{})
	reg := prometheus.NewPedanticRegistry()
	e := newEngine(t, pipeline.WithRegisterer(reg), pipeline.WithClock(clock))
	// A second engine on the same registry shares the collectors.
	e2 := newEngine(t, pipeline.WithRegisterer(reg), pipeline.WithClock(clock))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go drive(ctx, clock)

	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: pipelinetest.FailTimes("test", 1, nil), Retry: pipeline.Retry{Attempts: 2, Backoff: 2 * time.Second}},
		pipeline.Step{Stage: pipelinetest.Fail("lint", nil), ContinueOnError: true},
	)
	g := build(t, &b)
	_, err := e.Run(context.Background(), g, nil)
	require.Error(t, err)
	_, err = e2.Run(context.Background(), g, nil)
	require.Error(t, err)

	want := `
# HELP flightdeck_stage_attempts_total Attempts of pipeline steps, by step and attempt result (succeeded, failed, timeout, canceled).
# TYPE flightdeck_stage_attempts_total counter
flightdeck_stage_attempts_total{result="failed",stage="lint"} 2
flightdeck_stage_attempts_total{result="failed",stage="test"} 1
flightdeck_stage_attempts_total{result="succeeded",stage="test"} 2
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "flightdeck_stage_attempts_total"))
	assert.Equal(t, 2, testutil.CollectAndCount(reg, "flightdeck_stage_duration_seconds"), "one series per step and result")
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)

	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "flightdeck_stage_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[1].GetValue() == "test" { // labels sorted: result, stage
				assert.Equal(t, "succeeded", m.GetLabel()[0].GetValue())
				assert.Equal(t, uint64(2), m.GetHistogram().GetSampleCount())
				assert.Equal(t, 2.0, m.GetHistogram().GetSampleSum(), "2 s of backoff in the first run on the drivable clock; the fake fails only once")
			}
		}
	}
}

// TestMetricsGraphSharedAcrossRegistries runs one graph alternately on
// engines with their own registries: each registry counts only the runs
// of its engine, also when another engine ran the graph in between.
func TestMetricsGraphSharedAcrossRegistries(t *testing.T) {
	regA, regB := prometheus.NewPedanticRegistry(), prometheus.NewPedanticRegistry()
	a := newEngine(t, pipeline.WithRegisterer(regA))
	b := newEngine(t, pipeline.WithRegisterer(regB))
	var gb pipeline.Builder
	gb.Add(pipeline.Step{Stage: pipelinetest.Succeed("build")})
	g := build(t, &gb)
	for _, e := range []*pipeline.Engine{a, b, a, a, b, a} {
		_, err := e.Run(context.Background(), g, nil)
		require.NoError(t, err)
	}
	want := func(n int) string {
		return fmt.Sprintf(`
# HELP flightdeck_stage_attempts_total Attempts of pipeline steps, by step and attempt result (succeeded, failed, timeout, canceled).
# TYPE flightdeck_stage_attempts_total counter
flightdeck_stage_attempts_total{result="succeeded",stage="build"} %d
`, n)
	}
	assert.NoError(t, testutil.GatherAndCompare(regA, strings.NewReader(want(4)), "flightdeck_stage_attempts_total"))
	assert.NoError(t, testutil.GatherAndCompare(regB, strings.NewReader(want(2)), "flightdeck_stage_attempts_total"))
	assert.Equal(t, 1, testutil.CollectAndCount(regA, "flightdeck_stage_duration_seconds"))
	assert.Equal(t, 1, testutil.CollectAndCount(regB, "flightdeck_stage_duration_seconds"))
}

func TestRegistererConflictIsReported(t *testing.T) {
	reg := prometheus.NewRegistry()
	// Same name, different labels: not the engine's collector.
	reg.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flightdeck_stage_attempts_total", Help: "x"}, []string{"other"}))
	_, err := pipeline.New(pipeline.WithRegisterer(reg))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pipeline: register metrics")
}

func TestGraphRunsConcurrently(t *testing.T) {
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: pipeline.Func("p", func(_ context.Context, s *pipeline.State) error { keyB.Put(s, 1); return nil }), Provides: keys(keyB)},
		pipeline.Step{Stage: pipelinetest.Succeed("c"), Needs: keys(keyB)},
	)
	g := build(t, &b)
	e := newEngine(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := e.Run(context.Background(), g, nil)
			assert.NoError(t, err)
			assert.Equal(t, 2, rep.Count(pipeline.Succeeded))
		}()
	}
	wg.Wait()
}

func TestNilGraph(t *testing.T) {
	rep, err := newEngine(t).Run(context.Background(), nil, nil)
	require.ErrorIs(t, err, pipeline.ErrNilGraph)
	assert.Empty(t, rep.Steps)
}

func TestLoggerAndSkipEvents(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := &pipelinetest.Recorder{}
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: pipelinetest.Fail("bad", errors.New("compiler exploded")), Provides: keys(keyA), ContinueOnError: true},
		pipeline.Step{Stage: pipelinetest.Succeed("dependent"), Needs: keys(keyA)},
	)
	_, err := newEngine(t, pipeline.WithLogger(logger), pipeline.WithObserver(rec), pipeline.WithParallelism(0)).
		Run(context.Background(), build(t, &b), nil)
	require.Error(t, err)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	assert.Contains(t, out, `level=WARN msg="pipeline step failed" step=bad attempts=1 error="compiler exploded"`)
	assert.Contains(t, out, `level=DEBUG msg="pipeline step skipped" step=dependent`)
	evs := rec.For("dependent")
	require.Len(t, evs, 1)
	assert.Equal(t, pipeline.StepSkipped, evs[0].Type)
	assert.Equal(t, pipeline.Skipped, evs[0].Status)
	assert.Equal(t, `needs "test.a" from step "bad", which failed`, evs[0].Reason)
	bad := rec.For("bad")
	require.Len(t, bad, 2)
	assert.ErrorContains(t, bad[1].Err, "compiler exploded")
	assert.False(t, bad[1].Time.IsZero())
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// assertOnePrefix checks that err's text names the package once per line
// and does not end in a newline.
func assertOnePrefix(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	msg := err.Error()
	assert.False(t, strings.HasSuffix(msg, "\n"), "trailing newline in %q", msg)
	for _, line := range strings.Split(msg, "\n") {
		assert.LessOrEqual(t, strings.Count(line, "pipeline: "), 1, "stuttering prefix in %q", line)
	}
}

func TestRetryIfPanicFailsStepWithoutCrashing(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	fin := pipelinetest.Succeed("cleanup")
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: pipelinetest.Fail("flaky", nil), Retry: pipeline.Retry{
		Attempts: 5,
		If:       func(error) bool { panic("retry policy bug") },
	}})
	b.Finally(pipeline.Step{Stage: fin})
	rep, err := newEngine(t, pipeline.WithLogger(logger)).Run(context.Background(), build(t, &b), nil)
	require.ErrorIs(t, err, pipeline.ErrPanic)
	require.ErrorIs(t, err, pipelinetest.ErrInjected, "the attempt's error is kept")
	var pe *pipeline.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "Retry.If", pe.In)
	assert.Equal(t, "retry policy bug", pe.Value)
	assert.Contains(t, string(pe.Stack), "engine_test.go", "the stack shows where it panicked")
	s, _ := rep.Step("flaky")
	assert.Equal(t, pipeline.Failed, s.Status)
	assert.Equal(t, 1, s.Attempts, "a panicking Retry.If retries nothing")
	assert.EqualError(t, s.Err, `pipeline: step "flaky" failed after 1 attempt: Retry.If panicked: retry policy bug; the attempt's error was: pipelinetest: injected failure`)
	assertOnePrefix(t, err)
	c, _ := rep.Step("cleanup")
	assert.Equal(t, pipeline.Succeeded, c.Status, "the run goes on to its finally steps")
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, logs.String(), `level=ERROR msg="pipeline recovered a panic" step=flaky in=Retry.If panic="retry policy bug" stack=`)
}

func TestPanicWithErrorValueWrapsIt(t *testing.T) {
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: pipeline.Func("eof", func(context.Context, *pipeline.State) error { panic(io.ErrUnexpectedEOF) })})
	_, err := newEngine(t).Run(context.Background(), build(t, &b), nil)
	assert.ErrorIs(t, err, pipeline.ErrPanic)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	var pe *pipeline.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "stage", pe.In)
}

func TestObserverPanicIsRecoveredAndReported(t *testing.T) {
	for _, parallelism := range []int{1, 4} {
		t.Run(fmt.Sprint(parallelism), func(t *testing.T) {
			var mu sync.Mutex
			var afterPanic []string
			bad := pipeline.ObserverFunc(func(e pipeline.Event) {
				if e.Step == "b" && e.Type == pipeline.StepStarted {
					panic("observer bug")
				}
				mu.Lock()
				defer mu.Unlock()
				if e.Step == "b" || e.Step == "c" {
					afterPanic = append(afterPanic, e.Step+" "+string(e.Type))
				}
			})
			good := &pipelinetest.Recorder{}
			var b pipeline.Builder
			b.Add(
				pipeline.Step{Stage: pipelinetest.Succeed("a")},
				pipeline.Step{Stage: pipelinetest.Succeed("b"), After: []string{"a"}},
				pipeline.Step{Stage: pipelinetest.Succeed("c"), After: []string{"b"}},
			)
			rep, err := newEngine(t, pipeline.WithParallelism(parallelism), pipeline.WithObserver(bad, good)).
				Run(context.Background(), build(t, &b), nil)
			require.ErrorIs(t, err, pipeline.ErrPanic)
			assert.EqualError(t, err, `pipeline: observer 1 (pipeline.ObserverFunc) on step "b" started event: observer panicked: observer bug; it received no further events of this run`)
			assert.Equal(t, 3, rep.Count(pipeline.Succeeded), "an observer's panic does not change the steps' outcome")
			assert.NoError(t, rep.Err())
			assert.Empty(t, afterPanic, "the panicking observer gets no further events")
			assert.Len(t, good.Events(), 6, "other observers get every event")
		})
	}
}

func TestAttemptTimeoutRunsOnEngineClock(t *testing.T) {
	clk := clocktest.New(time.Time{})
	start := clk.Now()
	type seen struct {
		err, cause, derived error
		deadline            time.Time
	}
	got := make(chan seen, 1)
	stage := pipeline.Func("slow", func(ctx context.Context, _ *pipeline.State) error {
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		<-child.Done()
		d, _ := ctx.Deadline()
		got <- seen{ctx.Err(), context.Cause(ctx), child.Err(), d}
		return ctx.Err()
	})
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: stage, Timeout: time.Hour})
	done := make(chan error, 1)
	go func() {
		_, err := newEngine(t, pipeline.WithClock(clk)).Run(context.Background(), build(t, &b), nil)
		done <- err
	}()
	require.NoError(t, clk.WaitForTimers(context.Background(), 1))
	clk.Advance(time.Hour - time.Second)
	select {
	case <-got:
		t.Fatal("timed out before its hour passed on the engine's clock")
	default:
	}
	clk.Advance(time.Second)
	s := <-got
	assert.Equal(t, context.DeadlineExceeded, s.err)
	assert.Equal(t, context.DeadlineExceeded, s.cause)
	assert.Equal(t, context.DeadlineExceeded, s.derived, "contexts derived from the attempt's see the deadline too")
	assert.Equal(t, start.Add(time.Hour), s.deadline)
	err := <-done
	assert.ErrorIs(t, err, pipeline.ErrAttemptTimeout)
	assert.ErrorContains(t, err, `pipeline: step "slow" failed after 1 attempt: attempt timed out after 1h0m0s: context deadline exceeded`)
}

func TestFinallyTimeoutRunsOnEngineClock(t *testing.T) {
	clk := clocktest.New(time.Time{})
	hang := pipelinetest.Block("hang")
	go func() {
		<-hang.Started()
		clk.Advance(time.Hour)
	}()
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: pipelinetest.Succeed("main")})
	b.Finally(pipeline.Step{Stage: hang})
	rep, err := newEngine(t, pipeline.WithClock(clk), pipeline.WithFinallyTimeout(time.Hour)).Run(context.Background(), build(t, &b), nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	h, _ := rep.Step("hang")
	assert.Equal(t, pipeline.Canceled, h.Status)
	assert.Equal(t, time.Hour, h.Duration, "the finally deadline passed on the engine's clock")
}

func TestAttemptTimeoutOnEngineClockEndsWithRun(t *testing.T) {
	clk := clocktest.New(time.Time{}) // never advanced
	blk := pipelinetest.Block("blk")
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: blk, Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-blk.Started(); cancel() }()
	rep, err := newEngine(t, pipeline.WithClock(clk)).Run(ctx, build(t, &b), nil)
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, pipeline.ErrAttemptTimeout)
	s, _ := rep.Step("blk")
	assert.Equal(t, pipeline.Canceled, s.Status)
	calls := blk.Calls()
	require.Len(t, calls, 1)
	assert.ErrorIs(t, calls[0].CtxErr, context.Canceled)
}
