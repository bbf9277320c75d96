package scantest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan/scantest"
)

// A fake scanner feeding a policy check.
func ExampleScanner() {
	s := scantest.New(scan.Finding{ID: "CVE-2026-1", Package: "libfoo", Installed: "1.0", Severity: scan.SeverityMedium})
	findings, _ := s.Scan(context.Background(), scan.Target{ImageRef: "registry.example.com/app:v1"})
	_, err := scan.Policy{FailAt: scan.SeverityHigh}.Check(time.Now(), findings)
	fmt.Println("passes at high:", err == nil)
	_, err = scan.Policy{FailAt: scan.SeverityMedium}.Check(time.Now(), findings)
	fmt.Println(err)
	fmt.Println("scanned:", s.Calls()[0].ImageRef)
	// Output:
	// passes at high: true
	// scan policy violated: 1 finding(s): CVE-2026-1 libfoo@1.0 (medium)
	// scanned: registry.example.com/app:v1
}
