package gitops_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

const digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
const digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

func newRepo(t *testing.T, url string, opts ...gitops.Option) *gitops.Repo {
	t.Helper()
	opts = append([]gitops.Option{gitops.WithCacheDir(filepath.Join(t.TempDir(), "cache"))}, opts...)
	r, err := gitops.New(url, opts...)
	require.NoError(t, err)
	return r
}

func deploy(app, env, digest string) gitops.Change {
	return gitops.Change{
		Trailers: gitops.Trailers{App: app, Environment: env, Image: gitopstest.Image(app), Digest: digest, Action: gitops.ActionDeploy},
		Edits: []gitops.Edit{gitops.SetImage{
			Dir: "apps/" + app + "/overlays/" + env, Name: gitopstest.Image(app), Digest: digest,
		}},
	}
}

func TestApplySetImageFile(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("checkout", "cart"))
	before := gitopstest.Head(t, dir)
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()

	res, err := r.Apply(ctx, deploy("checkout", "dev", digestA))
	require.NoError(t, err)
	assert.True(t, res.Changed)
	assert.Equal(t, before, res.Parent)
	assert.Equal(t, gitopstest.Head(t, dir), res.Commit)
	assert.Equal(t, []string{"apps/checkout/overlays/dev/kustomization.yaml"}, res.Files)
	assert.Equal(t, []string{"apps/checkout/overlays/dev"}, res.Overlays)
	assert.Contains(t, res.Diff, "-      - image: registry.example.com/team/checkout:1.0.0")
	assert.Contains(t, res.Diff, "+      - image: registry.example.com/team/checkout@"+digestA)

	got := gitopstest.ReadFile(t, dir, "apps/checkout/overlays/dev/kustomization.yaml")
	// The line comment of the newTag the digest replaces moves to digest.
	assert.Contains(t, got, "# images is managed by flightdeck\nimages:\n- name: registry.example.com/team/checkout\n  digest: "+digestA+" # initial release\n")
	assert.NotContains(t, got, "newTag")

	out, err := r.Render(ctx, "", "apps/checkout/overlays/dev")
	require.NoError(t, err)
	assert.Contains(t, string(out), "image: registry.example.com/team/checkout@"+digestA)
	assert.Contains(t, string(out), "namespace: checkout-dev")

	log := gitopstest.Log(t, dir)
	require.Len(t, log, 2)
	assert.True(t, strings.HasPrefix(log[0].Message, "deploy checkout to dev\n\n"))
	assert.Contains(t, log[0].Message, "Flightdeck-Release: "+gitopstest.Image("checkout")+"@"+digestA)

	// Same change again: nothing to commit.
	res2, err := r.Apply(ctx, deploy("checkout", "dev", digestA))
	require.NoError(t, err)
	assert.False(t, res2.Changed)
	assert.True(t, res2.Commit.IsZero())
	assert.Equal(t, res.Commit, gitopstest.Head(t, dir))
}
