//go:build integration

package scan_test

import (
	"context"
	"os/exec"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
)

// TestIntegrationGitleaksAgreesWithBuiltin runs the real gitleaks and the
// built-in scanner on the same tree: each finds every planted secret,
// under the same rule ID, file and line (so one allowlist serves both),
// and neither output holds a secret. Debian bookworm has no gitleaks
// package; the test runs where gitleaks is on PATH.
func TestIntegrationGitleaksAgreesWithBuiltin(t *testing.T) {
	if _, err := exec.LookPath("gitleaks"); err != nil {
		t.Skip("gitleaks is not installed")
	}
	dir, secrets, where := secretTree(t)
	ctx := context.Background()
	gl, err := scan.NewGitleaks().Scan(ctx, scan.Target{Dir: dir})
	require.NoError(t, err)
	bi, err := scan.NewSecretScanner().Scan(ctx, scan.Target{Dir: dir})
	require.NoError(t, err)
	index := func(fs []scan.Finding) map[string][2]string {
		m := map[string][2]string{}
		for _, f := range fs {
			assertNoSecret(t, secrets, f.String())
			if _, planted := where[f.ID]; !planted || m[f.ID] != [2]string{} {
				t.Logf("also found: %s", f)
				continue
			}
			m[f.ID] = [2]string{f.Package, strconv.Itoa(f.Line)}
		}
		return m
	}
	assert.Equal(t, where, index(bi), "built-in")
	assert.Equal(t, where, index(gl), "gitleaks")
}
