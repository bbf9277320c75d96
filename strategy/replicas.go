package strategy

import "math"

// The replica arithmetic of a canary, as Argo Rollouts' controller does it
// (utils/replicaset/canary.go): how many pods the stable and the canary
// workloads should have for a weight, given what runs now. The results
// are the same as Argo Rollouts' for the same inputs, float rounding
// included.

// ReplicaSet is one workload's scale as the replica arithmetic sees it.
type ReplicaSet struct {
	// Replicas is the desired count (spec.replicas).
	Replicas int32
	// Available is the count of available pods (status.availableReplicas).
	Available int32
}

// TrafficWeights are the weights a router gives the two releases.
type TrafficWeights struct {
	// Canary is the new release's weight.
	Canary int32
	// Stable is the stable release's weight.
	Stable int32
}

// ApproximateReplicas returns the canary and stable replica counts that
// come closest to weight percent of replicas on the canary, exactly as
// Argo Rollouts' approximateWeightedCanaryStableReplicaCounts: the counts
// sum to replicas, or to replicas+1 when maxSurge > 0 and that comes
// closer; on a tie the canary gets the larger count; and for a weight
// strictly between 0 and 100 neither side gets 0 pods unless there is a
// single replica and no surge. For example 10 replicas at 10% give 1 and
// 9, at 41% 4 and 6, and at 25% with surge 3 and 8.
//
// It reproduces Argo Rollouts' one gap as well: without surge, when
// replicas × weight lies exactly half a pod below replicas (10 replicas at
// 95%, 5 at 90%, 2 at 75%), no candidate is left and the canary gets 0
// pods and the stable all of them, as the Argo Rollouts controller would
// scale them. Choose another weight (or allow surge) to avoid it.
func ApproximateReplicas(replicas, weight, maxSurge int32) (canary, stable int32) {
	if replicas == 0 {
		return 0, 0
	}
	type option struct{ canary, total int32 }
	var options []option
	exact := float64(replicas*weight) / float64(MaxWeight)
	ceilCount, floorCount := int32(math.Ceil(exact)), int32(math.Floor(exact))
	zeroAllowed := weight == MaxWeight || weight == 0 || (replicas == 1 && maxSurge == 0)
	if ceilCount < replicas || zeroAllowed {
		options = append(options, option{ceilCount, replicas})
	}
	if !roundingTied(weight, replicas) && (floorCount != 0 || zeroAllowed) {
		options = append(options, option{floorCount, replicas})
	}
	if maxSurge > 0 {
		options = append(options, option{ceilCount, replicas + 1})
		if !roundingTied(weight, replicas+1) && (floorCount != 0 || zeroAllowed) {
			options = append(options, option{floorCount, replicas + 1})
		}
	}
	if len(options) == 0 {
		// Argo Rollouts returns (0, replicas) here, believing it
		// unreachable; it is reached without surge when replicas × weight
		// lies exactly half a pod below replicas (2 replicas at 75%, 5 at
		// 90%, 10 at 95%, 25 at 98%, 50 at 99%). Kept for parity with the
		// controller's scaling.
		return 0, replicas
	}
	best, bestDelta := options[0], weightDelta(weight, options[0].canary, options[0].total)
	for _, o := range options[1:] {
		if d := weightDelta(weight, o.canary, o.total); d < bestDelta {
			best, bestDelta = o, d
		}
	}
	return best.canary, best.total - best.canary
}

// roundingTied reports whether total pods at weight lie exactly half-way
// between two counts (3 pods at 50%: 1 and 2 are equally close).
func roundingTied(weight, total int32) bool {
	_, frac := math.Modf(float64(total) * (float64(weight) / float64(MaxWeight)))
	return frac == 0.5
}

// weightDelta is how far canary of total pods is from weight.
func weightDelta(weight, canary, total int32) float64 {
	return math.Abs(float64(canary*MaxWeight)/float64(total) - float64(weight))
}

