package promote_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
	"github.com/flightdeck-dev/flightdeck/promote"
)

func TestPlanAndPromoteCopiesOnlyTheRelease(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.promoter(ladder())
	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	assert.Equal(t, digest(3), pl.Release.Digest)
	assert.Equal(t, digest(1), pl.Current.Digest)
	assert.Equal(t, e.src.commits[2], pl.Release.Revision)
	require.Len(t, pl.Commits, 2, "release notes are the commits after prod's revision")
	assert.Equal(t, "change 2", pl.Commits[0].Subject)
	assert.ElementsMatch(t, []string{"Eve <eve@example.com>", "Dev <dev@example.com>"}, pl.Authors)
	assert.Contains(t, string(pl.Before), "@"+digest(1))
	assert.Contains(t, string(pl.After), "@"+digest(3))
	assert.Contains(t, string(pl.After), "namespace: shop-prod", "prod keeps its own namespace")
	assert.Contains(t, pl.Diff, "+      - image: registry.example.com/team/shop@"+digest(3))
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, pl.Hash)
	assert.Contains(t, pl.Text(), "change 2 (Eve <eve@example.com>)")

	// A plan is data: the same state plans the same hash.
	again, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	assert.Equal(t, pl.Hash, again.Hash)

	ex, err := p.Explain(ctx, pl, promote.Request{Actor: "ann"})
	require.NoError(t, err)
	assert.True(t, ex.Allowed, ex.String())

	out, err := p.Promote(ctx, promote.Request{Actor: "ann", Reason: "release 1.2"}, pl)
	require.NoError(t, err)
	require.True(t, out[0].Result.Changed)
	cur, err := gitops.CurrentRelease(ctx, e.repo, target("shop", "prod"), "")
	require.NoError(t, err)
	assert.Equal(t, digest(3), cur.Release.Digest)
	assert.Equal(t, e.src.commits[2], cur.Release.Revision, "the source identity travels with the digest")
	h, err := e.repo.History(ctx, gitops.HistoryQuery{App: "shop", Environment: "prod", Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, gitops.ActionPromote, h[0].Trailers.Action)
	v, _ := h[0].Trailers.Extra.Get(gitops.TrailerPlanHash)
	assert.Equal(t, pl.Hash, v)
	v, _ = h[0].Trailers.Extra.Get(gitops.TrailerFrom)
	assert.Equal(t, "staging", v)
}

func TestOnCommitReachesDevOnlyFromMain(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.promoter(ladder())
	rel := e.src.release("shop", 1)
	_, err := p.OnCommit(ctx, rel, "feature")
	require.ErrorIs(t, err, promote.ErrBlocked)
	assert.Contains(t, err.Error(), `only commits to main go here by themselves`)
	o, err := p.OnCommit(ctx, rel, "main")
	require.NoError(t, err)
	assert.True(t, o.Result.Changed)
	cur, err := gitops.CurrentRelease(ctx, e.repo, target("shop", "dev"), "")
	require.NoError(t, err)
	assert.Equal(t, rel.Digest, cur.Release.Digest)
}

func TestManualBlocksACommitTrigger(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.promoter(ladder())
	pl, err := p.Plan(ctx, "shop", "staging")
	require.NoError(t, err)
	ex, err := p.Explain(ctx, pl, promote.Request{Trigger: promote.TriggerCommit, Branch: "main"})
	require.NoError(t, err)
	assert.False(t, ex.Allowed)
	assert.Contains(t, ex.String(), "manual: blocked: waits for someone to promote it by hand")
}

func approvalsPolicy(v promote.Verifier) promote.Approvals {
	return promote.Approvals{
		Rules:    []promote.Rule{{N: 2, Of: []string{"group:sre", "lead@example.com"}}},
		Groups:   map[string][]string{"sre": {"alice@example.com", "bob@example.com", "eve@example.com"}},
		Verifier: v,
	}
}

