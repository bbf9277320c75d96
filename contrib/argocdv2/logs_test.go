package argocdv2_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/grpc-ecosystem/grpc-gateway/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/utilities"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2/argocdv2test"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2/internal/fixture"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/health"
)

// withLogs gives app "shop" of s two pods' lines in the minute before
// fixture.T0: web-1 every 10 seconds from T0-60s, web-2 every 10 seconds
// from T0-55s; every third line is an error.
func withLogs(t *testing.T, s *argocdv2test.Server) []argocdv2test.LogLine {
	t.Helper()
	var lines []argocdv2test.LogLine
	for i := range 12 {
		pod := []string{"web-1", "web-2"}[i%2]
		text := "level=info msg=served"
		if i%3 == 0 {
			text = "level=error msg=failed"
		}
		lines = append(lines, argocdv2test.LogLine{Pod: pod, Time: fixture.T0.Add(time.Duration(i*5-60) * time.Second), Content: text})
	}
	require.NoError(t, s.AddLogs("shop", lines...))
	return lines
}

// logReaders are both clients of an endpoint, as argocd.LogReader.
func logReaders(t *testing.T, e *argocdv2test.Endpoint) map[string]argocd.LogReader {
	t.Helper()
	return map[string]argocd.LogReader{
		"rest":     restClient(t, e, fixture.Token, argocd.WithClock(clocktest.NewAuto(fixture.T0))),
		"grpc":     dial(t, e, fixture.Token, false),
		"grpc-web": dial(t, e, fixture.Token, true),
	}
}

func contents(entries []argocd.LogEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Pod+" "+e.Time.Format("15:04:05")+" "+e.Content)
	}
	return out
}

func TestConformanceLogsBothClients(t *testing.T) {
	s, e := fixture.Start(t)
	lines := withLogs(t, s)
	fixture.Put(s, "quiet", nil)
	for name, c := range logReaders(t, e) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			all, err := c.Logs(ctx, "shop", argocd.LogQuery{})
			require.NoError(t, err)
			require.Len(t, all, len(lines))
			for i, l := range lines {
				assert.Equal(t, argocd.LogEntry{Pod: l.Pod, Time: l.Time, Content: l.Content}, all[i])
			}

			got, err := c.Logs(ctx, "shop", argocd.LogQuery{PodName: "web-2", Filter: "!level=info", Container: "app"})
			require.NoError(t, err)
			assert.Equal(t, []string{"web-2 11:59:15 level=error msg=failed", "web-2 11:59:45 level=error msg=failed"}, contents(got))
			assert.Equal(t, "app", got[0].Container)

			got, err = c.Logs(ctx, "shop", argocd.LogQuery{TailLines: 1})
			require.NoError(t, err)
			assert.Equal(t, []string{"web-1 11:59:50 level=info msg=served", "web-2 11:59:55 level=info msg=served"}, contents(got), "the last line of each pod")

			got, err = c.Logs(ctx, "shop", argocd.LogQuery{Since: 12 * time.Second})
			require.NoError(t, err)
			assert.Equal(t, []string{"web-1 11:59:50 level=info msg=served", "web-2 11:59:55 level=info msg=served"}, contents(got))

			got, err = c.Logs(ctx, "shop", argocd.LogQuery{SinceTime: fixture.T0.Add(-10 * time.Second), UntilTime: fixture.T0.Add(-6 * time.Second)})
			require.NoError(t, err)
			assert.Equal(t, []string{"web-1 11:59:50 level=info msg=served"}, contents(got), "SinceTime and UntilTime bound the lines")

			got, err = c.Logs(ctx, "quiet", argocd.LogQuery{})
			require.NoError(t, err)
			assert.Empty(t, got, "no pods, no lines")

			_, err = c.Logs(ctx, "nope", argocd.LogQuery{})
			require.ErrorIs(t, err, argocd.ErrPermissionDenied, "Argo CD hides whether an app it will not show exists")
			var ae *argocd.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, "permission denied", ae.Message)
			assert.Equal(t, 403, ae.StatusCode)
			assert.Equal(t, 7, ae.Code)
			assert.Equal(t, `logs of app "nope"`, ae.Op)

			_, err = c.Logs(ctx, "shop", argocd.LogQuery{Project: "other"})
			require.ErrorIs(t, err, argocd.ErrNotFound)

			s.FailNext("PodLogs", status.Error(codes.Unavailable, "etcd is down"))
			got, err = c.Logs(ctx, "shop", argocd.LogQuery{})
			require.NoError(t, err, "Unavailable is retried")
			assert.Len(t, got, len(lines))

			s.FailNext("PodLogs", status.Error(codes.InvalidArgument, "max pods to view logs are reached. Please provide more granular query, token "+fixture.Token))
			_, err = c.Logs(ctx, "shop", argocd.LogQuery{})
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, 400, ae.StatusCode)
			assert.Equal(t, 3, ae.Code)
			assert.Equal(t, "max pods to view logs are reached. Please provide more granular query, token xxxxx", ae.Message)
			assert.NotContains(t, err.Error(), fixture.Token)
		})
	}
}

