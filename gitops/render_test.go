package gitops_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

const (
	deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: web\n        image: web:1\n"
	service    = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n"
	// servicePatch patches the base's Service: an overlay with it breaks
	// when the Service goes.
	servicePatch = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodePort\n"
)

// sharedBase is a base used by three overlays, of which a and b patch its
// Service and c does not.
func sharedBase() gitopstest.Files {
	f := gitopstest.Files{
		"base/kustomization.yaml": "resources:\n- deployment.yaml\n- service.yaml\n",
		"base/deployment.yaml":    deployment,
		"base/service.yaml":       service,
	}
	for _, o := range []string{"a", "b"} {
		f["overlays/"+o+"/kustomization.yaml"] = "namespace: " + o + "\nresources:\n- ../../base\npatches:\n- path: service.yaml\n"
		f["overlays/"+o+"/service.yaml"] = servicePatch
	}
	f["overlays/c/kustomization.yaml"] = "namespace: c\nresources:\n- ../../base\n"
	return f
}

// dropService removes the Service from the base: the base still renders,
// overlays a and b no longer do.
var dropService = gitops.Change{Message: "drop the service", Edits: []gitops.Edit{
	gitops.RemoveFile{Path: "base/service.yaml"},
	gitops.WriteFile{Path: "base/kustomization.yaml", Data: []byte("resources:\n- deployment.yaml\n")},
}}

func TestBaseEditNamesEveryOverlayItBreaks(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, sharedBase())
	before := gitopstest.Head(t, dir)
	r := newRepo(t, gitopstest.FileURL(dir))

	_, err := r.Apply(context.Background(), dropService)
	var re *gitops.RenderError
	require.ErrorAs(t, err, &re)
	assert.ErrorIs(t, err, gitops.ErrRender)
	var dirs []string
	for _, f := range re.Failures {
		dirs = append(dirs, f.Dir)
		assert.NotContains(t, f.Err.Error(), "\n", "one line")
		assert.NotContains(t, f.Err.Error(), "accumulat", "no wrapping chain")
		assert.Contains(t, f.Err.Error(), "Service", "the cause names what is missing")
	}
	assert.Equal(t, []string{"overlays/a", "overlays/b"}, dirs, "exactly the overlays the change breaks")
	assert.Equal(t, "overlays/a", re.Dir)
	assert.Contains(t, err.Error(), "2 overlays do not render: overlays/a: ")
	assert.Contains(t, err.Error(), "; overlays/b: ")
	assert.NotContains(t, err.Error(), "overlays/c")
	assert.Equal(t, before, gitopstest.Head(t, dir), "nothing pushed")

	// A base edit that breaks nothing renders and diffs every overlay.
	res, err := r.Apply(context.Background(), gitops.Change{Edits: []gitops.Edit{
		gitops.SetField{File: "base/deployment.yaml", Field: "spec.replicas", Value: "3"},
	}})
	require.NoError(t, err)
	assert.Equal(t, []string{"base", "overlays/a", "overlays/b", "overlays/c"}, res.Overlays)
	for _, o := range res.Overlays {
		assert.Contains(t, res.Diff, "+++ b/"+o)
	}
}

func TestComponentEditChecksTheOverlaysThatIncludeIt(t *testing.T) {
	files := gitopstest.Files{
		"base/kustomization.yaml": "resources:\n- deployment.yaml\n",
		"base/deployment.yaml":    deployment,
		"components/probe/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n" +
			"patches:\n- path: probe.yaml\n",
		"components/probe/probe.yaml":   "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  minReadySeconds: 5\n",
		"overlays/x/kustomization.yaml": "resources:\n- ../../base\ncomponents:\n- ../../components/probe\n",
		"overlays/y/kustomization.yaml": "namespace: ns-y\nresources:\n- ../../base\ncomponents:\n- ../../components/probe\n",
		"overlays/z/kustomization.yaml": "resources:\n- ../../base\n",
	}
	dir := gitopstest.NewBareRepo(t, files)
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()

	res, err := r.Apply(ctx, gitops.Change{Edits: []gitops.Edit{
		gitops.SetField{File: "components/probe/probe.yaml", Field: "spec.minReadySeconds", Value: "10"},
	}})
	require.NoError(t, err)
	assert.Equal(t, []string{"overlays/x", "overlays/y"}, res.Overlays, "the component is checked through its includers only")
	assert.Contains(t, res.Diff, "+  minReadySeconds: 10")

	// The component now patches a Deployment its includers do not have.
	_, err = r.Apply(ctx, gitops.Change{Edits: []gitops.Edit{
		gitops.SetField{File: "components/probe/probe.yaml", Field: "metadata.name", Value: "ghost"},
	}})
	var re *gitops.RenderError
	require.ErrorAs(t, err, &re)
	require.Len(t, re.Failures, 2)
	assert.Equal(t, "overlays/x", re.Failures[0].Dir)
	assert.Equal(t, "overlays/y", re.Failures[1].Dir)
	assert.Contains(t, re.Failures[0].Err.Error(), "ghost")
}

