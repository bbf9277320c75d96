package gitops_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

func TestHistoryAndReadFileAtPastCommit(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop", "cart"))
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()
	file := "apps/shop/overlays/prod/kustomization.yaml"

	var commits []gitops.Result
	for _, step := range []struct {
		app, env, digest string
		action           gitops.Action
	}{
		{"shop", "prod", digestN(1), gitops.ActionDeploy},
		{"cart", "prod", digestN(2), gitops.ActionDeploy},
		{"shop", "staging", digestN(3), gitops.ActionDeploy},
		{"shop", "prod", digestN(3), gitops.ActionPromote},
		{"shop", "prod", digestN(4), gitops.ActionStep},
		{"shop", "prod", digestN(1), gitops.ActionRollback},
	} {
		ch := deploy(step.app, step.env, step.digest)
		ch.Trailers.Action = step.action
		ch.Trailers.Release = "rel-" + step.digest[len(step.digest)-1:]
		res, err := r.Apply(ctx, ch)
		require.NoError(t, err)
		require.True(t, res.Changed)
		commits = append(commits, res)
	}

	h, err := r.History(ctx, gitops.HistoryQuery{App: "shop", Environment: "prod"})
	require.NoError(t, err)
	require.Len(t, h, 3, "deploy, promote, rollback; the step is not listed by default")
	assert.Equal(t, commits[5].Commit, h[0].Commit, "newest first")
	assert.Equal(t, gitops.ActionRollback, h[0].Trailers.Action)
	assert.Equal(t, gitops.ActionPromote, h[1].Trailers.Action)
	assert.Equal(t, digestN(3), h[1].Trailers.ImageDigest)
	assert.Equal(t, "rel-3", h[1].Trailers.Release)
	assert.Equal(t, gitops.ActionDeploy, h[2].Trailers.Action)
	assert.Equal(t, "deploy shop to prod", h[2].Subject)
	assert.Equal(t, "flightdeck <flightdeck@localhost>", h[2].Author)
	assert.Equal(t, commits[0].Parent, h[2].Parent)

	steps, err := r.History(ctx, gitops.HistoryQuery{App: "shop", Actions: []gitops.Action{gitops.ActionStep}})
	require.NoError(t, err)
	require.Len(t, steps, 1)
	assert.Equal(t, commits[4].Commit, steps[0].Commit)

	all, err := r.History(ctx, gitops.HistoryQuery{Limit: 2})
	require.NoError(t, err)
	assert.Len(t, all, 2)

	// The file as it was before the promotion (the first deploy), and now.
	old, err := r.ReadFile(ctx, commits[2].Commit.String(), file)
	require.NoError(t, err)
	assert.Contains(t, string(old), digestN(1))
	prev, err := r.ReadFile(ctx, "HEAD~2", file)
	require.NoError(t, err)
	assert.Contains(t, string(prev), digestN(3), "HEAD~2 is the promotion")
	short, err := r.ReadFile(ctx, commits[3].Commit.String()[:10], file)
	require.NoError(t, err)
	assert.Equal(t, prev, short)

	_, err = r.ReadFile(ctx, "", "apps/shop/nope.yaml")
	assert.ErrorIs(t, err, gitops.ErrNotExist)
	_, err = r.ReadFile(ctx, "no-such-branch", file)
	assert.ErrorIs(t, err, gitops.ErrNotExist)
	_, err = r.ReadFile(ctx, "", "../outside")
	assert.ErrorIs(t, err, gitops.ErrPathEscape)
}

func TestParseTrailers(t *testing.T) {
	msg := "deploy shop to prod\n\nBody mentions Flightdeck-App: fake in prose.\n\nFlightdeck-App: shop\nFlightdeck-Environment: prod\nFlightdeck-Action: deploy\nSigned-off-by: someone\n"
	tr := gitops.ParseTrailers(msg)
	assert.Equal(t, gitops.Trailers{App: "shop", Environment: "prod", Action: gitops.ActionDeploy}, tr)
	assert.Equal(t, "Flightdeck-App: shop\nFlightdeck-Environment: prod\nFlightdeck-Action: deploy\n", tr.String())
	assert.Equal(t, gitops.Trailers{}, gitops.ParseTrailers("no trailers"))
}

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"https://user:pw@example.com/r.git": "https://user:xxxxx@example.com/r.git",
		"https://example.com/r.git":         "https://example.com/r.git",
		"git@github.com:org/repo.git":       "git@github.com:org/repo.git",
		"file:///tmp/r.git":                 "file:///tmp/r.git",
	}
	for in, want := range cases {
		assert.Equal(t, want, gitops.RedactURL(in), in)
	}
}
