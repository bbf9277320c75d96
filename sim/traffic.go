package sim

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WithTraffic makes every ready pod of every Deployment serve rps requests
// per second of cluster time; a pod fails the fraction
// [Behavior.ErrorRate] of them. Requests are counted exactly (as
// fractions) between events, and exposed by [Cluster.Requests] and, with
// [WithRegisterer], as a Prometheus counter. The default is no traffic.
func WithTraffic(rps float64) Option {
	return func(c *Cluster) {
		if rps > 0 {
			c.rps = rps
		}
	}
}

// WithRegisterer registers the cluster's request counter,
// flightdeck_sim_requests_total{namespace, deployment, code} (code "200"
// or "500"), with reg. The default (nil) registers nothing.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(c *Cluster) { c.reg = reg }
}

type tally struct{ ok, failed float64 }

func newRequestCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flightdeck_sim_requests_total",
		Help: "Requests served by the simulated pods of each Deployment, by HTTP status code.",
	}, []string{"namespace", "deployment", "code"})
}

// accrue counts the requests served from c.now until to; c.mu is held.
// Ready pods do not change between events, so the count is exact.
func (c *Cluster) accrue(to time.Time) {
	if c.rps <= 0 || !to.After(c.now) {
		return
	}
	secs := to.Sub(c.now).Seconds()
	for k, d := range c.deployments {
		var ok, failed float64
		for _, rs := range d.sets {
			for _, p := range rs.pods {
				if !p.ready(c.now) {
					continue
				}
				n := c.rps * secs
				er := min(max(p.behavior.ErrorRate, 0), 1)
				ok += n * (1 - er)
				failed += n * er
			}
		}
		if ok == 0 && failed == 0 {
			continue
		}
		t := c.requests[k]
		if t == nil {
			t = &tally{}
			c.requests[k] = t
		}
		t.ok += ok
		t.failed += failed
		if ok > 0 {
			c.counter.WithLabelValues(k.ns, k.name, "200").Add(ok)
		}
		if failed > 0 {
			c.counter.WithLabelValues(k.ns, k.name, "500").Add(failed)
		}
	}
}

// Requests returns how many requests the pods of Deployment ref have
// served and how many of them failed, as of now. It returns an error
// wrapping [ErrNotFound] if ref is not a Deployment of the cluster.
func (c *Cluster) Requests(ref Ref) (served, failed float64, err error) {
	if ref.Namespace == "" {
		ref.Namespace = "default"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance()
	k := ref.key()
	if _, ok := c.deployments[k]; !ok {
		return 0, 0, fmt.Errorf("sim: requests of %s: %w", ref, ErrNotFound)
	}
	t := c.requests[k]
	if t == nil {
		return 0, 0, nil
	}
	return t.ok + t.failed, t.failed, nil
}