func TestChainBaseMidOverlay(t *testing.T) {
	files := gitopstest.Files{
		"base/kustomization.yaml": "resources:\n- deployment.yaml\n- service.yaml\n",
		"base/deployment.yaml":    deployment,
		"base/service.yaml":       service,
		"mid/kustomization.yaml":  "namePrefix: mid-\nresources:\n- ../base\n",
		// The overlay patches the Service that comes through mid.
		"top/kustomization.yaml":   "resources:\n- ../mid\npatches:\n- path: service.yaml\n",
		"top/service.yaml":         strings.Replace(servicePatch, "name: web", "name: mid-web", 1),
		"other/kustomization.yaml": "resources:\n- ../base\n",
	}
	dir := gitopstest.NewBareRepo(t, files)
	r := newRepo(t, gitopstest.FileURL(dir))

	res, err := r.Apply(context.Background(), gitops.Change{DryRun: true, Edits: []gitops.Edit{
		gitops.SetField{File: "base/service.yaml", Field: "spec.ports.0.port", Value: "8080"},
	}})
	require.NoError(t, err)
	assert.Equal(t, []string{"base", "mid", "other", "top"}, res.Overlays, "transitive includers")
	assert.Contains(t, res.Diff, "+++ b/top")

	_, err = r.Apply(context.Background(), dropService)
	var re *gitops.RenderError
	require.ErrorAs(t, err, &re)
	require.Len(t, re.Failures, 1, "mid and other still render")
	assert.Equal(t, "top", re.Dir)
	assert.Contains(t, err.Error(), "mid-web")
}

func TestIncludersThroughAnyPathField(t *testing.T) {
	files := gitopstest.Files{
		// A transformer configuration shared through the transformers
		// field, not resources.
		"shared/labels/kustomization.yaml": "resources:\n- labeler.yaml\n",
		"shared/labels/labeler.yaml": "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: team\n" +
			"labels:\n  team: shop\nfieldSpecs:\n- path: metadata/labels\n  create: true\n",
		"apps/web/kustomization.yaml": "resources:\n- cm.yaml\ntransformers:\n- ../../shared/labels\n",
		"apps/web/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n",
		"apps/db/kustomization.yaml":  "resources:\n- cm.yaml\n",
		"apps/db/cm.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\n",
	}
	dir := gitopstest.NewBareRepo(t, files)
	r := newRepo(t, gitopstest.FileURL(dir))
	res, err := r.Apply(context.Background(), gitops.Change{Edits: []gitops.Edit{
		gitops.SetField{File: "shared/labels/labeler.yaml", Field: "labels.team", Value: "payments"},
	}})
	require.NoError(t, err)
	assert.Equal(t, []string{"apps/web", "shared/labels"}, res.Overlays)
	assert.Contains(t, res.Diff, "+    team: payments")
}

func TestIndexFollowsNewCommits(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, sharedBase())
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()
	edit := func(replicas string) gitops.Change {
		return gitops.Change{Edits: []gitops.Edit{gitops.SetField{File: "base/deployment.yaml", Field: "spec.replicas", Value: replicas}}}
	}
	res, err := r.Apply(ctx, edit("2"))
	require.NoError(t, err)
	require.NotContains(t, res.Overlays, "overlays/d")

	// Another writer adds an overlay of the base; the next base edit on
	// this Repo checks it too.
	gitopstest.Commit(t, dir, gitopstest.Files{"overlays/d/kustomization.yaml": "resources:\n- ../../base\n"}, nil, "add d")
	res, err = r.Apply(ctx, edit("3"))
	require.NoError(t, err)
	assert.Contains(t, res.Overlays, "overlays/d")
}

