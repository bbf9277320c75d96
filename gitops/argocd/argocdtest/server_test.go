package argocdtest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

func start(t *testing.T, opts ...argocdtest.Option) (*argocdtest.Server, string) {
	t.Helper()
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv, err := argocdtest.New(opts...)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	require.NoError(t, srv.AddApp(context.Background(), argocdtest.App{Name: "shop", RepoURL: gitopstest.FileURL(dir), Path: "apps/shop/overlays/dev"}))
	return srv, dir
}

func call(t *testing.T, srv *argocdtest.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, r)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

func at(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, _ := cur.(map[string]any)
		cur = mm[p]
	}
	return cur
}

// TestWireFormat checks the raw JSON against Argo CD's field names.
func TestWireFormat(t *testing.T) {
	srv, dir := start(t)
	head := gitopstest.Head(t, dir).String()
	code, out := call(t, srv, "POST", "/api/v1/applications/shop/sync", `{"name":"shop","revision":"`+head+`","prune":true}`)
	require.Equal(t, 200, code, out)
	srv.Clock().Advance(time.Minute)
	code, app := call(t, srv, "GET", "/api/v1/applications/shop", "")
	require.Equal(t, 200, code)
	assert.Equal(t, "shop", at(app, "metadata", "name"))
	assert.Equal(t, gitopstest.FileURL(dir), at(app, "spec", "source", "repoURL"))
	assert.Equal(t, "apps/shop/overlays/dev", at(app, "spec", "source", "path"))
	assert.Equal(t, "Synced", at(app, "status", "sync", "status"))
	assert.Equal(t, head, at(app, "status", "sync", "revision"))
	assert.Equal(t, "Healthy", at(app, "status", "health", "status"))
	assert.Equal(t, "Succeeded", at(app, "status", "operationState", "phase"))
	assert.Equal(t, head, at(app, "status", "operationState", "syncResult", "revision"))
	assert.Equal(t, head, at(app, "status", "operationState", "operation", "sync", "revision"))
	assert.Equal(t, true, at(app, "status", "operationState", "operation", "sync", "prune"))
	for _, f := range []string{"startedAt", "finishedAt"} {
		_, err := time.Parse(time.RFC3339, at(app, "status", "operationState", f).(string))
		assert.NoError(t, err, f)
	}
	_, err := time.Parse(time.RFC3339, at(app, "status", "reconciledAt").(string))
	assert.NoError(t, err)
	hist := at(app, "status", "history").([]any)
	require.Len(t, hist, 1)
	assert.Equal(t, float64(0), hist[0].(map[string]any)["id"])
	assert.Contains(t, hist[0], "deployedAt")
	res := at(app, "status", "resources").([]any)
	require.Len(t, res, 2)
	assert.Equal(t, map[string]any{"status": "Healthy"}, res[1].(map[string]any)["health"])
	assert.Nil(t, app["operation"], "no operation requested once it finished")

	code, tree := call(t, srv, "GET", "/api/v1/applications/shop/resource-tree", "")
	require.Equal(t, 200, code)
	nodes := tree["nodes"].([]any)
	assert.Contains(t, nodes[0], "uid")

	code, list := call(t, srv, "GET", "/api/v1/applications", "")
	require.Equal(t, 200, code)
	assert.Len(t, list["items"], 1)
}

func TestErrorBodies(t *testing.T) {
	srv, _ := start(t)
	code, out := call(t, srv, "GET", "/api/v1/applications/nope", "")
	assert.Equal(t, 404, code)
	assert.Equal(t, map[string]any{"error": `applications.argoproj.io "nope" not found`, "code": float64(5), "message": `applications.argoproj.io "nope" not found`}, out)

	code, out = call(t, srv, "DELETE", "/api/v1/applications/shop/operation", "")
	assert.Equal(t, 400, code)
	assert.Equal(t, float64(9), out["code"])

	code, out = call(t, srv, "GET", "/api/v1/applications/shop?refresh=soft", "")
	assert.Equal(t, 400, code)
	assert.Equal(t, float64(3), out["code"])

	req, err := http.NewRequest("POST", srv.URL+"/api/v1/applications/shop/sync", strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode, "a body without the JSON content type is refused, as Argo CD does")

	code, out = call(t, srv, "POST", "/api/v1/applications/shop/sync", `{"name":`)
	assert.Equal(t, 400, code)
	assert.Equal(t, float64(3), out["code"])

	req, err = http.NewRequest("GET", srv.URL+"/api/v1/applications/shop", nil)
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)
}

func TestStreamFormat(t *testing.T) {
	srv, _ := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/stream/applications?name=shop", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadBytes('\n')
	require.NoError(t, err)
	var chunk map[string]any
	require.NoError(t, json.Unmarshal(line, &chunk))
	assert.Equal(t, "ADDED", at(chunk, "result", "type"))
	assert.Equal(t, "shop", at(chunk, "result", "application", "metadata", "name"))

	code, _ := call(t, srv, "POST", "/api/v1/applications/shop/sync", `{"name":"shop"}`)
	require.Equal(t, 200, code)
	line, err = r.ReadBytes('\n')
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(line, &chunk))
	assert.Equal(t, "MODIFIED", at(chunk, "result", "type"))
	assert.Equal(t, "Running", at(chunk, "result", "application", "status", "operationState", "phase"))

	code, out := call(t, srv, "GET", "/api/v1/stream/applications?name=nope", "")
	assert.Equal(t, 404, code)
	assert.Equal(t, float64(5), out["code"])
}

