package pipeline_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/pipelinetest"
)

func ok(name string) pipeline.Stage { return pipelinetest.Succeed(name) }

func TestBuildRejectsBadGraphs(t *testing.T) {
	otherA := pipeline.NewKey[int]("test.a") // same name as keyA, other type
	tests := []struct {
		name    string
		steps   []pipeline.Step
		finally []pipeline.Step
		is      error
		msg     string
	}{
		{name: "unknown after", steps: []pipeline.Step{{Stage: ok("deploy"), After: []string{"bulid"}}},
			is: pipeline.ErrUnknownDependency, msg: `pipeline: step "deploy": unknown dependency: after "bulid", which is not a step of the graph`},
		{name: "cycle", steps: []pipeline.Step{
			{Stage: ok("a"), After: []string{"c"}},
			{Stage: ok("b"), After: []string{"a"}},
			{Stage: ok("c"), After: []string{"b"}},
			{Stage: ok("free")},
		}, is: pipeline.ErrCycle, msg: `pipeline: step "a": dependency cycle: a -> b -> c -> a`},
		{name: "cycle through data", steps: []pipeline.Step{
			{Stage: ok("x"), Needs: keys(keyB), Provides: keys(keyA)},
			{Stage: ok("y"), Needs: keys(keyA), Provides: keys(keyB)},
		}, is: pipeline.ErrCycle, msg: `dependency cycle: x -> y -> x`},
		{name: "self", steps: []pipeline.Step{{Stage: ok("me"), After: []string{"me"}}},
			is: pipeline.ErrCycle, msg: `pipeline: step "me": dependency cycle: step depends on itself`},
		{name: "duplicate", steps: []pipeline.Step{{Stage: ok("t")}, {Stage: ok("u"), Name: "t"}},
			is: pipeline.ErrDuplicateStep, msg: `pipeline: step "t": duplicate step name`},
		{name: "no stage", steps: []pipeline.Step{{Name: "empty"}},
			is: pipeline.ErrInvalidStep, msg: `pipeline: step "empty": invalid step: no stage`},
		{name: "no name", steps: []pipeline.Step{{Stage: ok("")}},
			is: pipeline.ErrInvalidStep, msg: `pipeline: step "#0 (step)": invalid step: no name`},
		{name: "negative timeout", steps: []pipeline.Step{{Stage: ok("t"), Timeout: -time.Second}},
			is: pipeline.ErrInvalidStep, msg: `negative timeout -1s`},
		{name: "negative attempts", steps: []pipeline.Step{{Stage: ok("t"), Retry: pipeline.Retry{Attempts: -1}}},
			is: pipeline.ErrInvalidStep, msg: `negative retry attempts -1`},
		{name: "unknown key", steps: []pipeline.Step{{Stage: ok("use"), Needs: keys(keyA)}},
			is: pipeline.ErrUnknownKey, msg: `pipeline: step "use": no step provides key: needs "test.a"`},
		{name: "nil key", steps: []pipeline.Step{{Stage: ok("use"), Needs: []pipeline.AnyKey{nil}}},
			is: pipeline.ErrInvalidStep, msg: `nil key`},
		{name: "empty key name", steps: []pipeline.Step{{Stage: ok("p"), Provides: keys(pipeline.Key[string]{})}},
			is: pipeline.ErrInvalidStep, msg: `pipeline: step "p": invalid step: key with empty name`},
		{name: "provided twice", steps: []pipeline.Step{{Stage: ok("p1"), Provides: keys(keyA)}, {Stage: ok("p2"), Provides: keys(keyA)}},
			is: pipeline.ErrKeyConflict, msg: `pipeline: step "p2": key conflict: key "test.a" is also provided by step "p1"`},
		{name: "type conflict", steps: []pipeline.Step{{Stage: ok("p"), Provides: keys(keyA)}, {Stage: ok("u"), Needs: keys(otherA)}},
			is: pipeline.ErrKeyConflict, msg: `key "test.a" used as string and as int`},
		{name: "main after finally", steps: []pipeline.Step{{Stage: ok("m"), After: []string{"f"}}}, finally: []pipeline.Step{{Stage: ok("f")}},
			is: pipeline.ErrUnknownDependency, msg: `after "f", which is a finally step`},
		{name: "main needs finally", steps: []pipeline.Step{{Stage: ok("m"), Needs: keys(keyA)}}, finally: []pipeline.Step{{Stage: ok("f"), Provides: keys(keyA)}},
			is: pipeline.ErrUnknownDependency, msg: `needs "test.a", which finally step "f" provides`},
		{name: "finally cycle", finally: []pipeline.Step{{Stage: ok("f1"), After: []string{"f2"}}, {Stage: ok("f2"), After: []string{"f1"}}},
			is: pipeline.ErrCycle, msg: `f1 -> f2 -> f1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b pipeline.Builder
			b.Add(tt.steps...).Finally(tt.finally...)
			g, err := b.Build()
			require.Error(t, err)
			assert.Nil(t, g)
			assert.ErrorIs(t, err, tt.is)
			assert.Contains(t, err.Error(), tt.msg)
			var ge *pipeline.GraphError
			assert.ErrorAs(t, err, &ge)
		})
	}
}

func TestBuildReportsEveryProblem(t *testing.T) {
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: ok("a"), After: []string{"ghost"}},
		pipeline.Step{Stage: ok("b"), Needs: keys(keyB)},
		pipeline.Step{Stage: ok("a")},
	)
	_, err := b.Build()
	require.Error(t, err)
	assert.ErrorIs(t, err, pipeline.ErrUnknownDependency)
	assert.ErrorIs(t, err, pipeline.ErrUnknownKey)
	assert.ErrorIs(t, err, pipeline.ErrDuplicateStep)
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	assert.Len(t, joined.Unwrap(), 3)
}

func TestGraphFinallyMayUseMainResultsAndOrder(t *testing.T) {
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: ok("build"), Provides: keys(keyA)})
	b.Finally(
		pipeline.Step{Stage: ok("report"), Needs: keys(keyA), After: []string{"build"}},
		pipeline.Step{Stage: ok("notify"), After: []string{"report"}},
	)
	g, err := b.Build()
	require.NoError(t, err)
	assert.Equal(t, 3, g.Len())
	assert.Equal(t, []string{"build", "report", "notify"}, g.Steps())
}

func renderGraph(t *testing.T) *pipeline.Graph {
	t.Helper()
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: ok("build"), Provides: keys(keyA)},
		pipeline.Step{Stage: ok("test")},
		pipeline.Step{Stage: ok("push"), After: []string{"test", "build"}, Needs: keys(keyA), Provides: keys(keyB)},
	)
	b.Finally(pipeline.Step{Stage: ok("notify"), Needs: keys(keyB)})
	g, err := b.Build()
	require.NoError(t, err)
	return g
}

func TestMermaid(t *testing.T) {
	assert.Equal(t, `flowchart TD
    s0["build"]
    s1["test"]
    s2["push"]
    subgraph finally
        s3["notify"]
    end
    s1 --> s2
    s0 -->|"test.a"| s2
    s2 -->|"test.b"| s3
`, renderGraph(t).Mermaid())
}

func TestDOT(t *testing.T) {
	assert.Equal(t, `digraph pipeline {
    rankdir=LR;
    node [shape=box];
    "build";
    "test";
    "push";
    subgraph cluster_finally {
        label="finally";
        style=dashed;
        "notify";
    }
    "test" -> "push";
    "build" -> "push" [label="test.a"];
    "push" -> "notify" [label="test.b"];
}
`, renderGraph(t).DOT())
}
