package argocdv2test_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	synccommon "github.com/argoproj/gitops-engine/pkg/sync/common"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2/argocdv2test"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2/internal/fixture"
)

// rest sends one REST request the way a plain HTTP client would.
func rest(t *testing.T, e *argocdv2test.Endpoint, tok, method, path, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.URL+path, r)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(data, &out), "body %s", data)
	return resp.StatusCode, out
}

// at walks a decoded JSON document along keys and indexes.
func at(t *testing.T, doc any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := doc.(map[string]any)
			require.True(t, ok, "at %v: not an object", p)
			doc, ok = m[k]
			require.True(t, ok, "no field %q", k)
		case int:
			a, ok := doc.([]any)
			require.True(t, ok, "at %v: not an array", p)
			require.Greater(t, len(a), k)
			doc = a[k]
		}
	}
	return doc
}

func TestRESTGetUsesArgoCDFieldNames(t *testing.T) {
	s, e := fixture.Start(t)
	require.NoError(t, s.Modify("shop", func(a *v1alpha1.Application) {
		now := metav1.NewTime(fixture.T0)
		a.Status.ReconciledAt = &now
		a.Status.OperationState = &v1alpha1.OperationState{Phase: synccommon.OperationSucceeded, StartedAt: now, FinishedAt: &now,
			SyncResult: &v1alpha1.SyncOperationResult{Revision: "1111111"}}
	}))

	code, app := rest(t, e, fixture.Token, "GET", "/api/v1/applications/shop", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "shop", at(t, app, "metadata", "name"))
	assert.Equal(t, "argocd", at(t, app, "metadata", "namespace"))
	assert.NotEmpty(t, at(t, app, "metadata", "resourceVersion"))
	assert.Equal(t, "https://git.example.com/deploy.git", at(t, app, "spec", "source", "repoURL"))
	assert.Equal(t, "main", at(t, app, "spec", "source", "targetRevision"))
	assert.Equal(t, "default", at(t, app, "spec", "project"))
	assert.Equal(t, "OutOfSync", at(t, app, "status", "sync", "status"))
	assert.Equal(t, "1111111", at(t, app, "status", "sync", "revision"))
	assert.Equal(t, "Healthy", at(t, app, "status", "health", "status"))
	assert.Equal(t, "2026-11-25T12:00:00Z", at(t, app, "status", "reconciledAt"))
	assert.Equal(t, "Succeeded", at(t, app, "status", "operationState", "phase"))
	assert.Equal(t, "2026-11-25T12:00:00Z", at(t, app, "status", "operationState", "finishedAt"))
	assert.Equal(t, "1111111", at(t, app, "status", "operationState", "syncResult", "revision"))
	assert.InDelta(t, 0, at(t, app, "status", "history", 0, "id"), 0)
	assert.Equal(t, "2026-11-25T12:00:00Z", at(t, app, "status", "history", 0, "deployedAt"))
	assert.Equal(t, "Deployment", at(t, app, "status", "resources", 0, "kind"))
	assert.Equal(t, "Progressing", at(t, app, "status", "resources", 0, "health", "status"))

	code, tree := rest(t, e, fixture.Token, "GET", "/api/v1/applications/shop/resource-tree", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "Deployment", at(t, tree, "nodes", 0, "kind"), "ResourceRef is inlined into the node")
	assert.Equal(t, "rollout", at(t, tree, "nodes", 0, "health", "message"))

	code, _ = rest(t, e, fixture.Token, "GET", "/api/v1/applications/shop?refresh=normal", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []argocdv2test.Call{
		{Method: "Get", App: "shop", Via: "rest"},
		{Method: "ResourceTree", App: "shop", Via: "rest"},
		{Method: "Get", App: "shop", Via: "rest"},
	}, s.Calls())
}

