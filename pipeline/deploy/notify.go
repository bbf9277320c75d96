package deploy

import (
	"context"
	"errors"
	"fmt"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/pipeline"
)

// NotifyObserver returns a [pipeline.Observer] for the run that uses st
// (pass it to [pipeline.WithObserver] of the engine that runs it) which
// tells stakeholders what this stage did, through n:
//
//   - a deploy that committed as [notify.Committed] (on-committed), with
//     the commit and overlay in Details: the release is in Git, and the
//     GitOps controller syncs it from there. on-deployed, as Argo CD
//     means it, waits for Synced and Healthy: the post-deploy stage's
//     observer (package pipeline/postdeploy), strategy's and rollback's
//     report it;
//   - a deploy refused by a hold, a quarantine or a guard
//     ([gitops.ErrRefused]) as [notify.BlockedByPolicy], the refusal in
//     the summary.
//
// The observer reads the stage's [Deployment] from st when the stage's
// step finishes, so make one per run. A deploy that changed nothing, and
// every other step, is not reported. Each event's ID is the deploy
// commit (or the refused digest and why), so the same deploy reported
// twice has one idempotency key. The observer runs on the engine's
// goroutine: give it a [notify.Fanout], whose Notify only queues, so that
// a slow receiver never slows the pipeline; a failing notifier is logged
// through src.Logger and the run goes on.
func (s *Stage) NotifyObserver(n notify.Notifier, st *pipeline.State, src notify.Source) pipeline.Observer {
	return pipeline.ObserverFunc(func(e pipeline.Event) {
		if e.Type != pipeline.StepFinished || e.Step != s.Name() {
			return
		}
		if ne, ok := s.notifyEvent(e, st); ok {
			src.Send(context.Background(), n, "pipeline", ne)
		}
	})
}

func (s *Stage) notifyEvent(e pipeline.Event, st *pipeline.State) (notify.Event, bool) {
	sp := s.spec
	ne := notify.Event{App: sp.App, Environment: sp.Environment.Name, Time: e.Time,
		Details: map[string]string{"stage": s.Name()}}
	switch {
	case e.Status == pipeline.Succeeded:
		d, ok := Deployed.Lookup(st)
		if !ok || d.Commit == "" {
			return notify.Event{}, false
		}
		ne.Kind, ne.Release = notify.Committed, d.Release
		ne.Details["commit"], ne.Details["overlay"] = d.Commit, d.Overlay
		ne.Summary = fmt.Sprintf("%s %s committed for %s: commit %s", sp.App, notify.Version(d.Release), ne.Environment, short(d.Commit))
		ne.ID = fmt.Sprintf("deploy/%s/%s/%s", sp.App, ne.Environment, d.Commit)
	case e.Status == pipeline.Failed && errors.Is(e.Err, gitops.ErrRefused):
		if ref, ok := sp.refKey().Lookup(st); ok {
			ne.Release, _ = flightdeck.ParseRelease(sp.App, ref)
		}
		ne.Kind = notify.BlockedByPolicy
		ne.Summary = fmt.Sprintf("deploy of %s %s to %s refused: %v", sp.App, notify.Version(ne.Release), ne.Environment, e.Err)
		ne.ID = fmt.Sprintf("deploy/%s/%s/refused/%s/%v", sp.App, ne.Environment, ne.Release.Digest, e.Err)
	default:
		return notify.Event{}, false
	}
	return ne, true
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
