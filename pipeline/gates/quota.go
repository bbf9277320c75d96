package gates

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/flightdeck-dev/flightdeck/pipeline"
)

// ErrQuotaExceeded is wrapped by the [*QuotaError] of a [QuotaGate] when
// the overlay's workloads need more than a ResourceQuota allows.
var ErrQuotaExceeded = errors.New("resource quota exceeded")

// ErrNoQuota is wrapped by the [*QuotaError] of a [QuotaGate] made with
// [QuotaGate.RequireQuota] when a namespace that runs workloads has no
// ResourceQuota in the overlay.
var ErrNoQuota = errors.New("namespace without a resource quota")

// Usage is one resource of one ResourceQuota: what the overlay needs and
// what the quota allows.
type Usage struct {
	// Quota is the ResourceQuota.
	Quota ObjectRef
	// Resource is the quota's resource name, for example "limits.memory"
	// or "count/deployments.apps".
	Resource string
	// Total is what the overlay's objects in the quota's namespace need,
	// rolling-update surge included unless the gate ignores it.
	Total Quantity
	// Surge is the part of Total that only exists while workloads
	// update.
	Surge Quantity
	// Hard is the quota's limit.
	Hard Quantity
}

// Excess returns by how much Total exceeds Hard; zero or negative when it
// fits.
func (u Usage) Excess() Quantity { return u.Total.Sub(u.Hard).As(u.Hard) }

// Exceeded reports whether Total is above Hard.
func (u Usage) Exceeded() bool { return u.Total.Cmp(u.Hard) > 0 }

// String returns "ResourceQuota/ns/name: requests.cpu: total 3 exceeds
// hard 2 by 1 (500m of it rolling-update surge)" for an excess, and
// "…: total 1 of hard 2" otherwise.
func (u Usage) String() string {
	total := u.Total.As(u.Hard)
	if !u.Exceeded() {
		return fmt.Sprintf("%s: %s: total %s of hard %s", u.Quota, u.Resource, total, u.Hard)
	}
	s := fmt.Sprintf("%s: %s: total %s exceeds hard %s by %s", u.Quota, u.Resource, total, u.Hard, u.Excess())
	if u.Surge.Sign() > 0 {
		s += fmt.Sprintf(" (%s of it rolling-update surge)", u.Surge.As(u.Hard))
	}
	return s
}

// QuotaReport is what a [QuotaGate] found.
type QuotaReport struct {
	// Overlay is the overlay's directory.
	Overlay string
	// Usages lists every resource of every quota the gate checked, by
	// quota then in the quota's order of resource names.
	Usages []Usage
	// Unchecked lists what the gate could not check, one line each: a
	// quota resource it cannot compute ("ResourceQuota/ns/q: services.nodeports"),
	// or a quota whose scope it does not evaluate.
	Unchecked []string
	// Unquoted lists the namespaces that run workloads and have no
	// ResourceQuota in the overlay.
	Unquoted []string
	// Unset lists the containers that do not set a compute resource a
	// quota of their namespace tracks: the quota admission refuses their
	// pods ("must specify limits.memory").
	Unset []Problem
}

// Exceeded returns the usages above their hard limit.
func (r QuotaReport) Exceeded() []Usage {
	var out []Usage
	for _, u := range r.Usages {
		if u.Exceeded() {
			out = append(out, u)
		}
	}
	return out
}

// QuotaError is the refusal of a [QuotaGate].
type QuotaError struct {
	// Overlay is the overlay's directory.
	Overlay string
	// Exceeded lists every quota resource the overlay exceeds.
	Exceeded []Usage
	// Unset lists the containers whose pods the quota admission refuses
	// because they do not set a resource a quota tracks.
	Unset []Problem
	// Unquoted lists namespaces without a quota, when the gate requires
	// one.
	Unquoted []string
}

// Error returns "overlay <dir>: resource quota exceeded: <usage>; …",
// followed by the containers the quota admission would refuse and the
// namespaces without a quota, when there are any.
func (e *QuotaError) Error() string {
	var parts []string
	if len(e.Exceeded) > 0 {
		s := make([]string, len(e.Exceeded))
		for i, u := range e.Exceeded {
			s[i] = u.String()
		}
		parts = append(parts, ErrQuotaExceeded.Error()+": "+strings.Join(s, "; "))
	}
	if len(e.Unset) > 0 {
		s := make([]string, len(e.Unset))
		for i, p := range e.Unset {
			s[i] = p.String()
		}
		parts = append(parts, ErrMissingResources.Error()+": "+strings.Join(s, "; "))
	}
	if len(e.Unquoted) > 0 {
		parts = append(parts, ErrNoQuota.Error()+": "+strings.Join(e.Unquoted, ", "))
	}
	return "overlay " + e.Overlay + ": " + strings.Join(parts, "; ")
}