func TestApprovalsSignedWithSSHKeys(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	alice, bob, eve, mallory := newKey(t), newKey(t), newKey(t), newKey(t)
	v := promote.SSHVerifier{Signers: signers(t, alice.line("alice@example.com"), bob.line("bob@example.com"),
		eve.line("eve@example.com"), `lead@example.com namespaces="git" `+strings.SplitN(mallory.line("x"), " ", 2)[1])}
	p := e.promoter(ladder(approvalsPolicy(v)))
	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	now := e.clk.Now()

	_, err = p.Approve(ctx, pl, approval(pl, "alice@example.com", promote.Approve, now), sign(t, alice, approval(pl, "alice@example.com", promote.Approve, now)))
	require.NoError(t, err)
	ex, err := p.Explain(ctx, pl, promote.Request{Actor: "ann"})
	require.NoError(t, err)
	assert.False(t, ex.Allowed)
	assert.Contains(t, ex.String(), "approvals 1 of 2 from group:sre, lead@example.com (alice@example.com)")
	_, err = p.Promote(ctx, promote.Request{}, pl)
	require.ErrorIs(t, err, promote.ErrBlocked)
	require.ErrorIs(t, err, gitops.ErrRefused)

	refusals := []struct {
		name string
		a    promote.Approval
		sig  func(a promote.Approval) []byte
		want error
	}{
		{"unsigned", approval(pl, "bob@example.com", promote.Approve, now), func(promote.Approval) []byte { return nil }, promote.ErrUnverified},
		{"forged by another key", approval(pl, "bob@example.com", promote.Approve, now), func(a promote.Approval) []byte { return sign(t, mallory, a) }, promote.ErrUnverified},
		{"signature over other bytes", approval(pl, "bob@example.com", promote.Approve, now), func(a promote.Approval) []byte {
			b := a
			b.Comment = "changed after signing"
			return sign(t, bob, b)
		}, promote.ErrUnverified},
		{"key outside its namespaces", approval(pl, "lead@example.com", promote.Approve, now), func(a promote.Approval) []byte { return sign(t, mallory, a) }, promote.ErrUnverified},
		{"author of the change", approval(pl, "eve@example.com", promote.Approve, now), func(a promote.Approval) []byte { return sign(t, eve, a) }, promote.ErrSelfApproval},
		{"stale plan hash", func() promote.Approval {
			a := approval(pl, "bob@example.com", promote.Approve, now)
			a.PlanHash = digest(99)
			return a
		}(), func(a promote.Approval) []byte { return sign(t, bob, a) }, promote.ErrStalePlan},
		{"duplicate", approval(pl, "alice@example.com", promote.Approve, now), func(a promote.Approval) []byte { return sign(t, alice, a) }, promote.ErrDuplicateApproval},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, err := p.Approve(ctx, pl, r.a, r.sig(r.a))
			require.ErrorIs(t, err, r.want)
		})
	}

	// A forged file pushed straight into the repository is refused by the
	// policy, and said so.
	forged := approval(pl, "bob@example.com", promote.Approve, now)
	data, err := forged.Marshal()
	require.NoError(t, err)
	file := promote.ApprovalPath(pl.App, pl.To, pl.Hash, "bob@example.com")
	gitopstest.Commit(t, e.bare, gitopstest.Files{file: string(data), file + ".sig": string(sign(t, mallory, forged))}, nil, "sneak in an approval")
	ex, err = p.Explain(ctx, pl, promote.Request{})
	require.NoError(t, err)
	assert.False(t, ex.Allowed)
	assert.Contains(t, ex.String(), "refused: approval not verified: approval by bob@example.com: key SHA256:")
	gitopstest.Commit(t, e.bare, nil, []string{file, file + ".sig"}, "remove it")

	_, err = p.Approve(ctx, pl, forged, sign(t, bob, forged))
	require.NoError(t, err)
	ex, err = p.Explain(ctx, pl, promote.Request{})
	require.NoError(t, err)
	assert.True(t, ex.Allowed, ex.String())
	out, err := p.Promote(ctx, promote.Request{}, pl)
	require.NoError(t, err)
	assert.True(t, out[0].Result.Changed)

	got := gitopstest.ReadFile(t, e.bare, promote.ApprovalPath(pl.App, pl.To, pl.Hash, "alice@example.com"))
	assert.Contains(t, got, `"planHash": "`+pl.Hash+`"`)
	assert.Contains(t, gitopstest.ReadFile(t, e.bare, promote.ApprovalPath(pl.App, pl.To, pl.Hash, "alice@example.com")+".sig"), "BEGIN SSH SIGNATURE")
}

