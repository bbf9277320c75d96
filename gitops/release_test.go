package gitops_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

// configuredLayout is KustomizeLayout with per-environment configuration
// besides namespace and replicas: a generated ConfigMap.
func configuredLayout(app string) gitopstest.Files {
	f := gitopstest.KustomizeLayout(app)
	for env, level := range map[string]string{"dev": "debug", "staging": "info", "prod": "warn"} {
		k := "apps/" + app + "/overlays/" + env + "/kustomization.yaml"
		f[k] += "configMapGenerator:\n- name: " + app + "-config\n  literals:\n  - LOG_LEVEL=" + level + "\n"
	}
	return f
}

func target(app, env string) gitops.Target {
	return gitops.Target{App: app, Environment: flightdeck.Environment{Name: env}}
}

func release(app string, n int) flightdeck.Release {
	return flightdeck.Release{App: app, Image: gitopstest.Image(app), Digest: digestN(n), Tag: fmt.Sprintf("1.%d.0", n),
		SourceRepo: "https://git.example.com/team/" + app, Revision: fmt.Sprintf("%040x", n),
		Time: time.Date(2026, 4, n, 12, 0, 0, 0, time.UTC)}
}

func TestDeployAndCurrentRelease(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("checkout"))
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()
	prod := target("checkout", "prod")

	_, err := gitops.CurrentRelease(ctx, r, prod, "")
	require.ErrorIs(t, err, gitops.ErrNoRelease, "the initial layout pins a tag")
	assert.Contains(t, err.Error(), "current release of checkout in prod: apps/checkout/overlays/prod/kustomization.yaml: ")
	assert.Contains(t, err.Error(), "pins registry.example.com/team/checkout:1.0.0, not a digest")

	var x gitops.Extra
	x.Set(gitops.TrailerReason, "weekly release")
	first, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: release("checkout", 1), Extra: x})
	require.NoError(t, err)
	require.True(t, first.Changed)
	second, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: release("checkout", 2)})
	require.NoError(t, err)

	cur, err := gitops.CurrentRelease(ctx, r, prod, "")
	require.NoError(t, err)
	assert.Equal(t, release("checkout", 2), cur.Release)
	require.NotNil(t, cur.Deploy)
	assert.Equal(t, second.Commit, cur.Deploy.Commit)
	assert.Equal(t, "apps/checkout/overlays/prod", cur.Overlay)
	assert.Equal(t, "apps/checkout/overlays/prod/kustomization.yaml", cur.File)
	assert.Equal(t, gitopstest.Image("checkout"), cur.ImageName)

	// At a past revision, the release of that time.
	old, err := gitops.CurrentRelease(ctx, r, prod, first.Commit.String())
	require.NoError(t, err)
	assert.Equal(t, release("checkout", 1), old.Release)
	assert.Equal(t, first.Commit, old.Deploy.Commit)
	reason, _ := old.Deploy.Trailers.Extra.Get(gitops.TrailerReason)
	assert.Equal(t, "weekly release", reason)

	// Deploying what is already there changes nothing.
	again, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: release("checkout", 2)})
	require.NoError(t, err)
	assert.False(t, again.Changed)

	// The other environments are untouched.
	_, err = gitops.CurrentRelease(ctx, r, target("checkout", "staging"), "")
	assert.ErrorIs(t, err, gitops.ErrNoRelease)
}

func TestCurrentReleaseOfAnOverlayPinnedByHand(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("checkout"))
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()
	_, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: target("checkout", "prod"), Release: release("checkout", 1)})
	require.NoError(t, err)
	file := "apps/checkout/overlays/prod/kustomization.yaml"
	pinned := strings.Replace(gitopstest.ReadFile(t, dir, file), digestN(1), digestN(5), 1)
	gitopstest.Commit(t, dir, gitopstest.Files{file: pinned}, nil, "hotfix by hand")

	cur, err := gitops.CurrentRelease(ctx, r, target("checkout", "prod"), "")
	require.NoError(t, err)
	assert.Equal(t, flightdeck.Release{App: "checkout", Image: gitopstest.Image("checkout"), Digest: digestN(5)}, cur.Release,
		"image and digest from the overlay; no deploy recorded them, so no source")
	assert.Nil(t, cur.Deploy)
}

