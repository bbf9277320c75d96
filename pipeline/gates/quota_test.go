package gates_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/gates"
	"github.com/flightdeck-dev/flightdeck/pipeline/pipelinetest"
)

var quotaReport = pipeline.NewKey[gates.QuotaReport]("test.quota")

// usages returns a report's usages as strings by resource.
func usages(r gates.QuotaReport) map[string]string {
	out := map[string]string{}
	for _, u := range r.Usages {
		out[u.Quota.Name+" "+u.Resource] = u.String()
	}
	return out
}

func TestQuotaGateRefusesProdReplicasAboveItsQuota(t *testing.T) {
	ov := shopRepo(t)

	// Staging: 2 replicas and 1 surge pod of 300m / 640Mi (the app
	// container and its sidecar) fit.
	st, err, _ := runGate(t, gates.NewQuotaGate("quota", ov("apps/api/overlays/staging")).WithReport(quotaReport), quotaReport)
	require.NoError(t, err)
	rep, err := quotaReport.Get(st)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"compute requests.cpu":  "ResourceQuota/api-staging/compute: requests.cpu: total 900m of hard 2",
		"compute limits.memory": "ResourceQuota/api-staging/compute: limits.memory: total 1920Mi of hard 2Gi",
		"compute pods":          "ResourceQuota/api-staging/compute: pods: total 3 of hard 4",
	}, usages(rep))
	assert.Empty(t, rep.Unquoted)
	assert.Empty(t, rep.Exceeded())

	// Prod: 6 replicas and 2 surge pods (25% of 6, rounded up) exceed
	// requests.cpu and limits.memory.
	st, err, attempts := runGate(t, gates.NewQuotaGate("quota", ov("apps/api/overlays/prod")).WithReport(quotaReport), quotaReport)
	require.ErrorIs(t, err, gates.ErrQuotaExceeded)
	assert.NotErrorIs(t, err, gates.ErrNoQuota)
	assert.Equal(t, 1, attempts, "a refusal is not retried")
	assert.Contains(t, err.Error(), "gate quota: overlay apps/api/overlays/prod: resource quota exceeded: "+
		"ResourceQuota/api-prod/compute: limits.memory: total 5Gi exceeds hard 4Gi by 1Gi (1280Mi of it rolling-update surge); "+
		"ResourceQuota/api-prod/compute: requests.cpu: total 2400m exceeds hard 2 by 400m (600m of it rolling-update surge)")
	var qe *gates.QuotaError
	require.ErrorAs(t, err, &qe)
	require.Len(t, qe.Exceeded, 2)
	mem := qe.Exceeded[0]
	assert.Equal(t, gates.ObjectRef{Kind: "ResourceQuota", Namespace: "api-prod", Name: "compute"}, mem.Quota)
	assert.Equal(t, "limits.memory", mem.Resource)
	assert.Equal(t, "5Gi", mem.Total.String())
	assert.Equal(t, "4Gi", mem.Hard.String())
	assert.Equal(t, "1Gi", mem.Excess().String())

	rep, err = quotaReport.Get(st)
	require.NoError(t, err, "the report is kept when the gate refuses")
	assert.Equal(t, map[string]string{
		"compute requests.cpu":           "ResourceQuota/api-prod/compute: requests.cpu: total 2400m exceeds hard 2 by 400m (600m of it rolling-update surge)",
		"compute cpu":                    "ResourceQuota/api-prod/compute: cpu: total 2400m of hard 3",
		"compute limits.memory":          "ResourceQuota/api-prod/compute: limits.memory: total 5Gi exceeds hard 4Gi by 1Gi (1280Mi of it rolling-update surge)",
		"compute pods":                   "ResourceQuota/api-prod/compute: pods: total 8 of hard 10",
		"compute count/deployments.apps": "ResourceQuota/api-prod/compute: count/deployments.apps: total 1 of hard 1",
		"compute services":               "ResourceQuota/api-prod/compute: services: total 1 of hard 1",
	}, usages(rep))
	assert.Equal(t, []string{"ResourceQuota/api-prod/compute: services.nodeports"}, rep.Unchecked)

	// At rest, without the surge, prod fits.
	assert.NoError(t, gates.NewQuotaGate("quota", ov("apps/api/overlays/prod")).WithoutSurge().Run(context.Background(), nil))
}