// recorder is a transport that keeps the query of each request.
type recorder struct {
	mu      sync.Mutex
	queries []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.queries = append(r.queries, req.URL.RawQuery)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// TestConformanceRESTLogsQuery decodes the REST client's query with the
// REST gateway's own decoder into Argo CD's ApplicationPodLogsQuery.
func TestConformanceRESTLogsQuery(t *testing.T) {
	s, e := fixture.Start(t)
	withLogs(t, s)
	rec := &recorder{}
	c := restClient(t, e, fixture.Token, argocd.WithHTTPClient(&http.Client{Transport: rec}), argocd.WithAppNamespace("argocd"),
		argocd.WithClock(clocktest.New(fixture.T0)))
	until := fixture.T0.Add(-time.Second)
	_, err := c.Logs(t.Context(), "shop", argocd.LogQuery{
		Namespace: "shop", PodName: "web-1", Container: "app", Kind: "Deployment", Group: "apps", ResourceName: "shop",
		Since: 30 * time.Second, SinceTime: fixture.T0.Add(-10 * time.Second), TailLines: 5, UntilTime: until,
		Filter: "!level=info", Previous: true, Project: "default",
	})
	require.NoError(t, err)
	require.Len(t, rec.queries, 1)
	values, err := url.ParseQuery(rec.queries[0])
	require.NoError(t, err)
	var q application.ApplicationPodLogsQuery
	require.NoError(t, runtime.PopulateQueryParameters(&q, values, utilities.NewDoubleArray([][]string{{"name"}})))
	assert.Equal(t, "shop", q.GetNamespace())
	assert.Equal(t, "web-1", q.GetPodName())
	assert.Equal(t, "app", q.GetContainer())
	assert.Equal(t, "Deployment", q.GetKind())
	assert.Equal(t, "apps", q.GetGroup())
	assert.Equal(t, "shop", q.GetResourceName())
	assert.Equal(t, int64(30), q.GetSinceSeconds(), "the earlier of Since and SinceTime plus slack")
	assert.Nil(t, q.SinceTime)
	assert.Equal(t, int64(5), q.GetTailLines())
	assert.Equal(t, until.Format(time.RFC3339Nano), q.GetUntilTime())
	assert.Equal(t, "!level=info", q.GetFilter())
	assert.True(t, q.GetPrevious())
	assert.False(t, q.GetFollow())
	assert.Equal(t, "argocd", q.GetAppNamespace())
	assert.Equal(t, "default", q.GetProject())

	// Why the client never sends sinceTime: the gateway cannot decode it.
	var bad application.ApplicationPodLogsQuery
	err = runtime.PopulateQueryParameters(&bad, url.Values{"sinceTime": {fixture.T0.Format(time.RFC3339)}}, utilities.NewDoubleArray(nil))
	assert.ErrorContains(t, err, "is not supported in query parameters")
	status, body := rawGet(t, e, "/api/v1/applications/shop/logs?sinceTime="+fixture.T0.Format(time.RFC3339))
	assert.Equal(t, 400, status)
	assert.Contains(t, body, "is not supported in query parameters")
}

func rawGet(t *testing.T, e *argocdv2test.Endpoint, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", e.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+fixture.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

func TestConformanceLogSourceOverTheOfficialClient(t *testing.T) {
	s, e := fixture.Start(t)
	withLogs(t, s)
	c := dial(t, e, fixture.Token, false)
	ev, err := health.NewErrorLogs(argocd.LogSource(c, "shop", argocd.LogQuery{}), health.ErrorLogSpec{MaxRate: 2}, health.WithClock(clocktest.New(fixture.T0)))
	require.NoError(t, err)
	m := ev.Evaluate(context.Background())
	assert.Equal(t, health.Failed, m.Phase, m.Message)
	assert.Equal(t, map[string]float64{"errors": 3, "lines": 11, "per_minute": 3}, m.Values, "the line at the window's start belongs to the window before")
	var _ argocd.LogReader = (*argocdv2.Syncer)(nil)
}
