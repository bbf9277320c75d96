package postdeploy

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/flightdeck-dev/flightdeck/pipeline/command"
	"github.com/flightdeck-dev/flightdeck/pipeline/gotest"
)

// Runner runs a suite's tests. The stage passes env, the KEY=VALUE
// variables that point the tests at the environment (see the package
// documentation), to be added to the tests' environment.
//
// A Runner reports failing tests in the [Outcome], not as an error: the
// error is for a suite that could not run at all (the program is not
// installed, bad flags) and for ctx ending.
type Runner interface {
	RunTests(ctx context.Context, env []string) (Outcome, error)
}

// RunnerFunc adapts a function to [Runner].
type RunnerFunc func(ctx context.Context, env []string) (Outcome, error)

var _ Runner = RunnerFunc(nil)

// RunTests calls f.
func (f RunnerFunc) RunTests(ctx context.Context, env []string) (Outcome, error) { return f(ctx, env) }

// Outcome is what a [Runner] found.
type Outcome struct {
	// Tests are the tests that ran, in the order they started.
	Tests []Test
	// Detail is the output tail of the first failure, for the error
	// message.
	Detail string
}

// maxTestOutput caps the output a report keeps per failing test.
const maxTestOutput = 4 << 10

// detailLines is how many output lines a failure keeps.
const detailLines = 15

// Command returns a [Runner] that runs a program (a smoke-test script, a
// test binary, `npm test`, …) as spec says, with the environment's
// variables added to spec.Env. Its outcome is one test named after the
// program that passes when the program exits 0 and fails otherwise, with
// the tail of its output. A program that cannot start is an error.
func Command(spec command.Spec) Runner {
	return RunnerFunc(func(ctx context.Context, env []string) (Outcome, error) {
		sp := spec
		sp.Env = append(slices.Clone(spec.Env), env...)
		if sp.TailLines == 0 {
			sp.TailLines = detailLines
		}
		res, err := command.Run(ctx, sp)
		t := Test{Name: filepath.Base(spec.Program), Status: StatusPass, Seconds: res.Duration.Seconds()}
		var xe *command.ExitError
		switch {
		case ctx.Err() != nil:
			return Outcome{}, fmt.Errorf("run %s: %w", spec.Program, ctx.Err())
		case errors.As(err, &xe):
			t.Status, t.Output = StatusFail, capOutput(xe.Tail)
			return Outcome{Tests: []Test{t}, Detail: t.Output}, nil
		case err != nil:
			return Outcome{}, err
		}
		return Outcome{Tests: []Test{t}}, nil
	})
}

// GoTest returns a [Runner] that runs `go test -json` as spec says (set
// spec.Tags to the build tag that selects the tests against a deployed
// environment, for example "smoke" or "e2e"), with the environment's
// variables added to spec.Env, and reports every test, subtest and
// failing package of gotest's report. A package that fails without a
// failing test (it did not build, or its test binary crashed) is a
// failing test named after the package.
func GoTest(spec gotest.Spec) Runner {
	return RunnerFunc(func(ctx context.Context, env []string) (Outcome, error) {
		sp := spec
		sp.Env = append(slices.Clone(spec.Env), env...)
		rep, err := gotest.Run(ctx, sp)
		if err != nil && !errors.Is(err, gotest.ErrTestsFailed) {
			return Outcome{}, err
		}
		var out Outcome
		var fe *gotest.FailError
		if errors.As(err, &fe) {
			out.Detail = fe.Detail
		}
		for _, p := range rep.Packages {
			failed := 0
			for _, tr := range p.Tests {
				t := Test{Package: p.Package, Name: tr.Name, Status: status(tr.Status, p.Status), Seconds: tr.Elapsed.Seconds()}
				if t.Status == StatusFail {
					failed++
					t.Output = capOutput(tailLines(tr.Output))
				}
				out.Tests = append(out.Tests, t)
			}
			if p.Status == gotest.Fail && failed == 0 {
				out.Tests = append(out.Tests, Test{Package: p.Package, Status: StatusFail, Seconds: p.Elapsed.Seconds(),
					Output: capOutput(tailLines(p.Output))})
			}
		}
		return out, nil
	})
}

// status maps a gotest status; a test without an outcome in a failed
// package died with it.
func status(s, pkg gotest.Status) string {
	switch s {
	case gotest.Pass:
		return StatusPass
	case gotest.Skip:
		return StatusSkip
	case gotest.Running:
		if pkg != gotest.Fail {
			return StatusSkip
		}
	}
	return StatusFail
}

func tailLines(s string) string { return command.Tail([]byte(s), detailLines) }

func capOutput(s string) string {
	if len(s) > maxTestOutput {
		return "…" + s[len(s)-maxTestOutput:]
	}
	return s
}
