package image

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/flightdeck-dev/flightdeck/pipeline"
)

// Results the image stages hand to later steps through the run's state.
var (
	// Built holds the image built by [BuildStage]; [PushStage] reads it.
	Built = pipeline.NewKey[v1.Image]("image.built")
	// Pushed holds the [Result] of [PushStage] or [CopyStage].
	Pushed = pipeline.NewKey[Result]("image.pushed")
	// Ref holds the pushed image's digest reference as a string,
	// "registry/repo@sha256:…", ready for flightdeck.ParseRelease and the
	// deploy stage.
	Ref = pipeline.NewKey[string]("image.ref")
)

// Builder builds an image from a spec; [*Client] implements it.
type Builder interface {
	// Build builds the image described by spec.
	Build(ctx context.Context, spec Spec) (v1.Image, error)
}

var _ Builder = (*Client)(nil)

// BuildStage returns a stage named "image-build" that builds spec with b
// and puts the image under [Built]. Spec errors are [pipeline.Permanent]
// (retrying cannot fix them).
func BuildStage(b Builder, spec Spec) pipeline.Stage {
	return pipeline.Func("image-build", func(ctx context.Context, s *pipeline.State) error {
		img, err := b.Build(ctx, spec)
		if err != nil {
			return permanentIfInput(err)
		}
		Built.Put(s, img)
		return nil
	})
}

// BuildStep returns [BuildStage] wrapped in a step that provides [Built].
func BuildStep(b Builder, spec Spec) pipeline.Step {
	return pipeline.Step{Stage: BuildStage(b, spec), Provides: []pipeline.AnyKey{Built}}
}

// PushStage returns a stage named "image-push" that pushes the image
// under [Built] to ref with p and puts the outcome under [Pushed] and
// [Ref].
func PushStage(p Pusher, ref string) pipeline.Stage {
	return pipeline.Func("image-push", func(ctx context.Context, s *pipeline.State) error {
		img, err := Built.Get(s)
		if err != nil {
			return err
		}
		res, err := p.Push(ctx, ref, img)
		if err != nil {
			return permanentIfInput(err)
		}
		Pushed.Put(s, res)
		Ref.Put(s, res.Digest.String())
		return nil
	})
}

// PushStep returns [PushStage] wrapped in a step that needs [Built] and
// provides [Pushed] and [Ref].
func PushStep(p Pusher, ref string) pipeline.Step {
	return pipeline.Step{
		Stage:    PushStage(p, ref),
		Needs:    []pipeline.AnyKey{Built},
		Provides: []pipeline.AnyKey{Pushed, Ref},
	}
}

// CopyStage returns a stage named "image-copy" that copies the digest
// reference under from to dst with c (a promotion) and puts the copy's
// digest reference under to.
func CopyStage(c Copier, from pipeline.Key[string], dst string, to pipeline.Key[string]) pipeline.Stage {
	return pipeline.Func("image-copy", func(ctx context.Context, s *pipeline.State) error {
		src, err := from.Get(s)
		if err != nil {
			return err
		}
		res, err := c.Copy(ctx, src, dst)
		if err != nil {
			return permanentIfInput(err)
		}
		to.Put(s, res.Digest.String())
		return nil
	})
}

func permanentIfInput(err error) error {
	if errors.Is(err, ErrInvalidSpec) || errors.Is(err, ErrInvalidReference) ||
		errors.Is(err, ErrDigestMismatch) || errors.Is(err, ErrNotFound) {
		return pipeline.Permanent(err)
	}
	return err
}

// String helps error messages name a result.
func (r Result) String() string {
	if r.Tag != "" {
		return fmt.Sprintf("%s (tag %s)", r.Digest, r.Tag)
	}
	return r.Digest.String()
}
