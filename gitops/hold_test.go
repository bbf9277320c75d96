package gitops_test

import (
	"context"
	"errors"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

var holdTime = time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)

func holdFile(t *testing.T, app, env string) gitopstest.Files {
	t.Helper()
	data, err := gitops.Hold{App: app, Environment: env, By: "rollback (verification)", At: holdTime,
		Reason: "verification failed: error rate 4.1% above 1%", From: gitopstest.Image(app) + "@" + digestN(7),
		Trigger: "verification"}.Marshal()
	require.NoError(t, err)
	return gitopstest.Files{gitops.HoldPath(app, env): string(data)}
}

func quarantineFile(t *testing.T, app, env string, digests ...string) gitopstest.Files {
	t.Helper()
	q := gitops.Quarantine{App: app, Environment: env}
	for _, d := range digests {
		q.Digests = append(q.Digests, gitops.QuarantinedDigest{Digest: d, Image: gitopstest.Image(app), By: "rollback", At: holdTime, Reason: "failed verification"})
	}
	data, err := q.Marshal()
	require.NoError(t, err)
	return gitopstest.Files{gitops.QuarantinePath(app, env): string(data)}
}

func TestHoldRefusesEveryWriterThatMovesARelease(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("checkout"))
	gitopstest.Commit(t, dir, holdFile(t, "checkout", "prod"), nil, "hold prod")
	before := gitopstest.Head(t, dir)
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()
	prod := target("checkout", "prod")

	_, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: release("checkout", 1)})
	require.Error(t, err)
	assert.ErrorIs(t, err, gitops.ErrHeld)
	assert.ErrorIs(t, err, gitops.ErrRefused)
	var he *gitops.HoldError
	require.True(t, errors.As(err, &he))
	assert.Equal(t, "verification failed: error rate 4.1% above 1%", he.Hold.Reason)
	assert.Equal(t, gitops.HoldPath("checkout", "prod"), he.File)
	assert.Equal(t, "deploy checkout to prod: overlay apps/checkout/overlays/prod: gitops: checkout in prod is on hold since "+
		"2026-05-01T09:30:00Z by rollback (verification): verification failed: error rate 4.1% above 1% "+
		"(rolled back from "+gitopstest.Image("checkout")+"@"+digestN(7)+") (.flightdeck/holds/checkout/prod.yaml; lift the hold or override it)",
		err.Error())

	// A promotion into the held environment.
	_, err = gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: target("checkout", "staging"), Release: release("checkout", 2)})
	require.NoError(t, err, "staging is not held")
	_, err = gitops.CopyRelease(ctx, r, gitops.CopyRequest{From: target("checkout", "staging"), To: prod})
	assert.ErrorIs(t, err, gitops.ErrHeld)

	// A change built by hand, as a strategy step: refused without asking.
	step := deploy("checkout", "prod", digestN(3))
	step.Trailers.Action = gitops.ActionStep
	_, err = r.Apply(ctx, step)
	assert.ErrorIs(t, err, gitops.ErrHeld)

	// Dry runs are refused too.
	_, err = gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: release("checkout", 1), DryRun: true})
	assert.ErrorIs(t, err, gitops.ErrHeld)

	afterStaging := gitopstest.Head(t, dir)
	assert.NotEqual(t, before, afterStaging)
	assert.Equal(t, gitopstest.ReadFile(t, dir, "apps/checkout/overlays/prod/kustomization.yaml"),
		gitopstest.KustomizeLayout("checkout")["apps/checkout/overlays/prod/kustomization.yaml"], "prod untouched")

	// Other environments and other actions are not held; a rollback is how
	// an environment gets back to safety.
	rb := deploy("checkout", "prod", digestN(4))
	rb.Trailers.Action = gitops.ActionRollback
	res, err := r.Apply(ctx, rb)
	require.NoError(t, err)
	assert.True(t, res.Changed)

	// An override needs a reason, and records itself.
	_, err = gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: release("checkout", 5), Override: gitops.Override{Hold: true}})
	assert.ErrorIs(t, err, gitops.ErrInvalidChange)
	res, err = gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: release("checkout", 5),
		Override: gitops.Override{Hold: true, Reason: "hotfix approved by the incident lead"}})
	require.NoError(t, err)
	entries, err := r.History(ctx, gitops.HistoryQuery{App: "checkout", Environment: "prod", Limit: 1})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, res.Commit, entries[0].Commit)
	assert.Equal(t, gitops.Override{Hold: true, Reason: "hotfix approved by the incident lead"}, gitops.OverrideOf(entries[0].Trailers))
	assert.Equal(t, string(holdFile(t, "checkout", "prod")[gitops.HoldPath("checkout", "prod")]),
		gitopstest.ReadFile(t, dir, gitops.HoldPath("checkout", "prod")), "the override leaves the hold in place")

	// An override trailer without a reason overrides nothing.
	sneak := deploy("checkout", "prod", digestN(6))
	sneak.Trailers.Extra.Set(gitops.TrailerOverride, gitops.OverrideHold)
	_, err = r.Apply(ctx, sneak)
	assert.ErrorIs(t, err, gitops.ErrHeld)
}