func TestCurrentReleaseErrors(t *testing.T) {
	files := gitopstest.KustomizeLayout("checkout")
	files["apps/checkout/overlays/dev/kustomization.yaml"] = "resources:\n- ../../base\nimages:\n" +
		"- name: " + gitopstest.Image("checkout") + "\n  digest: " + digestN(1) + "\n" +
		"- name: envoy\n  newName: registry.example.com/envoy\n  digest: " + digestN(2) + "\n"
	files["apps/checkout/overlays/staging/kustomization.yaml"] = "resources: [\n"
	dir := gitopstest.NewBareRepo(t, files)
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()

	_, err := gitops.CurrentRelease(ctx, r, target("checkout", "qa"), "")
	assert.ErrorIs(t, err, gitops.ErrNotExist)
	_, err = gitops.CurrentRelease(ctx, r, target("checkout", "staging"), "")
	assert.ErrorIs(t, err, gitops.ErrInvalidYAML)
	_, err = gitops.CurrentRelease(ctx, r, target("Checkout!", "dev"), "")
	assert.ErrorIs(t, err, gitops.ErrInvalidChange)

	_, err = gitops.CurrentRelease(ctx, r, target("checkout", "dev"), "")
	require.ErrorIs(t, err, gitops.ErrNoRelease)
	assert.Contains(t, err.Error(), "2 images entries (registry.example.com/team/checkout, envoy); set Target.ImageName")
	dev := target("checkout", "dev")
	dev.ImageName = "envoy"
	cur, err := gitops.CurrentRelease(ctx, r, dev, "")
	require.NoError(t, err)
	assert.Equal(t, "registry.example.com/envoy", cur.Release.Image, "newName is the image")
	assert.Equal(t, digestN(2), cur.Release.Digest)
	dev.ImageName = "nope"
	_, err = gitops.CurrentRelease(ctx, r, dev, "")
	assert.ErrorIs(t, err, gitops.ErrNoRelease)
}

func TestDeployReleaseRefusesBadRequests(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("checkout"))
	before := gitopstest.Head(t, dir)
	r := newRepo(t, gitopstest.FileURL(dir))
	for name, c := range map[string]struct {
		req  gitops.DeployRequest
		is   error
		text string
	}{
		"other app":    {gitops.DeployRequest{Target: target("checkout", "prod"), Release: release("cart", 1)}, gitops.ErrInvalidChange, "release of app cart"},
		"no digest":    {gitops.DeployRequest{Target: target("checkout", "prod"), Release: flightdeck.Release{Image: gitopstest.Image("checkout")}}, flightdeck.ErrInvalidRelease, "digest"},
		"bad env":      {gitops.DeployRequest{Target: target("checkout", "../prod"), Release: release("checkout", 1)}, gitops.ErrInvalidChange, "environment name"},
		"no overlay":   {gitops.DeployRequest{Target: target("checkout", "qa"), Release: release("checkout", 1)}, gitops.ErrNotExist, "deploy checkout to qa: overlay apps/checkout/overlays/qa: "},
		"bad extra":    {gitops.DeployRequest{Target: target("checkout", "prod"), Release: release("checkout", 1), Extra: gitops.Extra{{Key: "X", Value: "y"}}}, gitops.ErrInvalidChange, `"X"`},
		"bad tag":      {gitops.DeployRequest{Target: target("checkout", "prod"), Release: func() flightdeck.Release { r := release("checkout", 1); r.Tag = "no spaces"; return r }()}, flightdeck.ErrInvalidRelease, "tag"},
		"app mismatch": {gitops.DeployRequest{Target: gitops.Target{Environment: flightdeck.Environment{Name: "prod"}}, Release: release("checkout", 1)}, gitops.ErrInvalidChange, "app name"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := gitops.DeployRelease(context.Background(), r, c.req)
			require.ErrorIs(t, err, c.is)
			assert.Contains(t, err.Error(), c.text)
		})
	}
	assert.Equal(t, before, gitopstest.Head(t, dir))
}

