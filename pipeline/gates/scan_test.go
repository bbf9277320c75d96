package gates_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/gates"
	"github.com/flightdeck-dev/flightdeck/pipeline/pipelinetest"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan/scantest"
)

var (
	srcFindings = pipeline.NewKey[[]scan.Finding]("test.scan.source")
	imgFindings = pipeline.NewKey[[]scan.Finding]("test.scan.image")
	verdictKey  = pipeline.NewKey[scan.Verdict]("test.scan.verdict")
)

var (
	vulnHigh = scan.Finding{ID: "GO-2026-0001", Aliases: []string{"CVE-2026-1111"}, Package: "example.com/lib",
		Installed: "v1.0.0", Fixed: "v1.0.1", Severity: scan.SeverityHigh, Reachable: true}
	vulnLow = scan.Finding{ID: "GO-2026-0002", Package: "example.com/other", Installed: "v0.1.0", Severity: scan.SeverityLow, Reachable: true}
)

// scanGraph scans "source" and "image" with fakes and gates both.
func scanGraph(t *testing.T, gate *gates.ScanGate) *pipeline.Graph {
	t.Helper()
	src := scan.NewStage(scantest.New(vulnLow), scan.FixedTarget(scan.Target{Dir: "."}),
		scan.WithStageName("scan-source"), scan.WithResultKey(srcFindings))
	img := scan.NewStage(scantest.New(vulnHigh), scan.FixedTarget(scan.Target{Dir: "."}),
		scan.WithStageName("scan-image"), scan.WithResultKey(imgFindings))
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: src, Provides: []pipeline.AnyKey{srcFindings}},
		pipeline.Step{Stage: img, Provides: []pipeline.AnyKey{imgFindings}},
		pipeline.Step{Stage: gate, Needs: gate.Needs(), Provides: []pipeline.AnyKey{verdictKey}, Retry: pipeline.Retry{Attempts: 3}},
	)
	g, err := b.Build()
	require.NoError(t, err)
	return g
}

func TestScanGateFailsPassesWithAllowlistUntilExpiry(t *testing.T) {
	expiry := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	clock := clocktest.New(now)
	e, err := pipeline.New()
	require.NoError(t, err)

	strict := gates.NewScanGate("scan-gate", scan.Policy{FailAt: scan.SeverityHigh}, srcFindings, imgFindings).
		WithClock(clock).WithVerdict(verdictKey)
	st := pipeline.NewState()
	rep, err := e.Run(context.Background(), scanGraph(t, strict), st)
	require.ErrorIs(t, err, scan.ErrPolicyViolation)
	assert.Contains(t, err.Error(), "gate scan-gate:")
	assert.Contains(t, err.Error(), "GO-2026-0001 example.com/lib@v1.0.0 (high) fixed in v1.0.1")
	s, _ := rep.Step("scan-gate")
	assert.Equal(t, 1, s.Attempts, "a policy violation is not retried")
	v, err := verdictKey.Get(st)
	require.NoError(t, err)
	assert.Len(t, v.Failed, 1)
	assert.Len(t, v.Ignored, 1, "the low finding of the source scan is below FailAt")

	allow := scan.Policy{FailAt: scan.SeverityHigh, Allow: []scan.Allow{{
		ID: "CVE-2026-1111", Reason: "not exposed: handler disabled", Expires: expiry,
	}}}
	lenient := gates.NewScanGate("scan-gate", allow, srcFindings, imgFindings).WithClock(clock).WithVerdict(verdictKey)
	st = pipeline.NewState()
	_, err = e.Run(context.Background(), scanGraph(t, lenient), st)
	require.NoError(t, err)
	v, _ = verdictKey.Get(st)
	require.Len(t, v.Allowed, 1)
	assert.Equal(t, "GO-2026-0001", v.Allowed[0].Finding.ID)

	clock.Set(expiry.Add(time.Hour))
	_, err = e.Run(context.Background(), scanGraph(t, lenient), pipeline.NewState())
	require.ErrorIs(t, err, scan.ErrPolicyViolation)
	assert.Contains(t, err.Error(), "allowlist entry for CVE-2026-1111 expired 2026-12-31")
}

func TestScanGateBadInputs(t *testing.T) {
	st := pipeline.NewState()
	g := gates.NewScanGate("g", scan.Policy{})
	assert.Equal(t, "g", g.Name())
	require.Len(t, g.Needs(), 1)
	assert.Equal(t, scan.Findings.Name(), g.Needs()[0].Name(), "default key")
	err := g.Run(context.Background(), st)
	require.ErrorIs(t, err, pipeline.ErrNoValue)
	assert.Contains(t, err.Error(), `gate g: key "scan.findings": no value`)

	scan.Findings.Put(st, []scan.Finding{vulnLow})
	bad := gates.NewScanGate("g", scan.Policy{Allow: []scan.Allow{{ID: "X"}}})
	err = bad.Run(context.Background(), st)
	require.ErrorIs(t, err, scan.ErrInvalidPolicy)
	assert.True(t, pipeline.IsPermanent(err))

	// The zero policy fails every finding.
	err = g.Run(context.Background(), st)
	require.ErrorIs(t, err, scan.ErrPolicyViolation)
}

func TestGatesConformance(t *testing.T) {
	t.Run("scan", func(t *testing.T) {
		pipelinetest.TestStage(t, func(t *testing.T) (pipeline.Stage, *pipeline.State) {
			st := pipeline.NewState()
			scan.Findings.Put(st, []scan.Finding{vulnLow})
			return gates.NewScanGate("scan-gate", scan.Policy{FailAt: scan.SeverityHigh}), st
		})
	})
	t.Run("perf", func(t *testing.T) {
		pipelinetest.TestStage(t, func(t *testing.T) (pipeline.Stage, *pipeline.State) {
			src := gates.SourceFunc(func(ctx context.Context, _ *pipeline.State) ([]gates.Measurement, error) {
				return []gates.Measurement{{Name: "BenchmarkX", Latency: time.Millisecond}}, ctx.Err()
			})
			return gates.NewPerfGate("perf", src, gates.Budget{MaxLatency: time.Second}), pipeline.NewState()
		})
	})
}
