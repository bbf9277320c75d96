package rollback

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/health"
)

// VerifyRequest asks [Controller.Verify] to verify a deploy. The zero
// value of every field but Target and Analysis is the default.
type VerifyRequest struct {
	// Target is the app and environment.
	Target gitops.Target
	// Deploy names the deploy commit to verify (full or abbreviated
	// hash); empty means the environment's current deploy.
	Deploy string
	// Analysis is the post-deploy analysis, run once the deploy is
	// synced: any health evaluators (probes, PromQL queries, object
	// health, judges); its Duration is how long the verification
	// watches. An analysis without metrics verifies on the sync alone,
	// and needs a Syncer.
	Analysis health.Analysis
	// Checks describe the analysis's metrics for the evidence, by name.
	Checks map[string]Check
	// Sync asks the Syncer to sync the deploy's commit first (with
	// auto-sync on, a refresh and a sync of the target revision).
	Sync bool
	// AnyRevision accepts the application synced at any revision, for a
	// repository where other commits may land after the deploy; by
	// default the wait requires the deploy's own commit.
	AnyRevision bool
	// Response overrides the Controller's [Policy] for this verdict.
	Response Response
}

// Verification is the outcome of [Controller.Verify].
type Verification struct {
	// Target is the app and environment, Deploy the deploy judged and
	// Release its release.
	Target  gitops.Target
	Deploy  gitops.Entry
	Release flightdeck.Release
	// Verdict is [Verified], [Failed] or [Inconclusive].
	Verdict string
	// Status is the application's status after the wait; nil without a
	// Syncer.
	Status *gitops.AppStatus
	// Run is the analysis record; nil when the sync already failed or
	// there was no analysis.
	Run *health.RunResult
	// Evidence is what went into the marker's and any rollback's body.
	Evidence *Evidence
	// Marker is the verification commit.
	Marker plumbing.Hash
	// Rollback is the rollback the verdict triggered, if any.
	Rollback *Outcome
	// Synced is when the wait ended, Finished when the analysis did.
	Synced, Finished time.Time
}

// Verify watches a deploy after it reached the environment: it waits for
// the GitOps controller to report it Synced and Healthy (with a Syncer),
// runs the post-deploy analysis for its configured time, and records the
// verdict in Git as a verification marker (below), which
// [Controller.Verdicts] and [Controller.LastKnownGood] read back. A
// deploy whose sync fails, turns Degraded or does not become healthy in
// time is Failed without an analysis; an analysis that ends Successful
// is Verified, Failed is Failed, and Inconclusive or Error (no data,
// measurements not taken) is Inconclusive, never Verified.
//
// A Failed verdict rolls the environment back to its last-known-good by
// default (see [Policy]): the rollback goes first, then the marker, so
// recovery waits for no bookkeeping. Verification.Rollback has its
// outcome; a rollback that was refused or failed is returned as the
// error, with the marker recorded all the same.
//
// The marker is one commit, action verify, with the deploy's release
// trailers, Flightdeck-Verified (the verdict) and Flightdeck-Deploy (the
// deploy's commit; for a rollback also its Flightdeck-Restores), the
// evidence in its body, writing the record
// ".flightdeck/verifications/<app>/<env>.yaml".
//
// Errors wrap [ErrInvalidRequest], [ErrNoDeploy], [ErrNotADeploy], the
// analysis's validation error, a wait error that is not a verdict (the
// application not found, access denied, status unavailable), what the
// repository returns, or the rollback's.
func (c *Controller) Verify(ctx context.Context, req VerifyRequest) (Verification, error) {
	t := req.Target
	v := Verification{Target: t}
	where := "verify " + t.String()
	if !validTarget(t) {
		return v, fmt.Errorf("%s: %w: want valid app and environment names", where, ErrInvalidRequest)
	}
	if len(req.Analysis.Metrics) == 0 && c.o.syncer == nil {
		return v, fmt.Errorf("%s: %w: no analysis and no Syncer: nothing to verify", where, ErrInvalidRequest)
	}
	var err error
	if req.Deploy == "" {
		v.Deploy, err = c.Current(ctx, t, "")
	} else {
		v.Deploy, err = c.Deploy(ctx, t, req.Deploy, "")
	}
	if err != nil {
		return v, fmt.Errorf("%s: %w", where, err)
	}
	v.Release, _ = v.Deploy.Release()
	commit := v.Deploy.Commit.String()
	started := c.now()
	ev := &Evidence{Trigger: TriggerVerification, Started: started}

	if c.o.syncer != nil {
		app := c.o.appName(t)
		if req.Sync {
			if _, err := c.syncCommit(ctx, app, commit); err != nil {
				return v, fmt.Errorf("%s: sync %q to %s: %w", where, app, commit[:12], err)
			}
		}
		rev := commit
		if req.AnyRevision {
			rev = ""
		}
		st, err := gitops.WaitFor(ctx, c.o.syncer, c.waitOptions(app, rev))
		v.Status, v.Synced = &st, c.now()
		switch {
		case err == nil:
			ev.Sync = fmt.Sprintf("app %s %s and %s at %s", app, st.SyncStatus, st.Health, shortRev(st.Revision))
		case errors.Is(err, gitops.ErrDegraded), errors.Is(err, gitops.ErrOperationFailed), errors.Is(err, gitops.ErrWaitTimeout) && ctx.Err() == nil:
			v.Verdict = Failed
			ev.Sync = err.Error()
			ev.Summary = "the deploy did not become healthy: " + err.Error()
		default:
			return v, fmt.Errorf("%s: %w", where, err)
		}
	}
	if v.Verdict == "" && len(req.Analysis.Metrics) > 0 {
		res, err := c.o.runner.Run(ctx, req.Analysis)
		if err != nil && res.Started.IsZero() {
			return v, fmt.Errorf("%s: %w", where, err)
		}
		if ctx.Err() != nil {
			return v, fmt.Errorf("%s: analysis cancelled: %w", where, ctx.Err())
		}
		v.Run = &res
		run := verificationEvidence(res, req.Checks)
		ev.Metrics, ev.Summary = run.Metrics, run.Summary
		switch res.Phase {
		case health.Successful:
			v.Verdict = Verified
		case health.Failed:
			v.Verdict = Failed
		default:
			v.Verdict = Inconclusive
		}
	}
	if v.Verdict == "" {
		v.Verdict, ev.Summary = Verified, "synced and healthy; no analysis"
	}
	v.Finished = c.now()
	ev.Finished = v.Finished
	if ev.Summary == "" {
		ev.Summary = v.Verdict
	}
	if ev.Summary != v.Verdict {
		ev.Summary = v.Verdict + ": " + ev.Summary
	}
	v.Evidence = ev
	c.m.verifications.WithLabelValues(v.Verdict).Inc()
	c.emit(ctx, Event{Kind: EventVerdict, Target: t, Trigger: TriggerVerification, Verdict: v.Verdict, Release: v.Release, Commit: commit, Message: ev.Summary})

	response := req.Response
	if response == "" {
		response = c.o.policy.forVerdict(v.Verdict)
	}
	var rbErr error
	if v.Verdict != Verified && response == RollBack {
		out, err := c.Rollback(ctx, Request{Target: t, Reverts: commit, Trigger: TriggerVerification,
			Reason: "verification " + ev.Summary, Evidence: ev})
		v.Rollback, rbErr = &out, err
	}
	marker, err := c.mark(ctx, v)
	v.Marker = marker
	if err != nil {
		return v, errors.Join(rbErr, fmt.Errorf("%s: record the verdict: %w", where, err))
	}
	if rbErr != nil {
		return v, fmt.Errorf("%s: %w", where, rbErr)
	}
	return v, nil
}