func TestRejectionBlocks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.promoter(ladder(promote.Approvals{Rules: []promote.Rule{{N: 1, Of: []string{"alice", "bob"}}}, Verifier: promote.TrustedCaller{}}))
	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	_, err = p.Approve(ctx, pl, approval(pl, "alice", promote.Approve, t0), nil)
	require.NoError(t, err)
	rej := approval(pl, "bob", promote.Reject, t0)
	rej.Comment = "not during the sale"
	_, err = p.Approve(ctx, pl, rej, nil)
	require.NoError(t, err)
	ex, err := p.Explain(ctx, pl, promote.Request{})
	require.NoError(t, err)
	assert.False(t, ex.Allowed)
	assert.Contains(t, ex.String(), "rejected by bob (not during the sale)")
}

func TestSSHKeygenSignatureVerifies(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen is not installed")
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", key).CombinedOutput()
	require.NoError(t, err, string(out))
	pub, err := os.ReadFile(key + ".pub")
	require.NoError(t, err)
	a := promote.Approval{App: "shop", Environment: "prod", PlanHash: digest(7), Approver: "alice@example.com", Decision: promote.Approve, Time: t0}
	data, err := a.Marshal()
	require.NoError(t, err)
	msg := filepath.Join(dir, "approval.json")
	require.NoError(t, os.WriteFile(msg, data, 0o600))
	out, err = exec.Command("ssh-keygen", "-Y", "sign", "-f", key, "-n", promote.SSHNamespace, msg).CombinedOutput()
	require.NoError(t, err, string(out))
	sig, err := os.ReadFile(msg + ".sig")
	require.NoError(t, err)
	v := promote.SSHVerifier{Signers: signers(t, "alice@example.com "+strings.TrimSpace(string(pub)))}
	require.NoError(t, v.Verify(a, data, sig))
	a.Approver = "bob@example.com"
	require.ErrorIs(t, v.Verify(a, data, sig), promote.ErrUnverified)

	// And ssh-keygen accepts what SignSSH makes.
	k := newKey(t)
	a.Approver = "carol@example.com"
	data, err = a.Marshal()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(msg, data, 0o600))
	mine, err := promote.SignSSH(k.signer, promote.SSHNamespace, data)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(msg+".sig", mine, 0o600))
	allowed := filepath.Join(dir, "allowed")
	require.NoError(t, os.WriteFile(allowed, []byte(k.line("carol@example.com")+"\n"), 0o600))
	cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "carol@example.com", "-n", promote.SSHNamespace, "-s", msg+".sig")
	cmd.Stdin = strings.NewReader(string(data))
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, string(out))
}

func TestPlanDriftsBetweenApprovalAndPromotion(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.promoter(ladder(promote.Approvals{Rules: []promote.Rule{{N: 1, Of: []string{"alice"}}}, Verifier: promote.TrustedCaller{}}))
	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	_, err = p.Approve(ctx, pl, approval(pl, "alice", promote.Approve, t0), nil)
	require.NoError(t, err)

	// Someone changes prod's replicas after the approval.
	gitopstest.Commit(t, e.bare, gitopstest.Files{"apps/shop/overlays/prod/replicas.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  replicas: 9\n"}, nil, "scale prod by hand")
	before := gitopstest.Head(t, e.bare)
	_, err = p.Promote(ctx, promote.Request{}, pl)
	require.ErrorIs(t, err, promote.ErrDrift)
	var de *promote.DriftError
	require.ErrorAs(t, err, &de)
	assert.Len(t, de.Changes, 1)
	assert.Contains(t, de.Changes[0], "rendered manifests of the target changed")
	assert.Equal(t, before, gitopstest.Head(t, e.bare), "nothing pushed")

	// The new plan has another hash, so the old approval does not count.
	pl2, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	assert.NotEqual(t, pl.Hash, pl2.Hash)
	ex, err := p.Explain(ctx, pl2, promote.Request{})
	require.NoError(t, err)
	assert.Contains(t, ex.String(), "approvals 0 of 1")

	// Staging moving to another release drifts too, naming the digest.
	_, err = gitops.DeployRelease(ctx, e.repo, gitops.DeployRequest{Target: target("shop", "staging"), Release: e.src.release("shop", 1)})
	require.NoError(t, err)
	_, err = p.Promote(ctx, promote.Request{}, pl2)
	require.ErrorAs(t, err, &de)
	assert.Contains(t, de.Error(), "staging now runs "+digest(2)+", not "+digest(3))
}

