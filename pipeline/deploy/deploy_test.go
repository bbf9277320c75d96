package deploy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/deploy"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
	"github.com/flightdeck-dev/flightdeck/pipeline/pipelinetest"
)

const digest = "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var (
	revision   = pipeline.NewKey[string]("test.revision")
	sourceTime = pipeline.NewKey[time.Time]("test.source-time")
	when       = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
)

// run deploys ref through w with a graph "push" (puts ref) -> deploy.
func run(t *testing.T, w gitops.Writer, spec deploy.Spec, ref string, retry pipeline.Retry) (*pipeline.Report, *pipeline.State, error) {
	t.Helper()
	push := pipeline.Func("push", func(_ context.Context, s *pipeline.State) error {
		image.Ref.Put(s, ref)
		revision.Put(s, "4f2a9c1")
		sourceTime.Put(s, when)
		return nil
	})
	d := deploy.New(w, spec)
	step := d.Step()
	step.Retry = retry
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: push, Provides: []pipeline.AnyKey{image.Ref, revision, sourceTime}}, step)
	g, err := b.Build()
	require.NoError(t, err)
	e, err := pipeline.New()
	require.NoError(t, err)
	st := pipeline.NewState()
	rep, err := e.Run(context.Background(), g, st)
	return rep, st, err
}

func TestDeployPinsDigestAndCommitsWithTrailers(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("checkout"))
	spec := deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: "dev"}, Revision: revision,
		SourceTime: sourceTime, SourceRepo: "https://git.example.com/team/checkout"}
	ref := gitopstest.Image("checkout") + "@" + digest
	_, st, err := run(t, w, spec, ref, pipeline.Retry{})
	require.NoError(t, err)

	kust := gitopstest.ReadFile(t, w.Dir, "apps/checkout/overlays/dev/kustomization.yaml")
	assert.Contains(t, kust, "digest: "+digest)
	assert.NotContains(t, kust, "newTag", "a digest pin drops the tag")
	assert.Contains(t, kust, "# images is managed by flightdeck", "comments survive")
	staging := gitopstest.ReadFile(t, w.Dir, "apps/checkout/overlays/staging/kustomization.yaml")
	assert.NotContains(t, staging, digest, "other environments untouched")

	head := gitopstest.Log(t, w.Dir)[0]
	tr, err := gitops.ParseTrailers(head.Message)
	require.NoError(t, err)
	want := flightdeck.Release{App: "checkout", Image: gitopstest.Image("checkout"), Digest: digest,
		SourceRepo: "https://git.example.com/team/checkout", Revision: "4f2a9c1", Time: when}
	assert.Equal(t, gitops.ReleaseTrailers(gitops.ActionDeploy, "dev", want), tr)
	assert.True(t, strings.HasPrefix(head.Message, "deploy checkout to dev"))

	// History and the current release give the whole release back.
	cur, err := gitops.CurrentRelease(context.Background(), w.Repo, gitops.Target{App: "checkout", Environment: flightdeck.Environment{Name: "dev"}}, "")
	require.NoError(t, err)
	assert.Equal(t, want, cur.Release)
	require.NotNil(t, cur.Deploy)
	assert.Equal(t, head.Hash, cur.Deploy.Commit)

	d, err := deploy.Deployed.Get(st)
	require.NoError(t, err)
	assert.True(t, d.Changed)
	assert.Equal(t, head.Hash.String(), d.Commit)
	assert.Equal(t, gitopstest.Head(t, w.Dir).String(), d.Commit)
	assert.Equal(t, "apps/checkout/overlays/dev", d.Overlay)
	assert.Equal(t, want, d.Release)
	assert.Contains(t, d.Diff, digest, "the rendered diff shows the new image")

	// The same digest again changes nothing and makes no commit.
	_, st, err = run(t, w, spec, ref, pipeline.Retry{})
	require.NoError(t, err)
	d, _ = deploy.Deployed.Get(st)
	assert.False(t, d.Changed)
	assert.Empty(t, d.Commit)
	assert.Equal(t, head.Hash, gitopstest.Head(t, w.Dir))
}

func TestDeployFromAnotherRegistrySetsNewName(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("checkout"))
	spec := deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: "prod"}, ImageName: gitopstest.Image("checkout")}
	_, _, err := run(t, w, spec, "127.0.0.1:5000/mirror/checkout@"+digest, pipeline.Retry{})
	require.NoError(t, err)
	kust := gitopstest.ReadFile(t, w.Dir, "apps/checkout/overlays/prod/kustomization.yaml")
	assert.Contains(t, kust, "newName: 127.0.0.1:5000/mirror/checkout")
	assert.Contains(t, kust, "digest: "+digest)
}

