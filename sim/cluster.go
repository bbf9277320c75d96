package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/kustomize/kyaml/kio"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/health"
)

// Errors returned by [Cluster] methods, wrapped with the object named
// (the wrapping error carries the "sim:" prefix, the sentinels do not).
var (
	// ErrNotFound means no object with the given reference exists.
	ErrNotFound = errors.New("object not found")
	// ErrInvalidObject means a manifest could not be decoded or lacks
	// apiVersion, kind or metadata.name, or a Deployment spec is invalid
	// (for example maxSurge and maxUnavailable both zero).
	ErrInvalidObject = errors.New("invalid object")
	// ErrInvalidImage means an image reference given to
	// [Cluster.SetBehavior] (or [WithBehavior]) does not parse as a
	// container image reference.
	ErrInvalidImage = errors.New("invalid image reference")
)

// Ref names one object of the cluster.
type Ref struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
}

// Group returns the API group of r ("" for the core group).
func (r Ref) Group() string {
	if i := strings.LastIndex(r.APIVersion, "/"); i >= 0 {
		return r.APIVersion[:i]
	}
	return ""
}

// String returns "Kind namespace/name".
func (r Ref) String() string { return r.Kind + " " + r.Namespace + "/" + r.Name }

type key struct{ group, kind, ns, name string }

func (r Ref) key() key { return key{r.Group(), r.Kind, r.Namespace, r.Name} }

// Behavior is how the pods of an image behave once started.
type Behavior struct {
	// ReadyAfter is the time from pod start until its readiness probe
	// passes. Zero means at once.
	ReadyAfter time.Duration
	// NeverReady keeps the pod Running with its readiness probe failing.
	NeverReady bool
	// CrashLoop makes the container exit one second after each start; the
	// kubelet restarts it with back-off (10s, 20s, 40s ... up to 5m) and
	// the pod never becomes ready.
	CrashLoop bool
	// ErrorRate is the probability (0 to 1) that the pod fails a request
	// (HTTP 500); each failure is logged ([Cluster.Logs]).
	ErrorRate float64
	// AccessLog makes the pod also log an info line for each request it
	// answers well, as a web server's access log does, so its log says
	// how many requests the error lines are among.
	AccessLog bool
	// Latency is the distribution of the pod's request durations.
	Latency Latency
	// CPUPerRequest is the CPU time one request costs the pod's first
	// container (container_cpu_usage_seconds_total).
	CPUPerRequest time.Duration
	// Memory is the working set of the pod's first container while it
	// runs, in bytes (container_memory_working_set_bytes).
	Memory int64
}

// DefaultBehavior is the behaviour of images no [WithBehavior] names:
// ready five seconds after start.
var DefaultBehavior = Behavior{ReadyAfter: 5 * time.Second}

// Option configures a [Cluster].
type Option func(*Cluster)

// WithBehavior sets the behaviour of pods running image, as
// [Cluster.SetBehavior] does. [New] panics if image is not a valid image
// reference; use SetBehavior to get an error instead.
func WithBehavior(image string, b Behavior) Option {
	return func(c *Cluster) {
		if err := c.setBehavior(image, b); err != nil {
			panic("sim.New: WithBehavior: " + err.Error())
		}
	}
}

// WithDefaultBehavior sets the behaviour of images no WithBehavior names;
// the default is [DefaultBehavior].
func WithDefaultBehavior(b Behavior) Option {
	return func(c *Cluster) { c.defaultBehavior = b }
}

// WithLogger logs rollouts and scaling through l; the default discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *Cluster) {
		if l != nil {
			c.log = l
		}
	}
}

