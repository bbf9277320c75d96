package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBehaviorKeyShapesAgainstRenderedShapes walks every shape a
// behaviour key can take against every shape a rendered manifest can
// name an image in, and says which keys cover which images.
func TestBehaviorKeyShapesAgainstRenderedShapes(t *testing.T) {
	dig := "sha256:" + fmt.Sprintf("%064x", 1)
	other := "sha256:" + fmt.Sprintf("%064x", 2)
	const repo = "registry.example/shop/web"
	rendered := map[string]string{
		"repo":            repo,
		"repo:v2":         repo + ":v2",
		"repo:v3":         repo + ":v3",
		"repo:latest":     repo + ":latest",
		"repo@dig":        repo + "@" + dig,
		"repo:v2@dig":     repo + ":v2@" + dig,
		"repo:v3@dig":     repo + ":v3@" + dig,
		"repo@other":      repo + "@" + other,
		"repo:v2@other":   repo + ":v2@" + other,
		"other-repo:v2":   "registry.example/shop/api:v2",
		"other-registry":  "mirror.example/shop/web:v2@" + dig,
		"prefix-sibling":  repo + "-canary:v2",
		"unparseable":     "Registry.Example/Shop:v2",
		"registry port":   "localhost:5000/web:v2",
		"hub short":       "nginx:1.27",
		"hub bare":        "nginx",
		"hub library":     "docker.io/library/nginx:1.27",
		"hub index":       "index.docker.io/library/nginx:1.27",
		"hub user":        "acme/nginx:1.27",
		"hub digest":      "nginx@" + dig,
		"hub tag+digest":  "docker.io/nginx:1.27@" + dig,
		"hub other tag":   "nginx:1.26",
		"hub user digest": "docker.io/acme/nginx@" + dig,
	}
	tests := []struct {
		key     string
		matches []string // names of rendered shapes the key covers; every other one gets the default
	}{
		{repo + ":v2@" + dig, []string{"repo@dig", "repo:v2@dig", "repo:v3@dig"}},
		{repo + "@" + dig, []string{"repo@dig", "repo:v2@dig", "repo:v3@dig"}},
		{repo + ":v2", []string{"repo:v2", "repo:v2@dig", "repo:v2@other"}},
		{repo + ":latest", []string{"repo", "repo:latest"}},
		{repo, []string{"repo", "repo:v2", "repo:v3", "repo:latest", "repo@dig", "repo:v2@dig", "repo:v3@dig", "repo@other", "repo:v2@other"}},
		{"localhost:5000/web", []string{"registry port"}},
		{"nginx:1.27", []string{"hub short", "hub library", "hub index", "hub tag+digest"}},
		{"docker.io/library/nginx:1.27", []string{"hub short", "hub library", "hub index", "hub tag+digest"}},
		{"index.docker.io/nginx:1.27", []string{"hub short", "hub library", "hub index", "hub tag+digest"}},
		{"nginx", []string{"hub short", "hub bare", "hub library", "hub index", "hub digest", "hub tag+digest", "hub other tag"}},
		{"nginx:latest", []string{"hub bare"}},
		{"docker.io/nginx@" + dig, []string{"hub digest", "hub tag+digest"}},
		{"acme/nginx", []string{"hub user", "hub user digest"}},
	}
	marked := Behavior{ReadyAfter: 42 * time.Second}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			c := New(NewClock(time.Time{}))
			require.NoError(t, c.SetBehavior(tt.key, marked))
			want := map[string]bool{}
			for _, m := range tt.matches {
				_, ok := rendered[m]
				require.True(t, ok, "unknown shape %q", m)
				want[m] = true
			}
			for shape, image := range rendered {
				got := c.behavior(image) == marked
				assert.Equal(t, want[shape], got, "key %q, rendered %s %q", tt.key, shape, image)
			}
		})
	}
}

func TestMostSpecificBehaviorWins(t *testing.T) {
	dig := "sha256:" + fmt.Sprintf("%064x", 1)
	c := New(NewClock(time.Time{}))
	byRepo, byTag, byDigest := Behavior{ReadyAfter: 1}, Behavior{ReadyAfter: 2}, Behavior{ReadyAfter: 3}
	require.NoError(t, c.SetBehavior("docker.io/library/web", byRepo))
	require.NoError(t, c.SetBehavior("web:v2", byTag))
	require.NoError(t, c.SetBehavior("index.docker.io/library/web@"+dig, byDigest))
	assert.Equal(t, byDigest, c.behavior("web:v2@"+dig), "digest over tag")
	assert.Equal(t, byTag, c.behavior("web:v2"), "tag over repository")
	assert.Equal(t, byRepo, c.behavior("web:v9"))
	assert.Equal(t, DefaultBehavior, c.behavior("api:v2"))

	// Another spelling of a key is the same key: the later call wins.
	require.NoError(t, c.SetBehavior("docker.io/web:v2", byRepo))
	assert.Equal(t, byRepo, c.behavior("web:v2"))
}

func TestSetBehaviorRefusesUnparseableImage(t *testing.T) {
	c := New(NewClock(time.Time{}))
	for _, bad := range []string{"", "Web:v1", "web:", "web@sha256:short", "web:v1@md5:abc", "http://registry.example/web", "web@@" + fmt.Sprintf("sha256:%064x", 1)} {
		err := c.SetBehavior(bad, Behavior{NeverReady: true})
		require.ErrorIs(t, err, ErrInvalidImage, "%q", bad)
		assert.Contains(t, err.Error(), fmt.Sprintf("sim: behavior for image %q: invalid image reference: ", bad))
		assert.Contains(t, err.Error(), "; write repository[:tag][@sha256:digest]")
	}
	assert.Empty(t, c.behaviors, "a refused key changes nothing")
	assert.PanicsWithValue(t, `sim.New: WithBehavior: sim: behavior for image "Web:v1": invalid image reference: repository can only contain the characters `+"`abcdefghijklmnopqrstuvwxyz0123456789_-./`"+`: Web; write repository[:tag][@sha256:digest]`,
		func() { New(NewClock(time.Time{}), WithBehavior("Web:v1", Behavior{})) })
}
