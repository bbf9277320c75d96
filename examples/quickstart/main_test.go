package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuickstart runs the whole quickstart, as `go run ./examples/quickstart`
// does, and checks the story it tells, section by section.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds, tests and scans a Go program three times")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, &out, false, "")
	require.NoError(t, err, out.String())
	s := out.String()
	sections := regexp.MustCompile(`(?m)^== `).Split(s, -1)
	require.Len(t, sections, 7, "six sections: %s", s)

	// 2. A commit to main: built, tested, scanned (dependencies and
	// committed secrets), pushed, deployed to dev, synced and smoke
	// tested there.
	dev := sections[2]
	for _, step := range []string{"unit-test", "dependency-scan", "secrets", "compile", "image-scan", "image-push", "requests-limits", "quota", "deploy-dev", "smoke-dev"} {
		assert.Regexp(t, `ok +`+step+` `, dev)
	}
	assert.Contains(t, dev, "tests: 2 passed, 0 failed")
	assert.Contains(t, dev, "vulnerabilities: 0 in the source, 0 in the image; secrets committed in the source: 0")
	assert.Contains(t, dev, "pre-deploy quota gate: ResourceQuota/hello-dev/compute: requests.cpu: total 200m of hard 1", "one replica and its rolling-update surge")
	assert.Contains(t, dev, "smoke tests against dev once Synced/Healthy: passed (GET / through Service hello: pass)")
	assert.Regexp(t, `\+ +- image: 127\.0\.0\.1:\d+/hello@sha256:[0-9a-f]{64}`, dev, "the dev overlay pins the pushed image by digest")
	assert.Regexp(t, `read back from Git: dev runs 127\.0\.0\.1:\d+/hello@sha256:[0-9a-f]{64}, built from [0-9a-f]{12} of file://\S+ at \d{4}-`, dev)
	assert.Regexp(t, `Argo CD: hello-dev is Synced/Healthy at [0-9a-f]{12}`, dev)

	// 3. The bad release's canary is aborted at its first analysis, and
	// staging rolled back, held, the digest quarantined.
	canary := sections[3]
	assert.Regexp(t, `ann@example\.com promoted by hand from dev: staging runs 1\.0\.0 \(commit [0-9a-f]{12}\), Argo CD says Synced/Healthy`, canary)
	assert.Regexp(t, `pipeline 1\.1\.0: 12 steps ok in .*smoke tests passed`, canary)
	assert.Contains(t, canary, "hello/staging 1/7 setWeight 20%: committed, weight 20% (stable ×4, canary ×1)")
	assert.Contains(t, canary, "hello/staging 2/7 analysis errors: Failed (errors Failed")
	assert.Contains(t, canary, "result: aborted at step 2/7 (analysis errors)")
	assert.NotContains(t, s, "errors Failed: errors Failed", "the abort names its analysis once")
	assert.NotContains(t, canary, "setWeight 50%: committed", "the bad release never got past its first weight")
	assert.Contains(t, canary, "1000 requests through the HTTPRoute: 1000 served by the stable Deployment, 0 by the canary")
	assert.Regexp(t, `rollback commit [0-9a-f]{12} restores [0-9a-f]{12}`, canary)
	assert.Regexp(t, `recovered by sync: Synced/Healthy at [0-9a-f]{12}`, canary)
	assert.Regexp(t, `hold placed: hello in staging is on hold since \S+ by flightdeck quickstart: the canary of 1\.1\.0 was aborted at analysis errors \(rolled back from 127\.0\.0\.1:\d+/hello@(sha256:[0-9a-f]{64})\)`, canary)
	from := regexp.MustCompile(`rolled back from \S+@(sha256:[0-9a-f]{64})`).FindStringSubmatch(canary)
	require.Len(t, from, 2)
	assert.Contains(t, canary, "quarantined in staging: "+from[1])
	assert.Contains(t, canary, "an automated redeploy of 1.1.0 is refused: ")

	// 4. The fix: staging by hand with its plan and notes, prod blocked
	// until two of two approvals, with the scan, then promoted.
	fix := sections[4]
	assert.Contains(t, fix, "ann@example.com lifts the hold on staging; 1.1.0 stays quarantined there")
	assert.Contains(t, fix, "promote hello from dev to staging")
	assert.Regexp(t, `release notes:\n +[0-9a-f]{12} hello: fix the errors of 1\.1\.0 \(Quick Starter <dev@example\.com>\)\n +[0-9a-f]{12} hello: answer faster`, fix)
	assert.Regexp(t, `ann@example\.com promoted by hand from dev: staging runs 1\.2\.0 \(commit [0-9a-f]{12}\), Argo CD says Synced/Healthy`, fix)
	assert.Contains(t, fix, ": the tag the repository started with (no release deployed yet) → 1.2.0", "what prod ran before its first release")
	assert.Contains(t, fix, "approvals: blocked: approvals 0 of 2 from group:sre")
	assert.Contains(t, fix, "refused: promote hello to prod: blocked by approvals: approvals 1 of 2 from group:sre (alice@example.com)")
	assert.Contains(t, fix, "approvals: allowed: approvals 2 of 2 from group:sre (alice@example.com, bob@example.com)")
	assert.Regexp(t, `scan: allowed: no finding fails the policy \(scanned .* ago, 0 findings\)`, fix)
	assert.Regexp(t, `prod runs 1\.2\.0 \(commit [0-9a-f]{12}\), Argo CD says Synced/Healthy`, fix)
	_, afterApprovals, ok := strings.Cut(fix, "2 of 2")
	require.True(t, ok)
	assert.NotContains(t, fix[:len(fix)-len(afterApprovals)], "prod runs", "prod waits for both approvals")

	// 5. Every step reached the webhook receiver, signed.
	heard := sections[5]
	assert.Regexp(t, `verified 16 deliveries \(notify\.Verify, HMAC-SHA256\), refused 0`, heard)
	for _, line := range []string{
		`on-committed +hello/dev +hello 1\.0\.0 committed for dev`,
		`on-deployed +hello/dev +hello 1\.0\.0 deployed to dev: Synced and Healthy`,
		`on-rollout-step-completed +hello/staging +hello 1\.1\.0 canary in staging: step 1/7 setWeight 20% done`,
		`on-rollout-aborted +hello/staging +hello 1\.1\.0 canary in staging aborted at step 2/7`,
		`on-rolled-back +hello/staging +hello 1\.1\.0 in staging rolled back to 1\.0\.0`,
		`on-promoted +hello/staging +hello 1\.2\.0 promoted from dev to staging`,
		`on-approval-requested +hello/prod +hello 1\.2\.0 to prod waits for approvals: approvals 0 of 2`,
		`on-approval-granted +hello/prod +bob@example\.com approved hello 1\.2\.0 to prod`,
		`on-promoted +hello/prod +hello 1\.2\.0 promoted from staging to prod`,
	} {
		assert.Regexp(t, `valid sig +`+line, heard)
	}
	assert.Contains(t, heard, "a delivery signed with another secret gets HTTP 401")

	// 6. DORA: every environment, the failed canary counted in staging.
	d := sections[6]
	assert.Contains(t, d, "DEPLOYS  PER DAY  LEAD TIME")
	assert.Regexp(t, `hello +dev +3 `, d)
	assert.Regexp(t, `hello +prod +1 `, d)
	assert.Regexp(t, `hello +staging +5 .* 1/5 20% `, d, "the aborted canary failed; the rollback recovered it")
	assert.Regexp(t, `all +- +9 `, d)
}
