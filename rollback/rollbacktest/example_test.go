package rollbacktest_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/rollback/rollbacktest"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// ExampleSimRecorder records a simulated Deployment's p95 latency, error
// rate and CPU per request every 30 seconds, the signals of
// rollback.Controller.CheckDegradation.
func ExampleSimRecorder() {
	clk := clocktest.New(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	c := sim.New(clk)
	c.SetBehavior("registry.example.com/web:1", sim.Behavior{CPUPerRequest: 2 * time.Millisecond, Latency: sim.Latency{Median: 80 * time.Millisecond}})
	c.Apply(context.Background(), []byte(strings.ReplaceAll(manifests, "IMAGE", "1")))
	c.SetLoad(sim.Ref{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: "web"}, 50)

	rec := rollbacktest.NewSimRecorder(c, "shop", "web", 30*time.Second)
	rec.Record(clk.Now())
	rec.Advance(clk, 90*time.Second)
	for _, s := range rec.Signals(0) {
		v, _ := s.Source.Range(context.Background(), clk.Now().Add(-time.Minute), clk.Now(), 30*time.Second)
		fmt.Printf("%s %.4g\n", s.Name, v)
	}
	// Output:
	// latency-p95 [0.0975 0.0975 0.0975]
	// error-rate [0 0 0]
	// cpu-per-request [0.002 0.002 0.002]
}
