package sim_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/sim"
)

// hashOf returns the pod-template hash of Deployment ref's newest
// ReplicaSet.
func hashOf(t *testing.T, c *sim.Cluster, ref sim.Ref) string {
	t.Helper()
	rss := c.Owned(ref)
	require.NotEmpty(t, rss)
	rs := get(t, c, rss[len(rss)-1])
	return field(rs, "metadata", "labels", "pod-template-hash").(string)
}

func TestTraffic(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	reg := prometheus.NewPedanticRegistry()
	c := sim.New(clk, sim.WithTraffic(10), sim.WithRegisterer(reg),
		sim.WithBehavior("web:v2", sim.Behavior{ReadyAfter: 5 * time.Second, ErrorRate: 0.25}))
	apply(t, c, deploymentYAML("web", "web:v1", 2, ""))
	v1 := hashOf(t, c, web)
	clk.Advance(15 * time.Second)
	served, failed, err := c.Requests(web)
	require.NoError(t, err)
	assert.Equal(t, 200.0, served, "two pods, ready for 10s, 10 rps each")
	assert.Zero(t, failed)

	// Recreate v2 so only v2 pods serve from then on.
	apply(t, c, deploymentYAML("web", "web:v2", 2, "  strategy: {type: Recreate}\n"))
	v2 := hashOf(t, c, web)
	clk.Advance(25 * time.Second)
	served, failed, err = c.Requests(web)
	require.NoError(t, err)
	assert.Equal(t, 600.0, served, "plus two v2 pods ready for 20s")
	// 400 v2 requests failing with probability 1/4: 100 expected, 8.7
	// standard deviations of a binomial; allow four.
	assert.InDelta(t, 100, failed, 35, "about a quarter of the v2 requests fail")

	err = testutil.GatherAndCompare(reg, strings.NewReader(fmt.Sprintf(`
# HELP flightdeck_sim_requests_total Requests served by the simulated pods of each Deployment and pod template, by HTTP status code.
# TYPE flightdeck_sim_requests_total counter
flightdeck_sim_requests_total{code="200",deployment="web",namespace="shop",pod_template_hash=%q} 200
flightdeck_sim_requests_total{code="200",deployment="web",namespace="shop",pod_template_hash=%q} %g
flightdeck_sim_requests_total{code="500",deployment="web",namespace="shop",pod_template_hash=%q} %g
`, v1, v2, 400-failed, v2, failed)), "flightdeck_sim_requests_total")
	assert.NoError(t, err)
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)

	_, _, err = c.Requests(sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Name: "nope"})
	assert.ErrorIs(t, err, sim.ErrNotFound)
}

func TestNoTrafficByDefault(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk)
	apply(t, c, deploymentYAML("web", "web:v1", 1, ""))
	clk.Advance(time.Minute)
	served, _, err := c.Requests(web)
	require.NoError(t, err)
	assert.Zero(t, served)
}

func serviceYAML(name string, selector string) string {
	return fmt.Sprintf(`---
apiVersion: v1
kind: Service
metadata: {name: %s, namespace: shop}
spec:
  selector: {%s}
  ports: [{port: 80}]
`, name, selector)
}

func svcRef(name string) sim.Ref {
	return sim.Ref{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: name}
}

var route = sim.Ref{APIVersion: "gateway.networking.k8s.io/v1", Kind: "HTTPRoute", Namespace: "shop", Name: "web"}

func routeYAML(backends ...string) string {
	return `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs:
` + strings.Join(backends, "")
}

func backendYAML(name string, weight int) string {
	if weight < 0 {
		return fmt.Sprintf("    - {name: %s, port: 80}\n", name)
	}
	return fmt.Sprintf("    - {name: %s, port: 80, weight: %d}\n", name, weight)
}

// threeBackends applies Deployments a, b and c of 2 pods each, a Service
// per Deployment, and an HTTPRoute with the given weights (-1: omitted),
// all ready.
func threeBackends(t *testing.T, weights [3]int, opts ...sim.Option) (*sim.Cluster, *sim.Clock) {
	t.Helper()
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk, opts...)
	var y strings.Builder
	for _, n := range []string{"a", "b", "c"} {
		y.WriteString(deploymentYAML(n, "web:"+n, 2, ""))
		y.WriteString(serviceYAML(n, "app: "+n))
		y.WriteString("---\n")
	}
	y.WriteString(routeYAML(backendYAML("a", weights[0]), backendYAML("b", weights[1]), backendYAML("c", weights[2])))
	apply(t, c, y.String())
	clk.Advance(time.Minute)
	return c, clk
}

