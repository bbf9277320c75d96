package promote_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
	"github.com/flightdeck-dev/flightdeck/promote"
)

// process is one run of a tool: its own clone of the GitOps repository,
// its own scan policy (nothing in memory) and a count of scans.
type process struct {
	p     *promote.Promoter
	scans *atomic.Int32
}

func (e *env) process(policy scan.Policy, maxAge time.Duration) process {
	var n atomic.Int32
	sc := promote.NewScan(scan.ScannerFunc(func(context.Context, scan.Target) ([]scan.Finding, error) {
		n.Add(1)
		return []scan.Finding{{ID: "GO-2026-0001", Aliases: []string{"CVE-2026-1111"}, Package: "golang.org/x/net", Installed: "v0.30.0", Severity: scan.SeverityHigh}}, nil
	}), policy, maxAge, nil)
	p, err := promote.New(e.newRepo(), ladder(sc), promote.WithClock(e.clk))
	require.NoError(e.t, err)
	return process{p: p, scans: &n}
}

func (pr process) explain(t *testing.T, pl *promote.Plan) promote.Explanation {
	ex, err := pr.p.Explain(context.Background(), pl, promote.Request{})
	require.NoError(t, err)
	return ex
}

func TestScanResultsKeptInGitAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	policy := scan.Policy{FailAt: scan.SeverityMedium, Allow: []scan.Allow{{ID: "CVE-2026-1111", Reason: "parser not reachable", Expires: t0.Add(3 * time.Hour)}}}

	first := e.process(policy, 2*time.Hour)
	pl, err := first.p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	ex := first.explain(t, pl)
	assert.True(t, ex.Allowed, ex.String())
	assert.EqualValues(t, 1, first.scans.Load())

	// The result is in the repository, by its own commit.
	file := promote.ScanPath("shop", pl.Release.Digest)
	assert.Equal(t, ".flightdeck/scans/shop/"+pl.Release.Digest[len("sha256:"):]+".json", file)
	data, err := e.newRepo().ReadFile(ctx, "", file)
	require.NoError(t, err)
	var rec promote.ScanRecord
	require.NoError(t, json.Unmarshal(data, &rec))
	assert.Equal(t, pl.Release.Ref(), rec.Ref)
	assert.True(t, t0.Equal(rec.ScannedAt), rec.ScannedAt.String())
	require.Len(t, rec.Findings, 1)
	assert.Equal(t, scan.SeverityHigh, rec.Findings[0].Severity)
	h, err := e.repo.History(ctx, gitops.HistoryQuery{App: "shop", Actions: []gitops.Action{promote.ActionScan}})
	require.NoError(t, err)
	require.Len(t, h, 1)
	v, _ := h[0].Trailers.Extra.Get(promote.TrailerScanned)
	assert.Equal(t, pl.Release.Ref(), v)

	// A fresh process 30 minutes later reuses it: no scan.
	e.clk.Advance(30 * time.Minute)
	second := e.process(policy, 2*time.Hour)
	ex = second.explain(t, pl)
	assert.True(t, ex.Allowed, ex.String())
	assert.Contains(t, ex.String(), "scanned 30m0s ago")
	assert.EqualValues(t, 0, second.scans.Load(), "a recent result is reused")

	// Past the maximum age a fresh process scans again and records it.
	e.clk.Advance(2 * time.Hour) // t0+2h30m
	third := e.process(policy, 2*time.Hour)
	ex = third.explain(t, pl)
	assert.True(t, ex.Allowed, ex.String())
	assert.EqualValues(t, 1, third.scans.Load(), "an old result is re-run")
	assert.Contains(t, ex.String(), "scanned 0s ago")
	data, err = e.newRepo().ReadFile(ctx, "", file)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &rec))
	assert.True(t, t0.Add(150*time.Minute).Equal(rec.ScannedAt), rec.ScannedAt.String())

	// At t0+3h10m the result is recent but the allowlist entry has
	// expired: the finding blocks again, without a scan.
	e.clk.Advance(40 * time.Minute)
	fourth := e.process(policy, 2*time.Hour)
	ex = fourth.explain(t, pl)
	assert.False(t, ex.Allowed)
	assert.Contains(t, ex.String(), "GO-2026-0001")
	assert.Contains(t, ex.String(), "allowlist entry for CVE-2026-1111 expired 2026-03-02")
	assert.EqualValues(t, 0, fourth.scans.Load())
	_, err = fourth.p.Promote(ctx, promote.Request{}, pl)
	require.ErrorIs(t, err, promote.ErrBlocked)

	// A renewed entry lets a fresh process promote on the kept result.
	policy.Allow[0].Expires = t0.Add(30 * 24 * time.Hour)
	fifth := e.process(policy, 2*time.Hour)
	_, err = fifth.p.Promote(ctx, promote.Request{}, pl)
	require.NoError(t, err)
	assert.EqualValues(t, 0, fifth.scans.Load())
}

