package sim

import (
	"errors"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// imageRef is an image reference normalised as the kubelet reads it:
// repo is the full repository name with Docker Hub's implicit registry and
// library/ namespace spelled out ("index.docker.io/library/nginx"); tag
// and digest are empty when the reference names none.
type imageRef struct{ repo, tag, digest string }

// parseImage parses s with go-containerregistry's name package (weak
// validation: registry and namespace may be implied). The error is the
// parser's reason.
func parseImage(s string) (imageRef, error) {
	if s == "" {
		return imageRef{}, errors.New("empty reference")
	}
	if strings.Contains(s, "://") {
		return imageRef{}, errors.New("an image reference has no URL scheme")
	}
	base, _, hasDigest := strings.Cut(s, "@")
	var r imageRef
	if hasDigest {
		d, err := name.NewDigest(s)
		if err != nil {
			return imageRef{}, err
		}
		r.digest = d.DigestStr()
	}
	if repo, err := name.NewRepository(base); err == nil {
		r.repo = repo.Name()
		return r, nil
	}
	t, err := name.NewTag(base)
	if err != nil {
		return imageRef{}, err
	}
	r.repo, r.tag = t.Context().Name(), t.TagStr()
	return r, nil
}

// behaviorKey is the normalised form of a [WithBehavior] image: a digest
// identifies the image, so a key with a digest drops its tag.
func behaviorKey(image string) (imageRef, error) {
	r, err := parseImage(image)
	if err != nil {
		return imageRef{}, err
	}
	if r.digest != "" {
		r.tag = ""
	}
	return r, nil
}

// behavior returns the behaviour of pods running image, most specific key
// first: the digest (in that repository), then the tag (an image with
// neither tag nor digest runs "latest", as the kubelet pulls it), then
// the repository, then the cluster's default. An image that does not
// parse gets none: the kubelet refuses it (see pod.invalidImage). c.mu is
// held.
func (c *Cluster) behavior(image string) Behavior {
	r, err := parseImage(image)
	if err != nil {
		return c.defaultBehavior
	}
	if r.digest != "" {
		if b, ok := c.behaviors[imageRef{repo: r.repo, digest: r.digest}]; ok {
			return b
		}
	}
	tag := r.tag
	if tag == "" && r.digest == "" {
		tag = name.DefaultTag
	}
	if tag != "" {
		if b, ok := c.behaviors[imageRef{repo: r.repo, tag: tag}]; ok {
			return b
		}
	}
	if b, ok := c.behaviors[imageRef{repo: r.repo}]; ok {
		return b
	}
	return c.defaultBehavior
}
