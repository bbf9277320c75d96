package argocd_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// logsEnv is app "shop" deployed to staging (two pods) on a cluster
// whose pods fail a quarter of their requests and log every request.
type logsEnv struct {
	*env
	clk     *sim.Clock
	cluster *sim.Cluster
	svc     sim.Ref
}

func setupLogs(t *testing.T) *logsEnv {
	t.Helper()
	clk := sim.NewClock(time.Time{})
	cluster := sim.New(clk, sim.WithDefaultBehavior(sim.Behavior{ReadyAfter: time.Second, ErrorRate: 0.25, AccessLog: true}))
	e := setup(t, []argocdtest.Option{argocdtest.WithClock(clk), argocdtest.WithCluster(cluster)},
		func(a *argocdtest.App) { a.Path = "apps/shop/overlays/staging" }, argocd.WithClock(clk))
	require.NoError(t, e.client.Sync(context.Background(), gitops.SyncRequest{App: "shop"}))
	st, err := e.wait(t, gitops.WaitOptions{StableFor: -1, Health: health.Healthy})
	require.NoError(t, err)
	require.Equal(t, health.Healthy, st.Health)
	return &logsEnv{env: e, clk: clk, cluster: cluster, svc: sim.Ref{APIVersion: "v1", Kind: "Service", Namespace: "shop-staging", Name: "shop"}}
}

// send sends n requests to the app's Service at the current time.
func (e *logsEnv) send(t *testing.T, n int) sim.TrafficResult {
	t.Helper()
	res, err := e.cluster.Send(context.Background(), e.svc, n)
	require.NoError(t, err)
	return res
}

