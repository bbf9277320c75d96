// Package notify tells stakeholders what a delivery did: events, signed
// JSON webhooks, Slack-style messages, and a fan-out that never lets a
// receiver slow a deployment down.
//
// # Events
//
// An [Event] says what happened ([Kind]) to which app, in which
// environment, with which [flightdeck.Release], when, caused by whom, in
// a one-line summary with details, links, release notes and a
// [Severity]. The kinds carry Argo CD notifications' trigger names where
// Argo CD has one (on-deployed, on-health-degraded, on-sync-failed,
// on-sync-succeeded), Argo Rollouts' where it has one
// (on-rollout-step-completed, on-rollout-aborted), and flightdeck names in
// the same style for the rest (on-committed, on-rolled-back, on-approval-requested,
// on-approval-granted, on-blocked-by-policy, on-promoted), so a team that
// already subscribes to Argo CD triggers filters flightdeck's events by
// the same names. The packages that deploy, roll out, roll back and
// promote build events; this package depends on none of them.
//
// # Where events come from
//
// Each producing package has an adapter from its own observer events to
// Events, beside its Observer, so dependencies keep pointing down
// (notify imports none of them; only the root package, clock and
// client_golang):
//
//	pipeline/deploy      (*deploy.Stage).NotifyObserver(n, state, src)  on-committed, on-blocked-by-policy (a hold refused the deploy)
//	pipeline/postdeploy  postdeploy.WithNotify(n, src)                  on-deployed (Synced and Healthy), on-health-degraded, on-sync-failed
//	strategy             strategy.NotifyObserver(n, src)                on-rollout-step-completed, on-rollout-aborted, on-deployed (rollout completed)
//	rollback             rollback.NotifyObserver(n, src)                on-deployed (verified), on-health-degraded, on-rolled-back, on-sync-failed
//	promote              promote.NotifyObserver(n, src)                 on-approval-requested, on-blocked-by-policy, on-approval-granted, on-promoted
//
// [Source] is what they share: a default actor, links added to every
// event, and a logger for deliveries that failed. Every adapter names the
// app, environment and release (by digest), who and a summary, sets the
// event's ID from the commit or plan it reports, so the same event
// reported twice has one idempotency key, and never fails or panics into
// the deployment. They call the notifier on the deployment's goroutine:
// give them one [Fanout], whose Notify only queues.
//
// Every event has an idempotency key ([Event.Key]): the same for every
// delivery attempt of the event, and for every process that builds the
// same event again, so a receiver can act once.
//
// # Notifiers
//
// A [Notifier] has one method, Notify(ctx, Event) error; [NotifierFunc]
// adapts a function. This package ships three:
//
//   - [Webhook] posts the event's JSON, signed with HMAC-SHA256 over
//     "<unix time>.<body>" in the [SignatureHeader] as Stripe and GitHub
//     sign theirs ("t=1767225600,v1=5257a8…"), with the key in
//     [IdempotencyKeyHeader]. Receivers check deliveries with [Verify]:
//     constant-time comparison, a tolerance window against replays of old
//     deliveries, several v1 values while secrets rotate.
//   - [Slack] posts a Slack incoming-webhook message ([SlackPayload]):
//     what changed, who did it, the release, the release notes, links.
//   - [Fanout] hands each event to named targets, each with a [Filter]
//     (kinds, apps, environments, least severity) and a bounded queue with
//     its own worker.
//
// # Delivery
//
// Webhook and Slack retry what may pass (network errors, timeouts, 408,
// 429, 5xx) with exponential backoff and jitter ([Retry]), waiting on the
// injected clock and honouring Retry-After; any other 4xx, and any
// redirect, is final ([ErrRejected]). Every wait ends with the context.
// Each attempt is bounded by [WithTimeout]. Failures are a
// [*DeliveryError].
//
// A deployment must not wait on a chat server: give it a Fanout. Its
// Notify only queues; when a target's queue is full the oldest (or, with
// [DropNewest], the new) event is dropped and counted; a failing or
// panicking notifier is logged and counted and affects no other target.
// [Fanout.Close] drains the queues until its context ends. With
// [WithRegisterer] the fan-out counts
// flightdeck_notifications_total{target,result} with result delivered,
// failed or dropped.
//
// # Secrets
//
// The HMAC secret, a webhook URL's user info and query values, a Slack
// webhook's path and the values given to [WithHeader] never appear in an
// error or a log line: errors name the endpoint redacted
// ("https://hooks.slack.com/REDACTED"), and text quoted from a receiver's
// answer is scrubbed of them too.
//
// Package notifytest has a recording notifier with fault injection and a
// webhook receiver that verifies signatures and spots replays.
package notify
