package strategy_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/strategy"
)

// The cases Argo Rollouts documents for its replica canary.
func TestApproximateReplicasDocumentedCases(t *testing.T) {
	tests := []struct {
		name                       string
		replicas, weight, maxSurge int32
		wantCanary, wantStable     int32
	}{
		{"10 replicas at 10%", 10, 10, 0, 1, 9},
		{"10 replicas at 10% with surge", 10, 10, 1, 1, 9},
		{"10 replicas at 41%", 10, 41, 0, 4, 6},
		{"10 replicas at 41% with surge", 10, 41, 3, 4, 6},
		{"10 replicas at 25% with surge", 10, 25, 3, 3, 8},
		{"10 replicas at 25% without surge rounds the tie up", 10, 25, 0, 3, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			canary, stable := strategy.ApproximateReplicas(tt.replicas, tt.weight, tt.maxSurge)
			assert.Equal(t, tt.wantCanary, canary, "canary")
			assert.Equal(t, tt.wantStable, stable, "stable")
		})
	}
}

func TestApproximateReplicasProperties(t *testing.T) {
	for replicas := int32(0); replicas <= 60; replicas++ {
		for _, surge := range []int32{0, 1, 5} {
			prevCanary, prevStable := int32(0), replicas
			for weight := int32(0); weight <= 100; weight++ {
				canary, stable := strategy.ApproximateReplicas(replicas, weight, surge)
				at := fmt.Sprintf("replicas %d weight %d surge %d: %d/%d", replicas, weight, surge, canary, stable)
				if argoGap(replicas, weight, surge) {
					require.Equal(t, [2]int32{0, replicas}, [2]int32{canary, stable}, "Argo Rollouts' gap: "+at)
					continue
				}
				require.GreaterOrEqual(t, canary, int32(0), at)
				require.GreaterOrEqual(t, stable, int32(0), at)
				if replicas == 0 {
					require.Zero(t, canary+stable, at)
					continue
				}
				if surge == 0 {
					require.Equal(t, replicas, canary+stable, "without surge the counts sum to the replicas: "+at)
				} else {
					require.Contains(t, []int32{replicas, replicas + 1}, canary+stable, "with surge at most one extra pod: "+at)
				}
				require.GreaterOrEqual(t, canary, prevCanary, "canary is monotone in weight: "+at)
				require.LessOrEqual(t, stable, prevStable, "stable is monotone in weight: "+at)
				if weight > 0 && weight < 100 && (replicas > 1 || surge > 0) {
					require.Positive(t, canary, "a canary between 0 and 100%% has pods: "+at)
					require.Positive(t, stable, "a stable between 0 and 100%% has pods: "+at)
				}
				switch weight {
				case 0:
					require.Equal(t, [2]int32{0, replicas}, [2]int32{canary, stable}, at)
				case 100:
					require.Equal(t, [2]int32{replicas, 0}, [2]int32{canary, stable}, at)
				}
				prevCanary, prevStable = canary, stable
			}
		}
	}
}

// A basic canary applied again and again, with pods becoming available
// between rounds, reaches ApproximateReplicas without ever leaving the
// maxSurge and maxUnavailable bounds; the counts it reaches are monotone
// in the weight.
func TestBasicCanaryConvergesWithinBounds(t *testing.T) {
	bounds := []struct{ surge, unavailable strategy.IntOrPercent }{
		{strategy.Pods(1), strategy.Pods(0)},
		{strategy.Pods(0), strategy.Pods(1)},
		{strategy.Pods(1), strategy.Pods(1)},
		{strategy.Pods(3), strategy.Pods(2)},
		{strategy.Percent(25), strategy.Percent(25)},
		{strategy.Percent(0), strategy.Percent(0)},
	}
	for replicas := int32(1); replicas <= 20; replicas++ {
		for _, b := range bounds {
			surge, unavailable := strategy.Fenceposts(replicas, b.surge, b.unavailable)
			prevCanary := int32(-1)
			for weight := int32(0); weight <= 100; weight++ {
				at := fmt.Sprintf("replicas %d weight %d maxSurge %s maxUnavailable %s", replicas, weight, b.surge, b.unavailable)
				stable := strategy.ReplicaSet{Replicas: replicas, Available: replicas}
				canary := strategy.ReplicaSet{}
				converged := false
				for round := 0; round < 4*int(replicas)+4; round++ {
					c, s := strategy.BasicCanary{
						Replicas: replicas, Weight: weight, MaxSurge: b.surge, MaxUnavailable: b.unavailable,
						Canary: &canary, Stable: &stable,
					}.Counts()
					require.LessOrEqual(t, c+s, replicas+surge, "within maxSurge: "+at)
					if c == canary.Replicas && s == stable.Replicas {
						converged = true
						break
					}
					// Scaling down removes available pods at once; new pods
					// become available before the next round.
					canary = strategy.ReplicaSet{Replicas: c, Available: min(canary.Available, c)}
					stable = strategy.ReplicaSet{Replicas: s, Available: min(stable.Available, s)}
					require.GreaterOrEqual(t, canary.Available+stable.Available, replicas-unavailable, "within maxUnavailable: "+at)
					canary.Available, stable.Available = canary.Replicas, stable.Replicas
				}
				require.True(t, converged, "converges: "+at)
				wantCanary, wantStable := strategy.ApproximateReplicas(replicas, weight, surge)
				require.Equal(t, [2]int32{wantCanary, wantStable}, [2]int32{canary.Replicas, stable.Replicas}, "reaches the approximation: "+at)
				if argoGap(replicas, weight, surge) {
					continue // Argo Rollouts' gap: no canary pod, see TestApproximateReplicasHalfPodBelowTheTop
				}
				require.GreaterOrEqual(t, canary.Replicas, prevCanary, "monotone in weight: "+at)
				prevCanary = canary.Replicas
			}
		}
	}
}

