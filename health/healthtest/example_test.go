package healthtest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
)

func ExampleScripted() {
	e := healthtest.NewScripted(healthtest.Success(0.01), healthtest.NoData())
	fmt.Println(e.Evaluate(context.Background()).Phase)
	fmt.Println(e.Evaluate(context.Background()).Phase)
	e.FailWith(errors.New("connection refused"))
	m := e.Evaluate(context.Background())
	fmt.Println(m.Phase, m.Err, e.Calls())
	// Output:
	// Successful
	// Inconclusive
	// Error connection refused 3
}

func ExamplePrometheus() {
	fake := healthtest.NewPrometheus()
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	fake.AddSeries(`rate(errors_total[1m])`, map[string]string{"track": "canary"},
		healthtest.Point{T: at.Add(-time.Minute), V: 0.5},
		healthtest.Point{T: at, V: 0.75})
	fake.FailWith(`broken`, 500, "server_error", "out of memory")
	srv := httptest.NewServer(fake)
	defer srv.Close()

	q, _ := health.NewPrometheusQuery(srv.URL, `rate(errors_total[1m])`, health.WithClock(clocktest.New(at)))
	fmt.Println(q.Evaluate(context.Background()).Value)
	vals, _ := q.Range(context.Background(), at.Add(-time.Hour), at, time.Minute)
	fmt.Println(vals)

	b, _ := health.NewPrometheusQuery(srv.URL, `broken`)
	fmt.Println(b.Evaluate(context.Background()).Phase)
	fmt.Println(len(fake.Calls()), "calls")
	// Output:
	// 0.75
	// [0.5 0.75]
	// Error
	// 3 calls
}

func ExampleScripted_SetClock() {
	// An auto clock fires every wait at once: a run with five-minute
	// intervals finishes instantly, and the record reads the times it would
	// have had.
	c := clocktest.NewAuto(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	errorRate := healthtest.Values(0.01, 0.02, 0.01)
	errorRate.SetClock(c)
	r, _ := health.NewRunner(health.WithClock(c))
	res, _ := r.Run(context.Background(), health.Analysis{Metrics: []health.Metric{{
		Name: "errors", Evaluator: errorRate,
		Interval: 5 * time.Minute, Count: 3, SuccessCondition: health.Below(0.05),
	}}})
	fmt.Println(res.Phase, res.Finished.Sub(res.Started))
	fmt.Println(c.Waits())
	// Output:
	// Successful 10m0s
	// [5m0s 5m0s]
}