func shortRev(r string) string {
	if len(r) > 12 {
		return r[:12]
	}
	return r
}

// verificationRecord is the content of a verification record file.
type verificationRecord struct {
	App         string         `yaml:"app"`
	Environment string         `yaml:"environment"`
	Deploy      string         `yaml:"deploy"`
	Release     string         `yaml:"release,omitempty"`
	Verdict     string         `yaml:"verdict"`
	Summary     string         `yaml:"summary"`
	Started     time.Time      `yaml:"started"`
	Finished    time.Time      `yaml:"finished"`
	Sync        string         `yaml:"sync,omitempty"`
	Metrics     []recordMetric `yaml:"metrics,omitempty"`
}

type recordMetric struct {
	Name      string `yaml:"name"`
	Phase     string `yaml:"phase"`
	Query     string `yaml:"query,omitempty"`
	Threshold string `yaml:"threshold,omitempty"`
	Message   string `yaml:"message,omitempty"`
}

// VerificationPath returns the path of the verification record of app
// in env, ".flightdeck/verifications/<app>/<env>.yaml".
func VerificationPath(app, env string) string {
	return path.Join(VerificationsDir, app, env+".yaml")
}

// mark commits the verification marker.
func (c *Controller) mark(ctx context.Context, v Verification) (plumbing.Hash, error) {
	t := v.Target
	ev := v.Evidence
	rec := verificationRecord{App: t.App, Environment: t.Environment.Name, Deploy: v.Deploy.Commit.String(),
		Verdict: v.Verdict, Summary: oneLine(ev.Summary), Started: ev.Started.UTC(), Finished: ev.Finished.UTC(), Sync: oneLine(ev.Sync)}
	if v.Release.Digest != "" {
		rec.Release = v.Release.Ref()
	}
	for _, m := range ev.Metrics {
		rec.Metrics = append(rec.Metrics, recordMetric{Name: m.Name, Phase: string(m.Phase), Query: m.Query, Threshold: m.Threshold, Message: oneLine(m.Message)})
	}
	data, err := yaml.Marshal(rec)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	tr := v.Deploy.Trailers
	tr.Action = ActionVerify
	tr.Extra = nil
	tr.Extra.Set(gitops.TrailerVerified, v.Verdict)
	tr.Extra.Set(TrailerDeploy, v.Deploy.Commit.String())
	if r, ok := v.Deploy.Trailers.Extra.Get(TrailerRestores); ok && v.Deploy.Trailers.Action == gitops.ActionRollback {
		tr.Extra.Set(TrailerRestores, r)
	}
	msg := fmt.Sprintf("verify %s in %s: %s (%s)\n\n%s", t.App, t.Environment.Name, v.Verdict, v.Deploy.Commit.String()[:12], ev.Text())
	res, err := c.rw.Apply(ctx, gitops.Change{Message: msg, Trailers: tr,
		Edits: []gitops.Edit{gitops.WriteFile{Path: VerificationPath(t.App, t.Environment.Name), Data: data}}})
	return res.Commit, err
}
