package gitops

import (
	"context"
	"path"
	"path/filepath"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func TestClimbingRefsCoverParsedRefs(t *testing.T) {
	docs := []string{
		"resources:\n- ../../base\n- deployment.yaml\n",
		"resources: [../a, \"../b\", '../c,d']\n",
		"resources:\n- \"../quoted\" # comment\n- ../a,b\n",
		"configMapGenerator:\n- name: x\n  files:\n  - key=../../shared/app.properties\n",
		"components: {a: ../../components/x}\n",
		"patches:\n- path: ../p.yaml\n  target: {kind: Deployment}\n",
		"resources:\n- sub/../../up\n",
	}
	for _, d := range docs {
		got := map[string]bool{}
		for _, r := range climbingRefs([]byte(d)) {
			got[r] = true
		}
		for _, r := range parseKustomization([]byte(d)).refs {
			if climbs(r) {
				assert.True(t, got[r], "%q: %s not found by the scan (got %v)", d, r, got)
			}
		}
	}
	assert.Nil(t, climbingRefs([]byte("resources:\n- deployment.yaml\n")))
}

func TestRemoteEntries(t *testing.T) {
	bases := map[string]bool{ // entry -> git
		"https://github.com/org/repo//deploy?ref=v1": true,
		"github.com/org/repo/deploy?ref=v1":          true,
		"git@github.com:org/repo.git":                true,
		"ssh://git@example.com/org/repo.git//x":      true,
		"https://example.com/org/repo.git/x":         true,
		"https://example.com/raw/service.yaml":       false,
		"git::https://example.com/org/repo":          true,
		"file:///srv/repo//x":                        true,
	}
	for v, git := range bases {
		g, ok := remoteBase(v)
		assert.True(t, ok, v)
		assert.Equal(t, git, g, v)
	}
	for _, v := range []string{"../../base", "deployment.yaml", "github.comx/a", "user-without-host@"} {
		_, ok := remoteBase(v)
		assert.False(t, ok, v)
	}
	info := parseKustomization([]byte("resources:\n- ../base\n- github.com/org/repo//x?ref=v1\npatches:\n- path: https://example.com/p.yaml\n" +
		"commonAnnotations:\n  docs: https://wiki.example.com/app\n"))
	require.Len(t, info.remotes, 2, "an annotation that is a URL is not a resource")
	assert.Equal(t, remoteRef{field: "resources", value: "github.com/org/repo//x?ref=v1", git: true}, info.remotes[0])
	assert.Equal(t, remoteRef{field: "patches", value: "https://example.com/p.yaml", loadOnly: true}, info.remotes[1])
}

func TestParseGitSpec(t *testing.T) {
	cases := map[string]gitSpec{
		"https://github.com/org/repo//deploy/base?ref=v1":  {repo: "https://github.com/org/repo", dir: "deploy/base", ref: "v1"},
		"github.com/org/repo/deploy?version=v2":            {repo: "https://github.com/org/repo", dir: "deploy", ref: "v2"},
		"git@github.com:org/repo.git/deploy":               {repo: "git@github.com:org/repo.git", dir: "deploy"},
		"https://dev.azure.com/o/p/_git/repo/x/y?ref=main": {repo: "https://dev.azure.com/o/p/_git/repo", dir: "x/y", ref: "main"},
		"http://127.0.0.1:8080/git/r//base":                {repo: "http://127.0.0.1:8080/git/r", dir: "base"},
		"ssh://git@example.com/org/repo":                   {repo: "ssh://git@example.com/org/repo"},
	}
	for v, want := range cases {
		got, err := parseGitSpec(v)
		require.NoError(t, err, v)
		assert.Equal(t, want, got, v)
	}
	_, err := parseGitSpec("https://github.com/org/repo//../x")
	assert.Error(t, err, "climbs out of the repository")
}

// TestFixedKustomizationRendersTheSame renders deprecated kustomizations
// as kustomize reads them and as flightdeck hands them to it.
func TestFixedKustomizationRendersTheSame(t *testing.T) {
	base := map[string]string{
		"base/kustomization.yaml": "resources:\n- deployment.yaml\n- service.yaml\n",
		"base/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web\nspec:\n  replicas: 1\n" +
			"  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: web:1\n",
		"base/service.yaml":                 "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n",
		"app/replicas.yaml":                 "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 4\n",
		"app/two.yaml":                      "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodePort\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  minReadySeconds: 3\n",
		"app/extra.yaml":                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n",
		"app/labels.yaml":                   "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    tier: front\n",
		"app/namepatch.yaml":                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        env:\n        - name: A\n          value: b\n",
		"app/delete.yaml":                   "$patch: delete\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
		"app/configs.yaml":                  "commonLabels:\n- path: metadata/annotations\n  create: true\n",
		"app/json.yaml":                     "- op: replace\n  path: /spec/replicas\n  value: 7\n",
		"app/extra-base/kustomization.yaml": "resources:\n- cm.yaml\n",
		"app/extra-base/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n",
	}
	kusts := map[string]string{
		"bases after resources":            "resources:\n- extra.yaml\nbases:\n- ../base\n- extra-base\n",
		"bases only":                       "bases:\n- ../base\n",
		"commonLabels and labels":          "resources:\n- ../base\nlabels:\n- pairs:\n    team: a\ncommonLabels:\n  team: b\n  app: web\n",
		"commonLabels with configurations": "resources:\n- ../base\nconfigurations:\n- configs.yaml\ncommonLabels:\n  team: b\n",
		"imageTags":                        "resources:\n- ../base\nimages:\n- name: other\n  newTag: \"9\"\nimageTags:\n- name: web\n  newTag: \"2\"\n",
		"psm before patches": "resources:\n- ../base\npatchesStrategicMerge:\n- replicas.yaml\n- two.yaml\npatches:\n- path: labels.yaml\n" +
			"- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: web\n    spec:\n      replicas: 5\n",
		"psm inline":      "resources:\n- ../base\npatchesStrategicMerge:\n- |-\n  apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: web\n  spec:\n    replicas: 6\n",
		"psm deleting":    "resources:\n- ../base\npatchesStrategicMerge:\n- delete.yaml\n- namepatch.yaml\n",
		"psm with prefix": "namePrefix: p-\nnamespace: ns\nresources:\n- ../base\npatchesStrategicMerge:\n- namepatch.yaml\ncommonLabels:\n  x: z\n",
		"json6902 stays":  "resources:\n- ../base\npatchesJson6902:\n- target:\n    group: apps\n    version: v1\n    kind: Deployment\n    name: web\n  path: json.yaml\n",
		"Case":            "Resources:\n- ../base\nBases:\n- extra-base\nCommonLabels:\n  a: b\n",
	}
	for name, k := range kusts {
		t.Run(name, func(t *testing.T) {
			fs := filesys.MakeFsInMemory()
			for p, c := range base {
				require.NoError(t, fs.WriteFile("/repo/"+p, []byte(c)))
			}
			require.NoError(t, fs.WriteFile("/repo/app/kustomization.yaml", []byte(k)))
			want, werr := renderFS(fs)

			fixed, warnings := fixKustomization([]byte(k), nil, func(rel string) ([]byte, bool) {
				b, err := fs.ReadFile(filepath.Join("/repo/app", rel))
				return b, err == nil
			})
			assert.NotEmpty(t, warnings)
			if fixed != nil {
				require.NoError(t, fs.WriteFile("/repo/app/kustomization.yaml", fixed))
			}
			got, gerr := renderFS(fs)
			require.Equal(t, werr == nil, gerr == nil, "%v / %v", werr, gerr)
			assert.Equal(t, want, got)
		})
	}
}

func renderFS(fs filesys.FileSystem) (string, error) {
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/repo/app")
	if err != nil {
		return "", err
	}
	out, err := rm.AsYaml()
	return string(out), err
}

func TestBeforeRenderComesFromTheCache(t *testing.T) {
	files := map[string]string{
		"apps/a/kustomization.yaml": "resources:\n- cm.yaml\nimages:\n- name: a\n  newTag: \"1\"\n",
		"apps/a/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
		"apps/b/kustomization.yaml": "resources:\n- cm.yaml\n",
		"apps/b/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
	}
	r, _ := cachedRepo(t, files)
	ctx := context.Background()
	_, err := r.Fetch(ctx)
	require.NoError(t, err)

	tree, _, err := CheckChange(ctx, r, plumbing.ZeroHash, nil, SetImage{Dir: "apps/a", Name: "a", NewTag: "2"})
	require.NoError(t, err)
	assert.Equal(t, int64(2), r.renders.runs.Load(), "the first check renders before and after")
	tree, _, err = CheckChange(ctx, r, tree, nil, SetImage{Dir: "apps/a", Name: "a", NewTag: "3"})
	require.NoError(t, err)
	assert.Equal(t, int64(3), r.renders.runs.Load(), "the overlay before the change is the one the last check rendered")

	// An overlay rendered although its inputs did not change runs once.
	_, _, err = CheckChange(ctx, r, tree, []string{"apps/b"}, SetImage{Dir: "apps/a", Name: "a", NewTag: "4"})
	require.NoError(t, err)
	assert.Equal(t, int64(5), r.renders.runs.Load(), "a: after; b: once for before and after")

	out, err := r.Render(ctx, "", "apps/b")
	require.NoError(t, err)
	assert.Contains(t, string(out), "name: b")
	assert.Equal(t, int64(5), r.renders.runs.Load(), "the head's b was rendered by the check")

	// A file in an overlay's directory is one of its inputs.
	_, _, err = CheckChange(ctx, r, tree, nil, WriteFile{Path: "apps/b/README", Data: []byte("b\n")})
	require.NoError(t, err)
	assert.Equal(t, int64(6), r.renders.runs.Load(), "b after the change")
}

// cachedRepo makes a bare repository with files and a Repo of it with a
// cache of its own.
func cachedRepo(t *testing.T, files map[string]string) (*Repo, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "remote.git")
	require.NoError(t, createBare(dir, files))
	r, err := New("file://"+dir, WithCacheDir(filepath.Join(t.TempDir(), "cache")))
	require.NoError(t, err)
	return r, dir
}

