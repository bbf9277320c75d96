// Package health decides whether a release is healthy: evaluators (HTTP
// probes, Prometheus queries, scrapes, Kubernetes object health),
// analysis runs that evaluate metrics on an interval, and statistical
// judges that compare a canary with its baseline.
package health