// weightToReplicas returns the pods that carry weight percent of
// replicas, rounded up (Argo Rollouts' trafficWeightToReplicas).
func weightToReplicas(replicas, weight int32) int32 {
	return int32(math.Ceil(float64(weight) * float64(replicas) / float64(MaxWeight)))
}

// Fenceposts resolves maxSurge and maxUnavailable against replicas as
// Argo Rollouts does: maxSurge rounds up, maxUnavailable down, and when
// both come to zero maxUnavailable becomes 1; maxUnavailable never exceeds
// replicas, and is 0 for 0 replicas.
func Fenceposts(replicas int32, maxSurge, maxUnavailable IntOrPercent) (surge, unavailable int32) {
	surge = maxSurge.Scaled(replicas, true)
	unavailable = maxUnavailable.Scaled(replicas, false)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	switch {
	case replicas == 0:
		unavailable = 0
	case unavailable > replicas:
		unavailable = replicas
	}
	return surge, unavailable
}

// BasicCanary is the state of a canary without traffic routing, whose
// traffic split is the ratio of canary to stable pods behind one Service.
type BasicCanary struct {
	// Replicas is the app's desired replica count.
	Replicas int32
	// Weight is the canary weight wanted now, in percent.
	Weight int32
	// MaxSurge and MaxUnavailable bound the pods while the counts change.
	MaxSurge, MaxUnavailable IntOrPercent
	// Canary is the canary workload; nil before it exists.
	Canary *ReplicaSet
	// Stable is the stable workload; nil when there is none (the first
	// release), and then every replica goes to the canary.
	Stable *ReplicaSet
	// Older are workloads of still older releases, scaled down first.
	Older []ReplicaSet
}

// Counts returns the replica counts to set now on the canary and the
// stable workloads, as Argo Rollouts' CalculateReplicaCountsForBasicCanary:
// it aims at [ApproximateReplicas] for the weight, scales the stable up
// before the canary within maxSurge, scales older workloads down before
// either, and scales down only as far as maxUnavailable allows, counting
// the availability of the side that must keep serving. Applied again each
// time pods become available, the counts reach the aim without leaving
// those bounds.
func (b BasicCanary) Counts() (canary, stable int32) {
	maxSurge, maxUnavailable := Fenceposts(b.Replicas, b.MaxSurge, b.MaxUnavailable)
	desiredCanary, desiredStable := ApproximateReplicas(b.Replicas, b.Weight, maxSurge)
	if b.Canary != nil {
		canary = b.Canary.Replicas
	}
	hasStable := b.Stable != nil
	if hasStable {
		stable = b.Stable.Replicas
	} else {
		desiredCanary, desiredStable = b.Replicas, 0
	}
	maxTotal := b.Replicas + maxSurge
	older := int32(0)
	for _, o := range b.Older {
		older += o.Replicas
	}
	total := older + canary + stable
	scaleUp := maxTotal - total

	if hasStable && b.Stable.Replicas < desiredStable && scaleUp > 0 {
		if b.Stable.Replicas+scaleUp < desiredStable {
			stable = b.Stable.Replicas + scaleUp
			scaleUp = 0
		} else {
			stable = desiredStable
			scaleUp -= desiredStable - b.Stable.Replicas
		}
	}
	if b.Canary != nil && b.Canary.Replicas < desiredCanary && scaleUp > 0 {
		canary = min(b.Canary.Replicas+scaleUp, desiredCanary)
	}
	if older > 0 {
		return canary, stable
	}

	minAvailable := b.Replicas - maxUnavailable
	increasing := b.Canary == nil || desiredCanary >= b.Canary.Replicas
	countable := replicasForScaleDown(b.Canary, !increasing) + replicasForScaleDown(b.Stable, increasing)
	if countable <= minAvailable {
		return canary, stable
	}
	scaleDown := countable - minAvailable
	switch {
	case !increasing:
		canary = drainedCount(b.Canary, desiredCanary, scaleDown, canary)
		canary, stable = withinLimits(b.Canary, b.Stable, canary, stable, maxTotal, minAvailable)
	case hasStable:
		stable = drainedCount(b.Stable, desiredStable, scaleDown, stable)
		stable, canary = withinLimits(b.Stable, b.Canary, stable, canary, maxTotal, minAvailable)
	}
	return canary, stable
}

