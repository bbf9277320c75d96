package command_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/command"
	"github.com/flightdeck-dev/flightdeck/pipeline/pipelinetest"
)

func sh(script string, args ...string) command.Spec {
	return command.Spec{Program: "sh", Args: append([]string{"-c", script, "sh"}, args...)}
}

func TestRunCapturesOutputEnvAndDir(t *testing.T) {
	dir := t.TempDir()
	spec := sh(`echo "out $GREETING"; echo err >&2; pwd`)
	spec.Env = []string{"GREETING=hello"}
	spec.Dir = dir
	var live strings.Builder
	spec.Stdout = &live
	res, err := command.Run(context.Background(), spec)
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode)
	real, _ := filepath.EvalSymlinks(dir)
	assert.Equal(t, "out hello\n"+real+"\n", string(res.Stdout))
	assert.Equal(t, "err\n", string(res.Stderr))
	assert.Equal(t, string(res.Stdout), live.String(), "streamed output matches captured")
}

func TestDurationOnSpecClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	calls := 0
	spec := sh(`true`)
	spec.Clock = clock.Func(func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return t0.Add(time.Duration(calls-1) * 90 * time.Second)
	})
	res, err := command.Run(context.Background(), spec)
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, res.Duration, "start and end are read from Spec.Clock")
}

func TestCleanEnv(t *testing.T) {
	t.Setenv("FLIGHTDECK_LEAK", "yes")
	spec := sh(`echo "[$FLIGHTDECK_LEAK][$ONLY]"`)
	spec.Program = "/bin/sh"
	spec.CleanEnv = true
	spec.Env = []string{"ONLY=1"}
	res, err := command.Run(context.Background(), spec)
	require.NoError(t, err)
	assert.Equal(t, "[][1]\n", string(res.Stdout))

	spec.CleanEnv = false
	res, err = command.Run(context.Background(), spec)
	require.NoError(t, err)
	assert.Equal(t, "[yes][1]\n", string(res.Stdout))
}

func TestNonZeroExitCarriesCodeAndTailNotArgs(t *testing.T) {
	spec := sh(`for i in 1 2 3 4 5; do echo "line $i" >&2; done; exit 3`, "--token=s3cr3t")
	spec.TailLines = 2
	spec.Env = []string{"PASSWORD=hunter2"}
	res, err := command.Run(context.Background(), spec)
	require.Error(t, err)
	var xe *command.ExitError
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, 3, xe.ExitCode)
	assert.Equal(t, 3, res.ExitCode)
	assert.Equal(t, "line 4\nline 5", xe.Tail)
	assert.Equal(t, "command sh: exit code 3:\nline 4\nline 5", err.Error())
	assert.NotContains(t, err.Error(), "s3cr3t")
	assert.NotContains(t, err.Error(), "hunter2")
	var ee *exec.ExitError
	assert.ErrorAs(t, err, &ee)
}

func TestTailFallsBackToStdout(t *testing.T) {
	_, err := command.Run(context.Background(), sh(`echo only-stdout; exit 1`))
	var xe *command.ExitError
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, "only-stdout", xe.Tail)
}

func TestBadPrograms(t *testing.T) {
	_, err := command.Run(context.Background(), command.Spec{})
	assert.ErrorIs(t, err, command.ErrNoProgram)

	res, err := command.Run(context.Background(), command.Spec{Program: "flightdeck-no-such-program"})
	require.Error(t, err)
	assert.ErrorIs(t, err, exec.ErrNotFound)
	assert.Contains(t, err.Error(), "command flightdeck-no-such-program:")
	assert.Equal(t, -1, res.ExitCode)

	_, err = command.Run(context.Background(), command.Spec{Program: "sh", Dir: filepath.Join(t.TempDir(), "missing")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "command sh:")
}

func TestMaxOutputKeepsTheEnd(t *testing.T) {
	spec := sh(`printf 0123456789abcdefghij`)
	spec.MaxOutput = 5
	res, err := command.Run(context.Background(), spec)
	require.NoError(t, err)
	assert.Equal(t, "fghij", string(res.Stdout))

	spec = sh(`for i in 1 2 3 4 5 6 7 8 9; do printf "$i"; done`)
	spec.MaxOutput = 4
	res, err = command.Run(context.Background(), spec)
	require.NoError(t, err)
	assert.Equal(t, "6789", string(res.Stdout))
}

// signalWriter closes ready on the first write.
type signalWriter struct {
	once  sync.Once
	ready chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.ready) })
	return len(p), nil
}

func TestCancelKillsProcessGroup(t *testing.T) {
	// The child sleep inherits stdout; unless the whole group is killed
	// it keeps the pipe open and Run waits for WaitDelay (an hour).
	spec := sh(`sleep 3600 & echo ready; wait`)
	spec.WaitDelay = time.Hour
	w := &signalWriter{ready: make(chan struct{})}
	spec.Stdout = w
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-w.ready; cancel() }()
	res, err := command.Run(ctx, spec)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, -1, res.ExitCode)
	assert.Contains(t, err.Error(), "command sh: context canceled")
}

func TestAlreadyCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := command.Run(ctx, sh(`echo hi`))
	assert.ErrorIs(t, err, context.Canceled)
}

func TestTail(t *testing.T) {
	assert.Equal(t, "", command.Tail(nil, 3))
	assert.Equal(t, "", command.Tail([]byte("a\n"), 0))
	assert.Equal(t, "a\nb", command.Tail([]byte("a\nb\n"), 5))
	assert.Equal(t, "c\nd", command.Tail([]byte("a\nb\nc\nd\n"), 2))
	assert.Equal(t, "d", command.Tail([]byte("a\nb\nc\nd"), 1))
}

func TestStageInPipeline(t *testing.T) {
	out := pipeline.NewKey[command.Result]("test.compile")
	ok := command.New("compile", sh(`echo built`)).WithResult(out)
	bad := command.New("lint", sh(`echo "vet: bad thing" >&2; exit 2`))
	assert.Equal(t, "compile", ok.Name())
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: ok, Provides: []pipeline.AnyKey{out}},
		pipeline.Step{Stage: bad, After: []string{"compile"}},
	)
	g, err := b.Build()
	require.NoError(t, err)
	e, err := pipeline.New()
	require.NoError(t, err)
	st := pipeline.NewState()
	_, err = e.Run(context.Background(), g, st)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `pipeline: step "lint" failed after 1 attempt: stage lint: command sh: exit code 2:`)
	assert.Contains(t, err.Error(), "vet: bad thing")
	var xe *command.ExitError
	require.True(t, errors.As(err, &xe))
	res, err := out.Get(st)
	require.NoError(t, err)
	assert.Equal(t, "built\n", string(res.Stdout))
}

func TestStageConformance(t *testing.T) {
	pipelinetest.TestStage(t, func(t *testing.T) (pipeline.Stage, *pipeline.State) {
		return command.New("sleepy", sh(`sleep 3600`)), pipeline.NewState()
	})
}
