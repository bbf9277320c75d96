package sim_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
)

func deploymentYAML(name, image string, replicas int, extra string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
  namespace: shop
spec:
  replicas: %d
%s  selector:
    matchLabels: {app: %s}
  template:
    metadata:
      labels: {app: %s}
    spec:
      containers:
      - name: app
        image: %s
`, name, replicas, extra, name, name, image)
}

var web = sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"}

func apply(t *testing.T, c *sim.Cluster, yaml string) []sim.Ref {
	t.Helper()
	refs, err := c.Apply(context.Background(), []byte(yaml))
	require.NoError(t, err)
	return refs
}

func get(t *testing.T, c *sim.Cluster, ref sim.Ref) map[string]any {
	t.Helper()
	obj, err := c.Get(ref)
	require.NoError(t, err)
	return obj
}

func field(obj map[string]any, path ...string) any {
	var cur any = obj
	for _, p := range path {
		m, _ := cur.(map[string]any)
		cur = m[p]
	}
	return cur
}

func num(obj map[string]any, path ...string) int64 {
	n, _ := field(obj, path...).(int64)
	return n
}

func condition(obj map[string]any, typ string) map[string]any {
	conds, _ := field(obj, "status", "conditions").([]any)
	for _, c := range conds {
		m := c.(map[string]any)
		if m["type"] == typ {
			return m
		}
	}
	return nil
}

func healthOf(t *testing.T, c *sim.Cluster, ref sim.Ref) health.Status {
	t.Helper()
	st, _, err := c.Health(ref)
	require.NoError(t, err)
	return st
}

func TestApplyStoresKindsWithStatus(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk)
	refs := apply(t, c, deploymentYAML("web", "registry.example/web:v1", 2, "")+`---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: edge, namespace: shop}
