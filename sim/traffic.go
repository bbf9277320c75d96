package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Latency is a log-normal distribution of request latencies given by two
// quantiles, the way latency is usually specified. The zero value means
// requests take no time.
type Latency struct {
	// Median is the 50th percentile.
	Median time.Duration
	// P99 is the 99th percentile. Zero, or a value not above Median,
	// makes every request take exactly Median.
	P99 time.Duration
}

// z99 is the standard normal's 99th percentile.
const z99 = 2.3263478740408408

// sample draws one latency in seconds.
func (l Latency) sample(rng *rand.Rand) float64 {
	m := l.Median.Seconds()
	if m <= 0 {
		return 0
	}
	if l.P99 <= l.Median {
		return m
	}
	sigma := math.Log(l.P99.Seconds()/m) / z99
	return m * math.Exp(sigma*rng.NormFloat64())
}

// WithTraffic makes every ready pod of every Deployment serve rps requests
// per second of cluster time directly, without a Service in front: a
// steady background load. The default is none; [Cluster.SetLoad] and
// [Cluster.Send] send traffic through Services and HTTPRoutes instead.
func WithTraffic(rps float64) Option {
	return func(c *Cluster) {
		if rps > 0 {
			c.rps = rps
		}
	}
}

// WithSeed seeds the random source that picks backends and pods, decides
// which requests fail and draws latencies. The default seed is 1, so runs
// are reproducible; give two clusters different seeds for independent
// traffic.
func WithSeed(seed uint64) Option {
	return func(c *Cluster) { c.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

// WithRegisterer registers the cluster's metrics (see
// [Cluster.MetricsHandler] for the list) with reg, in addition to the
// cluster's own registry. The default (nil) registers nothing.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(c *Cluster) { c.reg = reg }
}

// TrafficResult is what a batch of requests sent with [Cluster.Send] got.
type TrafficResult struct {
	// Codes counts the responses by HTTP status code: 200, 500 for a pod's
	// failure or a backend Service that does not exist, 503 when there
	// was no backend (all weights zero) or no ready pod.
	Codes map[int]int
	// Backends counts the requests by the Service they were routed to
	// ("namespace/name"); for a Service target, that Service.
	Backends map[string]int
	// Deployments counts the requests served by pods, by
	// "namespace/deployment".
	Deployments map[string]int
}

// Send sends n requests to target, a Service or a Gateway API HTTPRoute,
// at the cluster's current time, and returns what they got. A Service
// spreads its requests evenly over the ready pods its selector matches
// (its endpoints); an HTTPRoute sends each request to one backendRef of
// its first rule, chosen with probability weight / sum of weights (a
// missing weight is 1, weight 0 gets nothing). Pods answer as their
// [Behavior] says. It returns an error wrapping [ErrNotFound] if target
// does not exist, or [ErrInvalidObject] if it is neither a Service nor an
// HTTPRoute, and sends nothing.
func (c *Cluster) Send(ctx context.Context, target Ref, n int) (TrafficResult, error) {
	if err := ctx.Err(); err != nil {
		return TrafficResult{}, err
	}
	c.lockAt(&target)
	defer c.mu.Unlock()
	rt, err := c.router(target)
	if err != nil {
		return TrafficResult{}, fmt.Errorf("sim: send to %s: %w", target, err)
	}
	res := TrafficResult{Codes: map[int]int{}, Backends: map[string]int{}, Deployments: map[string]int{}}
	for range n {
		c.route(rt, c.now, &res)
	}
	return res, nil
}

// SetLoad makes target (a Service or an HTTPRoute) receive rps requests
// per second of cluster time from now on, routed as [Cluster.Send] routes
// them; rps 0 stops it. Each target has one load; setting it again
// replaces it. It returns the errors of Send.
func (c *Cluster) SetLoad(target Ref, rps float64) error {
	c.lockAt(&target)
	defer c.mu.Unlock()
	if _, err := c.router(target); err != nil {
		return fmt.Errorf("sim: load on %s: %w", target, err)
	}
	k := target.key()
	if rps <= 0 || math.IsNaN(rps) || math.IsInf(rps, 0) {
		delete(c.loads, k)
		return nil
	}
	if l := c.loads[k]; l != nil {
		l.rps = rps
		return nil
	}
	c.loads[k] = &load{target: target, rps: rps}
	return nil
}

type load struct {
	target Ref
	rps    float64
	carry  float64
}

// Requests returns how many requests the pods of Deployment ref have
// served and how many of them failed, as of now. It returns an error
// wrapping [ErrNotFound] if ref is not a Deployment of the cluster.
func (c *Cluster) Requests(ref Ref) (served, failed float64, err error) {
	c.lockAt(&ref)
	defer c.mu.Unlock()
	k := ref.key()
	if _, ok := c.deployments[k]; !ok {
		return 0, 0, fmt.Errorf("sim: requests of %s: %w", ref, ErrNotFound)
	}
	for sk, s := range c.series {
		if sk.ns != k.ns || sk.deployment != k.name {
			continue
		}
		served += float64(s.count)
		if sk.code >= 500 {
			failed += float64(s.count)
		}
	}
	return served, failed, nil
}

// endpoint is a ready pod behind a Service.
type endpoint struct {
	d       *deployment
	rs      *replicaSet
	p       *pod
	depName string // namespace/name of d
}

// backend is one backendRef of a route, resolved.
type backend struct {
	name      string // namespace/name
	weight    int
	missing   bool
	endpoints []endpoint
}

// router is a target resolved at one instant: its backends and their
// ready pods. Ready pods change only at events, so a router stays valid
// between two events.
type router struct {
	route    string // namespace/name of an HTTPRoute target, "" for a Service
	ns       string
	backends []backend
	total    int
}

// router resolves target at c.now; c.mu is held.
func (c *Cluster) router(target Ref) (*router, error) {
	o, ok := c.objects[target.key()]
	if !ok {
		return nil, ErrNotFound
	}
	switch {
	case target.Kind == "Service" && target.Group() == "":
		b := c.serviceBackend(target.Namespace, target.Name)
		b.weight = 1
		return &router{ns: target.Namespace, backends: []backend{b}, total: 1}, nil
	case target.Kind == "HTTPRoute" && target.Group() == "gateway.networking.k8s.io":
		rt := &router{route: target.Namespace + "/" + target.Name, ns: target.Namespace}
		spec, _ := o.obj["spec"].(map[string]any)
		rules, _ := spec["rules"].([]any)
		var refs []any
		for _, r := range rules {
			m, _ := r.(map[string]any)
			if refs, _ = m["backendRefs"].([]any); len(refs) > 0 {
				break
			}
		}
		for i, r := range refs {
			m, _ := r.(map[string]any)
			name, _ := m["name"].(string)
			ns, _ := m["namespace"].(string)
			if ns == "" {
				ns = target.Namespace
			}
			if kind, _ := m["kind"].(string); kind != "" && kind != "Service" {
				return nil, fmt.Errorf("%w: spec.rules backendRefs[%d] is a %s; the simulation routes to Services only", ErrInvalidObject, i, kind)
			}
			w := int64(1)
			if v, ok := m["weight"]; ok {
				n, isInt := v.(int64)
				if !isInt || n < 0 || n > 1_000_000 {
					return nil, fmt.Errorf("%w: spec.rules backendRefs[%d].weight must be an integer from 0 to 1000000, got %v", ErrInvalidObject, i, v)
				}
				w = n
			}
			b := c.serviceBackend(ns, name)
			b.weight = int(w)
			rt.backends = append(rt.backends, b)
			rt.total += b.weight
		}
		return rt, nil
	}
	return nil, fmt.Errorf("%w: %s is not a Service or an HTTPRoute; only those take traffic", ErrInvalidObject, target)
}

// serviceBackend resolves Service ns/name to its ready pods at c.now.
func (c *Cluster) serviceBackend(ns, name string) backend {
	b := backend{name: ns + "/" + name}
	svc, ok := c.objects[key{"", "Service", ns, name}]
	if !ok {
		b.missing = true
		return b
	}
	spec, _ := svc.obj["spec"].(map[string]any)
	sel, _ := spec["selector"].(map[string]any)
	if len(sel) == 0 {
		return b // a Service without a selector has no endpoints of its own
	}
	keys := make([]key, 0, len(c.deployments))
	for k := range c.deployments {
		if k.ns == ns {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].name < keys[j].name })
	for _, k := range keys {
		d := c.deployments[k]
		for _, rs := range d.sets {
			if !matches(sel, rs.labels()) {
				continue
			}
			for _, p := range rs.pods {
				if p.ready(c.now) {
					b.endpoints = append(b.endpoints, endpoint{d, rs, p, k.ns + "/" + k.name})
				}
			}
		}
	}
	return b
}

