package gitops_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

func applyEdit(t *testing.T, files map[string]string, e gitops.Edit, path string) (string, error) {
	t.Helper()
	s, root := memTree(t, files)
	tr := gitops.NewTree(s, root)
	if err := e.Apply(tr); err != nil {
		return "", err
	}
	got, err := tr.ReadFile(path)
	require.NoError(t, err)
	return string(got), nil
}

const kust = `# overlay for prod
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base
images:
- name: nginx # the web server
  newTag: 1.25.0 # pinned
- name: redis
  digest: sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
namespace: prod
`

func TestSetImage(t *testing.T) {
	cases := []struct {
		name string
		edit gitops.SetImage
		want string
	}{
		{"digest drops newTag and keeps comments", gitops.SetImage{Dir: "o", Name: "nginx", Digest: digestA}, `# overlay for prod
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base
images:
- name: nginx # the web server
  digest: ` + digestA + ` # pinned
- name: redis
  digest: sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
namespace: prod
`},
		{"tag drops digest", gitops.SetImage{Dir: "o", Name: "redis", NewTag: "7.2"}, `# overlay for prod
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base
images:
- name: nginx # the web server
  newTag: 1.25.0 # pinned
- name: redis
  newTag: "7.2"
namespace: prod
`},
		{"tag in place keeps its comment", gitops.SetImage{Dir: "o", Name: "nginx", NewTag: "1.26.0"}, `# overlay for prod
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base
images:
- name: nginx # the web server
  newTag: 1.26.0 # pinned
- name: redis
  digest: sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
namespace: prod
`},
		{"new entry with newName is appended", gitops.SetImage{Dir: "o", Name: "app", NewName: "ghcr.io/acme/app", NewTag: "v1"}, `# overlay for prod
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base
images:
- name: nginx # the web server
  newTag: 1.25.0 # pinned
- name: redis
  digest: sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
- name: app
  newName: ghcr.io/acme/app
  newTag: v1
namespace: prod
`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := applyEdit(t, map[string]string{"o/kustomization.yaml": kust}, c.edit, "o/kustomization.yaml")
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestSetImageCreatesImagesAndKeepsWideIndent(t *testing.T) {
	in := "resources:\n  - ../../base\n"
	got, err := applyEdit(t, map[string]string{"o/kustomization.yml": in},
		gitops.SetImage{Dir: "o", Name: "nginx", Digest: digestA}, "o/kustomization.yml")
	require.NoError(t, err)
	assert.Equal(t, "resources:\n  - ../../base\nimages:\n  - name: nginx\n    digest: "+digestA+"\n", got)
}

func TestSetImageErrors(t *testing.T) {
	files := map[string]string{
		"o/kustomization.yaml": kust, "bad/kustomization.yaml": "images: [\n", "list/kustomization.yaml": "images: nope\n",
		"dup/kustomization.yaml":    "images:\n- name: nginx\n  newTag: a\n- name: nginx\n  newTag: b\n- name: redis\n  newTag: x\n  digest: sha256:abc\n",
		"empty/readme.md":           "",
		"twice/kustomization.yaml":  "kind: Kustomization\n---\nkind: Component\n",
		"deploy/kustomization.yaml": "kind: Deployment\nmetadata:\n  name: web\n",
	}
	cases := []struct {
		name   string
		edit   gitops.SetImage
		target error
		text   string
	}{
		{"no name", gitops.SetImage{Dir: "o", Digest: digestA}, gitops.ErrInvalidImage, "empty image name"},
		{"nothing to set", gitops.SetImage{Dir: "o", Name: "nginx"}, gitops.ErrInvalidImage, "nothing to set"},
		{"bad name", gitops.SetImage{Dir: "o", Name: "UPPER/Case", NewTag: "v1"}, gitops.ErrInvalidImage, `name "UPPER/Case"`},
		{"bad tag", gitops.SetImage{Dir: "o", Name: "nginx", NewTag: "bad tag!"}, gitops.ErrInvalidImage, "nginx:bad tag!"},
		{"bad digest", gitops.SetImage{Dir: "o", Name: "nginx", Digest: "sha256:1234"}, flightdeck.ErrInvalidDigest, `"sha256:1234": sha256 wants 64`},
		{"upper-case digest", gitops.SetImage{Dir: "o", Name: "nginx", Digest: "sha256:" + strings.Repeat("A", 64)}, flightdeck.ErrInvalidDigest, "lower case"},
		{"sha512 digest", gitops.SetImage{Dir: "o", Name: "nginx", Digest: "sha512:" + strings.Repeat("a", 128)}, flightdeck.ErrInvalidDigest, "sha256 only"},
		{"bad tag dropped by a digest", gitops.SetImage{Dir: "o", Name: "nginx", NewTag: "bad tag", Digest: digestA}, gitops.ErrInvalidImage, "nginx:bad tag"},
		{"kept digest is checked", gitops.SetImage{Dir: "dup", Name: "redis", NewTag: gitops.KeepCurrent, Digest: gitops.KeepCurrent}, flightdeck.ErrInvalidDigest, `"sha256:abc"`},
		{"two entries for the name", gitops.SetImage{Dir: "dup", Name: "nginx", NewTag: "1"}, gitops.ErrInvalidYAML, "more than one entry named nginx"},
		{"dir is a file", gitops.SetImage{Dir: "o/kustomization.yaml", Name: "nginx", NewTag: "1"}, gitops.ErrNotExist, "not a directory"},
		{"dir has no kustomization", gitops.SetImage{Dir: "empty", Name: "nginx", NewTag: "1"}, gitops.ErrNotExist, "no kustomization file"},
		{"two kustomization documents", gitops.SetImage{Dir: "twice", Name: "nginx", NewTag: "1"}, gitops.ErrInvalidYAML, "ambiguous: 2 documents could be the kustomization: document 1 (Kustomization), document 2 (Component)"},
		{"no kustomization document", gitops.SetImage{Dir: "deploy", Name: "nginx", NewTag: "1"}, gitops.ErrInvalidYAML, "no document is a Kustomization"},
		{"trailing slash", gitops.SetImage{Dir: "o/", Name: "nginx", NewTag: "1"}, gitops.ErrInvalidPath, "trailing slash"},
		{"bad newName", gitops.SetImage{Dir: "o", Name: "nginx", NewName: "a b", NewTag: "1"}, gitops.ErrInvalidImage, `newName "a b"`},
		{"no kustomization", gitops.SetImage{Dir: "missing", Name: "nginx", NewTag: "1"}, gitops.ErrNotExist, "missing"},
		{"malformed yaml", gitops.SetImage{Dir: "bad", Name: "nginx", NewTag: "1"}, gitops.ErrInvalidYAML, "bad/kustomization.yaml"},
		{"images not a list", gitops.SetImage{Dir: "list", Name: "nginx", NewTag: "1"}, gitops.ErrInvalidYAML, "list/kustomization.yaml"},
		{"escape", gitops.SetImage{Dir: "../o", Name: "nginx", NewTag: "1"}, gitops.ErrPathEscape, "../o"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := applyEdit(t, files, c.edit, "o/kustomization.yaml")
			require.Error(t, err)
			assert.ErrorIs(t, err, c.target)
			assert.ErrorContains(t, err, c.text)
			assert.Equal(t, 1, strings.Count(err.Error(), "gitops:"), "the package is named once: %s", err)
		})
	}
}

const values = `# Helm values
replicaCount: 2 # scaled by HPA anyway
image:
  repository: ghcr.io/acme/app
  tag: "1.0" # bumped by CI
  pullPolicy: IfNotPresent
`

func TestSetField(t *testing.T) {
	cases := []struct {
		name string
		edit gitops.SetField
		want string
	}{
		{"string stays string and keeps comment", gitops.SetField{File: "values.yaml", Field: "image.tag", Value: "1.10"},
			"# Helm values\nreplicaCount: 2 # scaled by HPA anyway\nimage:\n  repository: ghcr.io/acme/app\n  tag: \"1.10\" # bumped by CI\n  pullPolicy: IfNotPresent\n"},
		{"number stays number", gitops.SetField{File: "values.yaml", Field: "replicaCount", Value: "3"},
			"# Helm values\nreplicaCount: 3 # scaled by HPA anyway\nimage:\n  repository: ghcr.io/acme/app\n  tag: \"1.0\" # bumped by CI\n  pullPolicy: IfNotPresent\n"},
		{"missing path is created", gitops.SetField{File: "values.yaml", Field: "resources.limits.cpu", Value: "500m"},
			values + "resources:\n  limits:\n    cpu: 500m\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := applyEdit(t, map[string]string{"values.yaml": values}, c.edit, "values.yaml")
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestSetFieldErrors(t *testing.T) {
	files := map[string]string{"values.yaml": values, "bad.yaml": "a: b: c\n", "list.yaml": "- a\n"}
	cases := []struct {
		name   string
		edit   gitops.SetField
		target error
	}{
		{"malformed", gitops.SetField{File: "bad.yaml", Field: "a", Value: "x"}, gitops.ErrInvalidYAML},
		{"not a mapping", gitops.SetField{File: "list.yaml", Field: "a", Value: "x"}, gitops.ErrInvalidYAML},
		{"through a scalar", gitops.SetField{File: "values.yaml", Field: "replicaCount.x", Value: "x"}, gitops.ErrInvalidYAML},
		{"onto a mapping", gitops.SetField{File: "values.yaml", Field: "image", Value: "x"}, gitops.ErrInvalidYAML},
		{"empty field", gitops.SetField{File: "values.yaml", Value: "x"}, gitops.ErrInvalidYAML},
		{"missing file", gitops.SetField{File: "nope.yaml", Field: "a", Value: "x"}, gitops.ErrNotExist},
		{"absolute", gitops.SetField{File: "/etc/values.yaml", Field: "a", Value: "x"}, gitops.ErrPathEscape},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := applyEdit(t, files, c.edit, "values.yaml")
			require.Error(t, err)
			assert.ErrorIs(t, err, c.target)
			assert.ErrorContains(t, err, c.edit.File)
			assert.Equal(t, 1, strings.Count(err.Error(), "gitops:"), "the package is named once: %s", err)
		})
	}
}

func TestFileEdits(t *testing.T) {
	files := map[string]string{"envs/staging/k.yaml": "s", "envs/prod/k.yaml": "p", "x.txt": "x"}
	got, err := applyEdit(t, files, gitops.CopyDir{From: "envs/staging", To: "envs/prod"}, "envs/prod/k.yaml")
	require.NoError(t, err)
	assert.Equal(t, "s", got)

	got, err = applyEdit(t, files, gitops.WriteFile{Path: "new/dir/f.txt", Data: []byte("n")}, "new/dir/f.txt")
	require.NoError(t, err)
	assert.Equal(t, "n", got)

	_, err = applyEdit(t, files, gitops.CopyDir{From: "x.txt", To: "y"}, "x.txt")
	assert.ErrorIs(t, err, gitops.ErrNotExist)
	_, err = applyEdit(t, files, gitops.CopyDir{From: "envs/staging", To: "../prod"}, "x.txt")
	assert.ErrorIs(t, err, gitops.ErrPathEscape)
	_, err = applyEdit(t, files, gitops.RemoveFile{Path: "nope"}, "x.txt")
	assert.ErrorIs(t, err, gitops.ErrNotExist)

	s, root := memTree(t, files)
	tr := gitops.NewTree(s, root)
	require.NoError(t, gitops.RemoveFile{Path: "envs/prod"}.Apply(tr))
	assert.False(t, tr.Exists("envs/prod/k.yaml"))
	assert.True(t, tr.Exists("envs/staging/k.yaml"))
}

// addSymlink returns a root tree that is root plus a symbolic link name
// at the top level pointing at target.
func addSymlink(t *testing.T, s *memory.Storage, root plumbing.Hash, name, target string) plumbing.Hash {
	t.Helper()
	return addEntry(t, s, root, name, filemode.Symlink, target)
}

// addEntry returns root plus the top-level entry name of mode holding
// content, written with go-git directly.
func addEntry(t *testing.T, s *memory.Storage, root plumbing.Hash, name string, mode filemode.FileMode, content string) plumbing.Hash {
	t.Helper()
	rootTree, err := object.GetTree(s, root)
	require.NoError(t, err)
	blob := s.NewEncodedObject()
	blob.SetType(plumbing.BlobObject)
	w, err := blob.Writer()
	require.NoError(t, err)
	_, err = w.Write([]byte(content))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	bh, err := s.SetEncodedObject(blob)
	require.NoError(t, err)
	entries := append([]object.TreeEntry{}, rootTree.Entries...)
	entries = append(entries, object.TreeEntry{Name: name, Mode: mode, Hash: bh})
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	obj := s.NewEncodedObject()
	require.NoError(t, (&object.Tree{Entries: entries}).Encode(obj))
	h, err := s.SetEncodedObject(obj)
	require.NoError(t, err)
	return h
}

// Edits through a symbolic link are refused as escapes, not reported as
// missing files.
func TestEditsThroughSymlinkRefused(t *testing.T) {
	s, root := memTree(t, map[string]string{"o/kustomization.yaml": kust, "values.yaml": values})
	root = addSymlink(t, s, root, "link", "/etc")
	for name, e := range map[string]gitops.Edit{
		"set-image":  gitops.SetImage{Dir: "link/o", Name: "nginx", Digest: digestA},
		"set-field":  gitops.SetField{File: "link/values.yaml", Field: "a", Value: "x"},
		"write":      gitops.WriteFile{Path: "link/x", Data: []byte("x")},
		"remove":     gitops.RemoveFile{Path: "link/x"},
		"copy from":  gitops.CopyDir{From: "link/o", To: "p"},
		"copy to":    gitops.CopyDir{From: "o", To: "link/o"},
		"copy link":  gitops.CopyDir{From: "link", To: "p"},
		"image link": gitops.SetImage{Dir: "link", Name: "nginx", Digest: digestA},
	} {
		t.Run(name, func(t *testing.T) {
			tr := gitops.NewTree(s, root)
			err := e.Apply(tr)
			require.Error(t, err)
			assert.ErrorIs(t, err, gitops.ErrPathEscape)
			assert.ErrorContains(t, err, "link")
			assert.Empty(t, tr.Changed())
		})
	}
}

// A kustomization or YAML file that is itself a symbolic link is not
// followed either.
func TestEditsOfASymlinkedFileRefused(t *testing.T) {
	s, root := memTree(t, map[string]string{"o/kustomization.yaml": kust})
	root = addSymlink(t, s, root, "kustomization.yaml", "o/kustomization.yaml")
	root = addSymlink(t, s, root, "values.yaml", "o/kustomization.yaml")
	for name, e := range map[string]gitops.Edit{
		"set-image": gitops.SetImage{Dir: ".", Name: "nginx", Digest: digestA},
		"set-field": gitops.SetField{File: "values.yaml", Field: "namespace", Value: "x"},
	} {
		t.Run(name, func(t *testing.T) {
			tr := gitops.NewTree(s, root)
			err := e.Apply(tr)
			assert.ErrorIs(t, err, gitops.ErrPathEscape)
			assert.ErrorContains(t, err, "is a symbolic link")
			assert.Empty(t, tr.Changed())
		})
	}
}

// countingStorer counts the objects read from and written to a store.
type countingStorer struct {
	*memory.Storage
	reads, writes int
}

func (c *countingStorer) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	c.reads++
	return c.Storage.EncodedObject(t, h)
}

func (c *countingStorer) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	c.writes++
	return c.Storage.SetEncodedObject(o)
}

// A bump in a monorepo costs about the files it touches: SetImage on one
// overlay of a 300-app repository reads the directories on the way to it
// and the one file, and writes one blob and the trees above it.
func TestSetImageCostIsThePathNotTheRepo(t *testing.T) {
	names := make([]string, 300)
	for i := range names {
		names[i] = fmt.Sprintf("app%03d", i)
	}
	files := map[string]string{}
	for p, c := range gitopstest.KustomizeLayout(names...) {
		files[p] = c
	}
	s, root := memTree(t, files)
	cs := &countingStorer{Storage: s}
	tr := gitops.NewTree(cs, root)
	require.NoError(t, gitops.SetImage{Dir: "apps/app123/overlays/prod", Name: gitopstest.Image("app123"), Digest: digestA}.Apply(tr))
	_, err := tr.Write()
	require.NoError(t, err)
	// root, apps, app123, overlays, prod: 5 trees; the kustomization blob,
	// possibly read twice (existence check, content).
	assert.LessOrEqual(t, cs.reads, 8, "objects read")
	assert.Equal(t, 6, cs.writes, "one blob and the five trees above it")
}
