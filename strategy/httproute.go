package strategy

import (
	"errors"
	"fmt"
)

// ErrInvalidWeight is wrapped by the error [HTTPRouteWeights] returns for a
// weight outside 0–100.
var ErrInvalidWeight = errors.New("invalid canary weight")

// HTTPRouteWeights returns the weights to write on the stable and the
// canary backendRefs of a Gateway API HTTPRoute for a canary weight in
// percent. Both weights are always written and always sum to 100, so the
// rule never has every backend at weight 0 (which leaves it no backend to
// send requests to): 0% is stable 100 / canary 0, 100% is stable 0 /
// canary 100. An omitted weight would count as 1, so neither is left out.
// It
// returns an error wrapping [ErrInvalidWeight] for a weight outside
// 0–100.
func HTTPRouteWeights(canaryWeight int32) (TrafficWeights, error) {
	if canaryWeight < 0 || canaryWeight > MaxWeight {
		return TrafficWeights{}, fmt.Errorf("canary weight %d: must be between 0 and %d: %w", canaryWeight, MaxWeight, ErrInvalidWeight)
	}
	return TrafficWeights{Canary: canaryWeight, Stable: MaxWeight - canaryWeight}, nil
}
