package postdeploy

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
)

// Statuses of a [Test].
const (
	StatusPass = "pass"
	StatusFail = "fail"
	StatusSkip = "skip"
)

// Results of a suite, as the Flightdeck-Tests trailer records them.
const (
	Passed = "passed"
	Failed = "failed"
)

// Test is one test of a suite's run.
type Test struct {
	// Package is the Go package, for `go test` suites.
	Package string `json:"package,omitempty"`
	// Name is the test's name ("TestCheckout/guest"), or the program's
	// for a command; empty for a Go package that failed without a
	// failing test.
	Name string `json:"name,omitempty"`
	// Status is [StatusPass], [StatusFail] or [StatusSkip].
	Status string `json:"status"`
	// Seconds is how long it ran.
	Seconds float64 `json:"seconds"`
	// Output is the tail of a failing test's output (at most 4 KiB).
	Output string `json:"output,omitempty"`
}

// String returns "package Name", or the part that is set.
func (t Test) String() string { return strings.TrimSpace(t.Package + " " + t.Name) }

// Report is the record of one suite's run against one release in one
// environment: what the stage puts in the run's state and writes to the
// GitOps repository (see [Path]) as indented JSON.
type Report struct {
	// Suite is the suite's name.
	Suite string `json:"suite"`
	// App and Environment say where the tests ran.
	App         string `json:"app"`
	Environment string `json:"environment"`
	// Release is the release tested, "image@sha256:…"; Image and Digest
	// are its parts, and Tag, SourceRepo, SourceRevision and SourceTime
	// what the deploy recorded of it (empty when unknown).
	Release        string    `json:"release"`
	Image          string    `json:"image"`
	Digest         string    `json:"digest"`
	Tag            string    `json:"tag,omitempty"`
	SourceRepo     string    `json:"source_repo,omitempty"`
	SourceRevision string    `json:"source_revision,omitempty"`
	SourceTime     time.Time `json:"source_time,omitzero"`
	// Deploy is the deploy commit the environment was waited for, when
	// known.
	Deploy string `json:"deploy,omitempty"`
	// Result is [Passed] or [Failed].
	Result string `json:"result"`
	// Started and Finished bound the run on the stage's clock (the wait
	// for the environment not included); Seconds is the difference.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Seconds  float64   `json:"seconds"`
	// Passed, Failed and Skipped count the tests.
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	// Failures names the failing tests, as [Test.String].
	Failures []string `json:"failures,omitempty"`
	// Endpoints are the endpoints handed to the tests, by name, without
	// user info or query (which may hold credentials).
	Endpoints map[string]string `json:"endpoints,omitempty"`
	// Tests are every test that ran.
	Tests []Test `json:"tests"`
}

// ReleaseOf returns the release the report names.
func (r *Report) ReleaseOf() flightdeck.Release {
	return flightdeck.Release{App: r.App, Image: r.Image, Digest: r.Digest, Tag: r.Tag,
		SourceRepo: r.SourceRepo, Revision: r.SourceRevision, Time: r.SourceTime}
}

// OK reports whether the suite passed.
func (r *Report) OK() bool { return r.Result == Passed }

// Trailer returns the value of the Flightdeck-Tests trailer,
// "suite=passed" or "suite=failed".
func (r *Report) Trailer() string { return r.Suite + "=" + r.Result }

// Summary returns "suite passed: 5 passed, 0 failed, 1 skipped in 2.5s".
func (r *Report) Summary() string {
	return fmt.Sprintf("%s %s: %d passed, %d failed, %d skipped in %s", r.Suite, r.Result, r.Passed, r.Failed, r.Skipped,
		time.Duration(r.Seconds*float64(time.Second)).Round(time.Millisecond))
}

// Marshal returns the report as indented JSON with a final newline.
func (r *Report) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Dir is the directory of the GitOps repository that holds test reports.
const Dir = ".flightdeck/tests"

// Path returns where the report of suite for the release with digest
// ("sha256:<hex>") of app in env is kept in the GitOps repository:
// ".flightdeck/tests/<app>/<env>/<hex>/<suite>.json". A later run of the
// same suite replaces the file; Git keeps the earlier ones.
func Path(app, env, digest, suite string) string {
	_, hex, ok := strings.Cut(digest, ":")
	if !ok {
		hex = digest
	}
	return path.Join(Dir, app, env, hex, suite+".json")
}
