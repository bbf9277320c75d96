package rollback_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
	"github.com/flightdeck-dev/flightdeck/rollback"
	"github.com/flightdeck-dev/flightdeck/rollback/rollbacktest"
)

var start = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

func digestN(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func release(app string, n int) flightdeck.Release {
	return flightdeck.Release{App: app, Image: gitopstest.Image(app), Digest: digestN(n), Tag: fmt.Sprintf("1.%d.0", n),
		SourceRepo: "https://git.example.com/team/" + app, Revision: fmt.Sprintf("%040x", n), Time: start.Add(-time.Hour)}
}

func target(app, env string) gitops.Target {
	return gitops.Target{App: app, Environment: flightdeck.Environment{Name: env}}
}

// analysis returns a one-metric analysis whose measurements are ms.
func analysis(ms ...health.Measurement) health.Analysis {
	return health.Analysis{Metrics: []health.Metric{{Name: "error-rate", Evaluator: healthtest.NewScripted(ms...),
		Interval: 30 * time.Second, Count: len(ms), FailureCondition: health.Above(0.01)}}}
}

var (
	passes       = analysis(healthtest.Success(0.001), healthtest.Success(0.002))
	fails        = analysis(healthtest.Success(0.002), healthtest.Success(0.2))
	inconclusive = analysis(healthtest.NoData(), healthtest.NoData())
	checks       = map[string]rollback.Check{"error-rate": {Query: `sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))`, Threshold: "above 0.01 fails"}}
)

func newFake(t *testing.T) (*gitopstest.Fake, *clocktest.Clock) {
	t.Helper()
	clk := clocktest.NewAuto(start)
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout("web"), gitopstest.WithClock(clk))
	require.NoError(t, err)
	return f, clk
}

// verified returns a Controller over a fake whose prod environment runs
// release 1 of web, deployed and verified, and that deploy.
func verified(t *testing.T, opts ...rollback.Option) (*gitopstest.Fake, *rollback.Controller, gitops.Result) {
	t.Helper()
	f, clk := newFake(t)
	c, err := rollback.New(f, append([]rollback.Option{rollback.WithClock(clk)}, opts...)...)
	require.NoError(t, err)
	ctx := context.Background()
	good, err := gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: target("web", "prod"), Release: release("web", 1)})
	require.NoError(t, err)
	_, err = c.Verify(ctx, rollback.VerifyRequest{Target: target("web", "prod"), Analysis: passes})
	require.NoError(t, err)
	return f, c, good
}

func TestVerifyRecordsVerdictsThatHistoryReadsBack(t *testing.T) {
	f, clk := newFake(t)
	obs := &rollbacktest.Observer{}
	c, err := rollback.New(f, rollback.WithClock(clk), rollback.WithObserver(obs))
	require.NoError(t, err)
	ctx := context.Background()
	prod := target("web", "prod")

	a, err := gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 1)})
	require.NoError(t, err)
	v, err := c.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: passes, Checks: checks})
	require.NoError(t, err)
	assert.Equal(t, rollback.Verified, v.Verdict)
	assert.Equal(t, a.Commit, v.Deploy.Commit)
	assert.Nil(t, v.Rollback)
	assert.Equal(t, 30*time.Second, v.Finished.Sub(start), "two measurements 30s apart, on the clock")

	b, err := gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 2)})
	require.NoError(t, err)
	v, err = c.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: inconclusive})
	require.NoError(t, err)
	assert.Equal(t, rollback.Inconclusive, v.Verdict)
	assert.Nil(t, v.Rollback, "an inconclusive verdict records, and does not roll back")

	verdicts, err := c.Verdicts(ctx, prod, "", 0)
	require.NoError(t, err)
	require.Len(t, verdicts, 2)
	assert.Equal(t, b.Commit.String(), verdicts[0].Deploy)
	assert.Equal(t, rollback.Inconclusive, verdicts[0].Verdict)
	assert.Equal(t, a.Commit.String(), verdicts[1].Deploy)
	assert.Equal(t, rollback.Verified, verdicts[1].Verdict)

	// The marker is a commit History reads: action verify, the release,
	// the verdict, the deploy.
	entries, err := f.History(ctx, gitops.HistoryQuery{Actions: []gitops.Action{rollback.ActionVerify}, Limit: 1})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	rel, ok := entries[0].Release()
	require.True(t, ok)
	assert.Equal(t, release("web", 2), rel)
	// Deploy counts (DORA) do not see markers.
	deploys, err := f.History(ctx, gitops.HistoryQuery{App: "web"})
	require.NoError(t, err)
	assert.Len(t, deploys, 2)

	// The record file says the same.
	data, err := f.ReadFile(ctx, "", rollback.VerificationPath("web", "prod"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "verdict: inconclusive")
	assert.Contains(t, string(data), "deploy: "+b.Commit.String())

	lkg, err := c.LastKnownGood(ctx, prod, "")
	require.NoError(t, err)
	assert.Equal(t, a.Commit, lkg.Commit, "the inconclusive deploy is not good")
	assert.Equal(t, []rollback.EventKind{rollback.EventVerdict, rollback.EventVerdict}, obs.Kinds())
}

