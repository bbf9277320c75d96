package gitops

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	flightdeck "github.com/flightdeck-dev/flightdeck"
)

// ErrNoRelease is wrapped by [CurrentRelease] and [CopyRelease] when an
// environment's overlay pins no image by digest for the app, or pins
// several and the [Target] does not say which.
var ErrNoRelease = errors.New("gitops: no release pinned")

// ErrRefused is the error a [Guard] wraps when it refuses a change on
// purpose (a hold, a freeze), so that callers can tell a refusal, which
// retrying does not cure, from a failure.
var ErrRefused = errors.New("gitops: refused")

// ReadWriter reads and writes a GitOps repository; it is what
// [CopyRelease] needs. [*Repo] implements it, and so does gitopstest.Fake.
type ReadWriter interface {
	Writer
	Historian
}

var _ ReadWriter = (*Repo)(nil)

// Target is one app in one environment of a GitOps repository: the
// kustomize overlay that says what the environment runs, and the entry of
// its `images:` list that pins the app's image. The zero value of every
// field but App and Environment.Name is the default.
type Target struct {
	// App is the application's name. Required.
	App string
	// Environment is the environment; its Name is required, its
	// OverlayPath is the overlay directory inside AppDir.
	Environment flightdeck.Environment
	// AppDir is the app's directory in the repository; empty means
	// "apps/<App>".
	AppDir string
	// ImageName is the name the overlay's `images:` entry matches (the
	// image as the base manifests name it). Empty means: when deploying,
	// the release's image repository; when reading, the overlay's only
	// entry.
	ImageName string
}

// Overlay returns the overlay directory: AppDir (or "apps/<App>") joined
// with the environment's overlay path.
func (t Target) Overlay() string {
	dir := t.AppDir
	if dir == "" {
		dir = "apps/" + t.App
	}
	return path.Join(dir, t.Environment.OverlayPath())
}

// String returns "<app> in <environment>".
func (t Target) String() string { return t.App + " in " + t.Environment.Name }

func (t Target) validate() error {
	if !flightdeck.ValidName(t.App) {
		return fmt.Errorf("%w: app name %q is not a valid name", ErrInvalidChange, t.App)
	}
	if !flightdeck.ValidName(t.Environment.Name) {
		return fmt.Errorf("%w: app %s: environment name %q is not a valid name", ErrInvalidChange, t.App, t.Environment.Name)
	}
	return nil
}

// Guard decides whether a release-level change may be committed. It is
// the hook for checks that every writer must make, such as refusing to
// deploy to an environment that is under a hold.
//
// Check runs inside [Repo.Apply], on the tree of the head the change is
// being built on, before the change's own edits, and again on every
// replay after a lost push race. A refusal therefore is atomic with the
// push's compare-and-swap: if another writer pushed a hold file (say
// under .flightdeck/) first, the attempt that would have overwritten it
// is rebuilt on the new head, where Check sees the hold. Check must not
// change t. Its error, which should wrap [ErrRefused] and name what
// refused (the hold, who set it), is returned by Apply, and so by
// [DeployRelease] and [CopyRelease], unchanged but for context; nothing
// is pushed.
type Guard interface {
	Check(t *Tree, in Intent) error
}

// GuardFunc adapts a function to [Guard].
type GuardFunc func(t *Tree, in Intent) error

// Check calls f(t, in).
func (f GuardFunc) Check(t *Tree, in Intent) error { return f(t, in) }

// Intent is what a release-level change is about to do, as a [Guard] sees
// it.
type Intent struct {
	// Target is the app and environment the change writes.
	Target Target
	// Trailers are the trailers the commit will carry: the action, the
	// release ([Trailers.Release]) and any Extra, such as an override the
	// caller asks for.
	Trailers Trailers
}

