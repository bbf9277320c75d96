package gates_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/gates"
	"github.com/flightdeck-dev/flightdeck/pipeline/pipelinetest"
)

// runGate runs g alone in an engine, with retries that a permanent
// refusal must not use, and returns the error and the attempts made.
func runGate(t *testing.T, g pipeline.Stage, provides ...pipeline.AnyKey) (*pipeline.State, error, int) {
	t.Helper()
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: g, Provides: provides, Retry: pipeline.Retry{Attempts: 3}})
	graph, err := b.Build()
	require.NoError(t, err)
	e, err := pipeline.New()
	require.NoError(t, err)
	st := pipeline.NewState()
	rep, err := e.Run(context.Background(), graph, st)
	s, ok := rep.Step(g.Name())
	require.True(t, ok)
	return st, err, s.Attempts
}

func TestResourceGateNamesTheContainerWithoutAMemoryLimit(t *testing.T) {
	ov := shopRepo(t)
	_, err, attempts := runGate(t, gates.NewResourceGate("resources", ov("apps/web/overlays/dev")))
	require.ErrorIs(t, err, gates.ErrMissingResources)
	assert.Equal(t, 1, attempts, "a refusal is not retried")
	assert.Contains(t, err.Error(), "gate resources: overlay apps/web/overlays/dev: 1 resource problem: "+
		"Deployment/web-dev/web: container log-shipper: missing limits.memory")
	var re *gates.ResourcesError
	require.ErrorAs(t, err, &re)
	require.Len(t, re.Problems, 1)
	p := re.Problems[0]
	assert.Equal(t, gates.ObjectRef{Kind: "Deployment", Group: "apps", Namespace: "web-dev", Name: "web"}, p.Object)
	assert.Equal(t, "log-shipper", p.Container)
	assert.Equal(t, []string{"limits.memory"}, p.Missing)
	assert.NoError(t, p.Err)

	// The complete app passes in every environment.
	for _, env := range []string{"dev", "staging", "prod"} {
		assert.NoError(t, gates.NewResourceGate("resources", ov("apps/api/overlays/"+env)).Run(context.Background(), nil), env)
	}
	// A gate that asks for less passes the web app.
	g := gates.NewResourceGate("resources", ov("apps/web/overlays/dev")).WithRequired("requests.cpu", "requests.memory")
	assert.NoError(t, g.Run(context.Background(), nil))
}

func TestResourceGateNamesObjectAndFieldOfMalformedQuantities(t *testing.T) {
	ov := shopRepo(t)
	err := gates.NewResourceGate("resources", ov("apps/typo/overlays/dev")).Run(context.Background(), nil)
	require.ErrorIs(t, err, gates.ErrInvalidQuantity)
	assert.True(t, pipeline.IsPermanent(err))
	assert.NotErrorIs(t, err, gates.ErrMissingResources)
	assert.EqualError(t, err, `gate resources: overlay apps/typo/overlays/dev: 1 resource problem: Deployment/typo-dev/typo: container typo: `+
		`resources.requests.cpu: invalid quantity "one": no number; resources.limits.memory: invalid quantity "12Gb": unknown suffix "Gb"`)

	// The quota gate names the quota's malformed field too, with the
	// workload's.
	err = gates.NewQuotaGate("quota", ov("apps/typo/overlays/dev")).Run(context.Background(), nil)
	require.ErrorIs(t, err, gates.ErrInvalidQuantity)
	assert.True(t, pipeline.IsPermanent(err))
	assert.Contains(t, err.Error(), `ResourceQuota/typo-dev/compute: spec.hard.limits.memory: invalid quantity "lots": no number`)
	assert.Contains(t, err.Error(), `Deployment/typo-dev/typo: resources.requests.cpu: invalid quantity "one"`)
}

func TestGatesNameAnOverlayThatDoesNotRender(t *testing.T) {
	ov := shopRepo(t)
	for _, g := range []pipeline.Stage{
		gates.NewResourceGate("resources", ov("apps/broken/overlays/dev")),
		gates.NewQuotaGate("quota", ov("apps/broken/overlays/dev")),
	} {
		_, err, attempts := runGate(t, g)
		require.ErrorIs(t, err, gitops.ErrRender, g.Name())
		assert.Equal(t, 1, attempts, "%s: a render failure is not retried", g.Name())
		assert.Contains(t, err.Error(), "gate "+g.Name()+": gitops: render apps/broken/overlays/dev: ")
		assert.Contains(t, err.Error(), "apps/broken/base", "kustomize's reason")
	}
	// An overlay that is not there at all.
	err := gates.NewResourceGate("resources", ov("apps/nope/overlays/dev")).Run(context.Background(), nil)
	require.ErrorIs(t, err, gitops.ErrRender)
	assert.Contains(t, err.Error(), "apps/nope/overlays/dev")

	// No renderer is a clear error, not a panic.
	err = gates.NewQuotaGate("quota", gates.Overlay{Dir: "x"}).Run(context.Background(), nil)
	require.ErrorIs(t, err, gates.ErrInvalidOverlay)
	assert.True(t, pipeline.IsPermanent(err))

	// A failure to reach the repository may be retried.
	fake, ferr := gitopstest.NewFake(shopLayout())
	require.NoError(t, ferr)
	fake.FailNext(gitopstest.OpRender, gitops.ErrRemote)
	err = gates.NewResourceGate("resources", gates.Overlay{Renderer: fake, Dir: "apps/api/overlays/dev"}).Run(context.Background(), nil)
	require.ErrorIs(t, err, gitops.ErrRemote)
	assert.False(t, pipeline.IsPermanent(err))
	assert.Contains(t, err.Error(), "gate resources: overlay apps/api/overlays/dev: ")
}

