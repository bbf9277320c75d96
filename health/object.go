package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrMalformedObject is returned (wrapped in an [*ObjectError]) by
// [ObjectHealth] when the object is not a well-formed Kubernetes object: it
// is nil, has no apiVersion or kind, or a field its rule reads has the wrong
// type (for example spec.replicas given as a string).
var ErrMalformedObject = errors.New("malformed Kubernetes object")

// ObjectError describes why an object could not be assessed. It names the
// object and the field at fault and wraps [ErrMalformedObject].
type ObjectError struct {
	Kind  string // object kind, empty when missing
	Name  string // metadata.name, empty when missing
	Field string // dotted path of the offending field, empty for the object itself
	Err   error  // the cause; errors.Is(err, ErrMalformedObject) holds
}

// Error implements error.
func (e *ObjectError) Error() string {
	obj := e.Kind
	if obj == "" {
		obj = "object"
	}
	if e.Name != "" {
		obj += " " + e.Name
	}
	if e.Field != "" {
		return fmt.Sprintf("health of %s: field %s: %v", obj, e.Field, e.Err)
	}
	return fmt.Sprintf("health of %s: %v", obj, e.Err)
}

// Unwrap returns the cause.
func (e *ObjectError) Unwrap() error { return e.Err }

// HookFinalizer is the finalizer Argo CD puts on hook resources. An object
// being deleted that still carries it is assessed by its rule rather than
// reported as pending deletion, as Argo CD does.
const HookFinalizer = "argocd.argoproj.io/hook-finalizer"

// HasHealthRule reports whether [ObjectHealth] has a built-in rule for the
// given apiVersion and kind. Objects without a rule have no health of their
// own in Argo CD; [ObjectHealth] reports them as [Healthy] so that they do
// not affect a [Worst] aggregate, and callers that must tell the two apart
// use HasHealthRule.
func HasHealthRule(apiVersion, kind string) bool {
	return ruleFor(apiVersion, kind) != nil
}

type rule func(r *reader) (Status, string)

func ruleFor(apiVersion, kind string) rule {
	group := ""
	if i := strings.LastIndex(apiVersion, "/"); i >= 0 {
		group = apiVersion[:i]
	}
	switch group {
	case "apps":
		switch kind {
		case "Deployment":
			return deploymentHealth
		case "StatefulSet":
			return statefulSetHealth
		case "DaemonSet":
			return daemonSetHealth
		case "ReplicaSet":
			return replicaSetHealth
		}
	case "extensions":
		switch kind {
		case "Ingress":
			return ingressHealth
		}
	case "networking.k8s.io":
		if kind == "Ingress" {
			return ingressHealth
		}
	case "":
		switch kind {
		case "Pod":
			return podHealth
		case "Service":
			return serviceHealth
		case "PersistentVolumeClaim":
			return pvcHealth
		}
	case "batch":
		if kind == "Job" {
			return jobHealth
		}
	case "autoscaling":
		if kind == "HorizontalPodAutoscaler" {
			return hpaHealth
		}
	}
	return nil
}