// GuardEdit returns an edit that runs guards in order against the tree
// and returns the first refusal. Put it first in [Change.Edits] so that a
// change built by hand is checked like [DeployRelease]'s.
func GuardEdit(in Intent, guards ...Guard) Edit {
	return EditFunc(func(t *Tree) error {
		for _, g := range guards {
			if g == nil {
				continue
			}
			if err := g.Check(t, in); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeployRequest asks [DeployRelease] to put a release into an
// environment. The zero value of every field but Target and Release is
// the default.
type DeployRequest struct {
	// Target is where the release goes.
	Target Target
	// Release is what goes there: its image pinned by digest, with its
	// source. Release.App empty means Target.App; otherwise they must be
	// equal.
	Release flightdeck.Release
	// Action is recorded in the trailers; empty means [ActionDeploy].
	Action Action
	// Message is the commit message; empty means "<action> <app> to
	// <environment>".
	Message string
	// Extra are further trailers (a reason, a plan hash).
	Extra Extra
	// Guards run against the tree before the edit (see [Guard]).
	Guards []Guard
	// Override deploys although the environment is on hold or the
	// digest is quarantined there, and records why (see [Override]).
	// The zero value overrides nothing: the deploy is refused.
	Override Override
	// DryRun computes the commit and the rendered diff and pushes nothing.
	DryRun bool
}

// Change returns the change [DeployRelease] applies: the guards, then a
// [SetImage] of the overlay's `images:` entry to the release's digest
// (newName set to the release's repository when the entry's name is
// another), and the release's trailers (with the override, if any).
// Only that entry changes; the overlay's namespace, replicas, patches and
// generators are untouched. Errors wrap [ErrInvalidChange] (also for an
// override without a reason) or [flightdeck.ErrInvalidRelease].
func (d DeployRequest) Change() (Change, error) {
	t := d.Target
	if err := t.validate(); err != nil {
		return Change{}, err
	}
	rel := d.Release
	if rel.App == "" {
		rel.App = t.App
	}
	if rel.App != t.App {
		return Change{}, fmt.Errorf("%w: release of app %s cannot be deployed as app %s", ErrInvalidChange, rel.App, t.App)
	}
	if err := rel.Validate(); err != nil {
		return Change{}, err
	}
	action := d.Action
	if action == "" {
		action = ActionDeploy
	}
	tr := ReleaseTrailers(action, t.Environment.Name, rel)
	tr.Extra = append(Extra(nil), d.Extra...)
	if err := d.Override.apply(&tr.Extra); err != nil {
		return Change{}, err
	}
	set := SetImage{Dir: t.Overlay(), Name: t.ImageName, Digest: rel.Digest}
	if set.Name == "" {
		set.Name = rel.Image
	} else if set.Name != rel.Image {
		set.NewName = rel.Image
	}
	var edits []Edit
	if len(d.Guards) > 0 {
		edits = append(edits, GuardEdit(Intent{Target: t, Trailers: tr}, d.Guards...))
	}
	edits = append(edits, set)
	return Change{Message: d.Message, Trailers: tr, Edits: edits, DryRun: d.DryRun}, nil
}

// DeployRelease deploys a release to an environment through w: it pins
// the release's digest in the overlay's `images:` entry and commits with
// the release's trailers (see [DeployRequest.Change]), so that
// [Repo.History] and [CurrentRelease] give the release back whole. A
// release already pinned there makes no commit (Result.Changed false).
//
// A deploy to an environment on hold, or of a digest quarantined there,
// is refused with a *[HoldError] wrapping [ErrHeld] or [ErrQuarantined]
// (and [ErrRefused]) that names the hold: who placed it, when, why and
// the release rolled back from. The check runs on the tree the commit is
// built on, in every attempt (see [Change.ApplyEdits]), so a hold pushed
// meanwhile by another writer refuses the deploy too. Only
// DeployRequest.Override gets past it, and says so in the commit.
//
// Errors name the app, environment and overlay, and wrap
// [ErrInvalidChange] or [flightdeck.ErrInvalidRelease] for bad input, a
// hold's or a guard's refusal, or whatever w.Apply returns.
func DeployRelease(ctx context.Context, w Writer, d DeployRequest) (Result, error) {
	ch, err := d.Change()
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", d.describe(), err)
	}
	res, err := w.Apply(ctx, ch)
	if err != nil {
		return res, fmt.Errorf("%s: overlay %s: %w", d.describe(), d.Target.Overlay(), err)
	}
	return res, nil
}

func (d DeployRequest) describe() string {
	a := d.Action
	if a == "" {
		a = ActionDeploy
	}
	return fmt.Sprintf("%s %s to %s", a, d.Target.App, d.Target.Environment.Name)
}

// Current is the release an environment runs, as Git says.
type Current struct {
	// Release is the release the overlay pins: App, and Image and Digest
	// read from the overlay's `images:` entry (newName, or name, and
	// digest); Tag, SourceRepo, Revision and Time come from Deploy when
	// there is one.
	Release flightdeck.Release
	// Deploy is the newest flightdeck commit (any action) at or before
	// the revision that recorded this release, same image and digest, in
	// this environment; nil when none did, for example when the overlay
	// was pinned by hand.
	Deploy *Entry
	// Overlay is the overlay directory, File its kustomization file, and
	// ImageName the name of the `images:` entry that pins the release.
	Overlay   string
	File      string
	ImageName string
}

// CurrentRelease reads the release t runs at revision ("" for the branch
// head; see [Repo.ReadFile]): the image and digest from the overlay's
// kustomization, and the tag and source from the newest deploy trailers
// that recorded that release there ([Repo.History] rules: only commits
// flightdeck wrote).
//
// Errors wrap [ErrInvalidChange] for a bad target, [ErrNotExist] when the
// overlay has no kustomization file at revision, [ErrInvalidYAML] when it
// does not parse, and [ErrNoRelease] when its `images:` list pins no
// digest for the app (an entry by tag only, no entry, or several entries
// and no Target.ImageName), or what h returns.
func CurrentRelease(ctx context.Context, h Historian, t Target, revision string) (Current, error) {
	where := "current release of " + t.String()
	if err := t.validate(); err != nil {
		return Current{}, fmt.Errorf("%s: %w", where, err)
	}
	cur := Current{Overlay: t.Overlay()}
	var data []byte
	for _, n := range kustomizationFileNames {
		f := path.Join(cur.Overlay, n)
		b, err := h.ReadFile(ctx, revision, f)
		if errors.Is(err, ErrNotExist) {
			continue
		}
		if err != nil {
			return Current{}, fmt.Errorf("%s: %w", where, err)
		}
		cur.File, data = f, b
		break
	}
	if cur.File == "" {
		return Current{}, fmt.Errorf("%s: overlay %s: %w: no kustomization file", where, cur.Overlay, ErrNotExist)
	}
	img, err := pinnedImage(cur.File, data, t.ImageName)
	if err != nil {
		return Current{}, fmt.Errorf("%s: %w", where, err)
	}
	cur.ImageName = img.Name
	cur.Release = flightdeck.Release{App: t.App, Image: img.ref(), Digest: img.Digest}
	entries, err := h.History(ctx, HistoryQuery{
		App: t.App, Environment: t.Environment.Name, AllActions: true,
		Image: cur.Release.Image, Digest: cur.Release.Digest, Revision: revision, Limit: 1,
	})
	if err != nil {
		return Current{}, fmt.Errorf("%s: %w", where, err)
	}
	if len(entries) > 0 {
		e := entries[0]
		cur.Deploy = &e
		rel, _ := e.Release()
		cur.Release.Tag, cur.Release.SourceRepo, cur.Release.Revision, cur.Release.Time = rel.Tag, rel.SourceRepo, rel.Revision, rel.Time
	}
	return cur, nil
}

// kustomizeImage is one entry of a kustomization's `images:` list.
type kustomizeImage struct {
	Name    string `yaml:"name"`
	NewName string `yaml:"newName"`
	NewTag  string `yaml:"newTag"`
	Digest  string `yaml:"digest"`
}

// ref returns the repository the entry makes the image: newName, or name.
func (i kustomizeImage) ref() string {
	if i.NewName != "" {
		return i.NewName
	}
	return i.Name
}

// pinnedImage returns the `images:` entry of the kustomization data (read
// from file) named name, or its only entry when name is empty, and
// requires it to pin a digest.
func pinnedImage(file string, data []byte, name string) (kustomizeImage, error) {
	var k struct {
		Images []kustomizeImage `yaml:"images"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		return kustomizeImage{}, fmt.Errorf("%s: %w: %v", file, ErrInvalidYAML, err)
	}
	var img kustomizeImage
	switch {
	case name != "":
		i := -1
		for j, im := range k.Images {
			if im.Name == name {
				i = j
				break
			}
		}
		if i < 0 {
			return kustomizeImage{}, fmt.Errorf("%s: %w: no images entry named %s", file, ErrNoRelease, name)
		}
		img = k.Images[i]
	case len(k.Images) == 1:
		img = k.Images[0]
	case len(k.Images) == 0:
		return kustomizeImage{}, fmt.Errorf("%s: %w: no images entry", file, ErrNoRelease)
	default:
		names := make([]string, len(k.Images))
		for i, im := range k.Images {
			names[i] = im.Name
		}
		return kustomizeImage{}, fmt.Errorf("%s: %w: %d images entries (%s); set Target.ImageName",
			file, ErrNoRelease, len(names), strings.Join(names, ", "))
	}
	if img.Digest == "" {
		pin := img.ref()
		if img.NewTag != "" {
			pin += ":" + img.NewTag
		}
		return kustomizeImage{}, fmt.Errorf("%s: %w: images entry %s pins %s, not a digest", file, ErrNoRelease, img.Name, pin)
	}
	return img, nil
}

// CopyRequest asks [CopyRelease] to copy the release one environment runs
// to another. The zero value of every field but From and To is the
// default.
type CopyRequest struct {
	// From is the environment whose release is copied. Required.
	From Target
	// To is the environment that receives it; To.App empty means
	// From.App, and To.ImageName empty means the name of From's
	// `images:` entry.
	To Target
	// Image, when set, replaces the release's image repository (same
	// digest), for a release copied into the target environment's own
	// registry first.
	Image string
	// Action is recorded in the trailers; empty means [ActionPromote].
	Action Action
	// Message is the commit message; empty means "<action> <app> to
	// <environment>".
	Message string
	// Extra are further trailers; Flightdeck-From (the source
	// environment's name) is added.
	Extra Extra
	// Guards run against the tree before the edit (see [Guard]).
	Guards []Guard
	// Override copies although the target environment is on hold or the
	// digest is quarantined there, and records why (see [Override]).
	Override Override
	// DryRun computes the commit and the rendered diff and pushes nothing.
	DryRun bool
}

// Copied is the outcome of [CopyRelease].
type Copied struct {
	// From is the release read from the source environment.
	From Current
	// Release is the release now pinned in the target environment.
	Release flightdeck.Release
	// Result is the commit.
	Result Result
}

// copyAttempts bounds how often CopyRelease re-reads a source environment
// that changed between its read and the push.
const copyAttempts = 3

// errSourceMoved is returned by the copy's precondition edit when the
// source overlay no longer pins the release that was read.
var errSourceMoved = errors.New("source environment changed")

// CopyRelease copies exactly one environment's release to another: it
// reads the release From runs ([CurrentRelease]) and deploys that image
// and digest, with its tag and source, to To ([DeployRelease] with
// action promote and a Flightdeck-From trailer). Only the `images:` entry
// of To's overlay changes: its namespace, replicas, patches and
// generated configuration stay To's own. (Copying the overlay
// directory with [CopyDir] would carry From's configuration, namespace
// included, into To.)
//
// The copy is atomic with the push: the commit is built on a tree in
// which From still pins the release that was read; if From changed
// meanwhile, the release is read again (at most three times, then the
// error wraps [ErrConflict]). A copy into an environment on hold, or of
// a digest quarantined there, is refused as [DeployRelease] refuses it,
// unless CopyRequest.Override says otherwise.
//
// Errors name both environments and wrap those of [CurrentRelease] and
// [DeployRelease].
func CopyRelease(ctx context.Context, rw ReadWriter, c CopyRequest) (Copied, error) {
	to := c.To
	if to.App == "" {
		to.App = c.From.App
	}
	where := fmt.Sprintf("copy release of %s to %s", c.From, to.Environment.Name)
	if err := c.From.validate(); err != nil {
		return Copied{}, fmt.Errorf("%s: %w", where, err)
	}
	action := c.Action
	if action == "" {
		action = ActionPromote
	}
	for attempt := 1; ; attempt++ {
		cur, err := CurrentRelease(ctx, rw, c.From, "")
		if err != nil {
			return Copied{}, fmt.Errorf("%s: %w", where, err)
		}
		rel := cur.Release
		rel.App = to.App
		if c.Image != "" {
			rel.Image = c.Image
		}
		d := DeployRequest{Target: to, Release: rel, Action: action, Message: c.Message,
			Extra: append(Extra(nil), c.Extra...), Guards: c.Guards, Override: c.Override, DryRun: c.DryRun}
		if d.Target.ImageName == "" {
			d.Target.ImageName = cur.ImageName
		}
		d.Extra.Set(TrailerFrom, c.From.Environment.Name)
		ch, err := d.Change()
		if err != nil {
			return Copied{From: cur}, fmt.Errorf("%s: %w", where, err)
		}
		ch.Edits = append([]Edit{sourcePinned(cur)}, ch.Edits...)
		res, err := rw.Apply(ctx, ch)
		switch {
		case err == nil:
			return Copied{From: cur, Release: rel, Result: res}, nil
		case !errors.Is(err, errSourceMoved):
			return Copied{From: cur, Result: res}, fmt.Errorf("%s: overlay %s: %w", where, d.Target.Overlay(), err)
		case attempt >= copyAttempts:
			return Copied{From: cur, Result: res}, fmt.Errorf("%s: %w: %w after %d reads", where, ErrConflict, err, attempt)
		}
	}
}

// sourcePinned is the copy's precondition: the source overlay, in the
// tree being built, still pins cur's release in the same entry.
func sourcePinned(cur Current) Edit {
	return EditFunc(func(t *Tree) error {
		data, err := t.ReadFile(cur.File)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", errSourceMoved, cur.File, err)
		}
		img, err := pinnedImage(cur.File, data, cur.ImageName)
		if err != nil {
			return fmt.Errorf("%w: %w", errSourceMoved, err)
		}
		if img.ref() != cur.Release.Image || img.Digest != cur.Release.Digest {
			return fmt.Errorf("%w: %s now pins %s@%s", errSourceMoved, cur.File, img.ref(), img.Digest)
		}
		return nil
	})
}

// ErrStale is wrapped by [RestoreRelease] when the overlay, in the tree
// the commit would be built on, is no longer what the caller decided on
// (RestoreRequest.Expect): another writer changed the environment
// meanwhile, so the decision must be made again.
var ErrStale = fmt.Errorf("%w: environment changed since the decision", ErrRefused)

// RestoreRequest asks [RestoreRelease] to put an environment's overlay
// back exactly as it was at an earlier commit. The zero value of every
// field but Target and To is the default.
type RestoreRequest struct {
	// Target is the environment whose overlay is restored.
	Target Target
	// To is the commit whose overlay is restored: every file of the
	// overlay directory, configuration included. Required.
	To plumbing.Hash
	// Expect, when not zero, is the tree hash the overlay must have in
	// the tree the commit is built on; otherwise the restore is refused
	// with [ErrStale]. It makes a decision taken on one head atomic with
	// the push: a writer that changed the environment meanwhile makes
	// the replay refuse instead of restoring over its change.
	Expect plumbing.Hash
	// DecidedAt, when not zero, is the commit the caller decided on: the
	// overlay must be, in the tree the commit is built on, what it was
	// at DecidedAt, or the restore is refused with [ErrStale], as with
	// Expect.
	DecidedAt plumbing.Hash
	// Action is recorded in the trailers; empty means [ActionRollback].
	Action Action
	// Message is the commit message (a subject, and a body with the
	// evidence); empty means "<action> <app> to <environment>".
	Message string
	// Extra are further trailers ([TrailerReverts], [TrailerReason],
	// [TrailerChange], ...).
	Extra Extra
	// Edits are applied after the restore, in the same commit (a hold
	// file, say). They must not write inside the overlay.
	Edits []Edit
	// Guards run against the tree before the restore (see [Guard]).
	Guards []Guard
	// DryRun computes the commit and the rendered diff and pushes nothing.
	DryRun bool
}

// Restored is the outcome of [RestoreRelease].
type Restored struct {
	// Release is the release the restored overlay pins, with its source
	// from the trailers of the deploy that recorded it (see
	// [CurrentRelease]); zero when the overlay pins no digest.
	Release flightdeck.Release
	// Overlay is the overlay directory.
	Overlay string
	// Tree is the overlay's tree hash, the same at To and in the new
	// commit; Replaced is the hash it had before.
	Tree, Replaced plumbing.Hash
	// Shared lists what the overlay reads from outside its directory
	// (a base, a component, a file of a generator) that is not what it
	// was at To: the restore leaves those alone. Sorted.
	Shared []SharedInput
	// Result is the commit.
	Result Result
}

// SharedInput is a path outside an overlay that the overlay reads,
// directly or through other kustomizations, with its object hash at the
// restored commit and in the new commit (zero where it does not exist).
type SharedInput struct {
	Path      string
	Then, Now plumbing.Hash
}

// restoreAttempts bounds how often RestoreRelease rebuilds a restore
// whose outcome changed between two reads.
const restoreAttempts = 3

// RestoreRelease restores the overlay of r.Target exactly as it was at
// commit r.To, as one commit: the overlay directory becomes the very
// tree it had then (same tree hash, every file byte for byte, files
// added since removed), with the release trailers of what it pins (see
// [CurrentRelease]) and r.Extra. Only the overlay changes (and r.Edits):
// inputs it shares with other overlays, such as a base edited since To,
// are left as they are now and listed in Restored.Shared.
//
// Restoring what is already there makes no commit (Result.Changed
// false) and applies none of r.Edits. With r.Expect or r.DecidedAt set
// the restore is refused with [ErrStale] if the overlay is not that tree
// in the head the commit is built on, in any attempt. Errors name the app, environment and overlay, and wrap
// [ErrInvalidChange] for bad input, [ErrNotExist] when the overlay did not
// exist at To, [ErrStale], a guard's refusal, or what rw returns.
func RestoreRelease(ctx context.Context, rw ReadWriter, r RestoreRequest) (Restored, error) {
	t := r.Target
	where := fmt.Sprintf("restore %s to %s", t, shortHash(r.To))
	if err := t.validate(); err != nil {
		return Restored{}, fmt.Errorf("%s: %w", where, err)
	}
	if r.To.IsZero() {
		return Restored{}, fmt.Errorf("%s: %w: no commit to restore", where, ErrInvalidChange)
	}
	out := Restored{Overlay: t.Overlay()}
	cur, err := CurrentRelease(ctx, rw, t, r.To.String())
	switch {
	case err == nil:
		out.Release = cur.Release
	case errors.Is(err, ErrNoRelease):
	default:
		return out, fmt.Errorf("%s: %w", where, err)
	}
	action := r.Action
	if action == "" {
		action = ActionRollback
	}
	tr := ReleaseTrailers(action, t.Environment.Name, out.Release)
	tr.App = t.App
	tr.Extra = append(Extra(nil), r.Extra...)
	in := Intent{Target: t, Trailers: tr}
	var edits []Edit
	if len(r.Guards) > 0 {
		edits = append(edits, GuardEdit(in, r.Guards...))
	}
	var shared []SharedInput
	unchanged := false
	edits = append(edits, EditFunc(func(tree *Tree) error {
		expect := r.Expect
		if !r.DecidedAt.IsZero() {
			then, err := tree.treeAt(r.DecidedAt)
			if err != nil {
				return err
			}
			h, err := then.hashOf(out.Overlay)
			if err != nil {
				return err
			}
			if !expect.IsZero() && expect != h {
				return fmt.Errorf("%w: overlay %s was tree %s at %s, not %s", ErrStale, out.Overlay, shortHash(h), shortHash(r.DecidedAt), shortHash(expect))
			}
			expect = h
		}
		var err error
		out.Tree, out.Replaced, err = tree.restoreDir(out.Overlay, r.To, expect)
		if err != nil {
			return err
		}
		unchanged = out.Tree == out.Replaced
		shared, err = tree.sharedChanges(out.Overlay, r.To)
		return err
	}))
	for _, e := range r.Edits {
		edits = append(edits, EditFunc(func(tree *Tree) error {
			if unchanged {
				return nil
			}
			return e.Apply(tree)
		}))
	}
	ch := Change{Message: r.Message, Trailers: tr, Edits: edits, DryRun: r.DryRun}
	res, err := rw.Apply(ctx, ch)
	out.Result = res
	if err != nil {
		return out, fmt.Errorf("%s: overlay %s: %w", where, out.Overlay, err)
	}
	out.Shared = shared
	return out, nil
}

func shortHash(h plumbing.Hash) string {
	s := h.String()
	if h.IsZero() {
		return "(none)"
	}
	return s[:12]
}

// hashOf returns the object hash of the file or directory at the clean
// path p (zero when there is none), writing the changed objects under it
// first.
func (t *Tree) hashOf(p string) (plumbing.Hash, error) {
	n, _, err := t.walk(p, false)
	if err != nil || n == nil {
		return plumbing.ZeroHash, err
	}
	if n.isDir() && !n.dirty || !n.isDir() && n.data == nil {
		return n.hash, nil
	}
	h, keep, err := t.encode(n)
	if err != nil || !keep {
		return plumbing.ZeroHash, err
	}
	return h, nil
}

// treeAt returns a Tree over the root tree of commit c.
func (t *Tree) treeAt(c plumbing.Hash) (*Tree, error) {
	commit, err := object.GetCommit(t.s, c)
	if err != nil {
		return nil, fmt.Errorf("%w: commit %s: %v", ErrNotExist, c, err)
	}
	at := NewTree(t.s, commit.TreeHash)
	at.renders = t.renders
	return at, nil
}

// restoreDir makes dir the tree it was at commit at and returns that
// tree's hash and the hash dir had before. With expect set, dir must
// have that hash first.
func (t *Tree) restoreDir(dir string, at, expect plumbing.Hash) (restored, replaced plumbing.Hash, err error) {
	c, err := cleanPath(dir)
	if err == nil && c == "" {
		err = fmt.Errorf("%w: cannot restore the root", ErrInvalidPath)
	}
	if err != nil {
		return restored, replaced, &PathError{Op: "restore", Path: dir, Err: err}
	}
	then, err := t.treeAt(at)
	if err != nil {
		return restored, replaced, &PathError{Op: "restore", Path: dir, Err: err}
	}
	src, _, err := then.walk(c, false)
	switch {
	case err != nil:
	case src == nil:
		err = fmt.Errorf("%w: no such directory at %s", ErrNotExist, shortHash(at))
	case !src.isDir():
		err = fmt.Errorf("%w: not a directory at %s", ErrNotExist, shortHash(at))
	}
	if err != nil {
		return restored, replaced, &PathError{Op: "restore", Path: dir, Err: err}
	}
	if replaced, err = t.hashOf(c); err != nil {
		return restored, replaced, &PathError{Op: "restore", Path: dir, Err: err}
	}
	if !expect.IsZero() && replaced != expect {
		return restored, replaced, fmt.Errorf("%w: overlay %s is tree %s, not %s", ErrStale, c, shortHash(replaced), shortHash(expect))
	}
	if err := checkWritable(c, true); err != nil {
		return restored, replaced, &PathError{Op: "restore", Path: dir, Err: err}
	}
	if replaced == src.hash {
		return src.hash, replaced, nil
	}
	n, dirs, err := t.walk(c, true)
	if err != nil {
		return restored, replaced, &PathError{Op: "restore", Path: dir, Err: err}
	}
	if n != nil && n.mode == filemode.Symlink {
		return restored, replaced, &PathError{Op: "restore", Path: dir, Err: errSymlink(c)}
	}
	dirs[len(dirs)-1].children[path.Base(c)] = &tnode{mode: filemode.Dir, hash: src.hash}
	t.markDirty(dirs)
	t.changed[c] = struct{}{}
	return src.hash, replaced, nil
}

// sharedChanges lists the inputs of the kustomization in dir that lie
// outside dir and differ between commit at and t.
func (t *Tree) sharedChanges(dir string, at plumbing.Hash) ([]SharedInput, error) {
	then, err := t.treeAt(at)
	if err != nil {
		return nil, err
	}
	inputs := map[string]bool{}
	seen := map[string]bool{}
	var visit func(tr *Tree, d string)
	visit = func(tr *Tree, d string) {
		if seen[d] {
			return
		}
		seen[d] = true
		k := tr.KustomizationFile(d)
		if k == "" {
			return
		}
		data, err := tr.ReadFile(k)
		if err != nil {
			return
		}
		for _, ref := range kustomizationPaths(data) {
			p := path.Join(d, ref)
			if p == "." || p == ".." || strings.HasPrefix(p, "../") || p == dir || strings.HasPrefix(p, dir+"/") {
				continue
			}
			if !tr.Exists(p) {
				continue
			}
			inputs[p] = true
			if tr.IsDir(p) {
				visit(tr, p)
			}
		}
	}
	// Both sides: an input the overlay read then, or reads now.
	visit(then, dir)
	clear(seen)
	visit(t, dir)
	var out []SharedInput
	for p := range inputs {
		a, err := then.hashOf(p)
		if err != nil {
			return nil, err
		}
		b, err := t.hashOf(p)
		if err != nil {
			return nil, err
		}
		if a != b {
			out = append(out, SharedInput{Path: p, Then: a, Now: b})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	// A changed directory covers the changed paths inside it.
	kept := out[:0]
	for _, s := range out {
		if len(kept) > 0 && strings.HasPrefix(s.Path, kept[len(kept)-1].Path+"/") {
			continue
		}
		kept = append(kept, s)
	}
	return kept, nil
}

// kustomizationPaths returns every scalar value of a kustomization file
// that may name a relative path (after a "key=" prefix, as generator
// sources write it), cleaned: whatever its field, so that no input is
// missed; values that name nothing are dropped by the caller.
func kustomizationPaths(data []byte) []string {
	rn, err := yaml.Parse(string(data))
	if err != nil {
		return nil
	}
	var out []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				walk(n.Content[i])
			}
		case yaml.ScalarNode:
			v := n.Value
			if i := strings.IndexByte(v, '='); i >= 0 {
				v = v[i+1:]
			}
			if v == "" || strings.Contains(v, "://") || strings.HasPrefix(v, "/") || strings.ContainsAny(v, " \t\n") {
				return
			}
			out = append(out, path.Clean(v))
		}
	}
	walk(rn.YNode())
	return out
}
