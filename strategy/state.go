package strategy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Actions of the commits a rollout makes (the Flightdeck-Action trailer).
const (
	// ActionPrepare is the commit that writes a target's manifests into
	// an overlay ([PrepareOverlay]).
	ActionPrepare = gitops.ActionRolloutPrepare
	// ActionStep is the commit of one step of a run (or of one stage of
	// it: a scale-down step commits when it is scheduled and when it
	// scales down): gitops' own step action, which holds refuse.
	ActionStep = gitops.ActionStep
	// ActionAbort is the commit that sends all traffic back to the stable
	// release, and the one that scales the new release down after
	// AbortScaleDownDelay.
	ActionAbort = gitops.ActionAbort
	// ActionControl is a command to a run: promote, promote-full, abort
	// or retry ([Control]).
	ActionControl = gitops.ActionRolloutControl
)

// Trailer keys of rollout commits, besides gitops' Flightdeck-Plan-Hash,
// Flightdeck-Step, Flightdeck-Weight and Flightdeck-Reason.
const (
	// TrailerSeq is the run record's sequence number after the commit:
	// the compare-and-swap token of the record.
	TrailerSeq = "Flightdeck-Rollout-Seq"
	// TrailerPhase is the run's phase after the commit.
	TrailerPhase = gitops.TrailerRolloutPhase
	// TrailerCommand is the command of an [ActionControl] commit.
	TrailerCommand = "Flightdeck-Rollout-Command"
)

// rolloutActions are the actions a run's history is read from.
var rolloutActions = []gitops.Action{ActionStep, ActionAbort, ActionControl}

// Errors of reading and writing a run's record.
var (
	// ErrNoRollout means Git holds no rollout of the app in the
	// environment.
	ErrNoRollout = errors.New("no rollout")
	// ErrRecordMoved is wrapped when a commit lost the record's
	// compare-and-swap: another process (a runner or a control) changed
	// the record after it was read. The commit is not made.
	ErrRecordMoved = errors.New("rollout record changed meanwhile")
	// ErrTampered means the run's record in the tree is not the one the
	// newest trusted rollout commit wrote: it was changed outside
	// flightdeck.
	ErrTampered = errors.New("rollout record changed outside flightdeck")
)

// RunPhase is the phase of a run, as Argo Rollouts names a Rollout's.
type RunPhase string

// The phases of a run.
const (
	// PhaseProgressing: the run is carrying out its steps.
	PhaseProgressing RunPhase = gitops.RolloutProgressing
	// PhasePaused: a pause step, or an Inconclusive analysis, holds the
	// run until it is promoted (or the pause's time is up).
	PhasePaused RunPhase = gitops.RolloutPaused
	// PhaseAborted: all traffic went back to the stable release; Retry
	// restarts the run at step 0.
	PhaseAborted RunPhase = gitops.RolloutAborted
	// PhaseCompleted: the new release is the stable one.
	PhaseCompleted RunPhase = gitops.RolloutCompleted
)

// StatusFile returns the path of the record of app's run in environment:
// ".flightdeck/rollouts/<app>/<environment>.json".
func StatusFile(app, environment string) string {
	return path.Join(".flightdeck", "rollouts", app, environment+".json")
}

// Status is the record of a run, kept in Git at [StatusFile] and written
// by every commit of the run: it is all a process needs to carry on a run
// another process began. Times are the runner's clock.
type Status struct {
	// App and Environment name the rollout.
	App         string `json:"app"`
	Environment string `json:"environment"`
	// Plan is the plan the run carries out, and PlanHash its hash.
	Plan     Plan   `json:"plan"`
	PlanHash string `json:"planHash"`
	// Release is the release being rolled out, and Stable the one that
	// served when the run began.
	Release Rel `json:"release"`
	Stable  Rel `json:"stable"`
	// Step is the index of the step the run is at (len(Plan.Steps) once
	// every step is done), and Stage how many commits of that step are
	// made: 0 before the step begins.
	Step  int `json:"step"`
	Stage int `json:"stage"`
	// StepStarted is when the step began.
	StepStarted time.Time `json:"stepStarted,omitzero"`
	// Phase is the run's phase, and Message says why.
	Phase   RunPhase `json:"phase"`
	Message string   `json:"message,omitempty"`
	// Pause, while Paused, says why and until when.
	Pause *PauseState `json:"pause,omitempty"`
	// Due is when a scale-down step (or an abort's scale-down) acts.
	Due time.Time `json:"due,omitzero"`
	// Desired is what the last commit of the run wrote into the overlay.
	Desired Desired `json:"desired"`
	// Abort, once aborted, says why and what is left to do.
	Abort *AbortState `json:"abort,omitempty"`
	// Promotions counts the Promote commands given, and Promoted those
	// the run has used: while Promotions > Promoted, a Promote is pending
	// and passes the pause the run is at, or the next one it reaches.
	Promotions int `json:"promotions,omitempty"`
	Promoted   int `json:"promoted,omitempty"`
	// PromoteFull is a pending full promotion, and FullyPromoted says
	// the run jumped to its finish, whose pauses and analyses it skips.
	PromoteFull   bool `json:"promoteFull,omitempty"`
	FullyPromoted bool `json:"fullyPromoted,omitempty"`
	// AbortRequested is a pending Abort by hand, with its reason.
	AbortRequested string `json:"abortRequested,omitempty"`
	// Seq counts the commits that wrote the record; a commit is made only
	// if the record still has the Seq it was read with.
	Seq int64 `json:"seq"`
	// Owner is the runner that made the run's last step commit.
	Owner string `json:"owner,omitempty"`
	// Updated is when the record was last written.
	Updated time.Time `json:"updated,omitzero"`
	// Commit is the commit the record was read from or written by (not
	// stored).
	Commit string `json:"-"`

	// needsSync says the overlay at Commit may not be synced yet.
	needsSync bool
	// raw is the record's bytes in Git (nil: none).
	raw []byte
	// git is where the record in Git stands, which commands leave alone.
	git position
}

