package gitopstest

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Branch is the branch the helpers create and commit to; HEAD names it.
const Branch = "main"

// Files is a repository layout: slash-separated path → file content.
type Files map[string]string

// NewBareRepo creates a bare repository in a new directory under
// t.TempDir() with one commit holding files on branch main (HEAD points at
// main) and http.receivepack enabled, and returns its path. An empty
// layout makes a repository without commits.
func NewBareRepo(t testing.TB, files Files) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo.git")
	if err := CreateBareRepo(dir, files); err != nil {
		t.Fatalf("gitopstest: %v", err)
	}
	return dir
}

// CreateBareRepo is [NewBareRepo] for callers without a testing.TB, such
// as examples and benchmarks' setup programs: it creates the bare
// repository at dir, which must not exist yet or be empty.
func CreateBareRepo(dir string, files Files) error {
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		Bare:        true,
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(Branch)},
	})
	if err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	cfg, err := repo.Config()
	if err != nil {
		return fmt.Errorf("config %s: %w", dir, err)
	}
	cfg.Raw.Section("http").SetOption("receivepack", "true")
	cfg.Raw.Section("receive").SetOption("autogc", "false")
	if err := repo.SetConfig(cfg); err != nil {
		return fmt.Errorf("config %s: %w", dir, err)
	}
	if len(files) > 0 {
		if _, err := CommitFiles(dir, files, nil, "initial layout"); err != nil {
			return err
		}
	}
	return nil
}

// Commit adds one commit to branch main of the bare repository at dir,
// writing files and removing the paths in remove, as another writer
// would, and returns its hash. It does not take part in any retry.
func Commit(t testing.TB, dir string, files Files, remove []string, message string) plumbing.Hash {
	t.Helper()
	h, err := CommitFiles(dir, files, remove, message)
	if err != nil {
		t.Fatalf("gitopstest: %v", err)
	}
	return h
}

// CommitFiles is [Commit] for callers without a testing.TB, such as
// fault hooks running in a server goroutine.
func CommitFiles(dir string, files Files, remove []string, message string) (plumbing.Hash, error) {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("open %s: %w", dir, err)
	}
	ref := plumbing.NewBranchReferenceName(Branch)
	var parent, root plumbing.Hash
	if r, err := repo.Reference(ref, true); err == nil {
		parent = r.Hash()
		c, err := repo.CommitObject(parent)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		root = c.TreeHash
	}
	tree := gitops.NewTree(repo.Storer, root)
	for _, p := range slices.Sorted(maps.Keys(files)) {
		if err := tree.WriteFile(p, []byte(files[p])); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	for _, p := range remove {
		if err := tree.Remove(p); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	th, err := tree.Write()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	sig := object.Signature{Name: "gitopstest", Email: "gitopstest@localhost", When: time.Now()}
	c := &object.Commit{Author: sig, Committer: sig, Message: message + "\n", TreeHash: th}
	if !parent.IsZero() {
		c.ParentHashes = []plumbing.Hash{parent}
	}
	obj := repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	old := plumbing.NewHashReference(ref, parent)
	if parent.IsZero() {
		old = nil
	}
	if err := repo.Storer.CheckAndSetReference(plumbing.NewHashReference(ref, h), old); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("update %s: %w", ref, err)
	}
	return h, nil
}

// Head returns the commit branch main of the bare repository at dir
// points at, or the zero hash if it has none.
func Head(t testing.TB, dir string) plumbing.Hash {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatalf("gitopstest: open %s: %v", dir, err)
	}
	r, err := repo.Reference(plumbing.NewBranchReferenceName(Branch), true)
	if err != nil {
		return plumbing.ZeroHash
	}
	return r.Hash()
}

// Log returns the commits of branch main of the bare repository at dir,
// newest first, following first parents.
func Log(t testing.TB, dir string) []*object.Commit {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatalf("gitopstest: open %s: %v", dir, err)
	}
	var out []*object.Commit
	h := Head(t, dir)
	for !h.IsZero() {
		c, err := repo.CommitObject(h)
		if err != nil {
			t.Fatalf("gitopstest: commit %s: %v", h, err)
		}
		out = append(out, c)
		h = plumbing.ZeroHash
		if len(c.ParentHashes) > 0 {
			h = c.ParentHashes[0]
		}
	}
	return out
}

// ReadFile returns the content of path at the head of branch main of the
// bare repository at dir.
func ReadFile(t testing.TB, dir, path string) string {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatalf("gitopstest: open %s: %v", dir, err)
	}
	c, err := repo.CommitObject(Head(t, dir))
	if err != nil {
		t.Fatalf("gitopstest: head: %v", err)
	}
	data, err := gitops.NewTree(repo.Storer, c.TreeHash).ReadFile(path)
	if err != nil {
		t.Fatalf("gitopstest: %v", err)
	}
	return string(data)
}

// FileURL returns the file:// URL of a local repository directory.
func FileURL(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return "file://" + filepath.ToSlash(abs)
}

// Image is the image name [KustomizeLayout] uses for app: the overlays
// override it in their `images:` list.
func Image(app string) string { return "registry.example.com/team/" + app }

// KustomizeLayout returns a GitOps layout for the given apps:
// apps/<app>/base (a Deployment and a Service) and
// apps/<app>/overlays/{dev,staging,prod}, each overlay setting a
// namespace, a replica patch and an `images:` override of [Image](app)
// with tag "1.0.0" and a comment.
func KustomizeLayout(apps ...string) Files {
	f := Files{}
	for _, app := range apps {
		base := "apps/" + app + "/base/"
		f[base+"kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n- service.yaml\n"
		f[base+"deployment.yaml"] = strings.ReplaceAll(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: APP
  labels:
    app: APP
spec:
  replicas: 1
  selector:
    matchLabels:
      app: APP
  template:
    metadata:
      labels:
        app: APP
    spec:
      containers:
      - name: APP
        image: IMAGE
        ports:
        - containerPort: 8080
`, "IMAGE", Image(app))
		f[base+"deployment.yaml"] = strings.ReplaceAll(f[base+"deployment.yaml"], "APP", app)
		f[base+"service.yaml"] = strings.ReplaceAll("apiVersion: v1\nkind: Service\nmetadata:\n  name: APP\nspec:\n  selector:\n    app: APP\n  ports:\n  - port: 80\n    targetPort: 8080\n", "APP", app)
		for i, env := range []string{"dev", "staging", "prod"} {
			ov := "apps/" + app + "/overlays/" + env + "/"
			f[ov+"kustomization.yaml"] = fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: %s-%s
resources:
- ../../base
patches:
- path: replicas.yaml
# images is managed by flightdeck
images:
- name: %s
  newTag: 1.0.0 # initial release
`, app, env, Image(app))
			f[ov+"replicas.yaml"] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: %d\n", app, i+1)
		}
	}
	return f
}
