package gates_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/deploy"
	"github.com/flightdeck-dev/flightdeck/pipeline/gates"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
)

// TestPreDeployGatesStopTheDeploy runs push → (resources, quota) →
// deploy against a repository on disk: staging deploys, prod is refused
// before anything is written.
func TestPreDeployGatesStopTheDeploy(t *testing.T) {
	w := gitopstest.NewWriter(t, shopLayout())
	run := func(env string) (*pipeline.Report, error) {
		target := gitops.Target{App: "api", Environment: flightdeck.Environment{Name: env},
			ImageName: "registry.example.com/team/api"}
		ov := gates.Overlay{Renderer: w.Repo, Dir: target.Overlay()}
		push := pipeline.Func("push", func(_ context.Context, st *pipeline.State) error {
			image.Ref.Put(st, "registry.example.com/team/api@sha256:"+
				"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
			return nil
		})
		d := deploy.New(w, deploy.Spec{App: "api", Environment: target.Environment, ImageName: target.ImageName})
		step := d.Step()
		step.After = []string{"resources", "quota"}
		var b pipeline.Builder
		b.Add(
			pipeline.Step{Stage: push, Provides: []pipeline.AnyKey{image.Ref}},
			pipeline.Step{Stage: gates.NewResourceGate("resources", ov)},
			pipeline.Step{Stage: gates.NewQuotaGate("quota", ov)},
			step,
		)
		g, err := b.Build()
		require.NoError(t, err)
		e, err := pipeline.New()
		require.NoError(t, err)
		return e.Run(context.Background(), g, pipeline.NewState())
	}

	_, err := run("staging")
	require.NoError(t, err)
	require.Len(t, w.Calls(), 1, "staging fits and is deployed")

	rep, err := run("prod")
	require.ErrorIs(t, err, gates.ErrQuotaExceeded)
	assert.Contains(t, err.Error(), "ResourceQuota/api-prod/compute: requests.cpu: total 2400m exceeds hard 2 by 400m")
	assert.Len(t, w.Calls(), 1, "nothing was written for prod")
	s, ok := rep.Step("deploy-prod")
	require.True(t, ok)
	assert.Equal(t, pipeline.Skipped, s.Status, "the deploy never ran")
	assert.Zero(t, s.Attempts)
}