// TestHTTPRouteWeights is Gateway API's weight conformance test on the
// simulated gateway: weights 70/30/0, 500 requests, each backend's share
// within 5% of its weight's, the weight-0 backend getting none.
func TestHTTPRouteWeights(t *testing.T) {
	c, _ := threeBackends(t, [3]int{70, 30, 0})
	res, err := c.Send(context.Background(), route, 500)
	require.NoError(t, err)
	assert.Equal(t, map[int]int{200: 500}, res.Codes)
	for name, want := range map[string]float64{"shop/a": 0.7, "shop/b": 0.3} {
		assert.InDelta(t, want, float64(res.Backends[name])/500, 0.05, "share of %s", name)
	}
	assert.Zero(t, res.Backends["shop/c"], "weight 0 gets nothing")
	assert.Equal(t, res.Backends["shop/a"], res.Deployments["shop/a"], "a's Service sends to a's pods")
	served, _, err := c.Requests(sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "c"})
	require.NoError(t, err)
	assert.Zero(t, served)

	// The shares converge on the weights: with 100,000 requests, within 1%.
	res, err = c.Send(context.Background(), route, 100_000)
	require.NoError(t, err)
	assert.InDelta(t, 0.7, float64(res.Backends["shop/a"])/100_000, 0.01)
	assert.InDelta(t, 0.3, float64(res.Backends["shop/b"])/100_000, 0.01)
	assert.Zero(t, res.Backends["shop/c"])
}

