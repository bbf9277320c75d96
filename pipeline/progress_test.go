package pipeline_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/pipelinetest"
)

func TestProgressLines(t *testing.T) {
	clock := clocktest.New(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go drive(ctx, clock)

	var out strings.Builder
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: pipelinetest.Succeed("build")},
		pipeline.Step{Stage: pipelinetest.Fail("test", errors.New("exit code 1")), After: []string{"build"},
			Retry: pipeline.Retry{Attempts: 2, Backoff: 2 * time.Second}, ContinueOnError: true, Provides: keys(keyB)},
		pipeline.Step{Stage: pipelinetest.Succeed("deploy"), Needs: keys(keyB)},
	)
	b.Finally(pipeline.Step{Stage: pipelinetest.Succeed("notify")})
	_, err := newEngine(t, pipeline.WithClock(clock), pipeline.WithParallelism(1), pipeline.WithObserver(pipeline.Progress(&out))).
		Run(context.Background(), build(t, &b), nil)
	require.Error(t, err)
	assert.Equal(t, `start  build
ok     build (0s)
start  test
retry  test: attempt 1 failed, next in 2s: exit code 1
FAIL   test after 2 attempts (2s): exit code 1
skip   deploy: needs "test.b" from step "test", which failed
start  notify (finally)
ok     notify (finally) (0s)
`, out.String())
}

func ExampleProgress() {
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: pipelinetest.Succeed("compile")},
		pipeline.Step{Stage: pipelinetest.Succeed("lint"), After: []string{"compile"},
			When: func(*pipeline.State) bool { return false }},
	)
	g, _ := b.Build()
	e, _ := pipeline.New(pipeline.WithObserver(pipeline.Progress(os.Stdout)))
	_, _ = e.Run(context.Background(), g, nil)
	// Output:
	// start  compile
	// ok     compile (0s)
	// skip   lint: condition is false
}
