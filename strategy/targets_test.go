package strategy_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/strategy"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

var shopRoute = strategy.TrafficRouting{HTTPRoute: "shop", StableService: "shop", CanaryService: "shop-canary"}

func TestRouteTargetConformance(t *testing.T) {
	strategytest.TestTarget(t, func(t *testing.T, o strategy.Overlay) strategy.Target {
		target, err := strategy.NewRouteTarget(o, shopRoute, "gateway")
		require.NoError(t, err)
		return target
	})
}

func TestReplicaTargetConformance(t *testing.T) {
	strategytest.TestTarget(t, func(t *testing.T, o strategy.Overlay) strategy.Target {
		target, err := strategy.NewReplicaTarget(o)
		require.NoError(t, err)
		return target
	})
}

func TestBlueGreenTargetConformance(t *testing.T) {
	strategytest.TestTarget(t, func(t *testing.T, o strategy.Overlay) strategy.Target {
		target, err := strategy.NewBlueGreenTarget(o, "shop", "shop-preview")
		require.NoError(t, err)
		return target
	})
}

func TestRollingTargetConformance(t *testing.T) {
	strategytest.TestTarget(t, func(t *testing.T, o strategy.Overlay) strategy.Target {
		target, err := strategy.NewRollingTarget(o)
		require.NoError(t, err)
		return target
	})
}

func TestRecordingTargetConformance(t *testing.T) {
	strategytest.TestTarget(t, func(t *testing.T, o strategy.Overlay) strategy.Target {
		inner, err := strategy.NewReplicaTarget(o)
		require.NoError(t, err)
		return strategytest.NewTarget(inner)
	})
}
