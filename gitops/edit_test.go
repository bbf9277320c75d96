package gitops_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
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
  digest: ` + digestA + `
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
	files := map[string]string{"o/kustomization.yaml": kust, "bad/kustomization.yaml": "images: [\n", "list/kustomization.yaml": "images: nope\n"}
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
		{"bad digest", gitops.SetImage{Dir: "o", Name: "nginx", Digest: "sha256:1234"}, gitops.ErrInvalidImage, `digest "sha256:1234"`},
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
