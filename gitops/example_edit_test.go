package gitops_test

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/flightdeck-dev/flightdeck/gitops"
)

// ParseSetImage turns a `kustomize edit set image` argument into the
// edit; the entry is replaced as the CLI replaces it, and the comment of
// the newTag the digest replaces moves to digest.
func ExampleParseSetImage() {
	tr := gitops.NewTree(memory.NewStorage(), plumbing.ZeroHash)
	_ = tr.WriteFile("overlays/prod/kustomization.yaml", []byte(`resources:
- ../../base
images:
- name: web # the storefront
  newName: mirror.example.com/web
  newTag: "1.4" # set by CI
`))
	edit, err := gitops.ParseSetImage("overlays/prod",
		"web=ghcr.io/acme/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := edit.Apply(tr); err != nil {
		fmt.Println(err)
		return
	}
	out, _ := tr.ReadFile("overlays/prod/kustomization.yaml")
	fmt.Print(string(out))
	// Output:
	// resources:
	// - ../../base
	// images:
	// - name: web # the storefront
	//   newName: ghcr.io/acme/web
	//   digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef # set by CI
}

// SetField chooses the document of a multi-document file by Kind (and
// Name), and leaves the others as they were.
func ExampleSetField_multiDocument() {
	tr := gitops.NewTree(memory.NewStorage(), plumbing.ZeroHash)
	_ = tr.WriteFile("web.yaml", []byte(`kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
---
kind: Service
metadata: {name: web}
spec:
  ports: [{port: 80}]
`))
	err := gitops.SetField{File: "web.yaml", Field: "metadata.name", Value: "shop"}.Apply(tr)
	fmt.Println(errors.Is(err, gitops.ErrInvalidYAML)) // both documents have metadata.name

	_ = gitops.SetField{File: "web.yaml", Kind: "Deployment", Field: "spec.replicas", Value: "3"}.Apply(tr)
	out, _ := tr.ReadFile("web.yaml")
	fmt.Print(string(out))
	// Output:
	// true
	// kind: Deployment
	// metadata: {name: web}
	// spec:
	//   replicas: 3
	// ---
	// kind: Service
	// metadata: {name: web}
	// spec:
	//   ports: [{port: 80}]
}