func TestQuotaGatePassesANamespaceWithoutQuotaUnlessOneIsRequired(t *testing.T) {
	ov := shopRepo(t)
	st := pipeline.NewState()
	require.NoError(t, gates.NewQuotaGate("quota", ov("apps/api/overlays/dev")).WithReport(quotaReport).Run(context.Background(), st))
	rep, err := quotaReport.Get(st)
	require.NoError(t, err)
	assert.Empty(t, rep.Usages)
	assert.Equal(t, []string{"api-dev"}, rep.Unquoted)

	err = gates.NewQuotaGate("quota", ov("apps/api/overlays/dev")).RequireQuota().Run(context.Background(), nil)
	require.ErrorIs(t, err, gates.ErrNoQuota)
	assert.True(t, pipeline.IsPermanent(err))
	assert.EqualError(t, err, "gate quota: overlay apps/api/overlays/dev: namespace without a resource quota: api-dev")
	assert.NoError(t, gates.NewQuotaGate("quota", ov("apps/api/overlays/staging")).RequireQuota().Run(context.Background(), nil))
}

// fleetLayout renders workloads of every kind into namespace "fleet" with
// quotas that all fit; the test checks how each is counted.
const fleetWorkloads = `apiVersion: apps/v1
kind: Deployment
metadata: {name: recreate}
spec:
  replicas: 3
  strategy: {type: Recreate}
  template: {spec: {containers: [{name: c, image: i, resources: {requests: {cpu: 100m, memory: 100Mi}, limits: {cpu: 100m, memory: 100Mi}}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: surge}
spec:
  replicas: 4
  strategy: {rollingUpdate: {maxSurge: 50%}}
  template:
    spec:
      initContainers:
      - {name: warm, image: i, resources: {requests: {cpu: 500m, memory: 50Mi}, limits: {cpu: 500m, memory: 50Mi}}}
      containers:
      - {name: c, image: i, resources: {requests: {cpu: 100m, memory: 100Mi}, limits: {cpu: 100m, memory: 100Mi}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  template: {spec: {containers: [{name: c, image: i, resources: {requests: {cpu: 100m, memory: 100Mi}, limits: {cpu: 100m, memory: 100Mi}}}]}}
  volumeClaimTemplates:
  - {metadata: {name: data}, spec: {resources: {requests: {storage: 10Gi}}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared}
spec: {resources: {requests: {storage: 5Gi}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  updateStrategy: {rollingUpdate: {maxSurge: 1}}
  template: {spec: {containers: [{name: c, image: i, resources: {requests: {cpu: 100m, memory: 100Mi}, limits: {cpu: 100m, memory: 100Mi}}}]}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: batch}
spec:
  parallelism: 5
  completions: 2
  template: {spec: {containers: [{name: c, image: i, resources: {requests: {cpu: 100m, memory: 100Mi}, limits: {cpu: 100m, memory: 100Mi}}}]}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          activeDeadlineSeconds: 600
          containers: [{name: c, image: i, resources: {requests: {cpu: 100m, memory: 100Mi}, limits: {cpu: 100m, memory: 100Mi}}}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: bg}
spec:
  replicas: 2
  strategy: {blueGreen: {activeService: bg}}
  template: {spec: {containers: [{name: c, image: i, resources: {requests: {cpu: 100m, memory: 100Mi}, limits: {cpu: 100m, memory: 100Mi}}}]}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary}
spec:
  replicas: 3
  strategy: {canary: {maxSurge: 1}}
  template: {spec: {containers: [{name: c, image: i, resources: {requests: {cpu: 100m, memory: 100Mi}, limits: {cpu: 100m, memory: 100Mi}}}]}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: routed}
spec:
  replicas: 2
  strategy: {canary: {trafficRouting: {plugins: {}}}}
  template: {spec: {containers: [{name: c, image: i, resources: {requests: {cpu: 100m, memory: 100Mi}, limits: {cpu: 100m, memory: 100Mi}}}]}}
---
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec:
  priorityClassName: low
  overhead: {cpu: 50m}
  containers: [{name: c, image: i, resources: {requests: {cpu: 100m, memory: 100Mi}, limits: {cpu: 100m, memory: 100Mi}}}]
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: all}
spec:
  hard:
    pods: "100"
    requests.cpu: "10"
    limits.cpu: "10"
    requests.storage: 100Gi
    persistentvolumeclaims: "10"
    count/deployments.apps: "5"
    count/rollouts.argoproj.io: "5"
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: terminating}
spec:
  hard: {pods: "5"}
  scopes: [Terminating]
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: low}
spec:
  hard: {pods: "5", requests.cpu: "1"}
  scopeSelector: {matchExpressions: [{scopeName: PriorityClass, operator: In, values: [low]}]}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: affinity}
spec:
  hard: {pods: "5"}
  scopes: [CrossNamespacePodAffinity]
`

