package gitops_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
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
		ch.Trailers.Tag = "rel-" + step.digest[len(step.digest)-1:]
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
	assert.Equal(t, digestN(3), h[1].Trailers.Digest)
	assert.Equal(t, "rel-3", h[1].Trailers.Tag)
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

// commitAs adds a commit to branch main of the bare repository at dir, as
// a person or another tool would: committer who, the given message, a
// change to one file, and a signature by key when key is not nil.
func commitAs(t *testing.T, dir string, who object.Signature, message string, key *openpgp.Entity) plumbing.Hash {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	require.NoError(t, err)
	ref, err := repo.Reference(plumbing.NewBranchReferenceName("main"), true)
	require.NoError(t, err)
	parent, err := repo.CommitObject(ref.Hash())
	require.NoError(t, err)
	tree := gitops.NewTree(repo.Storer, parent.TreeHash)
	require.NoError(t, tree.WriteFile("notes/"+who.Email+".txt", []byte(message)))
	th, err := tree.Write()
	require.NoError(t, err)
	who.When = time.Now()
	c := &object.Commit{Author: who, Committer: who, Message: message, TreeHash: th, ParentHashes: []plumbing.Hash{parent.Hash}}
	if key != nil {
		obj := repo.Storer.NewEncodedObject()
		require.NoError(t, c.EncodeWithoutSignature(obj))
		rd, err := obj.Reader()
		require.NoError(t, err)
		var sig bytes.Buffer
		require.NoError(t, openpgp.ArmoredDetachSign(&sig, key, rd, nil))
		c.PGPSignature = sig.String()
	}
	obj := repo.Storer.NewEncodedObject()
	require.NoError(t, c.Encode(obj))
	h, err := repo.Storer.SetEncodedObject(obj)
	require.NoError(t, err)
	require.NoError(t, repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName("main"), h)))
	return h
}

func TestHistoryReadsOnlyWhatFlightdeckWrote(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()
	real, err := r.Apply(ctx, deploy("shop", "prod", digestN(1)))
	require.NoError(t, err)
	log := gitopstest.Log(t, dir)
	copied := log[0].Message

	human := object.Signature{Name: "Jo Human", Email: "jo@example.com"}
	bot := object.Signature{Name: gitops.DefaultAuthorName, Email: gitops.DefaultAuthorEmail}
	// A cherry-pick, revert-of-revert or squash copies the message
	// byte for byte, but records the person who did it as committer.
	commitAs(t, dir, human, copied, nil)
	// Hand-typed look-alike trailers, without the schema marker.
	commitAs(t, dir, human, "deploy shop to prod\n\nFlightdeck-App: shop\nFlightdeck-Environment: prod\nFlightdeck-Action: deploy\n", nil)
	// Even with flightdeck's identity, no schema marker, no deployment.
	commitAs(t, dir, bot, "deploy shop to prod\n\nFlightdeck-App: shop\nFlightdeck-Environment: prod\nFlightdeck-Action: rollback\n", nil)
	// Flightdeck trailers that are not the last paragraph.
	commitAs(t, dir, bot, "deploy\n\n"+trailersOfString("shop", "prod")+"\nthanks\n", nil)

	h, err := r.History(ctx, gitops.HistoryQuery{App: "shop"})
	require.NoError(t, err)
	require.Len(t, h, 1, "only the commit flightdeck wrote")
	assert.Equal(t, real.Commit, h[0].Commit)
	assert.Equal(t, "flightdeck <flightdeck@localhost>", h[0].Committer)

	// A tool that trusts the person's identity too sees their copy.
	h, err = r.History(ctx, gitops.HistoryQuery{App: "shop", Committers: []string{"Jo Human <jo@example.com>"}})
	require.NoError(t, err)
	assert.Len(t, h, 2)

	// Deliberate forgery of an unsigned repository's identity and marker
	// is not stopped: that is what signing is for (next test).
	forged := commitAs(t, dir, bot, copied, nil)
	h, err = r.History(ctx, gitops.HistoryQuery{App: "shop"})
	require.NoError(t, err)
	require.Len(t, h, 2)
	assert.Equal(t, forged, h[0].Commit)
}

