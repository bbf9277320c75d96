// Package promote moves releases up a ladder of environments (dev →
// staging → prod by default; any names, any number) through a GitOps
// repository, under policies, with plans bound by hash and approvals
// that cannot be forged.
//
// # The ladder
//
// A [Ladder] is the environments in order, each a [Rung] with its
// policies. A promotion copies exactly the digest and source identity of
// the release the previous environment runs into the next one's overlay
// (its `images:` entry only: the target keeps its namespace, replicas and
// configuration). With a [Rung]'s Copy ([CopyImage]) the image is first
// copied by digest into the next environment's registry, checked there,
// and the release promoted under that repository with the same digest.
// [Promoter.OnCommit] delivers a release built from a
// commit to the first environment when its policies allow a commit there
// ([Auto]: every commit to main reaches dev by itself).
//
// # Policies
//
// A [Policy] answers allowed or blocked, why, and when it may go
// ([Verdict.NotBefore]). Built in: [Auto], [Manual], [Approvals] (N of a
// set of people or groups, distinct, never an author of the change, any
// rejection blocks, each approval bound to the plan hash), [Soak] (the
// longest continuous verified stay in the previous environment, as
// Kargo's requiredSoakTime), [Windows] (allow and deny windows from cron
// schedules with a duration, or RFC 5545 RRULEs with a DTSTART and a
// duration, in a time zone; deny wins; override roles; rollbacks not
// gated unless asked; see [Window] for the RRULE subset and its
// daylight-saving semantics), [Scan] (the image scanned by digest
// through pipeline/scan, judged with its expiring allowlist, kept in the
// repository and re-run when older than a maximum age), [Holds] (holds and quarantined digests),
// [Health] (the source environment is healthy) and [Tests] (suites
// recorded as passed with the release in the previous environment,
// [TrailerTests]). Every policy fails safe: one that cannot tell blocks.
//
// # Plans, explain, promote
//
// [Promoter.Plan] computes a [Plan]: the release, what the target runs,
// the rendered target overlay before and after and their diff, the
// source commits between the two releases read with go-git (release
// notes, and the change's authors), and a hash over app, environment,
// image, digest, source commit and the rendered manifests
// ([Plan.HashInput]). [Promoter.Explain] returns every verdict and the
// earliest time the promotion may go. [Promoter.Promote] re-checks,
// inside the push attempt on the tree the commit is built on (again after
// a lost race), that the source still runs the planned release, every
// policy, and the hash after the edit: a drifted plan is refused with a
// [DriftError] naming what changed, a blocked one with a [BlockedError].
// It writes one commit per app with action promote and the
// Flightdeck-Plan-Hash and Flightdeck-From trailers; the changes of all
// plans are applied together, so over a gitops.BatchWriter (a
// *gitops.Repo) up to 1024 apps go in exactly one push; two promoters racing on one plan make one commit. Then it syncs
// and waits when the rung has a Syncer. Policies read history (soak,
// tests) before the push, because the repository cannot be read while it
// builds the commit; files (approvals, holds) and the clock are read
// inside the attempt.
//
// # What promote stores in Git
//
//	.flightdeck/approvals/<app>/<env>/<plan hash hex>/<approver>.json      an Approval (canonical JSON, what is signed)
//	.flightdeck/approvals/<app>/<env>/<plan hash hex>/<approver>.json.sig  its SSH or OpenPGP signature (absent in trusted-caller mode)
//	.flightdeck/scans/<app>/<digest hex>.json                              a ScanRecord: the findings of the image by digest, and when it was scanned
//
// each approval written by one commit with action "approve" and the plan
// hash trailer, each scan result by one commit with action "scan" and
// the Flightdeck-Scanned trailer (the reference scanned) when the scan
// runs (always before the push attempt, never inside it, so every scan
// that runs is recorded), and read back only from such a commit, so a record put there or
// edited by hand is not taken for a scan (a result is kept per app and
// digest, not per environment or registry: every environment judges the
// same findings by its own policy and allowlist, also when a Copy named
// the image in its own registry);
// and a commit per promotion that changes only the `images:` entry of
// the target overlay's kustomization (action "promote", the release's
// trailers, Flightdeck-Plan-Hash, Flightdeck-From naming the source
// environment, and Flightdeck-Reason when the request gives a reason).
// A release [Promoter.OnCommit] delivers to the first environment is an
// ordinary deploy commit (action "deploy", the release's trailers).
// Holds and quarantines (.flightdeck/holds, .flightdeck/quarantine) and
// verification markers (commits with Flightdeck-Verified) are written by
// package rollback and read here.
//
// # Approvals
//
// An [Approval] names the app, environment, plan hash, approver,
// decision and time. It is verified by a [Verifier]: [SSHVerifier]
// (signatures as `ssh-keygen -Y sign -n flightdeck-approval` makes them,
// checked against an allowed-signers file in Git's format, as
// `ssh-keygen -Y verify` does; [SignSSH] makes them), [PGPVerifier]
// (detached signatures against a keyring) or [TrustedCaller] (the
// embedding tool vouches for its authenticated user). An unsigned,
// wrongly signed, self-made, duplicate or stale approval is refused by
// [Promoter.Approve] and not counted by the policy ([ErrUnverified],
// [ErrSelfApproval], [ErrDuplicateApproval], [ErrStalePlan]).
//
// # Events, metrics, fakes
//
// [WithObserver] receives planned, blocked, approved and promoted
// events; [NotifyObserver] is one that tells stakeholders through package
// notify (approval requested, blocked by policy, approval granted,
// promoted, with the release notes); [WithRegisterer] registers
// flightdeck_promote_* metrics.
// Package promotetest has an in-memory approval store and a fixed clock.
package promote