func TestDeployRetriesTransientWriterErrors(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("checkout"))
	w.FailNext(gitops.ErrRemote)
	spec := deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: "dev"}}
	rep, _, err := run(t, w, spec, gitopstest.Image("checkout")+"@"+digest, pipeline.Retry{Attempts: 2, Backoff: 1})
	require.NoError(t, err)
	s, _ := rep.Step("deploy-dev")
	assert.Equal(t, 2, s.Attempts)
	assert.Len(t, w.Calls(), 2)
}

func TestDeployBadInputsArePermanent(t *testing.T) {
	ref := gitopstest.Image("checkout") + "@" + digest
	tests := []struct {
		name string
		spec deploy.Spec
		ref  string
		is   error
		msg  string
	}{
		{"no app", deploy.Spec{Environment: flightdeck.Environment{Name: "dev"}}, ref, deploy.ErrInvalidSpec, `deploy: invalid spec: app name ""`},
		{"no env", deploy.Spec{App: "checkout"}, ref, deploy.ErrInvalidSpec, `environment name ""`},
		{"tag only", deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: "dev"}}, gitopstest.Image("checkout") + ":1.2.3",
			flightdeck.ErrInvalidRelease, "deploy checkout to dev:"},
		{"no overlay", deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: "qa"}}, ref,
			gitops.ErrNotExist, "deploy checkout to qa: overlay apps/checkout/overlays/qa:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("checkout"))
			before := gitopstest.Head(t, w.Dir)
			rep, _, err := run(t, w, tt.spec, tt.ref, pipeline.Retry{Attempts: 3, Backoff: 1})
			require.ErrorIs(t, err, tt.is)
			assert.Contains(t, err.Error(), tt.msg)
			assert.True(t, pipeline.IsPermanent(err))
			var s pipeline.StepReport
			for _, r := range rep.Steps {
				if r.Name != "push" {
					s = r
				}
			}
			assert.Equal(t, 1, s.Attempts, "bad input is not retried")
			assert.Equal(t, before, gitopstest.Head(t, w.Dir), "nothing committed")
		})
	}
}

func TestDeployDryRunCommitsNothing(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("checkout"))
	before := gitopstest.Head(t, w.Dir)
	spec := deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: "dev"}, DryRun: true}
	_, st, err := run(t, w, spec, gitopstest.Image("checkout")+"@"+digest, pipeline.Retry{})
	require.NoError(t, err)
	d, _ := deploy.Deployed.Get(st)
	assert.True(t, d.Changed)
	assert.Empty(t, d.Commit)
	assert.Contains(t, d.Diff, digest)
	assert.Equal(t, before, gitopstest.Head(t, w.Dir))
}

func TestDeployHonoursContext(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("checkout"))
	before := gitopstest.Head(t, w.Dir)
	d := deploy.New(w, deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: "dev"}})
	st := pipeline.NewState()
	image.Ref.Put(st, gitopstest.Image("checkout")+"@"+digest)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := d.Run(ctx, st)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "deploy checkout to dev", "the error names the app and environment")
	assert.False(t, st.Has(deploy.Deployed))
	assert.Equal(t, before, gitopstest.Head(t, w.Dir), "nothing committed")
}

func TestDeploySkippedWhenPushSkipped(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("checkout"))
	d := deploy.New(w, deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: "dev"}})
	assert.Equal(t, "deploy-dev", d.Name())
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: pipelinetest.Fail("image-push", nil), Provides: []pipeline.AnyKey{image.Ref}, ContinueOnError: true}, d.Step())
	g, err := b.Build()
	require.NoError(t, err)
	e, err := pipeline.New()
	require.NoError(t, err)
	rep, err := e.Run(context.Background(), g, nil)
	require.Error(t, err)
	s, _ := rep.Step("deploy-dev")
	assert.Equal(t, pipeline.Skipped, s.Status)
	assert.Equal(t, `needs "image.ref" from step "image-push", which failed`, s.SkipReason)
	assert.Empty(t, w.Calls())
}

