// Package health decides whether a release is healthy: evaluators (HTTP
// probes, Prometheus queries, scrapes, Kubernetes object health),
// analysis runs that evaluate metrics on an interval, and statistical
// judges that compare a canary with its baseline.
//
// # Kubernetes object health
//
// [ObjectHealth] applies Argo CD's built-in rules (gitops-engine
// pkg/health) to an unstructured object, with Argo CD's messages:
//
//   - Deployment: spec.paused → Suspended; metadata.generation >
//     status.observedGeneration → Progressing; a Progressing condition with
//     reason ProgressDeadlineExceeded → Degraded; updatedReplicas <
//     spec.replicas, replicas > updatedReplicas, or availableReplicas <
//     updatedReplicas → Progressing; otherwise Healthy.
//   - StatefulSet: observedGeneration 0 or behind → Progressing; fewer
//     ready than wanted → Progressing; RollingUpdate with a partition →
//     Progressing until replicas−partition are updated, then Healthy;
//     OnDelete → Healthy; updateRevision ≠ currentRevision → Progressing;
//     otherwise Healthy.
//   - DaemonSet: generation behind → Progressing; OnDelete → Healthy;
//     updatedNumberScheduled or numberAvailable below
//     desiredNumberScheduled → Progressing; otherwise Healthy.
//   - ReplicaSet: generation behind → Progressing; ReplicaFailure=True →
//     Degraded; availableReplicas < spec.replicas → Progressing.
//   - Pod: with restartPolicy Always, a container waiting with a reason
//     starting "Err" or ending "Error"/"BackOff" → Degraded; phase Pending →
//     Progressing, Succeeded → Healthy, Failed → Degraded (with the pod's or
//     first failed container's message); Running → Healthy when Ready,
//     Degraded when not Ready and a container has restarted, else
//     Progressing; Running pods with restartPolicy OnFailure/Never are hooks
//     and stay Progressing unless annotated
//     argocd.argoproj.io/ignore-restart-policy; any other phase → Unknown.
//   - Service: type LoadBalancer is Progressing until
//     status.loadBalancer.ingress is set; other types are Healthy.
//   - Ingress: Progressing until status.loadBalancer.ingress is set.
//   - PersistentVolumeClaim: Bound → Healthy, Pending → Progressing, Lost →
//     Degraded, otherwise Unknown.
//   - Job: Failed condition → Degraded; Suspended=True → Suspended; Complete
//     → Healthy; no terminal condition → Progressing.
//   - HorizontalPodAutoscaler: conditions (autoscaling/v1 keeps them in the
//     autoscaling.alpha.kubernetes.io/conditions annotation): a failed scale
//     or metric → Degraded; all conditions AbleToScale/ScalingLimited=True →
//     Healthy; otherwise Progressing "Waiting to Autoscale".
//
// Any object with a deletionTimestamp (and no Argo CD hook finalizer) is
// Progressing, "Pending deletion". Kinds without a rule have no health in
// Argo CD; ObjectHealth reports them Healthy so they never worsen a [Worst]
// aggregate, and [HasHealthRule] tells them apart.
package health
