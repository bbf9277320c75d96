// Command bluegreen runs a blue-green release of an app through Git, the
// fake Argo CD and a simulated cluster, on embedded defaults:
//
//  1. the app's prod overlay is prepared for blue-green (a Deployment per
//     colour and a preview Service) in one commit;
//  2. the new release comes up on the green colour behind the preview
//     Service, and a pre-promotion smoke test sends it a few requests;
//  3. the switch: one commit of the active Service's selector moves
//     production traffic to green;
//  4. the post-promotion analysis measures the error rate of production
//     traffic and fails (the release fails 8% of its requests, which a
//     smoke test of twenty requests hardly shows);
//  5. the switch back, again one commit of the selector: blue, still
//     running the stable release, serves at once; green is scaled down
//     after abortScaleDownDelay.
//
// The strategy is the embedded strategy.json. Every step is printed as
// it happens; the clock runs a thousand times faster than real time. Run
// it with:
//
//	go run ./examples/bluegreen
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
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
	"github.com/flightdeck-dev/flightdeck/strategy"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

//go:embed strategy.json
var strategyJSON []byte

// config is what the flags set.
type config struct {
	rolloutdemo.Flags
	errorRate float64
	maxErrors float64
}

func main() {
	c := config{Flags: rolloutdemo.Flags{Speed: 1000, RPS: 200, Replicas: 3}}
	c.Register(flag.CommandLine, "the active Service")
	flag.Float64Var(&c.errorRate, "error-rate", 0.08, "error rate of the new release")
	flag.Float64Var(&c.maxErrors, "max-error-rate", 0.02, "the error rate the post-promotion analysis tolerates")
	rolloutdemo.Usage(flag.CommandLine, "bluegreen", `Rolls out a release of "shop" in prod blue-green through Git, a simulated Argo CD and
cluster: the new release comes up behind the preview Service, a smoke test passes, the
active Service switches to it, the post-promotion error-rate analysis fails (the release
fails -error-rate of its requests) and the active Service switches straight back.
`)
	flag.Parse()
	rolloutdemo.Main("bluegreen", func(ctx context.Context, out io.Writer) error { return run(ctx, out, c) })
}

func run(ctx context.Context, out io.Writer, c config) error {
	stable := sim.Behavior{ReadyAfter: 5 * time.Second, ErrorRate: 0.005}
	release := stable
	release.ErrorRate = c.errorRate
	ro, err := rolloutdemo.Start(ctx, out, c.Flags, map[int]sim.Behavior{1: stable, 2: release}, strategyJSON)
	if err != nil {
		return err
	}
	env, plan := ro.Env, ro.Plan
	defer env.Close()

	target, err := strategy.NewBlueGreenTarget(env.Overlay, plan.ActiveService, plan.PreviewService)
	if err != nil {
		return err
	}
	if err := ro.Prepare(ctx, target, "Service", plan.ActiveService, c.RPS); err != nil {
		return err
	}
	show := func(when, svc string) {
		by, err := env.Served(ctx, "Service", svc, 100)
		if err != nil {
			by = err.Error()
		}
		fmt.Fprintf(out, "%s: 100 requests to Service %s served by %s\n", when, svc, by)
	}
	app := env.Overlay.Deployment
	show(fmt.Sprintf("before the rollout (%s-blue, a copy of %s, serves beside it until the first step scales %s to 0)", app, app, app), plan.ActiveService)

	watch := strategy.ObserverFunc(func(e strategy.Event) {
		switch {
		case e.Kind != strategy.EventSynced:
		case e.StepText == "switchActive":
			show("after the switch", plan.ActiveService)
		case e.Phase == strategy.PhaseAborted && e.Desired.Canary.Replicas > 0:
			show("right after the switch back", plan.ActiveService)
		}
	})
	colours := []string{env.Overlay.Deployment + "-blue", env.Overlay.Deployment + "-green"}
	runner, err := strategy.New(env.Repo, env.Argo, plan, target, append(env.Options(),
		strategy.WithTemplate("smoke", smoke(env, plan.PreviewService, 20, 0.75)),
		strategy.WithTemplate("error-rate", errorRate(env, colours, c.maxErrors)),
		strategy.WithObserver(strategy.NewPrinter(out, false), watch),
	)...)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== release 2 (fails %.0f%% of its requests)\n", c.errorRate*100)
	_, err = runner.Run(ctx, env.Release(2))
	var aborted *strategy.AbortedError
	if !errors.As(err, &aborted) {
		return fmt.Errorf("the release was not switched back: %v", err)
	}
	fmt.Fprintf(out, "result: switched back at step %d/%d (%s)\n", aborted.Step+1, len(plan.Steps), aborted.StepText)
	show("at the end", plan.ActiveService)
	return nil
}

