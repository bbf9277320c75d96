package strategy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Command is an order to a run, given by any process through Git
// ([Control]) and carried out by whichever runner drives the run.
type Command string

// The commands, as `kubectl argo rollouts` names them.
const (
	// CommandPromote passes one pause: the one the run is at (a timed
	// pause early, a pause until promoted, or the pause an Inconclusive
	// analysis caused), or else the next one it reaches.
	CommandPromote Command = "promote"
	// CommandPromoteFull jumps to the finish, skipping every remaining
	// pause and analysis.
	CommandPromoteFull Command = "promote-full"
	// CommandAbort aborts the run: all traffic back to stable.
	CommandAbort Command = "abort"
	// CommandRetry restarts an aborted run at step 0.
	CommandRetry Command = "retry"
)

// ErrCommand is wrapped by [Control] for a command the run is in no state
// to take: promoting a run that is over, retrying one that is not
// aborted, an unknown command.
var ErrCommand = errors.New("command does not apply")

// ControlRequest is the input of [Control]. The zero value of every
// field but App, Environment and Command is the default.
type ControlRequest struct {
	// App and Environment name the run.
	App, Environment string
	// Command is what to do.
	Command Command
	// Reason is recorded in the commit (Flightdeck-Reason) and, for an
	// abort, as its reason.
	Reason string
	// Clock stamps the record; nil is the system clock.
	Clock clock.Clock
	// Committers are further trusted committer identities, as in
	// [ReadStatus].
	Committers []string
}

// controlAttempts bounds how often Control re-reads a record that moved
// between its read and its commit.
const controlAttempts = 5

// Control gives a command to the run of an app in an environment: it
// reads the run's record from Git ([ReadStatus]), records the command in
// it, and commits ([ActionControl], with Flightdeck-Rollout-Command),
// compare-and-swap on the record, so it works from any process while
// another one drives the run; the runner acts on it at once if it is
// waiting (a pause, an analysis, a delay), else at its next commit. A
// Promote or PromoteFull given to a run that is not driven by anyone
// takes effect when a runner picks the run up; Retry needs a runner to
// drive the run again ([Runner.Run]).
//
// The runner reads commands only from commits it trusts (see
// [ReadStatus] and gitops.HistoryQuery.Committers): rw must commit as
// the runner's committer, or as one the runner is given with
// [WithCommitters]; a command from an untrusted committer leaves a
// record the runner refuses ([ErrTampered]).
//
// It returns the record as committed. Errors wrap [ErrNoRollout],
// [ErrCommand], [ErrTampered], or what the repository returns.
func Control(ctx context.Context, rw gitops.ReadWriter, req ControlRequest) (Status, error) {
	where := fmt.Sprintf("%s of %s in %s", req.Command, req.App, req.Environment)
	clk := clock.Or(req.Clock)
	for attempt := 1; ; attempt++ {
		cur, err := ReadStatus(ctx, rw, req.App, req.Environment, req.Committers...)
		if err != nil {
			return Status{}, fmt.Errorf("%s: %w", where, err)
		}
		next, err := command(cur, req)
		if err != nil {
			return cur, fmt.Errorf("%s: %w", where, err)
		}
		next.Seq, next.Updated, next.raw = cur.Seq+1, clk.Now().UTC(), nil
		tr := next.trailers(ActionControl)
		tr.Extra.Set(TrailerCommand, string(req.Command))
		if req.Reason != "" {
			tr.Extra.Set(gitops.TrailerReason, req.Reason)
		}
		res, err := rw.Apply(ctx, gitops.Change{
			Message:  fmt.Sprintf("rollout %s: %s %s", req.Command, req.App, req.Environment),
			Trailers: tr,
			Edits:    []gitops.Edit{casEdit(next, cur)},
		})
		switch {
		case errors.Is(err, ErrRecordMoved) && attempt < controlAttempts:
			continue
		case err != nil:
			return cur, fmt.Errorf("%s: %w", where, err)
		}
		next.Commit = res.Commit.String()
		return next, nil
	}
}

// command applies a command to a record.
func command(s Status, req ControlRequest) (Status, error) {
	live := s.Phase == PhaseProgressing || s.Phase == PhasePaused
	switch req.Command {
	case CommandPromote, CommandPromoteFull, CommandAbort:
		if !live {
			return s, fmt.Errorf("%w: the run is %s", ErrCommand, s.Phase)
		}
	case CommandRetry:
		if s.Phase != PhaseAborted {
			return s, fmt.Errorf("%w: the run is %s, not Aborted", ErrCommand, s.Phase)
		}
	default:
		return s, fmt.Errorf("%w: unknown command %q", ErrCommand, req.Command)
	}
	switch req.Command {
	case CommandPromote:
		s.Promotions++
	case CommandPromoteFull:
		s.PromoteFull = true
	case CommandAbort:
		s.AbortRequested = "by hand"
		if req.Reason != "" {
			s.AbortRequested += ": " + req.Reason
		}
	case CommandRetry:
		s.Phase, s.Step, s.Stage, s.Message = PhaseProgressing, 0, 0, "retried"
		s.Abort, s.Pause, s.Due = nil, nil, time.Time{}
		s.PromoteFull, s.AbortRequested = false, ""
		s.Promoted = s.Promotions
	}
	return s, nil
}