func TestPlanDriftsWhenABaseChanges(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.promoter(ladder())
	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)

	// The plan's renders are in the Repo's cache; a change to a file the
	// overlay includes through its base must still be seen at the push.
	base := "apps/shop/base/deployment.yaml"
	data, err := e.repo.ReadFile(ctx, "", base)
	require.NoError(t, err)
	gitopstest.Commit(t, e.bare, gitopstest.Files{base: strings.Replace(string(data), "containerPort: 8080", "containerPort: 9090", 1)}, nil, "move the port in the base")
	before := gitopstest.Head(t, e.bare)
	_, err = p.Promote(ctx, promote.Request{}, pl)
	var de *promote.DriftError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, []string{"rendered manifests of the target changed from " + pl.HashInput().Manifests + " to " + manifestsAt(t, ctx, e, "shop")}, de.Changes)
	assert.Equal(t, before, gitopstest.Head(t, e.bare), "nothing pushed")

	pl2, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	assert.Contains(t, string(pl2.After), "containerPort: 9090")
	out, err := p.Promote(ctx, promote.Request{}, pl2)
	require.NoError(t, err)
	assert.True(t, out[0].Result.Changed)
}

// manifestsAt returns the manifests field of the hash input a plan of app
// to prod has now.
func manifestsAt(t *testing.T, ctx context.Context, e *env, app string) string {
	t.Helper()
	pl, err := e.promoter(ladder()).Plan(ctx, app, "prod")
	require.NoError(t, err)
	return pl.HashInput().Manifests
}

func TestSoakInterruptedByAFailedVerification(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.promoter(ladder(promote.Soak{Duration: 3 * time.Hour}))
	rel := e.src.release("shop", 2)
	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	explainSoak := func() promote.Verdict {
		ex, err := p.Explain(ctx, pl, promote.Request{})
		require.NoError(t, err)
		return ex.Verdicts[1]
	}
	assert.Contains(t, explainSoak().Reason, "is not verified in staging")

	start := e.clk.Now()
	e.mark("shop", "staging", rel, "verified")
	e.clk.Advance(2 * time.Hour)
	e.mark("shop", "staging", rel, "failed")
	e.clk.Advance(time.Hour)
	v := explainSoak()
	assert.False(t, v.Allowed)
	assert.Contains(t, v.Reason, "longest verified stay in staging was 2h0m0s, needs 3h0m0s; not verified there now")
	assert.True(t, v.NotBefore.IsZero())

	e.mark("shop", "staging", rel, "verified")
	restart := e.clk.Now()
	e.clk.Advance(2 * time.Hour)
	v = explainSoak()
	assert.False(t, v.Allowed, "the two stays do not add up")
	assert.True(t, restart.Add(3*time.Hour).Equal(v.NotBefore), "%s", v.NotBefore)
	assert.Contains(t, v.Reason, "1h0m0s left")
	e.clk.Advance(time.Hour)
	v = explainSoak()
	assert.True(t, v.Allowed, v.Reason)
	assert.Contains(t, v.Reason, "verified and healthy in staging for 3h0m0s")
	_ = start
}

func TestTestsPassedInThePreviousEnvironment(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.promoter(ladder(promote.Tests{Suites: []string{"e2e", "load"}}))
	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	rel := e.src.release("shop", 2)
	e.mark("shop", "staging", rel, "verified", gitops.Trailer{Key: promote.TrailerTests, Value: "e2e=passed,load=failed"})
	_, err = p.Promote(ctx, promote.Request{}, pl)
	require.ErrorIs(t, err, promote.ErrBlocked)
	assert.Contains(t, err.Error(), "promote shop to prod: blocked by tests: in staging sha256:000000000000: load failed")
	assert.NotContains(t, err.Error(), "blocked: ", "the refusal says blocked once")
	e.mark("shop", "staging", rel, "verified", gitops.Trailer{Key: promote.TrailerTests, Value: "load=passed"})
	_, err = p.Promote(ctx, promote.Request{}, pl)
	require.NoError(t, err)
}