func TestQuotaGateCountsPodsOfEveryKind(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.Files{
		"apps/fleet/kustomization.yaml": kustomization("fleet", "workloads.yaml"),
		"apps/fleet/workloads.yaml":     fleetWorkloads,
	})
	st := pipeline.NewState()
	g := gates.NewQuotaGate("quota", gates.Overlay{Renderer: w.Repo, Dir: "apps/fleet"}).WithDaemonSetNodes(3).WithReport(quotaReport)
	require.NoError(t, g.Run(context.Background(), st))
	rep, err := quotaReport.Get(st)
	require.NoError(t, err)
	// Pods (surge): recreate 3 (0), surge 4 (2), db 2 (0), agent 3 nodes
	// (1), batch min(5, 2) (0), nightly 1, bg 2 (2: the preview set),
	// canary 3 (1), routed 2 (2: a full canary beside stable), debug 1.
	// requests.cpu is 100m a pod, but 500m for "surge" (its init
	// container) and 150m for "debug" (its overhead).
	assert.Equal(t, map[string]string{
		"all pods":                       "ResourceQuota/fleet/all: pods: total 31 of hard 100",
		"all requests.cpu":               "ResourceQuota/fleet/all: requests.cpu: total 5550m of hard 10",
		"all limits.cpu":                 "ResourceQuota/fleet/all: limits.cpu: total 5550m of hard 10",
		"all requests.storage":           "ResourceQuota/fleet/all: requests.storage: total 25Gi of hard 100Gi",
		"all persistentvolumeclaims":     "ResourceQuota/fleet/all: persistentvolumeclaims: total 3 of hard 10",
		"all count/deployments.apps":     "ResourceQuota/fleet/all: count/deployments.apps: total 2 of hard 5",
		"all count/rollouts.argoproj.io": "ResourceQuota/fleet/all: count/rollouts.argoproj.io: total 3 of hard 5",
		"terminating pods":               "ResourceQuota/fleet/terminating: pods: total 1 of hard 5",
		"low pods":                       "ResourceQuota/fleet/low: pods: total 1 of hard 5",
		"low requests.cpu":               "ResourceQuota/fleet/low: requests.cpu: total 150m of hard 1",
	}, usages(rep))
	for _, u := range rep.Usages {
		if u.Quota.Name == "all" && u.Resource == "pods" {
			assert.Equal(t, "8", u.Surge.String())
		}
	}
	assert.Equal(t, []string{"ResourceQuota/fleet/affinity: scope not evaluated"}, rep.Unchecked)

	// With one node per DaemonSet and no surge: 31 - 8 - 2 = 21 pods.
	st = pipeline.NewState()
	require.NoError(t, gates.NewQuotaGate("quota", gates.Overlay{Renderer: w.Repo, Dir: "apps/fleet"}).WithoutSurge().WithReport(quotaReport).Run(context.Background(), st))
	rep, _ = quotaReport.Get(st)
	assert.Equal(t, "ResourceQuota/fleet/all: pods: total 21 of hard 100", usages(rep)["all pods"])
}

