package notify_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
)

func event(kind notify.Kind, app, env string, n int) notify.Event {
	return notify.Event{Kind: kind, App: app, Environment: env, Time: testTime.Add(time.Duration(n) * time.Second),
		Summary: app + " " + string(kind)}
}

func summaries(es []notify.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Summary
	}
	return out
}

func TestFanoutFiltersPerTarget(t *testing.T) {
	all, prodAlerts, checkout := &notifytest.Recorder{}, &notifytest.Recorder{}, &notifytest.Recorder{}
	f, err := notify.NewFanout([]notify.Target{
		{Name: "audit", Notifier: all},
		{Name: "pager", Notifier: prodAlerts, Filter: notify.Filter{Environments: []string{"prod"}, MinSeverity: notify.Warning}},
		{Name: "team-checkout", Notifier: checkout, Filter: notify.Filter{Apps: []string{"checkout"}, Kinds: []notify.Kind{notify.Deployed, notify.RolledBack}}},
	})
	require.NoError(t, err)

	for i, e := range []notify.Event{
		event(notify.Deployed, "checkout", "prod", 0),
		event(notify.Degraded, "checkout", "prod", 1),
		event(notify.Degraded, "payments", "staging", 2),
		event(notify.RolledBack, "checkout", "staging", 3),
		event(notify.StepCompleted, "checkout", "prod", 4),
		{Kind: notify.Deployed, App: "payments", Environment: "prod", Severity: notify.Critical, Summary: "payments urgent deploy", Time: testTime},
	} {
		require.NoError(t, f.Notify(t.Context(), e), "event %d", i)
	}
	require.NoError(t, f.Close(t.Context()))

	assert.Len(t, all.Events(), 6)
	assert.Equal(t, []string{"checkout on-health-degraded", "payments urgent deploy"}, summaries(prodAlerts.Events()))
	assert.Equal(t, []string{"checkout on-deployed", "checkout on-rolled-back"}, summaries(checkout.Events()))
	stats := f.Stats()
	assert.Equal(t, notify.TargetStats{Name: "pager", Delivered: 2}, stats[1])
}

func TestFilterMatch(t *testing.T) {
	e := event(notify.Deployed, "checkout", "", 0)
	assert.True(t, notify.Filter{}.Match(e))
	assert.False(t, notify.Filter{Environments: []string{"prod"}}.Match(e), "an event without environment fails an environment filter")
	assert.False(t, notify.Filter{MinSeverity: notify.Warning}.Match(e))
	assert.True(t, notify.Filter{Kinds: notify.Kinds(), Apps: []string{"web", "checkout"}}.Match(e))
}

func TestFanoutHangingReceiverDoesNotBlockCaller(t *testing.T) {
	clk := clocktest.New(testTime)
	rcv := notifytest.NewReceiver(testSecret, notifytest.WithClock(clk))
	defer rcv.Close()
	rcv.Hang()
	wh, err := notify.NewWebhook(rcv.URL, testSecret, notify.WithClock(clk))
	require.NoError(t, err)
	other := &notifytest.Recorder{}
	f, err := notify.NewFanout([]notify.Target{
		{Name: "hanging", Notifier: wh, QueueSize: 2},
		{Name: "chat", Notifier: other},
	})
	require.NoError(t, err)

	require.NoError(t, f.Notify(t.Context(), event(notify.Deployed, "checkout", "prod", 0)))
	require.NoError(t, rcv.WaitForRequests(t.Context(), 1), "the webhook delivery is in flight, and hangs")

	// The receiver has not answered: every Notify below returns anyway,
	// on this goroutine, and the other target gets every event.
	for i := 1; i <= 5; i++ {
		require.NoError(t, f.Notify(t.Context(), event(notify.StepCompleted, "checkout", "prod", i)))
	}
	require.NoError(t, other.WaitForEvents(t.Context(), 6))
	assert.Empty(t, rcv.Deliveries(), "the receiver is still hanging")
	st := f.Stats()[0]
	assert.Equal(t, 2, st.Queued)
	assert.Equal(t, uint64(3), st.Dropped, "queue of 2: the 3 oldest waiting events made room")

	rcv.Release()
	require.NoError(t, f.Close(t.Context()))
	assert.Equal(t, []string{"checkout on-deployed", "checkout on-rollout-step-completed", "checkout on-rollout-step-completed"},
		summaries(eventsOf(rcv.Accepted())))
	assert.Equal(t, testTime.Add(4*time.Second), rcv.Accepted()[1].Event.Time, "the newest two were kept")
	assert.Equal(t, notify.TargetStats{Name: "hanging", Delivered: 3, Dropped: 3}, f.Stats()[0])
}

