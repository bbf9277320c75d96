package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/examples/internal/rolloutdemo"
)

// TestBlueGreen runs the example as `go run ./examples/bluegreen` does
// and checks the story it tells.
func TestBlueGreen(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, &out, config{Flags: rolloutdemo.Flags{Speed: 1000, RPS: 200, Replicas: 3}, errorRate: 0.08, maxErrors: 0.02})
	require.NoError(t, err, out.String())
	s := out.String()
	for _, line := range []string{
		"before the rollout (shop-blue, a copy of shop, serves beside it until the first step scales shop to 0): 100 requests to Service shop served by shop ",
		"shop/prod 1/5 setCanaryScale 100%: committed, active on the stable release (stable ×3, new ×3)",
		"shop/prod 2/5 analysis smoke: Successful",
		"shop/prod 3/5 switchActive: committed, active on the new release (stable ×3, new ×3)",
		"after the switch: 100 requests to Service shop served by shop-green 100",
		"shop/prod 4/5 analysis error-rate: Failed",
		"right after the switch back: 100 requests to Service shop served by shop-blue 100",
		"scaled down: active on the stable release (stable ×3, new ×0)",
		"result: switched back at step 4/5 (analysis error-rate)",
		"at the end: 100 requests to Service shop served by shop-blue 100",
	} {
		assert.Contains(t, s, line)
	}
}
