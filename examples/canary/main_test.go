package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/examples/internal/rolloutdemo"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

// TestCanary runs the example as `go run ./examples/canary` does and
// checks the story it tells.
func TestCanary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, &out, config{Flags: rolloutdemo.Flags{Speed: 1000, RPS: 200, Replicas: 4}, errorRate: 0.01, badFactor: 5})
	require.NoError(t, err, out.String())
	s := out.String()
	good := "; shop runs " + strategytest.Release("shop", 2).Ref()[:len("registry.example.com/team/shop@sha256:")+12] + "\n"
	for _, line := range []string{
		"shop/prod 1/9 setWeight 10%: committed, weight 10% (stable ×4, canary ×1)",
		"shop/prod 3/9 setWeight 25%: committed, weight 25% (stable ×4, canary ×1)",
		"shop/prod 5/9 setWeight 50%: committed, weight 50% (stable ×4, canary ×2)",
		"shop/prod 7/9 setWeight 100%: committed, weight 100% (stable ×4, canary ×4)",
		"shop/prod 6/9 analysis errors, latency: Successful",
		"result: Completed",
		"1000 requests through the HTTPRoute served by shop 1000" + good + "\n== a bad release",
		"shop/prod 2/9 analysis errors, latency: Failed (errors Failed",
		"result: aborted at step 2/9 (analysis errors, latency)",
	} {
		assert.Contains(t, s, line)
	}
	assert.Regexp(t, `aborted: .*; weight 0% \(stable ×4, canary ×1\)`, s, "all traffic back to stable")
	assert.Contains(t, s, "scaled down: weight 0% (stable ×4, canary ×0)")
	_, bad, ok := strings.Cut(s, "== a bad release")
	require.True(t, ok)
	assert.NotContains(t, bad, "setWeight 25%", "the bad release never got past its first weight")
	assert.True(t, strings.HasSuffix(s, "1000 requests through the HTTPRoute served by shop 1000"+good), "the bad release serves nothing at the end, the good one still does")
}