func eventsOf(ds []notifytest.Delivery) []notify.Event {
	out := make([]notify.Event, len(ds))
	for i, d := range ds {
		out[i] = d.Event
	}
	return out
}

func TestFanoutQueueOverflow(t *testing.T) {
	for _, tt := range []struct {
		overflow notify.Overflow
		want     []int
	}{
		{notify.DropOldest, []int{0, 3, 4}},
		{notify.DropNewest, []int{0, 1, 2}},
	} {
		rec := &notifytest.Recorder{}
		rec.Block()
		reg := prometheus.NewPedanticRegistry()
		var logs bytes.Buffer
		f, err := notify.NewFanout([]notify.Target{{Name: "chat", Notifier: rec, QueueSize: 2, Overflow: tt.overflow}},
			notify.WithRegisterer(reg), notify.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		require.NoError(t, err)

		require.NoError(t, f.Notify(t.Context(), event(notify.StepCompleted, "web", "dev", 0)))
		require.NoError(t, rec.WaitForCalls(t.Context(), 1), "event 0 is being delivered")
		for i := 1; i <= 4; i++ {
			require.NoError(t, f.Notify(t.Context(), event(notify.StepCompleted, "web", "dev", i)))
		}
		assert.Equal(t, uint64(2), f.Stats()[0].Dropped)
		assert.Equal(t, 2, strings.Count(logs.String(), "notification dropped"))
		rec.Release()
		require.NoError(t, f.Close(t.Context()))

		var got []int
		for _, e := range rec.Events() {
			got = append(got, int(e.Time.Sub(testTime)/time.Second))
		}
		assert.Equal(t, tt.want, got, "overflow %d", tt.overflow)
		assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP flightdeck_notifications_total Notifications handled by a fan-out, by target and result (delivered, failed, dropped).
# TYPE flightdeck_notifications_total counter
flightdeck_notifications_total{result="delivered",target="chat"} 3
flightdeck_notifications_total{result="dropped",target="chat"} 2
flightdeck_notifications_total{result="failed",target="chat"} 0
`), "flightdeck_notifications_total"))
		problems, err := testutil.GatherAndLint(reg)
		require.NoError(t, err)
		assert.Empty(t, problems)
	}
}

func TestFanoutIsolatesFailingAndPanickingTargets(t *testing.T) {
	failing, good := &notifytest.Recorder{}, &notifytest.Recorder{}
	failing.FailNext(1, errors.New("chat is down"))
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	f, err := notify.NewFanout([]notify.Target{
		{Name: "failing", Notifier: failing},
		{Name: "panicking", Notifier: notify.NotifierFunc(func(context.Context, notify.Event) error { panic("boom") })},
		{Name: "good", Notifier: good},
	}, notify.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), notify.WithRegisterer(reg))
	require.NoError(t, err)

	require.NoError(t, f.Notify(t.Context(), event(notify.Deployed, "web", "prod", 0)), "a delivery failure is never the caller's")
	require.NoError(t, f.Notify(t.Context(), event(notify.Deployed, "web", "prod", 1)))
	require.NoError(t, f.Close(t.Context()))

	assert.Len(t, good.Events(), 2)
	assert.Len(t, failing.Events(), 1, "the second event still went through")
	stats := f.Stats()
	assert.Equal(t, notify.TargetStats{Name: "failing", Delivered: 1, Failed: 1}, stats[0])
	assert.Equal(t, notify.TargetStats{Name: "panicking", Failed: 2}, stats[1])
	assert.Contains(t, logs.String(), `target=failing`)
	assert.Contains(t, logs.String(), `error="chat is down"`)
	assert.Contains(t, logs.String(), `error="notifier panicked: boom"`)
	assert.Equal(t, 2.0, testutil.ToFloat64(mustCounter(t, reg, "panicking", "failed")))
}

func mustCounter(t *testing.T, reg *prometheus.Registry, target, result string) prometheus.Collector {
	t.Helper()
	// Registering the same description again returns the existing vector.
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flightdeck_notifications_total",
		Help: "Notifications handled by a fan-out, by target and result (delivered, failed, dropped).",
	}, []string{"target", "result"})
	err := reg.Register(vec)
	var are prometheus.AlreadyRegisteredError
	require.ErrorAs(t, err, &are)
	return are.ExistingCollector.(*prometheus.CounterVec).WithLabelValues(target, result)
}

func TestFanoutCloseDeadlineDropsQueued(t *testing.T) {
	rec := &notifytest.Recorder{}
	rec.Block()
	f, err := notify.NewFanout([]notify.Target{{Name: "slow", Notifier: rec}})
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, f.Notify(t.Context(), event(notify.Deployed, "web", "prod", i)))
	}
	require.NoError(t, rec.WaitForCalls(t.Context(), 1))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = f.Close(ctx)

	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "notify: close fan-out: 2 queued notifications dropped")
	assert.ErrorIs(t, f.Notify(t.Context(), event(notify.Deployed, "web", "prod", 9)), notify.ErrClosed)
	require.NoError(t, f.Close(t.Context()), "a second Close waits for the cancelled delivery")
	assert.Equal(t, notify.TargetStats{Name: "slow", Failed: 1, Dropped: 2}, f.Stats()[0])
	assert.Empty(t, rec.Events())
}

func TestFanoutStampsEventsOnce(t *testing.T) {
	clk := clocktest.New(testTime)
	a, b := &notifytest.Recorder{}, &notifytest.Recorder{}
	f, err := notify.NewFanout([]notify.Target{{Name: "a", Notifier: a}, {Name: "b", Notifier: b}}, notify.WithClock(clk))
	require.NoError(t, err)

	require.NoError(t, f.Notify(t.Context(), notify.Event{Kind: notify.Promoted, App: "web"}))
	require.NoError(t, f.Close(t.Context()))

	require.Len(t, a.Events(), 1)
	require.Len(t, b.Events(), 1)
	assert.Equal(t, testTime, a.Events()[0].Time)
	assert.Equal(t, a.Events()[0].Key(), b.Events()[0].Key(), "every target sees the same event")
}

func TestFanoutRefusesInvalidEventsAndTargets(t *testing.T) {
	f, err := notify.NewFanout(nil)
	require.NoError(t, err)
	assert.ErrorIs(t, f.Notify(t.Context(), notify.Event{App: "web"}), notify.ErrInvalidEvent)
	require.NoError(t, f.Close(t.Context()))

	_, err = notify.NewFanout([]notify.Target{
		{Name: "chat", Notifier: &notifytest.Recorder{}},
		{Name: "chat", Notifier: &notifytest.Recorder{}},
		{Name: "Bad Name", Notifier: &notifytest.Recorder{}},
		{Name: "nil"},
		{Name: "neg", Notifier: &notifytest.Recorder{}, QueueSize: -1},
		{Name: "ovf", Notifier: &notifytest.Recorder{}, Overflow: 7},
	})
	require.Error(t, err)
	for _, want := range []string{`target 1: name "chat" is used twice`, `target 2: name "Bad Name"`,
		`target "nil": no notifier`, `target "neg": negative queue size -1`, `target "ovf": unknown overflow 7`} {
		assert.ErrorContains(t, err, want)
	}
}

func TestFanoutsShareARegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := &notifytest.Recorder{}
	f1, err := notify.NewFanout([]notify.Target{{Name: "one", Notifier: rec}}, notify.WithRegisterer(reg))
	require.NoError(t, err)
	f2, err := notify.NewFanout([]notify.Target{{Name: "two", Notifier: rec}}, notify.WithRegisterer(reg))
	require.NoError(t, err)
	require.NoError(t, f1.Notify(t.Context(), event(notify.Deployed, "web", "prod", 0)))
	require.NoError(t, f2.Notify(t.Context(), event(notify.Deployed, "web", "prod", 1)))
	require.NoError(t, f1.Close(t.Context()))
	require.NoError(t, f2.Close(t.Context()))
	assert.Equal(t, 1.0, testutil.ToFloat64(mustCounter(t, reg, "one", "delivered")))
	assert.Equal(t, 1.0, testutil.ToFloat64(mustCounter(t, reg, "two", "delivered")))
}
