package gates

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/command"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
)

// Source yields the measurements a [PerfGate] checks.
type Source interface {
	// Measure returns the measurements, reading the run's state if it
	// needs to.
	Measure(ctx context.Context, st *pipeline.State) ([]Measurement, error)
}

// SourceFunc adapts a function to [Source].
type SourceFunc func(ctx context.Context, st *pipeline.State) ([]Measurement, error)

var _ Source = SourceFunc(nil)

// Measure calls f.
func (f SourceFunc) Measure(ctx context.Context, st *pipeline.State) ([]Measurement, error) {
	return f(ctx, st)
}

// BenchFile reads Go benchmark output from the file at path.
func BenchFile(path string) Source {
	return SourceFunc(func(context.Context, *pipeline.State) ([]Measurement, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("benchmark results: %w", err)
		}
		defer f.Close()
		ms, err := ParseBench(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return ms, nil
	})
}

// BenchOutput parses the stdout of a [command] stage that ran the
// benchmarks and put its result under k; the gate's step must need k.
func BenchOutput(k pipeline.Key[command.Result]) Source {
	return SourceFunc(func(_ context.Context, st *pipeline.State) ([]Measurement, error) {
		res, err := k.Get(st)
		if err != nil {
			return nil, err
		}
		ms, err := ParseBench(bytes.NewReader(res.Stdout))
		if err != nil {
			return nil, fmt.Errorf("output of %s: %w", k.Name(), err)
		}
		return ms, nil
	})
}

// LoadTestFile reads a [LoadTest] JSON document from the file at path.
func LoadTestFile(path string) Source {
	return SourceFunc(func(context.Context, *pipeline.State) ([]Measurement, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("load test results: %w", err)
		}
		defer f.Close()
		m, err := ParseLoadTest(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return []Measurement{m}, nil
	})
}

// PerfGate is a stage that fails when measurements exceed budgets. Make
// one with [NewPerfGate].
type PerfGate struct {
	name    string
	src     Source
	budgets []Budget
	result  pipeline.Key[[]Measurement]
}

var _ pipeline.Stage = (*PerfGate)(nil)

// NewPerfGate returns a gate named name that checks the measurements of
// src against budgets (see [Check]).
func NewPerfGate(name string, src Source, budgets ...Budget) *PerfGate {
	return &PerfGate{name: name, src: src, budgets: budgets}
}

// WithResult makes the gate put the measurements it checked under k, and
// returns g.
func (g *PerfGate) WithResult(k pipeline.Key[[]Measurement]) *PerfGate {
	g.result = k
	return g
}

// Name returns the gate's name.
func (g *PerfGate) Name() string { return g.name }

// Run measures and checks. A failed check, or input that does not parse,
// is returned marked [pipeline.Permanent]; an error reading the source is
// returned as is, so a retry policy may apply.
func (g *PerfGate) Run(ctx context.Context, st *pipeline.State) error {
	ms, err := g.src.Measure(ctx, st)
	if err != nil {
		err = fmt.Errorf("gate %s: %w", g.name, err)
		if errors.Is(err, ErrInvalidInput) {
			return pipeline.Permanent(err)
		}
		return err
	}
	if g.result.Name() != "" && st != nil {
		g.result.Put(st, ms)
	}
	if err := Check(ms, g.budgets...); err != nil {
		return pipeline.Permanent(fmt.Errorf("gate %s: %w", g.name, err))
	}
	return nil
}

// ScanGate is a stage that applies a [scan.Policy] to the findings of one
// or more scan steps. Make one with [NewScanGate].
type ScanGate struct {
	name     string
	policy   scan.Policy
	findings []pipeline.Key[[]scan.Finding]
	clock    clock.Clock
	verdict  pipeline.Key[scan.Verdict]
}

var _ pipeline.Stage = (*ScanGate)(nil)

// NewScanGate returns a gate named name that checks the findings stored
// under the given keys (none means [scan.Findings]) against policy, at
// the current time unless [ScanGate.WithClock] says otherwise. The gate's
// step must need the keys; [ScanGate.Needs] lists them.
func NewScanGate(name string, policy scan.Policy, findings ...pipeline.Key[[]scan.Finding]) *ScanGate {
	if len(findings) == 0 {
		findings = []pipeline.Key[[]scan.Finding]{scan.Findings}
	}
	return &ScanGate{name: name, policy: policy, findings: findings, clock: clock.System()}
}

// WithClock sets the clock whose time decides allowlist expiry and returns
// g. Nil means the system clock, the default.
func (g *ScanGate) WithClock(c clock.Clock) *ScanGate {
	g.clock = clock.Or(c)
	return g
}

// WithVerdict makes the gate put its [scan.Verdict] under k, also when it
// fails, and returns g.
func (g *ScanGate) WithVerdict(k pipeline.Key[scan.Verdict]) *ScanGate {
	g.verdict = k
	return g
}

// Needs returns the keys the gate reads, for the step's Needs.
func (g *ScanGate) Needs() []pipeline.AnyKey {
	out := make([]pipeline.AnyKey, len(g.findings))
	for i, k := range g.findings {
		out[i] = k
	}
	return out
}

// Name returns the gate's name.
func (g *ScanGate) Name() string { return g.name }

// Run checks the findings. A violation ([scan.ErrPolicyViolation]) or an
// invalid policy ([scan.ErrInvalidPolicy]) is returned marked
// [pipeline.Permanent]; missing findings wrap [pipeline.ErrNoValue].
func (g *ScanGate) Run(_ context.Context, st *pipeline.State) error {
	err := g.check(st)
	if err != nil && (errors.Is(err, scan.ErrPolicyViolation) || errors.Is(err, scan.ErrInvalidPolicy)) {
		return pipeline.Permanent(fmt.Errorf("gate %s: %w", g.name, err))
	}
	if err != nil {
		return fmt.Errorf("gate %s: %w", g.name, err)
	}
	return nil
}

// check applies the policy to the findings in st and records the verdict.
func (g *ScanGate) check(st *pipeline.State) error {
	var all []scan.Finding
	for _, k := range g.findings {
		fs, err := k.Get(st)
		if err != nil {
			return err
		}
		all = append(all, fs...)
	}
	v, err := g.policy.Check(g.clock.Now(), all)
	if g.verdict.Name() != "" {
		g.verdict.Put(st, v)
	}
	return err
}
