package pipeline_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flightdeck-dev/flightdeck/pipeline"
)

// BenchmarkEngineOverhead measures the engine's own cost per step: a
// 10,000-step graph of no-op stages in 100 layers of 100, each step
// ordered after two steps of the layer before and every tenth step
// handing a typed result to the next layer. It reports ns/step; the
// target is under 5000 (5 µs).
func BenchmarkEngineOverhead(b *testing.B) {
	const layers, width = 100, 100
	noop := func(context.Context, *pipeline.State) error { return nil }
	var gb pipeline.Builder
	name := func(l, w int) string { return fmt.Sprintf("s%03d-%03d", l, w) }
	for l := range layers {
		for w := range width {
			st := pipeline.Step{Name: name(l, w), Stage: pipeline.Func("noop", noop)}
			if l > 0 {
				st.After = []string{name(l-1, w), name(l-1, (w+1)%width)}
			}
			if w%10 == 0 {
				k := pipeline.NewKey[int](name(l, w))
				st.Provides = []pipeline.AnyKey{k}
				st.Stage = pipeline.Func("put", func(_ context.Context, s *pipeline.State) error { k.Put(s, l); return nil })
			}
			if l > 0 && w%10 == 1 {
				st.Needs = []pipeline.AnyKey{pipeline.NewKey[int](name(l-1, w-1))}
			}
			gb.Add(st)
		}
	}
	g, err := gb.Build()
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		opts []pipeline.Option
	}{
		{"parallelism=1", []pipeline.Option{pipeline.WithParallelism(1)}},
		{"parallelism=4", []pipeline.Option{pipeline.WithParallelism(4)}},
		{"parallelism=4/metrics+observer", []pipeline.Option{pipeline.WithParallelism(4),
			pipeline.WithRegisterer(prometheus.NewRegistry()),
			pipeline.WithObserver(pipeline.ObserverFunc(func(pipeline.Event) {}))}},
	}
	// Baseline: the same number of no-op calls, each on its own
	// goroutine behind a semaphore of 4, with no graph, state or report.
	b.Run("baseline=goroutine-per-call", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var wg sync.WaitGroup
			sem := make(chan struct{}, 4)
			for range layers * width {
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					_ = noop(context.Background(), nil)
					<-sem
				}()
			}
			wg.Wait()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*layers*width), "ns/step")
	})
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			e, err := pipeline.New(c.opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				rep, err := e.Run(context.Background(), g, nil)
				if err != nil || rep.Count(pipeline.Succeeded) != layers*width {
					b.Fatalf("run failed: %v", err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*layers*width), "ns/step")
		})
	}
}
