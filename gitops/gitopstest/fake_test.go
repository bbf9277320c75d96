package gitopstest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

func digestN(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func env(app, name string) gitops.Target {
	return gitops.Target{App: app, Environment: flightdeck.Environment{Name: name}}
}

func rel(app string, n int) flightdeck.Release {
	return flightdeck.Release{App: app, Image: gitopstest.Image(app), Digest: digestN(n), Tag: fmt.Sprintf("1.%d.0", n),
		SourceRepo: "https://git.example.com/" + app, Revision: fmt.Sprintf("%040x", n), Time: time.Date(2026, 1, n, 0, 0, 0, 0, time.UTC)}
}

func TestFakeAnswersLikeARepo(t *testing.T) {
	clk := clocktest.New(time.Time{})
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout("checkout"), gitopstest.WithClock(clk))
	require.NoError(t, err)
	ctx := context.Background()
	prod := env("checkout", "prod")
	var results []gitops.Result
	for i := 1; i <= 3; i++ {
		res, err := gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: rel("checkout", i)})
		require.NoError(t, err)
		require.True(t, res.Changed)
		assert.Equal(t, []string{"apps/checkout/overlays/prod/kustomization.yaml"}, res.Files)
		assert.Equal(t, []string{"apps/checkout/overlays/prod"}, res.Overlays)
		assert.Equal(t, 1, res.Attempts)
		results = append(results, res)
		clk.Advance(24 * time.Hour)
	}
	assert.Equal(t, results[2].Commit, f.Head())

	h, err := f.History(ctx, gitops.HistoryQuery{App: "checkout", Environment: "prod"})
	require.NoError(t, err)
	require.Len(t, h, 3)
	for i, e := range h {
		assert.Equal(t, results[2-i].Commit, e.Commit, "newest first")
		assert.True(t, clocktest.Default.Add(time.Duration(2-i)*24*time.Hour).Equal(e.Time), "stamped by the fake clock: %v", e.Time)
		got, ok := e.Release()
		require.True(t, ok)
		assert.Equal(t, rel("checkout", 3-i), got)
	}
	limited, err := f.History(ctx, gitops.HistoryQuery{Limit: 1, Revision: results[1].Commit.String()})
	require.NoError(t, err)
	require.Len(t, limited, 1)
	assert.Equal(t, results[1].Commit, limited[0].Commit)

	file := "apps/checkout/overlays/prod/kustomization.yaml"
	for _, rev := range []string{"HEAD~1", "HEAD^", results[1].Commit.String(), results[1].Commit.String()[:8]} {
		data, err := f.ReadFile(ctx, rev, file)
		require.NoError(t, err, rev)
		assert.Contains(t, string(data), digestN(2), rev)
	}
	for _, rev := range []string{"nope", "HEAD~9", "abcdef12"} {
		_, err := f.ReadFile(ctx, rev, file)
		assert.ErrorIs(t, err, gitops.ErrNotExist, rev)
	}
	_, err = f.ReadFile(ctx, "", "../escape")
	assert.ErrorIs(t, err, gitops.ErrPathEscape)

	out, err := f.Render(ctx, "main", prod.Overlay())
	require.NoError(t, err)
	assert.Contains(t, string(out), "image: "+rel("checkout", 3).Ref())
	assert.Contains(t, string(out), "namespace: checkout-prod")

	cur, err := gitops.CurrentRelease(ctx, f, prod, "")
	require.NoError(t, err)
	assert.Equal(t, rel("checkout", 3), cur.Release)
	assert.Equal(t, results[2].Commit, cur.Deploy.Commit)

	var ops []gitopstest.Op
	for _, c := range f.Calls() {
		ops = append(ops, c.Op)
	}
	assert.Equal(t, []gitopstest.Op{"Apply", "Apply", "Apply", "History", "History", "ReadFile", "ReadFile", "ReadFile", "ReadFile",
		"ReadFile", "ReadFile", "ReadFile", "ReadFile", "Render", "ReadFile", "History"}, ops)
	assert.Len(t, f.Changes(), 3)
	assert.ErrorIs(t, f.Calls()[9].Err, gitops.ErrNotExist, "results are recorded")
}