// Cluster is an in-memory Kubernetes cluster. It stores the objects it is
// given and plays out what the Deployment and ReplicaSet controllers and
// the kubelet would do, as time passes on its clock: rolling updates
// bounded by maxSurge and maxUnavailable, availability after
// minReadySeconds, ProgressDeadlineExceeded after progressDeadlineSeconds,
// and pods whose readiness depends on their image's [Behavior]. Services
// get a cluster IP (and a load-balancer address when of type
// LoadBalancer), Gateway API HTTPRoutes are accepted by their parents, and
// other kinds are stored as given.
//
// The simulation is lazy: every method first plays out, in order, every
// event between the last call and now. A Cluster is safe for concurrent
// use.
type Cluster struct {
	clock           clock.Clock
	log             *slog.Logger
	behaviors       map[imageRef]Behavior
	defaultBehavior Behavior

	mu          sync.Mutex
	now         time.Time
	objects     map[key]*object
	order       []key // creation order, for stable listings
	deployments map[key]*deployment
	seq         int

	rps      float64
	rng      *rand.Rand
	reg      prometheus.Registerer
	registry *prometheus.Registry
	series   map[seriesKey]*series
	gateway  map[gatewayKey]uint64
	loads    map[key]*load
}

type object struct {
	ref     Ref
	obj     map[string]any
	uid     string
	created time.Time
	gen     int64
	dep     *deployment // set for Deployments
}

// New returns an empty cluster whose time is clk's: a [*Clock] in tests,
// nil for the system clock. It panics if an image of [WithBehavior] does
// not parse, or if the registerer of [WithRegisterer] refuses the
// cluster's metrics.
func New(clk clock.Clock, opts ...Option) *Cluster {
	clk = clock.Or(clk)
	c := &Cluster{
		clock: clk, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		behaviors: map[imageRef]Behavior{}, defaultBehavior: DefaultBehavior,
		objects: map[key]*object{}, deployments: map[key]*deployment{},
		now: clk.Now(), registry: prometheus.NewPedanticRegistry(),
		series: map[seriesKey]*series{}, gateway: map[gatewayKey]uint64{}, loads: map[key]*load{},
	}
	WithSeed(1)(c)
	for _, o := range opts {
		o(c)
	}
	m := newMetrics(c)
	c.registry.MustRegister(m)
	if c.reg != nil {
		c.reg.MustRegister(m)
	}
	return c
}

// SetBehavior sets the behaviour of pods started from now on with image.
// Pods already running keep theirs.
//
// image is a container image reference, normalised as the kubelet reads
// it: "nginx", "docker.io/nginx" and "index.docker.io/library/nginx" are
// one repository. What it covers depends on its shape:
//
//   - "repo@sha256:…" or "repo:tag@sha256:…": the image with that digest
//     in that repository, however a manifest spells it ("repo@digest",
//     "repo:any-tag@digest"). A digest identifies the image; the tag
//     beside it is ignored.
//   - "repo:tag": manifests that name that tag ("repo:tag",
//     "repo:tag@digest"); "repo:latest" also covers a bare "repo". It
//     cannot cover "repo@digest", which names no tag.
//   - "repo": every tag and digest of the repository.
//
// When several keys cover an image the most specific wins: digest, then
// tag, then repository. Two spellings of one key are the same key; the
// later call wins. It returns an error wrapping [ErrInvalidImage], and
// changes nothing, if image does not parse.
//
// An image in a manifest that does not parse gets no behaviour: its pods
// stay Pending, waiting with reason InvalidImageName, as the kubelet
// leaves them.
func (c *Cluster) SetBehavior(image string, b Behavior) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setBehavior(image, b)
}

func (c *Cluster) setBehavior(image string, b Behavior) error {
	k, err := behaviorKey(image)
	if err != nil {
		return fmt.Errorf("sim: behavior for image %q: %w: %v; write repository[:tag][@sha256:digest]", image, ErrInvalidImage, err)
	}
	c.behaviors[k] = b
	return nil
}

// Apply decodes multi-document YAML (or JSON) manifests and applies each
// object as kubectl apply would: created if new, its spec replaced if not.
// An object without a namespace goes to "default". It returns the
// references of the applied objects in order, and an error wrapping
// [ErrInvalidObject] naming the first bad document, in which case nothing
// is applied.
func (c *Cluster) Apply(ctx context.Context, manifests []byte) ([]Ref, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nodes, err := kio.FromBytes(manifests)
	if err != nil {
		return nil, fmt.Errorf("sim: apply: decode manifests: %w: %v", ErrInvalidObject, err)
	}
	objs := make([]map[string]any, 0, len(nodes))
	for i, n := range nodes {
		m, err := n.Map()
		if err != nil {
			return nil, fmt.Errorf("sim: apply: document %d: %w: %v", i, ErrInvalidObject, err)
		}
		objs = append(objs, m)
	}
	return c.ApplyObjects(ctx, objs...)
}

