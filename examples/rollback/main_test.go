package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	s := out.String()
	for _, want := range []string{
		"1.0.0 verified: all 1 metrics successful; it is the last-known-good",
		"1.1.0 failed: error-rate Failed",
		"event decision shop in prod: verification: rolled_back: restored ",
		"recovered by sync-target: Synced Healthy at ",
		"prod runs 1.0.0\n",
		"| Flightdeck-Action: rollback\n",
		"| Flightdeck-Change: unplanned\n",
		"|     query: sum(rate(flightdeck_sim_requests_total{",
		"refused: deploy shop to prod: overlay apps/shop/overlays/prod: gitops: shop in prod is on hold since 2026-06-01T",
		"event hold shop in prod: lifted: by jo@example.com: the fix is ready (the hold since 2026-06-01T",
		"1.1.0 is still refused: deploy shop to prod: overlay apps/shop/overlays/prod: gitops: sha256:000000000000000000000000000000000000000000000000000000000a11ce01 is quarantined",
		"1.2.0 is verified; prod runs 1.2.0",
		"rollback rollback shop in prod to ",
		"hold     lift the hold of shop in prod",
	} {
		assert.Contains(t, s, want)
	}
}
