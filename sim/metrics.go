package sim

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// latencyBuckets are the upper bounds of the request duration histogram:
// Prometheus' default buckets.
var latencyBuckets = prometheus.DefBuckets

type seriesKey struct {
	ns, deployment, hash string
	code                 int
}

// series is one request duration histogram.
type series struct {
	count   uint64
	sum     float64
	buckets []uint64 // per bucket, not cumulative; len(latencyBuckets)
}

func (s *series) observe(v float64) {
	s.count++
	s.sum += v
	i := sort.SearchFloat64s(latencyBuckets, v)
	if i < len(s.buckets) {
		s.buckets[i]++
	}
}

func (c *Cluster) seriesFor(k seriesKey) *series {
	s := c.series[k]
	if s == nil {
		s = &series{buckets: make([]uint64, len(latencyBuckets))}
		c.series[k] = s
	}
	return s
}

type gatewayKey struct {
	route, backend string
	code           int
}

// metrics is the cluster's collector: every value is computed from the
// cluster's state at scrape time, after playing out events up to now.
type metrics struct {
	c                                 *Cluster
	requests, duration, gateway       *prometheus.Desc
	cpu, memory, restarts, readyState *prometheus.Desc
}

func newMetrics(c *Cluster) *metrics {
	dep := []string{"namespace", "deployment", "pod_template_hash", "code"}
	pod := []string{"namespace", "pod", "container"}
	return &metrics{
		c: c,
		requests: prometheus.NewDesc("flightdeck_sim_requests_total",
			"Requests served by the simulated pods of each Deployment and pod template, by HTTP status code.", dep, nil),
		duration: prometheus.NewDesc("flightdeck_sim_request_duration_seconds",
			"Duration of the requests served by the simulated pods of each Deployment and pod template, by HTTP status code.", dep, nil),
		gateway: prometheus.NewDesc("flightdeck_sim_gateway_requests_total",
			"Requests routed by HTTPRoutes, by backend Service (empty when there was none) and HTTP status code.",
			[]string{"namespace", "route", "backend", "code"}, nil),
		cpu: prometheus.NewDesc("container_cpu_usage_seconds_total",
			"Cumulative CPU time consumed by the container, in seconds.", pod, nil),
		memory: prometheus.NewDesc("container_memory_working_set_bytes",
			"Current working set of the container, in bytes.", pod, nil),
		restarts: prometheus.NewDesc("kube_pod_container_status_restarts_total",
			"The number of container restarts per container.", pod, nil),
		readyState: prometheus.NewDesc("kube_pod_container_status_ready",
			"Describes whether the container's readiness check succeeded.", pod, nil),
	}
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.requests, m.duration, m.gateway, m.cpu, m.memory, m.restarts, m.readyState} {
		ch <- d
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	c := m.c
	c.mu.Lock()
	c.advance()
	var out []prometheus.Metric
	for k, s := range c.series {
		labels := []string{k.ns, k.deployment, k.hash, strconv.Itoa(k.code)}
		out = append(out, prometheus.MustNewConstMetric(m.requests, prometheus.CounterValue, float64(s.count), labels...))
		cum := make(map[float64]uint64, len(latencyBuckets))
		var n uint64
		for i, ub := range latencyBuckets {
			n += s.buckets[i]
			cum[ub] = n
		}
		out = append(out, prometheus.MustNewConstHistogram(m.duration, s.count, s.sum, cum, labels...))
	}
	for k, n := range c.gateway {
		ns, route := splitName(k.route)
		out = append(out, prometheus.MustNewConstMetric(m.gateway, prometheus.CounterValue, float64(n), ns, route, k.backend, strconv.Itoa(k.code)))
	}
	for _, k := range c.sortedDeployments() {
		d := c.deployments[k]
		for _, rs := range d.sets {
			containers := rs.containerNames()
			for _, p := range rs.pods {
				restarts := 0
				if p.crash {
					restarts, _, _ = p.crashState(c.now)
				}
				ready := 0.0
				if p.ready(c.now) {
					ready = 1
				}
				for i, name := range containers {
					labels := []string{k.ns, p.name, name}
					cpu, mem := 0.0, 0.0
					if i == 0 { // the first container serves the requests
						cpu = float64(p.served) * p.behavior.CPUPerRequest.Seconds()
						if p.invalidImage == "" && !p.crash {
							mem = float64(p.behavior.Memory)
						}
					}
					r := 0
					if i == 0 {
						r = restarts
					}
					out = append(out,
						prometheus.MustNewConstMetric(m.cpu, prometheus.CounterValue, cpu, labels...),
						prometheus.MustNewConstMetric(m.memory, prometheus.GaugeValue, mem, labels...),
						prometheus.MustNewConstMetric(m.restarts, prometheus.CounterValue, float64(r), labels...),
						prometheus.MustNewConstMetric(m.readyState, prometheus.GaugeValue, ready, labels...),
					)
				}
			}
		}
	}
	c.mu.Unlock()
	for _, mt := range out {
		ch <- mt
	}
}