spec: {type: LoadBalancer}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {LOG_LEVEL: info}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: web, port: 80, weight: 100}]
---
apiVersion: example.dev/v1
kind: Widget
metadata: {name: w, namespace: shop}
spec: {size: 3}
`)
	require.Len(t, refs, 6)
	assert.Equal(t, sim.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: "web-config"}, refs[3], "no namespace means default")
	assert.Equal(t, refs, c.Objects())

	svc := get(t, c, refs[1])
	assert.Equal(t, "10.96.0.2", field(svc, "spec", "clusterIP"))
	assert.Equal(t, health.Healthy, healthOf(t, c, refs[1]))
	lb := get(t, c, refs[2])
	assert.Equal(t, "192.0.2.10", field(lb, "status", "loadBalancer", "ingress").([]any)[0].(map[string]any)["ip"])

	cm := get(t, c, refs[3])
	assert.Equal(t, map[string]any{"LOG_LEVEL": "info"}, cm["data"])

	route := get(t, c, refs[4])
	parents := field(route, "status", "parents").([]any)
	require.Len(t, parents, 1)
	assert.Equal(t, "Accepted", parents[0].(map[string]any)["conditions"].([]any)[0].(map[string]any)["type"])

	widget := get(t, c, refs[5])
	assert.Equal(t, int64(3), field(widget, "spec", "size"))
	assert.Nil(t, widget["status"], "unknown kinds are stored as given")

	assert.Equal(t, health.Progressing, healthOf(t, c, web))
	clk.Advance(5 * time.Second)
	assert.Equal(t, health.Healthy, healthOf(t, c, web))
	dep := get(t, c, web)
	assert.Equal(t, int64(2), num(dep, "status", "availableReplicas"))
	assert.Equal(t, "NewReplicaSetAvailable", condition(dep, "Progressing")["reason"])
	assert.Equal(t, "1", field(dep, "metadata", "annotations", "deployment.kubernetes.io/revision"))
}

// TestRollingUpdateRespectsSurgeAndUnavailable steps through a rollout
// event by event and checks the bounds Kubernetes guarantees.
func TestRollingUpdateRespectsSurgeAndUnavailable(t *testing.T) {
	tests := []struct {
		name               string
		surge, unavailable string
		wantMaxTotal       int64
		wantMinAvailable   int64
		wantDuration       time.Duration
	}{
		{"surge one", "1", "0", 5, 4, 40 * time.Second},
		{"unavailable two", "0", "2", 4, 2, 20 * time.Second},
		{"percentages", "25%", "25%", 5, 3, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := sim.NewClock(time.Time{})
			c := sim.New(clk, sim.WithDefaultBehavior(sim.Behavior{ReadyAfter: 10 * time.Second}))
			strategy := fmt.Sprintf("  strategy:\n    rollingUpdate: {maxSurge: %s, maxUnavailable: %s}\n", quote(tt.surge), quote(tt.unavailable))
			apply(t, c, deploymentYAML("web", "web:v1", 4, strategy))
			clk.Advance(10 * time.Second)
			require.Equal(t, health.Healthy, healthOf(t, c, web))

			start := clk.Now()
			apply(t, c, deploymentYAML("web", "web:v2", 4, strategy))
			assert.Equal(t, health.Progressing, healthOf(t, c, web))
			for i := 0; i < 100 && healthOf(t, c, web) != health.Healthy; i++ {
				dep := get(t, c, web)
				assert.LessOrEqual(t, num(dep, "status", "replicas"), tt.wantMaxTotal, "maxSurge bound at %v", clk.Now())
				assert.GreaterOrEqual(t, num(dep, "status", "availableReplicas"), tt.wantMinAvailable, "maxUnavailable bound at %v", clk.Now())
				clk.Advance(time.Second)
			}
			assert.Equal(t, tt.wantDuration, clk.Now().Sub(start))
			rss := c.Owned(web)
			require.Len(t, rss, 2)
			old, cur := get(t, c, rss[0]), get(t, c, rss[1])
			assert.Equal(t, int64(0), num(old, "spec", "replicas"))
			assert.Equal(t, int64(4), num(cur, "status", "availableReplicas"))
			assert.Len(t, c.Owned(rss[1]), 4)
			for _, p := range c.Owned(rss[1]) {
				assert.Equal(t, "web:v2", field(get(t, c, p), "spec", "containers").([]any)[0].(map[string]any)["image"])
			}
		})
	}
}

func quote(s string) string {
	if s[len(s)-1] == '%' {
		return `"` + s + `"`
	}
	return s
}

func TestMinReadySeconds(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk)
	apply(t, c, deploymentYAML("web", "web:v1", 1, "  minReadySeconds: 30\n"))
	clk.Advance(5 * time.Second)
	dep := get(t, c, web)
	assert.Equal(t, int64(1), num(dep, "status", "readyReplicas"))
	assert.Equal(t, int64(0), num(dep, "status", "availableReplicas"), "ready but not yet for minReadySeconds")
	assert.Equal(t, health.Progressing, healthOf(t, c, web))
	clk.Advance(29 * time.Second)
	assert.Equal(t, health.Progressing, healthOf(t, c, web))
	clk.Advance(time.Second)
	assert.Equal(t, health.Healthy, healthOf(t, c, web))
}

func TestNeverReadyExceedsProgressDeadline(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk, sim.WithBehavior("web:bad", sim.Behavior{NeverReady: true}))
	apply(t, c, deploymentYAML("web", "web:v1", 3, "  progressDeadlineSeconds: 120\n"))
	clk.Advance(time.Minute)
	require.Equal(t, health.Healthy, healthOf(t, c, web))

	apply(t, c, deploymentYAML("web", "web:bad", 3, "  progressDeadlineSeconds: 120\n"))
	clk.Advance(119 * time.Second)
	assert.Equal(t, health.Progressing, healthOf(t, c, web))
	clk.Advance(time.Second)
	st, msg, err := c.Health(web)
	require.NoError(t, err)
	assert.Equal(t, health.Degraded, st)
	assert.Contains(t, msg, "progress deadline")
	dep := get(t, c, web)
	assert.Equal(t, "ProgressDeadlineExceeded", condition(dep, "Progressing")["reason"])
	assert.Equal(t, "False", condition(dep, "Progressing")["status"])
	assert.Equal(t, int64(3), num(dep, "status", "availableReplicas"), "old pods keep serving")

	// Fixing the image recovers the rollout.
	apply(t, c, deploymentYAML("web", "web:v3", 3, "  progressDeadlineSeconds: 120\n"))
	clk.Advance(time.Minute)
	assert.Equal(t, health.Healthy, healthOf(t, c, web))
}

func TestCrashLoop(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk, sim.WithBehavior("web", sim.Behavior{CrashLoop: true}))
	apply(t, c, deploymentYAML("web", "web:v1@sha256:"+fmt.Sprintf("%064d", 1), 1, ""))
	rs := c.Owned(web)
	require.Len(t, rs, 1)
	pods := c.Owned(rs[0])
	require.Len(t, pods, 1)
	assert.Equal(t, health.Progressing, healthOf(t, c, pods[0]), "running until the first crash")
	clk.Advance(30 * time.Second)
	st, msg, err := c.Health(pods[0])
	require.NoError(t, err)
	assert.Equal(t, health.Degraded, st)
	assert.Contains(t, msg, "back-off")
	pod := get(t, c, pods[0])
	cs := field(pod, "status", "containerStatuses").([]any)[0].(map[string]any)
	assert.Equal(t, int64(1), cs["restartCount"])
	assert.Equal(t, "CrashLoopBackOff", field(cs, "state", "waiting", "reason"))
	clk.Advance(10 * time.Minute)
	assert.Equal(t, health.Degraded, healthOf(t, c, web))
}

func TestRecreate(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk)
	strategy := "  strategy: {type: Recreate}\n"
	apply(t, c, deploymentYAML("web", "web:v1", 2, strategy))
	clk.Advance(5 * time.Second)
	apply(t, c, deploymentYAML("web", "web:v2", 2, strategy))
	dep := get(t, c, web)
	assert.Equal(t, int64(2), num(dep, "status", "replicas"))
	assert.Equal(t, int64(2), num(dep, "status", "updatedReplicas"), "old pods go before new ones start")
	assert.Equal(t, int64(0), num(dep, "status", "availableReplicas"))
	clk.Advance(5 * time.Second)
	assert.Equal(t, health.Healthy, healthOf(t, c, web))
}

func TestRollbackReusesReplicaSet(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk)
	apply(t, c, deploymentYAML("web", "web:v1", 1, ""))
	clk.Advance(5 * time.Second)
	apply(t, c, deploymentYAML("web", "web:v2", 1, ""))
	clk.Advance(5 * time.Second)
	apply(t, c, deploymentYAML("web", "web:v1", 1, ""))
	rss := c.Owned(web)
	require.Len(t, rss, 2, "the v1 ReplicaSet is scaled up again")
	assert.Equal(t, "3", field(get(t, c, rss[0]), "metadata", "annotations", "deployment.kubernetes.io/revision"))
	dep := get(t, c, web)
	assert.Equal(t, int64(3), field(dep, "metadata", "generation"))
	clk.Advance(5 * time.Second)
	assert.Equal(t, health.Healthy, healthOf(t, c, web))
}

func TestPausedIsSuspended(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk)
	apply(t, c, deploymentYAML("web", "web:v1", 1, "  paused: true\n"))
	assert.Equal(t, health.Suspended, healthOf(t, c, web))
}

func TestBadInput(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk)
	tests := []struct {
		name, yaml, msg string
	}{
		{"not yaml", "kind: [", "decode manifests"},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", "apiVersion, kind and metadata.name are required"},
		{"no name", "apiVersion: v1\nkind: ConfigMap\n", "apiVersion, kind and metadata.name are required"},
		{"zero surge and unavailable", deploymentYAML("web", "w:1", 1, "  strategy:\n    rollingUpdate: {maxSurge: 0, maxUnavailable: 0}\n"), "may not both be zero"},
		{"bad percent", deploymentYAML("web", "w:1", 1, "  strategy:\n    rollingUpdate: {maxSurge: \"x%\"}\n"), "invalid value"},
		{"unknown strategy", deploymentYAML("web", "w:1", 1, "  strategy: {type: BlueGreen}\n"), `unknown spec.strategy.type "BlueGreen"`},
		{"string replicas", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: three}\n", "spec.replicas must be an integer"},
		{"no containers", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {spec: {containers: []}}}\n", "containers is empty"},
		{"no image", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {spec: {containers: [{name: a}]}}}\n", "image is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Apply(context.Background(), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n---\n"+tt.yaml))
			require.ErrorIs(t, err, sim.ErrInvalidObject)
			assert.ErrorContains(t, err, tt.msg)
			assert.Equal(t, 1, strings.Count(err.Error(), "sim: "), "one prefix in %q", err)
			assert.False(t, strings.HasSuffix(err.Error(), "\n"))
			assert.Empty(t, c.Objects(), "nothing is applied when one document is bad")
		})
	}
	_, err := c.Get(web)
	assert.ErrorIs(t, err, sim.ErrNotFound)
	assert.EqualError(t, err, "sim: get Deployment shop/web: object not found")
	assert.ErrorIs(t, c.Delete(context.Background(), web), sim.ErrNotFound)
	st, _, err := c.Health(web)
	assert.ErrorIs(t, err, sim.ErrNotFound)
	assert.Equal(t, health.Missing, st)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Apply(ctx, []byte(deploymentYAML("web", "w:1", 1, "")))
	assert.ErrorIs(t, err, context.Canceled)
}

func TestNilClockIsTheSystemClock(t *testing.T) {
	c := sim.New(nil, sim.WithDefaultBehavior(sim.Behavior{}))
	apply(t, c, deploymentYAML("web", "web:v1", 1, ""))
	assert.Equal(t, health.Healthy, healthOf(t, c, web), "ready at once on the wall clock")
	created, err := time.Parse(time.RFC3339, field(get(t, c, web), "metadata", "creationTimestamp").(string))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), created, time.Minute)
}

// TestBehaviorOfDigestKeyMatchesRenderedDigest is the reported case: a
// behaviour set for "repo:tag@digest" must reach pods of the manifest
// kustomize renders, "repo@digest".
func TestBehaviorOfDigestKeyMatchesRenderedDigest(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk)
	require.NoError(t, c.SetBehavior("registry.example/shop/web:v2@"+digest, sim.Behavior{NeverReady: true}))
	apply(t, c, deploymentYAML("web", "registry.example/shop/web@"+digest, 2, "  progressDeadlineSeconds: 60\n"))
	clk.Advance(time.Minute)
	st, msg, err := c.Health(web)
	require.NoError(t, err)
	assert.Equal(t, health.Degraded, st, "the broken image does not run healthy")
	assert.Contains(t, msg, "progress deadline")
}

func TestUnparseableRenderedImageNeverRuns(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk, sim.WithTraffic(10))
	apply(t, c, deploymentYAML("web", "Registry.Example/Web:v1", 1, "  progressDeadlineSeconds: 60\n"))
	clk.Advance(time.Minute)
	assert.Equal(t, health.Degraded, healthOf(t, c, web))
	rs := c.Owned(web)
	require.Len(t, rs, 1)
	pods := c.Owned(rs[0])
	require.Len(t, pods, 1)
	pod := get(t, c, pods[0])
	assert.Equal(t, "Pending", field(pod, "status", "phase"))
	cs := field(pod, "status", "containerStatuses").([]any)[0].(map[string]any)
	assert.Equal(t, "InvalidImageName", field(cs, "state", "waiting", "reason"))
	assert.Equal(t, false, cs["ready"])
	served, _, err := c.Requests(web)
	require.NoError(t, err)
	assert.Zero(t, served, "a pod that never started serves nothing")
}

func TestDelete(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk)
	apply(t, c, deploymentYAML("web", "web:v1", 2, ""))
	require.NoError(t, c.Delete(context.Background(), web))
	assert.Empty(t, c.Objects())
	assert.Empty(t, c.Owned(web))
	_, err := c.Get(web)
	assert.ErrorIs(t, err, sim.ErrNotFound)
}

func TestAccelerate(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk, sim.WithDefaultBehavior(sim.Behavior{ReadyAfter: time.Minute}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Read the start before anything runs: the accelerated clock moves on
	// its own, so a start read after Apply may already be past the pods'
	// start, or even past their readiness.
	start := clk.Now()
	go clk.Accelerate(ctx, 100000)
	apply(t, c, deploymentYAML("web", "web:v1", 10, "  strategy:\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n"))
	for healthOf(t, c, web) != health.Healthy {
		<-clk.After(time.Second)
	}
	assert.GreaterOrEqual(t, clk.Now().Sub(start), time.Minute, "a minute of simulated time passed")
}

func TestClock(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	start := clk.Now()
	assert.Equal(t, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), start)
	a, b := clk.After(2*time.Second), clk.After(time.Second)
	assert.Equal(t, 2, clk.Pending())
	require.True(t, clk.AdvanceToNext())
	assert.Equal(t, start.Add(time.Second), <-b)
	select {
	case <-a:
		t.Fatal("fired early")
	default:
	}
	clk.Advance(time.Hour)
	assert.Equal(t, start.Add(2*time.Second), <-a, "a timer fires at its deadline even when the clock jumps past it")
	assert.Equal(t, start.Add(time.Hour+time.Second), clk.Now())
	assert.False(t, clk.AdvanceToNext())
	assert.Equal(t, start.Add(time.Hour+time.Second), <-clk.After(0))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, clk.Sleep(ctx, time.Second), context.Canceled)
	assert.ErrorIs(t, clk.WaitForTimers(ctx, 5), context.Canceled)
}

func ExampleCluster() {
	clk := sim.NewClock(time.Time{})
	cluster := sim.New(clk,
		sim.WithDefaultBehavior(sim.Behavior{ReadyAfter: 20 * time.Second}),
		sim.WithBehavior("registry.example/web:broken", sim.Behavior{NeverReady: true}),
	)
	ctx := context.Background()
	manifest := func(image string) []byte {
		return []byte(deploymentYAML("web", image, 3, "  progressDeadlineSeconds: 300\n"))
	}
	report := func() {
		st, msg, _ := cluster.Health(web)
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%v %s %s", clk.Now().Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), st, msg)))
	}
	if _, err := cluster.Apply(ctx, manifest("registry.example/web:v1")); err != nil {
		fmt.Println(err)
		return
	}
	report()
	clk.Advance(20 * time.Second)
	report()
	if _, err := cluster.Apply(ctx, manifest("registry.example/web:broken")); err != nil {
		fmt.Println(err)
		return
	}
	report()
	clk.Advance(5 * time.Minute)
	report()
	// Output:
	// 0s Progressing Waiting for rollout to finish: 0 of 3 updated replicas are available...
	// 20s Healthy
	// 20s Progressing Waiting for rollout to finish: 1 out of 3 new replicas have been updated...
	// 5m20s Degraded Deployment "web" exceeded its progress deadline
}
