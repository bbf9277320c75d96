package doratest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/dora"
	"github.com/flightdeck-dev/flightdeck/dora/doratest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

func TestGenerate(t *testing.T) {
	spec := doratest.Spec{Apps: 2, Environments: []string{"dev", "prod"}, Commits: 20, RollbackEvery: 9, VerifyEvery: 4}
	dir := filepath.Join(t.TempDir(), "repo.git")
	require.NoError(t, doratest.Generate(dir, spec))
	assert.ErrorContains(t, doratest.Generate(dir, spec), "exists")

	repo, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(filepath.Join(t.TempDir(), "cache")))
	require.NoError(t, err)
	entries, err := repo.History(context.Background(), gitops.HistoryQuery{AllActions: true})
	require.NoError(t, err)
	require.Len(t, entries, 20, "every generated commit is trusted; the layout commit has no trailers")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	deploys := map[string]int{} // the deploys each target has, as Generate counts them
	actions := map[int]gitops.Action{}
	for i := 1; i <= 20; i++ {
		app, env := spec.Target(i)
		n := deploys[app+"/"+env]
		switch {
		case i%9 == 0 && n >= 2:
			actions[i] = gitops.ActionRollback
			deploys[app+"/"+env]--
		case i%4 == 0 && n >= 1:
			actions[i] = dora.ActionVerify
		default:
			actions[i] = gitops.ActionDeploy
			deploys[app+"/"+env]++
		}
	}
	assert.Equal(t, []gitops.Action{gitops.ActionDeploy, gitops.ActionRollback, dora.ActionVerify},
		[]gitops.Action{actions[4], actions[9], actions[8]}, "commit 4 is its target's first: a deploy, not a marker")
	for k, e := range entries {
		i := 20 - k
		app, env := spec.Target(i)
		assert.Equal(t, app, e.Trailers.App, "commit %d", i)
		assert.Equal(t, env, e.Trailers.Environment, "commit %d", i)
		assert.True(t, start.Add(time.Duration(i)*time.Minute).Equal(e.Time), "commit %d at %v", i, e.Time)
		want := actions[i]
		assert.Equal(t, want, e.Trailers.Action, "commit %d", i)
		if want == gitops.ActionDeploy {
			assert.True(t, e.Time.Add(-doratest.LeadTime(i)).Equal(e.Trailers.SourceTime), "commit %d", i)
			rel, ok := e.Release()
			require.True(t, ok)
			require.NoError(t, rel.Validate())
		}
	}
	overlay, err := repo.ReadFile(context.Background(), "", "apps/app0000/overlays/prod/kustomization.yaml")
	require.NoError(t, err)
	assert.Contains(t, string(overlay), "digest: sha256:", "deploys pin the overlay")
}

func TestRecorder(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout("web"), gitopstest.WithClock(clk))
	require.NoError(t, err)
	rec := doratest.NewRecorder(f)
	v1 := doratest.Release("web", 1, clk.Now())
	assert.Equal(t, v1, doratest.Release("web", 1, clk.Now()), "deterministic")
	assert.NotEqual(t, v1.Digest, doratest.Release("web", 2, clk.Now()).Digest)
	require.NoError(t, v1.Validate())

	d, err := rec.Deploy(ctx, "prod", v1)
	require.NoError(t, err)
	_, err = rec.Deploy(ctx, "prod", v1)
	assert.ErrorIs(t, err, doratest.ErrNoCommit, "the release is already there")
	m, err := rec.Verify(ctx, "web", "prod", d, v1, dora.VerdictVerified)
	require.NoError(t, err)
	_, err = rec.Verify(ctx, "web", "prod", d, v1, dora.VerdictVerified)
	require.NoError(t, err, "every marker is a commit of its own")

	entries, err := f.History(ctx, gitops.HistoryQuery{AllActions: true})
	require.NoError(t, err)
	require.Len(t, entries, 3)
	assert.Equal(t, m, entries[1].Commit)
	v, ok := dora.Verdict(entries[1])
	assert.True(t, ok)
	assert.Equal(t, dora.VerdictVerified, v)
	named, _ := entries[1].Trailers.Extra.Get(dora.TrailerDeploy)
	assert.Equal(t, d.String(), named)
}

// A Recorder writes the commits dora reads; a fake clock dates them.
func ExampleRecorder() {
	ctx := context.Background()
	start := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	clk := clocktest.New(start)
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout("web"), gitopstest.WithClock(clk))
	if err != nil {
		panic(err)
	}
	rec := doratest.NewRecorder(f)
	v1, v2 := doratest.Release("web", 1, start), doratest.Release("web", 2, start)
	clk.Advance(time.Hour)
	if _, err := rec.Deploy(ctx, "prod", v1); err != nil {
		panic(err)
	}
	clk.Advance(time.Hour)
	bad, err := rec.Deploy(ctx, "prod", v2)
	if err != nil {
		panic(err)
	}
	clk.Advance(10 * time.Minute)
	if _, err := rec.Rollback(ctx, "prod", v1, bad, "error rate"); err != nil {
		panic(err)
	}
	rep, err := dora.NewReader(f, dora.WithClock(clk)).Report(ctx, dora.Query{})
	if err != nil {
		panic(err)
	}
	for _, d := range rep.Total.Deployments {
		fmt.Println(d.Action, d.Release[len(d.Release)-8:], "failed:", d.Failed, "unplanned:", d.Unplanned)
	}
	fmt.Println("recovery:", dora.FormatDuration(rep.Total.Recovery.Median))
	// Output:
	// deploy 33fbf511 failed: false unplanned: false
	// deploy 0cba8c65 failed: true unplanned: false
	// rollback 33fbf511 failed: false unplanned: true
	// recovery: 10m
}