func TestHTTPRouteEdgeWeights(t *testing.T) {
	t.Run("omitted weight is 1", func(t *testing.T) {
		c, _ := threeBackends(t, [3]int{-1, -1, 0})
		res, err := c.Send(context.Background(), route, 10_000)
		require.NoError(t, err)
		assert.InDelta(t, 0.5, float64(res.Backends["shop/a"])/10_000, 0.02)
		assert.InDelta(t, 0.5, float64(res.Backends["shop/b"])/10_000, 0.02)
	})
	t.Run("all zero is no backend", func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		c, _ := threeBackends(t, [3]int{0, 0, 0}, sim.WithRegisterer(reg))
		res, err := c.Send(context.Background(), route, 10)
		require.NoError(t, err)
		assert.Equal(t, map[int]int{503: 10}, res.Codes)
		assert.Empty(t, res.Backends)
		assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP flightdeck_sim_gateway_requests_total Requests routed by HTTPRoutes, by backend Service (empty when there was none) and HTTP status code.
# TYPE flightdeck_sim_gateway_requests_total counter
flightdeck_sim_gateway_requests_total{backend="",code="503",namespace="shop",route="web"} 10
`), "flightdeck_sim_gateway_requests_total"))
	})
	t.Run("missing Service answers 500", func(t *testing.T) {
		clk := sim.NewClock(time.Time{})
		c := sim.New(clk)
		apply(t, c, routeYAML(backendYAML("ghost", 1)))
		res, err := c.Send(context.Background(), route, 3)
		require.NoError(t, err)
		assert.Equal(t, map[int]int{500: 3}, res.Codes)
	})
	t.Run("no ready pod answers 503", func(t *testing.T) {
		clk := sim.NewClock(time.Time{})
		c := sim.New(clk, sim.WithDefaultBehavior(sim.Behavior{ReadyAfter: time.Minute}))
		apply(t, c, deploymentYAML("web", "web:v1", 1, "")+serviceYAML("web", "app: web"))
		res, err := c.Send(context.Background(), svcRef("web"), 4)
		require.NoError(t, err)
		assert.Equal(t, map[int]int{503: 4}, res.Codes, "not ready yet: no endpoints")
		clk.Advance(time.Minute)
		res, err = c.Send(context.Background(), svcRef("web"), 4)
		require.NoError(t, err)
		assert.Equal(t, map[int]int{200: 4}, res.Codes)
	})
	t.Run("bad input", func(t *testing.T) {
		clk := sim.NewClock(time.Time{})
		c := sim.New(clk)
		apply(t, c, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: shop}\n---\n"+
			routeYAML("    - {name: a, port: 80, weight: -3}\n"))
		_, err := c.Send(context.Background(), route, 1)
		require.ErrorIs(t, err, sim.ErrInvalidObject)
		assert.EqualError(t, err, "sim: send to HTTPRoute shop/web: invalid object: spec.rules backendRefs[0].weight must be an integer from 0 to 1000000, got -3")
		_, err = c.Send(context.Background(), sim.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "cm"}, 1)
		assert.ErrorIs(t, err, sim.ErrInvalidObject)
		_, err = c.Send(context.Background(), svcRef("nope"), 1)
		assert.ErrorIs(t, err, sim.ErrNotFound)
		assert.ErrorIs(t, c.SetLoad(svcRef("nope"), 1), sim.ErrNotFound)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = c.Send(ctx, route, 1)
		assert.ErrorIs(t, err, context.Canceled)
	})
}

// TestServiceSplitsByReadyPods shows the mesh-less canary: one Service
// selecting the pods of a stable and a canary Deployment sends each the
// share of its ready pods.
func TestServiceSplitsByReadyPods(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk)
	canary := strings.Replace(deploymentYAML("web-canary", "web:v2", 1, ""), "labels: {app: web-canary}", "labels: {app: web, track: canary}", 1)
	canary = strings.Replace(canary, "matchLabels: {app: web-canary}", "matchLabels: {app: web, track: canary}", 1)
	apply(t, c, deploymentYAML("web", "web:v1", 9, "")+"---\n"+canary+serviceYAML("web", "app: web"))
	clk.Advance(time.Minute)
	res, err := c.Send(context.Background(), svcRef("web"), 20_000)
	require.NoError(t, err)
	assert.InDelta(t, 0.1, float64(res.Deployments["shop/web-canary"])/20_000, 0.01)
	assert.InDelta(t, 0.9, float64(res.Deployments["shop/web"])/20_000, 0.01)
	assert.Equal(t, map[string]int{"shop/web": 20_000}, res.Backends)
}

func TestLoadOverTimeAndPodMetrics(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	good := sim.Behavior{Latency: sim.Latency{Median: 100 * time.Millisecond, P99: 400 * time.Millisecond},
		CPUPerRequest: 2 * time.Millisecond, Memory: 64 << 20}
	bad := good
	bad.ErrorRate = 0.05
	c := sim.New(clk, sim.WithDefaultBehavior(good), sim.WithBehavior("web:v2", bad),
		sim.WithBehavior("web:crash", sim.Behavior{CrashLoop: true}))
	canary := strings.ReplaceAll(deploymentYAML("canary", "web:v2", 1, ""), "{app: canary}", "{app: web, track: canary}")
	apply(t, c, deploymentYAML("web", "web:v1", 1, "")+"---\n"+canary+serviceYAML("web", "app: web")+"---\n"+
		deploymentYAML("crashy", "web:crash", 1, ""))
	require.NoError(t, c.SetLoad(svcRef("web"), 100))
	clk.Advance(10 * time.Minute)
	require.NoError(t, c.SetLoad(svcRef("web"), 0), "0 stops the load")
	clk.Advance(time.Minute)

	srv := httptest.NewServer(c.MetricsHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	require.NoError(t, err)

	sum := func(name string, match func(map[string]string) bool) float64 {
		total := 0.0
		for _, m := range mfs[name].GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if match(labels) {
				switch {
				case m.Counter != nil:
					total += m.GetCounter().GetValue()
				case m.Gauge != nil:
					total += m.GetGauge().GetValue()
				case m.Histogram != nil:
					total += float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		return total
	}
	dep := func(d string, code string) func(map[string]string) bool {
		return func(l map[string]string) bool { return l["deployment"] == d && (code == "" || l["code"] == code) }
	}
	// Ready at once: 100 rps for 600s.
	total := sum("flightdeck_sim_requests_total", dep("web", "")) + sum("flightdeck_sim_requests_total", dep("canary", ""))
	assert.Equal(t, 60_000.0, total, "the load stopped when set to 0")
	canaryServed := sum("flightdeck_sim_requests_total", dep("canary", ""))
	assert.InDelta(t, 0.5, canaryServed/total, 0.02, "two ready pods, half each")
	assert.InDelta(t, 0.05, sum("flightdeck_sim_requests_total", dep("canary", "500"))/canaryServed, 0.01)
	assert.Zero(t, sum("flightdeck_sim_requests_total", dep("web", "500")))
	assert.Equal(t, total, sum("flightdeck_sim_request_duration_seconds", func(map[string]string) bool { return true }))

	// The latency histogram has the configured median.
	var below, count float64
	for _, m := range mfs["flightdeck_sim_request_duration_seconds"].GetMetric() {
		h := m.GetHistogram()
		count += float64(h.GetSampleCount())
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() == 0.1 {
				below += float64(b.GetCumulativeCount())
			}
		}
	}
	assert.InDelta(t, 0.5, below/count, 0.02, "half the requests take at most the 100ms median")

	podOf := func(d string) func(map[string]string) bool {
		return func(l map[string]string) bool { return strings.HasPrefix(l["pod"], d+"-") }
	}
	webServed := total - canaryServed
	assert.InDelta(t, webServed*0.002, sum("container_cpu_usage_seconds_total", podOf("web")), 1e-6, "2ms of CPU per request")
	assert.Equal(t, float64(64<<20), sum("container_memory_working_set_bytes", podOf("web")))
	assert.Equal(t, 1.0, sum("kube_pod_container_status_ready", podOf("web")))
	assert.Zero(t, sum("container_memory_working_set_bytes", podOf("crashy")))
	assert.Equal(t, 0.0, sum("kube_pod_container_status_ready", podOf("crashy")))
	assert.GreaterOrEqual(t, sum("kube_pod_container_status_restarts_total", podOf("crashy")), 5.0)
	assert.Contains(t, string(body), `pod_template_hash="`+hashOf(t, c, sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "canary"})+`"`)
	assert.Contains(t, string(body), "# TYPE flightdeck_sim_request_duration_seconds histogram")

	// Each failed request is an error line in the canary's logs; a pod
	// keeps its newest 1000.
	lines, err := c.Logs(sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "canary"})
	require.NoError(t, err)
	require.Greater(t, sum("flightdeck_sim_requests_total", dep("canary", "500")), 1000.0)
	assert.Equal(t, 1000, len(lines))
	start := sim.NewClock(time.Time{}).Now()
	assert.WithinDuration(t, start.Add(10*time.Minute), lines[len(lines)-1].Time, 10*time.Second, "the newest lines are kept")
	webLines, err := c.Logs(sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"})
	require.NoError(t, err)
	assert.Empty(t, webLines)
}

func TestLogsOneLinePerFailedRequest(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk, sim.WithDefaultBehavior(sim.Behavior{ErrorRate: 0.5, Latency: sim.Latency{Median: 30 * time.Millisecond}}))
	apply(t, c, deploymentYAML("web", "web:v1", 2, "")+serviceYAML("web", "app: web"))
	res, err := c.Send(context.Background(), svcRef("web"), 200)
	require.NoError(t, err)
	require.InDelta(t, 100, res.Codes[500], 30)
	lines, err := c.Logs(web)
	require.NoError(t, err)
	require.Equal(t, res.Codes[500], len(lines))
	assert.Equal(t, `level=error msg="request failed" method=GET path=/ status=500 duration=0.030s`, lines[0].Text)
	assert.Equal(t, "app", lines[0].Container)
	assert.Equal(t, clk.Now(), lines[0].Time)
	assert.True(t, strings.HasPrefix(lines[0].String(), "2026-01-01T00:00:00Z web-"), lines[0].String())

	// The lines of one pod, and of its ReplicaSet.
	rs := c.Owned(web)[0]
	pods := c.Owned(rs)
	perPod := 0
	for _, p := range pods {
		pl, err := c.Logs(p)
		require.NoError(t, err)
		for _, l := range pl {
			assert.Equal(t, p.Name, l.Pod)
		}
		perPod += len(pl)
	}
	assert.Equal(t, len(lines), perPod)
	rl, err := c.Logs(rs)
	require.NoError(t, err)
	assert.Equal(t, len(lines), len(rl))
	_, err = c.Logs(sim.Ref{Kind: "Pod", Namespace: "shop", Name: "nope"})
	assert.ErrorIs(t, err, sim.ErrNotFound)
	assert.ErrorContains(t, err, "sim: logs of Pod shop/nope: object not found")
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c, _ := threeBackends(t, [3]int{1, 1, 1}, sim.WithRegisterer(reg),
		sim.WithDefaultBehavior(sim.Behavior{ErrorRate: 0.5, Latency: sim.Latency{Median: time.Millisecond}}))
	_, err := c.Send(context.Background(), route, 100)
	require.NoError(t, err)
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	types := map[string]dto.MetricType{}
	for _, mf := range mfs {
		types[mf.GetName()] = mf.GetType()
	}
	assert.Equal(t, map[string]dto.MetricType{
		"flightdeck_sim_requests_total":            dto.MetricType_COUNTER,
		"flightdeck_sim_request_duration_seconds":  dto.MetricType_HISTOGRAM,
		"flightdeck_sim_gateway_requests_total":    dto.MetricType_COUNTER,
		"container_cpu_usage_seconds_total":        dto.MetricType_COUNTER,
		"container_memory_working_set_bytes":       dto.MetricType_GAUGE,
		"kube_pod_container_status_restarts_total": dto.MetricType_COUNTER,
		"kube_pod_container_status_ready":          dto.MetricType_GAUGE,
	}, types)
}

func TestSeedMakesTrafficReproducible(t *testing.T) {
	run := func(seed uint64) map[string]int {
		c, _ := threeBackends(t, [3]int{50, 50, 0}, sim.WithSeed(seed))
		res, err := c.Send(context.Background(), route, 1000)
		require.NoError(t, err)
		return res.Backends
	}
	assert.Equal(t, run(7), run(7))
	assert.NotEqual(t, run(7), run(8))
}

func ExampleCluster_Send() {
	clk := sim.NewClock(time.Time{})
	cluster := sim.New(clk,
		sim.WithDefaultBehavior(sim.Behavior{}),
		sim.WithBehavior("registry.example/web:v2", sim.Behavior{ErrorRate: 0.05}),
	)
	var manifests strings.Builder
	for _, v := range []string{"v1", "v2"} {
		fmt.Fprintf(&manifests, `apiVersion: apps/v1
kind: Deployment
metadata: {name: web-%[1]s}
spec:
  replicas: 2
  selector: {matchLabels: {app: web, version: %[1]s}}
  template:
    metadata: {labels: {app: web, version: %[1]s}}
    spec: {containers: [{name: app, image: "registry.example/web:%[1]s"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-%[1]s}
spec: {selector: {app: web, version: %[1]s}}
---
`, v)
	}
	manifests.WriteString(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  rules:
  - backendRefs: [{name: web-v1, weight: 90}, {name: web-v2, weight: 10}]
`)
	if _, err := cluster.Apply(context.Background(), []byte(manifests.String())); err != nil {
		fmt.Println(err)
		return
	}
	res, err := cluster.Send(context.Background(),
		sim.Ref{APIVersion: "gateway.networking.k8s.io/v1", Kind: "HTTPRoute", Name: "web"}, 10000)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("v1 %.0f%%, v2 %.0f%%\n", float64(res.Backends["default/web-v1"])/100, float64(res.Backends["default/web-v2"])/100)
	_, failed, _ := cluster.Requests(sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Name: "web-v2"})
	fmt.Printf("v2 failed %.0f of %d\n", failed, res.Deployments["default/web-v2"])
	// Output:
	// v1 90%, v2 10%
	// v2 failed 53 of 976
}

// BenchmarkSendThroughRoute measures the simulation's cost per request
// routed by an HTTPRoute to one of two Services of ten pods each, with
// latency and error sampling (ns/op is per request).
func BenchmarkSendThroughRoute(b *testing.B) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk, sim.WithDefaultBehavior(sim.Behavior{ErrorRate: 0.01, Latency: sim.Latency{Median: 50 * time.Millisecond, P99: 300 * time.Millisecond}}))
	var y strings.Builder
	for _, n := range []string{"a", "b"} {
		y.WriteString(deploymentYAML(n, "web:"+n, 10, ""))
		y.WriteString(serviceYAML(n, "app: "+n))
		y.WriteString("---\n")
	}
	y.WriteString(routeYAML(backendYAML("a", 90), backendYAML("b", 10)))
	if _, err := c.Apply(context.Background(), []byte(y.String())); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if _, err := c.Send(context.Background(), route, b.N); err != nil {
		b.Fatal(err)
	}
}

func TestAccessLogLinesBesideTheErrors(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk, sim.WithDefaultBehavior(sim.Behavior{ErrorRate: 0.25, AccessLog: true, Latency: sim.Latency{Median: 30 * time.Millisecond}}))
	apply(t, c, deploymentYAML("web", "web:v1", 2, "")+serviceYAML("web", "app: web"))
	res, err := c.Send(context.Background(), svcRef("web"), 200)
	require.NoError(t, err)
	lines, err := c.Logs(web)
	require.NoError(t, err)
	require.Len(t, lines, 200, "one line per request")
	errs := 0
	for _, l := range lines {
		if strings.HasPrefix(l.Text, "level=error ") {
			errs++
		} else {
			assert.Equal(t, `level=info msg="request served" method=GET path=/ status=200 duration=0.030s`, l.Text)
		}
	}
	assert.Equal(t, res.Codes[500], errs)
	assert.Equal(t, res.Codes[200], len(lines)-errs)
}