func TestFailedVerificationRollsBackToTheLastVerifiedDeployOnTheFake(t *testing.T) {
	f, clk := newFake(t)
	obs := &rollbacktest.Observer{}
	c, err := rollback.New(f, rollback.WithClock(clk), rollback.WithObserver(obs), rollback.WithActor("rollback-bot"))
	require.NoError(t, err)
	ctx := context.Background()
	prod := target("web", "prod")

	good, err := gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 1)})
	require.NoError(t, err)
	_, err = c.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: passes})
	require.NoError(t, err)
	_, err = gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 2)}) // never verified
	require.NoError(t, err)
	bad, err := gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 3)})
	require.NoError(t, err)

	v, err := c.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: fails, Checks: checks})
	require.NoError(t, err)
	assert.Equal(t, rollback.Failed, v.Verdict)
	require.NotNil(t, v.Rollback)
	out := *v.Rollback
	assert.Equal(t, rollback.RolledBack, out.Decision)
	assert.Equal(t, good.Commit, out.Restored.Commit, "the last verified deploy, not the previous commit")
	assert.Equal(t, bad.Commit, out.Reverted.Commit)
	assert.Equal(t, release("web", 1), out.Release)
	assert.Equal(t, release("web", 3), out.From)
	assert.Equal(t, digestN(3), out.Quarantined)

	cur, err := gitops.CurrentRelease(ctx, f, prod, "")
	require.NoError(t, err)
	assert.Equal(t, digestN(1), cur.Release.Digest)
	h, err := gitops.ReadHoldAt(ctx, f, "", "web", "prod")
	require.NoError(t, err)
	require.NotNil(t, h)
	assert.Equal(t, "rollback-bot", h.By)
	assert.Equal(t, gitopstest.Image("web")+"@"+digestN(3), h.From)
	assert.Equal(t, "verification", h.Trigger)
	assert.True(t, strings.HasPrefix(h.Reason, "verification failed: "), h.Reason)

	// The rollback commit, then the marker.
	log := f.Log()
	assert.True(t, strings.HasPrefix(log[0].Message, "verify web in prod: failed"), log[0].Message)
	msg := log[1].Message
	assert.True(t, strings.HasPrefix(msg, "rollback web in prod to "+good.Commit.String()[:12]+" (verification)\n"), msg)
	for _, want := range []string{
		"Evidence (verification, ",
		"metric error-rate: Failed",
		`query: sum(rate(http_requests_total{code=~"5.."}[1m]))`,
		"threshold: above 0.01 fails",
		"value 0.2 Failed",
		"Flightdeck-Action: rollback\n",
		"Flightdeck-Reverts: " + bad.Commit.String() + "\n",
		"Flightdeck-Restores: " + good.Commit.String() + "\n",
		"Flightdeck-Change: unplanned\n",
		"Flightdeck-Trigger: verification\n",
	} {
		assert.Contains(t, msg, want)
	}
	tr, err := gitops.ParseTrailers(msg)
	require.NoError(t, err)
	reason, _ := tr.Extra.Get(gitops.TrailerReason)
	assert.Equal(t, h.Reason, reason)

	assert.Equal(t, []rollback.EventKind{rollback.EventVerdict, rollback.EventVerdict, rollback.EventTrigger, rollback.EventDecision, rollback.EventResult}, obs.Kinds())
	assert.Equal(t, []rollback.Decision{rollback.RolledBack}, obs.Decisions())

	// The failed deploy is excluded from last-known-good; the good one
	// still stands.
	lkg, err := c.LastKnownGood(ctx, prod, "")
	require.NoError(t, err)
	assert.Equal(t, good.Commit, lkg.Commit)
}