// Unwrap returns [ErrQuotaExceeded], [ErrMissingResources] and
// [ErrNoQuota] as they apply.
func (e *QuotaError) Unwrap() []error {
	var errs []error
	if len(e.Exceeded) > 0 {
		errs = append(errs, ErrQuotaExceeded)
	}
	if len(e.Unset) > 0 {
		errs = append(errs, ErrMissingResources)
	}
	if len(e.Unquoted) > 0 {
		errs = append(errs, ErrNoQuota)
	}
	return errs
}

// QuotaGate is a stage that refuses an overlay whose workloads need more
// than the ResourceQuotas the overlay renders allow. Make one with
// [NewQuotaGate].
type QuotaGate struct {
	name         string
	overlay      Overlay
	count        counting
	requireQuota bool
	report       pipeline.Key[QuotaReport]
}

// counting says how the quota gate counts pods.
type counting struct {
	nodes         int64 // a DaemonSet's pods
	noSurge       bool  // leave out the surge of updates
	autoscalerMin bool  // count autoscaled workloads at minReplicas
}

var _ pipeline.Stage = (*QuotaGate)(nil)

// NewQuotaGate returns a gate named name that renders o and checks, per
// namespace, the sum over its workloads of pods × the pod template's
// requests and limits against each ResourceQuota of that namespace in the
// render. See the package documentation for how pods and resources are
// counted.
func NewQuotaGate(name string, o Overlay) *QuotaGate {
	return &QuotaGate{name: name, overlay: o, count: counting{nodes: 1}}
}

// WithDaemonSetNodes sets how many nodes a DaemonSet runs a pod on
// (default 1), and returns g.
func (g *QuotaGate) WithDaemonSetNodes(n int64) *QuotaGate {
	g.count.nodes = max(n, 0)
	return g
}

// WithoutSurge checks the workloads at rest, leaving out the pods a
// rolling update adds, and returns g.
func (g *QuotaGate) WithoutSurge() *QuotaGate {
	g.count.noSurge = true
	return g
}

// WithAutoscalerMin counts a workload scaled by a HorizontalPodAutoscaler
// of the overlay at the autoscaler's minReplicas (or the manifest's
// replicas if more) instead of its maxReplicas, and returns g.
func (g *QuotaGate) WithAutoscalerMin() *QuotaGate {
	g.count.autoscalerMin = true
	return g
}

// RequireQuota makes the gate refuse a namespace that runs workloads and
// has no ResourceQuota in the overlay ([ErrNoQuota]), and returns g.
func (g *QuotaGate) RequireQuota() *QuotaGate {
	g.requireQuota = true
	return g
}

// WithReport makes the gate put its [QuotaReport] under k, also when it
// refuses, and returns g.
func (g *QuotaGate) WithReport(k pipeline.Key[QuotaReport]) *QuotaGate {
	g.report = k
	return g
}

// Name returns the gate's name.
func (g *QuotaGate) Name() string { return g.name }

// Run renders the overlay and checks it. A refusal is a [*QuotaError]
// (wrapping [ErrQuotaExceeded] or [ErrNoQuota]) marked
// [pipeline.Permanent]; so is an overlay that does not render
// (gitops.ErrRender), holds objects or quotas that do not read
// ([ErrInvalidManifest], [ErrInvalidQuantity]), or is not given
// ([ErrInvalidOverlay]). Other errors are returned
// as is.
func (g *QuotaGate) Run(ctx context.Context, st *pipeline.State) error {
	objs, err := g.overlay.render(ctx)
	if err != nil {
		return gateError(g.name, err)
	}
	rep, err := checkQuotas(g.overlay.Dir, objs, g.count)
	if err != nil {
		return pipeline.Permanent(fmt.Errorf("gate %s: %w", g.name, err))
	}
	if g.report.Name() != "" && st != nil {
		g.report.Put(st, rep)
	}
	qe := &QuotaError{Overlay: g.overlay.Dir, Exceeded: rep.Exceeded(), Unset: rep.Unset}
	if g.requireQuota {
		qe.Unquoted = rep.Unquoted
	}
	if len(qe.Exceeded) > 0 || len(qe.Unset) > 0 || len(qe.Unquoted) > 0 {
		return pipeline.Permanent(fmt.Errorf("gate %s: %w", g.name, qe))
	}
	return nil
}