func TestHoldPushedMeanwhileRefusesTheReplay(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("checkout"))
	srv := gitopstest.Serve(t, dir)
	r := newRepo(t, srv.URL())
	ctx := context.Background()
	prod := target("checkout", "prod")
	_, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: release("checkout", 1)})
	require.NoError(t, err)

	// The hold lands after the deploy was built on the old head, before
	// its push: the push loses the race, and the replay sees the hold.
	srv.BeforeNextPush(func() {
		_, err := gitopstest.CommitFiles(dir, holdFile(t, "checkout", "prod"), nil, "hold prod")
		assert.NoError(t, err)
	})
	held := gitopstest.Head(t, dir)
	res, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: release("checkout", 2)})
	require.ErrorIs(t, err, gitops.ErrHeld)
	assert.Equal(t, 2, res.Attempts)
	log := gitopstest.Log(t, dir)
	assert.Equal(t, "hold prod\n", log[0].Message)
	assert.Equal(t, held, log[1].Hash, "nothing but the hold landed")
}

func TestQuarantineRefusesTheDigestUntilCleared(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("checkout"))
	gitopstest.Commit(t, dir, quarantineFile(t, "checkout", "prod", digestN(7)), nil, "quarantine")
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()
	prod := target("checkout", "prod")

	bad := release("checkout", 7)
	_, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: bad})
	require.ErrorIs(t, err, gitops.ErrQuarantined)
	assert.ErrorIs(t, err, gitops.ErrRefused)
	assert.NotErrorIs(t, err, gitops.ErrHeld)
	assert.Contains(t, err.Error(), "gitops: "+digestN(7)+" is quarantined for checkout in prod since 2026-05-01T09:30:00Z by rollback: failed verification")

	// Another digest goes; the quarantined one goes elsewhere.
	_, err = gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: release("checkout", 8)})
	require.NoError(t, err)
	_, err = gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: target("checkout", "staging"), Release: bad})
	require.NoError(t, err)
	// An override of the hold does not cover the quarantine.
	_, err = gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: bad, Override: gitops.Override{Hold: true, Reason: "x"}})
	require.ErrorIs(t, err, gitops.ErrQuarantined)
	_, err = gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: bad, Override: gitops.Override{Quarantine: true, Reason: "the bug was in the config, fixed since"}})
	require.NoError(t, err)

	q, err := gitops.ReadQuarantineAt(ctx, r, "", "checkout", "prod")
	require.NoError(t, err)
	require.NotNil(t, q.Find(digestN(7)))
	assert.Nil(t, q.Find(digestN(8)))
}

func TestBrokenHoldFileStillHolds(t *testing.T) {
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout("checkout"))
	require.NoError(t, err)
	_, err = f.Commit("broken hold", gitopstest.Files{gitops.HoldPath("checkout", "prod"): "at: [not a time\n"})
	require.NoError(t, err)
	_, err = gitops.DeployRelease(context.Background(), f, gitops.DeployRequest{Target: target("checkout", "prod"), Release: release("checkout", 1)})
	require.ErrorIs(t, err, gitops.ErrHeld)
	assert.ErrorIs(t, err, gitops.ErrInvalidYAML)
	assert.Contains(t, err.Error(), "hold file .flightdeck/holds/checkout/prod.yaml does not parse")

	h, err := gitops.ReadHoldAt(context.Background(), f, "", "checkout", "prod")
	assert.ErrorIs(t, err, gitops.ErrInvalidYAML)
	require.NotNil(t, h, "a broken hold file is still a hold")
}

