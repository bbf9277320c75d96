// Package strategy describes progressive delivery as data and carries it
// out through Git: rolling, blue-green and canary strategies compile to a
// [Plan], a list of steps from a closed set, that validates, hashes and
// prints before anything runs; a [Runner] then makes each step one commit
// of an app's overlay, synced and waited for, with analyses between
// steps, and keeps the whole state of the run in Git. It also holds the
// arithmetic a canary needs without a service mesh: Argo Rollouts'
// replica counts for a weight, and the weights of a Gateway API
// HTTPRoute.
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
// # Running a plan through Git
//
// A [Runner] carries out a plan for one app in one environment. Every
// step is one commit through gitops (its trailers say the app, the
// environment, the release, the plan hash, "Flightdeck-Step: n/m", the
// weight and the action: [ActionStep], [ActionAbort], [ActionControl]),
// followed by a sync of exactly that commit through a gitops.Syncer and
// gitops.WaitFor on that revision. What a step changes in the overlay is
// a [Target]'s business: [RouteTarget] writes Gateway API HTTPRoute
// weights, explicit on both backends; [ReplicaTarget] the replica counts
// of the stable and the canary Deployment behind one Service (Argo
// Rollouts' arithmetic, see below); [BlueGreenTarget] one Deployment per
// colour and the active Service's selector; [RollingTarget] the app's
// own `images:` entry, the Deployment rolling itself. [PrepareOverlay]
// writes a target's manifests (in the overlay's "flightdeck" directory,
// listed in its kustomization) in one commit; a run does it first when
// they are missing or out of date.
//
// The run's record, a [Status] in [StatusFile] under .flightdeck/, is
// written by every commit of the run, and read back ([ReadStatus]) from
// the newest rollout commit that gitops.Historian.History trusts, checked
// against its trailers. Nothing else is kept: a process that dies
// mid-canary is replaced by a new one whose Run carries on from Git
// without repeating a step (a pause keeps its deadline, a scale-down its
// due time; only an analysis cut short is run again). Every commit is a
// compare-and-swap on the record: it is made only if the record in the
// tree is, byte for byte, the one the runner last read or wrote. A
// runner that loses the swap to a command takes the command in and
// commits again; one that loses it to another runner's step stops with
// [ErrOtherRunner] instead of replaying its step, so two runners never
// both advance a run. A record changed by hand is refused
// ([ErrTampered]).
//
// Commands ([Control]: [CommandPromote], [CommandPromoteFull],
// [CommandAbort], [CommandRetry]) are commits of the record too, so any
// process can give them; a waiting runner reads Git every control poll
// and acts on them at once. Guards (gitops.Guard, [WithGuards]) see every
// commit of a run: an environment under a hold refuses them and the run
// stops with the guard's error.
//
// An [Observer] receives every step, sync, analysis verdict and
// decision; [Printer] prints them for a terminal; [NotifyObserver] tells
// stakeholders through package notify (steps completed, aborts, the new
// release become stable); [WithRegisterer] exports Prometheus metrics
// labelled only by strategy, step kind, phase and abort cause.
//
// strategytest has a recording [Target], the conformance suite
// strategytest.TestTarget, and the repository layout it uses.
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
//   - Each release has a Deployment of its own (the app's for the stable,
//     "<deployment>-canary" or a colour for the new one), where Argo
//     Rollouts has ReplicaSets of one Rollout. So a canary's switchActive
//     rolls the app's Deployment to the new release while the canary
//     still carries the traffic, and (with a router) then moves the
//     traffic back to it: two commits of one step. After that an abort is
//     refused ([ErrTooLate]); only a rollback undoes it. A
//     podTemplateHashValue argument resolves to the release's digest.
//   - A step commits the replica counts its weight aims at (Argo
//     Rollouts' own counts, applied until they settle); the Deployment
//     controllers bring the pods there within each Deployment's
//     maxSurge and maxUnavailable, rather than one controller stepping
//     both. With dynamicStableScale a step is two commits: the traffic
//     moves while the stable keeps its pods, then the stable is scaled to
//     its share; an abort first gives the stable its pods back, then its
//     traffic. Workloads flightdeck writes carry the app's rolling-update
//     bounds as pod counts, resolved at the app's replicas.
//   - The new release's workload is a copy of the app's Deployment as the
//     overlay renders it, written at the start of each run: a change to
//     the overlay's configuration reaches it at the next run. A
//     blue-green app's own Deployment is kept at 0 replicas once its
//     colours serve, and the overlay's `images:` entry always pins the
//     serving release, so readers of the overlay (gitops.CurrentRelease
//     with the Target's ImageName) see what serves; while a run is in
//     flight the overlay pins a second release, and a reader that does
//     not name the entry is refused.
//   - Promote given while the run is not paused waits for the next pause
//     and passes it (Argo Rollouts would skip the current step).
//   - A background analysis guards the steps: it stops when the run
//     reaches the finish, and its verdict acts at the next step boundary
//     or during a wait (a pause, an analysis, a delay), not in the middle
//     of a sync.
//   - A scale-down step with a delay is two commits (the due time, then
//     the scale-down), so that another process keeps the same deadline.
//   - A run that ends Aborted stays so until retried; Run returns an
//     [*AbortedError] wrapping [ErrAborted], never success.
package strategy
