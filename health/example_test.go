package health_test

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

func ExampleObjectHealth() {
	deployment := map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": "web", "generation": 4},
		"spec":       map[string]any{"replicas": 3},
		"status": map[string]any{
			"observedGeneration": 4, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 3,
		},
	}
	status, msg, err := health.ObjectHealth(deployment)
	fmt.Println(status, msg, err)
	// Output: Progressing Waiting for rollout to finish: 1 out of 3 new replicas have been updated... <nil>
}

func ExampleRunner_Run() {
	clock := clocktest.NewAuto(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	runner, _ := health.NewRunner(health.WithClock(clock))
	errorRate := healthtest.Values(0.004, 0.006, 0.021, 0.034)
	errorRate.SetClock(clock)

	res, err := runner.Run(context.Background(), health.Analysis{Metrics: []health.Metric{{
		Name:             "error-rate",
		Evaluator:        errorRate,
		Interval:         time.Minute,
		Count:            5,
		SuccessCondition: health.Below(0.01),
		FailureLimit:     1,
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Phase, "-", res.Message)
	for _, m := range res.Metric("error-rate").Measurements {
		fmt.Println(m.Time.Format("15:04"), m.Value, m.Phase)
	}
	// Output:
	// Failed - error-rate Failed: 2 failed measurements exceed the failure limit 1: value 0.034
	// 00:00 0.004 Successful
	// 00:01 0.006 Successful
	// 00:02 0.021 Failed
	// 00:03 0.034 Failed
}

// An error does not count toward a metric's count: the metric measures
// again after the error retry interval (10s), and only a measurement that
// was taken decides it.
func ExampleRunner_Run_errors() {
	clock := clocktest.NewAuto(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	runner, _ := health.NewRunner(health.WithClock(clock))
	probe := healthtest.NewScripted(
		healthtest.Err(errors.New("connection refused")),
		healthtest.Err(errors.New("connection refused")),
		healthtest.Success(200),
	)
	probe.SetClock(clock)

	res, _ := runner.Run(context.Background(), health.Analysis{Metrics: []health.Metric{{
		Name: "smoke", Evaluator: probe, // no interval: measured once, retried on error
	}}})
	m := res.Metric("smoke")
	fmt.Println(res.Phase, "-", m.Message)
	for _, meas := range m.Measurements {
		fmt.Println(meas.Time.Format("15:04:05"), meas.Phase)
	}
	// Output:
	// Successful - 1 measurement within limits (1 successful, 0 failed, 0 inconclusive, 2 errors)
	// 00:00:00 Error
	// 00:00:10 Error
	// 00:00:20 Successful
}

func ExamplePrometheusQuery() {
	fake := healthtest.NewPrometheus()
	fake.SetVector(`sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))`,
		healthtest.Sample{Value: 0.002})
	srv := httptest.NewServer(fake)
	defer srv.Close()

	q, err := health.NewPrometheusQuery(srv.URL,
		`sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))`)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := q.Evaluate(context.Background())
	fmt.Println(m.Phase, m.Value)

	empty, _ := health.NewPrometheusQuery(srv.URL, `up{job="missing"}`)
	m = empty.Evaluate(context.Background())
	fmt.Println(m.Phase)
	// Output:
	// Successful 0.002
	// Inconclusive
}

func ExampleJudge() {
	baseline := []float64{101, 99, 100, 102, 98, 100, 101, 99, 100, 100, 102, 98}
	canary := []float64{131, 129, 130, 133, 127, 130, 128, 132, 130, 131, 129, 130}
	j, err := health.Judge(health.JudgeConfig{}, []health.CanaryMetric{
		{Name: "latency-p50", Groups: []string{"latency"}, Direction: health.Increase, Control: baseline, Experiment: canary},
		{Name: "cpu", Groups: []string{"saturation"}, Control: baseline, Experiment: baseline},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range j.Metrics {
		fmt.Printf("%s %s ratio %.2f\n", m.Name, m.Classification, m.Ratio)
	}
	fmt.Println(j.Score, j.Classification, j.Phase())
	// Output:
	// latency-p50 High ratio 1.30
	// cpu Pass ratio 1.00
	// 50 Fail Failed
}

func ExampleSequentialTest() {
	// The canary takes 10% of the traffic; errors arrive one by one.
	t, _ := health.NewSequentialTest(health.SequentialConfig{CanaryShare: 0.1})
	fmt.Println(t.Observe(0, 0)) // no errors yet: keep watching
	fmt.Println(t.Observe(1, 3))
	fmt.Println(t.Observe(5, 0)) // 6 of 9 errors from 10% of the traffic
	// Output:
	// Running
	// Running
	// Failed
}

func ExampleAllOf() {
	check := health.AllOf(
		health.Named{Name: "probe", Evaluator: healthtest.NewScripted(healthtest.Success(200))},
		health.Named{Name: "errors", Evaluator: healthtest.NewScripted(healthtest.NoData())},
	)
	m := check.Evaluate(context.Background())
	fmt.Println(m.Phase, "-", m.Message)
	// Output: Inconclusive - all of (probe: Successful, errors: Inconclusive)
}
