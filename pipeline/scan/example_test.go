package scan_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan/scantest"
)

// A policy that fails on reachable high-severity findings, with an
// allowlist entry that expires.
func ExamplePolicy_Check() {
	findings := []scan.Finding{
		{ID: "GO-2026-9001", Aliases: []string{"CVE-2026-90001"}, Package: "example.com/vulnlib",
			Installed: "v1.0.0", Fixed: "v1.2.0", Severity: scan.SeverityHigh, Reachable: true},
		{ID: "GO-2026-9002", Package: "example.com/vulnlib", Installed: "v1.0.0", Severity: scan.SeverityHigh},
	}
	policy := scan.Policy{
		FailAt:        scan.SeverityHigh,
		OnlyReachable: true,
		Allow: []scan.Allow{{
			ID:      "CVE-2026-90001",
			Reason:  "input is size-limited by the gateway",
			Expires: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
		}},
	}
	v, err := policy.Check(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), findings)
	fmt.Println("March:", err == nil, len(v.Allowed), "allowed,", len(v.Ignored), "ignored")
	_, err = policy.Check(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), findings)
	fmt.Println("April:", errors.Is(err, scan.ErrPolicyViolation))
	fmt.Println(err)
	// Output:
	// March: true 1 allowed, 1 ignored
	// April: true
	// scan policy violated: 1 finding(s): GO-2026-9001 example.com/vulnlib@v1.0.0 (high) fixed in v1.2.0 (allowlist entry for CVE-2026-90001 expired 2026-04-01)
}

// A scan step in a pipeline, gated by a policy. The fake scanner reports
// one critical finding, so the step fails and is not retried.
func ExampleNewStage() {
	scanner := scantest.New(scan.Finding{ID: "CVE-2026-1", Package: "libfoo", Installed: "1.0", Severity: scan.SeverityCritical, Reachable: true})
	clk := clocktest.New(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	var b pipeline.Builder
	b.Add(pipeline.Step{
		Stage:    scan.NewStage(scanner, scan.FixedTarget(scan.Target{Dir: "."}), scan.WithPolicy(scan.Policy{FailAt: scan.SeverityHigh}), scan.WithClock(clk)),
		Provides: []pipeline.AnyKey{scan.Findings},
		Retry:    pipeline.Retry{Attempts: 3},
	})
	g, _ := b.Build()
	e, _ := pipeline.New()
	rep, err := e.Run(context.Background(), g, nil)
	fmt.Println(rep.Steps[0].Name, rep.Steps[0].Status, rep.Steps[0].Attempts)
	fmt.Println(errors.Is(err, scan.ErrPolicyViolation))
	// Output:
	// scan failed 1
	// true
}

// A source tree scanned for committed credentials; the finding names the
// rule, file and line, and masks the secret.
func ExampleNewSecretScanner() {
	dir, _ := os.MkdirTemp("", "src")
	defer os.RemoveAll(dir)
	token := "gh" + "p_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8" // assembled, so this file holds no token
	_ = os.WriteFile(filepath.Join(dir, "ci.env"), []byte("# CI\nGITHUB_TOKEN="+token+"\n"), 0o600)

	fs, _ := scan.NewSecretScanner().Scan(context.Background(), scan.Target{Dir: dir})
	for _, f := range fs {
		fmt.Println(f)
		fmt.Println(f.Aliases[0])
	}
	// Output:
	// secret github-pat in ci.env:2: ghp_**** (critical)
	// ci.env:github-pat:2
}