// headTree returns a Tree, made by NewTree, of the head of the bare
// repository dir.
func headTree(t *testing.T, dir string) *Tree {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	require.NoError(t, err)
	ref, err := repo.Head()
	require.NoError(t, err)
	c, err := repo.CommitObject(ref.Hash())
	require.NoError(t, err)
	return NewTree(repo.Storer, c.TreeHash)
}

// createBare makes a bare repository at dir whose main branch has one
// commit with files.
func createBare(dir string, files map[string]string) error {
	repo, err := git.PlainInit(dir, true)
	if err != nil {
		return err
	}
	t := NewTree(repo.Storer, plumbing.ZeroHash)
	for p, c := range files {
		if err := t.WriteFile(p, []byte(c)); err != nil {
			return err
		}
	}
	root, err := t.Write()
	if err != nil {
		return err
	}
	sig := object.Signature{Name: "test", Email: "test@example.com", When: time.Unix(1700000000, 0)}
	c := &object.Commit{Author: sig, Committer: sig, Message: "init\n", TreeHash: root}
	obj := repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return err
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return err
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName("main"), h)); err != nil {
		return err
	}
	return repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName("main")))
}

func TestTreeRenderInApplySharesTheRepoCache(t *testing.T) {
	files := map[string]string{
		"apps/a/base/kustomization.yaml":          "resources:\n- cm.yaml\n",
		"apps/a/base/cm.yaml":                     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  v: \"1\"\n",
		"apps/a/overlays/prod/kustomization.yaml": "resources:\n- ../../base\nnamePrefix: prod-\n",
		"apps/b/kustomization.yaml":               "resources:\n- cm.yaml\n",
		"apps/b/cm.yaml":                          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
	}
	r, dir := cachedRepo(t, files)
	ctx := context.Background()
	head, err := r.Render(ctx, "", "apps/a/overlays/prod")
	require.NoError(t, err)
	require.Equal(t, int64(1), r.renders.runs.Load())

	var outs [][]byte
	renderProd := EditFunc(func(tr *Tree) error {
		out, err := tr.Render(ctx, "apps/a/overlays/prod")
		outs = append(outs, out)
		return err
	})
	_, err = r.Apply(ctx, Change{DryRun: true, Edits: []Edit{
		renderProd,
		// An edit elsewhere leaves the overlay's inputs as they were.
		WriteFile{Path: "apps/b/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b2\n")},
		renderProd,
		// An edit to the base, not yet written, is an input that changed.
		WriteFile{Path: "apps/a/base/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  v: \"2\"\n")},
		renderProd,
	}})
	require.NoError(t, err)
	require.Len(t, outs, 3)
	assert.Equal(t, string(head), string(outs[0]))
	assert.Equal(t, string(head), string(outs[1]))
	assert.Contains(t, string(outs[2]), `v: "2"`, "the edited base is rendered, not the cached output")
	assert.Contains(t, string(outs[2]), "name: prod-a")
	// One run for the edited base in the edit; the check renders the
	// overlay before and after the change from the cache, and runs only
	// for the kustomizations no render had read: the base and b, before
	// and after.
	assert.Equal(t, int64(6), r.renders.runs.Load(), "renders of unchanged inputs come from the Repo's cache")

	// A Tree made outside a Repo renders the same, with a cache of its own.
	tr := headTree(t, dir)
	require.NoError(t, tr.WriteFile("apps/a/base/cm.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  v: \"3\"\n")))
	out, err := tr.Render(ctx, "apps/a/overlays/prod")
	require.NoError(t, err)
	assert.Contains(t, string(out), `v: "3"`)
	assert.Equal(t, int64(6), r.renders.runs.Load(), "a Tree of its own does not use the Repo's cache")
}

