// Package scan finds known vulnerabilities in source code, binaries and
// images, and decides with a [Policy] whether they fail a build.
//
// Every [Scanner] returns the SDK's own [Finding] (ID, aliases, package,
// installed and fixed versions, severity, reachability, location), so a
// policy, a gate or a report never depends on one tool's format.
//
// Implementations:
//   - [Govulncheck] runs govulncheck in process (golang.org/x/vuln/scan):
//     source mode on a module directory, where Reachable means a
//     vulnerable symbol is called; binary mode on Go executables, and on
//     the Go executables extracted from an image's flattened layers
//     ([ExtractGoBinaries]), where Reachable means a vulnerable symbol is
//     linked in. [WithDB] points it at an offline database in the v1
//     layout ("file:///…" with index/db.json, index/modules.json and
//     ID/<id>.json in OSV format).
//   - [NewTrivy] and [NewGrype] run those tools when installed
//     ([ErrNotInstalled] otherwise); [ParseTrivyJSON] and [ParseGrypeJSON]
//     read reports produced elsewhere, for example by an earlier CI job.
//
// A [Policy] fails findings at or above a severity, optionally only
// reachable ones, except those accepted by an allowlist entry; every
// entry carries a reason and an expiry date, and stops applying once
// expired. [Policy.Check] takes the time explicitly so callers pass their
// clock's reading and tests need no real clock. The Go vulnerability
// database assigns no severities: [WithSeverities] supplies them, and
// [Policy.UnknownAs] (Critical by default) decides how unrated findings
// are treated.
//
// In a pipeline, [NewStage] runs a scanner on a target taken from the
// run's state (for example [ImageTarget] over the image build step's
// result), puts the findings under [Findings] (or a key of your own), and
// with [WithPolicy] fails on a violation with a permanent, not retried,
// [*ViolationError].
//
// The sibling package scantest provides a fake [Scanner].
package scan
