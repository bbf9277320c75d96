package gotest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/command"
)

// ErrTestsFailed is wrapped by the [*FailError] that [Run] and the stage
// return when tests or packages failed.
var ErrTestsFailed = errors.New("gotest: tests failed")

// Spec selects and configures a `go test` run. The zero value runs
// `go test -json ./...` in the current directory.
type Spec struct {
	// Dir is the module directory; empty means the current one.
	Dir string
	// Packages are the package patterns; empty means "./...".
	Packages []string
	// Tags are build tags, for example {"integration"}.
	Tags []string
	// Run and Skip are -run and -skip regular expressions; empty means
	// not set.
	Run, Skip string
	// Short sets -short; Race sets -race.
	Short, Race bool
	// Cover sets -cover, so that the report carries coverage.
	Cover bool
	// Count sets -count; zero means -count=1 (no cached results, so the
	// tests really run).
	Count int
	// Timeout sets go test's -timeout; zero means go's default.
	Timeout time.Duration
	// Env holds extra KEY=VALUE entries for the go command.
	Env []string
	// Go is the go command; empty means "go" from PATH.
	Go string
	// Args are extra flags placed before the packages.
	Args []string
	// Output, when set, receives the raw JSON stream as it is written.
	Output io.Writer
}

// args returns the go command's arguments.
func (s Spec) args() []string {
	args := []string{"test", "-json"}
	if len(s.Tags) > 0 {
		args = append(args, "-tags="+strings.Join(s.Tags, ","))
	}
	if s.Run != "" {
		args = append(args, "-run="+s.Run)
	}
	if s.Skip != "" {
		args = append(args, "-skip="+s.Skip)
	}
	if s.Short {
		args = append(args, "-short")
	}
	if s.Race {
		args = append(args, "-race")
	}
	if s.Cover {
		args = append(args, "-cover")
	}
	count := s.Count
	if count <= 0 {
		count = 1
	}
	args = append(args, "-count="+strconv.Itoa(count))
	if s.Timeout > 0 {
		args = append(args, "-timeout="+s.Timeout.String())
	}
	args = append(args, s.Args...)
	if len(s.Packages) == 0 {
		return append(args, "./...")
	}
	return append(args, s.Packages...)
}

// FailError reports failed tests or packages.
type FailError struct {
	// Failures lists the failing tests as "import/path TestName", and
	// failing packages without a failing test as "import/path".
	Failures []string
	// Detail is the last lines of output of the first failure.
	Detail string
}

// Error returns "gotest: N failed: a TestX, b TestY" followed by the
// first failure's output tail.
func (e *FailError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gotest: %d failed: %s", len(e.Failures), strings.Join(e.Failures, ", "))
	if e.Detail != "" {
		b.WriteString("\n")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns [ErrTestsFailed].
func (e *FailError) Unwrap() error { return ErrTestsFailed }

// detailLines is how many output lines a FailError keeps.
const detailLines = 15

// Run runs `go test -json` as spec says and returns the parsed report.
// The error is a [*FailError] (wrapping [ErrTestsFailed]) naming the
// failing tests when tests or packages failed; an error naming the go
// command when it could not run or failed without a parsable report (for
// example a bad flag); and wraps ctx's error when ctx ended. The report is
// returned whenever one was parsed, also with an error.
func Run(ctx context.Context, spec Spec) (*Report, error) {
	p := newParser()
	var out io.Writer = p
	if spec.Output != nil {
		out = io.MultiWriter(p, spec.Output)
	}
	goCmd := spec.Go
	if goCmd == "" {
		goCmd = "go"
	}
	_, runErr := command.Run(ctx, command.Spec{
		Program:   goCmd,
		Args:      spec.args(),
		Env:       spec.Env,
		Dir:       spec.Dir,
		Stdout:    out,
		MaxOutput: 64 << 10,
		TailLines: detailLines,
	})
	rep := p.finish()
	if ctx.Err() != nil {
		return rep, fmt.Errorf("gotest: in %s: %w", dirName(spec.Dir), ctx.Err())
	}
	if failures := rep.Failures(); len(failures) > 0 {
		return rep, &FailError{Failures: failures, Detail: rep.detail()}
	}
	if runErr != nil {
		return rep, fmt.Errorf("gotest: in %s: %w", dirName(spec.Dir), runErr)
	}
	return rep, nil
}

func dirName(d string) string {
	if d == "" {
		return "."
	}
	return d
}

// detail returns the output tail of the first failure.
func (r *Report) detail() string {
	for _, p := range r.Packages {
		for i, t := range p.Tests {
			if t.Status == Fail && !hasFailingSubtest(p.Tests[i+1:], t.Name) {
				return command.Tail([]byte(t.Output), detailLines)
			}
		}
		if p.Status == Fail {
			return command.Tail([]byte(p.Output), detailLines)
		}
	}
	return ""
}

// hasFailingSubtest reports whether a failing test in tests is a subtest
// of name; subtests start after their parent.
func hasFailingSubtest(tests []TestResult, name string) bool {
	for _, t := range tests {
		if t.Status == Fail && strings.HasPrefix(t.Name, name+"/") {
			return true
		}
	}
	return false
}

// Stage is a [pipeline.Stage] that runs Go tests. Make one with [New].
type Stage struct {
	name   string
	spec   Spec
	report pipeline.Key[*Report]
}

var _ pipeline.Stage = (*Stage)(nil)

// New returns a stage named name that runs spec.
func New(name string, spec Spec) *Stage { return &Stage{name: name, spec: spec} }

// WithReport makes the stage put its [*Report] under k, also when tests
// fail, and returns s. List k in the step's Provides so that consumers
// depend on it.
func (s *Stage) WithReport(k pipeline.Key[*Report]) *Stage {
	s.report = k
	return s
}

// Name returns the stage's name.
func (s *Stage) Name() string { return s.name }

// Run runs the tests; see [Run] for the errors.
func (s *Stage) Run(ctx context.Context, st *pipeline.State) error {
	rep, err := Run(ctx, s.spec)
	if s.report.Name() != "" && st != nil && rep != nil {
		s.report.Put(st, rep)
	}
	if err != nil {
		return fmt.Errorf("stage %s: %w", s.name, err)
	}
	return nil
}
