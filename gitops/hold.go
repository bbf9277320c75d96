package gitops

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// This file defines the holds and quarantines every flightdeck writer
// respects. They live in the GitOps repository, one YAML file per app
// and environment:
//
//	.flightdeck/holds/<app>/<environment>.yaml       a Hold
//	.flightdeck/quarantine/<app>/<environment>.yaml  a Quarantine
//	.flightdeck/locks/<app>/<environment>.yaml       a rollout or promotion in progress
//
// Package rollback writes them; gitops only reads and enforces them, in
// every attempt of every change that moves a release (see
// [Change.ApplyEdits]).

// Paths of the state flightdeck keeps in the repository.
const (
	// StateDir is the directory of flightdeck's own state in a GitOps
	// repository. No kustomization reads it, so changing it changes no
	// rendered manifest.
	StateDir = ".flightdeck"
	// HoldsDir holds one [Hold] file per app and environment.
	HoldsDir = StateDir + "/holds"
	// QuarantineDir holds one [Quarantine] file per app and environment.
	QuarantineDir = StateDir + "/quarantine"
	// LocksDir holds one lock file per app and environment while a
	// rollout or a promotion is in progress there ([LockPath]); package
	// rollback's automatic triggers do not act while one stands.
	LocksDir = StateDir + "/locks"
)

// LockPath returns the path of the lock file of app in env,
// ".flightdeck/locks/<app>/<env>.yaml". It is for work that flightdeck's
// history does not show, such as a migration or a rollout driven by
// another tool: commit it (any YAML; "by", "at" and "reason" keys are
// shown to whoever it stops) when the work starts and remove it in the
// commit that ends it. flightdeck's own rollouts need no lock file: their
// step commits carry [TrailerRolloutPhase], which package rollback reads;
// a promotion is a single commit.
func LockPath(app, env string) string { return path.Join(LocksDir, app, env+".yaml") }

// HoldPath returns the path of the hold file of app in env,
// ".flightdeck/holds/<app>/<env>.yaml".
func HoldPath(app, env string) string { return path.Join(HoldsDir, app, env+".yaml") }

// QuarantinePath returns the path of the quarantine file of app in env,
// ".flightdeck/quarantine/<app>/<env>.yaml".
func QuarantinePath(app, env string) string { return path.Join(QuarantineDir, app, env+".yaml") }

// Errors of the hold check. Both wrap [ErrRefused], so a caller that
// tells refusals from failures needs no change.
var (
	// ErrHeld means an environment is under a hold: no release may be
	// deployed, promoted or rolled out to it until the hold is lifted or
	// the change overrides it.
	ErrHeld = fmt.Errorf("%w: environment on hold", ErrRefused)
	// ErrQuarantined means the release's digest is quarantined for the
	// environment: it failed there and may not return until someone
	// clears it, or the change overrides the quarantine.
	ErrQuarantined = fmt.Errorf("%w: digest quarantined", ErrRefused)
)

// TrailerOverride is the Extra trailer by which a change overrides a
// hold or a quarantine: its value lists [OverrideHold] and/or
// [OverrideQuarantine], separated by commas. An override counts only
// when the change also carries a [TrailerReason], so every override says
// why in the commit that made it.
const TrailerOverride = "Flightdeck-Override"

// Values of [TrailerOverride].
const (
	OverrideHold       = "hold"
	OverrideQuarantine = "quarantine"
)

// HeldActions are the actions the hold check applies to: every change
// whose trailers carry one of them and name an app and environment is
// checked against that environment's hold and quarantine. Rollbacks are
// not held (a rollback is how an environment gets back to safety, and it
// writes the hold itself), nor is any other action, such as the
// verification markers and hold changes package rollback writes.
var HeldActions = []Action{ActionDeploy, ActionPromote, ActionStep}

