package strategy

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The cases in this file are Argo Rollouts' own, from
// utils/replicaset/canary_test.go, run through the port.

func i32(v int32) *int32 { return &v }

// argoPlan builds the plan of Argo Rollouts' test rollout: one setWeight
// step, followed by a setCanaryScale step when scale is set.
func argoPlan(setWeight int32, scale *CanaryScaleStep, routed bool, maxSurge, maxUnavailable IntOrPercent, abortDelay *int32) (Plan, int) {
	steps := []Step{SetWeight(setWeight)}
	if scale != nil {
		steps = append(steps, Step{SetCanaryScale: scale})
	}
	current := len(steps) - 1
	p := Plan{
		App: "app", Environment: "test", Strategy: KindCanary,
		Finish:   len(steps),
		Steps:    append(steps, SetWeight(MaxWeight), SwitchActive(), ScaleDown(0)),
		MaxSurge: maxSurge, MaxUnavailable: maxUnavailable,
		Abort: AbortPolicy{ScaleDown: ScaleDownWithTraffic},
	}
	if routed {
		p.TrafficRouting = &TrafficRouting{HTTPRoute: "app", StableService: "app", CanaryService: "app-canary"}
		p.Abort = abortAfter(abortDelay)
	}
	return p, current
}

func TestArgoCalculateReplicaCountsForCanary(t *testing.T) {
	type rs = ReplicaSet
	tests := []struct {
		name                     string
		replicas, setWeight      int32
		maxSurge, maxUnavailable IntOrPercent
		promoteFull              bool
		stable, canary           rs
		older                    *rs
		scale                    *CanaryScaleStep
		routed                   bool
		abortDelay               *int32
		aborted                  bool
		wantStable, wantCanary   int32
	}{
		{name: "Do not add extra RSs in scaleDownCount when .Spec.Replica < AvailableReplicas",
			replicas: 10, setWeight: 100, maxSurge: Pods(3), maxUnavailable: Pods(0),
			stable: rs{7, 8}, canary: rs{6, 3}, wantStable: 7, wantCanary: 6},
		{name: "Use max surge int to scale up canary",
			replicas: 10, setWeight: 20, maxSurge: Pods(2), maxUnavailable: Pods(0),
			stable: rs{10, 10}, canary: rs{0, 0}, wantStable: 10, wantCanary: 2},
		{name: "Use max surge percentage to scale up canary",
			replicas: 10, setWeight: 20, maxSurge: Percent(20), maxUnavailable: Pods(0),
			stable: rs{10, 10}, canary: rs{0, 0}, wantStable: 10, wantCanary: 2},
		{name: "Scale down extra stable replicas",
			replicas: 10, setWeight: 20, maxSurge: Percent(20), maxUnavailable: Pods(0),
			stable: rs{10, 10}, canary: rs{2, 2}, wantStable: 8, wantCanary: 2},
		{name: "Do not go past max surge",
			replicas: 10, setWeight: 30, maxSurge: Pods(2), maxUnavailable: Pods(0),
			stable: rs{10, 10}, canary: rs{0, 0}, wantStable: 10, wantCanary: 2},
		{name: "Use max unavailable int to scale down stableRS",
			replicas: 10, setWeight: 20, maxSurge: Pods(0), maxUnavailable: Pods(2),
			stable: rs{10, 10}, canary: rs{0, 0}, wantStable: 8, wantCanary: 0},
		{name: "Use max surge percentage to scale down stableRS",
			replicas: 10, setWeight: 20, maxSurge: Pods(0), maxUnavailable: Percent(20),
			stable: rs{10, 10}, canary: rs{0, 0}, wantStable: 8, wantCanary: 0},
		{name: "Do not go past max unavailable",
			replicas: 10, setWeight: 30, maxSurge: Pods(0), maxUnavailable: Pods(2),
			stable: rs{10, 10}, canary: rs{0, 0}, wantStable: 8, wantCanary: 0},
		{name: "Use Max Surge and Max Unavailable",
			replicas: 10, setWeight: 50, maxSurge: Pods(2), maxUnavailable: Pods(1),
			stable: rs{10, 10}, canary: rs{0, 0}, wantStable: 9, wantCanary: 2},
		{name: "Scale canaryRS to zero on setWeight of 0%",
			replicas: 10, setWeight: 0, maxSurge: Pods(1), maxUnavailable: Pods(1),
			stable: rs{10, 10}, canary: rs{1, 1}, wantStable: 10, wantCanary: 0},
		{name: "Scale stable to zero on setWeight of 100%",
			replicas: 10, setWeight: 100, maxSurge: Pods(1), maxUnavailable: Pods(1),
			stable: rs{1, 1}, canary: rs{10, 10}, wantStable: 0, wantCanary: 10},
		{name: "Do not scale canaryRS down to zero on non-zero weight",
			replicas: 1, setWeight: 20, maxSurge: Pods(1), maxUnavailable: Pods(0),
			stable: rs{1, 1}, canary: rs{0, 0}, wantStable: 1, wantCanary: 1},
		{name: "Do not scale canaryRS down to zero on non-100 weight",
			replicas: 1, setWeight: 90, maxSurge: Pods(1), maxUnavailable: Pods(0),
			stable: rs{1, 1}, canary: rs{0, 0}, wantStable: 1, wantCanary: 1},
		{name: "Scale canaryRS to zero on <50 weight without surge",
			replicas: 1, setWeight: 49, maxSurge: Pods(0), maxUnavailable: Pods(1),
			stable: rs{1, 1}, canary: rs{0, 0}, wantStable: 1, wantCanary: 0},
		{name: "Scale stableRS down to zero on >=50 weight without surge",
			replicas: 1, setWeight: 51, maxSurge: Pods(0), maxUnavailable: Pods(1),
			stable: rs{1, 1}, canary: rs{0, 0}, wantStable: 0, wantCanary: 0},
		{name: "Scale canaryRS to one on >=50 weight without surge and stable replicas",
			replicas: 1, setWeight: 51, maxSurge: Pods(0), maxUnavailable: Pods(1),
			stable: rs{0, 0}, canary: rs{0, 0}, wantStable: 0, wantCanary: 1},
		{name: "Scale up Stable before canaryRS",
			replicas: 10, setWeight: 30, maxSurge: Pods(1), maxUnavailable: Pods(0),
			stable: rs{1, 1}, canary: rs{0, 0}, older: &rs{3, 3}, wantStable: 7, wantCanary: 1},
		{name: "Scale down canaryRS and stable",
			replicas: 10, setWeight: 30, maxSurge: Pods(0), maxUnavailable: Pods(3),
			stable: rs{8, 5}, canary: rs{4, 4}, wantStable: 7, wantCanary: 3},
		{name: "Scale down stable and canary available",
			replicas: 10, setWeight: 100, maxSurge: Pods(1), maxUnavailable: Pods(0),
			stable: rs{10, 2}, canary: rs{10, 8}, wantStable: 2, wantCanary: 9},
		{name: "Do not scale down canaryRS or stable when older RS count >= scaleDownCount",
			replicas: 10, setWeight: 30, maxSurge: Pods(0), maxUnavailable: Pods(1),
			stable: rs{8, 6}, canary: rs{4, 2}, older: &rs{3, 3}, wantStable: 8, wantCanary: 4},
		{name: "Do not round past maxSurge with uneven setWeight divisor",
			replicas: 10, setWeight: 5, maxSurge: Pods(0), maxUnavailable: Pods(1),
			stable: rs{10, 10}, canary: rs{0, 0}, wantStable: 9, wantCanary: 0},
		{name: "Do not round past maxSurge with uneven setWeight divisor (part 2)",
			replicas: 10, setWeight: 5, maxSurge: Pods(0), maxUnavailable: Pods(1),
			stable: rs{9, 9}, canary: rs{0, 0}, wantStable: 9, wantCanary: 1},
		{name: "Use maxUnavailable of 1 when percentage of maxUnavailable and maxSurge result in 0 replicas",
			replicas: 10, setWeight: 10, maxSurge: Percent(0), maxUnavailable: Percent(0),
			stable: rs{10, 10}, canary: rs{0, 0}, wantStable: 9, wantCanary: 0},
		{name: "For canary replicas, use setCanaryScale.replicas when specified along with trafficRouting (and ignore setWeight)",
			replicas: 1, setWeight: 100, stable: rs{1, 1},
			scale: &CanaryScaleStep{Replicas: i32(9)}, routed: true, wantStable: 1, wantCanary: 9},
		{name: "Use setCanaryScale.weight for canary replicas when specified with trafficRouting (and ignore setWeight)",
			replicas: 4, setWeight: 100, stable: rs{4, 4},
			scale: &CanaryScaleStep{Weight: i32(200)}, routed: true, wantStable: 4, wantCanary: 8},
		{name: "Ignore setCanaryScale replicas/weight when matchTrafficWeight is true",
			replicas: 10, setWeight: 20, maxSurge: Percent(20), maxUnavailable: Pods(0),
			stable: rs{10, 10}, canary: rs{0, 0},
			scale: &CanaryScaleStep{Replicas: i32(9), Weight: i32(100), MatchTrafficWeight: true}, routed: true,
			wantStable: 10, wantCanary: 2},
		{name: "Ignore setCanaryScale when trafficRouting is missing and use setWeight for replicas",
			replicas: 10, setWeight: 20, maxSurge: Percent(20), maxUnavailable: Pods(0),
			stable: rs{10, 10}, canary: rs{0, 0},
			scale: &CanaryScaleStep{Replicas: i32(9), Weight: i32(100)}, wantStable: 10, wantCanary: 2},
		{name: "honor maxSurge during scale up when stableRS unavailable",
			replicas: 4, setWeight: 100, maxSurge: Pods(1), maxUnavailable: Pods(0),
			stable: rs{4, 1}, canary: rs{0, 0}, wantStable: 4, wantCanary: 1},
		{name: "scale down to maxunavailable without exceeding maxSurge",
			replicas: 3, setWeight: 99, maxSurge: Pods(0), maxUnavailable: Pods(2),
			stable: rs{3, 3}, canary: rs{0, 0}, wantStable: 1, wantCanary: 0},
		{name: "scale down to maxunavailable without exceeding maxSurge (part 2)",
			replicas: 3, setWeight: 99, maxSurge: Pods(0), maxUnavailable: Pods(2),
			stable: rs{1, 1}, canary: rs{0, 0}, wantStable: 1, wantCanary: 2},
		{name: "honor maxUnavailable during scale down stableRS unavailable",
			replicas: 4, setWeight: 100, maxSurge: Pods(1), maxUnavailable: Pods(0),
			stable: rs{4, 1}, canary: rs{1, 1}, wantStable: 3, wantCanary: 1},
		{name: "honor maxUnavailable when aborting or reducing weight part 1",
			replicas: 4, setWeight: 0, maxSurge: Pods(1), maxUnavailable: Pods(0),
			stable: rs{0, 0}, canary: rs{4, 4}, wantStable: 1, wantCanary: 4},
		{name: "honor maxUnavailable when aborting or reducing weight part 2",
			replicas: 4, setWeight: 0, maxSurge: Pods(1), maxUnavailable: Pods(0),
			stable: rs{1, 0}, canary: rs{4, 4}, wantStable: 1, wantCanary: 4},
		{name: "honor maxUnavailable when aborting or reducing weight part 3",
			replicas: 4, setWeight: 0, maxSurge: Pods(1), maxUnavailable: Pods(0),
			stable: rs{1, 1}, canary: rs{4, 4}, wantStable: 1, wantCanary: 3},
		{name: "promote full does not consider weight",
			promoteFull: true, replicas: 4, setWeight: 1, maxSurge: Pods(4), maxUnavailable: Pods(4),
			stable: rs{4, 4}, canary: rs{0, 0}, wantStable: 0, wantCanary: 4},
		{name: "promote full still honors maxSurge/maxUnavailable",
			promoteFull: true, replicas: 4, setWeight: 1, maxSurge: Pods(3), maxUnavailable: Pods(0),
			stable: rs{4, 4}, canary: rs{0, 0}, wantStable: 4, wantCanary: 3},
		{name: "aborted with abortScaleDownDelaySeconds:0 and setCanaryScale",
			replicas: 1, scale: &CanaryScaleStep{Replicas: i32(1)}, routed: true, abortDelay: i32(0), aborted: true,
			stable: rs{1, 1}, canary: rs{1, 1}, wantStable: 1, wantCanary: 1},
		{name: "aborted with abortScaleDownDelaySeconds>0 and setCanaryScale",
			replicas: 1, scale: &CanaryScaleStep{Replicas: i32(1)}, routed: true, abortDelay: i32(30), aborted: true,
			stable: rs{1, 1}, canary: rs{1, 1}, wantStable: 1, wantCanary: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, step := argoPlan(tt.setWeight, tt.scale, tt.routed, tt.maxSurge, tt.maxUnavailable, tt.abortDelay)
			state := CanaryState{
				Step: step, Replicas: tt.replicas, Aborted: tt.aborted, PromoteFull: tt.promoteFull,
				Canary: &tt.canary, Stable: &tt.stable,
			}
			if tt.older != nil {
				state.Older = []ReplicaSet{*tt.older}
			}
			if tt.routed {
				// Argo Rollouts' test passes no ReplicaSets to the routed
				// calculation; its rollout status still names a stable.
				state.Canary, state.Stable = nil, &ReplicaSet{}
			}
			canary, stable := plan.ReplicaCounts(state)
			assert.Equal(t, tt.wantCanary, canary, "canary replicas")
			assert.Equal(t, tt.wantStable, stable, "stable replicas")
		})
	}
}

