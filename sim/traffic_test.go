package sim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/sim"
)

func TestTraffic(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	reg := prometheus.NewPedanticRegistry()
	c := sim.New(clk, sim.WithTraffic(10), sim.WithRegisterer(reg),
		sim.WithBehavior("web:v2", sim.Behavior{ReadyAfter: 5 * time.Second, ErrorRate: 0.25}))
	apply(t, c, deploymentYAML("web", "web:v1", 2, ""))
	clk.Advance(15 * time.Second)
	served, failed, err := c.Requests(web)
	require.NoError(t, err)
	assert.InDelta(t, 200, served, 1e-9, "two pods, ready for 10s, 10 rps each")
	assert.Zero(t, failed)

	// Recreate v2 so only v2 pods serve from then on.
	apply(t, c, deploymentYAML("web", "web:v2", 2, "  strategy: {type: Recreate}\n"))
	clk.Advance(25 * time.Second)
	served, failed, err = c.Requests(web)
	require.NoError(t, err)
	assert.InDelta(t, 600, served, 1e-9, "plus two v2 pods ready for 20s")
	assert.InDelta(t, 100, failed, 1e-9, "a quarter of the v2 requests fail")

	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP flightdeck_sim_requests_total Requests served by the simulated pods of each Deployment, by HTTP status code.
# TYPE flightdeck_sim_requests_total counter
flightdeck_sim_requests_total{code="200",deployment="web",namespace="shop"} 500
flightdeck_sim_requests_total{code="500",deployment="web",namespace="shop"} 100
`), "flightdeck_sim_requests_total")
	assert.NoError(t, err)
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)

	_, _, err = c.Requests(sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Name: "nope"})
	assert.ErrorIs(t, err, sim.ErrNotFound)
}

func TestNoTrafficByDefault(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	c := sim.New(clk)
	apply(t, c, deploymentYAML("web", "web:v1", 1, ""))
	clk.Advance(time.Minute)
	served, _, err := c.Requests(web)
	require.NoError(t, err)
	assert.Zero(t, served)
}