func TestCopyReleaseChangesOnlyTheTargetsImage(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, configuredLayout("checkout"))
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()
	staging, prod := target("checkout", "staging"), target("checkout", "prod")
	rel := release("checkout", 3)
	_, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: staging, Release: rel})
	require.NoError(t, err)
	before, err := r.Render(ctx, "", prod.Overlay())
	require.NoError(t, err)
	require.Contains(t, string(before), "image: "+gitopstest.Image("checkout")+":1.0.0")

	c, err := gitops.CopyRelease(ctx, r, gitops.CopyRequest{From: staging, To: prod})
	require.NoError(t, err)
	require.True(t, c.Result.Changed)
	assert.Equal(t, rel, c.Release)
	assert.Equal(t, rel, c.From.Release)

	after, err := r.Render(ctx, "", prod.Overlay())
	require.NoError(t, err)
	for _, want := range []string{"namespace: checkout-prod", "replicas: 3", "LOG_LEVEL: warn", "image: " + rel.Ref()} {
		assert.Contains(t, string(after), want)
	}
	for _, not := range []string{"checkout-staging", "LOG_LEVEL: info", "replicas: 2"} {
		assert.NotContains(t, string(after), not)
	}
	assert.Equal(t, strings.Replace(string(before), ":1.0.0", "@"+rel.Digest, 1), string(after),
		"the rendered prod differs from before only in the image")
	assert.Equal(t, []string{"apps/checkout/overlays/prod/kustomization.yaml"}, c.Result.Files)

	// The promotion commit carries the release whole, and where it came from.
	h, err := r.History(ctx, gitops.HistoryQuery{Environment: "prod"})
	require.NoError(t, err)
	require.Len(t, h, 1)
	assert.Equal(t, gitops.ActionPromote, h[0].Trailers.Action)
	assert.Equal(t, "promote checkout to prod", h[0].Subject)
	from, _ := h[0].Trailers.Extra.Get(gitops.TrailerFrom)
	assert.Equal(t, "staging", from)
	got, _ := h[0].Release()
	assert.Equal(t, rel, got)
	cur, err := gitops.CurrentRelease(ctx, r, prod, "")
	require.NoError(t, err)
	assert.Equal(t, rel, cur.Release)

	// Copying the directory instead would have moved prod into staging's
	// namespace and configuration: that is why CopyDir is not a promotion.
	dry, err := r.Apply(ctx, gitops.Change{DryRun: true, Edits: []gitops.Edit{gitops.CopyDir{From: staging.Overlay(), To: prod.Overlay()}}})
	require.NoError(t, err)
	copied, err := r.RenderTree(ctx, dry.Tree, prod.Overlay())
	require.NoError(t, err)
	assert.Contains(t, string(copied), "namespace: checkout-staging")
	assert.Contains(t, string(copied), "LOG_LEVEL: info")
}

func TestCopyReleaseToAnotherRegistry(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("checkout"))
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()
	_, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: target("checkout", "staging"), Release: release("checkout", 4)})
	require.NoError(t, err)
	c, err := gitops.CopyRelease(ctx, r, gitops.CopyRequest{From: target("checkout", "staging"), To: target("checkout", "prod"),
		Image: "prod-registry.example.com/team/checkout", Message: "promote 1.4.0 to prod"})
	require.NoError(t, err)
	assert.Equal(t, "prod-registry.example.com/team/checkout", c.Release.Image)
	assert.Equal(t, digestN(4), c.Release.Digest)
	kust := gitopstest.ReadFile(t, dir, "apps/checkout/overlays/prod/kustomization.yaml")
	assert.Contains(t, kust, "name: "+gitopstest.Image("checkout"), "the entry still matches the base's image")
	assert.Contains(t, kust, "newName: prod-registry.example.com/team/checkout")
	assert.Contains(t, kust, "digest: "+digestN(4))
	assert.True(t, strings.HasPrefix(gitopstest.Log(t, dir)[0].Message, "promote 1.4.0 to prod\n\n"))
	cur, err := gitops.CurrentRelease(ctx, r, target("checkout", "prod"), "")
	require.NoError(t, err)
	assert.Equal(t, c.Release, cur.Release)

	_, err = gitops.CopyRelease(ctx, r, gitops.CopyRequest{From: target("checkout", "dev"), To: target("checkout", "prod")})
	assert.ErrorIs(t, err, gitops.ErrNoRelease, "dev pins no digest")
	assert.ErrorContains(t, err, "copy release of checkout in dev to prod: ")
}

// racingWriter lets another writer deploy to the source environment just
// before the first n of its Apply calls.
type racingWriter struct {
	*gitops.Repo
	t       testing.TB
	dir     string
	base    int
	n       atomic.Int32
	applies atomic.Int32
}

func (w *racingWriter) Apply(ctx context.Context, ch gitops.Change) (gitops.Result, error) {
	i := w.applies.Add(1)
	if i <= w.n.Load() {
		file := "apps/checkout/overlays/staging/kustomization.yaml"
		data := gitopstest.ReadFile(w.t, w.dir, file)
		old := data[strings.Index(data, "digest: ")+8:][:71]
		gitopstest.Commit(w.t, w.dir, gitopstest.Files{file: strings.Replace(data, old, digestN(w.base+int(i)), 1)}, nil, "a competing deploy")
	}
	return w.Repo.Apply(ctx, ch)
}