func TestArgoApproximateWeightedNewStableReplicaCounts(t *testing.T) {
	tests := []struct{ replicas, weight, maxSurge, wantCanary, wantStable int32 }{
		{0, 0, 0, 0, 0}, {0, 50, 0, 0, 0}, {0, 100, 0, 0, 0},
		{0, 0, 1, 0, 0}, {0, 50, 1, 0, 0}, {0, 100, 1, 0, 0},

		{1, 0, 0, 0, 1}, {1, 1, 0, 0, 1}, {1, 49, 0, 0, 1}, {1, 50, 0, 1, 0}, {1, 99, 0, 1, 0}, {1, 100, 0, 1, 0},
		{1, 0, 1, 0, 1}, {1, 1, 1, 1, 1}, {1, 49, 1, 1, 1}, {1, 50, 1, 1, 1}, {1, 99, 1, 1, 1}, {1, 100, 1, 1, 0},

		{2, 0, 0, 0, 2}, {2, 1, 0, 1, 1}, {2, 50, 0, 1, 1}, {2, 99, 0, 1, 1}, {2, 100, 0, 2, 0},
		{2, 0, 1, 0, 2}, {2, 1, 1, 1, 2}, {2, 50, 1, 1, 1}, {2, 99, 1, 2, 1}, {2, 100, 1, 2, 0},

		{3, 10, 0, 1, 2}, {3, 25, 0, 1, 2}, {3, 33, 0, 1, 2}, {3, 34, 0, 1, 2}, {3, 49, 0, 1, 2}, {3, 50, 0, 2, 1},
		{3, 10, 1, 1, 3}, {3, 25, 1, 1, 3}, {3, 33, 1, 1, 2}, {3, 34, 1, 1, 2}, {3, 49, 1, 2, 2}, {3, 50, 1, 2, 2},

		{10, 0, 1, 0, 10}, {10, 1, 0, 1, 9}, {10, 14, 0, 1, 9}, {10, 15, 0, 2, 8}, {10, 16, 0, 2, 8},
		{10, 99, 0, 9, 1}, {10, 100, 1, 10, 0},

		{10, 0, 1, 0, 10}, {10, 1, 1, 1, 10}, {10, 18, 1, 2, 9}, {10, 19, 1, 2, 9}, {10, 20, 1, 2, 8},
		{10, 23, 1, 2, 8}, {10, 24, 1, 3, 8}, {10, 25, 1, 3, 8}, {10, 99, 1, 10, 1}, {10, 100, 1, 10, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("replicas:%d_weight:%d_surge:%d", tt.replicas, tt.weight, tt.maxSurge), func(t *testing.T) {
			canary, stable := ApproximateReplicas(tt.replicas, tt.weight, tt.maxSurge)
			assert.Equal(t, tt.wantCanary, canary, "canary replicas")
			assert.Equal(t, tt.wantStable, stable, "stable replicas")
		})
	}
}