func TestFakeRefusesWhatARepoRefuses(t *testing.T) {
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout("checkout"))
	require.NoError(t, err)
	ctx := context.Background()
	head := f.Head()
	for name, c := range map[string]struct {
		ch gitops.Change
		is error
	}{
		"no edits":        {gitops.Change{}, gitops.ErrInvalidChange},
		"smuggled":        {gitops.Change{Message: "x\n\nFlightdeck-Version: 1", Edits: []gitops.Edit{gitops.WriteFile{Path: "x", Data: []byte("x")}}}, gitops.ErrInvalidChange},
		"path escape":     {gitops.Change{Edits: []gitops.Edit{gitops.WriteFile{Path: "../x", Data: []byte("x")}}}, gitops.ErrPathEscape},
		"breaks overlays": {gitops.Change{Edits: []gitops.Edit{gitops.RemoveFile{Path: "apps/checkout/base/service.yaml"}}}, gitops.ErrRender},
		"bad image":       {gitops.Change{Edits: []gitops.Edit{gitops.SetImage{Dir: "apps/checkout/overlays/dev", Name: "x", Digest: "sha256:no"}}}, gitops.ErrInvalidImage},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.Apply(ctx, c.ch)
			assert.ErrorIs(t, err, c.is)
			assert.Equal(t, head, f.Head(), "nothing committed")
		})
	}

	same, err := f.Apply(ctx, gitops.Change{Edits: []gitops.Edit{gitops.WriteFile{Path: "apps/checkout/base/service.yaml",
		Data: []byte(gitopstest.KustomizeLayout("checkout")["apps/checkout/base/service.yaml"])}}})
	require.NoError(t, err)
	assert.False(t, same.Changed, "an edit that changes nothing makes no commit")
	assert.Equal(t, head, f.Head())

	dry, err := f.Apply(ctx, gitops.Change{DryRun: true, Edits: []gitops.Edit{gitops.WriteFile{Path: "apps/checkout/overlays/dev/extra.yaml", Data: []byte("a: b\n")}}})
	require.NoError(t, err)
	assert.True(t, dry.Changed)
	assert.Equal(t, head, f.Head(), "a dry run stays off the branch")
	data, err := f.ReadFile(ctx, dry.Commit.String(), "apps/checkout/overlays/dev/extra.yaml")
	require.NoError(t, err, "but its commit can be read")
	assert.Equal(t, "a: b\n", string(data))

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = f.Apply(cctx, gitops.Change{Edits: []gitops.Edit{gitops.WriteFile{Path: "x", Data: []byte("x")}}})
	assert.ErrorIs(t, err, context.Canceled)
	_, err = f.History(cctx, gitops.HistoryQuery{})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestFakeHistoryReadsOnlyItsOwnCommits(t *testing.T) {
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout("checkout"), gitopstest.WithIdentity("deploy-bot", "bot@example.com"))
	require.NoError(t, err)
	ctx := context.Background()
	res, err := gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: env("checkout", "prod"), Release: rel("checkout", 1)})
	require.NoError(t, err)
	// A person copies the message of the deploy into a commit of their own.
	_, err = f.Commit(f.Log()[0].Message, gitopstest.Files{"notes.txt": "x"})
	require.NoError(t, err)

	h, err := f.History(ctx, gitops.HistoryQuery{})
	require.NoError(t, err)
	require.Len(t, h, 1)
	assert.Equal(t, res.Commit, h[0].Commit)
	assert.Equal(t, "deploy-bot <bot@example.com>", h[0].Committer)
	h, err = f.History(ctx, gitops.HistoryQuery{Committers: []string{"gitopstest <gitopstest@localhost>"}})
	require.NoError(t, err)
	assert.Len(t, h, 2)
}