func TestAlreadyBrokenIncluderDoesNotBlockAChange(t *testing.T) {
	files := sharedBase()
	files["overlays/broken/kustomization.yaml"] = "resources:\n- ../../base\npatches:\n- path: missing.yaml\n"
	dir := gitopstest.NewBareRepo(t, files)
	var logs bytes.Buffer
	r := newRepo(t, gitopstest.FileURL(dir), gitops.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	res, err := r.Apply(context.Background(), gitops.Change{Edits: []gitops.Edit{
		gitops.SetField{File: "base/deployment.yaml", Field: "spec.replicas", Value: "2"},
	}})
	require.NoError(t, err, "the change did not break it")
	assert.True(t, res.Changed)
	assert.Contains(t, res.Overlays, "overlays/broken")
	assert.Contains(t, logs.String(), "overlay=overlays/broken")
	assert.Contains(t, logs.String(), "missing.yaml")

	// An edit of the broken overlay itself is still refused.
	_, err = r.Apply(context.Background(), gitops.Change{Edits: []gitops.Edit{
		gitops.WriteFile{Path: "overlays/broken/README", Data: []byte("fix me\n")},
	}})
	assert.ErrorIs(t, err, gitops.ErrRender)
}

func TestRenderErrorIsShortenedToTheCause(t *testing.T) {
	files := gitopstest.Files{
		"base/kustomization.yaml": "resources:\n- ../mid\n",
		"mid/kustomization.yaml":  "resources:\n- deployment.yaml\n- gone.yaml\n",
		"mid/deployment.yaml":     deployment,
		"top/kustomization.yaml":  "resources:\n- ../base\n",
		"bad/kustomization.yaml":  "resources:\n- deployment.yaml\npatches:\n- path: nope.yaml\n",
		"bad/deployment.yaml":     deployment,
		"yaml/kustomization.yaml": "resources:\n- broken.yaml\n",
		"yaml/broken.yaml":        "a: b: c\n",
	}
	dir := gitopstest.NewBareRepo(t, files)
	r := newRepo(t, gitopstest.FileURL(dir))
	cases := map[string]string{
		"top":  "'mid/gone.yaml' doesn't exist",
		"bad":  "PatchTransformer: failed to get the patch file from path(nope.yaml): 'bad/nope.yaml' doesn't exist",
		"yaml": "yaml/broken.yaml: ",
	}
	for overlay, want := range cases {
		_, err := r.Render(context.Background(), "", overlay)
		var re *gitops.RenderError
		require.ErrorAs(t, err, &re, overlay)
		assert.Equal(t, overlay, re.Dir)
		msg := re.Err.Error()
		assert.Contains(t, msg, want, overlay)
		assert.NotContains(t, msg, "\n", overlay)
		assert.NotContains(t, msg, "accumulation err", overlay)
		assert.NotContains(t, msg, "/repo/", overlay)
		assert.Equal(t, "gitops: render "+overlay+": "+msg, err.Error())
	}
}

func TestRemoteResourcesAreRefusedByDefault(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(service))
	}))
	defer srv.Close()
	cases := map[string]string{
		"url":        srv.URL + "/service.yaml",
		"git":        "github.com/example/repo//base?ref=v1.0.0",
		"https git":  "https://example.com/org/repo.git/base?ref=main",
		"scp":        "git@github.com:example/repo.git//base",
		"forced git": "git::" + srv.URL + "/org/repo//base",
	}
	for name, entry := range cases {
		t.Run(name, func(t *testing.T) {
			files := gitopstest.KustomizeLayout("shop")
			files["apps/shop/overlays/prod/kustomization.yaml"] = "resources:\n- ../../base\n- " + entry + "\n"
			dir := gitopstest.NewBareRepo(t, files)
			before := gitopstest.Head(t, dir)
			r := newRepo(t, gitopstest.FileURL(dir))

			_, err := r.Render(context.Background(), "", "apps/shop/overlays/prod")
			require.Error(t, err)
			assert.ErrorIs(t, err, gitops.ErrRender)
			assert.ErrorIs(t, err, gitops.ErrRemoteResource)
			assert.ErrorContains(t, err, "apps/shop/overlays/prod/kustomization.yaml", "names the kustomization")
			assert.ErrorContains(t, err, entry, "names the entry")
			assert.ErrorContains(t, err, "WithRemoteResources")

			_, err = r.Apply(context.Background(), deploy("shop", "prod", digestA))
			assert.ErrorIs(t, err, gitops.ErrRemoteResource)
			assert.Equal(t, before, gitopstest.Head(t, dir))
		})
	}
	assert.Zero(t, hits.Load(), "nothing was fetched")

	t.Run("patch URL", func(t *testing.T) {
		files := gitopstest.KustomizeLayout("shop")
		files["apps/shop/overlays/prod/kustomization.yaml"] = "resources:\n- ../../base\npatches:\n- path: " + srv.URL + "/p.yaml\n"
		r := newRepo(t, gitopstest.FileURL(gitopstest.NewBareRepo(t, files)), gitops.WithRemoteResources(true))
		_, err := r.Render(context.Background(), "", "apps/shop/overlays/prod")
		assert.ErrorIs(t, err, gitops.ErrRemoteResource, "only resources may be remote, even when enabled")
		assert.ErrorContains(t, err, "patches")
		assert.Zero(t, hits.Load())
	})
}