// kindsLayout renders one of each workload kind into namespace "fleet",
// each missing something different.
func kindsLayout() gitopstest.Files {
	return gitopstest.Files{
		"apps/kinds/kustomization.yaml": kustomization("fleet", "workloads.yaml"),
		"apps/kinds/workloads.yaml": `apiVersion: v1
kind: Pod
metadata: {name: runner}
spec:
  initContainers:
  - {name: setup, image: busybox, resources: {limits: {cpu: 100m, memory: 64Mi}}}
  containers:
  - {name: run, image: busybox, resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 100m, memory: 64Mi}}}
  ephemeralContainers:
  - {name: debugger, image: busybox}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  template:
    spec:
      containers:
      - {name: db, image: postgres}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  template:
    spec:
      containers:
      - {name: agent, image: agent, resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 100m, memory: 64Mi}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      containers:
      - {name: migrate, image: migrate, resources: {requests: {cpu: 1, memory: 1Gi}, limits: {memory: 1Gi}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - {name: report, image: report, resources: {requests: {cpu: 1}, limits: {cpu: 1, memory: 1Gi}}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: legacy}
spec:
  template:
    spec:
      containers:
      - {name: legacy, image: legacy, resources: {requests: {cpu: 2, memory: 64Mi}, limits: {cpu: 1, memory: 64Mi}}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary}
spec:
  strategy: {canary: {}}
  template:
    spec:
      containers:
      - {name: canary, image: canary, resources: {requests: {cpu: 1, memory: 1Gi}}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: ref}
spec:
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: ref-template}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: dangling}
spec:
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: gone}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ref-template}
spec:
  replicas: 0
  template:
    spec:
      containers:
      - {name: app, image: app, resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 100m, memory: 64Mi}}}
---
apiVersion: example.com/v1
kind: Deployment
metadata: {name: not-a-workload}
spec:
  template:
    spec:
      containers:
      - {name: x, image: x}
`,
	}
}

func TestResourceGateChecksEveryWorkloadKindTogether(t *testing.T) {
	w := gitopstest.NewWriter(t, kindsLayout())
	err := gates.NewResourceGate("resources", gates.Overlay{Renderer: w.Repo, Dir: "apps/kinds"}).Run(context.Background(), nil)
	require.ErrorIs(t, err, gates.ErrMissingResources)
	require.ErrorIs(t, err, gates.ErrInvalidManifest)
	var re *gates.ResourcesError
	require.ErrorAs(t, err, &re)
	got := texts(re.Problems)
	assert.ElementsMatch(t, []string{
		"Pod/fleet/runner: init container setup: missing requests.cpu, requests.memory",
		"StatefulSet/fleet/db: container db: missing requests.cpu, requests.memory, limits.cpu, limits.memory",
		"Job/fleet/migrate: container migrate: missing limits.cpu",
		"CronJob/fleet/report: container report: missing requests.memory",
		"ReplicaSet/fleet/legacy: container legacy: invalid manifest: resources.requests.cpu 2 is above resources.limits.cpu 1",
		"Rollout/fleet/canary: container canary: missing limits.cpu, limits.memory",
		"Rollout/fleet/dangling: invalid manifest: spec.workloadRef names Deployment gone, which the overlay does not render",
	}, got, "the DaemonSet, the referenced Deployment and its Rollout pass; ephemeral containers and other groups' kinds are not checked")
}

func TestResourceGateConformance(t *testing.T) {
	w := gitopstest.NewWriter(t, shopLayout())
	pipelinetest.TestStage(t, func(t *testing.T) (pipeline.Stage, *pipeline.State) {
		return gates.NewResourceGate("resources", gates.Overlay{Renderer: w.Repo, Dir: "apps/api/overlays/prod"}), pipeline.NewState()
	})
}
