// Package pipelinetest provides fakes for testing code built on package
// pipeline: a configurable [Stage] that succeeds, fails a number of
// times, fails always or blocks until its context ends, recording every
// attempt; a [Gate] that holds stages running so a test can see how many
// run at once; and a [Recorder] observer that keeps every event. All of
// them are safe for concurrent use.
package pipelinetest