// ObjectHealth assesses a Kubernetes object given in unstructured form (the
// decoded JSON or YAML of apiVersion, kind, metadata, spec and status) with
// the rules of Argo CD's gitops-engine health package. It returns the
// status and a human message (often empty, exactly as Argo CD leaves it).
//
// Rules exist for Deployment, StatefulSet, DaemonSet and ReplicaSet (group
// apps), Pod, Service (type LoadBalancer), PersistentVolumeClaim, Ingress
// (networking.k8s.io and extensions), Job and HorizontalPodAutoscaler; see
// the package documentation for each rule. An object with a
// metadata.deletionTimestamp and no [HookFinalizer] is Progressing with the
// message "Pending deletion", whatever its kind.
//
// Kinds without a rule (ConfigMap, Secret, custom resources ...) have no
// health in Argo CD and do not count towards an application's health.
// ObjectHealth returns [Healthy] with an empty message for them, which has
// the same effect on a [Worst] aggregate; use [HasHealthRule] to tell them
// apart.
//
// The error is non-nil only when the object is malformed; it is an
// [*ObjectError] wrapping [ErrMalformedObject], and the status is then
// [Unknown] with the error text as message, as Argo CD reports a failed
// assessment.
func ObjectHealth(obj map[string]any) (Status, string, error) {
	if obj == nil {
		return malformed(&ObjectError{Err: fmt.Errorf("%w: object is nil", ErrMalformedObject)})
	}
	r := &reader{obj: obj}
	apiVersion := r.str("apiVersion")
	kind := r.str("kind")
	r.kind, r.name = kind, r.str("metadata", "name")
	if r.err != nil {
		return malformed(r.err)
	}
	if apiVersion == "" || kind == "" {
		return malformed(&ObjectError{Kind: kind, Name: r.name,
			Err: fmt.Errorf("%w: apiVersion and kind are required", ErrMalformedObject)})
	}
	if r.present("metadata", "deletionTimestamp") && !hasString(r.slice("metadata", "finalizers"), HookFinalizer) {
		if r.err != nil {
			return malformed(r.err)
		}
		return Progressing, "Pending deletion", nil
	}
	check := ruleFor(apiVersion, kind)
	if check == nil {
		return Healthy, "", nil
	}
	st, msg := check(r)
	if r.err != nil {
		return malformed(r.err)
	}
	return st, msg, nil
}

func malformed(err *ObjectError) (Status, string, error) {
	return Unknown, err.Error(), err
}

func deploymentHealth(r *reader) (Status, string) {
	if r.bool("spec", "paused") {
		return Suspended, "Deployment is paused"
	}
	gen, _ := r.int("metadata", "generation")
	observed, _ := r.int("status", "observedGeneration")
	if gen > observed {
		return Progressing, "Waiting for rollout to finish: observed deployment generation less then desired generation"
	}
	replicas, hasReplicas := r.int("spec", "replicas")
	updated, _ := r.int("status", "updatedReplicas")
	statusReplicas, _ := r.int("status", "replicas")
	available, _ := r.int("status", "availableReplicas")
	if c := r.condition("Progressing"); c != nil && c.reason == "ProgressDeadlineExceeded" {
		return Degraded, fmt.Sprintf("Deployment %q exceeded its progress deadline", r.name)
	}
	switch {
	case hasReplicas && updated < replicas:
		return Progressing, fmt.Sprintf("Waiting for rollout to finish: %d out of %d new replicas have been updated...", updated, replicas)
	case statusReplicas > updated:
		return Progressing, fmt.Sprintf("Waiting for rollout to finish: %d old replicas are pending termination...", statusReplicas-updated)
	case available < updated:
		return Progressing, fmt.Sprintf("Waiting for rollout to finish: %d of %d updated replicas are available...", available, updated)
	}
	return Healthy, ""
}

func statefulSetHealth(r *reader) (Status, string) {
	gen, _ := r.int("metadata", "generation")
	observed, _ := r.int("status", "observedGeneration")
	if observed == 0 || gen > observed {
		return Progressing, "Waiting for statefulset spec update to be observed..."
	}
	replicas, hasReplicas := r.int("spec", "replicas")
	ready, _ := r.int("status", "readyReplicas")
	updated, _ := r.int("status", "updatedReplicas")
	if hasReplicas && ready < replicas {
		return Progressing, fmt.Sprintf("Waiting for %d pods to be ready...", replicas-ready)
	}
	strategy := r.str("spec", "updateStrategy", "type")
	if strategy == "RollingUpdate" && r.present("spec", "updateStrategy", "rollingUpdate") {
		if partition, ok := r.int("spec", "updateStrategy", "rollingUpdate", "partition"); ok && hasReplicas {
			if updated < replicas-partition {
				return Progressing, fmt.Sprintf("Waiting for partitioned roll out to finish: %d out of %d new pods have been updated...", updated, replicas-partition)
			}
		}
		return Healthy, fmt.Sprintf("partitioned roll out complete: %d new pods have been updated...", updated)
	}
	if strategy == "OnDelete" {
		return Healthy, fmt.Sprintf("statefulset has %d ready pods", ready)
	}
	updateRev := r.str("status", "updateRevision")
	currentRev := r.str("status", "currentRevision")
	if updateRev != currentRev {
		return Progressing, fmt.Sprintf("waiting for statefulset rolling update to complete %d pods at revision %s...", updated, updateRev)
	}
	current, _ := r.int("status", "currentReplicas")
	return Healthy, fmt.Sprintf("statefulset rolling update complete %d pods at revision %s...", current, currentRev)
}

