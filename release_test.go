package flightdeck_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/flightdeck-dev/flightdeck"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const dig = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseRelease(t *testing.T) {
	r, err := flightdeck.ParseRelease("api", "registry.example.com/team/api:v1.2@"+dig)
	require.NoError(t, err)
	assert.Equal(t, "registry.example.com/team/api", r.Image)
	assert.Equal(t, dig, r.Digest)
	assert.Equal(t, "v1.2", r.Tag)
	assert.Equal(t, "registry.example.com/team/api@"+dig, r.Ref())

	r, err = flightdeck.ParseRelease("api", "localhost:5000/api@"+dig)
	require.NoError(t, err)
	assert.Equal(t, "localhost:5000/api", r.Image)
	assert.Empty(t, r.Tag)
}

func TestReleaseValidateErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		r   flightdeck.Release
		msg string
	}{
		"bad app":      {flightdeck.Release{App: "Bad/App", Image: "x/y", Digest: dig}, `invalid release: app name "Bad/App" is not a valid name; use lower-case letters, digits, '-', '.' and '_', starting and ending with a letter or digit`},
		"empty image":  {flightdeck.Release{App: "api", Digest: dig}, `invalid release: app api: image is empty; set it to the repository without tag or digest, for example registry.example.com/team/api`},
		"bad image":    {flightdeck.Release{App: "api", Image: "UPPER/case", Digest: dig}, `invalid release: app api: image "UPPER/case": `},
		"no registry":  {flightdeck.Release{App: "api", Image: "x/y", Digest: dig}, `invalid release: app api: image "x/y": `},
		"no digest":    {flightdeck.Release{App: "api", Image: "registry.example.com/x/y"}, `invalid release: app api: digest "": `},
		"short digest": {flightdeck.Release{App: "api", Image: "registry.example.com/x/y", Digest: "sha256:abc"}, `invalid release: app api: digest "sha256:abc": `},
		"bad tag":      {flightdeck.Release{App: "api", Image: "registry.example.com/x/y", Digest: dig, Tag: "no spaces"}, `invalid release: app api: tag "no spaces": `},
	} {
		t.Run(name, func(t *testing.T) {
			err := tt.r.Validate()
			require.Error(t, err)
			assert.True(t, errors.Is(err, flightdeck.ErrInvalidRelease))
			assert.True(t, strings.HasPrefix(err.Error(), tt.msg), "%q does not start with %q", err, tt.msg)
			assert.Equal(t, 1, strings.Count(err.Error(), "invalid release"), "no stutter in %q", err)
			assert.False(t, strings.HasSuffix(err.Error(), "\n"))
		})
	}
	_, err := flightdeck.ParseRelease("api", "x/y:latest")
	assert.ErrorIs(t, err, flightdeck.ErrInvalidRelease)
}

func TestEnvironmentOverlayPath(t *testing.T) {
	assert.Equal(t, "overlays/dev", flightdeck.Environment{Name: "dev"}.OverlayPath())
	assert.Equal(t, "envs/p", flightdeck.Environment{Name: "prod", Path: "envs/p"}.OverlayPath())
	assert.True(t, flightdeck.ValidName("checkout-v2"))
	assert.False(t, flightdeck.ValidName("../etc"))
}
