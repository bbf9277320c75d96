package argocdv2_test

// The conformance tests of flightdeck's REST client (gitops/argocd, which
// imports nothing from argo-cd) against Argo CD v2.14's own generated API:
// the REST gateway, its error bodies and its application stream.

import (
	"context"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2/argocdv2test"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2/internal/fixture"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/health"
)

func restClient(t *testing.T, e *argocdv2test.Endpoint, tok string, opts ...argocd.Option) *argocd.Client {
	t.Helper()
	c, err := argocd.New(e.URL, tok, append([]argocd.Option{argocd.WithRetry(1, time.Millisecond, time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	return c
}

func TestConformanceRESTGetAndStatus(t *testing.T) {
	s, e := fixture.Start(t)
	c := restClient(t, e, fixture.Token)
	a, err := c.Get(t.Context(), "shop", argocd.RefreshNone)
	require.NoError(t, err)
	assert.Equal(t, "shop", a.Metadata.Name)
	assert.Equal(t, "main", a.Spec.Source.TargetRevision)
	assert.Equal(t, "https://kubernetes.default.svc", a.Spec.Destination.Server)
	assert.Equal(t, "1111111", a.Status.Sync.Revision)
	assert.Equal(t, "OutOfSync", a.Status.Sync.Status)
	require.Len(t, a.Status.History, 1)
	assert.True(t, a.Status.History[0].DeployedAt.Equal(fixture.T0))

	st, err := c.AppStatus(t.Context(), "shop")
	require.NoError(t, err)
	assert.Equal(t, gitops.SyncOutOfSync, st.SyncStatus)
	assert.Equal(t, health.Healthy, st.Health)
	require.Len(t, st.Resources, 1)
	assert.Equal(t, gitops.ResourceRef{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "shop"}, st.Resources[0].ResourceRef)
	assert.Equal(t, health.Progressing, st.Resources[0].Health)

	require.NoError(t, c.Refresh(t.Context(), "shop"))
	a2, _ := s.App("shop")
	require.NotNil(t, a2.Status.ReconciledAt, "refresh=normal reached the server")
	assert.True(t, a2.Status.ReconciledAt.Time.Equal(fixture.T0))

	tree, err := c.ResourceTree(t.Context(), "shop")
	require.NoError(t, err)
	require.Len(t, tree.Nodes, 1)
	assert.Equal(t, "Deployment", tree.Nodes[0].Kind)
	assert.Equal(t, "Progressing", tree.Nodes[0].Health.Status)
}

func TestConformanceRESTSyncRollbackTerminate(t *testing.T) {
	s, e := fixture.Start(t)
	c := restClient(t, e, fixture.Token)
	err := c.Sync(t.Context(), gitops.SyncRequest{
		App: "shop", Revision: "2222222", Prune: true, DryRun: true,
		Resources: []gitops.ResourceRef{{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "shop"}},
		Retry:     &gitops.SyncRetry{Limit: 2, Backoff: 5 * time.Second, Factor: 2, MaxBackoff: time.Minute},
	})
	require.NoError(t, err)
	a, _ := s.App("shop")
	require.NotNil(t, a.Operation, "the request body decoded into ApplicationSyncRequest")
	op := a.Operation
	assert.Equal(t, "2222222", op.Sync.Revision)
	assert.True(t, op.Sync.Prune)
	assert.True(t, op.Sync.DryRun)
	assert.Equal(t, []v1alpha1.SyncOperationResource{{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "shop"}}, op.Sync.Resources)
	assert.Equal(t, int64(2), op.Retry.Limit)
	assert.Equal(t, "5s", op.Retry.Backoff.Duration)
	assert.Equal(t, int64(2), *op.Retry.Backoff.Factor)
	assert.Equal(t, "1m0s", op.Retry.Backoff.MaxDuration)

	st, err := c.AppStatus(t.Context(), "shop")
	require.NoError(t, err)
	require.NotNil(t, st.Operation)
	assert.Equal(t, gitops.OpRunning, st.Operation.Phase, "a requested operation reads as running")
	assert.Equal(t, "2222222", st.Operation.Revision)

	require.NoError(t, s.StartOperation("shop"))
	require.NoError(t, c.TerminateOperation(t.Context(), "shop"))
	a, _ = s.App("shop")
	assert.Equal(t, gitops.OpTerminating, string(a.Status.OperationState.Phase))
	require.NoError(t, s.FinishOperation("shop", argocdv2test.Result{}))

	err = c.TerminateOperation(t.Context(), "shop")
	var ae *argocd.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 400, ae.StatusCode)
	assert.Equal(t, int(codes.InvalidArgument), ae.Code)
	assert.Contains(t, ae.Message, "No operation is in progress")

	require.NoError(t, c.Rollback(t.Context(), "shop", 0, argocd.RollbackOptions{Prune: true}))
	a, _ = s.App("shop")
	require.NotNil(t, a.Operation)
	assert.Equal(t, "1111111", a.Operation.Sync.Revision)
	assert.True(t, a.Operation.Sync.Prune)
	for _, call := range s.Calls() {
		assert.Equal(t, "rest", call.Via)
	}
}

func TestConformanceRESTErrorSentinels(t *testing.T) {
	s, e := fixture.Start(t)
	fixture.PutRefusing(t, s)
	admin := restClient(t, e, fixture.Token)
	tests := []struct {
		name     string
		call     func(ctx context.Context) error
		sentinel error
		status   int
		msg      string
	}{
		{"wrong token", func(ctx context.Context) error {
			return restClient(t, e, "wrong").Sync(ctx, gitops.SyncRequest{App: "shop"})
		},
			argocd.ErrUnauthenticated, 401, "invalid session: token signature is invalid"},
		{"no token", func(ctx context.Context) error { _, err := restClient(t, e, "").AppStatus(ctx, "shop"); return err },
			argocd.ErrUnauthenticated, 401, "no session information"},
		{"read-only token", func(ctx context.Context) error {
			return restClient(t, e, fixture.ReadOnlyToken).Sync(ctx, gitops.SyncRequest{App: "shop"})
		},
			argocd.ErrPermissionDenied, 403, "permission denied: applications, sync, shop"},
		{"unknown app", func(ctx context.Context) error { _, err := admin.AppStatus(ctx, "nope"); return err },
			argocd.ErrPermissionDenied, 403, "permission denied"},
		{"sync window", func(ctx context.Context) error { return admin.Sync(ctx, gitops.SyncRequest{App: "windowed"}) },
			argocd.ErrSyncWindow, 403, "cannot sync: blocked by sync window"},
		{"operation in progress", func(ctx context.Context) error { return admin.Sync(ctx, gitops.SyncRequest{App: "busy"}) },
			argocd.ErrOperationInProgress, 400, "error setting app operation: rpc error: code = FailedPrecondition desc = another operation is already in progress"},
		{"auto-sync revision", func(ctx context.Context) error {
			return admin.Sync(ctx, gitops.SyncRequest{App: "auto", Revision: "abc"})
		}, argocd.ErrAutoSyncRevision, 400, "Cannot sync to abc: auto-sync currently set to main"},
		{"unavailable after retries", func(ctx context.Context) error {
			s.FailNext("Get", status.Error(codes.Unavailable, "etcd is down"))
			s.FailNext("Get", status.Error(codes.Unavailable, "etcd is down"))
			_, err := admin.AppStatus(ctx, "shop")
			return err
		}, argocd.ErrUnavailable, 503, "etcd is down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t.Context())
			require.ErrorIs(t, err, tt.sentinel)
			var ae *argocd.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.status, ae.StatusCode)
			assert.Equal(t, tt.msg, ae.Message, "the server's message is kept verbatim")
			assert.NotContains(t, err.Error(), fixture.Token)
		})
	}
}

func TestConformanceRESTUnavailableIsRetried(t *testing.T) {
	s, e := fixture.Start(t)
	s.FailNext("Get", status.Error(codes.Unavailable, "etcd is down"))
	st, err := restClient(t, e, fixture.Token).AppStatus(t.Context(), "shop")
	require.NoError(t, err, "one 503 is retried")
	assert.Equal(t, "shop", st.App)
	assert.Len(t, s.Calls(), 2)
}

func TestConformanceRESTWatchFollowsAnOperation(t *testing.T) {
	s, e := fixture.Start(t)
	c := restClient(t, e, fixture.Token)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	var seen []string
	err := c.Watch(ctx, "shop", func(ev argocd.WatchEvent) error {
		st := argocd.ToAppStatus(&ev.Application)
		phase := "none"
		if st.Operation != nil {
			phase = st.Operation.Phase
		}
		seen = append(seen, ev.Type+" "+phase+" "+st.SyncStatus)
		switch len(seen) {
		case 1: // the stream is open and subscribed: drive the controller
			go func() {
				if err := c.Sync(ctx, gitops.SyncRequest{App: "shop", Revision: "2222222"}); err != nil {
					cancel()
					return
				}
				_ = s.StartOperation("shop")
				_ = s.FinishOperation("shop", argocdv2test.Result{})
			}()
		case 4:
			return argocd.ErrStopWatch
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{
		"ADDED none OutOfSync",
		"MODIFIED Running OutOfSync",
		"MODIFIED Running OutOfSync",
		"MODIFIED Succeeded Synced",
	}, seen)
}

func TestConformanceRESTWatchReconnectsAfterDrop(t *testing.T) {
	s, e := fixture.Start(t)
	c := restClient(t, e, fixture.Token, argocd.WithRetry(3, time.Millisecond, time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var types []string
	err := c.Watch(ctx, "shop", func(ev argocd.WatchEvent) error {
		types = append(types, ev.Type+" "+string(ev.Application.Status.Health.Status))
		switch len(types) {
		case 1:
			go s.DropWatches()
		case 2: // reconnected: the first event carries the full state again
			go func() { _ = s.Modify("shop", func(a *v1alpha1.Application) { a.Status.Health.Status = "Degraded" }) }()
		case 3:
			return argocd.ErrStopWatch
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"ADDED Healthy", "ADDED Healthy", "MODIFIED Degraded"}, types)
	watches := 0
	for _, call := range s.Calls() {
		if call.Method == "Watch" {
			watches++
		}
	}
	assert.Equal(t, 2, watches)
}

func TestConformanceRESTWatchEndsOnAuthError(t *testing.T) {
	_, e := fixture.Start(t)
	err := restClient(t, e, "wrong").Watch(t.Context(), "shop", func(argocd.WatchEvent) error { return nil })
	assert.ErrorIs(t, err, argocd.ErrUnauthenticated)
}

func TestConformanceWaitForWithBothClients(t *testing.T) {
	s, e := fixture.Start(t, argocdv2test.WithAutoComplete(argocdv2test.Result{}), argocdv2test.WithClock(clock.System()))
	grpcSyncer := dial(t, e, fixture.Token, false)
	for name, syncer := range map[string]gitops.Syncer{"rest": restClient(t, e, fixture.Token), "apiclient": grpcSyncer} {
		t.Run(name, func(t *testing.T) {
			rev := map[string]string{"rest": "4444444", "apiclient": "5555555"}[name]
			require.NoError(t, syncer.Sync(t.Context(), gitops.SyncRequest{App: "shop", Revision: rev}))
			st, err := gitops.WaitFor(t.Context(), syncer, gitops.WaitOptions{
				App: "shop", Revision: rev, StableFor: -1, PollInterval: time.Millisecond, Timeout: 20 * time.Second,
			})
			require.NoError(t, err)
			assert.Equal(t, rev, st.Revision)
			assert.Equal(t, gitops.SyncSynced, st.SyncStatus)
			assert.Equal(t, health.Healthy, st.Health)
		})
	}
	a, _ := s.App("shop")
	assert.Len(t, a.Status.History, 3)
}

func TestConformanceRESTServerDown(t *testing.T) {
	_, e := fixture.Start(t)
	c := restClient(t, e, fixture.Token)
	require.NoError(t, e.Close())
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, err := c.AppStatus(ctx, "shop")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
	assert.NoError(t, ctx.Err(), "the client gave up before the deadline")
}

// TestConformanceWaitForFailsFast runs gitops.WaitFor with both clients
// against Argo CD's own API: a Degraded application after the sync, an
// application deleted mid-wait (which Argo CD reports as permission
// denied unless a project is named) and one deleted while a project is
// named (NotFound) each end the wait at once with their sentinel.
func TestConformanceWaitForFailsFast(t *testing.T) {
	const msg = `Deployment "shop" exceeded its progress deadline`
	clients := map[string]func(t *testing.T, e *argocdv2test.Endpoint) gitops.Syncer{
		"rest":      func(t *testing.T, e *argocdv2test.Endpoint) gitops.Syncer { return restClient(t, e, fixture.Token) },
		"apiclient": func(t *testing.T, e *argocdv2test.Endpoint) gitops.Syncer { return dial(t, e, fixture.Token, false) },
	}
	wait := func(t *testing.T, s gitops.Syncer) error {
		_, err := gitops.WaitFor(t.Context(), s, gitops.WaitOptions{
			App: "shop", Revision: "2222222", StableFor: -1, PollInterval: time.Millisecond, Timeout: 20 * time.Second,
		})
		return err
	}
	for name, newClient := range clients {
		t.Run(name+"/degraded", func(t *testing.T) {
			_, e := fixture.Start(t, argocdv2test.WithClock(clock.System()),
				argocdv2test.WithAutoComplete(argocdv2test.Result{Health: "Degraded", HealthMessage: msg}))
			c := newClient(t, e)
			require.NoError(t, c.Sync(t.Context(), gitops.SyncRequest{App: "shop", Revision: "2222222"}))
			err := wait(t, c)
			require.ErrorIs(t, err, gitops.ErrDegraded)
			assert.ErrorContains(t, err, "health Degraded: "+msg)
		})
		t.Run(name+"/deleted", func(t *testing.T) {
			s, e := fixture.Start(t)
			c := newClient(t, e)
			require.NoError(t, c.Sync(t.Context(), gitops.SyncRequest{App: "shop", Revision: "2222222"}))
			require.NoError(t, s.Remove("shop"))
			err := wait(t, c)
			require.ErrorIs(t, err, gitops.ErrAccessDenied, "Argo CD hides whether the app exists")
			assert.ErrorIs(t, err, argocd.ErrPermissionDenied)
			gets := 0
			for _, call := range s.Calls() {
				if call.Method == "Get" {
					gets++
				}
			}
			assert.Equal(t, 1, gets, "no retry of a permanent refusal")
		})
	}
	t.Run("apiclient/deleted in a named project", func(t *testing.T) {
		s, e := fixture.Start(t)
		c := dial(t, e, fixture.Token, false, argocdv2.WithProject("default"))
		require.NoError(t, s.Remove("shop"))
		err := wait(t, c)
		require.ErrorIs(t, err, gitops.ErrAppNotFound)
		assert.ErrorIs(t, err, argocd.ErrNotFound)
	})
}

// TestConformanceRESTRejectsOversizedAnswers reads the gateway's real
// answers with a limit smaller than them.
func TestConformanceRESTRejectsOversizedAnswers(t *testing.T) {
	_, e := fixture.Start(t)
	c := restClient(t, e, fixture.Token, argocd.WithMaxResponseBytes(64))
	_, err := c.Get(t.Context(), "shop", argocd.RefreshNone)
	require.ErrorIs(t, err, argocd.ErrResponseTooLarge)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err = c.Watch(ctx, "shop", func(argocd.WatchEvent) error { return nil })
	require.ErrorIs(t, err, argocd.ErrResponseTooLarge, "a stream event past the limit ends the watch")
}