func TestArgoCalculateReplicaCountsForNewDeployment(t *testing.T) {
	// The stable is the new ReplicaSet itself: no stable of its own.
	plan, step := argoPlan(10, nil, false, Pods(0), Pods(1), nil)
	canary, stable := plan.ReplicaCounts(CanaryState{Step: step, Replicas: 10, Canary: &ReplicaSet{10, 0}})
	assert.Equal(t, int32(10), canary)
	assert.Equal(t, int32(0), stable)
}

func TestArgoCalculateReplicaCountsForCanaryTrafficRouting(t *testing.T) {
	plan, step := argoPlan(10, nil, true, Pods(0), Pods(1), nil)
	canary, stable := plan.ReplicaCounts(CanaryState{Step: step, Replicas: 10, Stable: &ReplicaSet{}})
	assert.Equal(t, int32(1), canary)
	assert.Equal(t, int32(10), stable)
}

func TestArgoCalculateReplicaCountsForCanaryTrafficRoutingDynamicScale(t *testing.T) {
	tests := []struct {
		name                            string
		replicas, setWeight             int32
		aborted                         bool
		extraWeights                    []int32
		canaryWeight, stableWeight      int32
		canaryReplicas                  int32
		stableReplicas, stableAvailable int32
		wantCanary, wantStable          int32
	}{
		{name: "Should scale stable replica up depending on next expected canary downscale step, if abort is true",
			replicas: 10, setWeight: 20, canaryWeight: 60, stableWeight: 40, canaryReplicas: 6,
			stableReplicas: 4, stableAvailable: 4, wantCanary: 6, wantStable: 8, aborted: true, extraWeights: []int32{60}},
		{name: "Should scale stable replica up depending on available canary replicas, if actual number of canaries is less than expected and abort is true",
			replicas: 10, setWeight: 20, aborted: true, canaryWeight: 60, stableWeight: 40, canaryReplicas: 1,
			stableReplicas: 4, stableAvailable: 4, wantCanary: 6, wantStable: 8, extraWeights: []int32{60}},
		{name: "Should scale stable replica up depending on available stable replicas, if abort is true",
			replicas: 10, setWeight: 20, aborted: true, canaryWeight: 60, stableWeight: 40, canaryReplicas: 2,
			stableReplicas: 8, stableAvailable: 4, wantCanary: 6, wantStable: 8, extraWeights: []int32{60}},
		{name: "Should scale stable up as if canaries are scaled down to 0 if stable and canary replicas not passed, and abort is true",
			replicas: 10, setWeight: 20, aborted: true, canaryWeight: 60, stableWeight: 40,
			wantCanary: 6, wantStable: 10, extraWeights: []int32{60}},
		{name: "Should scale down stable",
			replicas: 10, setWeight: 10, canaryWeight: 10, stableWeight: 90, wantCanary: 1, wantStable: 9},
		{name: "Should take max of desired canary (20) > actual (10)",
			replicas: 10, setWeight: 20, canaryWeight: 10, stableWeight: 90, wantCanary: 2, wantStable: 9},
		{name: "Should leave canary scaled up if there is still traffic to it on abort",
			replicas: 10, setWeight: 20, aborted: true, canaryWeight: 20, stableWeight: 80, wantCanary: 2, wantStable: 10},
		{name: "Should reduce canary when there is less traffic to it on abort",
			replicas: 10, setWeight: 20, aborted: true, canaryWeight: 10, stableWeight: 90, wantCanary: 1, wantStable: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cn := Canary{
				Steps:              []Step{SetWeight(tt.setWeight)},
				TrafficRouting:     &TrafficRouting{HTTPRoute: "app", StableService: "app", CanaryService: "app-canary"},
				MaxSurge:           &IntOrPercent{},
				MaxUnavailable:     &IntOrPercent{Value: 1},
				DynamicStableScale: true,
			}
			for _, w := range tt.extraWeights {
				cn.Steps = append(cn.Steps, SetWeight(w))
			}
			plan, err := cn.Compile("app", "test")
			if err != nil {
				t.Fatal(err)
			}
			state := CanaryState{
				Step: 0, Replicas: tt.replicas, Aborted: tt.aborted,
				Weights: &TrafficWeights{Canary: tt.canaryWeight, Stable: tt.stableWeight},
				// Argo Rollouts' test passes no stable ReplicaSet when it has
				// no replicas; its rollout status still names one.
				Stable: &ReplicaSet{},
			}
			if tt.stableReplicas > 0 {
				state.Stable = &ReplicaSet{tt.stableReplicas, tt.stableAvailable}
			}
			if tt.canaryReplicas > 0 {
				state.Canary = &ReplicaSet{tt.canaryReplicas, tt.canaryReplicas}
			}
			canary, stable := plan.ReplicaCounts(state)
			assert.Equal(t, tt.wantCanary, canary, "canary replicas")
			assert.Equal(t, tt.wantStable, stable, "stable replicas")
		})
	}
}

