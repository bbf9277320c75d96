package gates

import (
	"context"
	"errors"
	"fmt"

	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/gotest"
)

// ErrNoTests is returned (wrapped) by a [ReadyGate] whose test reports
// hold no passing test: an empty run is no evidence that tests passed.
var ErrNoTests = errors.New("no test passed")

// ReadyGate is a stage that lets a release go to an environment only when
// all its tests passed and its image's scan passes the environment's
// policy. Make one with [NewReadyGate].
type ReadyGate struct {
	name  string
	scan  *ScanGate
	tests []pipeline.Key[*gotest.Report]
}

var _ pipeline.Stage = (*ReadyGate)(nil)

// NewReadyGate returns a gate named name that reads the [gotest.Report]s
// under tests (the keys given to gotest's Stage.WithReport) and applies
// scan, a [ScanGate] holding the environment's policy and the keys of the
// image's findings. A nil scan checks the tests only. The step must need
// [ReadyGate.Needs].
func NewReadyGate(name string, scan *ScanGate, tests ...pipeline.Key[*gotest.Report]) *ReadyGate {
	return &ReadyGate{name: name, scan: scan, tests: tests}
}

// Name returns the gate's name.
func (g *ReadyGate) Name() string { return g.name }

// Needs returns the keys the gate reads: the test reports', then the scan
// gate's.
func (g *ReadyGate) Needs() []pipeline.AnyKey {
	keys := make([]pipeline.AnyKey, 0, len(g.tests))
	for _, k := range g.tests {
		keys = append(keys, k)
	}
	if g.scan != nil {
		keys = append(keys, g.scan.Needs()...)
	}
	return keys
}

// Run checks the tests and the scan, and reports every reason to refuse
// together: failed tests as a [*gotest.FailError] (wrapping
// [gotest.ErrTestsFailed]) naming them, reports without a passing test
// ([ErrNoTests]), and the scan's scan.ViolationError (matching
// scan.ErrPolicyViolation); a refusal is marked [pipeline.Permanent].
// The scan gate's verdict is recorded as [ScanGate.WithVerdict] says. A
// missing report or findings wraps [pipeline.ErrNoValue] and is not
// permanent.
func (g *ReadyGate) Run(_ context.Context, st *pipeline.State) error {
	var refusals []error
	var failures []string
	passed := 0
	for _, k := range g.tests {
		rep, err := k.Get(st)
		if err != nil {
			return fmt.Errorf("gate %s: %w", g.name, err)
		}
		if rep == nil {
			return fmt.Errorf("gate %s: key %q: %w: nil report", g.name, k.Name(), pipeline.ErrNoValue)
		}
		failures = append(failures, rep.Failures()...)
		passed += rep.Count(gotest.Pass)
	}
	switch {
	case len(failures) > 0:
		refusals = append(refusals, fmt.Errorf("tests: %w", &gotest.FailError{Failures: failures}))
	case len(g.tests) > 0 && passed == 0:
		refusals = append(refusals, fmt.Errorf("tests: %w in %d report(s)", ErrNoTests, len(g.tests)))
	}
	if g.scan != nil {
		err := g.scan.check(st)
		if errors.Is(err, pipeline.ErrNoValue) {
			return fmt.Errorf("gate %s: %w", g.name, err)
		}
		if err != nil {
			refusals = append(refusals, fmt.Errorf("scan %s: %w", g.scan.name, err))
		}
	}
	if err := joinErrors(refusals); err != nil {
		return pipeline.Permanent(fmt.Errorf("gate %s: %w", g.name, err))
	}
	return nil
}
