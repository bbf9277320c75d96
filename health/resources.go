package health

import (
	"fmt"
	"strings"
	"time"
)

// Workload selects the containers whose resource use a utilisation query
// measures. Namespace is required; Pod is a regular expression over pod
// names (for example "web-7d9f.*" for one ReplicaSet); Container, when
// set, restricts to one container.
type Workload struct {
	Namespace string
	Pod       string
	Container string
}

// Resource is a container resource.
type Resource string

// Resources.
const (
	CPU    Resource = "cpu"
	Memory Resource = "memory"
)

// Against says what utilisation is measured against.
type Against string

// Utilisation bases, as kube-state-metrics exposes them.
const (
	Requests Against = "requests"
	Limits   Against = "limits"
)

// quote escapes s for a PromQL double-quoted string.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func (w Workload) selector() string {
	pod := w.Pod
	if pod == "" {
		pod = ".*"
	}
	sel := fmt.Sprintf("namespace=%s,pod=~%s", quote(w.Namespace), quote(pod))
	if w.Container != "" {
		sel += ",container=" + quote(w.Container)
	} else {
		sel += `,container!="",container!="POD"`
	}
	return sel
}

// promDuration renders d in PromQL's duration syntax (whole seconds,
// at least 1s).
func promDuration(d time.Duration) string {
	s := int64(d / time.Second)
	if s < 1 {
		s = 1
	}
	return fmt.Sprintf("%ds", s)
}

// UtilisationQuery returns PromQL for the ratio of a workload's resource
// use to its requests or limits, over the usual series:
//
//   - CPU use: rate(container_cpu_usage_seconds_total[window]) (cAdvisor),
//     in cores;
//   - memory use: container_memory_working_set_bytes (cAdvisor), the
//     figure the kubelet evicts on;
//   - requests and limits: kube_pod_container_resource_requests and
//     kube_pod_container_resource_limits{resource="cpu"|"memory"}
//     (kube-state-metrics v2).
//
// Both sides are summed over the selected containers, so the result is a
// single series: 0.8 means 80% of what was requested. window applies to
// CPU only (default 5m). It returns an error for an empty namespace or an
// unknown resource or base.
func UtilisationQuery(w Workload, r Resource, base Against, window time.Duration) (string, error) {
	if w.Namespace == "" {
		return "", fmt.Errorf("utilisation query: namespace is required")
	}
	if base != Requests && base != Limits {
		return "", fmt.Errorf("utilisation query for %s/%s: unknown base %q", w.Namespace, w.Pod, base)
	}
	if window <= 0 {
		window = 5 * time.Minute
	}
	sel := w.selector()
	var used string
	switch r {
	case CPU:
		used = fmt.Sprintf("sum(rate(container_cpu_usage_seconds_total{%s}[%s]))", sel, promDuration(window))
	case Memory:
		used = fmt.Sprintf("sum(container_memory_working_set_bytes{%s})", sel)
	default:
		return "", fmt.Errorf("utilisation query for %s/%s: unknown resource %q", w.Namespace, w.Pod, r)
	}
	budget := fmt.Sprintf("sum(kube_pod_container_resource_%s{%s,resource=%s})", base, sel, quote(string(r)))
	return used + " / " + budget, nil
}

// RestartsQuery returns PromQL for the number of container restarts of a
// workload over window (kube-state-metrics
// kube_pod_container_status_restarts_total), a common failure condition.
func RestartsQuery(w Workload, window time.Duration) (string, error) {
	if w.Namespace == "" {
		return "", fmt.Errorf("restarts query: namespace is required")
	}
	if window <= 0 {
		window = 5 * time.Minute
	}
	return fmt.Sprintf("sum(increase(kube_pod_container_status_restarts_total{%s}[%s]))", w.selector(), promDuration(window)), nil
}
