package image

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Standard OCI annotation keys written as image labels.
const (
	// LabelSource is the OCI label holding the URL of the source
	// repository the image was built from.
	LabelSource = "org.opencontainers.image.source"
	// LabelRevision is the OCI label holding the source revision (commit).
	LabelRevision = "org.opencontainers.image.revision"
	// LabelCreated is the OCI label holding the build time (RFC 3339).
	LabelCreated = "org.opencontainers.image.created"
)

// Scratch is the Base value for an empty base image. The empty string
// means the same.
const Scratch = "scratch"

// Config is the runtime configuration written into the image config.
// Zero fields keep the base image's values (for scratch: unset).
type Config struct {
	// Entrypoint replaces the base entrypoint when non-nil.
	Entrypoint []string
	// Cmd replaces the base command when non-nil.
	Cmd []string
	// Env entries "KEY=value" are merged into the base environment; a key
	// given here replaces the base's value for it.
	Env []string
	// User is the user (name or uid[:gid]) the process runs as.
	User string
	// WorkingDir is the process's working directory.
	WorkingDir string
	// Labels are merged into the base labels.
	Labels map[string]string
	// Source is written as the org.opencontainers.image.source label.
	// It must not contain credentials.
	Source string
	// Revision is written as the org.opencontainers.image.revision label.
	Revision string
}

// Spec describes one image to build. The zero value builds an empty
// scratch image for linux/amd64.
type Spec struct {
	// Base is the base image reference, or "" / [Scratch] for an empty
	// base. Pin remote bases by digest for reproducible builds.
	Base string
	// Platform is the image's platform. Nil means linux/amd64. For a
	// remote base that is an index, the matching image is selected.
	Platform *v1.Platform
	// Layers are appended on top of the base, in order.
	Layers []Layer
	// Config is the runtime configuration.
	Config Config
	// Created is the build time written to the config, history and every
	// file's modification time, truncated to seconds. Zero means the Unix
	// epoch, so that builds are reproducible by default.
	Created time.Time
}

func (s Spec) platform() v1.Platform {
	if s.Platform == nil {
		return v1.Platform{OS: "linux", Architecture: "amd64"}
	}
	return *s.Platform
}

func (s Spec) created() time.Time {
	if s.Created.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return s.Created.UTC().Truncate(time.Second)
}

// Build builds the image described by spec. Layers are written
// reproducibly (see [Layer]) and held compressed in memory. A remote base
// is fetched lazily with the client's keychain.
//
// Errors wrap [ErrInvalidSpec] for a bad layer or config,
// [ErrInvalidReference] for an unparsable base reference, and a
// [*RegistryError] when fetching the base fails.
func (c *Client) Build(ctx context.Context, spec Spec) (v1.Image, error) {
	base, err := c.base(ctx, spec)
	if err != nil {
		return nil, err
	}
	return build(base, spec)
}

func (c *Client) base(ctx context.Context, spec Spec) (v1.Image, error) {
	if spec.Base == "" || spec.Base == Scratch {
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		p := spec.platform()
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = p.OS, p.Architecture, p.Variant, p.OSVersion
		return mutate.ConfigFile(img, cf)
	}
	ref, err := name.ParseReference(spec.Base)
	if err != nil {
		return nil, fmt.Errorf("%w: base %q: %v", ErrInvalidReference, spec.Base, err)
	}
	// The base's layers are fetched lazily, when the image is pushed,
	// possibly after ctx has ended (a pipeline's build step finishes
	// before its push step starts). So the remote handle gets a context
	// that ctx cancels only while Build runs; the push's own context
	// governs the upload that streams those layers.
	lazy, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	var img v1.Image
	err = c.retry(ctx, "fetch base", ref.String(), func(context.Context) error {
		var err error
		img, err = remote.Image(ref, c.remoteOptions(lazy, remote.WithPlatform(spec.platform()))...)
		if err != nil {
			return err
		}
		// Resolve the manifest and config now so errors surface here.
		_, err = img.ConfigFile()
		return err
	})
	if !stop() || err != nil {
		cancel()
		if err == nil {
			err = &RegistryError{Op: "fetch base", Ref: ref.String(), Err: ctx.Err()}
		}
		return nil, err
	}
	return img, nil
}

