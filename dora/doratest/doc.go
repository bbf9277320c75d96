// Package doratest provides test helpers for code that reads DORA
// figures with package dora: a [Recorder] that writes the commits dora
// reads (deploys, promotions, unplanned fixes, rollbacks with the
// deploy they revert, verification markers) through any gitops.Writer,
// such as gitopstest.Fake with a fake clock, and [Generate], which
// writes a large generated history of such commits straight into a bare
// repository with `git fast-import`, for benchmarks and browser checks.
//
// Releases made with [Release] are deterministic: the same app and
// number give the same digest and source revision, so tests can name
// them.
package doratest