func (e *logsEnv) simLines(t *testing.T) []sim.LogLine {
	t.Helper()
	lines, err := e.cluster.Logs(sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop-staging", Name: "shop"})
	require.NoError(t, err)
	return lines
}

func lastLogsQuery(t *testing.T, srv *argocdtest.Server) url.Values {
	t.Helper()
	var q string
	for _, c := range srv.Calls() {
		if strings.HasSuffix(c.Path, "/logs") {
			q = c.Query
		}
	}
	v, err := url.ParseQuery(q)
	require.NoError(t, err)
	return v
}

func TestLogsReadsEveryPodOfTheApp(t *testing.T) {
	e := setupLogs(t)
	res := e.send(t, 40)
	e.clk.Advance(time.Second)
	e.send(t, 10)

	entries, err := e.client.Logs(context.Background(), "shop", argocd.LogQuery{})
	require.NoError(t, err)
	want := e.simLines(t)
	require.Len(t, entries, 50)
	require.Len(t, want, 50)
	pods := map[string]int{}
	for i, got := range entries {
		pods[got.Pod]++
		assert.Equal(t, want[i].Text, got.Content)
		assert.Equal(t, want[i].Time, got.Time)
		assert.Empty(t, got.Container, "the query named no container")
		if i > 0 {
			assert.False(t, got.Time.Before(entries[i-1].Time), "merged in time order")
		}
	}
	assert.Len(t, pods, 2, "both pods of the staging overlay")
	errs := 0
	for _, en := range entries[:40] {
		if strings.HasPrefix(en.Content, "level=error") {
			errs++
		}
	}
	assert.Equal(t, res.Codes[500], errs)
	assert.Equal(t, url.Values{"follow": {"false"}}, lastLogsQuery(t, e.srv))
	assertNoToken(t, e.env, nil)
}

func TestLogsQuerySelectsAsArgoCD(t *testing.T) {
	e := setupLogs(t)
	ctx := context.Background()
	start := e.clk.Now()
	e.send(t, 40)
	e.clk.Advance(time.Minute)
	e.send(t, 20)
	all := e.simLines(t)
	pod := all[0].Pod

	count := func(q argocd.LogQuery, keep func(sim.LogLine) bool) {
		t.Helper()
		got, err := e.client.Logs(ctx, "shop", q)
		require.NoError(t, err)
		want := 0
		for _, l := range all {
			if keep(l) {
				want++
			}
		}
		assert.Len(t, got, want, "%+v", q)
		for _, g := range got {
			assert.Equal(t, q.Container, g.Container)
		}
	}
	count(argocd.LogQuery{PodName: pod}, func(l sim.LogLine) bool { return l.Pod == pod })
	count(argocd.LogQuery{Kind: "ReplicaSet"}, func(sim.LogLine) bool { return true })
	count(argocd.LogQuery{Kind: "Deployment", ResourceName: "other"}, func(sim.LogLine) bool { return false })
	count(argocd.LogQuery{Namespace: "shop-staging", Container: "shop"}, func(sim.LogLine) bool { return true })
	count(argocd.LogQuery{Filter: "level=error"}, func(l sim.LogLine) bool { return strings.Contains(l.Text, "level=error") })
	count(argocd.LogQuery{Filter: "!level=error"}, func(l sim.LogLine) bool { return !strings.Contains(l.Text, "level=error") })
	count(argocd.LogQuery{Since: 30 * time.Second}, func(l sim.LogLine) bool { return l.Time.After(start) })
	count(argocd.LogQuery{SinceTime: start.Add(time.Second)}, func(l sim.LogLine) bool { return l.Time.After(start) })
	assert.Equal(t, "119", lastLogsQuery(t, e.srv).Get("sinceSeconds"), "sinceTime sent as sinceSeconds on the client's clock, a minute of slack added")
	assert.Empty(t, lastLogsQuery(t, e.srv).Get("sinceTime"))
	count(argocd.LogQuery{UntilTime: start.Add(time.Second)}, func(l sim.LogLine) bool { return !l.Time.After(start) })

	// tailLines counts per pod, before the filter, as Kubernetes does.
	got, err := e.client.Logs(ctx, "shop", argocd.LogQuery{TailLines: 3})
	require.NoError(t, err)
	assert.Len(t, got, 6)
	for _, g := range got {
		assert.Equal(t, e.clk.Now(), g.Time, "the newest lines")
	}

	// Query parameters with Argo CD's names; SinceTime goes as
	// sinceSeconds, the later of the two bounds.
	_, err = e.client.Logs(ctx, "shop", argocd.LogQuery{
		Namespace: "shop-staging", PodName: pod, Container: "shop", Kind: "Pod", Group: "", ResourceName: pod,
		Since: 45 * time.Second, SinceTime: e.clk.Now().Add(-90 * time.Second), TailLines: 7,
		UntilTime: e.clk.Now(), Filter: "!GET", Previous: true, Project: "default",
	})
	require.NoError(t, err)
	assert.Equal(t, url.Values{
		"namespace": {"shop-staging"}, "podName": {pod}, "container": {"shop"}, "kind": {"Pod"}, "resourceName": {pod},
		"sinceSeconds": {"45"}, "tailLines": {"7"}, "untilTime": {e.clk.Now().UTC().Format(time.RFC3339Nano)},
		"filter": {"!GET"}, "previous": {"true"}, "project": {"default"}, "follow": {"false"},
	}, lastLogsQuery(t, e.srv))
}

func TestLogsKubernetesMessagesAsLines(t *testing.T) {
	e := setupLogs(t)
	ctx := context.Background()
	e.send(t, 4)
	got, err := e.client.Logs(ctx, "shop", argocd.LogQuery{Container: "sidecar"})
	require.NoError(t, err)
	require.Len(t, got, 2, "one refusal per pod instead of its lines")
	assert.True(t, got[0].Time.IsZero())
	assert.Regexp(t, `^container sidecar is not valid for pod shop-[a-z0-9]+-[a-z0-9]+$`, got[0].Content)
	assert.Equal(t, "sidecar", got[0].Container)

	got, err = e.client.Logs(ctx, "shop", argocd.LogQuery{Previous: true})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Contains(t, got[0].Content, "previous terminated container \"shop\" in pod")
}

func TestLogsRefusals(t *testing.T) {
	e := setupLogs(t)
	ctx := context.Background()

	_, err := e.client.Logs(ctx, "nope", argocd.LogQuery{})
	require.ErrorIs(t, err, argocd.ErrNotFound)
	assert.EqualError(t, err, `argocd: logs of app "nope": applications.argoproj.io "nope" not found (HTTP 404, code 5)`)

	e.srv.DenyAccess(true)
	_, err = e.client.Logs(ctx, "shop", argocd.LogQuery{})
	require.ErrorIs(t, err, argocd.ErrPermissionDenied)
	assert.ErrorIs(t, err, gitops.ErrAccessDenied)
	e.srv.DenyAccess(false)

	_, err = e.client.Logs(ctx, "shop", argocd.LogQuery{UntilTime: time.Time{}, TailLines: -1})
	assert.EqualError(t, err, `argocd: logs of app "shop": negative TailLines -1`)
	_, err = e.client.Logs(ctx, "shop", argocd.LogQuery{Since: -time.Second})
	assert.EqualError(t, err, `argocd: logs of app "shop": negative Since -1s`)
	_, err = e.client.Logs(ctx, "", argocd.LogQuery{})
	assert.EqualError(t, err, `argocd: logs of app "": application name is required`)

	e.srv.RevokeToken()
	_, err = e.client.Logs(ctx, "shop", argocd.LogQuery{})
	require.ErrorIs(t, err, argocd.ErrUnauthenticated)
	assertNoToken(t, e.env, err)
}

func TestLogsWithoutPodsIsEmpty(t *testing.T) {
	e := setup(t, nil, nil) // never synced: no pods
	got, err := e.client.Logs(context.Background(), "shop", argocd.LogQuery{})
	require.NoError(t, err)
	assert.Empty(t, got)
}

// streamServer answers every request with status and body, flushed.
func streamServer(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

const logLine = `{"result":{"content":"level=error msg=boom","timeStamp":"2026-01-01T00:00:01Z","last":false,"timeStampStr":"2026-01-01T00:00:01.5Z","podName":"web-1"}}` + "\n"

func TestLogsStreamFaults(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, body string
		status     int
		is         error
		msg        string
	}{
		{"error chunk mid-stream", logLine + `{"error":{"grpc_code":7,"http_code":403,"message":"permission denied: logs, get, default/shop, token argocdtest-token","http_status":"Forbidden"}}`, 200,
			argocd.ErrPermissionDenied, `argocd: logs of app "shop": permission denied: logs, get, default/shop, token xxxxx (HTTP 403, code 7)`},
		{"error chunk as the answer", `{"error":{"grpc_code":3,"http_code":400,"message":"max pods to view logs are reached. Please provide more granular query","http_status":"Bad Request"}}`, 400,
			nil, `argocd: logs of app "shop": max pods to view logs are reached. Please provide more granular query (HTTP 400, code 3)`},
		{"ends before the last entry", logLine, 200, argocd.ErrBadResponse, `argocd: logs of app "shop": malformed response: log stream ended before its last entry`},
		{"login page", "<html><title>Argo CD</title></html>\n", 200, argocd.ErrBadResponse, `argocd: logs of app "shop": malformed response: stream line is not JSON: HTML page "Argo CD"`},
		{"bad time", strings.Replace(logLine, "01.5Z", "yesterday", 1), 200, argocd.ErrBadResponse, `argocd: logs of app "shop": malformed response: log entry time: parsing time`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := streamServer(t, tc.status, tc.body)
			c, err := argocd.New(srv.URL, argocdtest.DefaultToken, argocd.WithRetry(0, time.Millisecond, time.Millisecond))
			require.NoError(t, err)
			got, err := c.Logs(ctx, "shop", argocd.LogQuery{})
			assert.Nil(t, got)
			require.Error(t, err)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.ErrorContains(t, err, tc.msg)
			assert.NotContains(t, err.Error(), argocdtest.DefaultToken)
		})
	}

	t.Run("timeStamp only, and the last entry", func(t *testing.T) {
		body := strings.Replace(logLine, `"timeStampStr":"2026-01-01T00:00:01.5Z",`, "", 1) +
			`{"result":{"content":"","timeStamp":"2026-01-01T00:00:09Z","last":true,"timeStampStr":"2026-01-01T00:00:09Z","podName":""}}` + "\n" + logLine
		srv := streamServer(t, 200, body)
		c, err := argocd.New(srv.URL, "t")
		require.NoError(t, err)
		got, err := c.Logs(ctx, "shop", argocd.LogQuery{})
		require.NoError(t, err)
		assert.Equal(t, []argocd.LogEntry{{Pod: "web-1", Time: time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC), Content: "level=error msg=boom"}}, got,
			"nothing after the last entry")
	})

	t.Run("size limit over all lines", func(t *testing.T) {
		srv := streamServer(t, 200, strings.Repeat(logLine, 20))
		c, err := argocd.New(srv.URL, "t", argocd.WithMaxResponseBytes(300))
		require.NoError(t, err)
		_, err = c.Logs(ctx, "shop", argocd.LogQuery{})
		assert.ErrorIs(t, err, argocd.ErrResponseTooLarge)
	})

	t.Run("a server that hangs", func(t *testing.T) {
		srv, arrived := hangingServer(t)
		c, _ := newClient(t, srv.URL)
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := c.Logs(ctx, "shop", argocd.LogQuery{})
			done <- err
		}()
		<-arrived
		cancel()
		err := <-done
		require.ErrorIs(t, err, context.Canceled)
		assert.EqualError(t, err, `argocd: logs of app "shop": context canceled`)
	})
}

