package dora

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flightdeck-dev/flightdeck/gitops"
)

// OtherLabel is the app or environment label value of every app or
// environment a [Collector] was not configured with.
const OtherLabel = "_other"

// DefaultCollectTimeout bounds the history read of one scrape.
const DefaultCollectTimeout = 10 * time.Second

// CollectorOption configures a [Collector].
type CollectorOption func(*collectorOptions)

type collectorOptions struct {
	apps, envs []string
	timeout    time.Duration
	reg        prometheus.Registerer
}

// WithApps lists the apps that get their own app label value; every
// other app is counted under [OtherLabel]. Default: none, so every app
// is OtherLabel.
func WithApps(apps ...string) CollectorOption {
	return func(o *collectorOptions) { o.apps = append(o.apps, apps...) }
}

// WithEnvironments lists the environments that get their own
// environment label value; every other environment is counted under
// [OtherLabel]. Default: none, so every environment is OtherLabel.
func WithEnvironments(envs ...string) CollectorOption {
	return func(o *collectorOptions) { o.envs = append(o.envs, envs...) }
}

// WithCollectTimeout bounds the history read of one scrape. Default
// [DefaultCollectTimeout].
func WithCollectTimeout(d time.Duration) CollectorOption {
	return func(o *collectorOptions) { o.timeout = d }
}

// WithRegisterer registers the Collector with reg. Default nil: the
// caller registers it, or not.
func WithRegisterer(reg prometheus.Registerer) CollectorOption {
	return func(o *collectorOptions) { o.reg = reg }
}

// Collector is a prometheus.Collector of the DORA figures of a
// [Reader]'s whole history, read afresh (incrementally) at every scrape:
//
//   - flightdeck_deployments_total{app, environment, change}: deploy,
//     promote and rollback commits; change is "planned" or "unplanned"
//     (see [Deployment.Unplanned]), so the rework rate is the unplanned
//     share.
//   - flightdeck_change_lead_time_seconds{app, environment}: a histogram
//     of the change lead times ([Deployment.LeadTime]), with buckets on
//     the lead time bands ([LeadTimeBuckets]).
//   - flightdeck_change_failures_total{app, environment}: failed
//     deployments ([Deployment.Failed]), so the change fail rate is
//     their share of flightdeck_deployments_total.
//   - flightdeck_failed_deployment_recovery_seconds{app, environment}: a
//     histogram of the recovery times of failed deployments that
//     recovered, with buckets on the recovery bands
//     ([RecoveryBuckets]).
//
// Labels come from small fixed sets: app and environment take only the
// values the Collector is configured with ([WithApps],
// [WithEnvironments]) and [OtherLabel] for the rest, so a repository of
// a thousand apps makes no more series than the apps one chose to watch.
// Counters count from the start of the history; a rewritten history can
// make them go down, which Prometheus reads as a counter reset.
//
// A failed read makes the scrape fail with the error (an invalid metric),
// rather than report stale or partial figures.
type Collector struct {
	r          *Reader
	apps, envs []string
	timeout    time.Duration

	deploys, failures, lead, recovery *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector of r's figures. It returns the error
// of registering with the [WithRegisterer] Registerer, if any.
func NewCollector(r *Reader, opts ...CollectorOption) (*Collector, error) {
	o := collectorOptions{timeout: DefaultCollectTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	labels := []string{"app", "environment"}
	withChange := []string{"app", "environment", "change"}
	c := &Collector{
		r: r, apps: o.apps, envs: o.envs, timeout: o.timeout,
		deploys: prometheus.NewDesc("flightdeck_deployments_total",
			"Deployments (deploy, promote and rollback commits) in the GitOps repository's history, by planned or unplanned change.",
			withChange, nil),
		failures: prometheus.NewDesc("flightdeck_change_failures_total",
			"Deployments that needed a rollback or an unplanned fix, or failed their verification.", labels, nil),
		lead: prometheus.NewDesc("flightdeck_change_lead_time_seconds",
			"Time from a change's source commit to its deployment being verified (else committed), with buckets on the DORA 2024 bands.", labels, nil),
		recovery: prometheus.NewDesc("flightdeck_failed_deployment_recovery_seconds",
			"Time from a failed deployment to the next good one, with buckets on the DORA 2024 bands.", labels, nil),
	}
	if o.reg != nil {
		if err := o.reg.Register(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.deploys, c.failures, c.lead, c.recovery} {
		ch <- d
	}
}

type seriesKey struct{ app, env string }

type series struct {
	planned, unplanned, failures int
	lead, recovery               []float64
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	rep, err := c.r.Report(ctx, Query{})
	if err != nil {
		for _, d := range []*prometheus.Desc{c.deploys, c.failures, c.lead, c.recovery} {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
		return
	}
	m := map[seriesKey]*series{}
	for _, st := range rep.Targets {
		k := seriesKey{label(c.apps, st.App), label(c.envs, st.Environment)}
		s := m[k]
		if s == nil {
			s = &series{}
			m[k] = s
		}
		for _, d := range st.Deployments {
			if d.Unplanned {
				s.unplanned++
			} else {
				s.planned++
			}
			if d.LeadTime > 0 {
				s.lead = append(s.lead, d.LeadTime.Seconds())
			}
			if d.Failed {
				s.failures++
				if d.Recovered() {
					s.recovery = append(s.recovery, d.Recovery.Seconds())
				}
			}
		}
	}
	for k, s := range m {
		ch <- prometheus.MustNewConstMetric(c.deploys, prometheus.CounterValue, float64(s.planned), k.app, k.env, gitops.ChangePlanned)
		ch <- prometheus.MustNewConstMetric(c.deploys, prometheus.CounterValue, float64(s.unplanned), k.app, k.env, gitops.ChangeUnplanned)
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.failures), k.app, k.env)
		ch <- constHistogram(c.lead, s.lead, LeadTimeBuckets(), k)
		ch <- constHistogram(c.recovery, s.recovery, RecoveryBuckets(), k)
	}
}

func label(known []string, v string) string {
	if slices.Contains(known, v) {
		return v
	}
	return OtherLabel
}

// constHistogram returns a histogram of values with cumulative counts
// for the upper bounds.
func constHistogram(d *prometheus.Desc, values, bounds []float64, k seriesKey) prometheus.Metric {
	buckets := make(map[float64]uint64, len(bounds))
	for _, b := range bounds {
		buckets[b] = 0
	}
	sum := 0.0
	for _, v := range values {
		sum += v
		for _, b := range bounds {
			if v <= b {
				buckets[b]++
			}
		}
	}
	return prometheus.MustNewConstHistogram(d, uint64(len(values)), sum, buckets, k.app, k.env)
}
