package dora_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/dora"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// TestCollector exposes the golden history's whole history (Q0 and Q3
// included, as the Collector counts from the start) with labels bounded
// to app checkout and environment prod:
//
//   - checkout/prod: planned P1 P2 P3 P4 P5, unplanned R1 F1 R2; failed
//     P2 P3 P5; lead times 9000 21600 86400 5400 86400 s (sum 208800);
//     recoveries 6600 23400 21600 s (sum 51600).
//   - checkout/staging counts as checkout/_other: planned S1 S2; lead
//     times 3600 18000 s.
//   - payments/prod counts as _other/prod: planned Q0 Q1 Q2, unplanned
//     Q3; failed Q2, recovered by Q3 after 111h (399600 s); lead times
//     3600 172800 43200 7200 s (sum 226800).
func TestCollector(t *testing.T) {
	f := goldenHistory(t)
	r := dora.NewReader(f, dora.WithClock(clocktest.New(day(30, "00:00"))))
	reg := prometheus.NewPedanticRegistry()
	c, err := dora.NewCollector(r, dora.WithApps("checkout"), dora.WithEnvironments("prod"), dora.WithRegisterer(reg))
	require.NoError(t, err)
	_, err = dora.NewCollector(r, dora.WithRegisterer(reg))
	assert.True(t, errors.As(err, new(prometheus.AlreadyRegisteredError)), "a second collector of the same names is refused: %v", err)

	want := `
# HELP flightdeck_change_failures_total Deployments that needed a rollback or an unplanned fix, or failed their verification.
# TYPE flightdeck_change_failures_total counter
flightdeck_change_failures_total{app="_other",environment="prod"} 1
flightdeck_change_failures_total{app="checkout",environment="_other"} 0
flightdeck_change_failures_total{app="checkout",environment="prod"} 3
# HELP flightdeck_change_lead_time_seconds Time from a change's source commit to its deployment being verified (else committed), with buckets on the DORA 2024 bands.
# TYPE flightdeck_change_lead_time_seconds histogram
flightdeck_change_lead_time_seconds_bucket{app="_other",environment="prod",le="86400"} 3
flightdeck_change_lead_time_seconds_bucket{app="_other",environment="prod",le="604800"} 4
flightdeck_change_lead_time_seconds_bucket{app="_other",environment="prod",le="2.628e+06"} 4
flightdeck_change_lead_time_seconds_bucket{app="_other",environment="prod",le="1.5768e+07"} 4
flightdeck_change_lead_time_seconds_bucket{app="_other",environment="prod",le="+Inf"} 4
flightdeck_change_lead_time_seconds_sum{app="_other",environment="prod"} 226800
flightdeck_change_lead_time_seconds_count{app="_other",environment="prod"} 4
flightdeck_change_lead_time_seconds_bucket{app="checkout",environment="_other",le="86400"} 2
flightdeck_change_lead_time_seconds_bucket{app="checkout",environment="_other",le="604800"} 2
flightdeck_change_lead_time_seconds_bucket{app="checkout",environment="_other",le="2.628e+06"} 2
flightdeck_change_lead_time_seconds_bucket{app="checkout",environment="_other",le="1.5768e+07"} 2
flightdeck_change_lead_time_seconds_bucket{app="checkout",environment="_other",le="+Inf"} 2
flightdeck_change_lead_time_seconds_sum{app="checkout",environment="_other"} 21600
flightdeck_change_lead_time_seconds_count{app="checkout",environment="_other"} 2
flightdeck_change_lead_time_seconds_bucket{app="checkout",environment="prod",le="86400"} 5
flightdeck_change_lead_time_seconds_bucket{app="checkout",environment="prod",le="604800"} 5
flightdeck_change_lead_time_seconds_bucket{app="checkout",environment="prod",le="2.628e+06"} 5
flightdeck_change_lead_time_seconds_bucket{app="checkout",environment="prod",le="1.5768e+07"} 5
flightdeck_change_lead_time_seconds_bucket{app="checkout",environment="prod",le="+Inf"} 5
flightdeck_change_lead_time_seconds_sum{app="checkout",environment="prod"} 208800
flightdeck_change_lead_time_seconds_count{app="checkout",environment="prod"} 5
# HELP flightdeck_deployments_total Deployments (deploy, promote and rollback commits) in the GitOps repository's history, by planned or unplanned change.
# TYPE flightdeck_deployments_total counter
flightdeck_deployments_total{app="_other",change="planned",environment="prod"} 3
flightdeck_deployments_total{app="_other",change="unplanned",environment="prod"} 1
flightdeck_deployments_total{app="checkout",change="planned",environment="_other"} 2
flightdeck_deployments_total{app="checkout",change="unplanned",environment="_other"} 0
flightdeck_deployments_total{app="checkout",change="planned",environment="prod"} 5
flightdeck_deployments_total{app="checkout",change="unplanned",environment="prod"} 3
# HELP flightdeck_failed_deployment_recovery_seconds Time from a failed deployment to the next good one, with buckets on the DORA 2024 bands.
# TYPE flightdeck_failed_deployment_recovery_seconds histogram
flightdeck_failed_deployment_recovery_seconds_bucket{app="_other",environment="prod",le="3600"} 0
flightdeck_failed_deployment_recovery_seconds_bucket{app="_other",environment="prod",le="86400"} 0
flightdeck_failed_deployment_recovery_seconds_bucket{app="_other",environment="prod",le="604800"} 1
flightdeck_failed_deployment_recovery_seconds_bucket{app="_other",environment="prod",le="2.628e+06"} 1
flightdeck_failed_deployment_recovery_seconds_bucket{app="_other",environment="prod",le="+Inf"} 1
flightdeck_failed_deployment_recovery_seconds_sum{app="_other",environment="prod"} 399600
flightdeck_failed_deployment_recovery_seconds_count{app="_other",environment="prod"} 1
flightdeck_failed_deployment_recovery_seconds_bucket{app="checkout",environment="_other",le="3600"} 0
flightdeck_failed_deployment_recovery_seconds_bucket{app="checkout",environment="_other",le="86400"} 0
flightdeck_failed_deployment_recovery_seconds_bucket{app="checkout",environment="_other",le="604800"} 0
flightdeck_failed_deployment_recovery_seconds_bucket{app="checkout",environment="_other",le="2.628e+06"} 0
flightdeck_failed_deployment_recovery_seconds_bucket{app="checkout",environment="_other",le="+Inf"} 0
flightdeck_failed_deployment_recovery_seconds_sum{app="checkout",environment="_other"} 0
flightdeck_failed_deployment_recovery_seconds_count{app="checkout",environment="_other"} 0
flightdeck_failed_deployment_recovery_seconds_bucket{app="checkout",environment="prod",le="3600"} 0
flightdeck_failed_deployment_recovery_seconds_bucket{app="checkout",environment="prod",le="86400"} 3
flightdeck_failed_deployment_recovery_seconds_bucket{app="checkout",environment="prod",le="604800"} 3
flightdeck_failed_deployment_recovery_seconds_bucket{app="checkout",environment="prod",le="2.628e+06"} 3
flightdeck_failed_deployment_recovery_seconds_bucket{app="checkout",environment="prod",le="+Inf"} 3
flightdeck_failed_deployment_recovery_seconds_sum{app="checkout",environment="prod"} 51600
flightdeck_failed_deployment_recovery_seconds_count{app="checkout",environment="prod"} 3
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want)))
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

func TestCollectorDefaultLabelsAreBounded(t *testing.T) {
	f := goldenHistory(t)
	c, err := dora.NewCollector(dora.NewReader(f))
	require.NoError(t, err)
	assert.Equal(t, 2, testutil.CollectAndCount(c, "flightdeck_deployments_total"),
		"without configured apps and environments every target is _other/_other: planned and unplanned")
}

func TestCollectorFailsTheScrapeOnError(t *testing.T) {
	boom := errors.New("remote down")
	src := dora.SourceFunc(func(context.Context, gitops.HistoryQuery) ([]gitops.Entry, error) { return nil, boom })
	reg := prometheus.NewRegistry()
	_, err := dora.NewCollector(dora.NewReader(src), dora.WithRegisterer(reg))
	require.NoError(t, err)
	_, err = reg.Gather()
	assert.ErrorContains(t, err, "remote down")
}