// ApplyObjects applies objects given in unstructured form, as [Apply]
// does. The cluster keeps its own copies.
func (c *Cluster) ApplyObjects(ctx context.Context, objs ...map[string]any) ([]Ref, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	norm := make([]map[string]any, len(objs))
	refs := make([]Ref, len(objs))
	specs := make([]*deploymentSpec, len(objs))
	for i, o := range objs {
		n, _ := normalize(o).(map[string]any)
		ref, err := refOf(n)
		if err != nil {
			return nil, fmt.Errorf("sim: apply: document %d: %w", i, err)
		}
		if md, _ := n["metadata"].(map[string]any); md["namespace"] == nil || md["namespace"] == "" {
			md["namespace"] = ref.Namespace
		}
		if ref.Kind == "Deployment" && ref.Group() == "apps" {
			spec, err := parseDeployment(n)
			if err != nil {
				return nil, fmt.Errorf("sim: apply %s: %w", ref, err)
			}
			specs[i] = spec
		}
		norm[i], refs[i] = n, ref
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance()
	for i, n := range norm {
		c.applyLocked(refs[i], n, specs[i])
	}
	c.settle()
	return refs, nil
}

func (c *Cluster) applyLocked(ref Ref, n map[string]any, spec *deploymentSpec) {
	k := ref.key()
	o, exists := c.objects[k]
	if !exists {
		c.seq++
		o = &object{ref: ref, uid: fmt.Sprintf("00000000-0000-4000-8000-%012d", c.seq), created: c.now, gen: 1}
		c.objects[k] = o
		c.order = append(c.order, k)
	} else if !reflect.DeepEqual(o.obj["spec"], n["spec"]) {
		o.gen++
	}
	o.ref = ref
	o.obj = n
	if spec != nil {
		if o.dep == nil {
			o.dep = &deployment{obj: o}
			c.deployments[k] = o.dep
		}
		o.dep.spec = *spec
	}
	c.log.Debug("applied", "object", ref.String(), "generation", o.gen)
}

// Delete removes the object ref, and for a Deployment its ReplicaSets and
// pods. It returns an error wrapping [ErrNotFound] if there is none.
func (c *Cluster) Delete(ctx context.Context, ref Ref) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.lockAt(&ref)
	defer c.mu.Unlock()
	k := ref.key()
	if _, ok := c.objects[k]; !ok {
		return fmt.Errorf("sim: delete %s: %w", ref, ErrNotFound)
	}
	delete(c.objects, k)
	delete(c.deployments, k)
	delete(c.loads, k)
	for sk := range c.series {
		if sk.ns == k.ns && sk.deployment == k.name && k.group == "apps" && k.kind == "Deployment" {
			delete(c.series, sk)
		}
	}
	for i, o := range c.order {
		if o == k {
			c.order = append(c.order[:i:i], c.order[i+1:]...)
			break
		}
	}
	return nil
}

// Get returns a copy of the object ref with its status as of now.
// ReplicaSets and Pods owned by Deployments can be read too. It returns
// an error wrapping [ErrNotFound] if there is no such object.
func (c *Cluster) Get(ref Ref) (map[string]any, error) {
	c.lockAt(&ref)
	defer c.mu.Unlock()
	if o, ok := c.objects[ref.key()]; ok {
		return c.render(o), nil
	}
	for _, d := range c.deployments {
		if d.obj.ref.Namespace != ref.Namespace || ref.Group() != "" && ref.Group() != "apps" {
			continue
		}
		for _, rs := range d.sets {
			if ref.Kind == "ReplicaSet" && rs.name == ref.Name {
				return c.renderRS(d, rs), nil
			}
			for _, p := range rs.pods {
				if ref.Kind == "Pod" && p.name == ref.Name {
					return c.renderPod(d, rs, p), nil
				}
			}
		}
	}
	return nil, fmt.Errorf("sim: get %s: %w", ref, ErrNotFound)
}