func TestStageConformance(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("checkout"))
	pipelinetest.TestStage(t, func(t *testing.T) (pipeline.Stage, *pipeline.State) {
		st := pipeline.NewState()
		image.Ref.Put(st, gitopstest.Image("checkout")+"@"+digest)
		return deploy.New(w, deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: "dev"}}), st
	})
	// However many of the runs got through before cancellation, one
	// digest makes at most one commit.
	assert.LessOrEqual(t, len(gitopstest.Log(t, w.Dir)), 2)
}

func TestDeployRefusedByAGuardIsPermanentAndCommitsNothing(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("checkout"))
	before := gitopstest.Head(t, w.Dir)
	var seen []gitops.Intent
	hold := gitops.GuardFunc(func(tr *gitops.Tree, in gitops.Intent) error {
		seen = append(seen, in)
		if tr.Exists(".flightdeck/holds/checkout/dev") {
			return fmt.Errorf("%w: checkout in dev is held", gitops.ErrRefused)
		}
		return nil
	})
	spec := deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: "dev"}, Guards: []gitops.Guard{hold}}
	gitopstest.Commit(t, w.Dir, gitopstest.Files{".flightdeck/holds/checkout/dev": "held by jo\n"}, nil, "hold")
	held := gitopstest.Head(t, w.Dir)
	require.NotEqual(t, before, held)

	rep, _, err := run(t, w, spec, gitopstest.Image("checkout")+"@"+digest, pipeline.Retry{Attempts: 3, Backoff: 1})
	require.ErrorIs(t, err, gitops.ErrRefused)
	assert.Contains(t, err.Error(), "deploy checkout to dev: overlay apps/checkout/overlays/dev: ")
	assert.Contains(t, err.Error(), "checkout in dev is held")
	assert.True(t, pipeline.IsPermanent(err))
	s, _ := rep.Step("deploy-dev")
	assert.Equal(t, 1, s.Attempts, "a refusal is not retried")
	assert.Equal(t, held, gitopstest.Head(t, w.Dir), "nothing committed")
	require.Len(t, seen, 1)
	assert.Equal(t, "apps/checkout/overlays/dev", seen[0].Target.Overlay())
	assert.Equal(t, digest, seen[0].Trailers.Digest)

	gitopstest.Commit(t, w.Dir, nil, []string{".flightdeck/holds/checkout/dev"}, "lift the hold")
	_, st, err := run(t, w, spec, gitopstest.Image("checkout")+"@"+digest, pipeline.Retry{})
	require.NoError(t, err)
	d, _ := deploy.Deployed.Get(st)
	assert.True(t, d.Changed, "lifting the hold lets the deploy through")
}

func TestDeployRefusesAHoldByDefaultAndNamesIt(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("checkout"))
	hold, err := gitops.Hold{App: "checkout", Environment: "dev", By: "jo", At: when, Reason: "checkout errors after 1.4.0",
		From: gitopstest.Image("checkout") + "@" + digest}.Marshal()
	require.NoError(t, err)
	gitopstest.Commit(t, w.Dir, gitopstest.Files{gitops.HoldPath("checkout", "dev"): string(hold)}, nil, "hold")
	held := gitopstest.Head(t, w.Dir)

	spec := deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: "dev"}}
	rep, _, err := run(t, w, spec, gitopstest.Image("checkout")+"@"+digest, pipeline.Retry{Attempts: 3, Backoff: 1})
	require.ErrorIs(t, err, gitops.ErrHeld)
	assert.True(t, pipeline.IsPermanent(err))
	assert.Contains(t, err.Error(), "deploy checkout to dev: overlay apps/checkout/overlays/dev: gitops: checkout in dev is on hold since 2026-03-01T09:30:00Z by jo: checkout errors after 1.4.0")
	s, _ := rep.Step("deploy-dev")
	assert.Equal(t, 1, s.Attempts, "a hold is not retried")
	assert.Equal(t, held, gitopstest.Head(t, w.Dir), "nothing committed")

	// An override with a reason gets through and says so.
	spec.Override = gitops.Override{Hold: true, Reason: "fix for the incident"}
	_, st, err := run(t, w, spec, gitopstest.Image("checkout")+"@"+digest, pipeline.Retry{})
	require.NoError(t, err)
	d, _ := deploy.Deployed.Get(st)
	require.True(t, d.Changed)
	tr, err := gitops.ParseTrailers(gitopstest.Log(t, w.Dir)[0].Message)
	require.NoError(t, err)
	assert.Equal(t, gitops.Override{Hold: true, Reason: "fix for the incident"}, gitops.OverrideOf(tr))
}