func TestArgoCalculateReplicaCountsForCanaryStableRSdEdgeCases(t *testing.T) {
	plan, step := argoPlan(10, nil, false, Pods(0), Pods(1), nil)
	canary, stable := plan.ReplicaCounts(CanaryState{Step: step, Replicas: 10, Canary: &ReplicaSet{9, 9}})
	assert.Equal(t, int32(10), canary)
	assert.Equal(t, int32(0), stable)
}

func TestArgoTrafficWeightToReplicas(t *testing.T) {
	for _, tt := range []struct{ weight, want int32 }{{0, 0}, {20, 2}, {25, 3}, {33, 4}, {99, 10}, {100, 10}} {
		assert.Equal(t, tt.want, weightToReplicas(10, tt.weight), "weight %d", tt.weight)
		canary, _ := RoutedCanary{Replicas: 10, Weight: tt.weight}.Counts()
		assert.Equal(t, tt.want, canary, "weight %d", tt.weight)
	}
}

func TestArgoGetCurrentSetWeight(t *testing.T) {
	plan, _ := argoPlan(10, nil, false, Pods(0), Pods(1), nil)
	// Argo Rollouts' rollout has one step; index 1 is past it, into the
	// finish, where the weight is 100.
	assert.Equal(t, int32(100), plan.WeightAt(1))
	assert.Equal(t, int32(100), plan.WeightAt(len(plan.Steps)))
	assert.Equal(t, int32(10), plan.WeightAt(0))
	assert.Equal(t, int32(0), plan.desiredWeight(CanaryState{Step: 0, Replicas: 10, Aborted: true}))
}

