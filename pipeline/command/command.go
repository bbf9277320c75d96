package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/pipeline"
)

// Defaults of [Spec].
const (
	// DefaultMaxOutput is how many bytes of stdout and of stderr a
	// [Result] keeps (the last ones) when Spec.MaxOutput is zero.
	DefaultMaxOutput = 1 << 20
	// DefaultTailLines is how many lines of output an [*ExitError]
	// carries when Spec.TailLines is zero.
	DefaultTailLines = 20
	// DefaultWaitDelay is how long [Run] waits for output pipes to close
	// after the process was killed, when Spec.WaitDelay is zero.
	DefaultWaitDelay = 5 * time.Second
)

// ErrNoProgram is returned by [Run] (and the stage) when Spec.Program is
// empty.
var ErrNoProgram = errors.New("command: no program")

// Spec describes one program run. The zero value of every field but
// Program is the default.
type Spec struct {
	// Program is the program to run: a path, or a name looked up in PATH.
	// Required.
	Program string
	// Args are the arguments after the program name. They never appear
	// in errors or logs.
	Args []string
	// Env holds extra KEY=VALUE entries, added after (and so overriding)
	// the inherited environment.
	Env []string
	// CleanEnv starts from an empty environment instead of this
	// process's.
	CleanEnv bool
	// Dir is the working directory; empty means the current one.
	Dir string
	// Stdin is the program's standard input; nil means none. It is read,
	// not rewound: a retried step's later attempts get what is left.
	Stdin io.Reader
	// Stdout and Stderr, when set, also receive the program's output as
	// it is written (for progress output).
	Stdout, Stderr io.Writer
	// MaxOutput caps the bytes of stdout and of stderr kept in the
	// Result (the last ones). Zero means [DefaultMaxOutput].
	MaxOutput int
	// TailLines is how many lines of output an [*ExitError] keeps. Zero
	// means [DefaultTailLines].
	TailLines int
	// WaitDelay bounds the wait for output pipes after the process was
	// killed or exited while children held them. Zero means
	// [DefaultWaitDelay].
	WaitDelay time.Duration
	// Clock measures Result.Duration. Nil means the system clock.
	Clock clock.Clock
}

// Result is what a program run produced.
type Result struct {
	// ExitCode is the exit code, or -1 when the program did not exit
	// normally (killed by a signal, or never started).
	ExitCode int
	// Stdout and Stderr are the captured output, truncated at the front
	// to Spec.MaxOutput bytes each.
	Stdout, Stderr []byte
	// Duration is how long the program ran.
	Duration time.Duration
}

// ExitError is returned when a program ran but did not succeed: a
// non-zero exit, a signal, or a context that ended.
type ExitError struct {
	// Program is Spec.Program.
	Program string
	// ExitCode is the exit code, or -1 when killed.
	ExitCode int
	// Tail is the last lines of stderr, or of stdout when stderr is empty.
	Tail string
	// Err is the underlying error: an *exec.ExitError, or the context's
	// error when the context ended.
	Err error
}

// Error returns "command PROGRAM: exit code N: TAIL".
func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "command %s: ", e.Program)
	if e.ExitCode >= 0 {
		fmt.Fprintf(&b, "exit code %d", e.ExitCode)
	} else {
		fmt.Fprintf(&b, "%v", e.Err)
	}
	if e.Tail != "" {
		b.WriteString(":\n")
		b.WriteString(e.Tail)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *ExitError) Unwrap() error { return e.Err }

// Run runs the program described by spec and waits for it. It returns the
// result and, when the program could not start, an error naming the
// program (wrapping [ErrNoProgram] or exec's error); when it did not
// succeed, an [*ExitError]. When ctx ends the program's process group is
// killed and the error wraps ctx's error.
func Run(ctx context.Context, spec Spec) (Result, error) {
	res := Result{ExitCode: -1}
	if spec.Program == "" {
		return res, ErrNoProgram
	}
	maxOut := spec.MaxOutput
	if maxOut <= 0 {
		maxOut = DefaultMaxOutput
	}
	cmd := exec.CommandContext(ctx, spec.Program, spec.Args...)
	cmd.Dir = spec.Dir
	if spec.CleanEnv {
		cmd.Env = append([]string{}, spec.Env...)
	} else {
		cmd.Env = append(os.Environ(), spec.Env...)
	}
	cmd.Stdin = spec.Stdin
	stdout := &tailBuffer{max: maxOut}
	stderr := &tailBuffer{max: maxOut}
	cmd.Stdout = tee(stdout, spec.Stdout)
	cmd.Stderr = tee(stderr, spec.Stderr)
	setProcessGroup(cmd)
	cmd.WaitDelay = spec.WaitDelay
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = DefaultWaitDelay
	}
	clk := clock.Or(spec.Clock)
	start := clk.Now()
	err := cmd.Run()
	res.Duration = clk.Now().Sub(start)
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	if err == nil {
		return res, nil
	}
	if cmd.ProcessState == nil { // never started
		if ctx.Err() != nil {
			return res, fmt.Errorf("command %s: %w", spec.Program, ctx.Err())
		}
		return res, fmt.Errorf("command %s: %w", spec.Program, err)
	}
	xe := &ExitError{Program: spec.Program, ExitCode: res.ExitCode, Err: err}
	if ctx.Err() != nil {
		xe.Err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	tailN := spec.TailLines
	if tailN <= 0 {
		tailN = DefaultTailLines
	}
	out := res.Stderr
	if len(bytes.TrimSpace(out)) == 0 {
		out = res.Stdout
	}
	xe.Tail = Tail(out, tailN)
	return res, xe
}

// Tail returns the last n lines of out, without a trailing newline.
func Tail(out []byte, n int) string {
	s := strings.TrimRight(string(out), " \t\r\n")
	if s == "" || n <= 0 {
		return ""
	}
	idx := len(s)
	for range n {
		i := strings.LastIndexByte(s[:idx], '\n')
		if i < 0 {
			return s
		}
		idx = i
	}
	return s[idx+1:]
}

// Stage is a [pipeline.Stage] that runs a program. Make one with [New].
type Stage struct {
	name   string
	spec   Spec
	result pipeline.Key[Result]
}

var _ pipeline.Stage = (*Stage)(nil)

// New returns a stage named name that runs spec. With a non-empty result
// key (see [Stage.WithResult]) the [Result] is put into the run's state.
func New(name string, spec Spec) *Stage { return &Stage{name: name, spec: spec} }

// WithResult makes the stage put its [Result] under key k, on success and
// on failure, and returns s. List k in the step's Provides so that
// consumers depend on it.
func (s *Stage) WithResult(k pipeline.Key[Result]) *Stage {
	s.result = k
	return s
}

// Name returns the stage's name.
func (s *Stage) Name() string { return s.name }

// Run runs the program. Errors name the stage and wrap [Run]'s error.
func (s *Stage) Run(ctx context.Context, st *pipeline.State) error {
	res, err := Run(ctx, s.spec)
	if s.result.Name() != "" && st != nil {
		s.result.Put(st, res)
	}
	if err != nil {
		return fmt.Errorf("stage %s: %w", s.name, err)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if len(p) >= b.max {
		b.buf = append(b.buf[:0], p[len(p)-b.max:]...)
		return n, nil
	}
	if over := len(b.buf) + len(p) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

func (b *tailBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}

func tee(buf io.Writer, w io.Writer) io.Writer {
	if w == nil {
		return buf
	}
	return io.MultiWriter(buf, w)
}
