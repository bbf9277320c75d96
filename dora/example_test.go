package dora_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/dora"
	"github.com/flightdeck-dev/flightdeck/dora/doratest"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

// exampleHistory deploys three releases of web to prod on a Fake whose
// clock stamps the commits, and rolls the second back: a small history
// to read. The lead times are 2h30m (v1, to its verified marker), 1h30m
// and 2h15m; v2 failed and was recovered by the rollback 45 minutes
// later.
func exampleHistory() (*gitopstest.Fake, *clocktest.Clock) {
	ctx := context.Background()
	start := time.Date(2024, 6, 3, 9, 0, 0, 0, time.UTC)
	clk := clocktest.New(start)
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout("web"), gitopstest.WithClock(clk))
	if err != nil {
		panic(err)
	}
	rec := doratest.NewRecorder(f)
	step := func(d time.Duration, fn func() error) {
		clk.Advance(d)
		if err := fn(); err != nil {
			panic(err)
		}
	}
	v1 := doratest.Release("web", 1, start)                   // built at 09:00
	v2 := doratest.Release("web", 2, start.Add(24*time.Hour)) // built the next day at 09:00
	v3 := doratest.Release("web", 3, start.Add(26*time.Hour))
	var first plumbing.Hash
	step(2*time.Hour, func() (err error) { first, err = rec.Deploy(ctx, "prod", v1); return err }) // 11:00
	step(30*time.Minute, func() error {
		_, err := rec.Verify(ctx, "web", "prod", first, v1, dora.VerdictVerified) // 11:30: verified, lead time 2h30m
		return err
	})
	var bad plumbing.Hash
	step(23*time.Hour, func() (err error) { bad, err = rec.Deploy(ctx, "prod", v2); return err }) // next day 10:30: lead time 1h30m
	step(45*time.Minute, func() error {                                                           // 11:15: rolled back, 45 minutes after the bad deploy
		_, err := rec.Rollback(ctx, "prod", v1, bad, "error rate above 5%")
		return err
	})
	step(2*time.Hour, func() error { _, err := rec.Deploy(ctx, "prod", v3); return err }) // 13:15: lead time 2h15m
	return f, clk
}

// A Reader reads the trusted history of a repository (here an in-memory
// Fake) and reports the DORA figures of every app and environment.
func ExampleReader() {
	f, clk := exampleHistory()
	r := dora.NewReader(f, dora.WithClock(clk))
	rep, err := r.Report(context.Background(), dora.Query{})
	if err != nil {
		panic(err)
	}
	st := rep.Targets[0]
	fmt.Println(st.App, st.Environment)
	fmt.Println("deployments:", st.Frequency.Deployments)
	fmt.Println("lead time:", dora.FormatDuration(st.LeadTime.Median), st.LeadTime.Band)
	fmt.Println("change fail rate:", st.ChangeFailRate.Count, "of", st.ChangeFailRate.Of, st.ChangeFailRate.Band)
	fmt.Println("recovery time:", dora.FormatDuration(st.Recovery.Median), st.Recovery.Band)
	fmt.Println("rework rate:", st.ReworkRate.Count, "of", st.ReworkRate.Of, st.ReworkRate.Band)
	// Output:
	// web prod
	// deployments: 4
	// lead time: 2h15m elite
	// change fail rate: 1 of 4 medium
	// recovery time: 45m elite
	// rework rate: 1 of 4 medium
}

// WriteText prints the report for a terminal.
func ExampleReport_WriteText() {
	f, clk := exampleHistory()
	rep, err := dora.NewReader(f, dora.WithClock(clk)).Report(context.Background(), dora.Query{
		Since: time.Date(2024, 6, 3, 0, 0, 0, 0, time.UTC),
		Until: time.Date(2024, 6, 10, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		panic(err)
	}
	if err := rep.WriteText(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// DORA metrics 2024-06-03T00:00:00Z to 2024-06-10T00:00:00Z (7 days)
	//
	// APP  ENVIRONMENT  DEPLOYS  PER DAY    LEAD TIME        CHANGE FAIL RATE  RECOVERY TIME  REWORK RATE
	// web  prod         4        0.57 high  2h15m elite (3)  1/4 25% medium    45m elite (1)  1/4 25% medium
	// all  -            4        0.57 high  2h15m elite (3)  1/4 25% medium    45m elite (1)  1/4 25% medium
}

// A Collector exposes the figures to Prometheus, with labels only for
// the apps and environments it is told about.
func ExampleNewCollector() {
	f, clk := exampleHistory()
	reg := prometheus.NewRegistry()
	if _, err := dora.NewCollector(dora.NewReader(f, dora.WithClock(clk)),
		dora.WithApps("web"), dora.WithEnvironments("prod"), dora.WithRegisterer(reg)); err != nil {
		panic(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := ""
			for _, l := range m.GetLabel() {
				labels += " " + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				fmt.Printf("%s%s %g\n", mf.GetName(), labels, m.GetCounter().GetValue())
			case m.GetHistogram() != nil:
				fmt.Printf("%s%s count %d sum %g\n", mf.GetName(), labels, m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum())
			}
		}
	}
	// Output:
	// flightdeck_change_failures_total app=web environment=prod 1
	// flightdeck_change_lead_time_seconds app=web environment=prod count 3 sum 22500
	// flightdeck_deployments_total app=web change=planned environment=prod 3
	// flightdeck_deployments_total app=web change=unplanned environment=prod 1
	// flightdeck_failed_deployment_recovery_seconds app=web environment=prod count 1 sum 2700
}
