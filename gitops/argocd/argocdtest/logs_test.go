package argocdtest_test

import (
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
	"github.com/flightdeck-dev/flightdeck/sim"
)

// rawLogs gets path and returns the status and the body's lines.
func rawLogs(t *testing.T, srv *argocdtest.Server, path string) (int, []string) {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func TestLogsWireFormat(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	cluster := sim.New(clk, sim.WithDefaultBehavior(sim.Behavior{ErrorRate: 1}))
	srv, _ := start(t, argocdtest.WithClock(clk), argocdtest.WithCluster(cluster))
	status, _ := call(t, srv, "POST", "/api/v1/applications/shop/sync", `{}`)
	require.Equal(t, 200, status)
	clk.Advance(time.Minute)
	_, err := cluster.Send(context.Background(), sim.Ref{APIVersion: "v1", Kind: "Service", Namespace: "shop-dev", Name: "shop"}, 2)
	require.NoError(t, err)
	pods, err := cluster.Logs(sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop-dev", Name: "shop"})
	require.NoError(t, err)
	pod := pods[0].Pod

	status, lines := rawLogs(t, srv, "/api/v1/applications/shop/logs?follow=false")
	require.Equal(t, 200, status)
	require.Len(t, lines, 3)
	ts := clk.Now().UTC().Format(time.RFC3339)
	assert.JSONEq(t, `{"result":{"content":"level=error msg=\"request failed\" method=GET path=/ status=500 duration=0.000s","timeStamp":"`+ts+`","last":false,"timeStampStr":"`+clk.Now().UTC().Format(time.RFC3339Nano)+`","podName":"`+pod+`"}}`, lines[0])
	assert.JSONEq(t, `{"result":{"content":"","timeStamp":"`+ts+`","last":true,"timeStampStr":"`+clk.Now().UTC().Format(time.RFC3339Nano)+`","podName":""}}`, lines[2])

	// The pod route of the same RPC, and untilTime: the first line past
	// it ends the stream, marked last.
	_, lines = rawLogs(t, srv, "/api/v1/applications/shop/pods/"+pod+"/logs?untilTime="+clk.Now().Add(-time.Second).UTC().Format(time.RFC3339))
	require.Len(t, lines, 1)
	var e struct{ Result struct{ Last bool } }
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &e))
	assert.True(t, e.Result.Last)

	// A filter that drops everything still ends with the last entry.
	_, lines = rawLogs(t, srv, "/api/v1/applications/shop/logs?filter=!GET")
	assert.Len(t, lines, 1)
}

func TestLogsRefusalsAsArgoCD(t *testing.T) {
	srv, dir := start(t)
	for _, tc := range []struct{ query, msg string }{
		{"sinceTime=2026-01-01T00:00:00Z", "field type *v1.Time is not supported in query parameters"},
		{"tailLines=ten", `strconv.ParseInt: parsing "ten": invalid syntax`},
		{"follow=maybe", `strconv.ParseBool: parsing "maybe": invalid syntax`},
		{"untilTime=noon", `invalid untilTime parameter value: parsing time "noon" as "2006-01-02T15:04:05.999999999Z07:00": cannot parse "noon" as "2006"`},
	} {
		status, body := call(t, srv, "GET", "/api/v1/applications/shop/logs?"+tc.query, "")
		assert.Contains(t, []int{400, 500}, status, tc.query)
		assert.Equal(t, tc.msg, at(body, "message"), tc.query)
	}
	status, body := call(t, srv, "GET", "/api/v1/applications/nope/logs", "")
	assert.Equal(t, 404, status)
	assert.Equal(t, `applications.argoproj.io "nope" not found`, at(body, "message"))

	// No pod yet: the stream closes without a word.
	status, lines := rawLogs(t, srv, "/api/v1/applications/shop/logs")
	assert.Equal(t, 200, status)
	assert.Equal(t, []string{""}, lines)

	// More pods than Argo CD renders at once.
	gitopstest.Commit(t, dir, gitopstest.Files{"apps/shop/overlays/dev/replicas.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  replicas: 11\n"}, nil, "scale up")
	status, _ = call(t, srv, "POST", "/api/v1/applications/shop/sync", `{}`)
	require.Equal(t, 200, status)
	status, body = call(t, srv, "GET", "/api/v1/applications/shop/logs", "")
	assert.Equal(t, 400, status)
	assert.Equal(t, "max pods to view logs are reached. Please provide more granular query", at(body, "message"))
	assert.EqualValues(t, 3, at(body, "code"))
}