func TestScanByDigestWithExpiringAllowlist(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	var mu sync.Mutex
	var scanned []string
	sc := promote.NewScan(scan.ScannerFunc(func(_ context.Context, tg scan.Target) ([]scan.Finding, error) {
		mu.Lock()
		scanned = append(scanned, tg.ImageRef)
		mu.Unlock()
		return []scan.Finding{{ID: "GO-2026-0001", Package: "golang.org/x/net", Severity: scan.SeverityHigh}}, nil
	}), scan.Policy{FailAt: scan.SeverityMedium}, time.Hour, nil)
	p := e.promoter(ladder(sc))
	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	ex, err := p.Explain(ctx, pl, promote.Request{})
	require.NoError(t, err)
	assert.False(t, ex.Allowed)
	assert.Contains(t, ex.String(), "GO-2026-0001")
	require.Equal(t, []string{pl.Release.Ref()}, scanned, "scanned by digest")

	sc.SetPolicy(scan.Policy{FailAt: scan.SeverityMedium, Allow: []scan.Allow{{ID: "GO-2026-0001", Reason: "not reachable", Expires: t0.Add(2 * time.Hour)}}})
	ex, err = p.Explain(ctx, pl, promote.Request{})
	require.NoError(t, err)
	assert.True(t, ex.Allowed, ex.String())
	assert.Len(t, scanned, 1, "a fresh result is reused")

	e.clk.Advance(90 * time.Minute)
	_, err = p.Explain(ctx, pl, promote.Request{})
	require.NoError(t, err)
	assert.Len(t, scanned, 2, "a result older than the maximum age is re-run")
	e.clk.Advance(time.Hour)
	ex, err = p.Explain(ctx, pl, promote.Request{})
	require.NoError(t, err)
	assert.False(t, ex.Allowed, "the allowlist entry expired")

	failing := promote.NewScan(scan.ScannerFunc(func(context.Context, scan.Target) ([]scan.Finding, error) {
		return nil, errors.New("db unreachable")
	}), scan.Policy{}, 0, nil)
	v := failing.Evaluate(ctx, &promote.Input{Plan: pl, Now: t0})
	assert.False(t, v.Allowed)
	assert.Contains(t, v.Reason, "db unreachable")
}

func TestHoldsAndHealth(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	healthy := true
	p := e.promoter(ladder(promote.Holds{Source: true}, promote.Health{Checker: promote.HealthFunc(func(context.Context, string, string) (bool, string, error) {
		return healthy, "3/3 ready", nil
	})}))
	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	hold, err := gitops.Hold{App: "shop", Environment: "prod", By: "oncall", At: t0.Add(-time.Hour), Reason: "checkout errors"}.Marshal()
	require.NoError(t, err)
	gitopstest.Commit(t, e.bare, gitopstest.Files{gitops.HoldPath("shop", "prod"): string(hold)}, nil, "hold prod")
	ex, err := p.Explain(ctx, pl, promote.Request{})
	require.NoError(t, err)
	assert.Contains(t, ex.String(), "holds: blocked: gitops: shop in prod is on hold since 2026-03-02T09:00:00Z by oncall: checkout errors")
	_, err = p.Promote(ctx, promote.Request{}, pl)
	require.ErrorIs(t, err, gitops.ErrHeld, "gitops refuses the commit itself")
	gitopstest.Commit(t, e.bare, nil, []string{gitops.HoldPath("shop", "prod")}, "lift")
	q, err := gitops.Quarantine{App: "shop", Environment: "prod", Digests: []gitops.QuarantinedDigest{{Digest: pl.Release.Digest, By: "rollback", At: t0, Reason: "failed verification"}}}.Marshal()
	require.NoError(t, err)
	gitopstest.Commit(t, e.bare, gitopstest.Files{gitops.QuarantinePath("shop", "prod"): string(q)}, nil, "quarantine")
	ex, err = p.Explain(ctx, pl, promote.Request{})
	require.NoError(t, err)
	assert.Contains(t, ex.String(), "holds: blocked: gitops:")
	assert.Contains(t, ex.String(), "quarantined")
	gitopstest.Commit(t, e.bare, nil, []string{gitops.QuarantinePath("shop", "prod")}, "clear")
	healthy = false
	_, err = p.Promote(ctx, promote.Request{}, pl)
	assert.ErrorContains(t, err, "blocked by health: shop is not healthy in staging: 3/3 ready")
	healthy = true
	_, err = p.Promote(ctx, promote.Request{}, pl)
	require.NoError(t, err)
}

func TestTwoRacingPromotersMakeOneCommit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p1 := e.promoter(ladder())
	p2, err := promote.New(e.newRepo(), ladder(), promote.WithClock(e.clk))
	require.NoError(t, err)
	pl, err := p1.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []*promote.Promoter{p1, p2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = p.Promote(ctx, promote.Request{}, pl)
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	h, err := e.repo.History(ctx, gitops.HistoryQuery{App: "shop", Environment: "prod", Actions: []gitops.Action{gitops.ActionPromote}})
	require.NoError(t, err)
	assert.Len(t, h, 1)
}