func TestTreeRenderOfEditsMatchesTheWrittenTree(t *testing.T) {
	files := map[string]string{
		"apps/a/base/kustomization.yaml":          "resources:\n- cm.yaml\n",
		"apps/a/base/cm.yaml":                     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
		"apps/a/overlays/prod/kustomization.yaml": "resources:\n- ../../base\nnamePrefix: prod-\n",
	}
	dir := filepath.Join(t.TempDir(), "remote.git")
	require.NoError(t, createBare(dir, files))
	ctx := context.Background()
	for name, edit := range map[string]func(*Tree) error{
		"copied overlay": func(tr *Tree) error { return tr.Copy("apps/a/overlays/prod", "apps/a/overlays/qa") },
		"new overlay": func(tr *Tree) error {
			return tr.WriteFile("apps/a/overlays/qa/kustomization.yaml", []byte("resources:\n- ../../base\nnamePrefix: qa-\n"))
		},
		"new file in a new base dir": func(tr *Tree) error {
			if err := tr.WriteFile("apps/a/base2/kustomization.yaml", []byte("resources:\n- cm.yaml\n")); err != nil {
				return err
			}
			if err := tr.WriteFile("apps/a/base2/cm.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: two\n")); err != nil {
				return err
			}
			return tr.WriteFile("apps/a/overlays/qa/kustomization.yaml", []byte("resources:\n- ../../base2\n"))
		},
		"removed base": func(tr *Tree) error {
			if err := tr.Copy("apps/a/overlays/prod", "apps/a/overlays/qa"); err != nil {
				return err
			}
			return tr.Remove("apps/a/base")
		},
	} {
		edited := headTree(t, dir)
		require.NoError(t, edit(edited), name)
		got, gerr := edited.Render(ctx, "apps/a/overlays/qa")
		root, err := edited.Write()
		require.NoError(t, err)
		want, werr := NewTree(edited.s, root).Render(ctx, "apps/a/overlays/qa")
		if werr != nil {
			assert.Error(t, gerr, name)
			continue
		}
		require.NoError(t, gerr, name)
		assert.Equal(t, string(want), string(got), name)
		assert.NotEmpty(t, got, name)
	}
}

func TestHitChildIsHitOfTheJoinedPath(t *testing.T) {
	paths := []string{"", "apps", "apps/a", "apps/ab", "apps/a/b", "apps/a/b/c.yaml", "app", "b"}
	names := []string{"a", "ab", "apps", "b", "c.yaml"}
	for _, x := range paths {
		for _, p := range paths {
			for _, name := range names {
				for _, below := range []bool{false, true} {
					cp := cleanRoot(path.Join(p, name))
					want := under(x, cp) || below && under(cp, x)
					assert.Equal(t, want, hitChild(x, p, name, below), "x=%q p=%q name=%q below=%v", x, p, name, below)
				}
			}
		}
	}
}