func TestRemoteResourcesWhenEnabled(t *testing.T) {
	remote := gitopstest.NewBareRepo(t, gitopstest.Files{
		"deploy/base/kustomization.yaml":   "resources:\n- deployment.yaml\n- ../shared\n",
		"deploy/base/deployment.yaml":      deployment,
		"deploy/shared/kustomization.yaml": "resources:\n- sa.yaml\n",
		"deploy/shared/sa.yaml":            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n",
	})
	gitSrv := gitopstest.Serve(t, remote)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var block atomic.Bool
	fileSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if block.Load() {
			select {
			case entered <- struct{}{}:
			case <-r.Context().Done():
				return
			}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		_, _ = w.Write([]byte(service))
	}))
	defer fileSrv.Close()

	files := gitopstest.Files{
		"app/kustomization.yaml": "namespace: app\nresources:\n- " + gitSrv.URL() + "//deploy/base?ref=main\n- " + fileSrv.URL + "/service.yaml\n",
	}
	dir := gitopstest.NewBareRepo(t, files)
	r := newRepo(t, gitopstest.FileURL(dir), gitops.WithRemoteResources(true))
	ctx := context.Background()
	out, err := r.Render(ctx, "", "app")
	require.NoError(t, err)
	assert.Contains(t, string(out), "kind: Deployment")
	assert.Contains(t, string(out), "kind: ServiceAccount", "the remote base's own sibling directory")
	assert.Contains(t, string(out), "kind: Service\n")
	assert.Contains(t, string(out), "namespace: app")

	// A fetch is bounded by the context.
	block.Store(true)
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = r.Render(tctx, "", "app")
	cancel()
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, gitops.ErrRemoteResource)
	// On a loaded machine the deadline can pass before the request reaches
	// the server, so the signal is drained only if it came.
	select {
	case <-entered:
	default:
	}

	// While a fetch waits, the Repo serves other callers.
	head := gitopstest.Head(t, dir)
	done := make(chan error, 1)
	go func() {
		_, err := r.Render(ctx, head.String(), "app")
		done <- err
	}()
	<-entered
	data, err := r.ReadFile(ctx, head.String(), "app/kustomization.yaml")
	require.NoError(t, err, "the Repo's lock is free during the fetch")
	assert.Contains(t, string(data), "namespace: app")
	close(release)
	require.NoError(t, <-done)

	// Apply fetches the remote resources of the overlays it checks the
	// same way, with the Repo free meanwhile.
	release = make(chan struct{})
	applied := make(chan error, 1)
	go func() {
		res, err := r.Apply(ctx, gitops.Change{Edits: []gitops.Edit{
			gitops.WriteFile{Path: "app/kustomization.yaml", Data: []byte(strings.Replace(files["app/kustomization.yaml"], "namespace: app", "namespace: app2", 1))},
		}})
		if err == nil && !strings.Contains(res.Diff, "+  namespace: app2") {
			err = errors.New("no diff of the remote resources: " + res.Diff)
		}
		applied <- err
	}()
	<-entered
	_, err = r.ReadFile(ctx, head.String(), "app/kustomization.yaml")
	require.NoError(t, err, "the Repo's lock is free while Apply fetches")
	close(release)
	require.NoError(t, <-applied)
	assert.Contains(t, gitopstest.ReadFile(t, dir, "app/kustomization.yaml"), "namespace: app2")
}