// resourceQuota is a ResourceQuota as the gate reads it.
type resourceQuota struct {
	ref  ObjectRef
	hard []string // resource names in manifest order
	spec struct {
		Hard          map[string]scalar `yaml:"hard"`
		Scopes        []string          `yaml:"scopes"`
		ScopeSelector *struct {
			MatchExpressions []scopeExpr `yaml:"matchExpressions"`
		} `yaml:"scopeSelector"`
	}
}

type scopeExpr struct {
	ScopeName string   `yaml:"scopeName"`
	Operator  string   `yaml:"operator"`
	Values    []string `yaml:"values"`
}

// readQuota reads a ResourceQuota.
func readQuota(o object) (*resourceQuota, error) {
	q := &resourceQuota{ref: o.ref}
	var d struct {
		Spec yaml.Node `yaml:"spec"`
	}
	if err := o.decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidManifest, yamlReason(err))
	}
	if d.Spec.Kind == 0 {
		return q, nil
	}
	if err := d.Spec.Decode(&q.spec); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidManifest, yamlReason(err))
	}
	// Keep the manifest's order of hard limits.
	for i, n := range d.Spec.Content {
		if n.Value == "hard" && i%2 == 0 && i+1 < len(d.Spec.Content) {
			for j, k := range d.Spec.Content[i+1].Content {
				if j%2 == 0 {
					q.hard = append(q.hard, k.Value)
				}
			}
		}
	}
	return q, nil
}

// scopes returns a predicate on pods for the quota's scopes, or ok false
// when a scope is one the gate does not evaluate.
func (q *resourceQuota) scopes() (match func(p *podSpec) bool, scoped, ok bool) {
	var preds []func(p *podSpec) bool
	for _, s := range q.spec.Scopes {
		p, ok := scopePredicate(scopeExpr{ScopeName: s, Operator: "Exists"})
		if !ok {
			return nil, true, false
		}
		preds = append(preds, p)
	}
	if q.spec.ScopeSelector != nil {
		for _, e := range q.spec.ScopeSelector.MatchExpressions {
			p, ok := scopePredicate(e)
			if !ok {
				return nil, true, false
			}
			preds = append(preds, p)
		}
	}
	return func(p *podSpec) bool {
		for _, pred := range preds {
			if !pred(p) {
				return false
			}
		}
		return true
	}, len(preds) > 0, true
}

// scopePredicate evaluates one quota scope on a pod, as the quota
// admission does.
func scopePredicate(e scopeExpr) (func(p *podSpec) bool, bool) {
	var has func(p *podSpec) bool
	switch e.ScopeName {
	case "Terminating":
		has = func(p *podSpec) bool { return p.ActiveDeadlineSeconds != nil }
	case "NotTerminating":
		has = func(p *podSpec) bool { return p.ActiveDeadlineSeconds == nil }
	case "BestEffort":
		has = bestEffort
	case "NotBestEffort":
		has = func(p *podSpec) bool { return !bestEffort(p) }
	case "PriorityClass":
		switch e.Operator {
		case "In":
			return func(p *podSpec) bool { return slices.Contains(e.Values, p.PriorityClassName) }, true
		case "NotIn":
			return func(p *podSpec) bool { return !slices.Contains(e.Values, p.PriorityClassName) }, true
		case "Exists":
			return func(p *podSpec) bool { return p.PriorityClassName != "" }, true
		case "DoesNotExist":
			return func(p *podSpec) bool { return p.PriorityClassName == "" }, true
		}
		return nil, false
	default:
		return nil, false
	}
	switch e.Operator {
	case "Exists", "":
		return has, true
	case "DoesNotExist":
		return func(p *podSpec) bool { return !has(p) }, true
	}
	return nil, false
}

