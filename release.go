package flightdeck

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// ErrInvalidRelease is returned (wrapped) by [Release.Validate] when a
// release is incomplete or its image reference does not parse.
var ErrInvalidRelease = errors.New("invalid release")

// ErrInvalidDigest is returned (wrapped) by [ValidateDigest], and so by
// [Release.Validate], [ParseRelease] and gitops.SetImage, for a digest
// flightdeck does not pin by.
var ErrInvalidDigest = errors.New("invalid digest")

var (
	ociAlgorithm = regexp.MustCompile(`^[a-z0-9]+(?:[+._-][a-z0-9]+)*$`)
	ociEncoded   = regexp.MustCompile(`^[a-zA-Z0-9=_-]+$`)
	sha256Hex    = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// ValidateDigest returns nil if d is a digest flightdeck pins images by,
// and otherwise an error wrapping [ErrInvalidDigest] that says why. It is
// the one definition every part of flightdeck uses.
//
// A digest is "algorithm:encoded" as the OCI image specification
// defines it, and flightdeck accepts exactly one algorithm, sha256, whose
// encoded part the specification requires to be 64 lower-case hex
// digits. The specification also registers sha512, but makes only
// sha256 mandatory for registries and clients, and kustomize recognises
// an image as already pinned only by "@sha256:", so a sha512 pin could
// keep a later images: override from matching. sha512 and unregistered
// algorithms are therefore refused, with a message naming the reason.
func ValidateDigest(d string) error {
	alg, enc, ok := strings.Cut(d, ":")
	switch {
	case d == "":
		return fmt.Errorf("%w: empty; pin by the manifest digest the registry returned, sha256:<64 lower-case hex digits>", ErrInvalidDigest)
	case !ok || !ociAlgorithm.MatchString(alg) || !ociEncoded.MatchString(enc):
		return fmt.Errorf("%w: %q is not algorithm:hex (want sha256:<64 lower-case hex digits>)", ErrInvalidDigest, d)
	case alg == "sha256" && !sha256Hex.MatchString(enc):
		if len(enc) == 64 && sha256Hex.MatchString(strings.ToLower(enc)) {
			return fmt.Errorf("%w: %q: sha256 hex must be lower case", ErrInvalidDigest, d)
		}
		return fmt.Errorf("%w: %q: sha256 wants 64 lower-case hex digits, got %d characters", ErrInvalidDigest, d, len(enc))
	case alg == "sha512":
		return fmt.Errorf("%w: %q: flightdeck pins by sha256 only (kustomize recognises only sha256 pins)", ErrInvalidDigest, d)
	case alg != "sha256":
		return fmt.Errorf("%w: %q: algorithm %s is not registered by OCI; use sha256", ErrInvalidDigest, d, alg)
	}
	return nil
}

// Well-known environment names. Any non-empty name that is a valid path
// segment may be used; these are the ones the examples and defaults use.
const (
	Dev     = "dev"
	Staging = "staging"
	Prod    = "prod"
)

// Environment is one rung of the promotion ladder. Its Name is also the
// name of its kustomize overlay directory unless Path says otherwise.
type Environment struct {
	// Name is the environment's name, for example "staging".
	Name string
	// Path is the overlay directory for this environment relative to an
	// app's directory in the GitOps repository. Empty means
	// "overlays/<Name>".
	Path string
}

// OverlayPath returns the environment's overlay directory relative to an
// app directory: Path if set, else "overlays/<Name>".
func (e Environment) OverlayPath() string {
	if e.Path != "" {
		return e.Path
	}
	return "overlays/" + e.Name
}

var appName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$`)

// ValidName reports whether s is usable as an app or environment name: a
// lower-case DNS-like label that is safe as a path segment and a Git
// trailer value.
func ValidName(s string) bool { return len(s) <= 253 && appName.MatchString(s) }

// Release is the thing that flows through flightdeck: one app's image
// pinned by digest, plus the source it was built from. A promotion copies
// exactly this digest to the next environment.
type Release struct {
	// App is the application name, for example "checkout".
	App string
	// Image is the image repository without tag or digest, for example
	// "registry.example.com/team/checkout".
	Image string
	// Digest is the manifest digest, "sha256:<64 lower-case hex>"
	// (see [ValidateDigest]). Required.
	Digest string
	// Tag is an optional human-readable tag the digest was pushed under.
	// It is informational; deployments pin by Digest.
	Tag string
	// SourceRepo is the URL of the source repository the image was built
	// from. Credentials must not be part of it.
	SourceRepo string
	// Revision is the source commit the image was built from.
	Revision string
	// Time is the commit time of Revision, the source commit the release
	// was built from (where the lead time for changes starts); zero when
	// unknown.
	Time time.Time
}

// Ref returns the image reference pinned by digest: "Image@Digest".
func (r Release) Ref() string { return r.Image + "@" + r.Digest }

// String returns "App Image@Digest" for logs and messages.
func (r Release) String() string { return r.App + " " + r.Ref() }

// Validate checks that the release names an app and a parseable image
// pinned by a digest that [ValidateDigest] accepts. Errors wrap
// [ErrInvalidRelease] (and [ErrInvalidDigest] for the digest) and name
// the app.
func (r Release) Validate() error {
	if !ValidName(r.App) {
		return fmt.Errorf("%w: app name %q is not a valid name; use lower-case letters, digits, '-', '.' and '_', starting and ending with a letter or digit", ErrInvalidRelease, r.App)
	}
	if r.Image == "" {
		return fmt.Errorf("%w: app %s: image is empty; set it to the repository without tag or digest, for example registry.example.com/team/%s", ErrInvalidRelease, r.App, r.App)
	}
	if _, err := name.NewRepository(r.Image, name.StrictValidation); err != nil {
		return fmt.Errorf("%w: app %s: image %q: %v", ErrInvalidRelease, r.App, r.Image, err)
	}
	if err := ValidateDigest(r.Digest); err != nil {
		return fmt.Errorf("%w: app %s: %w", ErrInvalidRelease, r.App, err)
	}
	if _, err := name.NewDigest(r.Ref(), name.StrictValidation); err != nil {
		return fmt.Errorf("%w: app %s: digest %q: %v", ErrInvalidRelease, r.App, r.Digest, err)
	}
	if r.Tag != "" {
		if _, err := name.NewTag(r.Image+":"+r.Tag, name.StrictValidation); err != nil {
			return fmt.Errorf("%w: app %s: tag %q: %v", ErrInvalidRelease, r.App, r.Tag, err)
		}
	}
	return nil
}

// ParseRelease builds a release for app from an image reference that must
// carry a digest ("repo@sha256:…" or "repo:tag@sha256:…"). The digest is
// judged by [ValidateDigest], as [Release.Validate] judges it. Errors wrap
// [ErrInvalidRelease], and [ErrInvalidDigest] for the digest.
func ParseRelease(app, ref string) (Release, error) {
	at := strings.LastIndexByte(ref, '@')
	if at < 0 {
		return Release{}, fmt.Errorf("%w: app %s: image reference %q has no digest", ErrInvalidRelease, app, ref)
	}
	if err := ValidateDigest(ref[at+1:]); err != nil {
		return Release{}, fmt.Errorf("%w: app %s: image reference %q: %w", ErrInvalidRelease, app, ref, err)
	}
	d, err := name.NewDigest(ref, name.StrictValidation)
	if err != nil {
		return Release{}, fmt.Errorf("%w: app %s: image reference %q: %v", ErrInvalidRelease, app, ref, err)
	}
	r := Release{App: app, Image: d.Context().Name(), Digest: d.DigestStr()}
	if t, err := name.NewTag(ref[:len(ref)-len(d.DigestStr())-1], name.StrictValidation); err == nil && hasExplicitTag(ref) {
		r.Tag = t.TagStr()
	}
	return r, r.Validate()
}

func hasExplicitTag(ref string) bool {
	at := len(ref)
	for i := range ref {
		if ref[i] == '@' {
			at = i
			break
		}
	}
	base := ref[:at]
	for i := len(base) - 1; i >= 0; i-- {
		switch base[i] {
		case ':':
			return true
		case '/':
			return false
		}
	}
	return false
}