// replicasForScaleDown is the pods of rs that count as serving when
// deciding how far to scale down (Argo Rollouts' GetReplicasForScaleDown).
func replicasForScaleDown(rs *ReplicaSet, ignoreAvailability bool) int32 {
	switch {
	case rs == nil:
		return 0
	case rs.Replicas < rs.Available, ignoreAvailability:
		return rs.Replicas
	default:
		return rs.Available
	}
}

// drainedCount scales the draining side down towards desired by at most
// scaleDown pods (Argo Rollouts' calculateScaleDownReplicaCount).
func drainedCount(drain *ReplicaSet, desired, scaleDown, count int32) int32 {
	if drain != nil && drain.Replicas > desired {
		return max(desired, drain.Replicas-scaleDown)
	}
	return count
}

// withinLimits brings the two counts back within maxSurge and
// maxUnavailable (Argo Rollouts' adjustReplicaWithinLimits).
func withinLimits(drain, adjust *ReplicaSet, drainCount, adjustCount, maxTotal, minAvailable int32) (int32, int32) {
	over := max(0, adjustCount+drainCount-maxTotal)
	available := int32(0)
	if drain != nil {
		available += min(drain.Available, drainCount)
	}
	if adjust != nil {
		adjustCount -= over
		available += min(adjust.Available, adjustCount)
		lost := max(0, adjust.Available-adjustCount)
		short := max(0, minAvailable-available)
		adjustCount += min(lost, short)
		over = max(0, adjustCount+drainCount-maxTotal)
		drainCount -= over
	}
	return drainCount, adjustCount
}

// RoutedCanary is the state of a canary whose traffic a router splits.
type RoutedCanary struct {
	// Replicas is the app's desired replica count.
	Replicas int32
	// Weight is the canary weight wanted now, in percent; a setCanaryScale
	// weight takes its place.
	Weight int32
	// CanaryReplicas, when set (setCanaryScale replicas), is the canary's
	// count whatever the weight.
	CanaryReplicas *int32
	// DynamicStableScale scales the stable by its traffic weight instead
	// of keeping it at full scale.
	DynamicStableScale bool
	// Current are the weights the router carries now; nil when unknown.
	Current *TrafficWeights
	// Aborted says the run is aborting.
	Aborted bool
}

// Counts returns the replica counts to set on the canary and the stable
// workloads, as Argo Rollouts' CalculateReplicaCountsForTrafficRoutedCanary
// (without minPodsPerReplicaSet): the canary gets its weight's share of
// the replicas rounded up, or CanaryReplicas; the stable stays at full
// scale, or with DynamicStableScale gets the larger of its wanted and its
// current traffic share, and while aborting the canary keeps the pods of
// the traffic it still carries.
func (r RoutedCanary) Counts() (canary, stable int32) {
	if r.CanaryReplicas != nil {
		canary = *r.CanaryReplicas
	} else {
		canary = weightToReplicas(r.Replicas, r.Weight)
	}
	if !r.DynamicStableScale {
		return canary, r.Replicas
	}
	stable = weightToReplicas(r.Replicas, MaxWeight-r.Weight)
	if r.Current != nil {
		stable = max(stable, weightToReplicas(r.Replicas, r.Current.Stable))
		if r.Aborted {
			canary = max(weightToReplicas(r.Replicas, r.Current.Canary), canary)
		}
	}
	return canary, stable
}