func TestArgoGetCanaryReplicasOrWeight(t *testing.T) {
	routed := &TrafficRouting{HTTPRoute: "app", StableService: "app", CanaryService: "app-canary"}
	t.Run("test full promote rollout", func(t *testing.T) {
		replicas, weight := Plan{}.desiredCanary(CanaryState{PromoteFull: true, Stable: &ReplicaSet{}})
		assert.Nil(t, replicas)
		assert.Equal(t, int32(100), weight)
	})
	t.Run("test canary step weight", func(t *testing.T) {
		p := Plan{TrafficRouting: routed, Steps: []Step{SetWeight(10), ScaleCanaryWeight(20)}, Finish: 2,
			Abort: abortAfter(nil)}
		replicas, weight := p.desiredCanary(CanaryState{Step: 1, Stable: &ReplicaSet{}})
		assert.Nil(t, replicas)
		assert.Equal(t, int32(20), weight)
	})
	t.Run("test canary step replicas", func(t *testing.T) {
		p := Plan{TrafficRouting: routed, Steps: []Step{SetWeight(10), ScaleCanary(5)}, Finish: 2,
			Abort: abortAfter(nil)}
		replicas, weight := p.desiredCanary(CanaryState{Step: 1, Stable: &ReplicaSet{}})
		assert.Equal(t, i32(5), replicas)
		assert.Equal(t, int32(0), weight)
	})
	t.Run("test get current step weight", func(t *testing.T) {
		// No stable release: everything goes to the new one, abort or not.
		replicas, weight := Plan{Strategy: KindBlueGreen}.desiredCanary(CanaryState{Aborted: true})
		assert.Nil(t, replicas)
		assert.Equal(t, int32(100), weight)
	})
}