func TestManyAppsInOnePush(t *testing.T) {
	ctx := context.Background()
	apps := []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"}
	e := newEnv(t, apps...)
	srv := gitopstest.Serve(t, e.bare)
	r, err := gitops.New(srv.URL(), gitops.WithCacheDir(t.TempDir()), gitops.WithClock(e.clk))
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	w := &batchCounter{Repo: r}
	p, err := promote.New(w, ladder(), promote.WithClock(e.clk))
	require.NoError(t, err)
	plans, err := p.PlanAll(ctx, "prod", apps...)
	require.NoError(t, err)
	before := len(gitopstest.Log(t, e.bare))
	pushes := srv.Pushes()
	w.batches = nil
	out, err := p.Promote(ctx, promote.Request{}, plans...)
	require.NoError(t, err)
	assert.Equal(t, []int{len(apps)}, w.batches, "every change handed over in one ApplyAll")
	for _, o := range out {
		assert.True(t, o.Result.Changed)
		assert.Contains(t, o.Plan.Diff, "apps/"+o.Plan.App+"/overlays/prod")
	}
	assert.Len(t, gitopstest.Log(t, e.bare), before+len(apps), "one commit per app")
	assert.Equal(t, 1, srv.Pushes()-pushes, "every app in exactly one push")
}

// batchCounter records the size of each ApplyAll call.
type batchCounter struct {
	*gitops.Repo
	mu      sync.Mutex
	batches []int
}

func (b *batchCounter) ApplyAll(ctx context.Context, chs []gitops.Change) ([]gitops.Result, []error) {
	b.mu.Lock()
	b.batches = append(b.batches, len(chs))
	b.mu.Unlock()
	return b.Repo.ApplyAll(ctx, chs)
}

// A plan that drifted between planning and the push is refused alone:
// the other plans still go, together, in one push.
func TestDriftedPlanLeavesTheOthersInThePush(t *testing.T) {
	ctx := context.Background()
	apps := []string{"a1", "a2", "a3", "a4"}
	e := newEnv(t, apps...)
	srv := gitopstest.Serve(t, e.bare)
	r, err := gitops.New(srv.URL(), gitops.WithCacheDir(t.TempDir()), gitops.WithClock(e.clk))
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	p, err := promote.New(r, ladder(), promote.WithClock(e.clk))
	require.NoError(t, err)
	plans, err := p.PlanAll(ctx, "prod", apps...)
	require.NoError(t, err)
	_, err = r.Apply(ctx, gitops.Change{Message: "staging moves on", Edits: []gitops.Edit{gitops.SetImage{
		Dir: "apps/a2/overlays/staging", Name: gitopstest.Image("a2"), Digest: digest(99)}}})
	require.NoError(t, err)
	pushes := srv.Pushes()
	out, err := p.Promote(ctx, promote.Request{}, plans...)
	require.ErrorIs(t, err, promote.ErrDrift)
	assert.Equal(t, 1, srv.Pushes()-pushes, "the other plans in one push")
	for _, o := range out {
		if o.Plan.App == "a2" {
			assert.ErrorIs(t, o.Err, promote.ErrDrift)
			assert.False(t, o.Result.Changed)
			continue
		}
		require.NoError(t, o.Err, o.Plan.App)
		assert.True(t, o.Result.Changed, o.Plan.App)
	}
}

// On the in-memory repository of package gitopstest a plan carries the
// same diff of the target's rendered overlay as on a real repository.
func TestPlanDiffOnTheFake(t *testing.T) {
	ctx := context.Background()
	repo, err := gitopstest.NewFake(gitopstest.KustomizeLayout("shop"))
	require.NoError(t, err)
	rel := flightdeck.Release{App: "shop", Image: gitopstest.Image("shop"), Digest: digest(2), Tag: "1.2.0"}
	staging := gitops.Target{App: "shop", Environment: flightdeck.Environment{Name: "staging"}}
	_, err = gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: staging, Release: rel})
	require.NoError(t, err)
	p, err := promote.New(repo, promote.DefaultLadder())
	require.NoError(t, err)
	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(pl.Diff, "--- a/apps/shop/overlays/prod\n+++ b/apps/shop/overlays/prod\n@@ "), pl.Diff)
	assert.Contains(t, pl.Diff, "\n-      - image: "+gitopstest.Image("shop")+":1.0.0\n+      - image: "+gitopstest.Image("shop")+"@"+digest(2)+"\n")
	assert.Contains(t, pl.Text(), pl.Diff)
}