func TestRESTSyncDecodesArgoCDRequestBody(t *testing.T) {
	s, e := fixture.Start(t)
	body := `{"name":"shop","revision":"2222222","prune":true,"dryRun":false,
		"resources":[{"group":"apps","kind":"Deployment","name":"shop","namespace":"shop"}],
		"retryStrategy":{"limit":3,"backoff":{"duration":"5s","factor":2,"maxDuration":"1m0s"}}}`
	code, out := rest(t, e, fixture.Token, "POST", "/api/v1/applications/shop/sync", body)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "2222222", at(t, out, "operation", "sync", "revision"), "Sync answers the application with its operation")

	a, ok := s.App("shop")
	require.True(t, ok)
	require.NotNil(t, a.Operation)
	assert.Equal(t, "2222222", a.Operation.Sync.Revision)
	assert.True(t, a.Operation.Sync.Prune)
	assert.Equal(t, []v1alpha1.SyncOperationResource{{Group: "apps", Kind: "Deployment", Name: "shop", Namespace: "shop"}}, a.Operation.Sync.Resources)
	assert.Equal(t, int64(3), a.Operation.Retry.Limit)
	require.NotNil(t, a.Operation.Retry.Backoff)
	assert.Equal(t, "5s", a.Operation.Retry.Backoff.Duration)
	assert.Equal(t, int64(2), *a.Operation.Retry.Backoff.Factor)
	assert.Equal(t, "1m0s", a.Operation.Retry.Backoff.MaxDuration)
	assert.Nil(t, a.Status.OperationState, "a requested operation clears the previous state, as Argo CD does")

	require.NoError(t, s.FinishOperation("shop", argocdv2test.Result{}))
	a, _ = s.App("shop")
	assert.Nil(t, a.Operation)
	assert.Equal(t, synccommon.OperationSucceeded, a.Status.OperationState.Phase)
	assert.Equal(t, v1alpha1.SyncStatusCodeSynced, a.Status.Sync.Status)
	assert.Equal(t, "2222222", a.Status.Sync.Revision)
	require.Len(t, a.Status.History, 2)
	assert.Equal(t, int64(1), a.Status.History[1].ID)

	code, _ = rest(t, e, fixture.Token, "POST", "/api/v1/applications/shop/rollback", `{"id":0}`)
	require.Equal(t, http.StatusOK, code)
	a, _ = s.App("shop")
	require.NotNil(t, a.Operation)
	assert.Equal(t, "1111111", a.Operation.Sync.Revision)

	require.NoError(t, s.StartOperation("shop"))
	code, _ = rest(t, e, fixture.Token, "DELETE", "/api/v1/applications/shop/operation", "")
	require.Equal(t, http.StatusOK, code)
	a, _ = s.App("shop")
	assert.Equal(t, synccommon.OperationTerminating, a.Status.OperationState.Phase)
	require.NoError(t, s.FinishOperation("shop", argocdv2test.Result{}))
	a, _ = s.App("shop")
	assert.Equal(t, synccommon.OperationFailed, a.Status.OperationState.Phase)
	assert.Equal(t, "Operation terminated", a.Status.OperationState.Message)
}

func TestRESTRefusalsCarryArgoCDCodes(t *testing.T) {
	s, e := fixture.Start(t)
	fixture.PutRefusing(t, s)

	tests := []struct {
		name, tok, method, path, body string
		status, code                  int
		msg                           string
	}{
		{"no token", "", "GET", "/api/v1/applications/shop", "", 401, 16, "no session information"},
		{"wrong token", "nope", "GET", "/api/v1/applications/shop", "", 401, 16, "invalid session"},
		{"read-only token syncs", fixture.ReadOnlyToken, "POST", "/api/v1/applications/shop/sync", `{}`, 403, 7, "permission denied"},
		{"unknown app hides existence", fixture.Token, "GET", "/api/v1/applications/nope", "", 403, 7, "permission denied"},
		{"unknown app in a named project", fixture.Token, "GET", "/api/v1/applications/nope?projects=default", "", 404, 5, "not found"},
		{"sync window", fixture.Token, "POST", "/api/v1/applications/windowed/sync", `{}`, 403, 7, "blocked by sync window"},
		{"operation in progress", fixture.Token, "POST", "/api/v1/applications/busy/sync", `{}`, 400, 9, "another operation is already in progress"},
		{"auto-sync revision", fixture.Token, "POST", "/api/v1/applications/auto/sync", `{"revision":"abc"}`, 400, 9, "auto-sync currently set to main"},
		{"rollback under auto-sync", fixture.Token, "POST", "/api/v1/applications/auto/rollback", `{"id":0}`, 400, 9, "auto-sync is enabled"},
		{"rollback to unknown id", fixture.Token, "POST", "/api/v1/applications/shop/rollback", `{"id":42}`, 400, 3, "does not have deployment with id 42"},
		{"terminate without operation", fixture.Token, "DELETE", "/api/v1/applications/shop/operation", "", 400, 3, "No operation is in progress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := rest(t, e, tt.tok, tt.method, tt.path, tt.body)
			assert.Equal(t, tt.status, status)
			assert.InDelta(t, tt.code, at(t, body, "code"), 0)
			assert.Contains(t, at(t, body, "message"), tt.msg)
			assert.Equal(t, at(t, body, "message"), at(t, body, "error"), "grpc-gateway v1 repeats the message as error")
			if tt.tok != "" {
				assert.NotContains(t, body["message"], tt.tok)
			}
		})
	}
}

