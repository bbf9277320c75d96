package argocd_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
)

type env struct {
	srv    *argocdtest.Server
	client *argocd.Client
	repo   string // bare repo dir
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// setup starts a fake Argo CD with app "shop" tracking the dev overlay of
// a fresh repository.
func setup(t *testing.T, srvOpts []argocdtest.Option, app func(*argocdtest.App), clientOpts ...argocd.Option) *env {
	t.Helper()
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv, err := argocdtest.New(srvOpts...)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	a := argocdtest.App{Name: "shop", RepoURL: gitopstest.FileURL(dir), Path: "apps/shop/overlays/dev", Namespace: "shop-dev"}
	if app != nil {
		app(&a)
	}
	require.NoError(t, srv.AddApp(context.Background(), a))
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := srv.Client(append([]argocd.Option{argocd.WithLogger(logger)}, clientOpts...)...)
	require.NoError(t, err)
	return &env{srv: srv, client: c, repo: dir, logs: logs}
}

// wait runs gitops.WaitFor on the server's clock, moving the clock to the
// waiter's next poll each time it blocks.
func (e *env) wait(t *testing.T, opts gitops.WaitOptions) (gitops.AppStatus, error) {
	t.Helper()
	clk := e.srv.Clock()
	opts.Clock = clk
	if opts.App == "" {
		opts.App = "shop"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // hang guard only
	defer cancel()
	timers := 1 // the next poll
	if opts.Timeout > 0 {
		timers = 2 // and the deadline
	}
	return clocktest.Drive(ctx, clk, timers, func(ctx context.Context) (gitops.AppStatus, error) {
		return gitops.WaitFor(ctx, e.client, opts)
	})
}

func assertNoToken(t *testing.T, e *env, err error) {
	t.Helper()
	if err != nil {
		assert.NotContains(t, err.Error(), e.srv.Token)
	}
	assert.NotContains(t, e.logs.String(), e.srv.Token)
}

func TestSyncAndWait(t *testing.T) {
	e := setup(t, nil, nil)
	ctx := context.Background()
	head := gitopstest.Head(t, e.repo).String()

	st, err := e.client.AppStatus(ctx, "shop")
	require.NoError(t, err)
	assert.Equal(t, gitops.SyncOutOfSync, st.SyncStatus)
	assert.Equal(t, health.Missing, st.Health)
	assert.Equal(t, head, st.Revision)
	assert.Nil(t, st.Operation)

	require.NoError(t, e.client.Sync(ctx, gitops.SyncRequest{App: "shop", Revision: head}))
	st, err = e.client.AppStatus(ctx, "shop")
	require.NoError(t, err)
	require.NotNil(t, st.Operation)
	assert.Equal(t, gitops.OpRunning, st.Operation.Phase)
	assert.Equal(t, health.Progressing, st.Health, "the rollout has just started")

	start := e.srv.Clock().Now()
	st, err = e.wait(t, gitops.WaitOptions{Revision: head[:7], StableFor: 4 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, gitops.SyncSynced, st.SyncStatus)
	assert.Equal(t, health.Healthy, st.Health)
	assert.Equal(t, head, st.Revision)
	assert.Equal(t, gitops.OpSucceeded, st.Operation.Phase)
	assert.GreaterOrEqual(t, e.srv.Clock().Now().Sub(start), sim.DefaultBehavior.ReadyAfter+4*time.Second)
	require.Len(t, st.History, 1)
	assert.Equal(t, head, st.History[0].Revision)
	kinds := map[string]health.Status{}
	for _, r := range st.Resources {
		kinds[r.Kind] = r.Health
		assert.Equal(t, "shop-dev", r.Namespace)
		assert.Equal(t, gitops.SyncSynced, r.SyncStatus)
	}
	assert.Equal(t, map[string]health.Status{"Deployment": health.Healthy, "Service": health.Healthy}, kinds)

	var syncCall *argocdtest.Call
	for _, c := range e.srv.Calls() {
		if c.Method == "POST" {
			syncCall = &c
		}
	}
	require.NotNil(t, syncCall)
	assert.Equal(t, "/api/v1/applications/shop/sync", syncCall.Path)
	assertNoToken(t, e, nil)
}

func TestWaitRejectsMomentaryHealthy(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	cluster := sim.New(clk, sim.WithDefaultBehavior(sim.Behavior{ReadyAfter: 30 * time.Second}))
	e := setup(t, []argocdtest.Option{argocdtest.WithClock(clk), argocdtest.WithCluster(cluster)}, nil)
	e.srv.MomentaryHealthy(3 * time.Second)
	ctx := context.Background()
	require.NoError(t, e.client.Sync(ctx, gitops.SyncRequest{App: "shop"}))
	st, err := e.client.AppStatus(ctx, "shop")
	require.NoError(t, err)
	require.Equal(t, health.Healthy, st.Health, "the fake reports the trap")

	start := clk.Now()
	st, err = e.wait(t, gitops.WaitOptions{StableFor: 5 * time.Second, PollInterval: time.Second})
	require.NoError(t, err)
	assert.Equal(t, health.Healthy, st.Health)
	assert.GreaterOrEqual(t, clk.Now().Sub(start), 35*time.Second, "only the real, stable Healthy passes")
}

func TestWaitRefreshesStaleReconcile(t *testing.T) {
	e := setup(t, nil, nil)
	e.srv.StaleReconcile(true)
	ctx := context.Background()
	require.NoError(t, e.client.Sync(ctx, gitops.SyncRequest{App: "shop"}))
	st, err := e.wait(t, gitops.WaitOptions{StableFor: -1, Health: health.Healthy})
	require.NoError(t, err)
	assert.True(t, st.ReconciledAt.After(st.Operation.FinishedAt))
	refreshes := 0
	for _, c := range e.srv.Calls() {
		if strings.Contains(c.Query, "refresh=normal") {
			refreshes++
		}
	}
	assert.GreaterOrEqual(t, refreshes, 1, "the waiter asked for a refresh")
}

func TestWaitOperationFailsOnBadManifests(t *testing.T) {
	e := setup(t, nil, nil)
	gitopstest.Commit(t, e.repo, gitopstest.Files{"apps/shop/overlays/dev/kustomization.yaml": "resources: [missing.yaml]\n"}, nil, "break the overlay")
	ctx := context.Background()
	require.NoError(t, e.client.Refresh(ctx, "shop"))
	require.NoError(t, e.client.Sync(ctx, gitops.SyncRequest{App: "shop"}))
	_, err := e.wait(t, gitops.WaitOptions{})
	require.ErrorIs(t, err, gitops.ErrOperationFailed)
	assert.Contains(t, err.Error(), "ComparisonError")
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("unknown app", func(t *testing.T) {
		e := setup(t, nil, nil)
		_, err := e.client.Get(ctx, "nope", argocd.RefreshNone)
		require.ErrorIs(t, err, argocd.ErrNotFound)
		assert.ErrorContains(t, err, `get app "nope"`)
		assert.ErrorContains(t, err, `applications.argoproj.io "nope" not found`)
		var ae *argocd.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 404, ae.StatusCode)
		assert.Equal(t, 5, ae.Code)
		assert.ErrorIs(t, e.client.Sync(ctx, gitops.SyncRequest{App: "nope"}), argocd.ErrNotFound)
		_, err = e.client.ResourceTree(ctx, "nope")
		assert.ErrorIs(t, err, argocd.ErrNotFound)
	})
	t.Run("wrong token", func(t *testing.T) {
		e := setup(t, nil, nil)
		c, err := argocd.New(e.srv.URL, "not-the-token")
		require.NoError(t, err)
		_, err = c.Get(ctx, "shop", "")
		require.ErrorIs(t, err, argocd.ErrUnauthenticated)
		assert.NotContains(t, err.Error(), "not-the-token")
		c, err = argocd.New(e.srv.URL, "")
		require.NoError(t, err)
		_, err = c.AppStatus(ctx, "shop")
		assert.ErrorIs(t, err, argocd.ErrUnauthenticated)
		assert.ErrorContains(t, err, "no session information")
	})
	t.Run("sync window", func(t *testing.T) {
		e := setup(t, nil, nil)
		e.srv.DenySyncs(true)
		err := e.client.Sync(ctx, gitops.SyncRequest{App: "shop"})
		require.ErrorIs(t, err, argocd.ErrSyncWindow)
		assert.NotErrorIs(t, err, argocd.ErrPermissionDenied)
		assert.ErrorContains(t, err, "Cannot sync: Blocked by sync window")
		assertNoToken(t, e, err)
	})
	t.Run("operation in progress", func(t *testing.T) {
		e := setup(t, nil, nil)
		e.srv.HoldOperations(true)
		require.NoError(t, e.client.Sync(ctx, gitops.SyncRequest{App: "shop"}))
		err := e.client.Sync(ctx, gitops.SyncRequest{App: "shop"})
		require.ErrorIs(t, err, argocd.ErrOperationInProgress)
		assert.ErrorContains(t, err, "another operation is already in progress")
	})
	t.Run("auto-sync revision", func(t *testing.T) {
		e := setup(t, nil, func(a *argocdtest.App) { a.AutoSync = true })
		err := e.client.Sync(ctx, gitops.SyncRequest{App: "shop", Revision: "0123456789abcdef0123456789abcdef01234567"})
		require.ErrorIs(t, err, argocd.ErrAutoSyncRevision)
		assert.ErrorContains(t, err, "auto-sync currently set to")
	})
	t.Run("5xx retried", func(t *testing.T) {
		e := setup(t, nil, nil)
		e.srv.FailNext(502, 503, 504)
		before := len(e.srv.Calls())
		app, err := e.client.Get(ctx, "shop", "")
		require.NoError(t, err)
		assert.Equal(t, "shop", app.Metadata.Name)
		assert.Len(t, e.srv.Calls()[before:], 4)
		assert.Contains(t, e.logs.String(), "retrying")
	})
	t.Run("5xx persistent", func(t *testing.T) {
		e := setup(t, nil, nil)
		e.srv.FailNext(503, 503, 503, 503)
		_, err := e.client.Get(ctx, "shop", "")
		require.ErrorIs(t, err, argocd.ErrUnavailable)
		assert.ErrorContains(t, err, "503")
		assertNoToken(t, e, err)
	})
	t.Run("other status not retried", func(t *testing.T) {
		e := setup(t, nil, nil)
		e.srv.FailNext(403)
		before := len(e.srv.Calls())
		_, err := e.client.Get(ctx, "shop", "")
		require.ErrorIs(t, err, argocd.ErrPermissionDenied)
		assert.Len(t, e.srv.Calls()[before:], 1)
	})
	t.Run("malformed JSON", func(t *testing.T) {
		e := setup(t, nil, nil)
		e.srv.MalformNext(1)
		_, err := e.client.Get(ctx, "shop", "")
		require.ErrorIs(t, err, argocd.ErrBadResponse)
		assert.ErrorContains(t, err, `get app "shop"`)
	})
	t.Run("bad refresh mode", func(t *testing.T) {
		e := setup(t, nil, nil)
		_, err := e.client.Get(ctx, "shop", "soft")
		assert.ErrorContains(t, err, `unknown refresh mode "soft"`)
		_, err = e.client.Get(ctx, "", "")
		assert.ErrorContains(t, err, "application name is required")
		assert.ErrorContains(t, e.client.Sync(ctx, gitops.SyncRequest{}), "application name is required")
	})
	t.Run("server down", func(t *testing.T) {
		e := setup(t, nil, nil)
		e.srv.Close()
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := e.client.Get(dctx, "shop", "")
		require.Error(t, err)
		assert.ErrorContains(t, err, "connection refused")
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "gives up after its retries, well before the deadline")
		assertNoToken(t, e, err)
	})
	t.Run("slow server respects deadline", func(t *testing.T) {
		e := setup(t, nil, nil)
		e.srv.SetLatency(time.Hour)
		dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := e.client.Get(dctx, "shop", "")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		err = e.client.Watch(dctx, "shop", func(argocd.WatchEvent) error { return nil })
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestTLS(t *testing.T) {
	ctx := context.Background()
	e := setup(t, []argocdtest.Option{argocdtest.WithTLS()}, nil)
	_, err := e.client.Get(ctx, "shop", "")
	require.NoError(t, err, "the server's CA is trusted")

	untrusting, err := argocd.New(e.srv.URL, e.srv.Token, argocd.WithRetry(0, 0, 0))
	require.NoError(t, err)
	_, err = untrusting.Get(ctx, "shop", "")
	var verr *tls.CertificateVerificationError
	require.ErrorAs(t, err, &verr)
	assert.ErrorContains(t, err, "certificate")
	assert.NotContains(t, err.Error(), e.srv.Token)

	insecure, err := argocd.New(e.srv.URL, e.srv.Token, argocd.WithInsecureSkipVerify())
	require.NoError(t, err)
	_, err = insecure.Get(ctx, "shop", "")
	assert.NoError(t, err)
}

func TestNewBadInput(t *testing.T) {
	_, err := argocd.New("https://admin:s3cret@argocd.example.com", "t")
	require.ErrorContains(t, err, "must not carry credentials")
	assert.NotContains(t, err.Error(), "s3cret")
	_, err = argocd.New("ftp://argocd.example.com", "t")
	assert.ErrorContains(t, err, "want http(s)://host")
	_, err = argocd.New("://", "t")
	assert.ErrorContains(t, err, "invalid server URL")
	_, err = argocd.New("https://argocd.example.com", "t", argocd.WithCACert([]byte("not pem")))
	assert.ErrorContains(t, err, "no certificate found")
	_, err = argocd.New("https://argocd.example.com", "t", argocd.WithHTTPClient(http.DefaultClient), argocd.WithInsecureSkipVerify())
	assert.ErrorContains(t, err, "cannot be combined")
}

func TestWatch(t *testing.T) {
	e := setup(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // hang guard only
	defer cancel()
	events := make(chan argocd.WatchEvent, 100)
	done := make(chan error, 1)
	go func() {
		done <- e.client.Watch(ctx, "shop", func(ev argocd.WatchEvent) error {
			events <- ev
			if ev.Application.Status.OperationState != nil && ev.Application.Status.OperationState.Phase == gitops.OpSucceeded {
				return argocd.ErrStopWatch
			}
			return nil
		})
	}()
	first := <-events
	assert.Equal(t, "ADDED", first.Type)
	assert.Equal(t, "shop", first.Application.Metadata.Name)
	require.NoError(t, e.client.Sync(ctx, gitops.SyncRequest{App: "shop"}))
	ev := <-events
	assert.Equal(t, "MODIFIED", ev.Type)
	e.srv.Clock().Advance(time.Minute)
	require.NoError(t, <-done, "ErrStopWatch ends the watch cleanly")
}

func TestWatchReconnectsAfterDrop(t *testing.T) {
	e := setup(t, nil, nil)
	e.srv.DropStreamsAfter(1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := 0
	errStop := errors.New("enough")
	err := e.client.Watch(ctx, "shop", func(ev argocd.WatchEvent) error {
		seen++
		if seen == 3 {
			return errStop
		}
		return nil
	})
	require.ErrorIs(t, err, errStop, "the callback's error is returned")
	streams := 0
	for _, c := range e.srv.Calls() {
		if c.Path == "/api/v1/stream/applications" {
			streams++
		}
	}
	assert.GreaterOrEqual(t, streams, 3, "one connection per event: each dropped mid-line")
	assert.Contains(t, e.logs.String(), "reconnecting")
}

func TestWatchFallsBackToPolling(t *testing.T) {
	e := setup(t, nil, nil)
	target, err := url.Parse(e.srv.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/stream/") {
			http.NotFound(w, r) // a proxy that does not route the stream
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	c, err := argocd.New(front.URL, e.srv.Token, argocd.WithPollInterval(time.Millisecond), argocd.WithRetry(1, time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var types []string
	err = c.Watch(ctx, "shop", func(ev argocd.WatchEvent) error {
		types = append(types, ev.Type)
		if len(types) == 1 {
			return e.client.Sync(ctx, gitops.SyncRequest{App: "shop"})
		}
		return argocd.ErrStopWatch
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"MODIFIED", "MODIFIED"}, types, "polling delivers changes")
}

func TestWatchUnauthenticated(t *testing.T) {
	e := setup(t, nil, nil)
	c, err := argocd.New(e.srv.URL, "wrong")
	require.NoError(t, err)
	err = c.Watch(context.Background(), "shop", func(argocd.WatchEvent) error { return nil })
	assert.ErrorIs(t, err, argocd.ErrUnauthenticated)
	assert.ErrorContains(t, c.Watch(context.Background(), "shop", nil), "nil callback")
}

func TestRollbackAndHistory(t *testing.T) {
	e := setup(t, nil, nil)
	ctx := context.Background()
	v1 := gitopstest.Head(t, e.repo).String()
	require.NoError(t, e.client.Sync(ctx, gitops.SyncRequest{App: "shop"}))
	_, err := e.wait(t, gitops.WaitOptions{Revision: v1, StableFor: -1})
	require.NoError(t, err)

	v2 := gitopstest.Commit(t, e.repo, gitopstest.Files{"apps/shop/overlays/dev/replicas.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  replicas: 2\n"}, nil, "scale").String()
	require.NoError(t, e.client.Refresh(ctx, "shop"))
	st, err := e.client.AppStatus(ctx, "shop")
	require.NoError(t, err)
	assert.Equal(t, gitops.SyncOutOfSync, st.SyncStatus, "the refresh saw the new commit")
	require.NoError(t, e.client.Sync(ctx, gitops.SyncRequest{App: "shop", Prune: true}))
	_, err = e.wait(t, gitops.WaitOptions{Revision: v2, StableFor: -1})
	require.NoError(t, err)

	require.NoError(t, e.client.Rollback(ctx, "shop", 0, argocd.RollbackOptions{}))
	st, err = e.wait(t, gitops.WaitOptions{Sync: gitops.SyncOutOfSync, StableFor: -1})
	require.NoError(t, err, "after a rollback the app is OutOfSync with its target, as in Argo CD")
	assert.Equal(t, v1, st.Operation.Revision)
	require.Len(t, st.History, 3)
	assert.Equal(t, []string{v1, v2, v1}, []string{st.History[0].Revision, st.History[1].Revision, st.History[2].Revision})

	err = e.client.Rollback(ctx, "shop", 42, argocd.RollbackOptions{})
	var ae *argocd.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 3, ae.Code)
	assert.Contains(t, ae.Message, "does not have deployment with id 42")
}

func TestResourceTree(t *testing.T) {
	e := setup(t, nil, nil)
	ctx := context.Background()
	require.NoError(t, e.client.Sync(ctx, gitops.SyncRequest{App: "shop"}))
	_, err := e.wait(t, gitops.WaitOptions{StableFor: -1})
	require.NoError(t, err)
	tree, err := e.client.ResourceTree(ctx, "shop")
	require.NoError(t, err)
	byKind := map[string]argocd.ResourceNode{}
	for _, n := range tree.Nodes {
		byKind[n.Kind] = n
	}
	require.Contains(t, byKind, "Pod")
	require.Contains(t, byKind, "ReplicaSet")
	assert.Equal(t, "ReplicaSet", byKind["Pod"].ParentRefs[0].Kind)
	assert.Equal(t, "Deployment", byKind["ReplicaSet"].ParentRefs[0].Kind)
	assert.Equal(t, "apps", byKind["Deployment"].Group)
	assert.Equal(t, string(health.Healthy), byKind["Pod"].Health.Status)
	assert.Equal(t, []string{gitopstest.Image("shop") + ":1.0.0"}, byKind["Pod"].Images)
}

func TestTerminateOperation(t *testing.T) {
	e := setup(t, nil, nil)
	ctx := context.Background()
	err := e.client.TerminateOperation(ctx, "shop")
	var ae *argocd.APIError
	require.ErrorAs(t, err, &ae)
	assert.Contains(t, ae.Message, "No operation is in progress")

	e.srv.HoldOperations(true)
	require.NoError(t, e.client.Sync(ctx, gitops.SyncRequest{App: "shop"}))
	require.NoError(t, e.client.TerminateOperation(ctx, "shop"))
	_, err = e.wait(t, gitops.WaitOptions{})
	require.ErrorIs(t, err, gitops.ErrOperationFailed)
	assert.ErrorContains(t, err, "Operation terminated")
}

func TestAutoSync(t *testing.T) {
	e := setup(t, nil, func(a *argocdtest.App) { a.AutoSync = true })
	ctx := context.Background()
	v1 := gitopstest.Head(t, e.repo).String()
	st, err := e.wait(t, gitops.WaitOptions{Revision: v1, StableFor: -1})
	require.NoError(t, err, "auto-sync deploys the target revision")
	assert.Len(t, st.History, 1)

	v2 := gitopstest.Commit(t, e.repo, gitopstest.Files{"apps/shop/overlays/dev/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n"}, nil, "noop").String()
	e.srv.Clock().Advance(argocdtest.DefaultReconcileInterval)
	st, err = e.wait(t, gitops.WaitOptions{Revision: v2, StableFor: -1})
	require.NoError(t, err, "the next reconcile picks up the new commit")
	assert.Len(t, st.History, 2)
	require.NoError(t, e.client.Sync(ctx, gitops.SyncRequest{App: "shop", Revision: "HEAD"}), "syncing the target revision is allowed")
}

func TestToAppStatusPendingOperation(t *testing.T) {
	fin := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	app := &argocd.Application{
		Metadata:  argocd.ObjectMeta{Name: "shop"},
		Operation: &argocd.Operation{Sync: &argocd.SyncOperation{Revision: "b"}},
		Status: argocd.ApplicationStatus{
			Sync:   argocd.SyncStatus{Status: "Synced", Revision: "a"},
			Health: argocd.HealthStatus{Status: "Healthy"},
			OperationState: &argocd.OperationState{
				Phase: "Succeeded", FinishedAt: &fin, SyncResult: &argocd.SyncOperationResult{Revision: "a"},
			},
		},
	}
	st := argocd.ToAppStatus(app)
	require.NotNil(t, st.Operation)
	assert.Equal(t, gitops.OpRunning, st.Operation.Phase, "a requested operation hides the previous result")
	assert.Equal(t, "b", st.Operation.Revision)

	st = argocd.ToAppStatus(&argocd.Application{Metadata: argocd.ObjectMeta{Name: "x"}})
	assert.Equal(t, gitops.SyncUnknown, st.SyncStatus)
	assert.Equal(t, health.Unknown, st.Health)
}