func daemonSetHealth(r *reader) (Status, string) {
	gen, _ := r.int("metadata", "generation")
	observed, _ := r.int("status", "observedGeneration")
	if gen > observed {
		return Progressing, "Waiting for rollout to finish: observed daemon set generation less then desired generation"
	}
	updated, _ := r.int("status", "updatedNumberScheduled")
	desired, _ := r.int("status", "desiredNumberScheduled")
	available, _ := r.int("status", "numberAvailable")
	if r.str("spec", "updateStrategy", "type") == "OnDelete" {
		return Healthy, fmt.Sprintf("daemon set %d out of %d new pods have been updated", updated, desired)
	}
	if updated < desired {
		return Progressing, fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d out of %d new pods have been updated...", r.name, updated, desired)
	}
	if available < desired {
		return Progressing, fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d of %d updated pods are available...", r.name, available, desired)
	}
	return Healthy, ""
}

func replicaSetHealth(r *reader) (Status, string) {
	gen, _ := r.int("metadata", "generation")
	observed, _ := r.int("status", "observedGeneration")
	if gen > observed {
		return Progressing, "Waiting for rollout to finish: observed replica set generation less then desired generation"
	}
	if c := r.condition("ReplicaFailure"); c != nil && c.status == "True" {
		return Degraded, c.message
	}
	replicas, hasReplicas := r.int("spec", "replicas")
	available, _ := r.int("status", "availableReplicas")
	if hasReplicas && available < replicas {
		return Progressing, fmt.Sprintf("Waiting for rollout to finish: %d out of %d new replicas are available...", available, replicas)
	}
	return Healthy, ""
}

func podHealth(r *reader) (Status, string) {
	restartPolicy := r.str("spec", "restartPolicy")
	if restartPolicy == "" {
		restartPolicy = "Always" // the API server's default
	}
	message := r.str("status", "message")
	containers := r.maps("status", "containerStatuses")
	if restartPolicy == "Always" {
		var msgs []string
		for _, c := range containers {
			reason := c.str("state", "waiting", "reason")
			if strings.HasPrefix(reason, "Err") || strings.HasSuffix(reason, "Error") || strings.HasSuffix(reason, "BackOff") {
				msgs = append(msgs, c.str("state", "waiting", "message"))
			}
		}
		if msgs != nil {
			return Degraded, strings.Join(msgs, ", ")
		}
	}
	switch r.str("status", "phase") {
	case "Pending":
		return Progressing, message
	case "Succeeded":
		return Healthy, message
	case "Failed":
		if message != "" {
			return Degraded, message
		}
		for _, c := range append(r.maps("status", "initContainerStatuses"), containers...) {
			if !c.present("state", "terminated") {
				continue
			}
			if m := c.str("state", "terminated", "message"); m != "" {
				return Degraded, m
			}
			if reason := c.str("state", "terminated", "reason"); reason == "OOMKilled" {
				return Degraded, reason
			}
			if code, _ := c.int("state", "terminated", "exitCode"); code != 0 {
				return Degraded, fmt.Sprintf("container %q failed with exit code %d", c.str("name"), code)
			}
		}
		return Degraded, ""
	case "Running":
		_, ignorePolicy := r.m("metadata", "annotations")["argocd.argoproj.io/ignore-restart-policy"]
		if restartPolicy != "Always" && !ignorePolicy {
			// Pods that run to completion are typically hooks: Progressing
			// until they succeed.
			return Progressing, message
		}
		if c := r.condition("Ready"); c != nil && c.status == "True" {
			return Healthy, message
		}
		for _, c := range containers {
			if c.present("lastState", "terminated") {
				return Degraded, message
			}
		}
		return Progressing, message
	}
	return Unknown, message
}

