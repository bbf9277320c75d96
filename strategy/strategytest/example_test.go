package strategytest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/strategy"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

// A recording target around a real one: every Write is recorded, and a
// fault can be injected in the next call.
func ExampleTarget() {
	ctx := context.Background()
	tmp, _ := os.MkdirTemp("", "example-target-")
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "gitops.git")
	if err := gitopstest.CreateBareRepo(dir, strategytest.Layout(4, "shop")); err != nil {
		fmt.Println(err)
		return
	}
	repo, _ := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(filepath.Join(tmp, "cache")))
	inner, _ := strategy.NewReplicaTarget(strategytest.Overlay("shop", 4))
	target := strategytest.NewTarget(inner)
	if _, err := strategy.PrepareOverlay(ctx, repo, target, strategy.PrepareRequest{App: "shop", Environment: "prod"}); err != nil {
		fmt.Println(err)
		return
	}
	write := func(d strategy.Desired) error {
		_, err := repo.Apply(ctx, gitops.Change{Message: "canary", Edits: []gitops.Edit{gitops.EditFunc(func(t *gitops.Tree) error {
			return target.Write(t, d)
		})}})
		return err
	}
	d := strategy.Desired{
		Stable: strategy.Workload{Release: strategytest.Release("shop", 1), Replicas: 3},
		Canary: strategy.Workload{Release: strategytest.Release("shop", 2), Replicas: 1},
		Weight: 25,
	}
	fmt.Println(write(d))
	target.FailNext(fmt.Errorf("injected"))
	fmt.Println(write(d))
	fmt.Println(len(target.Writes()), "writes,", target.Prepares(), "prepare")
	// Output:
	// <nil>
	// injected
	// 2 writes, 1 prepare
}