func matches(selector, labels map[string]any) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// route sends one request through rt at t; c.mu is held.
func (c *Cluster) route(rt *router, t time.Time, res *TrafficResult) {
	code, backendName := http503, ""
	if rt.total > 0 {
		pick := c.rng.IntN(rt.total)
		for i := range rt.backends {
			b := &rt.backends[i]
			if pick >= b.weight {
				pick -= b.weight
				continue
			}
			backendName = b.name
			switch {
			case b.missing:
				code = http500
			case len(b.endpoints) == 0:
				code = http503
			default:
				e := b.endpoints[c.rng.IntN(len(b.endpoints))]
				code = c.serve(e.d, e.rs, e.p, t)
				if res != nil {
					res.Deployments[e.depName]++
				}
			}
			break
		}
	}
	if rt.route != "" {
		c.gateway[gatewayKey{rt.route, backendName, code}]++
	}
	if res != nil {
		res.Codes[code]++
		if backendName != "" {
			res.Backends[backendName]++
		}
	}
}

const (
	http200 = 200
	http500 = 500
	http503 = 503
)

// serve has pod p answer one request at t and returns the status code;
// c.mu is held.
func (c *Cluster) serve(d *deployment, rs *replicaSet, p *pod, t time.Time) int {
	b := &p.behavior
	code := http200
	if er := b.ErrorRate; er > 0 && (er >= 1 || c.rng.Float64() < er) {
		code = http500
	}
	lat := b.Latency.sample(c.rng)
	s := rs.okSeries
	if code != http200 {
		s = rs.failSeries
	}
	if s == nil {
		s = c.seriesFor(seriesKey{d.obj.ref.Namespace, d.obj.ref.Name, rs.hash, code})
		if code == http200 {
			rs.okSeries = s
		} else {
			rs.failSeries = s
		}
	}
	s.observe(lat)
	p.served++
	switch {
	case code != http200:
		p.log(t, fmt.Sprintf(`level=error msg="request failed" method=GET path=/ status=%d duration=%s`,
			code, strconv.FormatFloat(lat, 'f', 3, 64)+"s"))
	case b.AccessLog:
		p.log(t, `level=info msg="request served" method=GET path=/ status=200 duration=`+strconv.FormatFloat(lat, 'f', 3, 64)+"s")
	}
	return code
}

