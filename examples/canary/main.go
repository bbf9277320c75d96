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
	"os"
	"os/signal"
	"time"

	"github.com/flightdeck-dev/flightdeck/sim"
	"github.com/flightdeck-dev/flightdeck/strategy"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

//go:embed strategy.json
var strategyJSON []byte

// config is what the flags set.
type config struct {
	speed      float64
	rps        float64
	errorRate  float64
	badFactor  float64
	replicas   int
	showCommit bool
}

func main() {
	var c config
	flag.Float64Var(&c.speed, "speed", 1000, "how many times faster than real time the clock runs")
	flag.Float64Var(&c.rps, "rps", 200, "requests per second through the HTTPRoute")
	flag.Float64Var(&c.errorRate, "error-rate", 0.01, "error rate of the stable and the good release")
	flag.Float64Var(&c.badFactor, "bad", 5, "how many times the stable error rate the bad release fails")
	flag.IntVar(&c.replicas, "replicas", 4, "the app's replicas")
	flag.BoolVar(&c.showCommit, "commits", false, "print the commit of each step")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "canary:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, c config) error {
	latency := sim.Latency{Median: 40 * time.Millisecond, P99: 150 * time.Millisecond}
	good := sim.Behavior{ReadyAfter: 5 * time.Second, ErrorRate: c.errorRate, Latency: latency}
	bad := good
	bad.ErrorRate = c.errorRate * c.badFactor
	env, err := strategytest.NewEnvironment(ctx, strategytest.EnvironmentConfig{
		Replicas: int32(c.replicas), Speed: c.speed,
		Behaviors: map[int]sim.Behavior{1: good, 2: good, 3: bad},
	})
	if err != nil {
		return err
	}
	defer env.Close()

	spec, err := strategy.ParseStrategy(strategyJSON)
	if err != nil {
		return fmt.Errorf("strategy.json: %w", err)
	}
	plan, err := spec.Compile(env.App, strategytest.Env)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "== plan (hash %s)\n%s", hash(plan), plan)

	route := *plan.TrafficRouting
	target, err := strategy.NewRouteTarget(env.Overlay, route, "gateway")
	if err != nil {
		return err
	}
	if err := env.Prepare(ctx, target); err != nil {
		return err
	}
	if err := env.Cluster.SetLoad(env.Ref("HTTPRoute", route.HTTPRoute), c.rps); err != nil {
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
	fmt.Fprintf(out, "1000 requests through the HTTPRoute served by %s\n", by)
	return nil
}

func hash(p strategy.Plan) string {
	h, err := p.Hash()
	if err != nil {
		return "?"
	}
	return h[:12]
}
