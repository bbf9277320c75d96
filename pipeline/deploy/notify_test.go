package deploy_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/deploy"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
)

// notifyRun deploys ref with the stage's notify observer on the run.
func notifyRun(t *testing.T, w gitops.Writer, spec deploy.Spec, ref string, n notify.Notifier) (*pipeline.State, pipeline.Observer, error) {
	t.Helper()
	push := pipeline.Func("push", func(_ context.Context, s *pipeline.State) error {
		image.Ref.Put(s, ref)
		return nil
	})
	d := deploy.New(w, spec)
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: push, Provides: []pipeline.AnyKey{image.Ref}}, d.Step())
	g, err := b.Build()
	require.NoError(t, err)
	st := pipeline.NewState()
	obs := d.NotifyObserver(n, st, notify.Source{Actor: "ci"})
	e, err := pipeline.New(pipeline.WithObserver(obs))
	require.NoError(t, err)
	_, err = e.Run(context.Background(), g, st)
	return st, obs, err
}

func TestNotifyObserver(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("checkout"))
	spec := deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: "dev"}, Tag: "1.4.2"}
	ref := gitopstest.Image("checkout") + "@" + digest
	var rec notifytest.Recorder
	st, obs, err := notifyRun(t, w, spec, ref, &rec)
	require.NoError(t, err)
	d, err := deploy.Deployed.Get(st)
	require.NoError(t, err)

	got := rec.Events()
	require.Len(t, got, 1, "only the deploy step is reported")
	e := got[0]
	assert.Equal(t, notify.Committed, e.Kind)
	assert.Equal(t, "checkout", e.App)
	assert.Equal(t, "dev", e.Environment)
	assert.Equal(t, digest, e.Release.Digest)
	assert.Equal(t, "ci", e.Actor)
	assert.Equal(t, d.Commit, e.Details["commit"])
	assert.NotContains(t, e.Details, "status")
	assert.Equal(t, "1.4.2", e.Release.Tag, "the spec's tag names the release")
	assert.Contains(t, e.Summary, "checkout 1.4.2 committed for dev: commit "+d.Commit[:12])
	require.NoError(t, e.Validate())

	// The same step event again has the same idempotency key.
	obs.OnEvent(pipeline.Event{Type: pipeline.StepFinished, Step: "deploy-dev", Status: pipeline.Succeeded, Time: e.Time})
	again := rec.Events()
	require.Len(t, again, 2)
	assert.Equal(t, e.Key(), again[1].Key())

	// Deploying the same digest again changes nothing and says nothing.
	_, _, err = notifyRun(t, w, spec, ref, &rec)
	require.NoError(t, err)
	assert.Len(t, rec.Events(), 2)
}

func TestNotifyObserverReportsARefusal(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("checkout"))
	hold, err := gitops.Hold{App: "checkout", Environment: "dev", By: "jo", At: when, Reason: "checkout errors after 1.4.0"}.Marshal()
	require.NoError(t, err)
	gitopstest.Commit(t, w.Dir, gitopstest.Files{gitops.HoldPath("checkout", "dev"): string(hold)}, nil, "hold")
	var rec notifytest.Recorder
	_, _, err = notifyRun(t, w, deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: "dev"}},
		gitopstest.Image("checkout")+"@"+digest, &rec)
	require.ErrorIs(t, err, gitops.ErrRefused)

	got := rec.Events()
	require.Len(t, got, 1)
	assert.Equal(t, notify.BlockedByPolicy, got[0].Kind)
	assert.Equal(t, "checkout", got[0].App)
	assert.Equal(t, "dev", got[0].Environment)
	assert.Equal(t, digest, got[0].Release.Digest)
	assert.Contains(t, got[0].Summary, "refused")
	assert.Contains(t, got[0].Summary, "checkout errors after 1.4.0")
}