// streamLines opens the application stream and returns its lines.
func streamLines(t *testing.T, ctx context.Context, e *argocdv2test.Endpoint, accept, query string) (*http.Response, *bufio.Reader) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", e.URL+"/api/v1/stream/applications"+query, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+fixture.Token)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp, bufio.NewReader(resp.Body)
}

func TestRESTWatchStream(t *testing.T) {
	s, e := fixture.Start(t)
	fixture.Put(s, "other", nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	resp, r := streamLines(t, ctx, e, "application/json", "?name=shop")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	next := func() map[string]any {
		line, err := r.ReadBytes('\n')
		if !errors.Is(err, io.EOF) || len(line) == 0 {
			require.NoError(t, err)
		}
		var chunk map[string]any
		require.NoError(t, json.Unmarshal(line, &chunk), "line %q", line)
		return chunk
	}
	first := next()
	assert.Equal(t, "ADDED", at(t, first, "result", "type"))
	assert.Equal(t, "shop", at(t, first, "result", "application", "metadata", "name"), "the name filter holds back other apps")

	require.NoError(t, s.Modify("other", func(a *v1alpha1.Application) { a.Labels = map[string]string{"x": "y"} }))
	require.NoError(t, s.Modify("shop", func(a *v1alpha1.Application) { a.Status.Health.Status = "Degraded" }))
	ev := next()
	assert.Equal(t, "MODIFIED", at(t, ev, "result", "type"))
	assert.Equal(t, "Degraded", at(t, ev, "result", "application", "status", "health", "status"))

	s.DropWatches()
	drop := next()
	assert.InDelta(t, 14, at(t, drop, "error", "grpc_code"), 0)
	assert.InDelta(t, 503, at(t, drop, "error", "http_code"), 0)
	assert.Equal(t, "watch stream closed by server", at(t, drop, "error", "message"))
	rest, err := r.ReadBytes('\n')
	assert.ErrorIs(t, err, io.EOF, "the stream ends after the error chunk")
	assert.Empty(t, rest, "grpc-gateway v1 writes no newline after the error chunk")
	assert.Contains(t, s.Calls(), argocdv2test.Call{Method: "Watch", App: "shop", Via: "rest"})
}

func TestRESTWatchStreamServerSentEvents(t *testing.T) {
	_, e := fixture.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	resp, r := streamLines(t, ctx, e, "text/event-stream", "?name=shop")
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	data, ok := strings.CutPrefix(line, "data: ")
	require.True(t, ok, "SSE line %q", line)
	var chunk map[string]any
	require.NoError(t, json.Unmarshal([]byte(data), &chunk))
	assert.Equal(t, "shop", at(t, chunk, "result", "application", "metadata", "name"))
}

func TestGRPCCodesAndInjectedFaults(t *testing.T) {
	s, e := fixture.Start(t)
	conn, err := grpc.NewClient(e.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	c := application.NewApplicationServiceClient(conn)
	name := "shop"
	q := &application.ApplicationQuery{Name: &name}

	_, err = c.Get(t.Context(), q)
	assert.Equal(t, codes.Unauthenticated, status.Code(err))

	ctx := metadata.AppendToOutgoingContext(t.Context(), "token", fixture.Token)
	a, err := c.Get(ctx, q)
	require.NoError(t, err)
	assert.Equal(t, "shop", a.Name)

	s.FailNext("Get", status.Error(codes.Unavailable, "etcd is down"))
	_, err = c.Get(ctx, q)
	assert.Equal(t, codes.Unavailable, status.Code(err))
	assert.Equal(t, "etcd is down", status.Convert(err).Message())
	_, err = c.Get(ctx, q)
	assert.NoError(t, err, "a fault is used up once returned")

	_, err = c.Sync(ctx, &application.ApplicationSyncRequest{Name: &name})
	require.NoError(t, err)
	_, err = c.Sync(ctx, &application.ApplicationSyncRequest{Name: &name})
	assert.Equal(t, codes.FailedPrecondition, status.Code(err))
	// grpc-go renders a wrapped status with its full text, so Argo CD's
	// fmt.Errorf("error setting app operation: %w", ...) reads like this.
	assert.Equal(t, "error setting app operation: rpc error: code = FailedPrecondition desc = another operation is already in progress", status.Convert(err).Message())

	assert.Equal(t, []argocdv2test.Call{
		{Method: "Get", App: "shop", Via: "grpc"},
		{Method: "Get", App: "shop", Via: "grpc"},
		{Method: "Get", App: "shop", Via: "grpc"},
		{Method: "Sync", App: "shop", Via: "grpc"},
		{Method: "Sync", App: "shop", Via: "grpc"},
	}, s.Calls(), "the unauthenticated call never reaches the service")
}

func TestControllerMethodsRejectUnknownApps(t *testing.T) {
	s := argocdv2test.New()
	assert.ErrorIs(t, s.StartOperation("nope"), argocdv2test.ErrUnknownApp)
	assert.ErrorIs(t, s.FinishOperation("nope", argocdv2test.Result{}), argocdv2test.ErrUnknownApp)
	assert.ErrorIs(t, s.SetSyncWindow("nope", true), argocdv2test.ErrUnknownApp)
	assert.ErrorIs(t, s.Modify("nope", func(*v1alpha1.Application) {}), argocdv2test.ErrUnknownApp)
	s.Put(fixture.Shop())
	assert.ErrorContains(t, s.FinishOperation("shop", argocdv2test.Result{}), "no operation requested")
}

func TestAutoCompleteWritesEveryControllerState(t *testing.T) {
	s, e := fixture.Start(t, argocdv2test.WithAutoComplete(argocdv2test.Result{Health: "Degraded", HealthMessage: "pods not ready"}))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, r := streamLines(t, ctx, e, "application/json", "?name=shop")
	line, err := r.ReadBytes('\n')
	require.NoError(t, err)
	require.Contains(t, string(line), `"ADDED"`)
	assert.Equal(t, 1, s.Watchers(), "the stream subscribes before it sends the ADDED events")

	code, _ := rest(t, e, fixture.Token, "POST", "/api/v1/applications/shop/sync", `{"revision":"3333333"}`)
	require.Equal(t, http.StatusOK, code)
	var phases []string
	for range 3 {
		line, err := r.ReadBytes('\n')
		require.NoError(t, err)
		var chunk struct {
			Result v1alpha1.ApplicationWatchEvent `json:"result"`
		}
		require.NoError(t, json.Unmarshal(line, &chunk))
		a := chunk.Result.Application
		switch {
		case a.Operation != nil && a.Status.OperationState == nil:
			phases = append(phases, "requested")
		case a.Status.OperationState != nil:
			phases = append(phases, string(a.Status.OperationState.Phase))
		}
		if a.Status.OperationState != nil && a.Status.OperationState.Phase == synccommon.OperationSucceeded {
			assert.Equal(t, "Degraded", string(a.Status.Health.Status))
			assert.Equal(t, "3333333", a.Status.Sync.Revision)
		}
	}
	assert.Equal(t, []string{"requested", "Running", "Succeeded"}, phases)
}

func TestConcurrentClientsAndController(t *testing.T) {
	s, e := fixture.Start(t, argocdv2test.WithAutoComplete(argocdv2test.Result{}))
	conn, err := grpc.NewClient(e.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	c := application.NewApplicationServiceClient(conn)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "token", fixture.Token)
	name := "shop"

	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	codesSeen := map[codes.Code]int{}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				rev := fmt.Sprintf("rev-%d-%d", w, i)
				_, err := c.Sync(ctx, &application.ApplicationSyncRequest{Name: &name, Revision: &rev})
				_, gerr := c.Get(ctx, &application.ApplicationQuery{Name: &name})
				_ = s.Modify("shop", func(a *v1alpha1.Application) { a.Labels = map[string]string{"round": rev} })
				mu.Lock()
				codesSeen[status.Code(err)]++
				codesSeen[status.Code(gerr)]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, map[codes.Code]int{codes.OK: 2 * workers * rounds}, codesSeen, "auto-complete finishes each sync before the next")
	a, ok := s.App("shop")
	require.True(t, ok)
	assert.Len(t, a.Status.History, 1+workers*rounds, "every sync was recorded once")
	assert.Len(t, s.Calls(), 2*workers*rounds)
}

func TestRESTListAndVersion(t *testing.T) {
	s, e := fixture.Start(t)
	fixture.Put(s, "billing", func(a *v1alpha1.Application) { a.Spec.Project = "payments" })

	code, list := rest(t, e, fixture.Token, "GET", "/api/v1/applications", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "billing", at(t, list, "items", 0, "metadata", "name"), "sorted by name")
	assert.Equal(t, "shop", at(t, list, "items", 1, "metadata", "name"))

	code, list = rest(t, e, fixture.Token, "GET", "/api/v1/applications?projects=payments&fields=items.metadata.name", "")
	require.Equal(t, http.StatusOK, code)
	items := at(t, list, "items").([]any)
	require.Len(t, items, 1)
	assert.Equal(t, map[string]any{"metadata": map[string]any{"name": "billing"}}, items[0],
		"Argo CD's field-selecting list forwarder is in place")

	code, v := rest(t, e, "", "GET", "/api/version", "")
	require.Equal(t, http.StatusOK, code, "the version answers without a token, as in Argo CD")
	assert.Equal(t, argocdv2test.Version, at(t, v, "Version"))
}
