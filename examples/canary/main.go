// Command canary runs two canary releases of an app through Git, the
// fake Argo CD and a simulated cluster, on embedded defaults:
//
//  1. the app's prod overlay is prepared for a canary behind a Gateway
//     API HTTPRoute (a canary Deployment and Service, the HTTPRoute), in
//     one commit;
//  2. a good release goes 10% → 25% → 50% → 100%, one commit per step,
//     each synced and waited for, with the sequential error judge and a
//     latency check between steps;
//  3. a bad release, failing five times as often as the stable one, is
//     aborted at its first step: the HTTPRoute sends all traffic back to
//     the stable release, and the canary is scaled down after
//     abortScaleDownDelay.
//
// The strategy is the embedded strategy.json. Every step is printed as
// it happens. The clock runs a thousand times faster than real time, so
// the whole story takes a few seconds. Run it with:
//
//	go run ./examples/canary
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/flightdeck-dev/flightdeck/examples/internal/rolloutdemo"
	"github.com/flightdeck-dev/flightdeck/sim"
	"github.com/flightdeck-dev/flightdeck/strategy"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

//go:embed strategy.json
var strategyJSON []byte

// config is what the flags set.
type config struct {
	rolloutdemo.Flags
	errorRate  float64
	badFactor  float64
	showCommit bool
}

func main() {
	c := config{Flags: rolloutdemo.Flags{Speed: 1000, RPS: 200, Replicas: 4}}
	c.Register(flag.CommandLine, "the HTTPRoute")
	flag.Float64Var(&c.errorRate, "error-rate", 0.01, "error rate of the stable and the good release")
	flag.Float64Var(&c.badFactor, "bad", 5, "how many times the stable error rate the bad release fails")
	flag.BoolVar(&c.showCommit, "commits", false, "print the commit of each step")
	rolloutdemo.Usage(flag.CommandLine, "canary", `Rolls out two releases of "shop" in prod as a canary through Git, a simulated Argo CD
and cluster, and a Gateway API HTTPRoute: a good one goes 10% → 25% → 50% → 100% with a
sequential error judge and a latency check between the steps; a bad one (-bad times the
stable error rate) is aborted at its first analysis and traffic goes back to stable.
`)
	flag.Parse()
	rolloutdemo.Main("canary", func(ctx context.Context, out io.Writer) error { return run(ctx, out, c) })
}

func run(ctx context.Context, out io.Writer, c config) error {
	latency := sim.Latency{Median: 40 * time.Millisecond, P99: 150 * time.Millisecond}
	good := sim.Behavior{ReadyAfter: 5 * time.Second, ErrorRate: c.errorRate, Latency: latency}
	bad := good
	bad.ErrorRate = c.errorRate * c.badFactor
	ro, err := rolloutdemo.Start(ctx, out, c.Flags, map[int]sim.Behavior{1: good, 2: good, 3: bad}, strategyJSON)
	if err != nil {
		return err
	}
	env, plan := ro.Env, ro.Plan
	defer env.Close()

	route := *plan.TrafficRouting
	target, err := strategy.NewRouteTarget(env.Overlay, route, "gateway")
	if err != nil {
		return err
	}
	if err := ro.Prepare(ctx, target, "HTTPRoute", route.HTTPRoute, c.RPS); err != nil {
		return err
	}
	canary, stable := env.Overlay.Deployment+"-canary", env.Overlay.Deployment
	opts := append(env.Options(),
		strategy.WithTemplate("errors", env.ErrorJudge(canary, stable, 30*time.Second, 10)),
		strategy.WithTemplate("latency", env.LatencyCheck(canary, stable, 1.5, 30*time.Second, 10)),
		strategy.WithObserver(strategy.NewPrinter(out, c.showCommit)),
	)
	runner, err := strategy.New(env.Repo, env.Argo, plan, target, opts...)
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "\n== a good release (error rate %.0f%%, as the stable)\n", c.errorRate*100)
	st, err := runner.Run(ctx, env.Release(2))
	if err != nil {
		return fmt.Errorf("the good release: %w", err)
	}
	fmt.Fprintf(out, "result: %s\n", st.Phase)
	if err := traffic(ctx, out, env, route.HTTPRoute); err != nil {
		return err
	}

	fmt.Fprintf(out, "\n== a bad release (error rate %.0f%%, %g× the stable)\n", c.errorRate*c.badFactor*100, c.badFactor)
	_, err = runner.Run(ctx, env.Release(3))
	var aborted *strategy.AbortedError
	if !errors.As(err, &aborted) {
		return fmt.Errorf("the bad release was not aborted: %v", err)
	}
	fmt.Fprintf(out, "result: aborted at step %d/%d (%s)\n", aborted.Step+1, len(plan.Steps), aborted.StepText)
	return traffic(ctx, out, env, route.HTTPRoute)
}

// traffic sends a thousand requests through the HTTPRoute and prints
// which Deployments served them.
func traffic(ctx context.Context, out io.Writer, env *strategytest.Environment, route string) error {
	by, err := env.Served(ctx, "HTTPRoute", route, 1000)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "1000 requests through the HTTPRoute served by %s; %s runs %s\n", by, env.Overlay.Deployment, rolloutdemo.Runs(env, env.Overlay.Deployment))
	return nil
}
