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
	"github.com/flightdeck-dev/flightdeck/pipeline/gotest"
	"github.com/flightdeck-dev/flightdeck/pipeline/pipelinetest"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
)

var (
	unitReport = pipeline.NewKey[*gotest.Report]("test.unit")
	e2eReport  = pipeline.NewKey[*gotest.Report]("test.e2e")
)

func report(results ...gotest.TestResult) *gotest.Report {
	st := gotest.Pass
	for _, r := range results {
		if r.Status == gotest.Fail {
			st = gotest.Fail
		}
	}
	return &gotest.Report{Packages: []gotest.PackageResult{{Package: "example.com/shop", Status: st, Tests: results}}}
}

// readyGraph puts the reports and the image's findings, then runs gate.
func readyGraph(t *testing.T, gate *gates.ReadyGate, unit, e2e *gotest.Report, findings []scan.Finding) *pipeline.Graph {
	t.Helper()
	results := pipeline.Func("results", func(_ context.Context, st *pipeline.State) error {
		unitReport.Put(st, unit)
		e2eReport.Put(st, e2e)
		imgFindings.Put(st, findings)
		return nil
	})
	var b pipeline.Builder
	b.Add(
		pipeline.Step{Stage: results, Provides: []pipeline.AnyKey{unitReport, e2eReport, imgFindings}},
		pipeline.Step{Stage: gate, Needs: gate.Needs(), Retry: pipeline.Retry{Attempts: 3}},
	)
	g, err := b.Build()
	require.NoError(t, err)
	return g
}

func TestReadyGateNeedsPassedTestsAndAPassingScan(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	prodPolicy := scan.Policy{FailAt: scan.SeverityHigh, Allow: []scan.Allow{{
		ID: "CVE-2026-1111", Reason: "handler disabled in prod", Expires: now.Add(48 * time.Hour),
	}}}
	clk := clocktest.New(now)
	gate := func() *gates.ReadyGate {
		sg := gates.NewScanGate("image", prodPolicy, imgFindings).WithClock(clk).WithVerdict(verdictKey)
		return gates.NewReadyGate("ready", sg, unitReport, e2eReport)
	}
	g := gate()
	assert.Equal(t, "ready", g.Name())
	var names []string
	for _, k := range g.Needs() {
		names = append(names, k.Name())
	}
	assert.Equal(t, []string{"test.unit", "test.e2e", "test.scan.image"}, names)

	pass := report(gotest.TestResult{Name: "TestCheckout", Status: gotest.Pass})
	e, err := pipeline.New()
	require.NoError(t, err)

	// Everything passed, and the high finding is allowlisted.
	st := pipeline.NewState()
	_, err = e.Run(context.Background(), readyGraph(t, gate(), pass, pass, []scan.Finding{vulnHigh}), st)
	require.NoError(t, err)
	v, err := verdictKey.Get(st)
	require.NoError(t, err)
	assert.Len(t, v.Allowed, 1, "the scan gate's verdict is recorded")

	// A failed end-to-end test and, once the allowlist entry expired, the
	// scan: both are reported, once.
	clk.Set(now.Add(72 * time.Hour))
	fail := report(gotest.TestResult{Name: "TestCheckout", Status: gotest.Pass},
		gotest.TestResult{Name: "TestPayment/declined", Status: gotest.Fail})
	rep, err := e.Run(context.Background(), readyGraph(t, gate(), pass, fail, []scan.Finding{vulnHigh, vulnLow}), pipeline.NewState())
	require.ErrorIs(t, err, gotest.ErrTestsFailed)
	require.ErrorIs(t, err, scan.ErrPolicyViolation)
	s, _ := rep.Step("ready")
	assert.Equal(t, 1, s.Attempts, "a refusal is not retried")
	assert.Contains(t, err.Error(), "gate ready: tests: gotest: 1 failed: example.com/shop TestPayment/declined; "+
		"scan image: scan policy violated: 1 finding(s): GO-2026-0001 example.com/lib@v1.0.0 (high) fixed in v1.0.1 "+
		"(allowlist entry for CVE-2026-1111 expired 2026-11-27)")

	// Reports that hold no test are no evidence.
	_, err = e.Run(context.Background(), readyGraph(t, gate(), report(), report(), nil), pipeline.NewState())
	require.ErrorIs(t, err, gates.ErrNoTests)
	assert.Contains(t, err.Error(), "gate ready: tests: no test passed in 2 report(s)")
}

func TestReadyGateWithoutResults(t *testing.T) {
	g := gates.NewReadyGate("ready", gates.NewScanGate("image", scan.Policy{}, imgFindings), unitReport)
	err := g.Run(context.Background(), pipeline.NewState())
	require.ErrorIs(t, err, pipeline.ErrNoValue)
	assert.False(t, pipeline.IsPermanent(err), "a missing result is the graph's mistake, not a refusal")
	assert.Contains(t, err.Error(), `gate ready: key "test.unit"`)

	st := pipeline.NewState()
	unitReport.Put(st, report(gotest.TestResult{Name: "TestX", Status: gotest.Pass}))
	err = g.Run(context.Background(), st)
	require.ErrorIs(t, err, pipeline.ErrNoValue)
	assert.Contains(t, err.Error(), `key "test.scan.image"`)

	unitReport.Put(st, nil)
	require.ErrorIs(t, g.Run(context.Background(), st), pipeline.ErrNoValue)

	// Tests only.
	st = pipeline.NewState()
	unitReport.Put(st, report(gotest.TestResult{Name: "TestX", Status: gotest.Pass}))
	assert.NoError(t, gates.NewReadyGate("ready", nil, unitReport).Run(context.Background(), st))
	assert.Len(t, gates.NewReadyGate("ready", nil, unitReport).Needs(), 1)
}

func TestReadyGateConformance(t *testing.T) {
	pipelinetest.TestStage(t, func(t *testing.T) (pipeline.Stage, *pipeline.State) {
		st := pipeline.NewState()
		unitReport.Put(st, report(gotest.TestResult{Name: "TestX", Status: gotest.Pass}))
		scan.Findings.Put(st, []scan.Finding{vulnLow})
		return gates.NewReadyGate("ready", gates.NewScanGate("scan", scan.Policy{FailAt: scan.SeverityHigh}), unitReport), st
	})
}