func TestDeprecationWarningsGoToTheLogger(t *testing.T) {
	old := gitopstest.Files{
		"base/kustomization.yaml": "resources:\n- deployment.yaml\n- service.yaml\n",
		"base/deployment.yaml":    deployment,
		"base/service.yaml":       service,
		"app/kustomization.yaml": "bases:\n- ../base\nresources:\n- extra.yaml\ncommonLabels:\n  team: shop\n" +
			"imageTags:\n- name: web\n  newTag: \"2\"\npatchesStrategicMerge:\n- replicas.yaml\n",
		"app/extra.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n",
		"app/replicas.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 4\n",
	}
	current := gitopstest.Files{
		"app/kustomization.yaml": "resources:\n- extra.yaml\n- ../base\nlabels:\n- pairs:\n    team: shop\n  includeSelectors: true\n" +
			"images:\n- name: web\n  newTag: \"2\"\npatches:\n- path: replicas.yaml\n",
	}
	for p, c := range old {
		if _, ok := current[p]; !ok {
			current[p] = c
		}
	}
	var logs bytes.Buffer
	r := newRepo(t, gitopstest.FileURL(gitopstest.NewBareRepo(t, old)), gitops.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	modern := newRepo(t, gitopstest.FileURL(gitopstest.NewBareRepo(t, current)))

	stderr := captureStderr(t, func() {
		out, err := r.Render(context.Background(), "", "app")
		require.NoError(t, err)
		want, err := modern.Render(context.Background(), "", "app")
		require.NoError(t, err)
		assert.Equal(t, string(want), string(out), "renders as kustomize renders the deprecated fields")
		assert.Contains(t, string(out), "replicas: 4")
		assert.Contains(t, string(out), "team: shop")
	})
	assert.Empty(t, stderr, "kustomize printed nothing")
	for _, field := range []string{"'bases' is deprecated", "'commonLabels' is deprecated", "'imageTags' is deprecated", "'patchesStrategicMerge' is deprecated"} {
		assert.Contains(t, logs.String(), field)
	}
	assert.Contains(t, logs.String(), "kustomization=app/kustomization.yaml")
	assert.Contains(t, logs.String(), "level=WARN")
}

// captureStderr runs fn with os.Stderr on a pipe and returns what was
// written to it. Tests that use it must not run in parallel.
func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	rd, wr, err := os.Pipe()
	require.NoError(t, err)
	saved := os.Stderr
	os.Stderr = wr
	got := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = b.ReadFrom(rd)
		got <- b.String()
	}()
	defer func() {
		os.Stderr = saved
		_ = wr.Close()
	}()
	fn()
	os.Stderr = saved
	_ = wr.Close()
	return <-got
}

func TestRenderErrorListsEveryFailure(t *testing.T) {
	e := &gitops.RenderError{Dir: "a", Err: errors.New("x"), Failures: []gitops.RenderFailure{{Dir: "a", Err: errors.New("x")}}}
	assert.Equal(t, "gitops: render a: x", e.Error())
	inner := errors.New("y")
	e.Failures = append(e.Failures, gitops.RenderFailure{Dir: "b", Err: inner})
	assert.Equal(t, "gitops: 2 overlays do not render: a: x; b: y", e.Error())
	assert.ErrorIs(t, e, inner)
	assert.ErrorIs(t, e, gitops.ErrRender)
}

func TestCopiedDirectoryChecksItsOverlaysAndTheirIncluders(t *testing.T) {
	files := gitopstest.KustomizeLayout("shop")
	files["envs/prod/kustomization.yaml"] = "resources:\n- ../../apps/cart/overlays/prod\n"
	files["apps/cart/overlays/prod/kustomization.yaml"] = "resources:\n- cm.yaml\n"
	files["apps/cart/overlays/prod/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cart\n"
	dir := gitopstest.NewBareRepo(t, files)
	r := newRepo(t, gitopstest.FileURL(dir))
	res, err := r.Apply(context.Background(), gitops.Change{DryRun: true, Edits: []gitops.Edit{
		gitops.CopyDir{From: "apps/shop", To: "apps/cart"},
	}})
	require.NoError(t, err)
	assert.Equal(t, []string{"apps/cart/base", "apps/cart/overlays/dev", "apps/cart/overlays/prod", "apps/cart/overlays/staging", "envs/prod"}, res.Overlays,
		"every overlay the copy brings, and the kustomization that includes one of them")
	assert.Contains(t, res.Diff, "+++ b/envs/prod")
}
