package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
)

// ErrInvalidSpec is returned (wrapped, marked [pipeline.Permanent]) by
// the stage when its [Spec] lacks an app or environment, or names them
// invalidly.
var ErrInvalidSpec = errors.New("deploy: invalid spec")

// Deployed is the key under which the stage puts its [Deployment].
var Deployed = pipeline.NewKey[Deployment]("deploy.deployment")

// Deployment is what the stage did.
type Deployment struct {
	// Release is the release that was deployed.
	Release flightdeck.Release
	// Environment is the environment's name.
	Environment string
	// Overlay is the kustomization directory that was edited.
	Overlay string
	// Commit is the commit's hash, "" when nothing changed (the overlay
	// already pinned this digest) or on a dry run.
	Commit string
	// Changed reports whether a commit was made.
	Changed bool
	// Diff is the rendered diff of the overlay.
	Diff string
}

// Spec says what to deploy where. The zero value of every field but App
// and Environment is the default.
type Spec struct {
	// App is the application name. Required.
	App string
	// Environment is the target environment. Its Name is required.
	Environment flightdeck.Environment
	// AppDir is the app's directory in the GitOps repository; empty means
	// "apps/<App>". The overlay is AppDir/Environment.OverlayPath().
	AppDir string
	// ImageName is the image name the overlay's `images:` entry matches
	// (the name used in the base manifests). Empty means the pushed
	// image's repository. When it differs from the pushed repository the
	// entry's newName is set to the pushed one.
	ImageName string
	// Ref is the key holding the digest reference; zero means
	// [image.Ref].
	Ref pipeline.Key[string]
	// Revision, when set, is the key holding the source revision the
	// image was built from; it becomes the release's Revision and the
	// commit's Flightdeck-Source-Revision trailer.
	Revision pipeline.Key[string]
	// SourceTime, when set, is the key holding the source revision's
	// commit time; it becomes the release's Time and the commit's
	// Flightdeck-Source-Time trailer (where DORA's lead time starts).
	SourceTime pipeline.Key[time.Time]
	// Tag is the release's version as people name it ("1.4.2", the tag
	// the push stage pushed), recorded in the release and the commit's
	// trailers; empty means the reference's own tag, if it has one.
	Tag string
	// SourceRepo is the source repository URL recorded in the release.
	// It must not contain credentials.
	SourceRepo string
	// Guards run inside the commit's build, against the tree it is built
	// on, and can refuse the deploy (see [gitops.Guard]) for reasons of
	// their own. Holds need no guard: a deploy to an environment on hold
	// is always refused (see [gitops.DeployRelease]).
	Guards []gitops.Guard
	// Override deploys although the environment is on hold or the
	// digest is quarantined there; it needs a reason, which the commit
	// records. The zero value overrides nothing.
	Override gitops.Override
	// Message is the commit message; empty means gitops' default
	// ("deploy <app> to <env>").
	Message string
	// DryRun renders and diffs without pushing.
	DryRun bool
}

func (s Spec) validate() error {
	if !flightdeck.ValidName(s.App) {
		return fmt.Errorf("%w: app name %q", ErrInvalidSpec, s.App)
	}
	if !flightdeck.ValidName(s.Environment.Name) {
		return fmt.Errorf("%w: app %s: environment name %q", ErrInvalidSpec, s.App, s.Environment.Name)
	}
	return nil
}

func (s Spec) target() gitops.Target {
	return gitops.Target{App: s.App, Environment: s.Environment, AppDir: s.AppDir, ImageName: s.ImageName}
}

func (s Spec) refKey() pipeline.Key[string] {
	if s.Ref.Name() == "" {
		return image.Ref
	}
	return s.Ref
}

// Stage is the deploy stage. Make one with [New].
type Stage struct {
	w    gitops.Writer
	spec Spec
}

var _ pipeline.Stage = (*Stage)(nil)

// New returns a stage named "deploy-<environment>" that deploys through w
// as spec says. The step should need [Stage.Needs] and provide
// [Deployed].
func New(w gitops.Writer, spec Spec) *Stage { return &Stage{w: w, spec: spec} }

// Name returns "deploy-<environment>".
func (s *Stage) Name() string { return "deploy-" + s.spec.Environment.Name }

// Needs returns the keys the stage reads: the reference key and, when
// set, the revision and source time keys.
func (s *Stage) Needs() []pipeline.AnyKey {
	keys := []pipeline.AnyKey{s.spec.refKey()}
	if s.spec.Revision.Name() != "" {
		keys = append(keys, s.spec.Revision)
	}
	if s.spec.SourceTime.Name() != "" {
		keys = append(keys, s.spec.SourceTime)
	}
	return keys
}

// Step returns the stage wrapped in a step that needs [Stage.Needs] and
// provides [Deployed]; set further policy on the returned value.
func (s *Stage) Step() pipeline.Step {
	return pipeline.Step{Stage: s, Needs: s.Needs(), Provides: []pipeline.AnyKey{Deployed}}
}

// Run deploys. Errors name the app and environment; see the package
// documentation for which are permanent.
func (s *Stage) Run(ctx context.Context, st *pipeline.State) error {
	sp := s.spec
	if err := sp.validate(); err != nil {
		return pipeline.Permanent(err)
	}
	where := fmt.Sprintf("deploy %s to %s", sp.App, sp.Environment.Name)
	ref, err := sp.refKey().Get(st)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	rel, err := flightdeck.ParseRelease(sp.App, ref)
	if err != nil {
		return pipeline.Permanent(fmt.Errorf("%s: %w", where, err))
	}
	rel.SourceRepo = sp.SourceRepo
	if sp.Tag != "" {
		rel.Tag = sp.Tag
	}
	if sp.Revision.Name() != "" {
		if rel.Revision, err = sp.Revision.Get(st); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	if sp.SourceTime.Name() != "" {
		if rel.Time, err = sp.SourceTime.Get(st); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	target := sp.target()
	res, err := gitops.DeployRelease(ctx, s.w, gitops.DeployRequest{
		Target: target, Release: rel, Message: sp.Message, Guards: sp.Guards, Override: sp.Override, DryRun: sp.DryRun,
	})
	if err != nil {
		if errors.Is(err, gitops.ErrInvalidImage) || errors.Is(err, gitops.ErrNotExist) ||
			errors.Is(err, gitops.ErrInvalidYAML) || errors.Is(err, gitops.ErrInvalidChange) ||
			errors.Is(err, gitops.ErrRender) || errors.Is(err, gitops.ErrAuth) ||
			errors.Is(err, flightdeck.ErrInvalidRelease) || errors.Is(err, gitops.ErrRefused) {
			return pipeline.Permanent(err)
		}
		return err
	}
	d := Deployment{Release: rel, Environment: sp.Environment.Name, Overlay: target.Overlay(),
		Changed: res.Changed, Diff: res.Diff}
	if res.Changed && !sp.DryRun && !res.Commit.IsZero() {
		d.Commit = res.Commit.String()
	}
	Deployed.Put(st, d)
	return nil
}
