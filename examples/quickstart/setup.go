package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// app is the application the quickstart delivers.
const app = "hello"

// env holds everything the flow runs against: every piece is real
// (go-git, kustomize, go-containerregistry, govulncheck) except Argo CD and
// the cluster, which are simulated.
type env struct {
	work      string
	srcDir    string // the app's source checkout
	sourceURL string
	revision  string    // the source commit
	committed time.Time // its commit time

	gitopsURL string
	repo      *gitops.Repo

	regServer *httptest.Server
	registry  string // host:port of the in-process registry
	images    *image.Client
	vuln      *scan.Govulncheck

	argo   *argocdtest.Server
	client *argocd.Client
}

func setUp(ctx context.Context, work, vulndb string) (_ *env, err error) {
	e := &env{work: work}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()

	// The source repository: the tiny app, committed.
	e.srcDir = filepath.Join(work, "src", app)
	if err := copyFS(appFS, "app", e.srcDir); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(e.srcDir, "go.mod"), []byte("module example.com/hello\n\ngo 1.26\n"), 0o644); err != nil {
		return nil, err
	}
	if e.revision, e.committed, err = commitAll(e.srcDir, "hello: first version"); err != nil {
		return nil, fmt.Errorf("source repository: %w", err)
	}
	e.sourceURL = "file://" + filepath.ToSlash(e.srcDir)

	// The GitOps repository: a bare repo seeded with ./gitops-repo.
	bare := filepath.Join(work, "gitops.git")
	if _, err := git.PlainInitWithOptions(bare, &git.PlainInitOptions{
		Bare: true, InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	}); err != nil {
		return nil, fmt.Errorf("gitops repository: %w", err)
	}
	layout := gitopstest.Files{}
	if err := fs.WalkDir(gitopsFS, "gitops-repo", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := gitopsFS.ReadFile(p)
		layout[strings.TrimPrefix(p, "gitops-repo/")] = string(data)
		return err
	}); err != nil {
		return nil, err
	}
	if _, err := gitopstest.CommitFiles(bare, layout, nil, "initial layout"); err != nil {
		return nil, fmt.Errorf("gitops repository: %w", err)
	}
	e.gitopsURL = gitopstest.FileURL(bare)
	e.repo, err = gitops.New(e.gitopsURL,
		gitops.WithCacheDir(filepath.Join(work, "cache")),
		gitops.WithAuthor("flightdeck quickstart", "quickstart@flightdeck.invalid"))
	if err != nil {
		return nil, err
	}

	// The registry: go-containerregistry's in-process OCI registry.
	e.regServer = httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	e.registry = strings.TrimPrefix(e.regServer.URL, "http://")
	e.images = image.New(image.WithKeychain(authn.NewMultiKeychain()))

	// The scanner: govulncheck in process, on the embedded offline database
	// unless another one is named.
	if vulndb == "" {
		dir := filepath.Join(work, "vulndb")
		if err := copyFS(vulnFS, "vulndb", dir); err != nil {
			return nil, err
		}
		vulndb = "file://" + filepath.ToSlash(dir)
	}
	e.vuln = scan.NewGovulncheck(scan.WithDB(vulndb), scan.WithTempDir(work))

	// Argo CD and the cluster, simulated; the cluster's clock runs 600×
	// faster than real time.
	if e.argo, err = argocdtest.New(argocdtest.WithAcceleratedClock(600)); err != nil {
		return nil, err
	}
	if err := e.argo.AddApp(ctx, argocdtest.App{
		Name: app + "-dev", RepoURL: e.gitopsURL, Path: "apps/hello/overlays/dev", Namespace: "hello-dev",
	}); err != nil {
		return nil, err
	}
	if e.client, err = e.argo.Client(); err != nil {
		return nil, err
	}
	return e, nil
}

// Close stops the servers.
func (e *env) Close() {
	if e.argo != nil {
		e.argo.Close()
	}
	if e.regServer != nil {
		e.regServer.Close()
	}
}

// neverReady makes the simulated cluster keep pods of image ref unready.
func (e *env) neverReady(ref string) error {
	return e.argo.Cluster().SetBehavior(ref, sim.Behavior{NeverReady: true})
}

// copyFS writes the tree under root of fsys to dir.
func copyFS(fsys fs.FS, root, dir string) error {
	return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(p, root)))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
}

// commitAll makes dir a Git repository, commits every file in it, and
// returns the commit's hash and time.
func commitAll(dir, message string) (string, time.Time, error) {
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		return "", time.Time{}, err
	}
	wt, err := r.Worktree()
	if err != nil {
		return "", time.Time{}, err
	}
	if err := wt.AddGlob("."); err != nil {
		return "", time.Time{}, err
	}
	sig := &object.Signature{Name: "Quick Starter", Email: "dev@example.com", When: time.Now().Truncate(time.Second)}
	h, err := wt.Commit(message, &git.CommitOptions{Author: sig})
	if err != nil {
		return "", time.Time{}, err
	}
	return h.String(), sig.When, nil
}
