package health_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
)

// scriptedServer answers each request with the next status and body.
func scriptedServer(t *testing.T, replies ...[2]string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i >= len(replies) {
			i = len(replies) - 1
		}
		var code int
		_, _ = fmt.Sscan(replies[i][0], &code)
		w.WriteHeader(code)
		_, _ = w.Write([]byte(replies[i][1]))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestHTTPProbeStatusRange(t *testing.T) {
	for _, tt := range []struct {
		code int
		want health.Phase
	}{{200, health.Successful}, {204, health.Successful}, {302, health.Successful}, {399, health.Successful}, {404, health.Failed}, {500, health.Failed}, {400, health.Failed}} {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.code >= 300 && tt.code < 400 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.code)
			}))
			defer srv.Close()
			p, err := health.NewHTTPProbe(srv.URL, health.ProbeSpec{FailureThreshold: 1},
				health.WithHTTPClient(&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}))
			require.NoError(t, err)
			m := p.Evaluate(context.Background())
			assert.Equal(t, tt.want, m.Phase, m.Message)
			assert.Equal(t, float64(tt.code), m.Value)
		})
	}
}

func TestHTTPProbeThresholds(t *testing.T) {
	srv, _ := scriptedServer(t, [2]string{"200", ""}, [2]string{"500", ""}, [2]string{"200", ""}, [2]string{"200", ""},
		[2]string{"503", ""}, [2]string{"503", ""}, [2]string{"503", ""})
	p, err := health.NewHTTPProbe(srv.URL, health.ProbeSpec{SuccessThreshold: 2, FailureThreshold: 3})
	require.NoError(t, err)
	var phases []health.Phase
	for range 7 {
		phases = append(phases, p.Evaluate(context.Background()).Phase)
	}
	assert.Equal(t, []health.Phase{
		health.Inconclusive, // 1 of 2 successes
		health.Inconclusive, // 1 of 3 failures, streak reset
		health.Inconclusive, // 1 of 2 successes again
		health.Successful,   // 2 consecutive
		health.Inconclusive, // 1 of 3 failures
		health.Inconclusive, // 2 of 3
		health.Failed,       // 3 consecutive
	}, phases)
}

func TestHTTPProbeJSONBody(t *testing.T) {
	tests := []struct {
		name, body, field string
		want              health.Phase
		msg               string
	}{
		{"up", `{"status":"UP"}`, "status", health.Successful, ""},
		{"down", `{"status":"DOWN"}`, "status", health.Failed, `status is "DOWN", want "UP"`},
		{"nested", `{"components":{"db":{"status":"UP"}}}`, "components.db.status", health.Successful, ""},
		{"missing", `{"state":"UP"}`, "status", health.Failed, `no field "status"`},
		{"not json", `OK`, "status", health.Failed, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := scriptedServer(t, [2]string{"200", tt.body})
			p, err := health.NewHTTPProbe(srv.URL+"/actuator/health", health.ProbeSpec{JSONField: tt.field, FailureThreshold: 1})
			require.NoError(t, err)
			m := p.Evaluate(context.Background())
			assert.Equal(t, tt.want, m.Phase)
			assert.Contains(t, m.Message, tt.msg)
		})
	}
}

func TestHTTPProbeUnreachableAndTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	p, err := health.NewHTTPProbe("http://probe:hunter2@"+addr+"/healthz", health.ProbeSpec{})
	require.NoError(t, err)
	m := p.Evaluate(context.Background())
	assert.Equal(t, health.Error, m.Phase, "unreachable is an error, never healthy")
	require.Error(t, m.Err)
	assert.Contains(t, m.Err.Error(), "connection refused")
	assert.NotContains(t, m.Err.Error(), "hunter2")
	assert.True(t, math.IsNaN(m.Value))
	p.Evaluate(context.Background())
	m = p.Evaluate(context.Background())
	assert.Equal(t, health.Failed, m.Phase, "the third consecutive failure fails the probe")
	assert.NotContains(t, m.Message, "hunter2")

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	p, err = health.NewHTTPProbe(slow.URL, health.ProbeSpec{Timeout: 20 * time.Millisecond})
	require.NoError(t, err)
	m = p.Evaluate(context.Background())
	assert.Equal(t, health.Error, m.Phase)
	assert.ErrorContains(t, m.Err, "deadline exceeded")
	assert.ErrorIs(t, m.Err, context.DeadlineExceeded, "the cause survives")
	assert.Contains(t, m.Err.Error(), slow.URL, "the error names the endpoint")
}

func TestHTTPProbeRun(t *testing.T) {
	srv, n := scriptedServer(t, [2]string{"503", ""}, [2]string{"503", ""}, [2]string{"200", ""})
	c := clocktest.NewAuto(fixedNow)
	p, err := health.NewHTTPProbe(srv.URL, health.ProbeSpec{InitialDelay: 5 * time.Second, Period: 2 * time.Second},
		health.WithClock(c))
	require.NoError(t, err)
	ms := p.Run(context.Background())
	require.Len(t, ms, 3)
	assert.Equal(t, health.Successful, ms[2].Phase)
	assert.Equal(t, int32(3), n.Load())
	assert.Equal(t, []time.Duration{5 * time.Second, 2 * time.Second, 2 * time.Second}, c.Waits())
	assert.Equal(t, fixedNow.Add(9*time.Second), ms[2].Time)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ms = p.Run(ctx)
	require.Len(t, ms, 1)
	assert.Equal(t, health.Error, ms[0].Phase)
	assert.ErrorIs(t, ms[0].Err, context.Canceled)
}

func TestNewHTTPProbeRejects(t *testing.T) {
	_, err := health.NewHTTPProbe("localhost:8080/healthz", health.ProbeSpec{})
	assert.ErrorContains(t, err, "absolute http(s) URL")
	_, err = health.NewHTTPProbe("http://a:secret@%zz", health.ProbeSpec{})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret")
}

func TestHTTPProbeConformance(t *testing.T) {
	srv, _ := scriptedServer(t, [2]string{"200", `{"status":"UP"}`})
	healthtest.TestEvaluator(t, func(t *testing.T) health.Evaluator {
		p, err := health.NewHTTPProbe(srv.URL, health.ProbeSpec{JSONField: "status"})
		require.NoError(t, err)
		return p
	})
}