func splitName(nsName string) (string, string) {
	for i := range len(nsName) {
		if nsName[i] == '/' {
			return nsName[:i], nsName[i+1:]
		}
	}
	return "", nsName
}

// MetricsHandler serves the cluster's metrics in the Prometheus text
// format, as a real cluster's exporters would, so Prometheus (or
// health.Scrape) can scrape them over HTTP. Every scrape first plays out
// the simulation up to now. The metrics:
//
//   - flightdeck_sim_requests_total{namespace, deployment,
//     pod_template_hash, code}: requests served by pods (a counter), and
//     flightdeck_sim_request_duration_seconds with the same labels, a
//     histogram on Prometheus' default buckets;
//   - flightdeck_sim_gateway_requests_total{namespace, route, backend,
//     code}: requests an HTTPRoute routed, by backend Service;
//   - cAdvisor's container_cpu_usage_seconds_total and
//     container_memory_working_set_bytes and kube-state-metrics'
//     kube_pod_container_status_restarts_total and
//     kube_pod_container_status_ready, each {namespace, pod, container}.
//
// Pod metrics are labelled by pod, as real clusters label them; a pod's
// name starts with its Deployment's name and pod-template hash, so
// {pod=~"web-HASH-.*"} selects one ReplicaSet's pods.
func (c *Cluster) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(c.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
}

// LogLine is one line a simulated container wrote.
type LogLine struct {
	// Time is when it was written.
	Time time.Time
	// Pod and Container name the writer.
	Pod, Container string
	// Text is the line, in logfmt.
	Text string
}

// String returns "TIME POD/CONTAINER TEXT".
func (l LogLine) String() string {
	return l.Time.UTC().Format(time.RFC3339Nano) + " " + l.Pod + "/" + l.Container + " " + l.Text
}

// maxLogLines is how many lines a pod keeps, the newest.
const maxLogLines = 1000

func (p *pod) log(t time.Time, text string) {
	if len(p.logs) >= maxLogLines {
		copy(p.logs, p.logs[1:])
		p.logs = p.logs[:len(p.logs)-1]
	}
	p.logs = append(p.logs, logEntry{t, text})
}

type logEntry struct {
	t    time.Time
	text string
}

// Logs returns the log lines of the pods of ref (a Pod, a ReplicaSet or a
// Deployment) as of now, oldest first: each pod logs one error line per
// failed request (and, with [Behavior.AccessLog], one info line per
// request it answered well) and keeps its newest 1000 lines. Pods that are gone take
// their logs with them, as in Kubernetes. It returns an error wrapping
// [ErrNotFound] if ref names no such object.
func (c *Cluster) Logs(ref Ref) ([]LogLine, error) {
	c.lockAt(&ref)
	defer c.mu.Unlock()
	var lines []LogLine
	found := false
	for _, k := range c.sortedDeployments() {
		d := c.deployments[k]
		if k.ns != ref.Namespace {
			continue
		}
		for _, rs := range d.sets {
			for _, p := range rs.pods {
				if ref.Kind == "Deployment" && d.obj.ref.Name == ref.Name ||
					ref.Kind == "ReplicaSet" && rs.name == ref.Name ||
					ref.Kind == "Pod" && p.name == ref.Name {
					found = true
					container := rs.containerNames()[0]
					for _, e := range p.logs {
						lines = append(lines, LogLine{Time: e.t, Pod: p.name, Container: container, Text: e.text})
					}
				}
			}
			if ref.Kind == "ReplicaSet" && rs.name == ref.Name {
				found = true
			}
		}
		if ref.Kind == "Deployment" && d.obj.ref.Name == ref.Name {
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("sim: logs of %s: %w", ref, ErrNotFound)
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].Time.Before(lines[j].Time) })
	return lines, nil
}