func TestManualRollbackToANamedDeployAndItsRefusals(t *testing.T) {
	f, clk := newFake(t)
	c, err := rollback.New(f, rollback.WithClock(clk))
	require.NoError(t, err)
	ctx := context.Background()
	prod := target("web", "prod")

	first, err := gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 1)})
	require.NoError(t, err)
	_, err = gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 2)})
	require.NoError(t, err)

	_, err = c.Rollback(ctx, rollback.Request{Target: prod})
	require.ErrorIs(t, err, rollback.ErrInvalidRequest, "a person says why")
	out, err := c.Rollback(ctx, rollback.Request{Target: prod, Reason: "checkout broke"})
	require.ErrorIs(t, err, rollback.ErrNoKnownGood, "nothing was ever verified: the previous commit is not taken for good")
	assert.Equal(t, rollback.Refused, out.Decision)
	_, err = c.Rollback(ctx, rollback.Request{Target: prod, Reason: "x", To: "0123456789ab"})
	require.ErrorIs(t, err, rollback.ErrNotADeploy)
	_, err = c.Rollback(ctx, rollback.Request{Target: target("web", "staging"), Reason: "x", To: first.Commit.String()})
	require.ErrorIs(t, err, rollback.ErrNoDeploy)

	out, err = c.Rollback(ctx, rollback.Request{Target: prod, Reason: "checkout broke", By: "jo", To: first.Commit.String()[:10]})
	require.NoError(t, err)
	assert.Equal(t, rollback.RolledBack, out.Decision)
	assert.Equal(t, first.Commit, out.Restored.Commit)
	assert.Equal(t, "jo", out.Hold.By)
	cur, err := gitops.CurrentRelease(ctx, f, prod, "")
	require.NoError(t, err)
	assert.Equal(t, digestN(1), cur.Release.Digest)

	// To the same deploy again: the current one is the rollback, which
	// restored exactly that overlay.
	again, err := c.Rollback(ctx, rollback.Request{Target: prod, Reason: "again", To: first.Commit.String()})
	require.NoError(t, err)
	assert.Equal(t, rollback.Unchanged, again.Decision)
	assert.True(t, again.Commit.IsZero())
}

