package flightdeck_test

import (
	"errors"
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
	for name, r := range map[string]flightdeck.Release{
		"bad app":      {App: "Bad/App", Image: "x/y", Digest: dig},
		"empty image":  {App: "api", Digest: dig},
		"bad image":    {App: "api", Image: "UPPER/case", Digest: dig},
		"no digest":    {App: "api", Image: "x/y"},
		"short digest": {App: "api", Image: "x/y", Digest: "sha256:abc"},
		"bad tag":      {App: "api", Image: "x/y", Digest: dig, Tag: "no spaces"},
	} {
		t.Run(name, func(t *testing.T) {
			err := r.Validate()
			require.Error(t, err)
			assert.True(t, errors.Is(err, flightdeck.ErrInvalidRelease))
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
