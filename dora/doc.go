// Package dora computes the five DORA software delivery metrics of each
// app in each environment from the GitOps repository's history, rates
// each with its DORA 2024 performance level, and exposes them as
// Prometheus metrics and as reports for terminals (text), machines
// (JSON) and people (one self-contained HTML page with SVG charts).
//
// Git is flightdeck's system of record: every deploy, promotion and
// rollback is a commit whose trailers say what it was, so the figures
// need no other data source. dora reads only the commits gitops trusts
// ([gitops.Repo.History]: flightdeck's committer, and its signature when
// commits are signed), so a copied or hand-typed trailer does not count.
//
// # What is counted
//
// A deployment is a deploy, promote or rollback commit of an app in an
// environment (see [IsDeployment]), or a progressive rollout run by
// package strategy: its step commits (action step, with a plan hash) of one plan
// and release are one deployment, from its first step, delivered when a
// step commit records the phase Completed; its abort (action abort) is
// an unplanned deployment of its own that fails the rollout and
// recovers from it. Over a period (a [Query]):
//
//   - Deployment frequency: the number of deployments, and per day.
//   - Change lead time: for each deploy, promote or rollout that brings a
//     change new to the environment, the time from its release's source
//     commit (Flightdeck-Source-Time) to the deployment being good: the
//     first verification marker that says "verified" (Synced/Healthy and
//     verified), else the completion of a rollout, else the deploy
//     commit's time (a rollout that did not complete has none). The median ignores
//     values <= 0, as Four Keys does ("ignore automated pushes").
//   - Change fail rate: the share of deployments that failed. A
//     deployment failed if a rollback reverted it (Flightdeck-Reverts,
//     or the newest planned deployment before the rollback), if an
//     unplanned fix followed it (Flightdeck-Change: unplanned), if it is
//     a rollout that was aborted, or if a verification marker of it says
//     "failed".
//   - Failed deployment recovery time: for each failed deployment, the
//     time from its commit to the next deployment of the app in the
//     environment that did not fail being good (verified, else
//     committed). Failed deployments not yet recovered are counted
//     apart ([Stats.Unrecovered]).
//   - Deployment rework rate: the share of deployments that were
//     unplanned (rollbacks, rollout aborts, and deploys marked
//     unplanned).
//
// Medians are computed as SQL's PERCENTILE_CONT(x, 0.5), which Four Keys
// uses ([Median]). The bands and their source are documented at
// [FrequencyElitePerDay].
//
// A verification marker is any trusted commit, of any action but
// deploy, promote and rollback, that carries a Flightdeck-Verified
// trailer and names the app and environment (see [Verdict]), as package
// rollback writes one after each verification; it is about the deploy
// its Flightdeck-Deploy trailer names ([TrailerDeploy]), else the newest
// deployment before it with the marker's digest (or, without one, the
// newest). Its commit time is when the deploy was known good: after
// Argo CD reported it Synced and Healthy and the post-deploy analysis
// passed. Commits at or after the query's Until are
// not read, so a report for a past period says what was known then.
//
// # Reading
//
// A [Reader] reads a [Source] (a *gitops.Repo, a gitopstest.Fake) and
// keeps what it read, indexed by commit: the first read walks the whole
// history, later reads only what is new (see [Reader] for how), so a
// scrape or a dashboard refresh of a repository with tens of thousands
// of commits costs milliseconds. [Compute] computes a report from a
// history listed by other means.
//
// # Exposing
//
// [Collector] is a prometheus.Collector of the figures under the names
// flightdeck_deployments_total, flightdeck_change_lead_time_seconds,
// flightdeck_change_failures_total and
// flightdeck_failed_deployment_recovery_seconds, with app and
// environment labels bounded to the values it is configured with.
// [Report.WriteText], [Report.WriteJSON] and [Report.WriteHTML] write the
// reports. Package doratest writes histories for tests.
package dora