func TestTriggersDoNotActWhileARolloutIsInFlight(t *testing.T) {
	f, c, good := verified(t)
	ctx := context.Background()
	prod := target("web", "prod")

	// A canary at step 2 of 5.
	var x gitops.Extra
	x.Set(gitops.TrailerStep, "2/5")
	x.Set(gitops.TrailerWeight, "20")
	step, err := gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 2), Action: gitops.ActionStep, Extra: x})
	require.NoError(t, err)
	why, err := c.InFlight(ctx, prod, "")
	require.NoError(t, err)
	assert.Equal(t, `a rollout of web in prod is at step "2/5" (commit `+step.Commit.String()[:12]+")", why)

	// The phase a strategy runner records decides when it is there: the
	// last step while Progressing is still in flight, an abort ends it.
	for _, tc := range []struct {
		action       gitops.Action
		step, phase  string
		wantInFlight bool
	}{
		{gitops.ActionStep, "5/5", "Progressing", true},
		{gitops.ActionStep, "3/5", "Paused", true},
		{"abort", "3/5", "Aborted", false},
		{gitops.ActionStep, "5/5", "Completed", false},
		{"rollout-control", "3/5", "Paused", true},
	} {
		var x gitops.Extra
		x.Set(gitops.TrailerStep, tc.step)
		x.Set(rollback.TrailerRolloutPhase, tc.phase)
		tr := gitops.ReleaseTrailers(tc.action, "prod", release("web", 2))
		tr.Extra = x
		_, err := f.Apply(ctx, gitops.Change{Trailers: tr, Edits: []gitops.Edit{gitops.WriteFile{Path: ".flightdeck/rollouts/web/prod.json", Data: []byte(tc.step + tc.phase)}}})
		require.NoError(t, err)
		why, err := c.InFlight(ctx, prod, "")
		require.NoError(t, err)
		assert.Equal(t, tc.wantInFlight, why != "", "%s %s %s: %q", tc.action, tc.step, tc.phase, why)
	}
	x.Set(gitops.TrailerStep, "2/5")
	x.Set(rollback.TrailerRolloutPhase, "Progressing")
	_, err = gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 5), Action: gitops.ActionStep, Extra: x})
	require.NoError(t, err)

	v, err := c.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: fails})
	require.ErrorIs(t, err, rollback.ErrInFlight)
	assert.ErrorIs(t, err, gitops.ErrRefused)
	assert.Equal(t, rollback.Failed, v.Verdict)
	assert.False(t, v.Marker.IsZero(), "the verdict is recorded all the same")
	assert.Equal(t, rollback.Refused, v.Rollback.Decision)
	cur, err := gitops.CurrentRelease(ctx, f, prod, "")
	require.NoError(t, err)
	assert.Equal(t, digestN(5), cur.Release.Digest, "the rollout is left to its runner")

	// A person may force it.
	out, err := c.Rollback(ctx, rollback.Request{Target: prod, Reason: "stop the canary", Force: true})
	require.NoError(t, err)
	assert.Equal(t, good.Commit, out.Restored.Commit)

	// The plan's last step ends the rollout.
	x.Set(gitops.TrailerStep, "5/5")
	x.Set(rollback.TrailerRolloutPhase, "Completed")
	_, err = gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 4), Action: gitops.ActionStep, Extra: x,
		Override: gitops.Override{Hold: true, Reason: "retry the rollout"}})
	require.NoError(t, err)
	why, err = c.InFlight(ctx, prod, "")
	require.NoError(t, err)
	assert.Empty(t, why)

	// A promotion's lock file stops triggers too, and is checked again
	// atomically with the push.
	_, err = f.Commit("promote web to prod", gitopstest.Files{gitops.LockPath("web", "prod"): "by: promoter\nat: 2026-06-01T10:00:00Z\nreason: promotion of 1.5.0\n"})
	require.NoError(t, err)
	why, err = c.InFlight(ctx, prod, "")
	require.NoError(t, err)
	assert.Equal(t, "web in prod is locked (.flightdeck/locks/web/prod.yaml) by promoter since 2026-06-01T10:00:00Z: promotion of 1.5.0", why)
	_, err = c.Rollback(ctx, rollback.Request{Target: prod, Trigger: rollback.TriggerDegradation})
	require.ErrorIs(t, err, rollback.ErrInFlight)
	_, err = c.Rollback(ctx, rollback.Request{Target: prod, Trigger: rollback.TriggerDegradation, Force: true})
	require.ErrorIs(t, err, rollback.ErrInvalidRequest, "only a person may force")
}

func TestHoldsLiftAndQuarantineClear(t *testing.T) {
	f, clk := newFake(t)
	obs := &rollbacktest.Observer{}
	c, err := rollback.New(f, rollback.WithClock(clk), rollback.WithObserver(obs))
	require.NoError(t, err)
	ctx := context.Background()
	prod := target("web", "prod")

	_, err = c.Lift(ctx, rollback.HoldRequest{Target: prod, Reason: "x"})
	require.ErrorIs(t, err, rollback.ErrNoHold)
	_, err = c.Hold(ctx, rollback.HoldRequest{Target: prod})
	require.ErrorIs(t, err, rollback.ErrInvalidRequest)
	_, err = c.Hold(ctx, rollback.HoldRequest{Target: prod, By: "jo", Reason: "incident 42"})
	require.NoError(t, err)
	_, err = gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 1)})
	require.ErrorIs(t, err, gitops.ErrHeld)
	assert.Contains(t, err.Error(), "by jo: incident 42")
	_, err = c.Lift(ctx, rollback.HoldRequest{Target: prod, By: "jo", Reason: "resolved"})
	require.NoError(t, err)
	ev := obs.Events()
	require.NotEmpty(t, ev)
	assert.Equal(t, "hold web in prod: lifted: by jo: resolved (the hold since "+clk.Now().UTC().Format(time.RFC3339)+" by jo: incident 42)", ev[len(ev)-1].String(),
		"who lifted it and why, then the hold that was")
	_, err = gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 1)})
	require.NoError(t, err)

	entries, err := f.History(ctx, gitops.HistoryQuery{Actions: []gitops.Action{rollback.ActionHold}})
	require.NoError(t, err)
	require.Len(t, entries, 2)
	what, _ := entries[0].Trailers.Extra.Get(rollback.TrailerHold)
	assert.Equal(t, rollback.HoldLifted, what)

	_, err = f.Commit("quarantine", gitopstest.Files{gitops.QuarantinePath("web", "prod"): "app: web\nenvironment: prod\ndigests:\n- digest: " + digestN(2) + "\n  by: x\n  reason: y\n- digest: " + digestN(3) + "\n"})
	require.NoError(t, err)
	_, err = c.Clear(ctx, rollback.HoldRequest{Target: prod, Digest: digestN(9), Reason: "x"})
	require.ErrorIs(t, err, rollback.ErrNoHold)
	_, err = c.Clear(ctx, rollback.HoldRequest{Target: prod, Digest: digestN(2), Reason: "fixed in config"})
	require.NoError(t, err)
	q, err := gitops.ReadQuarantineAt(ctx, f, "", "web", "prod")
	require.NoError(t, err)
	assert.Nil(t, q.Find(digestN(2)))
	assert.NotNil(t, q.Find(digestN(3)))
	_, err = gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 2)})
	require.NoError(t, err)
	_, err = c.Clear(ctx, rollback.HoldRequest{Target: prod, Digest: digestN(3), Reason: "fixed"})
	require.NoError(t, err)
	_, err = f.ReadFile(ctx, "", gitops.QuarantinePath("web", "prod"))
	assert.ErrorIs(t, err, gitops.ErrNotExist, "the last entry removes the file")
}

