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

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// app is the application the quickstart delivers.
const app = "hello"

// env holds everything the flow runs against: every piece is real
// (go-git, kustomize, go-containerregistry, govulncheck, the HMAC-signed
// webhook) except Argo CD and the cluster, which are simulated.
type env struct {
	work      string
	srcDir    string // the app's source checkout
	srcGit    *git.Repository
	sourceURL string
	revision  string    // the source commit being released
	committed time.Time // its commit time

	gitopsURL string
	repo      *gitops.Repo

	regServer *httptest.Server
	registry  string // host:port of the in-process registry
	images    *image.Client
	vuln      *scan.Govulncheck

	argo    *argocdtest.Server
	client  *argocd.Client
	clock   *clocktest.Clock // the simulated cluster's, which runs faster than real time
	cluster *sim.Cluster

	hook      *receiver      // the stakeholders' webhook receiver
	fan       *notify.Fanout // every adapter's events go through it
	fanClosed bool
	src       notify.Source
}

// speed is how many times faster than real time the cluster's clock runs.
const speed = 1000

// webhookSecret is the HMAC secret the webhook and its receiver share.
var webhookSecret = []byte("quickstart-webhook-secret")

func setUp(ctx context.Context, work, vulndb string) (_ *env, err error) {
	e := &env{work: work}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()

	// Argo CD and the cluster, simulated; the cluster's clock runs
	// faster than real time, and stamps every commit of the story.
	if e.argo, err = argocdtest.New(argocdtest.WithAcceleratedClock(speed), argocdtest.WithReconcileInterval(10*time.Second)); err != nil {
		return nil, err
	}
	e.clock, e.cluster = e.argo.Clock(), e.argo.Cluster()

	// The source repository: the tiny app, committed.
	e.srcDir = filepath.Join(work, "src", app)
	if err := copyFS(appFS, "app", e.srcDir); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(e.srcDir, "go.mod"), []byte("module example.com/hello\n\ngo 1.26\n"), 0o644); err != nil {
		return nil, err
	}
	if e.srcGit, err = git.PlainInitWithOptions(e.srcDir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	}); err != nil {
		return nil, fmt.Errorf("source repository: %w", err)
	}
	if err := e.commitSource("hello: first version"); err != nil {
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
		gitops.WithCacheDir(filepath.Join(work, "cache")), gitops.WithClock(e.clock),
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

	// An Argo CD application per environment; dev syncs by itself.
	for _, name := range []string{flightdeck.Dev, flightdeck.Staging, flightdeck.Prod} {
		if err := e.argo.AddApp(ctx, argocdtest.App{
			Name: app + "-" + name, RepoURL: e.gitopsURL, Path: "apps/hello/overlays/" + name, Namespace: app + "-" + name,
			AutoSync: name == flightdeck.Dev,
		}); err != nil {
			return nil, err
		}
	}
	if e.client, err = e.argo.Client(argocd.WithClock(e.clock)); err != nil {
		return nil, err
	}

	// The stakeholders: a webhook receiver in process, fed through a
	// fan-out so that no deployment ever waits on it.
	e.hook = newReceiver(webhookSecret)
	wh, err := notify.NewWebhook(e.hook.URL(), webhookSecret)
	if err != nil {
		return nil, err
	}
	if e.fan, err = notify.NewFanout([]notify.Target{{Name: "webhook", Notifier: wh}}); err != nil {
		return nil, err
	}
	e.src = notify.Source{Actor: "flightdeck quickstart"}
	return e, nil
}

// Close stops the servers.
func (e *env) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = e.closeFanout(ctx)
	cancel()
	if e.hook != nil {
		e.hook.Close()
	}
	if e.argo != nil {
		e.argo.Close()
	}
	if e.regServer != nil {
		e.regServer.Close()
	}
}

// closeFanout delivers what is queued and stops the fan-out, once.
func (e *env) closeFanout(ctx context.Context) error {
	if e.fan == nil || e.fanClosed {
		return nil
	}
	e.fanClosed = true
	return e.fan.Close(ctx)
}

// behave sets how the pods of a release behave in the cluster.
func (e *env) behave(rel flightdeck.Release, b sim.Behavior) error {
	return e.cluster.SetBehavior(rel.Ref(), b)
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

// commitSource commits every change in the source checkout, stamped
// with the cluster's clock, and makes it the revision to release.
func (e *env) commitSource(message string) error {
	wt, err := e.srcGit.Worktree()
	if err != nil {
		return err
	}
	if err := wt.AddGlob("."); err != nil {
		return err
	}
	sig := &object.Signature{Name: "Quick Starter", Email: "dev@example.com", When: e.clock.Now().Truncate(time.Second)}
	h, err := wt.Commit(message, &git.CommitOptions{Author: sig, AllowEmptyCommits: true})
	if err != nil {
		return err
	}
	e.revision, e.committed = h.String(), sig.When
	return nil
}
