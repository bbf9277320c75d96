package strategy

// The states a run writes, step by step: Argo Rollouts' replica
// arithmetic applied to the run's record.

// workloadRS is a workload as the replica arithmetic sees it, its pods
// taken as available: a run commits the counts a step aims at, and the
// Deployment controllers bring the pods there.
func workloadRS(w Workload) *ReplicaSet {
	return &ReplicaSet{Replicas: w.Replicas, Available: w.Replicas}
}

// desiredAt returns the state of the setWeight or setCanaryScale step the
// run is at.
func (r *Runner) desiredAt(st Status) Desired {
	n := r.ov.Replicas
	rel, stable := st.Release.Release(), st.Stable.Release()
	p := st.Plan
	switch p.Strategy {
	case KindRolling:
		return Desired{Stable: Workload{Release: rel, Replicas: n}}
	case KindBlueGreen:
		scale := p.Steps[st.Step].SetCanaryScale
		preview := n
		switch {
		case scale == nil || scale.MatchTrafficWeight:
		case scale.Replicas != nil:
			preview = *scale.Replicas
		case scale.Weight != nil:
			preview = weightToReplicas(n, *scale.Weight)
		}
		return Desired{Stable: Workload{Release: stable, Replicas: n}, Canary: Workload{Release: rel, Replicas: preview}, Weight: st.Desired.Weight}
	}
	cur := st.Desired
	if !sameRelease(cur.Canary.Release, rel) {
		cur.Canary = Workload{}
	}
	cs := CanaryState{Step: st.Step, Replicas: n, Canary: workloadRS(cur.Canary), Stable: workloadRS(cur.Stable),
		Weights: &TrafficWeights{Canary: cur.Weight, Stable: MaxWeight - cur.Weight}}
	canary, stableN := p.ReplicaCounts(cs)
	if p.TrafficRouting == nil {
		// Argo Rollouts applies these counts at every reconcile as pods
		// become available; applied until they settle, they give the
		// counts the step ends at.
		for range 64 {
			cs.Canary, cs.Stable = &ReplicaSet{Replicas: canary, Available: canary}, &ReplicaSet{Replicas: stableN, Available: stableN}
			c, s := p.ReplicaCounts(cs)
			if c == canary && s == stableN {
				break
			}
			canary, stableN = c, s
		}
	}
	return Desired{Stable: Workload{Release: stable, Replicas: stableN}, Canary: Workload{Release: rel, Replicas: canary}, Weight: p.WeightAt(st.Step)}
}

// weightStage returns the state of a setWeight or setCanaryScale step at
// its stage: the step's counts and weight; then, with a dynamically
// scaled stable, once the traffic has moved, the stable's counts for its
// new share (Argo Rollouts keeps the stable's pods until the router
// carries the new weights, and scales it at its next reconcile).
func (r *Runner) weightStage(st Status) (Desired, bool) {
	switch {
	case st.Stage == 0:
		return r.desiredAt(st), true
	case st.Stage == 1 && st.Plan.TrafficRouting != nil && st.Plan.DynamicStableScale:
		d := r.desiredAt(st)
		return d, !d.same(st.Desired)
	}
	return Desired{}, false
}

// switchStage returns the state of the switchActive step at its stage:
// blue-green moves the active Service to the new colour in one commit; a
// canary's stable workload takes the new release (at full scale) while
// the canary still carries the traffic, and then, with a router, the
// traffic moves back to it.
func (r *Runner) switchStage(st Status) (Desired, bool) {
	n := r.ov.Replicas
	rel := st.Release.Release()
	cur := st.Desired
	switch {
	case st.Plan.Strategy == KindBlueGreen && st.Stage == 0:
		return Desired{Stable: cur.Stable, Canary: Workload{Release: rel, Replicas: max(cur.Canary.Replicas, n)}, Weight: MaxWeight}, true
	case st.Plan.Strategy == KindBlueGreen:
		return Desired{}, false
	case st.Stage == 0:
		taken := Desired{Stable: Workload{Release: rel, Replicas: n}, Canary: cur.Canary, Weight: cur.Weight}
		if st.Plan.TrafficRouting == nil {
			taken.Weight = 0
		}
		return taken, true
	case st.Stage == 1 && st.Plan.TrafficRouting != nil:
		back := cur
		back.Weight = 0
		return back, true
	}
	return Desired{}, false
}

// finalDesired is the state a completed run leaves: the new release
// alone, at full scale.
func (r *Runner) finalDesired(st Status) Desired {
	return Desired{Stable: Workload{Release: st.Release.Release(), Replicas: r.ov.Replicas}}
}

// canAbort reports whether the stable release still serves, so that an
// abort can send the traffic back to it: always in a rolling update (the
// abort rolls back), and until a canary's switchActive (after which only
// a rollback helps); a blue-green switch can be switched back.
func (r *Runner) canAbort(st Status) bool {
	return st.Plan.Strategy == KindRolling || sameRelease(st.Desired.Stable.Release, st.Stable.Release())
}

// abortStages returns the states an abort commits: all traffic on the
// stable release, which first gets its full scale back if it was scaled
// down with the traffic (dynamic stable scale), so that it never takes
// traffic it has no pods for; the new release's pods go with the traffic
// when the abort policy says so.
func (r *Runner) abortStages(st Status) []Desired {
	n := r.ov.Replicas
	stable := st.Stable.Release()
	cur := st.Desired
	if st.Plan.Strategy == KindRolling {
		return []Desired{{Stable: Workload{Release: stable, Replicas: n}}}
	}
	back := Desired{Stable: Workload{Release: stable, Replicas: n}, Canary: cur.Canary}
	if st.Plan.Abort.ScaleDown == ScaleDownWithTraffic && st.Plan.Strategy != KindBlueGreen {
		back.Canary = Workload{}
	}
	var out []Desired
	if st.Plan.TrafficRouting != nil && cur.Stable.Replicas < n && cur.Weight > 0 {
		out = append(out, Desired{Stable: back.Stable, Canary: cur.Canary, Weight: cur.Weight})
	}
	return append(out, back)
}

// same reports whether two states write the same overlay: releases by
// image and digest, replicas and weight.
func (d Desired) same(o Desired) bool {
	w := func(a, b Workload) bool { return sameRelease(a.Release, b.Release) && a.Replicas == b.Replicas }
	return w(d.Stable, o.Stable) && w(d.Canary, o.Canary) && d.Weight == o.Weight
}