func TestARollbackThatFailsItsVerificationGoesFurtherBack(t *testing.T) {
	f, c, older := verified(t)
	ctx := context.Background()
	prod := target("web", "prod")
	newer, err := gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 2)})
	require.NoError(t, err)
	_, err = c.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: passes})
	require.NoError(t, err)
	_, err = gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 3)})
	require.NoError(t, err)

	v, err := c.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: fails})
	require.NoError(t, err)
	require.Equal(t, newer.Commit, v.Rollback.Restored.Commit)

	// What it restored fails now (a dependency moved on): the next
	// rollback skips it.
	v, err = c.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: fails})
	require.NoError(t, err)
	assert.Equal(t, v.Deploy.Trailers.Action, gitops.ActionRollback)
	require.NotNil(t, v.Rollback)
	assert.Equal(t, rollback.RolledBack, v.Rollback.Decision)
	assert.Equal(t, older.Commit, v.Rollback.Restored.Commit)
	cur, err := gitops.CurrentRelease(ctx, f, prod, "")
	require.NoError(t, err)
	assert.Equal(t, digestN(1), cur.Release.Digest)
	q, err := gitops.ReadQuarantineAt(ctx, f, "", "web", "prod")
	require.NoError(t, err)
	assert.NotNil(t, q.Find(digestN(3)))
	assert.NotNil(t, q.Find(digestN(2)), "each digest rolled back from is quarantined")
}

func TestMetricsAreRegisteredAndLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	f, c, _ := verified(t, rollback.WithRegisterer(reg))
	_, err := rollback.New(f, rollback.WithRegisterer(reg))
	require.Error(t, err, "registering twice")
	ctx := context.Background()
	prod := target("web", "prod")
	_, err = gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: release("web", 2)})
	require.NoError(t, err)
	_, err = c.Rollback(ctx, rollback.Request{Target: prod, Reason: "manual"})
	require.NoError(t, err)
	_, err = c.Rollback(ctx, rollback.Request{Target: prod, Trigger: rollback.TriggerDegradation})
	require.ErrorIs(t, err, rollback.ErrNoKnownGood)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP flightdeck_rollback_decisions_total What rollback requests came to, by trigger and decision.
# TYPE flightdeck_rollback_decisions_total counter
flightdeck_rollback_decisions_total{decision="refused",trigger="degradation"} 1
flightdeck_rollback_decisions_total{decision="rolled_back",trigger="manual"} 1
# HELP flightdeck_rollback_triggers_total Rollbacks asked for, by trigger (verification, degradation, manual).
# TYPE flightdeck_rollback_triggers_total counter
flightdeck_rollback_triggers_total{trigger="degradation"} 1
flightdeck_rollback_triggers_total{trigger="manual"} 1
# HELP flightdeck_rollback_verifications_total Post-deploy verifications recorded, by verdict.
# TYPE flightdeck_rollback_verifications_total counter
flightdeck_rollback_verifications_total{verdict="verified"} 1
`), "flightdeck_rollback_decisions_total", "flightdeck_rollback_triggers_total", "flightdeck_rollback_verifications_total"))
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
}
