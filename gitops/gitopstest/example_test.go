package gitopstest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

// A GitOps repository for two apps, made without a testing.TB.
func ExampleCreateBareRepo() {
	tmp, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "gitops.git")
	if err := gitopstest.CreateBareRepo(dir, gitopstest.KustomizeLayout("web", "api")); err != nil {
		fmt.Println(err)
		return
	}
	r, _ := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(filepath.Join(tmp, "cache")))
	out, err := r.ReadFile(context.Background(), "", "apps/web/overlays/prod/replicas.yaml")
	fmt.Print(string(out), err)
	// Output:
	// apiVersion: apps/v1
	// kind: Deployment
	// metadata:
	//   name: web
	// spec:
	//   replicas: 3
	// <nil>
}

// A tool that reads deploy history, tested without a repository on disk
// or a git binary: the Fake applies real edits, stamps commits with a
// fake clock, answers History, ReadFile, Render and CurrentRelease, and
// can be told to fail.
func ExampleFake() {
	clk := clocktest.New(time.Time{})
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout("checkout"), gitopstest.WithClock(clk))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	prod := gitops.Target{App: "checkout", Environment: flightdeck.Environment{Name: "prod"}}
	for i, tag := range []string{"1.1.0", "1.2.0"} {
		_, err := gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: flightdeck.Release{
			Image: gitopstest.Image("checkout"), Digest: fmt.Sprintf("sha256:%064x", i+1), Tag: tag,
		}})
		if err != nil {
			fmt.Println(err)
			return
		}
		clk.Advance(time.Hour)
	}
	// A person's commit that copies a deploy's message is not a deploy.
	_, _ = f.Commit(f.Log()[0].Message, gitopstest.Files{"notes.txt": "copied\n"})

	entries, _ := f.History(ctx, gitops.HistoryQuery{App: "checkout"})
	for _, e := range entries {
		rel, _ := e.Release()
		fmt.Println(e.Time.UTC().Format(time.RFC3339), e.Subject, rel.Tag)
	}
	cur, _ := gitops.CurrentRelease(ctx, f, prod, "")
	fmt.Println("prod runs", cur.Release.Tag)

	f.FailNext(gitopstest.OpHistory, gitops.ErrRemote)
	_, err = f.History(ctx, gitops.HistoryQuery{})
	fmt.Println(err)
	// Output:
	// 2026-01-01T01:00:00Z deploy checkout to prod 1.2.0
	// 2026-01-01T00:00:00Z deploy checkout to prod 1.1.0
	// prod runs 1.2.0
	// gitops: remote unavailable
}