func serviceHealth(r *reader) (Status, string) {
	if r.str("spec", "type") != "LoadBalancer" {
		return Healthy, ""
	}
	if len(r.slice("status", "loadBalancer", "ingress")) > 0 {
		return Healthy, ""
	}
	return Progressing, ""
}

func ingressHealth(r *reader) (Status, string) {
	if len(r.slice("status", "loadBalancer", "ingress")) > 0 {
		return Healthy, ""
	}
	return Progressing, ""
}

func pvcHealth(r *reader) (Status, string) {
	switch r.str("status", "phase") {
	case "Lost":
		return Degraded, ""
	case "Pending":
		return Progressing, ""
	case "Bound":
		return Healthy, ""
	}
	return Unknown, ""
}

func jobHealth(r *reader) (Status, string) {
	var failed, complete, suspended bool
	var failMsg, message string
	for _, c := range r.conditions() {
		switch c.typ {
		case "Failed":
			failed, complete, failMsg = true, true, c.message
		case "Complete":
			complete, message = true, c.message
		case "Suspended":
			complete, message = true, c.message
			suspended = c.status == "True"
		}
	}
	switch {
	case !complete:
		return Progressing, message
	case failed:
		return Degraded, failMsg
	case suspended:
		return Suspended, message
	}
	return Healthy, message
}

const hpaWaiting = "Waiting to Autoscale"

func hpaHealth(r *reader) (Status, string) {
	var conds []condition
	if strings.HasSuffix(r.str("apiVersion"), "/v1") {
		// autoscaling/v1 keeps its conditions in an annotation.
		raw, ok := r.m("metadata", "annotations")["autoscaling.alpha.kubernetes.io/conditions"]
		if !ok {
			return Progressing, hpaWaiting
		}
		s, isString := raw.(string)
		var decoded []map[string]any
		if !isString || json.Unmarshal([]byte(s), &decoded) != nil {
			r.fail("metadata.annotations.autoscaling.alpha.kubernetes.io/conditions", "not a JSON list of conditions")
			return Unknown, ""
		}
		for _, d := range decoded {
			conds = append(conds, (&reader{obj: d, kind: r.kind, name: r.name, parent: r}).asCondition())
		}
	} else {
		conds = r.conditions()
	}
	if len(conds) == 0 {
		return Progressing, hpaWaiting
	}
	var healthy []string
	for _, c := range conds {
		switch {
		case c.typ == "AbleToScale" && (c.reason == "FailedGetScale" || c.reason == "FailedUpdateScale"),
			c.typ == "ScalingActive" && (c.reason == "FailedGetResourceMetric" || c.reason == "InvalidSelector"):
			return Degraded, c.message
		case (c.typ == "AbleToScale" || c.typ == "ScalingLimited") && c.status == "True":
			healthy = append(healthy, c.message)
		}
	}
	if len(healthy) == len(conds) {
		return Healthy, strings.Join(healthy, ",")
	}
	return Progressing, hpaWaiting
}

// reader reads typed fields out of an unstructured object and remembers the
// first type error it meets, so rules read as straight-line code.
type reader struct {
	obj        map[string]any
	kind, name string
	prefix     string  // path of obj inside the top-level object
	parent     *reader // element readers report errors to their parent
	err        *ObjectError
}

