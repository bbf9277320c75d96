package pipeline_test

import (
	"context"
	"fmt"
	"time"

	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/pipelinetest"
)

// Two stages hand each other a digest through a typed key; a flaky test
// step is retried; a finally step always runs.
func Example() {
	digest := pipeline.NewKey[string]("example.digest")

	build := pipeline.Func("build", func(ctx context.Context, s *pipeline.State) error {
		digest.Put(s, "sha256:0123")
		return nil
	})
	deploy := pipeline.Func("deploy", func(ctx context.Context, s *pipeline.State) error {
		d, err := digest.Get(s)
		if err != nil {
			return err
		}
		fmt.Println("deploying", d)
		return nil
	})

	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: build, Provides: []pipeline.AnyKey{digest}},
		pipeline.Step{Stage: pipelinetest.FailTimes("test", 1, nil), Retry: pipeline.Retry{Attempts: 3, Backoff: time.Millisecond}},
		pipeline.Step{Stage: deploy, After: []string{"test"}, Needs: []pipeline.AnyKey{digest}},
	)
	b.Finally(pipeline.Step{Stage: pipelinetest.Succeed("cleanup")})
	g, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	e, _ := pipeline.New(pipeline.WithParallelism(1))
	rep, err := e.Run(context.Background(), g, nil)
	fmt.Println("error:", err)
	for _, s := range rep.Steps {
		fmt.Println(s.Name, s.Status, s.Attempts)
	}
	// Output:
	// deploying sha256:0123
	// error: <nil>
	// build succeeded 1
	// test succeeded 2
	// deploy succeeded 1
	// cleanup succeeded 1
}

// A step skipped by its condition skips the steps that need its result.
func ExampleStep_when() {
	image := pipeline.NewKey[string]("example.image")
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: pipelinetest.Succeed("build-image"), Provides: []pipeline.AnyKey{image},
			When: func(*pipeline.State) bool { return false }},
		pipeline.Step{Stage: pipelinetest.Succeed("scan-image"), Needs: []pipeline.AnyKey{image}},
	)
	g, _ := b.Build()
	e, _ := pipeline.New()
	rep, _ := e.Run(context.Background(), g, nil)
	for _, s := range rep.Steps {
		fmt.Printf("%s: %s (%s)\n", s.Name, s.Status, s.SkipReason)
	}
	// Output:
	// build-image: skipped (condition is false)
	// scan-image: skipped (needs "example.image" from step "build-image", which was skipped (condition is false))
}

// Build rejects a graph with a cycle, naming the steps on it.
func ExampleBuilder_Build() {
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: pipelinetest.Succeed("a"), After: []string{"b"}},
		pipeline.Step{Stage: pipelinetest.Succeed("b"), After: []string{"a"}},
	)
	_, err := b.Build()
	fmt.Println(err)
	// Output:
	// pipeline: step "a": dependency cycle: a -> b -> a
}

// The recording observer shows the events of a run.
func ExampleObserver() {
	rec := &pipelinetest.Recorder{}
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: pipelinetest.Succeed("compile")})
	g, _ := b.Build()
	e, _ := pipeline.New(pipeline.WithObserver(rec))
	_, _ = e.Run(context.Background(), g, nil)
	for _, l := range rec.Lines() {
		fmt.Println(l)
	}
	// Output:
	// compile started attempt=1
	// compile finished succeeded attempts=1
}

func ExampleGraph_Mermaid() {
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: pipelinetest.Succeed("build")},
		pipeline.Step{Stage: pipelinetest.Succeed("push"), After: []string{"build"}},
	)
	g, _ := b.Build()
	fmt.Print(g.Mermaid())
	// Output:
	// flowchart TD
	//     s0["build"]
	//     s1["push"]
	//     s0 --> s1
}