// Objects returns the references of the applied objects in creation
// order; ReplicaSets and Pods are not included (see [Cluster.Owned]).
func (c *Cluster) Objects() []Ref {
	c.mu.Lock()
	defer c.mu.Unlock()
	refs := make([]Ref, 0, len(c.order))
	for _, k := range c.order {
		refs = append(refs, c.objects[k].ref)
	}
	return refs
}

// Owned returns the objects ref controls: a Deployment's ReplicaSets
// (oldest first) and a ReplicaSet's pods. Other objects own nothing.
func (c *Cluster) Owned(ref Ref) []Ref {
	c.lockAt(&ref)
	defer c.mu.Unlock()
	var out []Ref
	for _, d := range c.deployments {
		if d.obj.ref.Namespace != ref.Namespace {
			continue
		}
		for _, rs := range d.sets {
			switch {
			case ref.Kind == "Deployment" && d.obj.ref.Name == ref.Name:
				out = append(out, Ref{APIVersion: "apps/v1", Kind: "ReplicaSet", Namespace: ref.Namespace, Name: rs.name})
			case ref.Kind == "ReplicaSet" && rs.name == ref.Name:
				for _, p := range rs.pods {
					out = append(out, Ref{APIVersion: "v1", Kind: "Pod", Namespace: ref.Namespace, Name: p.name})
				}
			}
		}
	}
	return out
}

// Health assesses the object ref with the health package's Kubernetes
// rules ([health.ObjectHealth]). It returns an error wrapping
// [ErrNotFound] if there is no such object.
func (c *Cluster) Health(ref Ref) (health.Status, string, error) {
	obj, err := c.Get(ref)
	if err != nil {
		return health.Missing, "", err
	}
	return health.ObjectHealth(obj)
}

// lockAt defaults ref's namespace to "default", locks c and plays out
// every event up to now. The caller unlocks c.mu.
func (c *Cluster) lockAt(ref *Ref) {
	if ref.Namespace == "" {
		ref.Namespace = "default"
	}
	c.mu.Lock()
	c.advance()
}

// advance plays out every event up to the clock's now; c.mu is held.
func (c *Cluster) advance() {
	to := c.clock.Now()
	for {
		next, ok := c.nextEvent()
		if !ok || next.After(to) {
			break
		}
		if next.After(c.now) {
			c.accrue(next)
			c.now = next
		}
		c.settle()
		// An event at or before c.now that settle did not consume
		// would loop forever; nextEvent only reports future events.
	}
	if to.After(c.now) {
		c.accrue(to)
		c.now = to
	}
	c.settle()
}

// nextEvent is the earliest instant after c.now at which a controller
// would act.
func (c *Cluster) nextEvent() (time.Time, bool) {
	var best time.Time
	consider := func(t time.Time) {
		if t.After(c.now) && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	for _, d := range c.deployments {
		for _, rs := range d.sets {
			for _, p := range rs.pods {
				if !p.readyAt.IsZero() {
					consider(p.readyAt)
					consider(p.readyAt.Add(d.spec.minReady))
				}
			}
		}
		if t, ok := d.deadline(); ok {
			consider(t)
		}
	}
	return best, !best.IsZero()
}

// settle runs the controllers at c.now until nothing changes.
func (c *Cluster) settle() {
	for _, k := range c.sortedDeployments() {
		d := c.deployments[k]
		for range 20 {
			if !c.syncDeployment(d) {
				break
			}
		}
	}
}

// normalize deep-copies v, turning every integral number into int64 as
// Kubernetes' unstructured objects hold them.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = normalize(e)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = normalize(e)
		}
		return s
	case int:
		return int64(t)
	case int32:
		return int64(t)
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t)
		}
		return t
	}
	return v
}

func refOf(obj map[string]any) (Ref, error) {
	if obj == nil {
		return Ref{}, fmt.Errorf("%w: empty document", ErrInvalidObject)
	}
	av, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	md, _ := obj["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	if av == "" || kind == "" || name == "" {
		return Ref{}, fmt.Errorf("%w: apiVersion, kind and metadata.name are required (got %q, %q, %q)", ErrInvalidObject, av, kind, name)
	}
	if ns == "" {
		ns = "default"
	}
	return Ref{APIVersion: av, Kind: kind, Namespace: ns, Name: name}, nil
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func itoa(n int) string { return strconv.Itoa(n) }
