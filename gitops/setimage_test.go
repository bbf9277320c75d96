package gitops_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

const commented = `images:
# the web tier
- name: nginx # web
  newName: mirror.example.com/nginx # our mirror
  # pinned by the release bot
  newTag: "1.25" # pinned
  tagSuffix: -alpine # suffix
- name: redis
  digest: sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc # redis pin
`

const redisEntry = `- name: redis
  digest: sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc # redis pin
`

// SetImage replaces the whole entry as `kustomize edit set image` does,
// and every comment of the file survives: the comments of a removed key
// move to the key that takes its place, else to the key before it.
func TestSetImageReplacesTheEntryAndKeepsEveryComment(t *testing.T) {
	cases := []struct {
		arg  string
		want string
	}{
		{"nginx:1.26", `images:
# the web tier
- name: nginx # web # our mirror
  # pinned by the release bot
  newTag: "1.26" # pinned # suffix
` + redisEntry},
		{"nginx@" + digestA, `images:
# the web tier
- name: nginx # web # our mirror
  # pinned by the release bot
  digest: ` + digestA + ` # pinned # suffix
` + redisEntry},
		{"nginx=ghcr.io/acme/nginx", `images:
# the web tier
- name: nginx # web
  # pinned by the release bot
  newName: ghcr.io/acme/nginx # our mirror # pinned # suffix
` + redisEntry},
		{"nginx=*:1.27", `images:
# the web tier
- name: nginx # web
  newName: mirror.example.com/nginx # our mirror
  # pinned by the release bot
  newTag: "1.27" # pinned # suffix
` + redisEntry},
		{"nginx=*:*@" + digestA, `images:
# the web tier
- name: nginx # web
  newName: mirror.example.com/nginx # our mirror
  # pinned by the release bot
  digest: ` + digestA + ` # pinned # suffix
` + redisEntry},
		{"nginx:*", `images:
# the web tier
- name: nginx # web # our mirror
  # pinned by the release bot
  newTag: "1.25" # pinned # suffix
` + redisEntry},
		{"redis:7", strings.Replace(commented, redisEntry, "- name: redis\n  newTag: \"7\" # redis pin\n", 1)},
		{"redis=*:*@*", commented},
		{"new=ghcr.io/x/new:v1@" + digestA, commented + `- name: new
  newName: ghcr.io/x/new
  digest: ` + digestA + `
`},
	}
	for _, c := range cases {
		t.Run(c.arg, func(t *testing.T) {
			e, err := gitops.ParseSetImage("o", c.arg)
			require.NoError(t, err)
			got, err := applyEdit(t, map[string]string{"o/kustomization.yaml": commented}, e, "o/kustomization.yaml")
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
			assertCommentsKept(t, commented, got)
		})
	}
}

var commentRE = regexp.MustCompile(`#[^#\n]*[^#\s]`)

// assertCommentsKept checks that every comment of in is in out.
func assertCommentsKept(t *testing.T, in, out string) {
	t.Helper()
	for _, c := range commentRE.FindAllString(in, -1) {
		assert.Contains(t, out, c, "comment lost")
	}
}

// The one deliberate difference from the CLI: an entry that ends up with
// a digest has no newTag, whether the tag was given or kept.
func TestSetImageDigestDropsTag(t *testing.T) {
	for _, e := range []gitops.SetImage{
		{Dir: "o", Name: "nginx", NewTag: "1.26", Digest: digestA},
		{Dir: "o", Name: "nginx", NewName: gitops.KeepCurrent, NewTag: gitops.KeepCurrent, Digest: digestA},
	} {
		got, err := applyEdit(t, map[string]string{"o/kustomization.yaml": commented}, e, "o/kustomization.yaml")
		require.NoError(t, err)
		assert.NotContains(t, got, "newTag")
		assert.Contains(t, got, "digest: "+digestA+" # pinned # suffix")
	}
}

func TestSetImageNullImagesBecomesAList(t *testing.T) {
	got, err := applyEdit(t, map[string]string{"o/kustomization.yaml": "resources:\n- base\nimages: # overrides\n"},
		gitops.SetImage{Dir: "o", Name: "nginx", NewTag: "1"}, "o/kustomization.yaml")
	require.NoError(t, err)
	assert.Equal(t, "resources:\n- base\nimages: # overrides\n- name: nginx\n  newTag: \"1\"\n", got)
}

// A kustomization file that holds more than one document keeps every
// one of them, byte for byte, with its separators and comments.
func TestSetImageMultiDocument(t *testing.T) {
	in := `# leading comment
--- # the kustomization
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
- name: nginx
  newTag: "1.0" # old
...
# between documents
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: notes   # odd   spacing kept
data: {a: "1"}
`
	got, err := applyEdit(t, map[string]string{"o/kustomization.yaml": in},
		gitops.SetImage{Dir: "o", Name: "nginx", Digest: digestA}, "o/kustomization.yaml")
	require.NoError(t, err)
	assert.Equal(t, strings.Replace(in, `newTag: "1.0" # old`, "digest: "+digestA+" # old", 1), got)
}

