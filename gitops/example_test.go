package gitops_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	flightdeck "github.com/flightdeck-dev/flightdeck"
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
			Image:  "registry.example.com/team/checkout",
			Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
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

// Start a new environment from an existing one, as a dry run: copy the
// staging overlay to a new qa overlay and give it its own namespace in
// the same commit. (To move a release from one environment to another,
// use CopyRelease, which leaves the target's configuration alone.)
func ExampleCopyDir() {
	r, _, cleanup := exampleRepo()
	defer cleanup()
	ctx := context.Background()

	res, err := r.Apply(ctx, gitops.Change{
		DryRun: true,
		Edits: []gitops.Edit{
			gitops.CopyDir{From: "apps/checkout/overlays/staging", To: "apps/checkout/overlays/qa"},
			gitops.SetField{File: "apps/checkout/overlays/qa/kustomization.yaml", Field: "namespace", Value: "checkout-qa"},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Overlays)
	// The dry-run commit and its tree exist only in the local cache.
	out, _ := r.RenderTree(ctx, res.Tree, "apps/checkout/overlays/qa")
	fmt.Println(strings.Contains(string(out), "namespace: checkout-qa"))
	// Output:
	// [apps/checkout/overlays/qa]
	// true
}

// A change that breaks overlays is refused before anything is pushed,
// with one error naming every overlay it breaks: here the base, and every
// overlay that includes it.
func ExampleRenderError() {
	r, _, cleanup := exampleRepo()
	defer cleanup()
	_, err := r.Apply(context.Background(), gitops.Change{Edits: []gitops.Edit{
		gitops.RemoveFile{Path: "apps/checkout/base/service.yaml"},
	}})
	var re *gitops.RenderError
	if errors.As(err, &re) {
		for _, f := range re.Failures {
			fmt.Printf("%s: %v\n", f.Dir, f.Err)
		}
	}
	// Output:
	// apps/checkout/base: 'apps/checkout/base/service.yaml' doesn't exist
	// apps/checkout/overlays/dev: 'apps/checkout/base/service.yaml' doesn't exist
	// apps/checkout/overlays/prod: 'apps/checkout/base/service.yaml' doesn't exist
	// apps/checkout/overlays/staging: 'apps/checkout/base/service.yaml' doesn't exist
}

// Remote bases are refused unless the Repo enables them, so a render
// never reaches the network by surprise.
func ExampleWithRemoteResources() {
	r, _, cleanup := exampleRepo()
	defer cleanup()
	_, err := r.Apply(context.Background(), gitops.Change{Edits: []gitops.Edit{
		gitops.WriteFile{Path: "apps/checkout/overlays/dev/kustomization.yaml",
			Data: []byte("resources:\n- github.com/example/platform//monitoring?ref=v1.2.0\n")},
	}})
	fmt.Println(errors.Is(err, gitops.ErrRemoteResource))
	fmt.Println(err)
	// Output:
	// true
	// gitops: render apps/checkout/overlays/dev: kustomization apps/checkout/overlays/dev/kustomization.yaml: resources entry "github.com/example/platform//monitoring?ref=v1.2.0" is remote, and remote resources are off (see WithRemoteResources)
}

// List what was deployed to an environment, newest first, each entry
// with its whole release.
func ExampleRepo_History() {
	r, _, cleanup := exampleRepo()
	defer cleanup()
	ctx := context.Background()
	prod := gitops.Target{App: "checkout", Environment: flightdeck.Environment{Name: "prod"}}
	for i, tag := range []string{"1.1.0", "1.2.0"} {
		_, err := gitops.DeployRelease(ctx, r, gitops.DeployRequest{Target: prod, Release: flightdeck.Release{
			Image:    "registry.example.com/team/checkout",
			Digest:   fmt.Sprintf("sha256:%064x", i+1),
			Tag:      tag,
			Revision: fmt.Sprintf("%040x", i+10),
		}})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	entries, _ := r.History(ctx, gitops.HistoryQuery{App: "checkout", Environment: "prod"})
	for _, e := range entries {
		rel, _ := e.Release()
		fmt.Println(e.Subject, rel.Tag, rel.Digest[:15], rel.Revision[35:])
	}
	// Output:
	// deploy checkout to prod 1.2.0 sha256:00000000 0000b
	// deploy checkout to prod 1.1.0 sha256:00000000 0000a
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

// Deploy a release to staging, then promote exactly that release to
// prod: prod gets staging's image and digest, and keeps its own
// namespace and replicas. The in-memory gitopstest.Fake stands in for a
// repository.
func ExampleCopyRelease() {
	f, _ := gitopstest.NewFake(gitopstest.KustomizeLayout("checkout"))
	ctx := context.Background()
	staging := gitops.Target{App: "checkout", Environment: flightdeck.Environment{Name: "staging"}}
	prod := gitops.Target{App: "checkout", Environment: flightdeck.Environment{Name: "prod"}}
	_, err := gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: staging, Release: flightdeck.Release{
		Image:    "registry.example.com/team/checkout",
		Digest:   "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		Tag:      "1.4.0",
		Revision: "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := gitops.CopyRelease(ctx, f, gitops.CopyRequest{From: staging, To: prod})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("copied", c.Release.Tag, "from", c.From.Release.Revision[:7])
	out, _ := f.Render(ctx, "", prod.Overlay())
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "namespace:") || strings.Contains(l, "replicas:") || strings.Contains(l, "image:") {
			fmt.Println(strings.TrimLeft(l, " -"))
		}
	}
	cur, _ := gitops.CurrentRelease(ctx, f, prod, "")
	fmt.Println("prod runs", cur.Release.Tag, cur.Deploy.Subject)
	// Output:
	// copied 1.4.0 from 4f2a9c1
	// namespace: checkout-prod
	// replicas: 3
	// image: registry.example.com/team/checkout@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
	// namespace: checkout-prod
	// prod runs 1.4.0 promote checkout to prod
}

// A guard refuses to deploy to an environment under a hold. It runs on
// the tree each push attempt is built on, so a hold pushed by someone
// else a moment earlier is seen.
func ExampleGuard() {
	f, _ := gitopstest.NewFake(gitopstest.KustomizeLayout("checkout"))
	_, _ = f.Commit("hold prod", gitopstest.Files{".flightdeck/holds/checkout/prod": "jo: failed verification\n"})
	held := gitops.GuardFunc(func(t *gitops.Tree, in gitops.Intent) error {
		p := ".flightdeck/holds/" + in.Target.App + "/" + in.Target.Environment.Name
		if data, err := t.ReadFile(p); err == nil {
			return fmt.Errorf("%w: %s is held by %s", gitops.ErrRefused, in.Target, strings.TrimSpace(string(data)))
		}
		return nil
	})
	_, err := gitops.DeployRelease(context.Background(), f, gitops.DeployRequest{
		Target:  gitops.Target{App: "checkout", Environment: flightdeck.Environment{Name: "prod"}},
		Release: flightdeck.Release{Image: "registry.example.com/team/checkout", Digest: "sha256:" + strings.Repeat("ab", 32)},
		Guards:  []gitops.Guard{held},
	})
	fmt.Println(errors.Is(err, gitops.ErrRefused))
	fmt.Println(err)
	// Output:
	// true
	// deploy checkout to prod: overlay apps/checkout/overlays/prod: gitops: refused: checkout in prod is held by jo: failed verification
}

// Deploy a release (an image pinned by digest, with the source it was
// built from) to the prod overlay and push it; then read back what prod
// runs, from Git alone. This is the README's example, on a local
// repository.
func ExampleDeployRelease() {
	repo, _, cleanup := exampleRepo()
	defer cleanup()
	ctx := context.Background()
	prod := gitops.Target{App: "checkout", Environment: flightdeck.Environment{Name: flightdeck.Prod}}

	res, err := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{
		Target: prod,
		Release: flightdeck.Release{
			Image:      "registry.example.com/team/checkout",
			Digest:     "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Tag:        "1.4.0",
			SourceRepo: "https://git.example.com/shop/checkout",
			Revision:   "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
		},
	})
	if err != nil {
		fmt.Println(err) // a *RenderError names every overlay that no longer renders; nothing was pushed
		return
	}
	fmt.Println("changed:", res.Changed, res.Files)

	cur, err := gitops.CurrentRelease(ctx, repo, prod, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("prod runs", cur.Release.Tag, "built from", cur.Release.Revision[:7], "of", cur.Release.SourceRepo)
	// Output:
	// changed: true [apps/checkout/overlays/prod/kustomization.yaml]
	// prod runs 1.4.0 built from 4b825dc of https://git.example.com/shop/checkout
}