func TestHoldGuardChecksWritersWithTheirOwnActions(t *testing.T) {
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout("checkout"))
	require.NoError(t, err)
	_, err = f.Commit("hold", holdFile(t, "checkout", "prod"))
	require.NoError(t, err)
	ch := deploy("checkout", "prod", digestN(2))
	ch.Trailers.Action = "canary"
	in := gitops.Intent{Target: target("checkout", "prod"), Trailers: ch.Trailers}
	ch.Edits = append([]gitops.Edit{gitops.GuardEdit(in, gitops.HoldGuard())}, ch.Edits...)
	_, err = f.Apply(context.Background(), ch)
	require.ErrorIs(t, err, gitops.ErrHeld)

	got, err := gitops.ReadHoldAt(context.Background(), f, "", "checkout", "prod")
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, "checkout in prod is on hold since 2026-05-01T09:30:00Z by rollback (verification): verification failed: error rate 4.1% above 1% (rolled back from "+
		gitopstest.Image("checkout")+"@"+digestN(7)+")", got.String())
	none, err := gitops.ReadHoldAt(context.Background(), f, "", "checkout", "staging")
	require.NoError(t, err)
	assert.Nil(t, none)
}

// overlayTree returns the tree hash of dir at commit c of the bare
// repository at repoDir.
func overlayTree(t *testing.T, repoDir string, c plumbing.Hash, dir string) plumbing.Hash {
	t.Helper()
	repo, err := git.PlainOpen(repoDir)
	require.NoError(t, err)
	commit, err := repo.CommitObject(c)
	require.NoError(t, err)
	root, err := commit.Tree()
	require.NoError(t, err)
	e, err := root.FindEntry(dir)
	require.NoError(t, err)
	return e.Hash
}

func TestRestoreReleaseRestoresTheOverlayExactly(t *testing.T) {
	files := configuredLayout("checkout")
	dir := gitopstest.NewBareRepo(t, files)
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()
	prod := target("checkout", "prod")
	ov := "apps/checkout/overlays/prod"

	good, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: release("checkout", 1)})
	require.NoError(t, err)
	// The bad deploy changes configuration besides the image, adds a
	// file, and the shared base changes afterwards.
	bad, err := r.Apply(ctx, gitops.Change{
		Trailers: gitops.ReleaseTrailers(gitops.ActionDeploy, "prod", release("checkout", 2)),
		Edits: []gitops.Edit{
			gitops.SetImage{Dir: ov, Name: gitopstest.Image("checkout"), Digest: digestN(2)},
			gitops.SetField{File: ov + "/replicas.yaml", Field: "spec.replicas", Value: "9"},
			gitops.WriteFile{Path: ov + "/extra.yaml", Data: []byte("unused: true\n")},
		},
	})
	require.NoError(t, err)
	gitopstest.Commit(t, dir, gitopstest.Files{"apps/checkout/base/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: checkout\nspec:\n  selector:\n    app: checkout\n  ports:\n  - port: 8080\n"}, nil, "widen the port")
	baseBefore := overlayTree(t, dir, gitopstest.Head(t, dir), "apps/checkout/base")

	var x gitops.Extra
	x.Set(gitops.TrailerReverts, bad.Commit.String())
	x.Set(gitops.TrailerReason, "verification failed")
	x.Set(gitops.TrailerChange, gitops.ChangeUnplanned)
	// A stale decision is refused.
	_, err = gitops.RestoreRelease(ctx, r, gitops.RestoreRequest{Target: prod, To: good.Commit, Expect: good.Tree, Extra: x})
	require.ErrorIs(t, err, gitops.ErrStale)
	assert.ErrorIs(t, err, gitops.ErrRefused)

	_, err = gitops.RestoreRelease(ctx, r, gitops.RestoreRequest{Target: prod, To: good.Commit, DecidedAt: good.Commit, Extra: x})
	require.ErrorIs(t, err, gitops.ErrStale, "decided when the good release was there")
	badTree := overlayTree(t, dir, bad.Commit, ov)
	// Restoring changes nothing, so the further edits are not applied.
	same, err := gitops.RestoreRelease(ctx, r, gitops.RestoreRequest{Target: prod, To: bad.Commit, DecidedAt: bad.Commit,
		Edits: []gitops.Edit{gitops.WriteFile{Path: ".flightdeck/x", Data: []byte("x")}}})
	require.NoError(t, err)
	assert.False(t, same.Result.Changed)
	res, err := gitops.RestoreRelease(ctx, r, gitops.RestoreRequest{Target: prod, To: good.Commit, Expect: badTree, DecidedAt: bad.Commit, Extra: x,
		Message: "rollback checkout in prod\n\nEvidence: error rate 4.1%"})
	require.NoError(t, err)
	require.True(t, res.Result.Changed)
	want := overlayTree(t, dir, good.Commit, ov)
	assert.Equal(t, want, overlayTree(t, dir, res.Result.Commit, ov), "the overlay tree is the target's, byte for byte")
	assert.Equal(t, want, res.Tree)
	assert.Equal(t, badTree, res.Replaced)
	assert.Equal(t, baseBefore, overlayTree(t, dir, res.Result.Commit, "apps/checkout/base"), "the shared base is left alone")
	require.Len(t, res.Shared, 1)
	assert.Equal(t, "apps/checkout/base", res.Shared[0].Path)
	assert.Equal(t, baseBefore, res.Shared[0].Now)
	assert.Equal(t, overlayTree(t, dir, good.Commit, "apps/checkout/base"), res.Shared[0].Then)
	assert.Equal(t, release("checkout", 1), res.Release)

	entries, err := r.History(ctx, gitops.HistoryQuery{App: "checkout", Environment: "prod", Limit: 1})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	e := entries[0]
	assert.Equal(t, res.Result.Commit, e.Commit)
	assert.Equal(t, gitops.ActionRollback, e.Trailers.Action)
	rel, ok := e.Release()
	require.True(t, ok)
	assert.Equal(t, release("checkout", 1), rel)
	v, _ := e.Trailers.Extra.Get(gitops.TrailerReverts)
	assert.Equal(t, bad.Commit.String(), v)
	commit := gitopstest.Log(t, dir)[0]
	assert.Contains(t, commit.Message, "\n\nEvidence: error rate 4.1%\n\n")

	// Only the overlay changed.
	changed := changedPaths(t, dir, commit)
	assert.Equal(t, []string{ov + "/extra.yaml", ov + "/kustomization.yaml", ov + "/replicas.yaml"}, changed)

	// Again: nothing to do.
	again, err := gitops.RestoreRelease(ctx, r, gitops.RestoreRequest{Target: prod, To: good.Commit})
	require.NoError(t, err)
	assert.False(t, again.Result.Changed)

	// An overlay that did not exist at the commit.
	_, err = gitops.RestoreRelease(ctx, r, gitops.RestoreRequest{Target: target("checkout", "qa"), To: good.Commit})
	assert.ErrorIs(t, err, gitops.ErrNotExist)
}