// position is what only a runner's step changes in a record.
type position struct {
	step, stage int
	phase       RunPhase
	owner       string
}

func (s Status) position() position { return position{s.Step, s.Stage, s.Phase, s.Owner} }

// PauseState is why a run is paused.
type PauseState struct {
	// Reason is "pause step", or the analysis that was Inconclusive.
	Reason string `json:"reason"`
	// Since is when the pause began; Until, when set, when it ends by
	// itself.
	Since time.Time `json:"since"`
	Until time.Time `json:"until,omitzero"`
	// Background says a background analysis paused the run, at whatever
	// step it was.
	Background bool `json:"background,omitempty"`
}

// AbortState is what an abort did and has left to do.
type AbortState struct {
	// Reason says why: the analysis that failed, a step that never became
	// healthy, or "by hand: ..." .
	Reason string `json:"reason"`
	// At is when traffic went back to stable.
	At time.Time `json:"at"`
	// ScaledDown says the new release's pods are gone (or kept for good:
	// abortScaleDownDelaySeconds 0).
	ScaledDown bool `json:"scaledDown"`
}

// Rel is a release as the record stores it: the fields of
// flightdeck.Release under JSON names.
type Rel struct {
	// App, Image and Digest are the release's app and image pinned by
	// digest.
	App    string `json:"app,omitempty"`
	Image  string `json:"image"`
	Digest string `json:"digest"`
	// Tag, SourceRepo, Revision and Time say what it was built from.
	Tag        string    `json:"tag,omitempty"`
	SourceRepo string    `json:"sourceRepo,omitempty"`
	Revision   string    `json:"revision,omitempty"`
	Time       time.Time `json:"time,omitzero"`
}

// RelOf converts a release for the record.
func RelOf(r flightdeck.Release) Rel {
	return Rel{App: r.App, Image: r.Image, Digest: r.Digest, Tag: r.Tag, SourceRepo: r.SourceRepo, Revision: r.Revision, Time: r.Time}
}

// Release converts back.
func (r Rel) Release() flightdeck.Release {
	return flightdeck.Release{App: r.App, Image: r.Image, Digest: r.Digest, Tag: r.Tag, SourceRepo: r.SourceRepo, Revision: r.Revision, Time: r.Time}
}