func build(base v1.Image, spec Spec) (v1.Image, error) {
	created := spec.created()
	mt, err := base.MediaType()
	if err != nil {
		return nil, fmt.Errorf("base media type: %w", err)
	}
	layerType := types.OCILayer
	if mt == types.DockerManifestSchema2 {
		layerType = types.DockerLayer
	}
	adds := make([]mutate.Addendum, 0, len(spec.Layers))
	for i, l := range spec.Layers {
		gl, err := buildLayer(l, created, layerType)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		comment := l.Comment
		if comment == "" {
			comment = fmt.Sprintf("flightdeck layer %d", i)
		}
		adds = append(adds, mutate.Addendum{
			Layer:     gl,
			MediaType: layerType,
			History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: comment},
		})
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, fmt.Errorf("append layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cf = cf.DeepCopy()
	if err := applyConfig(&cf.Config, spec.Config); err != nil {
		return nil, err
	}
	cf.Created = v1.Time{Time: created}
	if spec.Platform != nil && (spec.Base == "" || spec.Base == Scratch) {
		p := spec.platform()
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	}
	return mutate.ConfigFile(img, cf)
}

func applyConfig(dst *v1.Config, c Config) error {
	if c.Entrypoint != nil {
		dst.Entrypoint = append([]string(nil), c.Entrypoint...)
	}
	if c.Cmd != nil {
		dst.Cmd = append([]string(nil), c.Cmd...)
	}
	if c.User != "" {
		dst.User = c.User
	}
	if c.WorkingDir != "" {
		if !strings.HasPrefix(c.WorkingDir, "/") {
			return fmt.Errorf("%w: working directory %q is not absolute", ErrInvalidSpec, c.WorkingDir)
		}
		dst.WorkingDir = c.WorkingDir
	}
	for _, kv := range c.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("%w: environment entry %q is not KEY=value", ErrInvalidSpec, kv)
		}
		replaced := false
		for i, old := range dst.Env {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				dst.Env[i], replaced = kv, true
			}
		}
		if !replaced {
			dst.Env = append(dst.Env, kv)
		}
	}
	labels := maps.Clone(dst.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, c.Labels)
	if c.Source != "" {
		if u, err := url.Parse(c.Source); err == nil && u.User != nil {
			return fmt.Errorf("%w: source URL must not carry credentials", ErrInvalidSpec)
		}
		labels[LabelSource] = c.Source
	}
	if c.Revision != "" {
		labels[LabelRevision] = c.Revision
	}
	if len(labels) > 0 {
		dst.Labels = labels
	}
	return nil
}

// BuildIndex builds one image per spec and combines them into an OCI
// image index, each manifest annotated with its spec's platform. Every
// spec must name a distinct platform.
//
// Errors wrap [ErrInvalidSpec] for an empty list or duplicate platforms,
// and otherwise are those of [Client.Build], naming the platform.
func (c *Client) BuildIndex(ctx context.Context, specs []Spec) (v1.ImageIndex, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("%w: an index needs at least one image", ErrInvalidSpec)
	}
	seen := map[string]bool{}
	adds := make([]mutate.IndexAddendum, 0, len(specs))
	for _, s := range specs {
		p := s.platform()
		if seen[p.String()] {
			return nil, fmt.Errorf("%w: platform %s is given twice", ErrInvalidSpec, p)
		}
		seen[p.String()] = true
		img, err := c.Build(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("platform %s: %w", p, err)
		}
		mt, err := img.MediaType()
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{MediaType: mt, Platform: &p},
		})
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	return mutate.AppendManifests(idx, adds...), nil
}