// Hold stops every flightdeck writer from moving a release into one
// environment of one app. It is placed (by package rollback, after a
// rollback, or by hand) by writing its file at [HoldPath] and lifted by
// removing the file; both are commits, so the hold's history is the
// file's. A hold file that exists but does not parse still holds.
type Hold struct {
	// App and Environment name what is held.
	App         string `yaml:"app"`
	Environment string `yaml:"environment"`
	// By is who placed the hold: a person, or the tool and trigger.
	By string `yaml:"by"`
	// At is when it was placed.
	At time.Time `yaml:"at"`
	// Reason says why, in a person's words or a trigger's.
	Reason string `yaml:"reason"`
	// From is the release the environment was rolled back from,
	// "image@digest", when a rollback placed the hold.
	From string `yaml:"rolledBackFrom,omitempty"`
	// Reverts is the commit whose deploy the rollback undid, and
	// Restored the earlier commit whose overlay it restored.
	Reverts  string `yaml:"reverts,omitempty"`
	Restored string `yaml:"restored,omitempty"`
	// Trigger is what started the rollback: "verification",
	// "degradation", "manual" or another word.
	Trigger string `yaml:"trigger,omitempty"`
}

// String describes the hold in one line: "<app> in <env> is on hold
// since <at> by <by>: <reason> (rolled back from <from>)".
func (h Hold) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %s is on hold", h.App, h.Environment)
	if !h.At.IsZero() {
		fmt.Fprintf(&b, " since %s", h.At.UTC().Format(time.RFC3339))
	}
	if h.By != "" {
		fmt.Fprintf(&b, " by %s", h.By)
	}
	if h.Reason != "" {
		fmt.Fprintf(&b, ": %s", h.Reason)
	}
	if h.From != "" {
		fmt.Fprintf(&b, " (rolled back from %s)", h.From)
	}
	return b.String()
}

// Quarantine lists the digests that may not be deployed again to one
// environment of one app, each until someone clears it. Package rollback
// adds the digest it rolls back from.
type Quarantine struct {
	App         string              `yaml:"app"`
	Environment string              `yaml:"environment"`
	Digests     []QuarantinedDigest `yaml:"digests"`
}

// QuarantinedDigest is one entry of a [Quarantine].
type QuarantinedDigest struct {
	// Digest is the manifest digest, "sha256:<hex>"; Image the
	// repository it was deployed from.
	Digest string `yaml:"digest"`
	Image  string `yaml:"image,omitempty"`
	// By, At and Reason say who quarantined it, when and why.
	By     string    `yaml:"by"`
	At     time.Time `yaml:"at"`
	Reason string    `yaml:"reason"`
}

// Find returns the entry for digest, or nil.
func (q *Quarantine) Find(digest string) *QuarantinedDigest {
	if q == nil {
		return nil
	}
	for i := range q.Digests {
		if q.Digests[i].Digest == digest {
			return &q.Digests[i]
		}
	}
	return nil
}

// holdHeader starts every hold file, for the person who opens it.
const holdHeader = "# flightdeck hold: while this file exists, flightdeck refuses to deploy, promote or roll out\n" +
	"# a release to this app and environment. Lift it with package rollback (or remove the file).\n"

const quarantineHeader = "# flightdeck quarantine: flightdeck refuses to deploy these digests to this app and\n" +
	"# environment until they are cleared (package rollback, or remove the entry).\n"

// Marshal returns the hold file's content.
func (h Hold) Marshal() ([]byte, error) {
	h.At = h.At.UTC()
	b, err := yaml.Marshal(h)
	if err != nil {
		return nil, err
	}
	return append([]byte(holdHeader), b...), nil
}

// Marshal returns the quarantine file's content.
func (q Quarantine) Marshal() ([]byte, error) {
	for i := range q.Digests {
		q.Digests[i].At = q.Digests[i].At.UTC()
	}
	b, err := yaml.Marshal(q)
	if err != nil {
		return nil, err
	}
	return append([]byte(quarantineHeader), b...), nil
}

// ParseHold reads a hold file. Errors wrap [ErrInvalidYAML].
func ParseHold(data []byte) (Hold, error) {
	var h Hold
	if err := yaml.Unmarshal(data, &h); err != nil {
		return Hold{}, fmt.Errorf("%w: hold: %v", ErrInvalidYAML, err)
	}
	return h, nil
}

