package gitopstest_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

func repoFor(t *testing.T, url string, opts ...gitops.Option) *gitops.Repo {
	t.Helper()
	r, err := gitops.New(url, append([]gitops.Option{gitops.WithCacheDir(filepath.Join(t.TempDir(), "c"))}, opts...)...)
	require.NoError(t, err)
	return r
}

func TestNewBareRepoAndCommit(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.Files{"a/b.txt": "one"})
	first := gitopstest.Head(t, dir)
	require.False(t, first.IsZero())
	assert.Equal(t, "one", gitopstest.ReadFile(t, dir, "a/b.txt"))

	second := gitopstest.Commit(t, dir, gitopstest.Files{"c.txt": "two"}, []string{"a/b.txt"}, "second")
	log := gitopstest.Log(t, dir)
	require.Len(t, log, 2)
	assert.Equal(t, second, log[0].Hash)
	assert.Equal(t, first, log[0].ParentHashes[0])
	assert.Equal(t, "two", gitopstest.ReadFile(t, dir, "c.txt"))

	empty := gitopstest.NewBareRepo(t, nil)
	assert.True(t, gitopstest.Head(t, empty).IsZero())
}

func TestKustomizeLayoutRenders(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("web", "api"))
	r := repoFor(t, gitopstest.FileURL(dir))
	for _, app := range []string{"web", "api"} {
		for i, env := range []string{"dev", "staging", "prod"} {
			out, err := r.Render(context.Background(), "", "apps/"+app+"/overlays/"+env)
			require.NoError(t, err)
			assert.Contains(t, string(out), "namespace: "+app+"-"+env)
			assert.Contains(t, string(out), "image: "+gitopstest.Image(app)+":1.0.0")
			assert.Contains(t, string(out), "replicas: "+string(rune('1'+i)))
		}
	}
}

func TestServerAuthAndRequests(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("web"))
	srv := gitopstest.Serve(t, dir, gitopstest.WithBasicAuth("u", "p"))

	_, err := repoFor(t, srv.URL()).Fetch(context.Background())
	assert.ErrorIs(t, err, gitops.ErrAuth)
	reqs := srv.Requests()
	require.NotEmpty(t, reqs)
	assert.Equal(t, http.StatusUnauthorized, reqs[0].Status)

	r := repoFor(t, srv.URL(), gitops.WithAuth(&githttp.BasicAuth{Username: "u", Password: "p"}))
	head, err := r.Fetch(context.Background())
	require.NoError(t, err)
	assert.Equal(t, gitopstest.Head(t, dir), head)
	last := srv.Requests()[len(srv.Requests())-1]
	assert.Equal(t, "git-upload-pack", last.Service)
	assert.Equal(t, http.StatusOK, last.Status)
	assert.Equal(t, 0, srv.Pushes())
}

func TestServerFaults(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("web"))
	srv := gitopstest.Serve(t, dir)
	r := repoFor(t, srv.URL())

	srv.FailNext(1, http.StatusServiceUnavailable)
	_, err := r.Fetch(context.Background())
	assert.ErrorIs(t, err, gitops.ErrRemote)
	_, err = r.Fetch(context.Background())
	assert.NoError(t, err, "only the next request fails")

	srv.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = r.Fetch(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	srv.SetDelay(0)

	before := gitopstest.Head(t, dir)
	srv.RejectNextPush()
	res, err := r.Apply(context.Background(), gitops.Change{Edits: []gitops.Edit{gitops.WriteFile{Path: "x.txt", Data: []byte("x")}}})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Attempts)
	log := gitopstest.Log(t, dir)
	require.Len(t, log, 3)
	assert.Equal(t, before, log[2].Hash)
}

func TestWriterRecordsAndInjects(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("web"))
	boom := errors.New("boom")
	w.FailNext(boom)
	ch := gitops.Change{Edits: []gitops.Edit{gitops.SetImage{Dir: "apps/web/overlays/dev", Name: gitopstest.Image("web"), NewTag: "2.0.0"}}}
	_, err := w.Apply(context.Background(), ch)
	assert.ErrorIs(t, err, boom)
	before := gitopstest.Head(t, w.Dir)

	res, err := w.Apply(context.Background(), ch)
	require.NoError(t, err)
	assert.True(t, res.Changed)
	assert.NotEqual(t, before, gitopstest.Head(t, w.Dir))
	assert.Contains(t, gitopstest.ReadFile(t, w.Dir, "apps/web/overlays/dev/kustomization.yaml"), "newTag: 2.0.0")
	assert.Len(t, w.Calls(), 2)
}

// ApplyAll answers a change with the next injected error and applies the
// others together, one commit each.
func TestWriterApplyAll(t *testing.T) {
	w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("web", "api", "db"))
	boom := errors.New("boom")
	w.FailNext(boom)
	var chs []gitops.Change
	for _, app := range []string{"web", "api", "db"} {
		chs = append(chs, gitops.Change{Edits: []gitops.Edit{gitops.SetImage{Dir: "apps/" + app + "/overlays/dev", Name: gitopstest.Image(app), NewTag: "2.0.0"}}})
	}
	before := len(gitopstest.Log(t, w.Dir))
	res, errs := w.ApplyAll(context.Background(), chs)
	assert.ErrorIs(t, errs[0], boom)
	assert.False(t, res[0].Changed)
	for i := 1; i < 3; i++ {
		require.NoError(t, errs[i])
		assert.True(t, res[i].Changed)
	}
	assert.Equal(t, res[1].Commit, res[2].Parent, "one chain, in order")
	assert.Len(t, gitopstest.Log(t, w.Dir), before+2)
	assert.NotContains(t, gitopstest.ReadFile(t, w.Dir, "apps/web/overlays/dev/kustomization.yaml"), "2.0.0")
	assert.Len(t, w.Calls(), 3)
}

// A push refused before git-http-backend (here for want of credentials)
// does not consume the hooks: they run for the next push that gets
// through.
func TestBeforeNextPushWaitsForAPushThatGetsThrough(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("web"))
	srv := gitopstest.Serve(t, dir, gitopstest.WithBasicAuth("u", "p"))
	ran := 0
	srv.BeforeNextPush(func() { ran++ })

	resp, err := http.Post(srv.URL()+"/git-receive-pack", "application/x-git-receive-pack-request", nil)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, 0, ran, "the refused push did not run the hook")

	r := repoFor(t, srv.URL(), gitops.WithAuth(&githttp.BasicAuth{Username: "u", Password: "p"}))
	_, err = r.Apply(context.Background(), gitops.Change{Edits: []gitops.Edit{gitops.WriteFile{Path: "x.txt", Data: []byte("x")}}})
	require.NoError(t, err)
	assert.Equal(t, 1, ran)
	assert.Equal(t, 2, srv.Pushes())
}