func TestFakeFaults(t *testing.T) {
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout("checkout"))
	require.NoError(t, err)
	ctx := context.Background()
	head := f.Head()
	boom := errors.New("boom")
	f.FailNext(gitopstest.OpApply, gitops.ErrRemote, boom)
	f.FailNext(gitopstest.OpHistory, boom)
	f.FailNext(gitopstest.OpReadFile, boom)
	f.FailNext(gitopstest.OpRender, boom)
	req := gitops.DeployRequest{Target: env("checkout", "dev"), Release: rel("checkout", 1)}

	_, err = gitops.DeployRelease(ctx, f, req)
	assert.ErrorIs(t, err, gitops.ErrRemote)
	_, err = gitops.DeployRelease(ctx, f, req)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, head, f.Head(), "a failed call changes nothing")
	_, err = f.History(ctx, gitops.HistoryQuery{})
	assert.ErrorIs(t, err, boom)
	_, err = f.ReadFile(ctx, "", "apps/checkout/base/kustomization.yaml")
	assert.ErrorIs(t, err, boom)
	_, err = f.Render(ctx, "", "apps/checkout/overlays/dev")
	assert.ErrorIs(t, err, boom)

	// The faults are used up; everything works again.
	_, err = gitops.DeployRelease(ctx, f, req)
	require.NoError(t, err)
	_, err = f.Render(ctx, "", "apps/checkout/overlays/dev")
	require.NoError(t, err)
	calls := f.Calls()
	require.Len(t, calls, 7)
	assert.ErrorIs(t, calls[0].Err, gitops.ErrRemote)
	assert.NoError(t, calls[6].Err)
	assert.Len(t, f.Changes(), 3, "failed applies are recorded too")
}

func TestFakeIsSafeForConcurrentWriters(t *testing.T) {
	apps := []string{"a", "b", "c", "d"}
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout(apps...))
	require.NoError(t, err)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for i := range errs {
		wg.Go(func() {
			app := apps[i%len(apps)]
			_, errs[i] = gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: env(app, "prod"), Release: rel(app, i+1)})
			if errs[i] == nil {
				_, errs[i] = f.History(ctx, gitops.HistoryQuery{App: app})
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Len(t, f.Log(), 33, "every deploy is one commit on a linear history")
	h, err := f.History(ctx, gitops.HistoryQuery{})
	require.NoError(t, err)
	assert.Len(t, h, 32)
	assert.Len(t, f.Calls(), 65)
}

// The Fake and a real repository agree: the same changes give the same
// trees (Git object hashes), files, renders and history.
func TestFakeAgreesWithARealRepository(t *testing.T) {
	files := gitopstest.KustomizeLayout("checkout")
	f, err := gitopstest.NewFake(files)
	require.NoError(t, err)
	w := gitopstest.NewWriter(t, files)
	ctx := context.Background()
	steps := []func(gitops.ReadWriter) (gitops.Result, error){
		func(rw gitops.ReadWriter) (gitops.Result, error) {
			return gitops.DeployRelease(ctx, rw, gitops.DeployRequest{Target: env("checkout", "staging"), Release: rel("checkout", 1)})
		},
		func(rw gitops.ReadWriter) (gitops.Result, error) {
			c, err := gitops.CopyRelease(ctx, rw, gitops.CopyRequest{From: env("checkout", "staging"), To: env("checkout", "prod")})
			return c.Result, err
		},
		func(rw gitops.ReadWriter) (gitops.Result, error) {
			return rw.Apply(ctx, gitops.Change{Edits: []gitops.Edit{gitops.SetField{File: "apps/checkout/overlays/prod/replicas.yaml", Field: "spec.replicas", Value: "5"}}})
		},
	}
	for i, step := range steps {
		fr, err := step(f)
		require.NoError(t, err, i)
		wr, err := step(w)
		require.NoError(t, err, i)
		assert.Equal(t, wr.Tree, fr.Tree, "step %d: same tree", i)
		assert.Equal(t, wr.Files, fr.Files, i)
		assert.Equal(t, wr.Overlays, fr.Overlays, i)
		assert.NotEmpty(t, fr.Diff, "step %d: the rendered change has a diff", i)
		assert.Equal(t, wr.Diff, fr.Diff, "step %d: same diff", i)
	}
	for _, dir := range []string{"apps/checkout/overlays/prod", "apps/checkout/overlays/staging"} {
		fo, err := f.Render(ctx, "", dir)
		require.NoError(t, err)
		wo, err := w.Repo.Render(ctx, "", dir)
		require.NoError(t, err)
		assert.Equal(t, string(wo), string(fo), dir)
	}
	fh, err := f.History(ctx, gitops.HistoryQuery{AllActions: true})
	require.NoError(t, err)
	wh, err := w.Repo.History(ctx, gitops.HistoryQuery{AllActions: true})
	require.NoError(t, err)
	require.Len(t, fh, len(wh))
	for i := range fh {
		assert.Equal(t, wh[i].Trailers, fh[i].Trailers)
		assert.Equal(t, wh[i].Subject, fh[i].Subject)
	}
}