// ParseQuarantine reads a quarantine file. Errors wrap [ErrInvalidYAML].
func ParseQuarantine(data []byte) (Quarantine, error) {
	var q Quarantine
	if err := yaml.Unmarshal(data, &q); err != nil {
		return Quarantine{}, fmt.Errorf("%w: quarantine: %v", ErrInvalidYAML, err)
	}
	return q, nil
}

// ReadHold returns the hold of app in env in the tree t, or nil when
// there is none. A hold file that does not parse is returned as a hold
// whose Reason says so (it still holds), with the parse error.
func ReadHold(t *Tree, app, env string) (*Hold, error) {
	return readHold(func(p string) ([]byte, error) { return t.ReadFile(p) }, app, env)
}

// ReadHoldAt returns the hold of app in env at revision ("" for the
// branch head), or nil when there is none; see [ReadHold].
func ReadHoldAt(ctx context.Context, h Historian, revision, app, env string) (*Hold, error) {
	return readHold(func(p string) ([]byte, error) { return h.ReadFile(ctx, revision, p) }, app, env)
}

func readHold(read func(string) ([]byte, error), app, env string) (*Hold, error) {
	p := HoldPath(app, env)
	data, err := read(p)
	if errors.Is(err, ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hold of %s in %s: %w", app, env, err)
	}
	h, err := ParseHold(data)
	if err != nil {
		return &Hold{App: app, Environment: env, Reason: "hold file " + p + " does not parse"},
			fmt.Errorf("%s: %w", p, err)
	}
	h.App, h.Environment = app, env
	return &h, nil
}

// ReadQuarantine returns the quarantine of app in env in the tree t, or
// nil when there is none. Errors wrap [ErrInvalidYAML] for a file that
// does not parse.
func ReadQuarantine(t *Tree, app, env string) (*Quarantine, error) {
	return readQuarantine(func(p string) ([]byte, error) { return t.ReadFile(p) }, app, env)
}

// ReadQuarantineAt returns the quarantine of app in env at revision (""
// for the branch head), or nil when there is none.
func ReadQuarantineAt(ctx context.Context, h Historian, revision, app, env string) (*Quarantine, error) {
	return readQuarantine(func(p string) ([]byte, error) { return h.ReadFile(ctx, revision, p) }, app, env)
}

