// Package strategy describes progressive delivery as data: rolling,
// blue-green and canary strategies compile to a [Plan], a list of steps
// from a closed set, that validates, hashes and prints before anything
// runs. It also holds the arithmetic a canary needs without a service
// mesh: Argo Rollouts' replica counts for a weight, and the weights of a
// Gateway API HTTPRoute.
//
// # Plans
//
// A [Step] has exactly one of six kinds: setWeight (the canary's share of
// traffic, 0–100%), pause (for a duration, or until promoted), analysis
// (named analyses with arguments, inline or in the background),
// setCanaryScale (scale the new release without moving traffic),
// switchActive (make the new release the serving one) and scaleDown
// (scale down what stopped serving, after a delay). Steps encode in JSON
// as Argo Rollouts' canary steps do: {"setWeight":25},
// {"pause":{"duration":"10m0s"}}, {"pause":{}}.
//
// [Rolling], [BlueGreen] and [Canary] carry Argo Rollouts' fields, with
// its defaults (maxSurge and maxUnavailable 25%, scaleDownDelaySeconds
// and abortScaleDownDelaySeconds 30, autoPromotionEnabled true), and its
// validation rules: weights between 0 and 100, maxSurge and
// maxUnavailable not both zero, setCanaryScale only with traffic routing,
// scaleDownDelaySeconds and dynamicStableScale only with traffic routing
// and not together, distinct active and preview Services, non-negative
// durations. Each broken rule is a [FieldError] naming the step index and
// the field, all of them joined with errors.Join. Compile applies the
// defaults and returns the plan:
//
//   - rolling: setWeight 100%, carried out by the Deployment's own rolling
//     update within maxSurge and maxUnavailable (Argo Rollouts' canary
//     without steps);
//   - canary: the steps as written, then the finish: setWeight 100%,
//     switchActive (the stable workload takes the canary's release) and
//     scaleDown of the canary workload after scaleDownDelaySeconds;
//   - blue-green: the preview scaled up (previewReplicaCount, or fully),
//     the pre-promotion analysis, a pause (until promoted when
//     autoPromotionEnabled is false, autoPromotionSeconds otherwise), the
//     preview scaled fully, switchActive (the active Service's selector
//     moves, one commit), the post-promotion analysis and scaleDown of the
//     old colour after scaleDownDelaySeconds.
//
// [Plan.Hash] is the SHA-256 of the plan's canonical JSON (sorted keys, no
// insignificant whitespace, defaults applied): the same plan has the same
// hash in every process and on every machine, and any change to what would
// run changes it. [Plan.String] prints one line per step, "3/7 setWeight
// 25%"; [Plan.Mermaid] draws the plan with its analysis branches to the
// abort.
//
// # Semantics
//
// A plan is run as Argo Rollouts runs a Rollout:
//
//   - an analysis that ends Successful moves the run on; Inconclusive
//     pauses it until promoted (which passes the analysis) or aborted;
//     Failed or Error aborts it;
//   - a background analysis runs beside the following steps until the
//     plan finishes, and its verdict acts at whatever step the run is on;
//   - an abort sends all traffic back to the stable release, then scales
//     the new release down as [Plan.Abort] says: after abortScaleDownDelay
//     (30s by default), never (abortScaleDownDelaySeconds: 0), or with the
//     traffic (a canary without traffic routing, whose replica ratio is
//     its traffic, or a dynamically scaled stable); a blue-green abort
//     after the switch switches back first;
//   - Promote passes one pause (a timed one early, one until promoted, or
//     the pause an Inconclusive analysis caused);
//   - PromoteFull jumps to the finish, skipping every remaining pause and
//     analysis (the post-promotion analysis included), as `kubectl argo
//     rollouts promote --full`;
//   - Retry restarts an aborted run at step 0.
//
// Without traffic routing a canary's weight is its replica ratio:
// [ApproximateReplicas] and [BasicCanary.Counts] reproduce Argo Rollouts'
// approximateWeightedCanaryStableReplicaCounts and
// CalculateReplicaCountsForBasicCanary exactly (10 replicas at 10% are 1
// canary and 9 stable, at 41% 4 and 6, at 25% with surge 3 and 8), and
// [RoutedCanary.Counts] its CalculateReplicaCountsForTrafficRoutedCanary;
// [Plan.ReplicaCounts] picks the weight of the current step as Argo
// Rollouts does. With traffic routing the weights go to an HTTPRoute,
// explicit on both backends and never all zero ([HTTPRouteWeights]).
//
// # Where flightdeck departs from Argo Rollouts
//
//   - A step has exactly one kind. Argo Rollouts refuses two of setWeight,
//     pause, experiment and analysis in one step but lets setCanaryScale
//     ride along with setWeight; here they are two steps, which mean the
//     same.
//   - A canary's background analysis (analysis with startingStep) is a
//     step of the plan, an analysis step marked background placed before
//     step startingStep, so the plan shows where it starts; startingStep
//     beyond the last step is refused rather than never starting.
//   - Plans end with an explicit finish, so that a run, a printout and a
//     hash all say how the new release becomes the stable one.
//   - The blue-green scaleDownDelay counts from the end of a passed
//     post-promotion analysis (the old colour is always kept until then,
//     so that switching back is instant); Argo Rollouts starts it at the
//     switch when it is set explicitly and cancels the analysis when it
//     runs out.
//   - Fields Argo Rollouts silently ignores are refused:
//     abortScaleDownDelaySeconds on a canary without traffic routing,
//     autoPromotionSeconds with autoPromotionEnabled false, a
//     setCanaryScale with more or fewer than one of weight, replicas and
//     matchTrafficWeight, an analysis argument with both value and
//     valueFrom or given twice.
//   - Traffic routing is Gateway API HTTPRoute only, and minPodsPerReplicaSet,
//     experiments, header and mirror routes, anti-affinity and plugins are
//     not part of the model.
//   - Argo Rollouts names the case "no stable ReplicaSet" two ways (none,
//     or the stable is the new ReplicaSet itself); with one workload per
//     release only the first arises, and [BasicCanary] takes it as a nil
//     Stable.
package strategy
