// Package rollback verifies deploys after they land and rolls
// environments back: automatically when a verification fails or a new
// release performs worse than the previous one, and by hand. A rollback
// restores the environment's overlay exactly as Git had it at a known
// good deploy, as one commit, and holds the environment so that the next
// automated deploy does not undo it. Everything is read from and written
// to the GitOps repository; a [Controller] keeps no state, and several of
// them coordinate through the remote's compare-and-swap push.
//
// # Verification and last-known-good
//
// [Controller.Verify] watches a deploy once it is in Git: it waits for
// the GitOps controller (Argo CD, through a gitops.Syncer) to report it
// Synced and Healthy, runs a post-deploy analysis (any health evaluators,
// on the Runner's schedules, for the analysis's Duration), and records
// the verdict: Verified, Failed or Inconclusive (never Verified without
// a successful analysis). The last Verified deploy of an app in an
// environment is its last-known-good ([Controller.LastKnownGood]): the
// previous commit is never taken for good merely for being earlier.
//
// # Triggers
//
//   - A failed verification rolls back to the last-known-good (the
//     default [Policy]; an inconclusive one only records).
//   - [Controller.CheckDegradation] compares the new release with the
//     previous one over matching windows, the Window before the new
//     release took the traffic and the Window after it at the same Step,
//     signal by signal (p95 latency, error rate, CPU per request, or any
//     [Signal]) with the Mann-Whitney judge of package health, and rolls
//     back when a signal is High.
//   - [Controller.Rollback] with [TriggerManual] rolls back to the
//     last-known-good, or to any earlier deploy named by commit, with a
//     reason.
//
// A trigger acts only on the deploy it judged (a newer deploy supersedes
// it) and only when no rollout or promotion is in flight for the app and
// environment ([Controller.InFlight]: a lock file
// .flightdeck/locks/<app>/<env>.yaml, or a newest rollout commit whose
// Flightdeck-Rollout-Phase is Progressing or Paused, or, without one, a
// strategy step commit whose Flightdeck-Step "n/m" has n < m); a manual
// rollback may Force.
// Each records its evidence, the analysis record (queries, thresholds,
// values and their times, or both windows with the judge's ratio, shift,
// interval and p-value), in the commit's body.
//
// # Restore, not replay
//
// The rollback commit restores the overlay directory
// (apps/<app>/overlays/<env> unless the Target says otherwise) exactly
// as it was at the restored deploy's commit, configuration and strategy
// files included, through gitops.RestoreRelease: the overlay's tree hash
// in the rollback commit is the restored deploy's. A shared base edited
// since is left alone and reported ([Outcome.Shared]). The commit's
// decision is made on one head and is refused if the overlay changed
// before the push (gitops.ErrStale), so two processes rolling back the
// same deploy make exactly one commit and the other reports
// [AlreadyRolledBack].
//
// # Holds and quarantine
//
// The same commit places a hold (gitops.Hold: who, when, why, the
// release rolled back from, the commits reverted and restored) and
// quarantines the digest rolled back from. Package gitops refuses every
// deploy, promotion and strategy step into a held environment, and every
// deploy of a quarantined digest, with an error naming the hold, in
// every writer and every push attempt; [Controller.Lift] lifts the hold
// (the next deploy goes through) and [Controller.Clear] clears a digest.
// [Controller.Hold] holds an environment by hand.
//
// # Fast recovery
//
// With a Syncer ([WithSyncer]) a rollback then syncs exactly its commit
// and waits for it to be Synced and Healthy. With auto-sync on, Argo CD
// refuses a sync to any revision but its target, so the application is
// refreshed and synced to its target revision, and the wait still
// requires the rollback commit. Argo CD's own rollback API is used only
// when a request asks for it ([Request.ArgoRollback]), a client is
// configured ([WithArgoRollback]) and the application's auto-sync is off
// (Argo CD refuses it otherwise); the rollback is in Git all the same.
//
// # What rollback writes to Git
//
//	commit "verify <app> in <env>: <verdict> (<deploy>)"       verification marker
//	  Flightdeck-Action: verify, the deploy's release trailers,
//	  Flightdeck-Verified: verified|failed|inconclusive,
//	  Flightdeck-Deploy: <deploy commit>; the evidence in the body
//	  writes .flightdeck/verifications/<app>/<env>.yaml (the latest record)
//
//	commit "rollback <app> in <env> to <restored> (<trigger>)"   the rollback
//	  Flightdeck-Action: rollback, the restored release's trailers,
//	  Flightdeck-Reverts: <deploy undone>, Flightdeck-Restores: <deploy restored>,
//	  Flightdeck-Reason, Flightdeck-Change: unplanned, Flightdeck-Trigger;
//	  what, why and the evidence in the body
//	  restores apps/<app>/overlays/<env>/ (tree identical to the restored deploy's)
//	  writes .flightdeck/holds/<app>/<env>.yaml (gitops.Hold)
//	  adds to .flightdeck/quarantine/<app>/<env>.yaml (gitops.Quarantine)
//
//	commit "hold ...", "lift the hold ...", "clear <digest> ..."
//	  Flightdeck-Action: hold, Flightdeck-Hold: placed|lifted|quarantine-cleared,
//	  Flightdeck-Reason; writes or removes the hold or quarantine file
//
// gitops.Repo.History reads all of them back (ActionVerify, ActionHold
// and gitops.ActionRollback); rollbacks count as deployments in DORA
// figures, verification and hold commits do not.
//
// # Events and metrics
//
// An [Observer] ([WithObserver]) gets every verdict, trigger, decision,
// result and hold change as an [Event]; [NotifyObserver] tells
// stakeholders through package notify (verified, degraded, rolled back
// with the hold and quarantine, recovery failed). With [WithRegisterer] the
// Controller exports flightdeck_rollback_triggers_total{trigger},
// flightdeck_rollback_decisions_total{trigger,decision},
// flightdeck_rollback_verifications_total{verdict} and the histogram
// flightdeck_rollback_duration_seconds{trigger,stage} (stage commit: the
// request to the pushed commit; recovered: to Synced and Healthy).
//
// # Testing
//
// Package rollbacktest has an [Observer] that records, scripted signal
// sources, and a recorder that turns a sim.Cluster's metrics into
// per-step p95 latency, error rate and CPU per request, the signals of a
// degradation check.
package rollback
