package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	s := out.String()
	for _, want := range []string{
		"event: promoted checkout → dev",
		"release notes:\n      ",
		"checkout: pay with vouchers (Dev <dev@example.com>)",
		"+      - image: registry.example.com/team/checkout@sha256:",
		`windows: blocked: deny window "weekend freeze" is open until 2026-03-09T08:00:00+01:00`,
		"the freeze reopens Mon 9 Mar 08:00 (Berlin)",
		"approvals: blocked: approvals 1 of 2 from group:sre (alice@example.com)",
		"is not allowed to sign as bob@example.com",
		"refused: promote checkout to prod: blocked by scan: scan policy violated",
		"the scan result is kept in the GitOps repository at .flightdeck/scans/checkout/",
		"scan: allowed: no finding fails the policy (scanned 10m0s ago; allowed: GO-2026-4242 until 2026-03-23); scans run: 0",
		"event: promoted checkout → prod",
		"history: promote checkout to prod",
	} {
		assert.Contains(t, s, want)
	}
}
