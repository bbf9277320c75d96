package gitops_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
)

const webYAML = `---
# web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2 # HPA owns this later
  template:
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/web:1.0
---
# the service in front
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports: [{port: 80}]   # flow style kept
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  replicas: "2"
`

// SetField on a file with several documents changes the one it selects
// and keeps every other document, separator and comment byte for byte.
func TestSetFieldMultiDocument(t *testing.T) {
	cases := []struct {
		name     string
		edit     gitops.SetField
		old, new string
	}{
		{"the only document with the field", gitops.SetField{Field: "spec.template.spec.containers.[name=app].image", Value: "ghcr.io/acme/web:1.1"},
			"image: ghcr.io/acme/web:1.0", "image: ghcr.io/acme/web:1.1"},
		{"by kind", gitops.SetField{Kind: "ConfigMap", Field: "data.replicas", Value: "3"},
			`replicas: "2"`, `replicas: "3"`},
		{"by kind and name, creating the field", gitops.SetField{Kind: "Deployment", Name: "web", Field: "spec.paused", Value: "true"},
			"image: ghcr.io/acme/web:1.0\n", "image: ghcr.io/acme/web:1.0\n  paused: \"true\"\n"},
		{"by name", gitops.SetField{Name: "web-config", Field: "data.mode", Value: "blue"},
			`  replicas: "2"` + "\n", `  replicas: "2"` + "\n  mode: blue\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.edit.File = "web.yaml"
			got, err := applyEdit(t, map[string]string{"web.yaml": webYAML}, c.edit, "web.yaml")
			require.NoError(t, err)
			require.Contains(t, webYAML, c.old)
			assert.Equal(t, strings.Replace(webYAML, c.old, c.new, 1), got)
		})
	}
}

func TestSetFieldMultiDocumentRefusals(t *testing.T) {
	cases := []struct {
		name   string
		edit   gitops.SetField
		target error
		text   string
	}{
		{"field in two documents", gitops.SetField{Field: "metadata.name", Value: "x"}, gitops.ErrInvalidYAML,
			"ambiguous: 3 documents match and each has metadata.name (document 1 (Deployment web), document 2 (Service web), document 3 (ConfigMap web-config)); set Kind and Name to choose one"},
		{"new field, no document has it", gitops.SetField{Field: "spec.paused", Value: "true"}, gitops.ErrInvalidYAML,
			"3 documents match and none has spec.paused"},
		{"no such kind", gitops.SetField{Kind: "Ingress", Field: "spec.x", Value: "1"}, gitops.ErrNotExist, "no document with kind Ingress"},
		{"no such name", gitops.SetField{Kind: "Service", Name: "api", Field: "spec.x", Value: "1"}, gitops.ErrNotExist, "no document with kind Service name api"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.edit.File = "web.yaml"
			_, err := applyEdit(t, map[string]string{"web.yaml": webYAML}, c.edit, "web.yaml")
			require.Error(t, err)
			assert.ErrorIs(t, err, c.target)
			assert.ErrorContains(t, err, c.text)
			assert.ErrorContains(t, err, "web.yaml")
		})
	}
}

// Two documents are named web, but only the Deployment has
// spec.replicas: that one is edited.
func TestSetFieldNarrowsToTheDocumentWithTheField(t *testing.T) {
	got, err := applyEdit(t, map[string]string{"web.yaml": webYAML},
		gitops.SetField{File: "web.yaml", Name: "web", Field: "spec.replicas", Value: "3"}, "web.yaml")
	require.NoError(t, err)
	assert.Equal(t, strings.Replace(webYAML, "replicas: 2 #", "replicas: 3 #", 1), got)
}

const kustWithImages = `images:
- name: nginx
  newTag: "1.0"
`

// A list selector that matches nothing is ErrNotExist unless Create asks
// for the element.
func TestSetFieldListSelector(t *testing.T) {
	files := map[string]string{"k.yaml": kustWithImages}
	got, err := applyEdit(t, files, gitops.SetField{File: "k.yaml", Field: "images.[name=nginx].newTag", Value: "1.1"}, "k.yaml")
	require.NoError(t, err)
	assert.Equal(t, strings.Replace(kustWithImages, "1.0", "1.1", 1), got)

	_, err = applyEdit(t, files, gitops.SetField{File: "k.yaml", Field: "images.[name=redis].newTag", Value: "7"}, "k.yaml")
	require.Error(t, err)
	assert.ErrorIs(t, err, gitops.ErrNotExist)
	assert.ErrorContains(t, err, "images.[name=redis]: no list element [name=redis]")

	_, err = applyEdit(t, files, gitops.SetField{File: "k.yaml", Field: "patches.[path=p.yaml].target.kind", Value: "x"}, "k.yaml")
	assert.ErrorIs(t, err, gitops.ErrNotExist, "a missing list under a missing key is not created either")

	got, err = applyEdit(t, files, gitops.SetField{File: "k.yaml", Field: "images.[name=redis].newTag", Value: "7", Create: true}, "k.yaml")
	require.NoError(t, err)
	assert.Equal(t, kustWithImages+"- name: redis\n  newTag: \"7\"\n", got)

	got, err = applyEdit(t, map[string]string{"k.yaml": "a: 1\n"}, gitops.SetField{File: "k.yaml", Field: "images.[name=redis].newTag", Value: "7", Create: true}, "k.yaml")
	require.NoError(t, err)
	assert.Equal(t, "a: 1\nimages:\n- name: redis\n  newTag: \"7\"\n", got)

	_, err = applyEdit(t, files, gitops.SetField{File: "k.yaml", Field: "images.[name=nginx]", Value: "x"}, "k.yaml")
	assert.ErrorIs(t, err, gitops.ErrInvalidYAML, "the last element must be a field")
	_, err = applyEdit(t, files, gitops.SetField{File: "k.yaml", Field: "images..newTag", Value: "x"}, "k.yaml")
	assert.ErrorIs(t, err, gitops.ErrInvalidYAML)
}