func TestFollowLogs(t *testing.T) {
	e := setupLogs(t)
	e.send(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // hang guard only
	defer cancel()
	got := make(chan argocd.LogEntry, 100)
	done := make(chan error, 1)
	go func() {
		n := 0
		done <- e.client.FollowLogs(ctx, "shop", argocd.LogQuery{Filter: "GET"}, func(en argocd.LogEntry) error {
			got <- en
			if n++; n == 10 {
				return argocd.ErrStopWatch
			}
			return nil
		})
	}()
	for range 4 {
		<-got // what was written before
	}
	e.clk.Advance(time.Second)
	e.send(t, 6) // written while following
	require.NoError(t, <-done)
	assert.Len(t, got, 6)
	assert.Equal(t, "true", lastLogsQuery(t, e.srv).Get("follow"))
	for range 6 {
		assert.Equal(t, e.clk.Now(), (<-got).Time)
	}

	fail := fmt.Errorf("enough")
	err := e.client.FollowLogs(ctx, "shop", argocd.LogQuery{}, func(argocd.LogEntry) error { return fail })
	assert.Same(t, fail, err, "the callback's error as is")

	ctx2, cancel2 := context.WithCancel(ctx)
	err = e.client.FollowLogs(ctx2, "shop", argocd.LogQuery{}, func(argocd.LogEntry) error { cancel2(); return nil })
	assert.ErrorIs(t, err, context.Canceled)
	assert.EqualError(t, e.client.FollowLogs(ctx, "shop", argocd.LogQuery{}, nil), `argocd: follow logs of app "shop": nil callback`)
}

func TestLogSourceFeedsErrorLogs(t *testing.T) {
	e := setupLogs(t)
	ctx := context.Background()
	e.clk.Advance(time.Minute)
	res := e.send(t, 100) // a quarter of them fail
	eval := func(app string, q argocd.LogQuery) health.Measurement {
		ev, err := health.NewErrorLogs(argocd.LogSource(e.client, app, q), health.ErrorLogSpec{MaxRate: 5}, health.WithClock(e.clk))
		require.NoError(t, err)
		return ev.Evaluate(ctx)
	}

	m := eval("shop", argocd.LogQuery{Kind: "Deployment", ResourceName: "shop"})
	require.Equal(t, health.Failed, m.Phase, m.Message)
	assert.Equal(t, float64(res.Codes[500]), m.Values["errors"])
	assert.Equal(t, 100.0, m.Values["lines"])
	assert.Regexp(t, `e\.g\. "shop-[a-z0-9]+-[a-z0-9]+: level=error msg=\\"request failed\\"`, m.Message, "samples name the pod")
	q := lastLogsQuery(t, e.srv)
	assert.Equal(t, "120", q.Get("sinceSeconds"))
	assert.Equal(t, e.clk.Now().UTC().Format(time.RFC3339Nano), q.Get("untilTime"))

	// A minute later nothing new was written: no data, not a clean log.
	e.clk.Advance(time.Minute)
	m = eval("shop", argocd.LogQuery{})
	assert.Equal(t, health.Inconclusive, m.Phase, m.Message)

	// Kubernetes' refusals are not the pods' lines.
	e.send(t, 10)
	m = eval("shop", argocd.LogQuery{Container: "sidecar"})
	assert.Equal(t, health.Inconclusive, m.Phase, m.Message)

	m = eval("nope", argocd.LogQuery{})
	assert.Equal(t, health.Error, m.Phase)
	assert.ErrorIs(t, m.Err, argocd.ErrNotFound)
	assert.NotContains(t, m.Message, e.srv.Token)
}