func trailersOfString(app, env string) string {
	return gitops.Trailers{Action: gitops.ActionDeploy, App: app, Environment: env}.String()
}

func TestHistoryOfASigningRepoRequiresItsSignature(t *testing.T) {
	key, err := openpgp.NewEntity("Deploy Bot", "", "bot@example.com", nil)
	require.NoError(t, err)
	other, err := openpgp.NewEntity("Deploy Bot", "", "bot@example.com", nil)
	require.NoError(t, err)
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	r := newRepo(t, gitopstest.FileURL(dir), gitops.WithSignKey(key), gitops.WithAuthor("Deploy Bot", "bot@example.com"))
	ctx := context.Background()
	real, err := r.Apply(ctx, deploy("shop", "prod", digestN(1)))
	require.NoError(t, err)
	msg := gitopstest.Log(t, dir)[0].Message
	who := object.Signature{Name: "Deploy Bot", Email: "bot@example.com"}

	commitAs(t, dir, who, msg, nil)   // same identity, unsigned
	commitAs(t, dir, who, msg, other) // same identity, another key
	h, err := r.History(ctx, gitops.HistoryQuery{})
	require.NoError(t, err)
	require.Len(t, h, 1)
	assert.Equal(t, real.Commit, h[0].Commit)

	signed := commitAs(t, dir, who, msg, key) // whoever holds the key
	h, err = r.History(ctx, gitops.HistoryQuery{})
	require.NoError(t, err)
	require.Len(t, h, 2)
	assert.Equal(t, signed, h[0].Commit)
}

func TestTrustVerify(t *testing.T) {
	c := &object.Commit{Committer: object.Signature{Name: "a", Email: "a@x"}}
	err := gitops.Trust{Committers: []string{"b <b@x>"}}.Verify(c)
	require.ErrorIs(t, err, gitops.ErrUntrusted)
	assert.Contains(t, err.Error(), "committer a <a@x> is not trusted")
	assert.NoError(t, gitops.Trust{Committers: []string{"a <a@x>"}}.Verify(c))
	key, err := openpgp.NewEntity("a", "", "a@x", nil)
	require.NoError(t, err)
	err = gitops.Trust{Committers: []string{"a <a@x>"}, Keyring: openpgp.EntityList{key}}.Verify(c)
	require.ErrorIs(t, err, gitops.ErrUntrusted)
	assert.Contains(t, err.Error(), "not signed")
}

func TestEntryReleaseIsComplete(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()
	rel := flightdeck.Release{App: "shop", Image: "registry.example.com/mirror/shop", Digest: digestN(9), Tag: "2.0.0-rc.1",
		SourceRepo: "https://git.example.com/team/shop.git", Revision: strings.Repeat("9a", 20),
		Time: time.Date(2026, 2, 3, 4, 5, 6, 789, time.FixedZone("", -5*3600))}
	res, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{
		Target:  gitops.Target{App: "shop", Environment: flightdeck.Environment{Name: "prod"}, ImageName: gitopstest.Image("shop")},
		Release: rel,
	})
	require.NoError(t, err)
	h, err := r.History(ctx, gitops.HistoryQuery{Digest: digestN(9)})
	require.NoError(t, err)
	require.Len(t, h, 1)
	assert.Equal(t, res.Commit, h[0].Commit)
	got, ok := h[0].Release()
	require.True(t, ok)
	assert.True(t, rel.Time.Equal(got.Time))
	got.Time = rel.Time
	assert.Equal(t, rel, got)

	none, err := r.History(ctx, gitops.HistoryQuery{Digest: digestN(8)})
	require.NoError(t, err)
	assert.Empty(t, none)
	none, err = r.History(ctx, gitops.HistoryQuery{Image: gitopstest.Image("shop")})
	require.NoError(t, err)
	assert.Empty(t, none, "the release's image is the mirror, not the base name")
}