// CanaryState is where a canary run stands, as the replica arithmetic of
// [Plan.ReplicaCounts] needs it.
type CanaryState struct {
	// Step is the index of the current step; len(Steps) means every step
	// is done.
	Step int
	// Replicas is the app's desired replica count.
	Replicas int32
	// Canary and Stable are the two workloads. A nil Stable means there is
	// no stable release (the first release goes straight to 100%); a nil
	// Canary means the canary workload does not exist yet.
	Canary, Stable *ReplicaSet
	// Older are workloads of still older releases (without traffic
	// routing).
	Older []ReplicaSet
	// Weights are the router's current weights (with traffic routing);
	// nil when unknown.
	Weights *TrafficWeights
	// Aborted says the run is aborting; PromoteFull that it is being
	// promoted fully.
	Aborted, PromoteFull bool
}

// ReplicaCounts returns the replica counts to set now on the canary and
// the stable workloads of a canary plan at state s, as Argo Rollouts does:
// the weight is the step's (see [Plan.WeightAt]), 100% for a full
// promotion or without a stable release, 0% while aborting (with
// DynamicStableScale, stepped down through the plan's weights as the
// stable becomes available); a setCanaryScale in effect overrides it with
// traffic routing (not while aborting, unless the abort never scales
// down); then [RoutedCanary.Counts] or [BasicCanary.Counts].
func (p Plan) ReplicaCounts(s CanaryState) (canary, stable int32) {
	scaleReplicas, weight := p.desiredCanary(s)
	if p.TrafficRouting == nil {
		return BasicCanary{
			Replicas: s.Replicas, Weight: weight,
			MaxSurge: p.MaxSurge, MaxUnavailable: p.MaxUnavailable,
			Canary: s.Canary, Stable: s.Stable, Older: s.Older,
		}.Counts()
	}
	return RoutedCanary{
		Replicas: s.Replicas, Weight: weight, CanaryReplicas: scaleReplicas,
		DynamicStableScale: p.DynamicStableScale, Current: s.Weights, Aborted: s.Aborted,
	}.Counts()
}

// desiredCanary is Argo Rollouts' GetCanaryReplicasOrWeight.
func (p Plan) desiredCanary(s CanaryState) (*int32, int32) {
	if s.PromoteFull || s.Stable == nil {
		return nil, MaxWeight
	}
	if scale := p.canaryScaleAt(s); scale != nil {
		switch {
		case scale.Replicas != nil:
			return scale.Replicas, 0
		case scale.Weight != nil:
			return nil, *scale.Weight
		}
	}
	return nil, p.desiredWeight(s)
}

// canaryScaleAt is Argo Rollouts' UseSetCanaryScale: the setCanaryScale
// in effect at the current step, if any.
func (p Plan) canaryScaleAt(s CanaryState) *CanaryScaleStep {
	if p.TrafficRouting == nil || s.Step >= len(p.Steps) {
		return nil
	}
	if s.Aborted && p.Abort.ScaleDown != ScaleDownNever {
		return nil
	}
	for i := s.Step; i >= 0; i-- {
		scale := p.Steps[i].SetCanaryScale
		if scale == nil {
			continue
		}
		if scale.MatchTrafficWeight {
			return nil
		}
		return scale
	}
	return nil
}

// desiredWeight is Argo Rollouts' GetDesiredCanaryWeight: while aborting
// with a dynamically scaled stable, the canary weight steps down through
// the plan's weights as the stable's pods become available, so that the
// abort does not surge the stable to full scale at once.
func (p Plan) desiredWeight(s CanaryState) int32 {
	if !s.Aborted {
		return p.WeightAt(s.Step)
	}
	if !p.DynamicStableScale || s.Canary == nil || s.Stable == nil {
		return 0
	}
	expected := s.Replicas - s.Stable.Available
	canaryPods := max(expected, s.Canary.Available)
	if p.Abort.ScaleDown == ScaleDownAfterDelay {
		// An explicit abort delay keeps the canary at full scale until its
		// deadline, so its size must not hold the weight up.
		canaryPods = expected
	}
	for i := min(p.Finish, len(p.Steps)) - 1; i >= 0; i-- {
		if w := p.Steps[i].SetWeight; w != nil && weightToReplicas(s.Replicas, *w) < canaryPods {
			return *w
		}
	}
	return 0
}