func TestQuotaGateConformance(t *testing.T) {
	w := gitopstest.NewWriter(t, shopLayout())
	pipelinetest.TestStage(t, func(t *testing.T) (pipeline.Stage, *pipeline.State) {
		return gates.NewQuotaGate("quota", gates.Overlay{Renderer: w.Repo, Dir: "apps/api/overlays/staging"}), pipeline.NewState()
	})
}

func TestQuotaGateCountsAnAutoscaledWorkloadAtItsMaximum(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.Files{
		"apps/auto/kustomization.yaml": kustomization("auto", "workloads.yaml"),
		"apps/auto/workloads.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template: {spec: {containers: [{name: c, image: i, resources: {requests: {cpu: 100m, memory: 100Mi}, limits: {cpu: 100m, memory: 100Mi}}}]}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 2
  maxReplicas: 10
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: elsewhere}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: not-here}
  maxReplicas: 50
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: pods}
spec:
  hard: {pods: "12"}
`,
	})
	ov := gates.Overlay{Renderer: w.Repo, Dir: "apps/auto"}
	// At its maximum the autoscaler runs 10 pods, and an update adds 3
	// (25% of 10, rounded up).
	err := gates.NewQuotaGate("quota", ov).Run(context.Background(), nil)
	require.ErrorIs(t, err, gates.ErrQuotaExceeded)
	assert.Contains(t, err.Error(), "ResourceQuota/auto/pods: pods: total 13 exceeds hard 12 by 1 (3 of it rolling-update surge)")

	st := pipeline.NewState()
	require.NoError(t, gates.NewQuotaGate("quota", ov).WithAutoscalerMin().WithReport(quotaReport).Run(context.Background(), st))
	rep, _ := quotaReport.Get(st)
	assert.Equal(t, "ResourceQuota/auto/pods: pods: total 3 of hard 12", usages(rep)["pods pods"], "2 replicas and 1 surge pod")
}

func TestQuotaGateNamesContainersTheQuotaAdmissionRefuses(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.Files{
		"apps/unset/kustomization.yaml": kustomization("unset", "workloads.yaml"),
		"apps/unset/workloads.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      initContainers:
      - {name: migrate, image: i}
      containers:
      - {name: app, image: i, resources: {limits: {cpu: 100m, memory: 100Mi}}}
      - {name: shipper, image: i, resources: {requests: {cpu: 10m, memory: 10Mi}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: nightly}
spec:
  template: {spec: {activeDeadlineSeconds: 60, containers: [{name: c, image: i}]}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute}
spec:
  hard: {memory: 1Gi, limits.memory: 2Gi, count/jobs.batch: "1"}
  scopes: [NotTerminating]
`,
	})
	err := gates.NewQuotaGate("quota", gates.Overlay{Renderer: w.Repo, Dir: "apps/unset"}).Run(context.Background(), nil)
	require.ErrorIs(t, err, gates.ErrMissingResources)
	assert.NotErrorIs(t, err, gates.ErrQuotaExceeded)
	var qe *gates.QuotaError
	require.ErrorAs(t, err, &qe)
	got := texts(qe.Unset)
	// The app container's request defaults to its limit; the Job's pods
	// are outside the quota's scope.
	assert.Equal(t, []string{
		"Deployment/unset/api: init container migrate: missing limits.memory, requests.memory: tracked by ResourceQuota/unset/compute",
		"Deployment/unset/api: container shipper: missing limits.memory: tracked by ResourceQuota/unset/compute",
	}, got)
}
