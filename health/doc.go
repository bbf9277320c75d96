// Package health decides whether a release is healthy: evaluators (HTTP
// probes, Prometheus queries, scrapes, Kubernetes object health),
// analysis runs that evaluate metrics on an interval, and statistical
// judges that compare a canary with its baseline.
//
// # Evaluators and measurements
//
// An [Evaluator] takes one [Measurement]: a time, a value (or several), a
// [Phase] and a message. Successful means a value was obtained (or, for
// judging evaluators such as [HTTPProbe] and [WorstStatus], that the target
// is healthy); Failed means judged unhealthy; Inconclusive means no data
// (an empty query result, NaN, a rate before two scrapes or from counters
// that are not finite, a [WorstStatus] over no objects) and is never
// success; Error means the measurement could not be taken and carries Err.
// Unreachable endpoints, timeouts, non-numeric or multi-series results
// where one was expected, malformed exposition text and 5xx replies are all
// Error measurements. [AllOf], [AnyOf] and [WorstStatus] combine.
//
// [ErrorLogs] watches logs: it counts the lines of a [LogSource] that
// match an error pattern ([DefaultErrorPattern]: level=error,
// "level":"error", ERROR, panic: and their kin) over a trailing window
// and fails when their rate (per minute, or per request with a
// [RequestCounter]) is above a limit. A window without any line is no
// data, never a clean log. gitops/argocd's LogSource reads an
// application's pod logs through Argo CD.
//
// The package is fail-safe by construction: nothing that could not be
// measured, and nothing an evaluator judged Failed, ever reads as a
// success. A Successful measurement without a value (Value NaN and no
// Values) is no data wherever it is read; a phase outside the ones above
// is an Error wrapping [ErrUnknownPhase]. healthtest.TestEvaluator and
// healthtest.TestEvaluatorFailSafe check evaluators against these rules.
//
// # Analysis runs
//
// [Runner.Run] evaluates the metrics of an [Analysis] on their schedules,
// like an Argo Rollouts AnalysisRun, and returns the full record.
//
// Each measurement is first classified (first matching row wins):
//
//	evaluator phase          value          conditions     measurement phase
//	Error, or unknown        any            any            Error
//	Failed                   any            any            Failed (never overruled)
//	Running, or none         any            any            Inconclusive (not a verdict)
//	Inconclusive             any            any            Metric.NoData (default
//	Successful               NaN, no Values any            Inconclusive; as Error
//	                                                       its Err is [ErrNoData])
//	Successful               a value        none           Successful
//	Successful               a value        success only   Successful if it holds, else Failed
//	Successful               a value        failure only   Failed if it holds, else Successful
//	Successful               a value        both           Failed if failure holds, else
//	                                                       Successful if success holds,
//	                                                       else Inconclusive
//
// A value is a number (±Inf included: a latency quantile above the top
// bucket is +Inf, and a failure condition on it holds) or a non-empty
// Values. Conditions thus only ever judge a measurement the evaluator
// reported Successful with a value: they can confirm or withdraw that
// success, and never turn no data, an error or a judging evaluator's
// Failed (a probe that got no answer, a Degraded object) into a success.
//
// A metric with no condition is the case where Argo Rollouts' code and
// docs part: its code makes every non-error measurement Successful. Here
// the evaluator's own phase stands instead, so a judging evaluator (a
// probe, a judge, an object-health check) still decides, while a plain
// numeric evaluator (which reports Successful when it got a value) behaves
// exactly as in Argo Rollouts' code. This is deliberate.
//
// As in Argo Rollouts, an Error measurement does not count toward the
// metric's count: it adds to the error and consecutive-error counters and
// the metric measures again after Metric.ErrorRetryInterval (default
// [DefaultErrorRetryInterval], 10s), also when it has no interval. So a
// metric whose measurements keep erroring ends in Error once the
// consecutive errors exceed the limit; errors never make up a count.
//
// After each measurement the metric is assessed (first matching row wins;
// "count" is the number of measurements that were not errors):
//
//  1. failures > FailureLimit (limit ≥ 0; default 0)                 → Failed
//  2. inconclusives > InconclusiveLimit (limit ≥ 0; default 0)       → Inconclusive
//  3. consecutive errors > ConsecutiveErrorLimit (default 4)         → Error
//  4. ConsecutiveSuccessLimit > 0 and consecutive successes ≥ it     → Successful
//  5. count reached and ConsecutiveSuccessLimit > 0 (not met)        → Inconclusive
//  6. count reached without a successful measurement                 → Failed if any
//     failed, else Error if any errored, else Inconclusive
//  7. count reached                                                  → Successful
//  8. otherwise                                                      → Running
//
// Row 6 is a deliberate difference from Argo Rollouts, which calls a
// metric Successful when its count is reached within the limits even if
// nothing succeeded (all failures under a disabled or high FailureLimit,
// all inconclusive under a high InconclusiveLimit): here a success needs
// at least one successful measurement.
//
// The count is Metric.Count, or 1 without an interval; a metric with an
// interval and no count runs until the analysis ends. The run then:
//
//   - ends as soon as a non-dry-run metric decides Failed, Error or
//     Inconclusive, with the worst decided phase (Successful < Inconclusive
//     < Error < Failed) — other metrics stop and, if undecided, end as
//     below;
//   - is Successful when every non-dry-run metric is Successful (with only
//     dry-run metrics, it is Successful once they finish);
//   - at Analysis.Duration ends undecided metrics: those without a count
//     become Successful if they had at least one successful measurement
//     (Argo Rollouts' termination of a background analysis), those with a
//     count not reached become Inconclusive, and any metric without a
//     successful measurement takes the worst phase it measured as in row 6
//     (Inconclusive when it measured nothing). A background metric whose
//     every measurement errored thus ends in Error, where Argo Rollouts
//     would call it Successful: a deliberate difference, since a rollback
//     or promotion must never stand on measurements that were not taken;
//   - on context cancellation returns promptly with the record so far,
//     phase Error and Err wrapping [ErrAnalysisCancelled]: a cancelled
//     analysis never reads as a success, and a measurement cut short by
//     the cancellation is not recorded.
//
// Dry-run metrics are measured and recorded with their phase but never
// decide the run.
//
// # Judges
//
// [Judge] compares a canary with its baseline metric by metric as
// Kayenta's NetflixACAJudge does: NaNs removed, a two-sided
// Mann-Whitney U test ([MannWhitney]) with the Hodges-Lehmann estimate of
// the shift and its 98% confidence interval; a metric is High when its
// direction allows it, the interval's lower end clears 25% of
// |estimate| and the mean ratio reaches AllowedIncrease (Low
// symmetrically), otherwise Pass, or Nodata without samples. An infinite
// sample ranks above every finite one and an infinite shift always clears
// the tolerance (a canary whose latency quantile is beyond the top bucket
// is High, never Pass); with nothing finite on either side the metric is
// Nodata. Groups score
// Pass/(Pass+High+Low)×100, the summary is the weighted sum of group
// scores, a critical metric that is not Pass fails the canary, and the
// score is Pass ≥ 95, Marginal ≥ 75, else Fail. [CanaryJudge] runs it on
// Prometheus range queries as an Evaluator.
//
// [SequentialTest] watches how errors split between canary and stable
// given the canary's traffic share: a mixture sequential probability
// ratio test whose statistic is a test martingale, so it may be checked
// after every error without raising its false-positive rate (Ville's
// inequality); zero errors keep it running, and it concludes early that
// the canary is no worse when the errors split in proportion.
// [ErrorSplit] feeds it from two error counters as an Evaluator.
//
// Simulations with fixed seeds (judge_test.go) show, over 2,000 A/A
// trials each, false-positive rates within α = 0.01: the Mann-Whitney
// judge (Direction Increase) on per-interval error rates and on
// lognormal latencies, and (Direction Either at 99% confidence) on error
// rates, and the sequential test checked after every one of up to 500
// errors per trial. The judge's tolerance gate makes it conservative (no
// A/A false positive in those seeds); the Mann-Whitney test beneath it is
// shown calibrated (p < 0.01 and a 98% interval above zero each about 1%
// of the time). The benchmarks in judge_bench_test.go
// measure how many requests each needs to catch a canary with twice the
// stable 1% error rate.
//
// BenchmarkCanaryJudges (canary_bench_test.go; bench/canary.sh prints it
// as a table) runs an ErrorSplit analysis on the sim package's simulated
// traffic, a canary at 10% of 100 requests a second, against a
// Flagger-style check (success rate over the last minute, checked every
// minute, aborting at the first check below 98%). Read every 10s with
// Alpha 0.005, the sequential judge aborts a canary failing 5× the
// stable 1% after about 13 failed requests where the Flagger-style check
// lets through about 30, and it falsely aborts 1% of 200 A/A canaries
// (0.1% of 4,000) where the check aborts 11.5% (13% of 4,000). Those are
// the settings it suggests for a canary step: Alpha 0.005 (the default
// 0.01 measures 0.3% false aborts over 4,000) and an interval as short as
// the counters are fresh, since reading the test more often only decides
// sooner.
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
