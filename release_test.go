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
		"no digest":    {flightdeck.Release{App: "api", Image: "registry.example.com/x/y"}, `invalid release: app api: invalid digest: empty; pin by the manifest digest`},
		"short digest": {flightdeck.Release{App: "api", Image: "registry.example.com/x/y", Digest: "sha256:abc"}, `invalid release: app api: invalid digest: "sha256:abc": sha256 wants 64 lower-case hex digits, got 3 characters`},
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

func TestValidateDigest(t *testing.T) {
	cases := map[string]string{ // digest -> "" or part of the reason
		dig:                                 "",
		"sha256:" + strings.Repeat("f", 64): "",
		"":                                  "empty",
		"sha256":                            "not algorithm:hex",
		"sha256:":                           "not algorithm:hex",
		":" + strings.Repeat("a", 64):       "not algorithm:hex",
		"SHA256:" + strings.Repeat("a", 64): "not algorithm:hex",
		"sha256:" + strings.Repeat("A", 64): "lower case",
		"sha256:" + strings.Repeat("a", 63): "got 63 characters",
		"sha256:" + strings.Repeat("a", 65): "got 65 characters",
		"sha256:" + strings.Repeat("g", 64): "64 lower-case hex",
		"sha256:" + strings.Repeat("a", 64) + " ":                         "not algorithm:hex",
		"sha512:" + strings.Repeat("a", 128):                              "sha256 only",
		"sha384:" + strings.Repeat("a", 96):                               "not registered by OCI",
		"blake3:" + strings.Repeat("a", 64):                               "not registered by OCI",
		"multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8": "not registered by OCI",
	}
	for d, reason := range cases {
		t.Run(d, func(t *testing.T) {
			err := flightdeck.ValidateDigest(d)
			if reason == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, flightdeck.ErrInvalidDigest)
			assert.ErrorContains(t, err, reason)
		})
	}
}

// ParseRelease and Release.Validate judge a digest by ValidateDigest.
func TestReleaseDigestsAgree(t *testing.T) {
	for _, d := range []string{dig, "sha256:" + strings.Repeat("A", 64), "sha512:" + strings.Repeat("a", 128), "sha384:" + strings.Repeat("a", 96), "sha256:abc"} {
		t.Run(d, func(t *testing.T) {
			want := flightdeck.ValidateDigest(d)
			_, parseErr := flightdeck.ParseRelease("api", "registry.example.com/api:v1@"+d)
			validateErr := flightdeck.Release{App: "api", Image: "registry.example.com/api", Digest: d}.Validate()
			if want == nil {
				assert.NoError(t, parseErr)
				assert.NoError(t, validateErr)
				return
			}
			for _, err := range []error{parseErr, validateErr} {
				assert.ErrorIs(t, err, flightdeck.ErrInvalidRelease)
				assert.ErrorIs(t, err, flightdeck.ErrInvalidDigest)
				assert.ErrorContains(t, err, want.Error())
			}
		})
	}
}
