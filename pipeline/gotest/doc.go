// Package gotest is the pipeline stage that runs Go tests: it runs
// `go test -json`, parses the event stream into a [Report] (per package
// and per test: pass, fail or skip, elapsed time, output; coverage per
// package when asked), and fails with a [*FailError] naming every failing
// test.
//
// Unit and integration suites are selected the way Go projects already
// select them: build tags (Spec.Tags, for example "integration") and
// -run/-skip patterns (Spec.Run, Spec.Skip). [Parse] reads a saved
// `go test -json` stream, so reports from other runs can be fed to the
// same code.
//
// Build failures are reported too: the package is marked failed with
// BuildFailed set and the compiler output kept, and the error names the
// package.
package gotest