func TestCopyReleaseIsAtomicWithTheSourceEnvironment(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("checkout"))
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()
	_, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: target("checkout", "staging"), Release: release("checkout", 1)})
	require.NoError(t, err)

	// Staging moves once between the read and the push: the copy reads it
	// again and copies what staging runs now, never a stale release.
	w := &racingWriter{Repo: r, t: t, dir: dir, base: 10}
	w.n.Store(1)
	c, err := gitops.CopyRelease(ctx, w, gitops.CopyRequest{From: target("checkout", "staging"), To: target("checkout", "prod")})
	require.NoError(t, err)
	assert.Equal(t, int32(2), w.applies.Load())
	assert.Equal(t, digestN(11), c.Release.Digest)
	assert.Nil(t, c.From.Deploy, "the competing deploy wrote no trailers")
	assert.Contains(t, gitopstest.ReadFile(t, dir, "apps/checkout/overlays/prod/kustomization.yaml"), "digest: "+digestN(11))

	// A source that never holds still gives up with ErrConflict.
	w = &racingWriter{Repo: r, t: t, dir: dir, base: 20}
	w.n.Store(100)
	head := gitopstest.Head(t, dir)
	_, err = gitops.CopyRelease(ctx, w, gitops.CopyRequest{From: target("checkout", "staging"), To: target("checkout", "prod")})
	require.ErrorIs(t, err, gitops.ErrConflict)
	assert.Contains(t, err.Error(), "source environment changed")
	assert.Equal(t, int32(3), w.applies.Load())
	log := gitopstest.Log(t, dir)
	assert.Equal(t, head, log[3].Hash, "only the three competing commits landed")
}

func TestGuardIsCheckedAtomicallyWithThePush(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("checkout"))
	srv := gitopstest.Serve(t, dir)
	r := newRepo(t, srv.URL())
	ctx := context.Background()
	// A guard of the caller's own (a change freeze); holds need none.
	hold := ".flightdeck/freezes/checkout/prod.yaml"
	var checks atomic.Int32
	guard := gitops.GuardFunc(func(tr *gitops.Tree, in gitops.Intent) error {
		checks.Add(1)
		if data, err := tr.ReadFile(hold); err == nil {
			return fmt.Errorf("%w: %s is frozen: %s", gitops.ErrRefused, in.Target, strings.TrimSpace(string(data)))
		}
		return nil
	})
	// The hold lands after the deploy built its commit, before its push.
	var held atomic.Value
	srv.BeforeNextPush(func() {
		h, err := gitopstest.CommitFiles(dir, gitopstest.Files{hold: "by jo: release freeze"}, nil, "freeze checkout in prod")
		if err == nil {
			held.Store(h)
		}
	})
	_, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: target("checkout", "prod"), Release: release("checkout", 1),
		Guards: []gitops.Guard{guard}})
	require.ErrorIs(t, err, gitops.ErrRefused)
	assert.Contains(t, err.Error(), "checkout in prod is frozen: by jo: release freeze")
	assert.Equal(t, int32(2), checks.Load(), "checked on the first head, and again on the replay")
	require.NotNil(t, held.Load())
	assert.Equal(t, held.Load(), gitopstest.Head(t, dir), "the deploy did not land over the freeze")

	// A change built by hand is checked the same way with GuardEdit.
	in := gitops.Intent{Target: target("checkout", "prod"), Trailers: gitops.Trailers{Action: gitops.ActionStep, App: "checkout", Environment: "prod"}}
	_, err = r.Apply(ctx, gitops.Change{Trailers: in.Trailers, Edits: []gitops.Edit{gitops.GuardEdit(in, nil, guard),
		gitops.WriteFile{Path: "apps/checkout/overlays/prod/weights.yaml", Data: []byte("w: 10\n")}}})
	assert.ErrorIs(t, err, gitops.ErrRefused)
}

func TestHistoryEntryCommitterIsRecorded(t *testing.T) {
	e, err := gitops.EntryOf(&object.Commit{Message: "x\n\n" + trailersOfString("a", "b"),
		Author: object.Signature{Name: "A", Email: "a@x"}, Committer: object.Signature{Name: "C", Email: "c@x"}})
	require.NoError(t, err)
	assert.Equal(t, "A <a@x>", e.Author)
	assert.Equal(t, "C <c@x>", e.Committer)
	assert.Equal(t, "x", e.Subject)
	_, err = gitops.EntryOf(&object.Commit{Message: "x\n"})
	assert.ErrorIs(t, err, gitops.ErrNoTrailers)
}