// bestEffort reports whether no container of p sets a CPU or memory
// request or limit.
func bestEffort(p *podSpec) bool {
	for _, c := range slices.Concat(p.Containers, p.InitContainers) {
		for _, l := range []resourceList{c.Resources.Requests, c.Resources.Limits} {
			if _, ok := l["cpu"]; ok {
				return false
			}
			if _, ok := l["memory"]; ok {
				return false
			}
		}
	}
	return true
}

// podResources returns a pod's requests and limits as the quota charges
// them: the sum over its containers and sidecars, or the largest init
// container's (with the sidecars started before it) if that is more, plus
// the pod's overhead. Keys are "requests.<resource>" and
// "limits.<resource>".
func podResources(p *podSpec) (map[string]Quantity, error) {
	var errs []error
	read := func(c container) resourceSet {
		req, lim, err := containerResources(c)
		if err != nil {
			errs = append(errs, err)
		}
		return resourceSet{req, lim}
	}
	sum := newResourceSet()
	for _, c := range p.Containers {
		sum.add(read(c))
	}
	sidecars, initMax := newResourceSet(), newResourceSet()
	for _, c := range p.InitContainers {
		r := read(c)
		use := newResourceSet()
		if c.RestartPolicy == "Always" {
			sum.add(r)
			sidecars.add(r)
		} else {
			use.add(r)
		}
		use.add(sidecars)
		initMax.max(use)
	}
	sum.max(initMax)
	for _, name := range sortedKeys(p.Overhead) {
		q, err := p.Overhead[name].quantity("overhead." + name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sum.req[name] = sum.req[name].Add(q)
		if l, ok := sum.lim[name]; ok && l.Sign() != 0 {
			sum.lim[name] = l.Add(q)
		}
	}
	out := map[string]Quantity{}
	for k, v := range sum.req {
		out["requests."+k] = v
	}
	for k, v := range sum.lim {
		out["limits."+k] = v
	}
	return out, joinErrors(errs)
}

// resourceSet is requests and limits by resource name.
type resourceSet struct{ req, lim map[string]Quantity }

func newResourceSet() resourceSet {
	return resourceSet{map[string]Quantity{}, map[string]Quantity{}}
}

// add adds o to s.
func (s resourceSet) add(o resourceSet) {
	for k, v := range o.req {
		s.req[k] = s.req[k].Add(v)
	}
	for k, v := range o.lim {
		s.lim[k] = s.lim[k].Add(v)
	}
}

// max raises each of s to o's where o's is larger.
func (s resourceSet) max(o resourceSet) {
	for k, v := range o.req {
		s.req[k] = s.req[k].Max(v)
	}
	for k, v := range o.lim {
		s.lim[k] = s.lim[k].Max(v)
	}
}

// nsUsage is what one namespace's objects need.
type nsUsage struct {
	// pods are the workloads' pods with what each needs.
	pods []podUsage
	// counts are object counts by "count/<resource>" name.
	counts map[string]int64
	// storage and claims are persistent volume claim storage and count.
	storage Quantity
	claims  int64
}

type podUsage struct {
	ref             ObjectRef
	pod             *podSpec
	each            map[string]Quantity
	replicas, surge int64
}

// resourceName returns the name a quota counts objects of ref under:
// "deployments.apps", "pods".
func resourceName(ref ObjectRef) string {
	k := strings.ToLower(ref.Kind)
	switch {
	case strings.HasSuffix(k, "s"), strings.HasSuffix(k, "x"):
		k += "es"
	case strings.HasSuffix(k, "y") && !strings.HasSuffix(k, "ay") && !strings.HasSuffix(k, "ey"):
		k = k[:len(k)-1] + "ies"
	default:
		k += "s"
	}
	if ref.Group != "" {
		k += "." + ref.Group
	}
	return k
}

// legacyCounts are the object counts a quota names without "count/".
var legacyCounts = map[string]bool{
	"services": true, "secrets": true, "configmaps": true, "replicationcontrollers": true,
	"resourcequotas": true,
}

// checkQuotas computes every quota's usage in objs.
func checkQuotas(overlay string, objs []object, count counting) (QuotaReport, error) {
	rep := QuotaReport{Overlay: overlay}
	ws, problems := workloads(objs, count.nodes)
	problems = append(problems, autoscale(objs, ws, count.autoscalerMin)...)
	usage := map[string]*nsUsage{}
	ns := func(n string) *nsUsage {
		if usage[n] == nil {
			usage[n] = &nsUsage{counts: map[string]int64{}}
		}
		return usage[n]
	}
	var quotas []*resourceQuota
	for _, o := range objs {
		u := ns(o.ref.Namespace)
		u.counts[resourceName(o.ref)]++
		switch {
		case o.ref.Kind == "ResourceQuota" && o.ref.Group == "":
			q, err := readQuota(o)
			if err != nil {
				problems = append(problems, Problem{Object: o.ref, Err: err})
				continue
			}
			quotas = append(quotas, q)
		case o.ref.Kind == "PersistentVolumeClaim" && o.ref.Group == "":
			var c persistentVolumeClaim
			if err := o.decode(&c); err != nil {
				problems = append(problems, Problem{Object: o.ref, Err: fmt.Errorf("%w: %s", ErrInvalidManifest, yamlReason(err))})
				continue
			}
			q, err := claimStorage(c)
			if err != nil {
				problems = append(problems, Problem{Object: o.ref, Err: err})
				continue
			}
			u.storage = u.storage.Add(q)
			u.claims++
		}
	}
	for _, w := range ws {
		u := ns(w.ref.Namespace)
		each, err := podResources(w.pod)
		if err != nil {
			problems = append(problems, Problem{Object: w.ref, Err: err})
			continue
		}
		pu := podUsage{ref: w.ref, pod: w.pod, each: each, replicas: w.replicas}
		if !count.noSurge {
			pu.surge = w.surge()
		}
		u.pods = append(u.pods, pu)
		for _, c := range w.claims {
			q, err := claimStorage(c)
			if err != nil {
				problems = append(problems, Problem{Object: w.ref, Err: fmt.Errorf("spec.volumeClaimTemplates: %w", err)})
				continue
			}
			// Only StatefulSets have claim templates, and they do not
			// surge.
			u.storage = u.storage.Add(q.Mul(w.replicas))
			u.claims += w.replicas
		}
	}
	quoted := map[string]bool{}
	for _, q := range quotas {
		quoted[q.ref.Namespace] = true
		match, scoped, ok := q.scopes()
		if !ok {
			rep.Unchecked = append(rep.Unchecked, q.ref.String()+": scope not evaluated")
			continue
		}
		u := ns(q.ref.Namespace)
		for _, res := range q.hard {
			hard, err := q.spec.Hard[res].quantity("spec.hard." + res)
			if err != nil {
				problems = append(problems, Problem{Object: q.ref, Err: err})
				continue
			}
			total, extra, ok := u.total(res, match, scoped)
			if !ok {
				rep.Unchecked = append(rep.Unchecked, q.ref.String()+": "+res)
				continue
			}
			rep.Usages = append(rep.Usages, Usage{Quota: q.ref, Resource: res, Total: total, Surge: extra, Hard: hard})
		}
		rep.Unset = append(rep.Unset, u.unset(q, match)...)
	}
	if len(problems) > 0 {
		return rep, &ResourcesError{Overlay: overlay, Problems: problems}
	}
	for _, n := range sortedKeys(usage) {
		if len(usage[n].pods) > 0 && !quoted[n] {
			rep.Unquoted = append(rep.Unquoted, n)
		}
	}
	return rep, nil
}

// autoscale sets the replicas of the workloads in ws that a
// HorizontalPodAutoscaler in objs scales: its maxReplicas, or with min its
// minReplicas (default 1) when that is more than the manifest's.
func autoscale(objs []object, ws []workload, min bool) []Problem {
	var problems []Problem
	for _, o := range objs {
		if o.ref.Kind != "HorizontalPodAutoscaler" || o.ref.Group != "autoscaling" {
			continue
		}
		var h struct {
			Spec struct {
				ScaleTargetRef struct {
					APIVersion string `yaml:"apiVersion"`
					Kind       string `yaml:"kind"`
					Name       string `yaml:"name"`
				} `yaml:"scaleTargetRef"`
				MinReplicas *int64 `yaml:"minReplicas"`
				MaxReplicas int64  `yaml:"maxReplicas"`
			} `yaml:"spec"`
		}
		if err := o.decode(&h); err != nil {
			problems = append(problems, Problem{Object: o.ref, Err: fmt.Errorf("%w: %s", ErrInvalidManifest, yamlReason(err))})
			continue
		}
		t := h.Spec.ScaleTargetRef
		group := groupOf(t.APIVersion)
		for i, w := range ws {
			if w.ref.Kind != t.Kind || w.ref.Group != group || w.ref.Name != t.Name || w.ref.Namespace != o.ref.Namespace {
				continue
			}
			switch {
			case !min:
				ws[i].replicas = h.Spec.MaxReplicas
			case h.Spec.MinReplicas == nil:
				ws[i].replicas = max(w.replicas, 1)
			default:
				ws[i].replicas = max(w.replicas, *h.Spec.MinReplicas)
			}
		}
	}
	return problems
}

// computeResources are the quota resources whose every container must be
// set for a pod to be admitted, by the name a quota may use.
var computeResources = map[string]string{
	"cpu": "requests.cpu", "memory": "requests.memory", "ephemeral-storage": "requests.ephemeral-storage",
	"requests.cpu": "requests.cpu", "requests.memory": "requests.memory", "requests.ephemeral-storage": "requests.ephemeral-storage",
	"limits.cpu": "limits.cpu", "limits.memory": "limits.memory", "limits.ephemeral-storage": "limits.ephemeral-storage",
}

// unset returns the containers of the pods q tracks that do not set a
// compute resource q names, as the quota admission refuses them. A
// request is set when the container sets it or its limit (the API
// server defaults one to the other).
func (u *nsUsage) unset(q *resourceQuota, match func(*podSpec) bool) []Problem {
	var required []string
	for _, res := range q.hard {
		if r, ok := computeResources[res]; ok && !slices.Contains(required, r) {
			required = append(required, r)
		}
	}
	if len(required) == 0 {
		return nil
	}
	slices.Sort(required)
	var out []Problem
	for _, p := range u.pods {
		if !match(p.pod) {
			continue
		}
		check := func(c container, init bool) {
			pr := Problem{Object: p.ref, Container: c.Name, Init: init, Err: fmt.Errorf("tracked by %s", q.ref)}
			for _, f := range required {
				section, name, _ := strings.Cut(f, ".")
				_, lim := c.Resources.Limits[name]
				_, req := c.Resources.Requests[name]
				if !lim && (section == "limits" || !req) {
					pr.Missing = append(pr.Missing, f)
				}
			}
			if len(pr.Missing) > 0 {
				out = append(out, pr)
			}
		}
		for _, c := range p.pod.InitContainers {
			check(c, true)
		}
		for _, c := range p.pod.Containers {
			check(c, false)
		}
	}
	return out
}

// claimStorage reads a claim's requested storage.
func claimStorage(c persistentVolumeClaim) (Quantity, error) {
	s, ok := c.Spec.Resources.Requests["storage"]
	if !ok {
		return Quantity{}, nil
	}
	return s.quantity("spec.resources.requests.storage")
}

// total returns what the namespace needs of the quota resource res, and
// the surge part of it; ok is false for a resource the gate cannot
// compute. A scoped quota only tracks pods and their resources.
func (u *nsUsage) total(res string, match func(*podSpec) bool, scoped bool) (total, surge Quantity, ok bool) {
	switch res {
	case "cpu", "memory", "ephemeral-storage":
		res = "requests." + res
	}
	switch {
	case res == "pods" || res == "count/pods":
		for _, p := range u.pods {
			if match(p.pod) {
				total = total.Add(IntQuantity(p.replicas + p.surge))
				surge = surge.Add(IntQuantity(p.surge))
			}
		}
		return total, surge, true
	case scoped:
		if !strings.HasPrefix(res, "requests.") && !strings.HasPrefix(res, "limits.") || res == "requests.storage" {
			return total, surge, false
		}
	}
	switch {
	case res == "requests.storage":
		return u.storage, Quantity{}, true
	case res == "persistentvolumeclaims" || res == "count/persistentvolumeclaims":
		return IntQuantity(u.claims), Quantity{}, true
	case strings.HasPrefix(res, "requests.") || strings.HasPrefix(res, "limits."):
		for _, p := range u.pods {
			if !match(p.pod) {
				continue
			}
			each := p.each[res]
			total = total.Add(each.Mul(p.replicas + p.surge))
			surge = surge.Add(each.Mul(p.surge))
		}
		return total, surge, true
	case strings.HasPrefix(res, "count/"):
		return IntQuantity(u.counts[strings.TrimPrefix(res, "count/")]), Quantity{}, true
	case legacyCounts[res]:
		return IntQuantity(u.counts[res]), Quantity{}, true
	}
	return total, surge, false
}
