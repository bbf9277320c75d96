package health_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/health"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &m), s)
	return m
}

func TestObjectHealth(t *testing.T) {
	tests := []struct {
		name   string
		obj    string
		status health.Status
		msg    string
	}{
		// Deployment
		{"deployment paused", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","generation":2},"spec":{"paused":true,"replicas":3},"status":{"observedGeneration":1}}`,
			health.Suspended, "Deployment is paused"},
		{"deployment generation not observed", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","generation":2},"spec":{"replicas":3},"status":{"observedGeneration":1,"replicas":3,"updatedReplicas":3,"availableReplicas":3}}`,
			health.Progressing, "Waiting for rollout to finish: observed deployment generation less then desired generation"},
		{"deployment progress deadline", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","generation":2},"spec":{"replicas":3},"status":{"observedGeneration":2,"replicas":3,"updatedReplicas":1,"conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded"}]}}`,
			health.Degraded, `Deployment "web" exceeded its progress deadline`},
		{"deployment updating", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","generation":2},"spec":{"replicas":3},"status":{"observedGeneration":2,"replicas":3,"updatedReplicas":1}}`,
			health.Progressing, "Waiting for rollout to finish: 1 out of 3 new replicas have been updated..."},
		{"deployment old replicas terminating", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","generation":2},"spec":{"replicas":3},"status":{"observedGeneration":2,"replicas":5,"updatedReplicas":3,"availableReplicas":3}}`,
			health.Progressing, "Waiting for rollout to finish: 2 old replicas are pending termination..."},
		{"deployment not available", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","generation":2},"spec":{"replicas":3},"status":{"observedGeneration":2,"replicas":3,"updatedReplicas":3,"availableReplicas":2}}`,
			health.Progressing, "Waiting for rollout to finish: 2 of 3 updated replicas are available..."},
		{"deployment healthy", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","generation":2},"spec":{"replicas":3},"status":{"observedGeneration":2,"replicas":3,"updatedReplicas":3,"availableReplicas":3,"conditions":[{"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"}]}}`,
			health.Healthy, ""},
		{"deployment without spec.replicas", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{},"status":{}}`,
			health.Healthy, ""},
		// StatefulSet
		{"statefulset not observed", `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","generation":1},"spec":{"replicas":3},"status":{}}`,
			health.Progressing, "Waiting for statefulset spec update to be observed..."},
		{"statefulset pods not ready", `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","generation":1},"spec":{"replicas":3},"status":{"observedGeneration":1,"readyReplicas":1}}`,
			health.Progressing, "Waiting for 2 pods to be ready..."},
		{"statefulset partition pending", `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","generation":1},"spec":{"replicas":3,"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":1}}},"status":{"observedGeneration":1,"readyReplicas":3,"updatedReplicas":1}}`,
			health.Progressing, "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated..."},
		{"statefulset partition done", `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","generation":1},"spec":{"replicas":3,"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":1}}},"status":{"observedGeneration":1,"readyReplicas":3,"updatedReplicas":2}}`,
			health.Healthy, "partitioned roll out complete: 2 new pods have been updated..."},
		{"statefulset on delete", `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","generation":1},"spec":{"replicas":3,"updateStrategy":{"type":"OnDelete"}},"status":{"observedGeneration":1,"readyReplicas":3}}`,
			health.Healthy, "statefulset has 3 ready pods"},
		{"statefulset revision rolling", `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","generation":1},"spec":{"replicas":3,"updateStrategy":{"type":"RollingUpdate"}},"status":{"observedGeneration":1,"readyReplicas":3,"updatedReplicas":1,"currentRevision":"db-1","updateRevision":"db-2"}}`,
			health.Progressing, "waiting for statefulset rolling update to complete 1 pods at revision db-2..."},
		{"statefulset healthy", `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","generation":1},"spec":{"replicas":3},"status":{"observedGeneration":1,"readyReplicas":3,"currentReplicas":3,"currentRevision":"db-2","updateRevision":"db-2"}}`,
			health.Healthy, "statefulset rolling update complete 3 pods at revision db-2..."},
		// DaemonSet
		{"daemonset generation", `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent","generation":3},"status":{"observedGeneration":2}}`,
			health.Progressing, "Waiting for rollout to finish: observed daemon set generation less then desired generation"},
		{"daemonset on delete", `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent","generation":3},"spec":{"updateStrategy":{"type":"OnDelete"}},"status":{"observedGeneration":3,"updatedNumberScheduled":1,"desiredNumberScheduled":4}}`,
			health.Healthy, "daemon set 1 out of 4 new pods have been updated"},
		{"daemonset updating", `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent","generation":3},"status":{"observedGeneration":3,"updatedNumberScheduled":1,"desiredNumberScheduled":4}}`,
			health.Progressing, `Waiting for daemon set "agent" rollout to finish: 1 out of 4 new pods have been updated...`},
		{"daemonset unavailable", `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent","generation":3},"status":{"observedGeneration":3,"updatedNumberScheduled":4,"desiredNumberScheduled":4,"numberAvailable":3}}`,
			health.Progressing, `Waiting for daemon set "agent" rollout to finish: 3 of 4 updated pods are available...`},
		{"daemonset healthy", `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent","generation":3},"status":{"observedGeneration":3,"updatedNumberScheduled":4,"desiredNumberScheduled":4,"numberAvailable":4}}`,
			health.Healthy, ""},
		// ReplicaSet
		{"replicaset generation", `{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web-1","generation":2},"status":{"observedGeneration":1}}`,
			health.Progressing, "Waiting for rollout to finish: observed replica set generation less then desired generation"},
		{"replicaset failure", `{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web-1","generation":1},"spec":{"replicas":2},"status":{"observedGeneration":1,"conditions":[{"type":"ReplicaFailure","status":"True","message":"pods \"web-1-x\" is forbidden: exceeded quota"}]}}`,
			health.Degraded, `pods "web-1-x" is forbidden: exceeded quota`},
		{"replicaset unavailable", `{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web-1","generation":1},"spec":{"replicas":2},"status":{"observedGeneration":1,"availableReplicas":1}}`,
			health.Progressing, "Waiting for rollout to finish: 1 out of 2 new replicas are available..."},
		{"replicaset healthy", `{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web-1","generation":1},"spec":{"replicas":2},"status":{"observedGeneration":1,"availableReplicas":2}}`,
			health.Healthy, ""},
		// Pod
		{"pod crash loop", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"restartPolicy":"Always"},"status":{"phase":"Running","containerStatuses":[{"name":"app","state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off 5m0s restarting failed container"}}}]}}`,
			health.Degraded, "back-off 5m0s restarting failed container"},
		{"pod image pull error default policy", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{},"status":{"phase":"Pending","containerStatuses":[{"name":"app","state":{"waiting":{"reason":"ErrImagePull","message":"not found"}}}]}}`,
			health.Degraded, "not found"},
		{"pod pending", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"status":{"phase":"Pending","message":"0/3 nodes are available"}}`,
			health.Progressing, "0/3 nodes are available"},
		{"pod succeeded", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"status":{"phase":"Succeeded"}}`,
			health.Healthy, ""},
		{"pod failed with message", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"status":{"phase":"Failed","message":"evicted"}}`,
			health.Degraded, "evicted"},
		{"pod failed oom", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"restartPolicy":"Never"},"status":{"phase":"Failed","containerStatuses":[{"name":"app","state":{"terminated":{"reason":"OOMKilled","exitCode":137}}}]}}`,
			health.Degraded, "OOMKilled"},
		{"pod failed exit code", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"restartPolicy":"Never"},"status":{"phase":"Failed","initContainerStatuses":[{"name":"init","state":{"terminated":{"exitCode":2}}}]}}`,
			health.Degraded, `container "init" failed with exit code 2`},
		{"pod running ready", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"restartPolicy":"Always"},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}`,
			health.Healthy, ""},
		{"pod running not ready after restart", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"False"}],"containerStatuses":[{"name":"app","lastState":{"terminated":{"exitCode":1}}}]}}`,
			health.Degraded, ""},
		{"pod running not ready", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"False"}]}}`,
			health.Progressing, ""},
		{"pod hook running", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"restartPolicy":"Never"},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}`,
			health.Progressing, ""},
		{"pod ignore restart policy", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","annotations":{"argocd.argoproj.io/ignore-restart-policy":"true"}},"spec":{"restartPolicy":"OnFailure"},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}`,
			health.Healthy, ""},
		{"pod unknown phase", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"status":{"phase":"Unknown","message":"node lost"}}`,
			health.Unknown, "node lost"},
		// Service
		{"service cluster ip", `{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"ClusterIP"}}`,
			health.Healthy, ""},
		{"service lb pending", `{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"LoadBalancer"},"status":{"loadBalancer":{}}}`,
			health.Progressing, ""},
		{"service lb ready", `{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"LoadBalancer"},"status":{"loadBalancer":{"ingress":[{"ip":"10.0.0.1"}]}}}`,
			health.Healthy, ""},
		// Ingress
		{"ingress pending", `{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"i"}}`,
			health.Progressing, ""},
		{"ingress ready", `{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"i"},"status":{"loadBalancer":{"ingress":[{"hostname":"lb.example"}]}}}`,
			health.Healthy, ""},
		{"ingress extensions", `{"apiVersion":"extensions/v1beta1","kind":"Ingress","metadata":{"name":"i"}}`,
			health.Progressing, ""},
		// PVC
		{"pvc bound", `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c"},"status":{"phase":"Bound"}}`, health.Healthy, ""},
		{"pvc pending", `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c"},"status":{"phase":"Pending"}}`, health.Progressing, ""},
		{"pvc lost", `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c"},"status":{"phase":"Lost"}}`, health.Degraded, ""},
		{"pvc no phase", `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c"}}`, health.Unknown, ""},
		// Job
		{"job running", `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"status":{"active":1}}`, health.Progressing, ""},
		{"job complete", `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"status":{"conditions":[{"type":"Complete","status":"True","message":"done"}]}}`, health.Healthy, "done"},
		{"job failed", `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"status":{"conditions":[{"type":"Failed","status":"True","message":"BackoffLimitExceeded"}]}}`, health.Degraded, "BackoffLimitExceeded"},
		{"job suspended", `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"status":{"conditions":[{"type":"Suspended","status":"True","message":"Job suspended"}]}}`, health.Suspended, "Job suspended"},
		{"job resumed", `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"status":{"conditions":[{"type":"Suspended","status":"False","message":"Job resumed"}]}}`, health.Healthy, "Job resumed"},
		// HPA
		{"hpa v2 healthy", `{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"h"},"status":{"conditions":[{"type":"AbleToScale","status":"True","reason":"ReadyForNewScale","message":"ready"},{"type":"ScalingLimited","status":"True","reason":"TooFewReplicas","message":"min"}]}}`,
			health.Healthy, "ready,min"},
		{"hpa v2 degraded", `{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"h"},"status":{"conditions":[{"type":"AbleToScale","status":"True","reason":"SucceededGetScale"},{"type":"ScalingActive","status":"False","reason":"FailedGetResourceMetric","message":"no metrics"}]}}`,
			health.Degraded, "no metrics"},
		{"hpa v2 partially healthy", `{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"h"},"status":{"conditions":[{"type":"AbleToScale","status":"True"},{"type":"ScalingActive","status":"True","reason":"ValidMetricFound"}]}}`,
			health.Progressing, "Waiting to Autoscale"},
		{"hpa v2 no conditions", `{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"h"}}`,
			health.Progressing, "Waiting to Autoscale"},
		{"hpa v1 annotation", `{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"h","annotations":{"autoscaling.alpha.kubernetes.io/conditions":"[{\"type\":\"AbleToScale\",\"status\":\"False\",\"reason\":\"FailedGetScale\",\"message\":\"no scale\"}]"}}}`,
			health.Degraded, "no scale"},
		{"hpa v1 no annotation", `{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"h"}}`,
			health.Progressing, "Waiting to Autoscale"},
		// generic
		{"pending deletion", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","deletionTimestamp":"2026-01-01T00:00:00Z"},"spec":{"paused":true}}`,
			health.Progressing, "Pending deletion"},
		{"hook being deleted keeps its rule", `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j","deletionTimestamp":"2026-01-01T00:00:00Z","finalizers":["argocd.argoproj.io/hook-finalizer"]},"status":{"conditions":[{"type":"Complete","status":"True"}]}}`,
			health.Healthy, ""},
		{"kind without rule", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"b"}}`,
			health.Healthy, ""},
		{"custom resource without rule", `{"apiVersion":"example.com/v1","kind":"Deployment","metadata":{"name":"x"},"status":{"observedGeneration":"weird"}}`,
			health.Healthy, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, msg, err := health.ObjectHealth(decode(t, tt.obj))
			require.NoError(t, err)
			assert.Equal(t, tt.status, st)
			assert.Equal(t, tt.msg, msg)
		})
	}
}

func TestObjectHealthYAMLIntegers(t *testing.T) {
	// YAML decoders produce int rather than float64.
	obj := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "generation": 1},
		"spec":     map[string]any{"replicas": 2},
		"status":   map[string]any{"observedGeneration": int64(1), "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1},
	}
	st, msg, err := health.ObjectHealth(obj)
	require.NoError(t, err)
	assert.Equal(t, health.Progressing, st)
	assert.Equal(t, "Waiting for rollout to finish: 1 of 2 updated replicas are available...", msg)
}

func TestObjectHealthMalformed(t *testing.T) {
	tests := []struct {
		name  string
		obj   map[string]any
		field string
		text  string
	}{
		{"nil object", nil, "", "object is nil"},
		{"no kind", map[string]any{"apiVersion": "v1"}, "", "apiVersion and kind are required"},
		{"kind not a string", map[string]any{"apiVersion": "v1", "kind": 3.0}, "kind", "want a string"},
		{"replicas a string", decode(t, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":"three"}}`), "spec.replicas", "want an integer"},
		{"replicas fractional", decode(t, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":1.5}}`), "spec.replicas", "want an integer"},
		{"status a list", decode(t, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"status":[]}`), "status", "want an object"},
		{"condition not an object", decode(t, `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"status":{"conditions":["Complete"]}}`), "status.conditions[0]", "want an object"},
		{"container reason not a string", decode(t, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"status":{"phase":"Running","containerStatuses":[{"state":{"waiting":{"reason":7}}}]}}`), "status.containerStatuses[0].state.waiting.reason", "want a string"},
		{"paused not a bool", decode(t, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"paused":"yes"}}`), "spec.paused", "want a boolean"},
		{"hpa annotation not json", decode(t, `{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"h","annotations":{"autoscaling.alpha.kubernetes.io/conditions":"{oops"}}}`), "metadata.annotations.autoscaling.alpha.kubernetes.io/conditions", "not a JSON list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, msg, err := health.ObjectHealth(tt.obj)
			require.Error(t, err)
			assert.ErrorIs(t, err, health.ErrMalformedObject)
			var oe *health.ObjectError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, tt.field, oe.Field)
			assert.Contains(t, err.Error(), tt.text)
			assert.Equal(t, health.Unknown, st)
			assert.Equal(t, err.Error(), msg)
		})
	}
}

func TestObjectErrorNamesObject(t *testing.T) {
	_, _, err := health.ObjectHealth(decode(t, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":"x"}}`))
	require.Error(t, err)
	assert.Equal(t, "health of Deployment web: field spec.replicas: malformed Kubernetes object: want an integer, got string", err.Error())
}

func TestHasHealthRule(t *testing.T) {
	assert.True(t, health.HasHealthRule("apps/v1", "Deployment"))
	assert.True(t, health.HasHealthRule("v1", "Pod"))
	assert.True(t, health.HasHealthRule("networking.k8s.io/v1", "Ingress"))
	assert.True(t, health.HasHealthRule("autoscaling/v2", "HorizontalPodAutoscaler"))
	assert.False(t, health.HasHealthRule("v1", "ConfigMap"))
	assert.False(t, health.HasHealthRule("example.com/v1", "Deployment"))
}
