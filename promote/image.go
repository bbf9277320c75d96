package promote

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
)

// ImageCopier copies a release's image by digest into an environment's
// registry before the release is promoted there; set one as a
// [Rung]'s Copy. [CopyImage] returns the implementation on
// pipeline/image.
type ImageCopier interface {
	// Repository names the repository the release's image takes in the
	// environment; it does no I/O (plans call it).
	Repository(rel flightdeck.Release) string
	// Copy copies rel's image, by digest, into Repository(rel) and
	// returns the release as it is named there: same digest, same source
	// identity. Copying what is already there changes nothing.
	Copy(ctx context.Context, rel flightdeck.Release) (flightdeck.Release, error)
}

// ImageClient is what [ImageCopy] needs of a registry client; an
// *image.Client is one.
type ImageClient interface {
	image.Copier
	// Resolve returns ref pinned by the digest of the manifest the
	// registry serves (see image.Client.Resolve).
	Resolve(ctx context.Context, ref string) (name.Digest, error)
}

var _ ImageClient = (*image.Client)(nil)

// ErrImageCopy means an image could not be copied into an environment's
// registry, or the copy there does not have the release's digest; the
// promotion is not pushed. Errors wrapping it also wrap the registry's
// error (image.ErrNotFound, image.ErrDigestMismatch, *image.RegistryError)
// and never carry credentials.
var ErrImageCopy = errors.New("image copy failed")

// ImageCopy copies images by digest into one repository, the registry
// of an environment, with pipeline/image (go-containerregistry): blobs
// are mounted or uploaded as needed, nothing is uploaded when the
// destination already holds the digest, and after the copy the
// destination's manifest is fetched and hashed to check that the digest
// did not change. It is safe for concurrent use.
type ImageCopy struct {
	repo   name.Repository
	client ImageClient
}

var _ ImageCopier = (*ImageCopy)(nil)

// CopyImage returns the copy of releases' images into dst, a repository
// ("registry.prod.example.com/team/shop"; no tag, no digest), through
// an image.Client made with opts (credentials from
// image.WithKeychain, retries from image.WithRetry, and so on). It fails
// for a dst that is not a repository.
func CopyImage(dst string, opts ...image.Option) (*ImageCopy, error) {
	return CopyImageWith(dst, image.New(opts...))
}

// CopyImageWith is [CopyImage] through client.
func CopyImageWith(dst string, client ImageClient) (*ImageCopy, error) {
	repo, err := name.NewRepository(dst, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("copy image to %q: %w: %v", dst, image.ErrInvalidReference, err)
	}
	return &ImageCopy{repo: repo, client: client}, nil
}

// Repository returns the destination repository, whatever rel's image.
func (c *ImageCopy) Repository(flightdeck.Release) string { return c.repo.Name() }

// Copy copies rel's image by digest to the destination repository and
// returns rel named there. Errors wrap [ErrImageCopy].
func (c *ImageCopy) Copy(ctx context.Context, rel flightdeck.Release) (flightdeck.Release, error) {
	dst := c.repo.Digest(rel.Digest)
	fail := func(err error) (flightdeck.Release, error) {
		return flightdeck.Release{}, fmt.Errorf("%w: %s to %s: %w", ErrImageCopy, rel.Ref(), c.repo.Name(), err)
	}
	if err := flightdeck.ValidateDigest(rel.Digest); err != nil {
		return fail(err)
	}
	if rel.Image != c.repo.Name() {
		res, err := c.client.Copy(ctx, rel.Ref(), c.repo.Name())
		if err != nil {
			return fail(err)
		}
		if got := res.Digest.DigestStr(); got != rel.Digest {
			return fail(fmt.Errorf("%w: the copy has digest %s", image.ErrDigestMismatch, got))
		}
	}
	got, err := c.client.Resolve(ctx, dst.String())
	if err != nil {
		return fail(err)
	}
	if got.DigestStr() != rel.Digest {
		return fail(fmt.Errorf("%w: %s serves %s", image.ErrDigestMismatch, dst, got.DigestStr()))
	}
	out := rel
	out.Image = c.repo.Name()
	return out, nil
}

// copyImage copies the planned release's image into the target's
// registry before the push, when the rung has a Copy and the policies
// allow the promotion now (a blocked promotion copies nothing; the push
// then refuses it with the verdicts). The source is read again from the
// repository: the plan names the release as the target will run it.
func (p *Promoter) copyImage(ctx context.Context, req Request, pl *Plan, fromR, toR Rung) error {
	if toR.Copy == nil || pl.Unchanged {
		return nil
	}
	ex, err := p.Explain(ctx, pl, req)
	if err != nil || !ex.Allowed {
		return nil // Apply reports it
	}
	src, err := gitops.CurrentRelease(ctx, p.rw, p.target(pl.App, fromR), "")
	if err != nil {
		return fmt.Errorf("promote %s to %s: %w", pl.App, pl.To, err)
	}
	if src.Release.Digest != pl.Release.Digest {
		return &DriftError{App: pl.App, Environment: pl.To, Changes: []string{fmt.Sprintf("%s now runs %s, not %s", pl.From, src.Release.Digest, pl.Release.Digest)}}
	}
	got, err := toR.Copy.Copy(ctx, src.Release)
	if err != nil {
		return fmt.Errorf("promote %s to %s: %w", pl.App, pl.To, err)
	}
	if got.Image != pl.Release.Image || got.Digest != pl.Release.Digest {
		return &DriftError{App: pl.App, Environment: pl.To, Changes: []string{fmt.Sprintf("the image was copied as %s, the plan names %s", got.Ref(), pl.Release.Ref())}}
	}
	return nil
}
