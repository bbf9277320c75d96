// Package scan finds known vulnerabilities in source code, binaries and
// images, and credentials committed to a source tree, and decides with a
// [Policy] whether they fail a build.
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
// Secrets: [NewSecretScanner] is a built-in scanner of a directory for
// the common token formats (AWS access key IDs, GitHub, Slack, Google
// and Stripe keys, PEM private keys, high-entropy values assigned to
// credential-like names; see [DefaultSecretRules]), under gitleaks' rule
// IDs. [NewGitleaks] runs gitleaks (`detect --no-git --redact`) when it
// is installed, and [NewSecrets] picks gitleaks when present, else the
// built-in scanner; [NewSecretsStage] is that scan as a pipeline stage
// ([WithSecretScanner] gives it a configured scanner instead).
// A secret is a [Finding] of Kind [KindSecret]: ID is the rule, Package
// the file, Line the line, Aliases its fingerprint
// "<file>:<rule>:<line>", and Match an excerpt with the secret masked
// ([Mask]). The secret itself never reaches a finding, an error, a log
// line or a report.
//
// A [Policy] fails findings at or above a severity, optionally only
// reachable ones, except those accepted by an allowlist entry; every
// entry carries a reason and an expiry date, and stops applying once
// expired. One policy governs both kinds: a secret is allowlisted by rule
// and file (Allow{ID: "github-pat", Package: "testdata/token.txt"}) or by
// fingerprint (Allow{ID: "config/app.env:github-pat:3"}). [Policy.Check] takes the time explicitly so callers pass their
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
