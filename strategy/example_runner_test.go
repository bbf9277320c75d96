package strategy_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/flightdeck-dev/flightdeck/sim"
	"github.com/flightdeck-dev/flightdeck/strategy"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

// A canary rolled out through Git, the fake Argo CD and a simulated
// cluster: every step is a commit, synced and waited for; the run pauses
// until promoted, and another process could promote it just as well,
// since the command is a commit too.
func ExampleRunner() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := strategytest.NewEnvironment(ctx, strategytest.EnvironmentConfig{
		Replicas: 4, Behaviors: map[int]sim.Behavior{1: {ReadyAfter: 5 * time.Second}, 2: {ReadyAfter: 5 * time.Second}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer env.Close()

	route := strategy.TrafficRouting{HTTPRoute: "shop", StableService: "shop", CanaryService: "shop-canary"}
	plan, _ := strategy.Canary{
		Steps:          []strategy.Step{strategy.SetWeight(25), strategy.PauseUntilPromoted()},
		TrafficRouting: &route,
	}.Compile("shop", "prod")
	target, _ := strategy.NewRouteTarget(env.Overlay, route, "gateway")
	promote := strategy.ObserverFunc(func(e strategy.Event) {
		if e.Kind == strategy.EventPaused {
			go strategy.Control(ctx, env.Repo, strategy.ControlRequest{App: "shop", Environment: "prod", Command: strategy.CommandPromote})
		}
	})
	opts := append(env.Options(), strategy.WithObserver(strategy.NewPrinter(os.Stdout, false), promote))
	runner, err := strategy.New(env.Repo, env.Argo, plan, target, opts...)
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := runner.Run(ctx, env.Release(2))
	if errors.Is(err, strategy.ErrAborted) {
		fmt.Println("aborted:", err)
	}
	fmt.Println(st.Phase, st.StepLabel())
	// Output:
	// shop/prod: prepared the overlay for canary
	// shop/prod: synced, healthy
	// shop/prod: rolling out registry.example.com/team/shop@sha256:de8cb37e0c13 over registry.example.com/team/shop@sha256:f0ad2890b031 (canary, plan e0d1ffb81e4f)
	// shop/prod 1/5 setWeight 25%: committed, weight 25% (stable ×4, canary ×1)
	// shop/prod 1/5 setWeight 25%: synced, healthy
	// shop/prod 2/5 pause until promoted: committed, weight 25% (stable ×4, canary ×1)
	// shop/prod 2/5 pause until promoted: paused: until promoted
	// shop/prod 2/5 pause until promoted: promoted: promoted past pause step
	// shop/prod 3/5 setWeight 100%: committed, weight 100% (stable ×4, canary ×4)
	// shop/prod 3/5 setWeight 100%: synced, healthy
	// shop/prod 4/5 switchActive: committed, weight 100% (stable ×4, canary ×4)
	// shop/prod 4/5 switchActive: synced, healthy
	// shop/prod 4/5 switchActive: committed, weight 0% (stable ×4, canary ×4)
	// shop/prod 4/5 switchActive: synced, healthy
	// shop/prod 5/5 scaleDown after 30s: committed, weight 0% (stable ×4, canary ×4)
	// shop/prod 5/5 scaleDown after 30s: committed, weight 0% (stable ×4, canary ×0)
	// shop/prod 5/5 scaleDown after 30s: synced, healthy
	// shop/prod: completed: weight 0% (stable ×4, canary ×0)
	// Completed 5/5
}