func readQuarantine(read func(string) ([]byte, error), app, env string) (*Quarantine, error) {
	p := QuarantinePath(app, env)
	data, err := read(p)
	if errors.Is(err, ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quarantine of %s in %s: %w", app, env, err)
	}
	q, err := ParseQuarantine(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	q.App, q.Environment = app, env
	return &q, nil
}

// HoldError is the refusal of a change by a hold or a quarantine. It
// wraps [ErrHeld] or [ErrQuarantined] (and so [ErrRefused]).
type HoldError struct {
	// App and Environment are what the change would have written.
	App, Environment string
	// Hold is the hold that refused it; nil for a quarantine.
	Hold *Hold
	// Quarantined is the quarantined digest that refused it; nil for a
	// hold.
	Quarantined *QuarantinedDigest
	// File is the hold or quarantine file.
	File string
	// Err is the cause of a hold file that does not parse, if any.
	Err error
}

// Error names the hold (who, when, why, the release rolled back from) or
// the quarantined digest, and how to get past it.
func (e *HoldError) Error() string {
	if e.Quarantined != nil {
		q := e.Quarantined
		msg := fmt.Sprintf("gitops: %s is quarantined for %s in %s", q.Digest, e.App, e.Environment)
		if !q.At.IsZero() {
			msg += " since " + q.At.UTC().Format(time.RFC3339)
		}
		if q.By != "" {
			msg += " by " + q.By
		}
		if q.Reason != "" {
			msg += ": " + q.Reason
		}
		return msg + " (" + e.File + "; clear it or override the quarantine)"
	}
	msg := "gitops: " + e.Hold.String() + " (" + e.File + "; lift the hold or override it)"
	if e.Err != nil {
		msg += ": " + strings.TrimPrefix(e.Err.Error(), "gitops: ")
	}
	return msg
}

// Unwrap returns [ErrHeld] or [ErrQuarantined], and the parse error of a
// broken hold file.
func (e *HoldError) Unwrap() []error {
	if e.Quarantined != nil {
		return []error{ErrQuarantined}
	}
	if e.Err != nil {
		return []error{ErrHeld, e.Err}
	}
	return []error{ErrHeld}
}

// Override is an explicit, recorded exception to a hold or a quarantine
// (see [TrailerOverride]). The zero value overrides nothing.
type Override struct {
	// Hold deploys although the environment is on hold; the hold stays.
	Hold bool
	// Quarantine deploys a quarantined digest; the entry stays.
	Quarantine bool
	// Reason says why; it is required and recorded as the commit's
	// Flightdeck-Reason trailer.
	Reason string
}

// IsZero reports whether o overrides nothing.
func (o Override) IsZero() bool { return !o.Hold && !o.Quarantine }

// value returns the TrailerOverride value.
func (o Override) value() string {
	var v []string
	if o.Hold {
		v = append(v, OverrideHold)
	}
	if o.Quarantine {
		v = append(v, OverrideQuarantine)
	}
	return strings.Join(v, ",")
}

// apply records o in x: TrailerOverride and TrailerReason. Errors wrap
// [ErrInvalidChange] for an override without a reason.
func (o Override) apply(x *Extra) error {
	if o.IsZero() {
		return nil
	}
	if strings.TrimSpace(o.Reason) == "" {
		return fmt.Errorf("%w: overriding a %s needs a reason", ErrInvalidChange, o.value())
	}
	x.Set(TrailerOverride, o.value())
	x.Set(TrailerReason, o.Reason)
	return nil
}

// OverrideOf returns the override trailers record: what
// [TrailerOverride] lists, counted only when a [TrailerReason] is set.
func OverrideOf(t Trailers) Override {
	v, ok := t.Extra.Get(TrailerOverride)
	reason, _ := t.Extra.Get(TrailerReason)
	if !ok || strings.TrimSpace(reason) == "" {
		return Override{}
	}
	var o Override
	for _, w := range strings.Split(v, ",") {
		switch strings.ToLower(strings.TrimSpace(w)) {
		case OverrideHold:
			o.Hold = true
		case OverrideQuarantine:
			o.Quarantine = true
		}
	}
	o.Reason = reason
	return o
}

// CheckHold refuses a change to app in env, putting the release with
// digest there (digest may be empty), while the tree t holds a hold for
// them that ov does not override, or lists the digest in their
// quarantine and ov does not override that. It returns nil or a
// *[HoldError]; a quarantine file that does not parse refuses too.
func CheckHold(t *Tree, app, env, digest string, ov Override) error {
	if !ov.Hold {
		h, err := ReadHold(t, app, env)
		if h != nil {
			return &HoldError{App: app, Environment: env, Hold: h, File: HoldPath(app, env), Err: err}
		}
		if err != nil {
			return err
		}
	}
	if digest == "" || ov.Quarantine {
		return nil
	}
	q, err := ReadQuarantine(t, app, env)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrQuarantined, err)
	}
	if d := q.Find(digest); d != nil {
		return &HoldError{App: app, Environment: env, Quarantined: d, File: QuarantinePath(app, env)}
	}
	return nil
}

// HoldGuard returns the [Guard] of holds and quarantines: it refuses a
// change to the intent's target while that target is on hold or the
// release's digest is quarantined there (see [CheckHold]), unless the
// intent's trailers override it ([OverrideOf]). Every change with one of
// the [HeldActions] is already checked so by [Change.ApplyEdits]; a
// writer that records an action of its own adds HoldGuard to its change
// (with [GuardEdit]) to be checked the same way.
func HoldGuard() Guard {
	return GuardFunc(func(t *Tree, in Intent) error {
		return CheckHold(t, in.Target.App, in.Target.Environment.Name, in.Trailers.Digest, OverrideOf(in.Trailers))
	})
}

// checkHold is the hold check of every change: see [Change.ApplyEdits].
func (c Change) checkHold(t *Tree) error {
	tr := c.Trailers
	if tr.App == "" || tr.Environment == "" || !slices.Contains(HeldActions, tr.Action) {
		return nil
	}
	return CheckHold(t, tr.App, tr.Environment, tr.Digest, OverrideOf(tr))
}
