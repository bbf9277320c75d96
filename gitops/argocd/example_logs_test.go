package argocd_test

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
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// deployedShop starts a fake Argo CD whose cluster runs app "shop" (two
// pods that log every request and fail three in ten), syncs it and sends
// it 200 requests. The caller calls done to close the server and remove
// its repository.
func deployedShop(ctx context.Context) (srv *argocdtest.Server, client *argocd.Client, done func(), err error) {
	dir, err := os.MkdirTemp("", "argocd-example-")
	if err != nil {
		return nil, nil, nil, err
	}
	srv, client, err = startShop(ctx, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, nil, err
	}
	return srv, client, func() { srv.Close(); os.RemoveAll(dir) }, nil
}

func startShop(ctx context.Context, dir string) (*argocdtest.Server, *argocd.Client, error) {
	repo := filepath.Join(dir, "gitops.git")
	if _, err := git.PlainInitWithOptions(repo, &git.PlainInitOptions{
		Bare: true, InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	}); err != nil {
		return nil, nil, err
	}
	if _, err := gitopstest.CommitFiles(repo, gitopstest.KustomizeLayout("shop"), nil, "initial layout"); err != nil {
		return nil, nil, err
	}
	clk := sim.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cluster := sim.New(clk, sim.WithDefaultBehavior(sim.Behavior{ErrorRate: 0.3, AccessLog: true}))
	srv, err := argocdtest.New(argocdtest.WithClock(clk), argocdtest.WithCluster(cluster))
	if err != nil {
		return nil, nil, err
	}
	if err := srv.AddApp(ctx, argocdtest.App{Name: "shop", RepoURL: gitopstest.FileURL(repo), Path: "apps/shop/overlays/staging"}); err != nil {
		srv.Close()
		return nil, nil, err
	}
	client, err := srv.Client(argocd.WithClock(clk))
	if err == nil {
		err = client.Sync(ctx, gitops.SyncRequest{App: "shop"})
	}
	if err == nil {
		clk.Advance(time.Minute)
		_, err = cluster.Send(ctx, sim.Ref{APIVersion: "v1", Kind: "Service", Namespace: "shop-staging", Name: "shop"}, 200)
	}
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return srv, client, nil
}

// ExampleClient_Logs reads the error lines of an application's pods.
func ExampleClient_Logs() {
	ctx := context.Background()
	_, client, done, err := deployedShop(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()

	all, err := client.Logs(ctx, "shop", argocd.LogQuery{})
	if err != nil {
		fmt.Println(err)
		return
	}
	errs, err := client.Logs(ctx, "shop", argocd.LogQuery{Filter: "level=error"})
	if err != nil {
		fmt.Println(err)
		return
	}
	failed := 0
	for _, e := range all {
		if strings.HasPrefix(e.Content, "level=error") {
			failed++
		}
	}
	fmt.Println(len(all), "lines; the filter kept every error line:", len(errs) == failed && failed > 0)
	fmt.Println(errs[0].Time.Format(time.Kitchen), errs[0].Content)

	_, err = client.Logs(ctx, "checkout", argocd.LogQuery{})
	fmt.Println(err)
	// Output:
	// 200 lines; the filter kept every error line: true
	// 12:01AM level=error msg="request failed" method=GET path=/ status=500 duration=0.000s
	// argocd: logs of app "checkout": applications.argoproj.io "checkout" not found (HTTP 404, code 5)
}

// ExampleLogSource watches an application's error lines with a health
// evaluator: more than five per minute fail.
func ExampleLogSource() {
	ctx := context.Background()
	srv, client, done, err := deployedShop(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()

	src := argocd.LogSource(client, "shop", argocd.LogQuery{Kind: "Deployment", ResourceName: "shop"})
	e, err := health.NewErrorLogs(src, health.ErrorLogSpec{MaxRate: 5, Samples: -1}, health.WithClock(srv.Clock()))
	if err != nil {
		fmt.Println(err)
		return
	}
	m := e.Evaluate(ctx)
	fmt.Println(m.Phase, m.Values["lines"], "lines read,", m.Values["errors"] > 5, "more than 5 errors")
	// Output:
	// Failed 200 lines read, true more than 5 errors
}