// MarshalJSON encodes a Workload with its release as a [Rel].
func (w Workload) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Release  Rel   `json:"release"`
		Replicas int32 `json:"replicas"`
	}{RelOf(w.Release), w.Replicas})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (w *Workload) UnmarshalJSON(b []byte) error {
	var v struct {
		Release  Rel   `json:"release"`
		Replicas int32 `json:"replicas"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*w = Workload{Release: v.Release.Release(), Replicas: v.Replicas}
	return nil
}

// Done reports whether the run has ended: Completed, or Aborted with
// nothing left to scale down.
func (s Status) Done() bool {
	return s.Phase == PhaseCompleted || s.Phase == PhaseAborted && s.Abort != nil && s.Abort.ScaledDown
}

// StepLabel returns "n/m" of the step the run is at ("m/m" once done).
func (s Status) StepLabel() string {
	n := min(s.Step+1, len(s.Plan.Steps))
	return fmt.Sprintf("%d/%d", n, len(s.Plan.Steps))
}

// String describes the run in one line: "shop in prod: Progressing at
// 3/10 (setWeight 25%), weight 25%".
func (s Status) String() string {
	at := s.StepLabel()
	if s.Step < len(s.Plan.Steps) {
		at += " (" + s.Plan.Steps[s.Step].String() + ")"
	}
	out := fmt.Sprintf("%s in %s: %s at %s, weight %d%%", s.App, s.Environment, s.Phase, at, s.Desired.Weight)
	if s.Message != "" {
		out += ": " + s.Message
	}
	return out
}

func (s Status) encode() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encoding the record of %s in %s: %w", s.App, s.Environment, err)
	}
	return b.Bytes(), nil
}

func decodeStatus(file string, data []byte) (Status, error) {
	var s Status
	if err := json.Unmarshal(data, &s); err != nil {
		return Status{}, fmt.Errorf("%s: %w: %v", file, ErrTampered, err)
	}
	return s, nil
}

// trailers returns the trailers of a run's commit.
func (s Status) trailers(action gitops.Action) gitops.Trailers {
	tr := gitops.ReleaseTrailers(action, s.Environment, s.Release.Release())
	tr.App = s.App
	tr.Extra.Set(gitops.TrailerPlanHash, "sha256:"+s.PlanHash)
	tr.Extra.Set(gitops.TrailerStep, s.StepLabel())
	tr.Extra.Set(gitops.TrailerWeight, strconv.Itoa(int(s.Desired.Weight)))
	tr.Extra.Set(TrailerSeq, strconv.FormatInt(s.Seq, 10))
	tr.Extra.Set(TrailerPhase, string(s.Phase))
	return tr
}

// readTree reads the record from a tree; ok is false when there is none.
func readTree(t *gitops.Tree, app, env string) (Status, bool, error) {
	file := StatusFile(app, env)
	data, err := t.ReadFile(file)
	if errors.Is(err, gitops.ErrNotExist) {
		return Status{}, false, nil
	}
	if err != nil {
		return Status{}, false, err
	}
	s, err := decodeStatus(file, data)
	return s, err == nil, err
}

// casEdit is the record's compare-and-swap, run inside the commit: the
// record in the tree must still be, byte for byte, the one base was read
// from or written as (none, for a run that begins where there was no
// record); then next is written. A record with base's Seq but other bytes
// was edited outside flightdeck ([ErrTampered]); another Seq means another
// process committed meanwhile ([ErrRecordMoved]).
func casEdit(next Status, base Status) gitops.Edit {
	return gitops.EditFunc(func(t *gitops.Tree) error {
		file := StatusFile(next.App, next.Environment)
		data, err := t.ReadFile(file)
		switch {
		case errors.Is(err, gitops.ErrNotExist):
			data = nil
		case err != nil:
			return err
		}
		if sha256.Sum256(data) != base.digest() {
			cur, derr := decodeStatus(file, data)
			if data != nil && derr == nil && cur.Seq == base.Seq {
				return fmt.Errorf("%w: %s differs from the record of its last trusted commit", ErrTampered, file)
			}
			return fmt.Errorf("%w: record %s is at %d, not %d", ErrRecordMoved, file, cur.Seq, base.Seq)
		}
		out, err := next.encode()
		if err != nil {
			return err
		}
		return t.WriteFile(file, out)
	})
}

// digest is the SHA-256 of the record's bytes in Git, or of nothing when
// Git holds none.
func (s Status) digest() [32]byte {
	if s.raw == nil {
		return sha256.Sum256(nil)
	}
	return sha256.Sum256(s.raw)
}

// ReadStatus reads the record of app's run in environment from the
// newest rollout commit that [gitops.Historian.History] trusts (so the
// record's history, not only its file, says where the run stands), and
// checks the record in that commit against the commit's trailers.
// committers are further trusted committer identities (see
// gitops.HistoryQuery.Committers).
//
// It returns an error wrapping [ErrNoRollout] when there is none, and
// [ErrTampered] when the record does not match the trailers.
func ReadStatus(ctx context.Context, h gitops.Historian, app, environment string, committers ...string) (Status, error) {
	entries, err := h.History(ctx, gitops.HistoryQuery{App: app, Environment: environment, Actions: rolloutActions, Limit: 1, Committers: committers})
	if err != nil {
		return Status{}, fmt.Errorf("rollout of %s in %s: %w", app, environment, err)
	}
	if len(entries) == 0 {
		return Status{}, fmt.Errorf("rollout of %s in %s: %w", app, environment, ErrNoRollout)
	}
	e := entries[0]
	file := StatusFile(app, environment)
	data, err := h.ReadFile(ctx, e.Commit.String(), file)
	if err != nil {
		return Status{}, fmt.Errorf("rollout of %s in %s: commit %s: %w: %w", app, environment, e.Commit, ErrTampered, err)
	}
	s, err := decodeStatus(file, data)
	if err != nil {
		return Status{}, fmt.Errorf("rollout of %s in %s: commit %s: %w", app, environment, e.Commit, err)
	}
	seq, _ := e.Trailers.Extra.Get(TrailerSeq)
	if strconv.FormatInt(s.Seq, 10) != seq || s.App != app || s.Environment != environment {
		return Status{}, fmt.Errorf("rollout of %s in %s: commit %s: %w: its record is at %d, its trailers say %q", app, environment, e.Commit, ErrTampered, s.Seq, seq)
	}
	s.Commit, s.raw = e.Commit.String(), data
	s.git = s.position()
	return s, nil
}