func TestParseSetImage(t *testing.T) {
	cases := map[string]gitops.SetImage{
		"nginx:1.26":                         {Name: "nginx", NewTag: "1.26"},
		"nginx@" + digestA:                   {Name: "nginx", Digest: digestA},
		"nginx:1.26@" + digestA:              {Name: "nginx", NewTag: "1.26", Digest: digestA},
		"nginx=ghcr.io/a/nginx":              {Name: "nginx", NewName: "ghcr.io/a/nginx"},
		"nginx=ghcr.io/a/nginx:1":            {Name: "nginx", NewName: "ghcr.io/a/nginx", NewTag: "1"},
		"nginx=ghcr.io/a/nginx@" + digestA:   {Name: "nginx", NewName: "ghcr.io/a/nginx", Digest: digestA},
		"nginx=ghcr.io/a/n:1@" + digestA:     {Name: "nginx", NewName: "ghcr.io/a/n", NewTag: "1", Digest: digestA},
		"nginx=*:1.27":                       {Name: "nginx", NewName: "*", NewTag: "1.27"},
		"nginx=*":                            {Name: "nginx", NewName: "*"},
		"nginx:*":                            {Name: "nginx", NewTag: "*"},
		"nginx@*":                            {Name: "nginx", Digest: "*"},
		"nginx=*:*@*":                        {Name: "nginx", NewName: "*", NewTag: "*", Digest: "*"},
		"localhost:5000/team/app:v1":         {Name: "localhost:5000/team/app", NewTag: "v1"},
		"localhost:5000/team/app@" + digestA: {Name: "localhost:5000/team/app", Digest: digestA},
		"reg.io:443/a=reg2.io:5000/b:v2":     {Name: "reg.io:443/a", NewName: "reg2.io:5000/b", NewTag: "v2"},
		"nginx:":                             {Name: "nginx"},
	}
	for arg, want := range cases {
		t.Run(arg, func(t *testing.T) {
			got, err := gitops.ParseSetImage("o", arg)
			if want.NewName == "" && want.NewTag == "" && want.Digest == "" {
				assert.ErrorIs(t, err, gitops.ErrInvalidImage)
				return
			}
			require.NoError(t, err)
			want.Dir = "o"
			assert.Equal(t, want, got)
		})
	}
	for _, arg := range []string{"nginx", "", "nginx="} {
		_, err := gitops.ParseSetImage("o", arg)
		assert.ErrorIs(t, err, gitops.ErrInvalidImage, arg)
	}
}

// SetImage, flightdeck.ParseRelease and Release.Validate agree on what a
// digest is: flightdeck.ValidateDigest.
func TestSetImageDigestsAgreeWithRelease(t *testing.T) {
	for _, d := range []string{digestA, "sha256:" + strings.Repeat("A", 64), "sha512:" + strings.Repeat("a", 128), "sha384:" + strings.Repeat("a", 96), "sha256:abc", "md5:" + strings.Repeat("a", 32)} {
		t.Run(d, func(t *testing.T) {
			want := flightdeck.ValidateDigest(d)
			_, releaseErr := flightdeck.ParseRelease("web", "ghcr.io/acme/web@"+d)
			_, editErr := applyEdit(t, map[string]string{"o/kustomization.yaml": kust}, gitops.SetImage{Dir: "o", Name: "nginx", Digest: d}, "o/kustomization.yaml")
			if want == nil {
				assert.NoError(t, releaseErr)
				assert.NoError(t, editErr)
				return
			}
			assert.ErrorIs(t, releaseErr, flightdeck.ErrInvalidDigest)
			assert.ErrorIs(t, editErr, flightdeck.ErrInvalidDigest)
			assert.ErrorIs(t, editErr, gitops.ErrInvalidImage)
			assert.ErrorContains(t, editErr, want.Error())
		})
	}
}

// Comments in every position a kustomization has them survive each kind
// of SetImage edit.
func TestSetImageKeepsCommentsEverywhere(t *testing.T) {
	const rich = `# top of file
apiVersion: kustomize.config.k8s.io/v1beta1 # api
kind: Kustomization
# resources block
resources: # the bases
  - ../../base # shared
  # more to come
images: # overrides
  # first entry
  - name: nginx # web
    # tag below
    newTag: "1.25" # pinned
    # after tag
  # between entries
  - name: redis # cache
    digest: sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
  # after the last entry
namespace: prod # ns
# end of file
`
	for _, arg := range []string{"nginx@" + digestA, "nginx=ghcr.io/x/nginx", "nginx=ghcr.io/x/nginx:2@" + digestA, "redis:7", "redis=*", "new:1", "nginx:1.26"} {
		t.Run(arg, func(t *testing.T) {
			e, err := gitops.ParseSetImage("o", arg)
			require.NoError(t, err)
			got, err := applyEdit(t, map[string]string{"o/kustomization.yaml": rich}, e, "o/kustomization.yaml")
			require.NoError(t, err)
			assertCommentsKept(t, rich, got)
			assert.Contains(t, got, "  - ../../base # shared\n", "indentation kept")
		})
	}
}