func TestRestoreReleaseOnTheFakeGivesTheSameTree(t *testing.T) {
	f, err := gitopstest.NewFake(configuredLayout("checkout"))
	require.NoError(t, err)
	ctx := context.Background()
	prod := target("checkout", "prod")
	good, err := gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("checkout", 1)})
	require.NoError(t, err)
	_, err = gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("checkout", 2)})
	require.NoError(t, err)
	hold := holdFile(t, "checkout", "prod")
	res, err := gitops.RestoreRelease(ctx, f, gitops.RestoreRequest{Target: prod, To: good.Commit,
		Edits: []gitops.Edit{gitops.WriteFile{Path: gitops.HoldPath("checkout", "prod"), Data: []byte(hold[gitops.HoldPath("checkout", "prod")])}}})
	require.NoError(t, err)
	cur, err := gitops.CurrentRelease(ctx, f, prod, "")
	require.NoError(t, err)
	assert.Equal(t, release("checkout", 1), cur.Release)
	assert.Equal(t, res.Result.Commit, cur.Deploy.Commit)
	assert.Empty(t, res.Shared)
	h, err := gitops.ReadHoldAt(ctx, f, "", "checkout", "prod")
	require.NoError(t, err)
	require.NotNil(t, h, "the hold is in the same commit")
}

// changedPaths lists the files commit c changed against its parent.
func changedPaths(t *testing.T, repoDir string, c *object.Commit) []string {
	t.Helper()
	repo, err := git.PlainOpen(repoDir)
	require.NoError(t, err)
	parent, err := repo.CommitObject(c.ParentHashes[0])
	require.NoError(t, err)
	a, err := parent.Tree()
	require.NoError(t, err)
	b, err := c.Tree()
	require.NoError(t, err)
	changes, err := a.Diff(b)
	require.NoError(t, err)
	var out []string
	for _, ch := range changes {
		name := ch.To.Name
		if name == "" {
			name = ch.From.Name
		}
		out = append(out, name)
	}
	return out
}