func TestBasicCanaryFromStableAt25PercentWithSurge(t *testing.T) {
	// The documented 25% case, reached from a full stable with the
	// default maxSurge and maxUnavailable (25%: 3 and 2 of 10).
	stable := strategy.ReplicaSet{Replicas: 10, Available: 10}
	canary := strategy.ReplicaSet{}
	b := strategy.BasicCanary{Replicas: 10, Weight: 25,
		MaxSurge: strategy.Percent(25), MaxUnavailable: strategy.Percent(25), Canary: &canary, Stable: &stable}
	c, s := b.Counts()
	assert.Equal(t, [2]int32{3, 8}, [2]int32{c, s})
}

func TestPlanReplicaCountsFollowTheSteps(t *testing.T) {
	plan, err := strategy.Canary{Steps: []strategy.Step{
		strategy.SetWeight(10), strategy.PauseUntilPromoted(), strategy.SetWeight(41),
	}}.Compile("checkout", "prod")
	require.NoError(t, err)
	stable := &strategy.ReplicaSet{Replicas: 10, Available: 10}
	canary := &strategy.ReplicaSet{}
	state := strategy.CanaryState{Replicas: 10, Canary: canary, Stable: stable}

	at := func(step int) [2]int32 {
		// Converge at this step: apply the counts until they hold.
		s := state
		s.Step = step
		for range 20 {
			c, st := plan.ReplicaCounts(s)
			if c == s.Canary.Replicas && st == s.Stable.Replicas {
				break
			}
			s.Canary = &strategy.ReplicaSet{Replicas: c, Available: c}
			s.Stable = &strategy.ReplicaSet{Replicas: st, Available: st}
		}
		state.Canary, state.Stable = s.Canary, s.Stable
		return [2]int32{s.Canary.Replicas, s.Stable.Replicas}
	}
	assert.Equal(t, [2]int32{1, 9}, at(0), "setWeight 10%")
	assert.Equal(t, [2]int32{1, 9}, at(1), "the pause keeps the weight")
	assert.Equal(t, [2]int32{4, 6}, at(2), "setWeight 41%")
	assert.Equal(t, [2]int32{10, 0}, at(plan.Finish), "the finish goes to 100%")

	state.Aborted = true
	assert.Equal(t, [2]int32{0, 10}, at(plan.Finish), "an abort goes back to 0%")
}

func TestHTTPRouteWeights(t *testing.T) {
	for _, tt := range []struct{ weight, stable, canary int32 }{
		{0, 100, 0}, {1, 99, 1}, {25, 75, 25}, {50, 50, 50}, {99, 1, 99}, {100, 0, 100},
	} {
		w, err := strategy.HTTPRouteWeights(tt.weight)
		require.NoError(t, err)
		assert.Equal(t, strategy.TrafficWeights{Canary: tt.canary, Stable: tt.stable}, w, "weight %d", tt.weight)
	}
	for weight := int32(0); weight <= 100; weight++ {
		w, err := strategy.HTTPRouteWeights(weight)
		require.NoError(t, err)
		assert.Equal(t, int32(100), w.Canary+w.Stable, "never all zero at %d%%", weight)
	}
	for _, bad := range []int32{-1, 101} {
		_, err := strategy.HTTPRouteWeights(bad)
		assert.ErrorIs(t, err, strategy.ErrInvalidWeight)
		assert.ErrorContains(t, err, fmt.Sprintf("canary weight %d", bad))
	}
}

// Where Argo Rollouts' approximation runs out of candidates it gives the
// canary no pod; flightdeck reproduces the controller exactly there too.
func TestApproximateReplicasHalfPodBelowTheTop(t *testing.T) {
	for _, tt := range []struct{ replicas, weight int32 }{{2, 75}, {5, 90}, {10, 95}, {25, 98}, {50, 99}} {
		require.True(t, argoGap(tt.replicas, tt.weight, 0))
		canary, stable := strategy.ApproximateReplicas(tt.replicas, tt.weight, 0)
		assert.Equal(t, [2]int32{0, tt.replicas}, [2]int32{canary, stable}, "%d replicas at %d%%", tt.replicas, tt.weight)
		canary, stable = strategy.ApproximateReplicas(tt.replicas, tt.weight, 1)
		assert.Positive(t, canary, "with surge the gap does not arise")
		assert.Positive(t, stable, "with surge the gap does not arise")
	}
}

// argoGap reports the inputs where Argo Rollouts' approximation has no
// candidate: no surge and replicas × weight exactly half a pod below
// replicas.
func argoGap(replicas, weight, surge int32) bool {
	return surge == 0 && weight > 0 && weight < 100 && replicas > 1 && 2*replicas*weight == (2*replicas-1)*100
}
