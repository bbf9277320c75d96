package gitops_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

// exampleRepo makes a GitOps repository with one app and a Repo over it.
func exampleRepo() (*gitops.Repo, string, func()) {
	tmp, err := os.MkdirTemp("", "gitops-example")
	if err != nil {
		panic(err)
	}
	dir := filepath.Join(tmp, "gitops.git")
	if err := gitopstest.CreateBareRepo(dir, gitopstest.KustomizeLayout("checkout")); err != nil {
		panic(err)
	}
	r, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(filepath.Join(tmp, "cache")))
	if err != nil {
		panic(err)
	}
	return r, dir, func() { os.RemoveAll(tmp) }
}

// Deploy a release to dev: pin the image by digest in the dev overlay,
// and see the rendered diff.
func ExampleRepo_Apply() {
	r, _, cleanup := exampleRepo()
	defer cleanup()

	res, err := r.Apply(context.Background(), gitops.Change{
		Trailers: gitops.Trailers{
			App: "checkout", Environment: "dev", Action: gitops.ActionDeploy,
			ImageDigest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		},
		Edits: []gitops.Edit{gitops.SetImage{
			Dir:    "apps/checkout/overlays/dev",
			Name:   "registry.example.com/team/checkout",
			Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("changed:", res.Changed, "attempts:", res.Attempts)
	fmt.Println("files:", res.Files)
	fmt.Print(res.Diff)
	// Output:
	// changed: true attempts: 1
	// files: [apps/checkout/overlays/dev/kustomization.yaml]
	// --- a/apps/checkout/overlays/dev
	// +++ b/apps/checkout/overlays/dev
	// @@ -16,7 +16,7 @@
	//          app: checkout
	//      spec:
	//        containers:
	// -      - image: registry.example.com/team/checkout:1.0.0
	// +      - image: registry.example.com/team/checkout@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
	//          name: checkout
	//          ports:
	//          - containerPort: 8080
}

// Promote staging's overlay to prod as a dry run: nothing is pushed.
func ExampleCopyDir() {
	r, _, cleanup := exampleRepo()
	defer cleanup()
	ctx := context.Background()

	res, err := r.Apply(ctx, gitops.Change{
		DryRun: true,
		Edits: []gitops.Edit{
			gitops.SetImage{Dir: "apps/checkout/overlays/staging", Name: "registry.example.com/team/checkout", NewTag: "1.1.0"},
			gitops.WriteFile{Path: "apps/checkout/overlays/staging/replicas.yaml", Data: []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: checkout\nspec:\n  replicas: 3\n")},
			gitops.CopyDir{From: "apps/checkout/overlays/staging", To: "apps/checkout/overlays/prod"},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Overlays)
	// The dry-run commit and its tree exist only in the local cache.
	out, _ := r.RenderTree(ctx, res.Tree, "apps/checkout/overlays/prod")
	fmt.Println(len(out) > 0)
	// Output:
	// [apps/checkout/overlays/prod apps/checkout/overlays/staging]
	// true
}

// A change that breaks an overlay is refused before anything is pushed.
func ExampleRenderError() {
	r, _, cleanup := exampleRepo()
	defer cleanup()
	_, err := r.Apply(context.Background(), gitops.Change{Edits: []gitops.Edit{
		gitops.RemoveFile{Path: "apps/checkout/base/service.yaml"},
	}})
	var re *gitops.RenderError
	fmt.Println(errors.As(err, &re), re.Dir)
	// Output:
	// true apps/checkout/base
}

// List what was deployed to an environment, newest first.
func ExampleRepo_History() {
	r, _, cleanup := exampleRepo()
	defer cleanup()
	ctx := context.Background()
	for _, tag := range []string{"1.1.0", "1.2.0"} {
		_, err := r.Apply(ctx, gitops.Change{
			Trailers: gitops.Trailers{App: "checkout", Environment: "prod", Release: tag, Action: gitops.ActionDeploy},
			Edits:    []gitops.Edit{gitops.SetImage{Dir: "apps/checkout/overlays/prod", Name: "registry.example.com/team/checkout", NewTag: tag}},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	entries, _ := r.History(ctx, gitops.HistoryQuery{App: "checkout", Environment: "prod"})
	for _, e := range entries {
		fmt.Println(e.Subject, e.Trailers.Release)
	}
	// Output:
	// deploy checkout to prod 1.2.0
	// deploy checkout to prod 1.1.0
}

// Set a Helm value in place: the comment stays and "1.10" stays a string.
func ExampleSetField() {
	r, _, cleanup := exampleRepo()
	defer cleanup()
	ctx := context.Background()
	_, err := r.Apply(ctx, gitops.Change{Message: "add chart values", Edits: []gitops.Edit{
		gitops.WriteFile{Path: "charts/web/values.yaml", Data: []byte("image:\n  repository: ghcr.io/acme/web\n  tag: \"1.9\" # set by CI\n")},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = r.Apply(ctx, gitops.Change{Edits: []gitops.Edit{
		gitops.SetField{File: "charts/web/values.yaml", Field: "image.tag", Value: "1.10"},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := r.ReadFile(ctx, "", "charts/web/values.yaml")
	fmt.Print(string(out))
	// Output:
	// image:
	//   repository: ghcr.io/acme/web
	//   tag: "1.10" # set by CI
}
