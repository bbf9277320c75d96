// Package rolloutdemo is what the strategy examples (examples/canary,
// examples/bluegreen) share: their common flags, a main that runs on a
// context an interrupt or a time limit ends, and the environment of a
// rollout (strategytest.Environment) with the embedded strategy compiled
// and the app's overlay prepared under load.
package rolloutdemo

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck/sim"
	"github.com/flightdeck-dev/flightdeck/strategy"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

// Timeout bounds a run of [Main].
const Timeout = 5 * time.Minute

// Flags are the flags every strategy example takes.
type Flags struct {
	// Speed is how many times faster than real time the clock runs.
	Speed float64
	// RPS is the load, in requests per second, sent to the app.
	RPS float64
	// Replicas is the app's replica count.
	Replicas int
}

// Register defines -speed, -rps and -replicas on fs, with f's values as
// defaults; to says where the requests go ("the HTTPRoute").
func (f *Flags) Register(fs *flag.FlagSet, to string) {
	fs.Float64Var(&f.Speed, "speed", f.Speed, "how many times faster than real time the clock runs")
	fs.Float64Var(&f.RPS, "rps", f.RPS, "requests per second to "+to)
	fs.IntVar(&f.Replicas, "replicas", f.Replicas, "the app's replicas")
}

// Usage makes fs's -help say how to run the example name, what it shows
// (about, a paragraph ending in a newline), and then its flags.
func Usage(fs *flag.FlagSet, name, about string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./examples/%s [flags]\n\n%s\nFlags:\n", name, about)
		fs.PrintDefaults()
	}
}

// Main runs run on standard output with a context that ends on an
// interrupt or after [Timeout]; if run fails, it prints "name: error" to
// standard error and exits with status 1.
func Main(name string, run func(ctx context.Context, out io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		stop()
		cancel()
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Rollout is the environment of an example and the plan it rolls out.
type Rollout struct {
	Env  *strategytest.Environment
	Plan strategy.Plan
}

// Start builds the environment (f's speed and replicas, the pods of
// release n behaving as behaviors[n]), compiles the strategy in
// strategyJSON (the strategy.ParseStrategy format) for its app, and
// prints the plan to out. Close the environment when done.
func Start(ctx context.Context, out io.Writer, f Flags, behaviors map[int]sim.Behavior, strategyJSON []byte) (*Rollout, error) {
	env, err := strategytest.NewEnvironment(ctx, strategytest.EnvironmentConfig{
		Replicas: int32(f.Replicas), Speed: f.Speed, Behaviors: behaviors,
	})
	if err != nil {
		return nil, err
	}
	spec, err := strategy.ParseStrategy(strategyJSON)
	if err != nil {
		env.Close()
		return nil, fmt.Errorf("strategy.json: %w", err)
	}
	plan, err := spec.Compile(env.App, strategytest.Env)
	if err != nil {
		env.Close()
		return nil, err
	}
	hash, err := plan.Hash()
	if err != nil {
		env.Close()
		return nil, err
	}
	fmt.Fprintf(out, "== plan (hash %s)\n%s", hash[:12], plan)
	return &Rollout{Env: env, Plan: plan}, nil
}

// Prepare writes target's manifests into the app's overlay and syncs
// them (strategytest.Environment.Prepare), then sends rps requests per
// second to the Service or HTTPRoute named by kind and name
// (strategytest.Environment.Ref).
func (r *Rollout) Prepare(ctx context.Context, target strategy.Target, kind, name string, rps float64) error {
	if err := r.Env.Prepare(ctx, target); err != nil {
		return err
	}
	return r.Env.Cluster.SetLoad(r.Env.Ref(kind, name), rps)
}

// Runs returns the image the pods of the environment's Deployment named
// deployment run, its digest cut to 12 hex digits as the strategy's
// printer shows releases, or what kept it from being read.
func Runs(env *strategytest.Environment, deployment string) string {
	obj, err := env.Cluster.Get(env.Ref("Deployment", deployment))
	if err != nil {
		return err.Error()
	}
	spec, _ := obj["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	pod, _ := tmpl["spec"].(map[string]any)
	containers, _ := pod["containers"].([]any)
	img := "no image"
	if len(containers) > 0 {
		if c, ok := containers[0].(map[string]any); ok {
			img, _ = c["image"].(string)
		}
	}
	if name, d, ok := strings.Cut(img, "@sha256:"); ok && len(d) > 12 {
		img = name + "@sha256:" + d[:12]
	}
	return img
}