func TestAddAppBadInput(t *testing.T) {
	srv, dir := start(t)
	ctx := context.Background()
	assert.ErrorContains(t, srv.AddApp(ctx, argocdtest.App{}), "Name is required")
	assert.ErrorContains(t, srv.AddApp(ctx, argocdtest.App{Name: "x"}), "RepoURL and Path are required")
	assert.ErrorContains(t, srv.AddApp(ctx, argocdtest.App{Name: "shop", RepoURL: gitopstest.FileURL(dir), Path: "p"}), "already exists")
	err := srv.AddApp(ctx, argocdtest.App{Name: "gone", RepoURL: gitopstest.FileURL(t.TempDir() + "/missing.git"), Path: "p"})
	assert.ErrorContains(t, err, `AddApp "gone"`)
	_, ok := srv.Application(ctx, "gone")
	assert.False(t, ok)
	app, ok := srv.Application(ctx, "shop")
	require.True(t, ok)
	assert.Equal(t, "OutOfSync", app.Status.Sync.Status)
}

func TestCallsAndFaults(t *testing.T) {
	srv, _ := start(t)
	srv.FailNext(418)
	code, out := call(t, srv, "GET", "/api/v1/applications/shop", "")
	assert.Equal(t, 418, code)
	assert.Equal(t, "injected failure", out["message"])
	srv.MalformNext(1)
	code, out = call(t, srv, "GET", "/api/v1/applications/shop", "")
	assert.Equal(t, 200, code)
	assert.Nil(t, out, "truncated JSON")
	calls := srv.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, argocdtest.Call{Method: "GET", Path: "/api/v1/applications/shop", App: "shop"}, calls[0])
	assert.Nil(t, srv.CACertPEM(), "no certificate without TLS")
}

// The history keeps the last syncs, as Argo CD's revisionHistoryLimit
// does: IDs count on, and a sync dropped from it cannot be rolled back
// to.
func TestHistoryKeepsTheLastSyncs(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv, err := argocdtest.New()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	require.NoError(t, srv.AddApp(ctx, argocdtest.App{Name: "shop", RepoURL: gitopstest.FileURL(dir), Path: "apps/shop/overlays/dev", RevisionHistoryLimit: 3}))
	require.NoError(t, srv.AddApp(ctx, argocdtest.App{Name: "default", RepoURL: gitopstest.FileURL(dir), Path: "apps/shop/overlays/dev"}))
	var revs []string
	for i := range 12 {
		rev := gitopstest.Commit(t, dir, gitopstest.Files{"apps/shop/NOTES": strings.Repeat("x", i+1)}, nil, "change").String()
		revs = append(revs, rev)
		for _, app := range []string{"shop", "default"} {
			code, out := call(t, srv, "POST", "/api/v1/applications/"+app+"/sync", `{"revision":"`+rev+`"}`)
			require.Equal(t, 200, code, out)
		}
		srv.Clock().Advance(time.Minute)
	}
	ids := func(app string) (ids []float64, got []string) {
		_, out := call(t, srv, "GET", "/api/v1/applications/"+app, "")
		for _, h := range at(out, "status", "history").([]any) {
			ids = append(ids, h.(map[string]any)["id"].(float64))
			got = append(got, h.(map[string]any)["revision"].(string))
		}
		return ids, got
	}
	id, got := ids("shop")
	assert.Equal(t, []float64{9, 10, 11}, id)
	assert.Equal(t, revs[9:], got)
	id, got = ids("default")
	assert.Equal(t, []float64{2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, id, "ten by default")
	assert.Equal(t, revs[2:], got)

	code, out := call(t, srv, "POST", "/api/v1/applications/shop/rollback", `{"id":8}`)
	assert.Equal(t, 400, code, "no longer in the history")
	assert.Contains(t, out["message"], "does not have deployment with id 8")
	code, out = call(t, srv, "POST", "/api/v1/applications/shop/rollback", `{"id":9}`)
	require.Equal(t, 200, code, out)
	srv.Clock().Advance(time.Minute)
	id, got = ids("shop")
	assert.Equal(t, []float64{10, 11, 12}, id)
	assert.Equal(t, revs[9], got[2], "the rollback is a sync of its own")
}

// The resourceVersion moves when the application changes, and only then.
func TestResourceVersionMovesOnChange(t *testing.T) {
	srv, dir := start(t)
	rv := func() string {
		code, app := call(t, srv, "GET", "/api/v1/applications/shop", "")
		require.Equal(t, 200, code)
		return at(app, "metadata", "resourceVersion").(string)
	}
	first := rv()
	assert.Equal(t, first, rv(), "nothing changed")
	code, out := call(t, srv, "POST", "/api/v1/applications/shop/sync", `{"revision":"`+gitopstest.Head(t, dir).String()+`"}`)
	require.Equal(t, 200, code, out)
	running := rv()
	assert.NotEqual(t, first, running, "an operation started")
	assert.Equal(t, running, rv())
	srv.Clock().Advance(time.Minute)
	done := rv()
	assert.NotEqual(t, running, done, "the operation ended")
	assert.Equal(t, done, rv(), "nothing changed since")
}