// smoke is the pre-promotion analysis: n requests to the preview Service,
// of which at least the share min must succeed.
func smoke(env *strategytest.Environment, preview string, n int, min float64) strategy.Template {
	return strategy.TemplateFunc(func(ctx context.Context, in strategy.AnalysisInput) (health.Analysis, error) {
		eval := health.Func(func(ctx context.Context) health.Measurement {
			res, err := env.Cluster.Send(ctx, env.Ref("Service", preview), n)
			if err != nil {
				return health.Measurement{Time: env.Clock.Now(), Phase: health.Error, Err: err, Message: err.Error()}
			}
			ok := float64(res.Codes[200]) / float64(n)
			return health.Measurement{Time: env.Clock.Now(), Value: ok, Phase: health.Successful,
				Message: fmt.Sprintf("smoke: %d of %d requests to %s succeeded", res.Codes[200], n, preview)}
		})
		return health.Analysis{Metrics: []health.Metric{{Name: "smoke", Evaluator: eval, SuccessCondition: health.AtLeast(min)}}}, nil
	})
}

// errorRate is the post-promotion analysis: the share of failed requests
// the colours served since the analysis began, measured every 20 seconds
// for two minutes, which fails above max.
func errorRate(env *strategytest.Environment, colours []string, max float64) strategy.Template {
	return strategy.TemplateFunc(func(ctx context.Context, in strategy.AnalysisInput) (health.Analysis, error) {
		var failed, all []health.Evaluator
		for _, d := range colours {
			f, err := env.Requests(d, "500")
			if err != nil {
				return health.Analysis{}, err
			}
			a, err := env.Requests(d, "")
			if err != nil {
				return health.Analysis{}, err
			}
			failed, all = append(failed, f), append(all, a)
		}
		sum := func(ctx context.Context, evs []health.Evaluator) (float64, error) {
			total := 0.0
			for _, e := range evs {
				m := e.Evaluate(ctx)
				if m.Phase != health.Successful {
					return 0, fmt.Errorf("%s", m.Message)
				}
				total += m.Value
			}
			return total, nil
		}
		f0, err := sum(ctx, failed)
		if err != nil {
			return health.Analysis{}, err
		}
		a0, err := sum(ctx, all)
		if err != nil {
			return health.Analysis{}, err
		}
		eval := health.Func(func(ctx context.Context) health.Measurement {
			now := env.Clock.Now()
			f, ferr := sum(ctx, failed)
			a, aerr := sum(ctx, all)
			if err := errors.Join(ferr, aerr); err != nil {
				return health.Measurement{Time: now, Phase: health.Error, Err: err, Message: err.Error()}
			}
			if a == a0 {
				return health.Measurement{Time: now, Phase: health.Inconclusive, Message: "error rate: no requests yet"}
			}
			rate := (f - f0) / (a - a0)
			return health.Measurement{Time: now, Value: rate, Phase: health.Successful,
				Message: fmt.Sprintf("error rate %.1f%% of %g requests", rate*100, a-a0)}
		})
		return health.Analysis{Metrics: []health.Metric{{
			Name: "error-rate", Evaluator: eval, InitialDelay: 20 * time.Second, Interval: 20 * time.Second, Count: 6,
			FailureCondition: health.Above(max),
		}}}, nil
	})
}
