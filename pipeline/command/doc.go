// Package command is the pipeline stage that runs a program: a compiler, a
// linter, any test suite. [New] wraps a [Spec] (program, arguments,
// environment, directory) as a [pipeline.Stage]; [Run] runs one directly.
//
// Output is captured: the last [DefaultMaxOutput] bytes of stdout and of
// stderr are kept in the [Result], and can also be streamed to writers.
// The process environment is inherited, with Spec.Env added on top,
// unless Spec.CleanEnv is set. A non-zero exit is an [*ExitError] that
// carries the exit code and the tail of the output, so the pipeline's
// error says why the program failed. Arguments and environment values
// never appear in errors or logs (they may hold credentials); the program
// and the step name do.
//
// When the context ends the program's whole process group is killed, so
// children such as the test binaries `go test` starts do not outlive the
// run, and the error wraps the context's error.
package command