// A record that does not parse is scanned again and replaced; one that
// cannot be written blocks.
func TestScanRecordRepairedOrBlocking(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	pr := e.process(scan.Policy{FailAt: scan.SeverityCritical}, time.Hour)
	pl, err := pr.p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	file := promote.ScanPath("shop", pl.Release.Digest)
	gitopstest.Commit(t, e.bare, gitopstest.Files{file: "{not json"}, nil, "garbage")
	ex := pr.explain(t, pl)
	assert.True(t, ex.Allowed, ex.String())
	assert.EqualValues(t, 1, pr.scans.Load())
	data, err := e.newRepo().ReadFile(ctx, "", file)
	require.NoError(t, err)
	assert.True(t, json.Valid(data))

	var n atomic.Int32
	sc := promote.NewScan(scan.ScannerFunc(func(context.Context, scan.Target) ([]scan.Finding, error) {
		n.Add(1)
		return nil, nil
	}), scan.Policy{}, time.Hour, nil)
	failing := gitops.WriterFunc(func(context.Context, gitops.Change) (gitops.Result, error) {
		return gitops.Result{}, gitops.ErrConflict
	})
	other := *pl
	other.Release.Digest = digest(99)
	v := sc.Evaluate(ctx, &promote.Input{Plan: &other, Now: t0, Writer: failing})
	assert.False(t, v.Allowed)
	assert.Contains(t, v.Reason, "cannot be recorded at .flightdeck/scans/shop/")
	assert.EqualValues(t, 1, n.Load())
}

// An image copied into the next environment's registry has the same
// digest, so the same findings: the record kept for the app and digest
// serves both references, in this process and in the next one, instead
// of each environment scanning again and replacing the other's record.
func TestScanRecordServesEveryRegistryOfTheDigest(t *testing.T) {
	ctx := context.Background()
	repo, err := gitopstest.NewFake(gitopstest.KustomizeLayout("shop"))
	require.NoError(t, err)
	newScan := func(n *atomic.Int32) *promote.Scan {
		return promote.NewScan(scan.ScannerFunc(func(context.Context, scan.Target) ([]scan.Finding, error) {
			n.Add(1)
			return nil, nil
		}), scan.Policy{}, time.Hour, nil)
	}
	staging := &promote.Plan{App: "shop", From: "dev", To: "staging", Release: flightdeck.Release{App: "shop", Image: "registry.staging.example.com/shop", Digest: digest(5)}}
	prod := &promote.Plan{App: "shop", From: "staging", To: "prod", Release: staging.Release}
	prod.Release.Image = "registry.prod.example.com/shop"
	in := func(pl *promote.Plan, at time.Time) *promote.Input {
		return &promote.Input{Plan: pl, Now: at, History: repo, Writer: repo}
	}

	var first, second atomic.Int32
	sc := newScan(&first)
	require.True(t, sc.Evaluate(ctx, in(staging, t0)).Allowed)
	v := sc.Evaluate(ctx, in(prod, t0.Add(time.Minute)))
	assert.True(t, v.Allowed, v.Reason)
	assert.Contains(t, v.Reason, "scanned 1m0s ago")
	assert.EqualValues(t, 1, first.Load(), "one scan for the digest")

	again := newScan(&second)
	v = again.Evaluate(ctx, in(prod, t0.Add(2*time.Minute)))
	assert.True(t, v.Allowed, v.Reason)
	assert.EqualValues(t, 0, second.Load(), "a new process reuses the record for another registry's reference")
	h, err := repo.History(ctx, gitops.HistoryQuery{Actions: []gitops.Action{promote.ActionScan}})
	require.NoError(t, err)
	assert.Len(t, h, 1, "one record, not one per registry")
}

