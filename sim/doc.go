// Package sim is an in-memory Kubernetes cluster for tests, examples and
// fakes such as argocdtest.
//
// A [Cluster] applies rendered manifests (multi-document YAML or
// unstructured objects) and plays out what Kubernetes would do with them:
//
//   - Deployments roll out through ReplicaSets and pods as the Deployment
//     controller does: RollingUpdate bounded by maxSurge (rounded up) and
//     maxUnavailable (rounded down, both 25% by default), or Recreate;
//     pods count as available minReadySeconds after they become ready; a
//     rollout that makes no progress for progressDeadlineSeconds (600 by
//     default) gets the Progressing condition False with reason
//     ProgressDeadlineExceeded; re-applying an earlier template scales its
//     ReplicaSet up again with a new revision; a paused Deployment does
//     not roll out.
//   - Pods behave as their image's [Behavior] says: ready after a delay,
//     never ready, or crash-looping with the kubelet's back-off. Images are
//     parsed and normalised as the kubelet reads them (Docker Hub's
//     docker.io and library/ implied); a behaviour keyed by digest covers
//     every spelling of that digest, one keyed by tag the references that
//     name the tag, one keyed by repository all of them, the most
//     specific winning (see [Cluster.SetBehavior]). A key that does not
//     parse is refused; a manifest image that does not parse leaves its
//     pods Pending with InvalidImageName, never healthy.
//   - Statuses are written in Kubernetes' shape (observedGeneration,
//     replica counts, conditions with reasons and messages, container
//     states), so [health.ObjectHealth] assesses them with Argo CD's rules;
//     [Cluster.Health] does that for one object.
//   - Traffic enters through a Service or a Gateway API HTTPRoute
//     ([Cluster.Send] for a batch now, [Cluster.SetLoad] for a steady
//     rate as time passes, [WithTraffic] for load on every ready pod
//     directly). A Service spreads requests evenly over the ready pods its
//     selector matches, across Deployments, so replica ratios split
//     traffic as they do in Kubernetes. An HTTPRoute's first rule picks a
//     backendRef per request with probability weight / sum of weights (no
//     weight means 1, weight 0 none; all zero means no backend and 503; a
//     missing Service 500). Each pod answers as its [Behavior] says: its
//     error rate, its latency distribution ([Latency]), CPU per request and
//     memory. Randomness comes from a seeded source ([WithSeed]), so runs
//     are reproducible.
//   - [Cluster.MetricsHandler] serves what a real cluster's exporters
//     would, in the Prometheus text format: request counters and latency
//     histograms per Deployment and pod-template hash, requests per
//     HTTPRoute backend, cAdvisor's container CPU seconds and memory
//     working set, kube-state-metrics' restarts and readiness per pod.
//     [WithRegisterer] registers the same metrics with a registry of
//     yours. [Cluster.Requests] counts one Deployment's requests, and
//     [Cluster.Logs] returns the error lines pods logged, one per failed
//     request (and an access-log line per request answered well when
//     their [Behavior] asks for it).
//   - Services get a cluster IP and, when of type LoadBalancer, an
//     ingress address; Gateway API HTTPRoutes are Accepted by each parent;
//     any other kind is stored as given.
//
// Time is whatever the cluster's [clock.Clock] says (nil: the system
// clock). With a [Clock], the same drivable clock as clocktest's, a test
// moves time explicitly ([Clock.Advance], [Clock.AdvanceToNext]) so a
// ten-minute rollout takes microseconds, or lets it run faster than the
// wall clock ([Clock.Accelerate]) for demos. The simulation is lazy and
// exact: each call first plays out, in order, every event (a pod becoming
// ready or available, a progress deadline) since the previous call.
package sim
