// Package gates holds pipeline stages that pass or fail a build on
// measured or checked results rather than doing work: a performance gate,
// a scan gate, and the pre-deploy gates that check an environment's
// overlay and a release before it is deployed.
//
// The performance gate ([NewPerfGate]) reads [Measurement]s from Go
// benchmark output ([ParseBench], the text `go test -bench -benchmem`
// prints), from k6's end-of-test summary ([ParseK6Summary], the file
// `k6 run --summary-export=FILE` writes; [K6SummaryFile] in a pipeline),
// or from a load-test result in a small JSON format ([ParseLoadTest]),
// and checks them against [Budget]s: p95 latency,
// throughput, allocations and bytes per operation, error rate. For
// benchmarks run with -count=N the samples of one benchmark are
// aggregated: latency is the median ns/op, p95 latency the 95th
// percentile of the ns/op samples, throughput 1e9 / median ns/op, and
// allocations the worst sample. A budget that matches no measurement is
// an error ([ErrNoMeasurement]), so a renamed benchmark cannot silently
// pass the gate. For k6, p95 and median latency come from
// http_req_duration, the error rate from http_req_failed and throughput
// from http_reqs' rate; a refusal names the k6 metric, the budget and the
// measured value.
//
// The scan gate ([NewScanGate]) applies a [scan.Policy] to the findings
// of one or more scan steps together, at the time of a clock, so that
// allowlist entries expire on schedule.
//
// # Pre-deploy gates
//
// The pre-deploy gates render an environment's [Overlay] through
// gitops (the same kustomize build Argo CD applies) and check what it
// renders:
//
//   - [NewResourceGate] refuses a container or init container of any
//     workload (Deployment, StatefulSet, DaemonSet, ReplicaSet,
//     ReplicationController, Job, CronJob, Pod, Argo Rollouts' Rollout,
//     whose workloadRef is followed to its Deployment) that does not set
//     requests.cpu, requests.memory, limits.cpu and limits.memory, holds
//     a malformed quantity, or requests more than its limit. Every
//     problem of the overlay is reported at once ([*ResourcesError]),
//     each naming the object as Kind/namespace/name, the container and
//     the missing fields. Ephemeral containers are not checked: they
//     cannot appear in a pod template, and Kubernetes forbids them
//     resources.
//   - [NewQuotaGate] adds up, per namespace, what the workloads need and
//     refuses when a ResourceQuota rendered by the same overlay is
//     exceeded ([*QuotaError]), naming the quota, the resource, the
//     total, the hard limit and the excess.
//   - [NewReadyGate] lets a release through only when all its tests
//     passed (the [gotest.Report]s kept by gotest's stage) and its
//     image's findings pass the environment's [scan.Policy], through a
//     [ScanGate]; every reason to refuse is reported together.
//
// The quota gate counts what the quota admission of Kubernetes charges.
// A pod's requests and limits are the sum of its containers' and
// sidecars' (init containers with restartPolicy Always), or the largest
// init container's (plus the sidecars started before it) when that is
// more, plus the pod's overhead; a container's request defaults to its
// limit as the API server defaults it. The quota resources computed are
// requests.<resource> and limits.<resource> (cpu, memory,
// ephemeral-storage or any other), the shorthands cpu, memory and
// ephemeral-storage (requests), pods, requests.storage and
// persistentvolumeclaims (claims in the overlay and a StatefulSet's
// volumeClaimTemplates per replica), count/<resource>[.<group>] and the
// older object counts (services, secrets, configmaps, …). Scopes
// Terminating, NotTerminating, BestEffort, NotBestEffort and PriorityClass
// selectors are evaluated; a quota with another scope, and a resource the
// gate cannot compute (services.nodeports, a storage class's storage), is
// listed in [QuotaReport.Unchecked] rather than guessed. As the quota
// admission does, the gate also refuses a container of a pod a quota
// tracks that does not set a compute resource the quota names (a quota on
// limits.memory needs every container's memory limit). A namespace with
// no quota passes, unless [QuotaGate.RequireQuota].
//
// Pods are counted as the manifests say: replicas (default 1) for
// Deployments, StatefulSets, ReplicaSets and Rollouts; one per node for
// a DaemonSet ([QuotaGate.WithDaemonSetNodes], default 1); parallelism
// capped by completions for a Job and a CronJob's job; one for a Pod. A
// workload that a HorizontalPodAutoscaler of the overlay scales is
// counted at the autoscaler's maxReplicas, the most the namespace must
// admit under load ([QuotaGate.WithAutoscalerMin] counts it at
// minReplicas).
//
// By default the total includes the surge of an update, because
// Kubernetes charges surge pods against the quota the moment they are
// created: a rollout that does not fit stalls with "exceeded quota"
// halfway. The surge is a Deployment's rolling-update maxSurge (default
// 25%, a percentage rounded up, none for Recreate), a DaemonSet's
// maxSurge (default 0), an Argo Rollouts canary's maxSurge (default 25%),
// a full second set of pods for a canary with traffic routing (the stable
// set keeps its size) and for a blue-green Rollout (the preview set), and
// none for StatefulSets, Jobs and Pods. Every workload is assumed to
// update at once. [QuotaGate.WithoutSurge] checks the workloads at rest.
// Only the overlay's own objects are counted: pods other apps run in the
// namespace are not known to the gate.
//
// Quantities are read by [ParseQuantity] as the API server reads them
// (decimal and binary suffixes and exponents, rounded up to 10⁻⁹) and
// added exactly; the package does not depend on k8s.io/apimachinery.
//
// All gates fail with errors marked [pipeline.Permanent] when the check
// itself refused: running the same check again cannot change its
// outcome, so the engine does not retry. An overlay that does not render
// is permanent too (gitops.ErrRender, the error naming the overlay); a
// repository that cannot be reached is not.
package gates