// A scan record put into the repository by hand, or edited after the
// scan commit wrote it, is not a scan: the policy reads the record its
// own commit wrote, and scans when there is none.
func TestScanRecordWrittenByHandIsNotAScan(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	policy := scan.Policy{FailAt: scan.SeverityMedium}
	pl, err := e.process(policy, time.Hour).p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	file := promote.ScanPath("shop", pl.Release.Digest)
	forged, err := json.Marshal(promote.ScanRecord{App: "shop", Digest: pl.Release.Digest, Ref: pl.Release.Ref(), ScannedAt: t0})
	require.NoError(t, err)
	gitopstest.Commit(t, e.bare, gitopstest.Files{file: string(forged)}, nil, "no findings, trust me")

	first := e.process(policy, time.Hour)
	ex := first.explain(t, pl)
	assert.False(t, ex.Allowed, "the real scan's finding blocks: %s", ex)
	assert.Contains(t, ex.String(), "GO-2026-0001")
	assert.EqualValues(t, 1, first.scans.Load(), "a file by hand is not a scan")

	// The scan's own record is then edited by hand: the next process
	// reads the one the scan commit wrote.
	gitopstest.Commit(t, e.bare, gitopstest.Files{file: string(forged)}, nil, "no findings, trust me")
	second := e.process(policy, time.Hour)
	ex = second.explain(t, pl)
	assert.False(t, ex.Allowed, ex.String())
	assert.Contains(t, ex.String(), "GO-2026-0001")
	assert.EqualValues(t, 0, second.scans.Load(), "the scan commit's record is reused")
}

// countingScan is a scan policy keeping results for an hour whose
// scanner counts its runs, finds nothing and fails with err.
func countingScan(policy scan.Policy, err error) (*promote.Scan, *atomic.Int32) {
	var n atomic.Int32
	return promote.NewScan(scan.ScannerFunc(func(context.Context, scan.Target) ([]scan.Finding, error) {
		n.Add(1)
		return nil, err
	}), policy, time.Hour, nil), &n
}

// slowPush is a repository whose promotion commits take by (on the fake
// clock) before they are built, long enough for a scan result checked
// before the push to go stale inside the attempt.
type slowPush struct {
	*gitops.Repo
	clk *clocktest.Clock
	by  *time.Duration
}

func (s slowPush) Apply(ctx context.Context, ch gitops.Change) (gitops.Result, error) {
	s.delay(ch)
	return s.Repo.Apply(ctx, ch)
}

func (s slowPush) ApplyAll(ctx context.Context, chs []gitops.Change) ([]gitops.Result, []error) {
	for _, ch := range chs {
		s.delay(ch)
	}
	return s.Repo.ApplyAll(ctx, chs)
}

func (s slowPush) delay(ch gitops.Change) {
	if ch.Trailers.Action != promote.ActionScan && !ch.DryRun {
		s.clk.Advance(*s.by)
	}
}

// A scan result that expires between the check before the push and the
// push attempt blocks the promotion instead of being scanned inside the
// attempt, where the result could not be recorded; promoting again scans
// and records anew.
func TestScanExpiringDuringThePushBlocks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	sc, scans := countingScan(scan.Policy{FailAt: scan.SeverityHigh}, nil)
	delay := time.Hour
	p, err := promote.New(slowPush{Repo: e.newRepo(), clk: e.clk, by: &delay}, ladder(sc), promote.WithClock(e.clk))
	require.NoError(t, err)
	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)

	_, err = p.Promote(ctx, promote.Request{}, pl)
	require.ErrorIs(t, err, promote.ErrBlocked)
	assert.Contains(t, err.Error(), "the scan result of "+pl.Release.Ref()+" expired during the promotion (scanned 1h0m0s ago, kept for 1h0m0s); promote again to scan anew")
	assert.EqualValues(t, 1, scans.Load(), "no scan inside the push attempt")
	records := func() int {
		h, err := e.newRepo().History(ctx, gitops.HistoryQuery{App: "shop", Actions: []gitops.Action{promote.ActionScan}})
		require.NoError(t, err)
		return len(h)
	}
	assert.Equal(t, 1, records(), "the scan that ran was recorded")

	delay = time.Minute
	_, err = p.Promote(ctx, promote.Request{}, pl)
	require.NoError(t, err)
	assert.EqualValues(t, 2, scans.Load())
	assert.Equal(t, 2, records(), "every scan that ran is recorded")
}

// A scan that failed before the push is not tried again inside the
// attempt: the promotion is blocked with the failure.
func TestScanFailedBeforeThePushIsNotRetriedInside(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	sc, scans := countingScan(scan.Policy{}, errors.New("db unreachable"))
	p := e.promoter(ladder(sc))
	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	_, err = p.Promote(ctx, promote.Request{}, pl)
	require.ErrorIs(t, err, promote.ErrBlocked)
	assert.Contains(t, err.Error(), "scan of "+pl.Release.Ref()+" failed: db unreachable")
	assert.EqualValues(t, 1, scans.Load())
}
