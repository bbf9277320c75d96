package pipeline

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Progress returns an [Observer] that writes one line per event to w, for
// CLI and CI output:
//
//	start  build
//	retry  test: attempt 1 failed, next in 2s: exit code 1
//	ok     build (1.2s)
//	FAIL   test after 3 attempts (14s): exit code 1: …
//	skip   deploy: needs "image.ref" from step "push", which failed
//
// Durations are rounded to 100 ms. Writes are serialised, so lines of
// parallel steps do not interleave; write errors are ignored.
func Progress(w io.Writer) Observer {
	return &progress{w: w}
}

type progress struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *progress) OnEvent(e Event) {
	var line string
	name := e.Step
	if e.Finally {
		name += " (finally)"
	}
	switch e.Type {
	case StepStarted:
		line = fmt.Sprintf("start  %s", name)
	case AttemptFailed:
		line = fmt.Sprintf("retry  %s: attempt %d failed, next in %s: %v", name, e.Attempt, e.Backoff, e.Err)
	case StepSkipped:
		line = fmt.Sprintf("skip   %s: %s", name, e.Reason)
	case StepFinished:
		d := e.Duration.Round(100 * time.Millisecond)
		// The line already names the step and its attempts: print the
		// cause, not the StepError that repeats them.
		var se *StepError
		if errors.As(e.Err, &se) && se.Err != nil {
			e.Err = se.Err
		}
		switch e.Status {
		case Succeeded:
			line = fmt.Sprintf("ok     %s (%s)", name, d)
		case Canceled:
			line = fmt.Sprintf("CANCEL %s (%s): %v", name, d, e.Err)
		default:
			s := "s"
			if e.Attempt == 1 {
				s = ""
			}
			line = fmt.Sprintf("FAIL   %s after %d attempt%s (%s): %v", name, e.Attempt, s, d, e.Err)
		}
	default:
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = io.WriteString(p.w, line+"\n")
}