// accrue plays out the traffic from c.now until to; c.mu is held. Ready
// pods do not change between events, so every request of the interval
// sees the same endpoints. Requests are spread evenly over the interval.
func (c *Cluster) accrue(to time.Time) {
	if !to.After(c.now) || c.rps <= 0 && len(c.loads) == 0 {
		return
	}
	from, secs := c.now, to.Sub(c.now).Seconds()
	at := func(i, n int) time.Time {
		return from.Add(time.Duration((float64(i) + 0.5) / float64(n) * float64(to.Sub(from))))
	}
	if c.rps > 0 {
		for _, k := range c.sortedDeployments() {
			d := c.deployments[k]
			for _, rs := range d.sets {
				for _, p := range rs.pods {
					if !p.ready(c.now) {
						continue
					}
					f := c.rps*secs + p.carry
					n := int(f)
					p.carry = f - float64(n)
					for i := range n {
						c.serve(d, rs, p, at(i, n))
					}
				}
			}
		}
	}
	keys := make([]key, 0, len(c.loads))
	for k := range c.loads {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ns+"/"+keys[i].name < keys[j].ns+"/"+keys[j].name })
	for _, k := range keys {
		l := c.loads[k]
		rt, err := c.router(l.target)
		if err != nil {
			continue // the target was deleted or became invalid
		}
		f := l.rps*secs + l.carry
		n := int(f)
		l.carry = f - float64(n)
		for i := range n {
			c.route(rt, at(i, n), nil)
		}
	}
}

func (c *Cluster) sortedDeployments() []key {
	keys := make([]key, 0, len(c.deployments))
	for k := range c.deployments {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ns+"/"+keys[i].name < keys[j].ns+"/"+keys[j].name })
	return keys
}
