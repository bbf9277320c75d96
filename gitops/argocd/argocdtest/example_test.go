package argocdtest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// newRepo creates a bare Git repository with files on main.
func newRepo(dir string, files gitopstest.Files) (string, error) {
	repo := filepath.Join(dir, "gitops.git")
	_, err := git.PlainInitWithOptions(repo, &git.PlainInitOptions{
		Bare: true, InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		return "", err
	}
	_, err = gitopstest.CommitFiles(repo, files, nil, "initial layout")
	return repo, err
}

// Example deploys a release through the fake Argo CD, then a release
// whose pods never become ready, which ends Degraded once the
// Deployment's progress deadline (ten minutes) has passed. The server's
// clock runs 10000 times faster than real time, so this takes well under a
// second. The wait is bounded by a real-time context rather than a
// Timeout on the accelerated clock, whose hour would pass in 0.36 seconds
// of a busy machine.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tmp, _ := os.MkdirTemp("", "argocdtest-example-")
	defer os.RemoveAll(tmp)
	files := gitopstest.KustomizeLayout("shop")
	repo, err := newRepo(tmp, files)
	if err != nil {
		fmt.Println(err)
		return
	}

	srv, err := argocdtest.New(argocdtest.WithAcceleratedClock(10000))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	srv.Cluster().SetBehavior(gitopstest.Image("shop")+":2.0.0", sim.Behavior{NeverReady: true})
	if err := srv.AddApp(ctx, argocdtest.App{Name: "shop", RepoURL: gitopstest.FileURL(repo), Path: "apps/shop/overlays/prod"}); err != nil {
		fmt.Println(err)
		return
	}
	client, err := srv.Client()
	if err != nil {
		fmt.Println(err)
		return
	}

	deploy := func(want health.Status) {
		if err := client.Sync(ctx, gitops.SyncRequest{App: "shop"}); err != nil {
			fmt.Println(err)
			return
		}
		st, err := gitops.WaitFor(ctx, client, gitops.WaitOptions{
			App: "shop", Health: want, Clock: srv.Clock(), PollInterval: time.Second,
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(strings.TrimSpace(fmt.Sprint(st.SyncStatus, " ", st.Health, " ", st.HealthMessage)))
	}
	deploy(health.Healthy)

	overlay := "apps/shop/overlays/prod/kustomization.yaml"
	broken := strings.Replace(files[overlay], "newTag: 1.0.0", "newTag: 2.0.0", 1)
	if _, err := gitopstest.CommitFiles(repo, gitopstest.Files{overlay: broken}, nil, "release 2.0.0"); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := client.Get(ctx, "shop", "normal"); err != nil { // see the new commit now
		fmt.Println(err)
		return
	}
	deploy(health.Degraded)
	// Output:
	// Synced Healthy
	// Synced Degraded Deployment "shop" exceeded its progress deadline
}
