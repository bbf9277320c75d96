package gotest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Status is the outcome of a test or package.
type Status string

// Outcomes, as `go test -json` names them.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
	// Running means the stream ended before the test reported an outcome
	// (the binary crashed or timed out).
	Running Status = "running"
)

// maxTestOutput caps the output kept per test and per package.
const maxTestOutput = 64 << 10

// TestResult is the outcome of one test, subtest or example.
type TestResult struct {
	// Name is the test's name, "TestX" or "TestX/sub".
	Name string
	// Status is the outcome.
	Status Status
	// Elapsed is the test's own running time.
	Elapsed time.Duration
	// Output is what the test printed (the last 64 KiB).
	Output string
}

// PackageResult is the outcome of one package.
type PackageResult struct {
	// Package is the import path.
	Package string
	// Status is the package's outcome; Skip means it has no tests.
	Status Status
	// Elapsed is the package's running time.
	Elapsed time.Duration
	// Coverage is the statement coverage in percent, when HasCoverage.
	Coverage    float64
	HasCoverage bool
	// BuildFailed reports that the package or its test did not compile;
	// Output then holds the compiler's messages.
	BuildFailed bool
	// Tests holds the package's tests in the order they started.
	Tests []TestResult
	// Output is the package-level output (the last 64 KiB).
	Output string
}

// Test returns the result of the named test.
func (p *PackageResult) Test(name string) (TestResult, bool) {
	for _, t := range p.Tests {
		if t.Name == name {
			return t, true
		}
	}
	return TestResult{}, false
}

// Report is the parsed result of a `go test -json` run.
type Report struct {
	// Packages holds the packages in the order they appeared.
	Packages []PackageResult
}

// Package returns the result of the package with import path path.
func (r *Report) Package(path string) (*PackageResult, bool) {
	for i := range r.Packages {
		if r.Packages[i].Package == path {
			return &r.Packages[i], true
		}
	}
	return nil, false
}

// Count returns the number of tests (subtests included) with status st.
func (r *Report) Count(st Status) int {
	n := 0
	for _, p := range r.Packages {
		for _, t := range p.Tests {
			if t.Status == st {
				n++
			}
		}
	}
	return n
}

// Failures returns the failing tests as "import/path TestName", and
// packages that failed without a failing test (a build failure, a crash
// or a TestMain exit) as "import/path", in report order.
func (r *Report) Failures() []string {
	var out []string
	for _, p := range r.Packages {
		n := 0
		for _, t := range p.Tests {
			if t.Status == Fail || t.Status == Running && p.Status == Fail {
				out = append(out, p.Package+" "+t.Name)
				n++
			}
		}
		if p.Status == Fail && n == 0 {
			out = append(out, p.Package)
		}
	}
	return out
}

// event is one line of `go test -json` (a TestEvent or a BuildEvent).
type event struct {
	Action      string
	Package     string
	ImportPath  string
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
}

var coverageRE = regexp.MustCompile(`coverage: ([0-9.]+)% of statements`)

// parser builds a Report from events; it is an io.Writer of the JSON
// stream. Lines that are not JSON are kept as Garbage.
type parser struct {
	mu      sync.Mutex
	partial []byte
	report  Report
	pkgs    map[string]int    // package -> index in report.Packages
	tests   map[[2]string]int // package, test -> index in Tests
	builds  map[string]string // import path -> build output
	garbage strings.Builder
}

func newParser() *parser {
	return &parser{pkgs: map[string]int{}, tests: map[[2]string]int{}, builds: map[string]string{}}
}

func (p *parser) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		p.line(p.partial[:i])
		p.partial = p.partial[i+1:]
	}
	return len(b), nil
}

func (p *parser) line(l []byte) {
	l = bytes.TrimSpace(l)
	if len(l) == 0 {
		return
	}
	var ev event
	if l[0] != '{' || json.Unmarshal(l, &ev) != nil {
		if p.garbage.Len() < maxTestOutput {
			p.garbage.Write(l)
			p.garbage.WriteByte('\n')
		}
		return
	}
	p.event(ev)
}

func (p *parser) pkg(name string) *PackageResult {
	i, ok := p.pkgs[name]
	if !ok {
		i = len(p.report.Packages)
		p.pkgs[name] = i
		p.report.Packages = append(p.report.Packages, PackageResult{Package: name, Status: Running})
	}
	return &p.report.Packages[i]
}

func appendCapped(s, add string) string {
	s += add
	if len(s) > maxTestOutput {
		s = s[len(s)-maxTestOutput:]
	}
	return s
}

func (p *parser) event(ev event) {
	switch ev.Action {
	case "build-output":
		p.builds[ev.ImportPath] = appendCapped(p.builds[ev.ImportPath], ev.Output)
		return
	case "build-fail":
		return
	}
	if ev.Package == "" {
		return
	}
	pk := p.pkg(ev.Package)
	if ev.Test == "" {
		switch ev.Action {
		case "output":
			pk.Output = appendCapped(pk.Output, ev.Output)
			if m := coverageRE.FindStringSubmatch(ev.Output); m != nil {
				if f, err := strconv.ParseFloat(m[1], 64); err == nil {
					pk.Coverage, pk.HasCoverage = f, true
				}
			}
		case "pass", "fail", "skip":
			pk.Status = Status(ev.Action)
			pk.Elapsed = seconds(ev.Elapsed)
			if ev.FailedBuild != "" {
				pk.BuildFailed = true
				if out := p.builds[ev.FailedBuild]; out != "" {
					pk.Output = appendCapped(pk.Output, out)
				}
			}
		}
		return
	}
	key := [2]string{ev.Package, ev.Test}
	i, ok := p.tests[key]
	if !ok {
		i = len(pk.Tests)
		p.tests[key] = i
		pk.Tests = append(pk.Tests, TestResult{Name: ev.Test, Status: Running})
	}
	t := &pk.Tests[i]
	switch ev.Action {
	case "output":
		t.Output = appendCapped(t.Output, ev.Output)
	case "pass", "fail", "skip":
		t.Status = Status(ev.Action)
		t.Elapsed = seconds(ev.Elapsed)
	}
}

// finish flushes a trailing line and returns the report.
func (p *parser) finish() *Report {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.partial) > 0 {
		p.line(p.partial)
		p.partial = nil
	}
	r := p.report
	return &r
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// Parse reads a `go test -json` stream from r and returns its report.
// Lines that are not JSON events are ignored. It returns r's read error,
// if any, with the report parsed so far.
func Parse(r io.Reader) (*Report, error) {
	p := newParser()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		p.line(sc.Bytes())
	}
	return p.finish(), sc.Err()
}