func TestArgoGetDesiredCanaryWeightOnAbortWithScaleDownDelay(t *testing.T) {
	plan := func(abortDelay *int32) Plan {
		p, err := Canary{
			Steps:                      []Step{SetWeight(10), SetWeight(50)},
			TrafficRouting:             &TrafficRouting{HTTPRoute: "app", StableService: "app", CanaryService: "app-canary"},
			MaxSurge:                   &IntOrPercent{Value: 1},
			MaxUnavailable:             &IntOrPercent{},
			DynamicStableScale:         true,
			AbortScaleDownDelaySeconds: abortDelay,
		}.Compile("app", "test")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name            string
		abortDelay      *int32
		stableAvailable int32
		wantWeight      int32
	}{
		{"no explicit delay: weight is held up by canary size (progressive drain unchanged)", nil, 9, 10},
		{"explicit delay: weight steps down gradually while stable is scaling up", i32(30), 5, 10},
		{"explicit delay: weight reaches zero once stable nearly covers spec.Replicas (deadlock case)", i32(30), 9, 0},
		{"explicit zero delay (leave canary up indefinitely): weight is held up by canary size", i32(0), 9, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plan(tt.abortDelay)
			state := CanaryState{Step: 0, Replicas: 10, Aborted: true,
				Canary: &ReplicaSet{5, 5}, Stable: &ReplicaSet{tt.stableAvailable, tt.stableAvailable}}
			assert.Equal(t, tt.wantWeight, p.desiredWeight(state))
		})
	}
	t.Run("stable scales to spec.Replicas once weight reaches zero", func(t *testing.T) {
		_, stable := plan(i32(30)).ReplicaCounts(CanaryState{Step: 0, Replicas: 10, Aborted: true,
			Canary: &ReplicaSet{5, 5}, Stable: &ReplicaSet{9, 9},
			Weights: &TrafficWeights{Canary: 10, Stable: 90}})
		assert.Equal(t, int32(10), stable)
	})
}