func (r *reader) fail(field, msg string) {
	if r.parent != nil {
		r.parent.fail(field, msg)
		return
	}
	if r.err == nil {
		r.err = &ObjectError{Kind: r.kind, Name: r.name, Field: field,
			Err: fmt.Errorf("%w: %s", ErrMalformedObject, msg)}
	}
}

func (r *reader) path(p []string) string {
	s := strings.Join(p, ".")
	if r.prefix != "" {
		s = r.prefix + "." + s
	}
	return s
}

// get walks p and returns the value there, or nil when any step is absent.
func (r *reader) get(p ...string) any {
	var cur any = r.obj
	for i, k := range p {
		if cur == nil {
			return nil
		}
		m, ok := cur.(map[string]any)
		if !ok {
			r.fail(r.path(p[:i]), fmt.Sprintf("want an object, got %T", cur))
			return nil
		}
		cur = m[k]
	}
	return cur
}

func (r *reader) present(p ...string) bool { return r.get(p...) != nil }

func (r *reader) str(p ...string) string {
	switch v := r.get(p...).(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		r.fail(r.path(p), fmt.Sprintf("want a string, got %T", v))
		return ""
	}
}

func (r *reader) bool(p ...string) bool {
	switch v := r.get(p...).(type) {
	case nil:
		return false
	case bool:
		return v
	default:
		r.fail(r.path(p), fmt.Sprintf("want a boolean, got %T", v))
		return false
	}
}

// int reads an integer; JSON numbers arrive as float64, YAML ones as int.
func (r *reader) int(p ...string) (int64, bool) {
	switch v := r.get(p...).(type) {
	case nil:
		return 0, false
	case int:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case float64:
		if v == math.Trunc(v) && !math.IsInf(v, 0) {
			return int64(v), true
		}
		r.fail(r.path(p), fmt.Sprintf("want an integer, got %v", v))
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, true
		}
		r.fail(r.path(p), fmt.Sprintf("want an integer, got %q", v.String()))
	default:
		r.fail(r.path(p), fmt.Sprintf("want an integer, got %T", v))
	}
	return 0, false
}

func (r *reader) m(p ...string) map[string]any {
	switch v := r.get(p...).(type) {
	case nil:
		return nil
	case map[string]any:
		return v
	default:
		r.fail(r.path(p), fmt.Sprintf("want an object, got %T", v))
		return nil
	}
}

func (r *reader) slice(p ...string) []any {
	switch v := r.get(p...).(type) {
	case nil:
		return nil
	case []any:
		return v
	default:
		r.fail(r.path(p), fmt.Sprintf("want a list, got %T", v))
		return nil
	}
}

// maps returns the list at p as readers over its elements, which must be
// objects. Errors found while reading the elements are recorded on r.
func (r *reader) maps(p ...string) []*reader {
	var out []*reader
	for i, e := range r.slice(p...) {
		m, ok := e.(map[string]any)
		if !ok {
			r.fail(fmt.Sprintf("%s[%d]", r.path(p), i), fmt.Sprintf("want an object, got %T", e))
			return nil
		}
		out = append(out, &reader{obj: m, kind: r.kind, name: r.name,
			prefix: fmt.Sprintf("%s[%d]", r.path(p), i), parent: r})
	}
	return out
}

type condition struct{ typ, status, reason, message string }

func (r *reader) asCondition() condition {
	return condition{typ: r.str("type"), status: r.str("status"), reason: r.str("reason"), message: r.str("message")}
}

func (r *reader) conditions() []condition {
	var out []condition
	for _, c := range r.maps("status", "conditions") {
		out = append(out, c.asCondition())
	}
	return out
}

func (r *reader) condition(typ string) *condition {
	for _, c := range r.conditions() {
		if c.typ == typ {
			return &c
		}
	}
	return nil
}

func hasString(list []any, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
