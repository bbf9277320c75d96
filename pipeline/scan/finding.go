package scan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Severity ranks a finding. The zero value is SeverityUnknown, which sorts
// below SeverityLow; see [Policy.UnknownAs] for how a policy treats it.
type Severity int

// Severities, in increasing order.
const (
	// SeverityUnknown means the source gave no severity.
	SeverityUnknown Severity = iota
	// SeverityLow covers "low" and "negligible".
	SeverityLow
	// SeverityMedium covers "medium" and "moderate".
	SeverityMedium
	// SeverityHigh is "high".
	SeverityHigh
	// SeverityCritical is "critical".
	SeverityCritical
)

var severityNames = [...]string{"unknown", "low", "medium", "high", "critical"}

// String returns the lower-case name, for example "high".
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity parses a severity name as written by scanners, case
// insensitively: "critical", "high", "medium" (or "moderate"), "low" (or
// "negligible"), and "unknown" or "" for SeverityUnknown. Other names
// return an error wrapping [ErrInvalidSeverity].
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return SeverityCritical, nil
	case "high", "important":
		return SeverityHigh, nil
	case "medium", "moderate":
		return SeverityMedium, nil
	case "low", "negligible", "minimal":
		return SeverityLow, nil
	case "unknown", "":
		return SeverityUnknown, nil
	}
	return SeverityUnknown, fmt.Errorf("%w: %q", ErrInvalidSeverity, s)
}

// MarshalText returns the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a name with [ParseSeverity].
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Kind says what a [Finding] is.
type Kind int

// Kinds of findings.
const (
	// KindVulnerability is a known vulnerability in a package (the zero
	// value).
	KindVulnerability Kind = iota
	// KindSecret is a credential committed to the source tree.
	KindSecret
)

// String returns "vulnerability" or "secret".
func (k Kind) String() string {
	if k == KindSecret {
		return "secret"
	}
	return "vulnerability"
}

// MarshalText returns the kind's name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses "vulnerability" (or "") and "secret"; other names
// are an error.
func (k *Kind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "vulnerability", "":
		*k = KindVulnerability
	case "secret":
		*k = KindSecret
	default:
		return fmt.Errorf("unknown finding kind %q", b)
	}
	return nil
}

// Finding is one vulnerability found in one package at one location, or
// one secret found in one file at one line. It is the SDK's own type;
// every [Scanner] converts its tool's output to it, so one [Policy] and
// one allowlist govern both kinds.
//
// For a secret (Kind [KindSecret]) ID is the rule that matched (gitleaks'
// rule IDs, such as "github-pat" or "aws-access-token"), Aliases holds
// its fingerprint "<file>:<rule>:<line>" (the form gitleaks uses in
// .gitleaksignore), Package is the file's slash-separated path relative
// to the scanned directory, Line its line, Match a redacted excerpt, and
// Location "<file>:<line>". The secret itself is never kept.
type Finding struct {
	// Kind is what was found; the zero value is a vulnerability.
	Kind Kind `json:",omitempty"`
	// ID is the advisory's primary identifier, for example "GO-2024-2687"
	// or "CVE-2024-24786"; for a secret, the rule's ID.
	ID string
	// Aliases are other identifiers of the same advisory (CVE, GHSA, …);
	// for a secret, its fingerprint.
	Aliases []string
	// Package is the affected module or package name; for a secret, the
	// file it is in.
	Package string
	// Line is a secret's line in Package, counted from 1.
	Line int `json:",omitempty"`
	// Match is a secret's matched text with the secret masked, for
	// example `token = "ghp_****"`.
	Match string `json:",omitempty"`
	// Installed is the version found.
	Installed string
	// Fixed is the first fixed version, or "" when no fix is known.
	Fixed string
	// Severity is the advisory's severity, SeverityUnknown when the source
	// gives none (the Go vulnerability database never does).
	Severity Severity
	// Reachable reports whether vulnerable code is reachable: for
	// govulncheck, whether a vulnerable symbol is called (source) or
	// linked in (binary). Report parsers cannot tell and set it to true so
	// that a reachable-only policy still gates on their findings.
	Reachable bool
	// Summary is a one-line description, when the source has one.
	Summary string
	// Location is where the package was found: a source directory, the
	// path of a binary inside an image, or a report's target.
	Location string
}

// Matches reports whether id is the finding's ID or one of its aliases
// (case-insensitive).
func (f Finding) Matches(id string) bool {
	if strings.EqualFold(f.ID, id) {
		return true
	}
	for _, a := range f.Aliases {
		if strings.EqualFold(a, id) {
			return true
		}
	}
	return false
}

// String returns "ID package@installed (severity)", or for a secret
// "secret ID in file:line: match (severity)".
func (f Finding) String() string {
	if f.Kind == KindSecret {
		return fmt.Sprintf("secret %s in %s:%d: %s (%s)", f.ID, f.Package, f.Line, f.Match, f.Severity)
	}
	return fmt.Sprintf("%s %s@%s (%s)", f.ID, f.Package, f.Installed, f.Severity)
}

// Sort orders findings by descending severity, then ID, package and
// location, so reports are stable.
func Sort(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity, a.Severity),
			cmp.Compare(a.ID, b.ID),
			cmp.Compare(a.Package, b.Package),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Location, b.Location),
		)
	})
}

// Target says what to scan. Each scanner scans the fields it supports
// and ignores the others; a target with none of them set fails with
// [ErrNoTarget]. The zero value is an empty target.
type Target struct {
	// Dir is a source directory (a Go module for govulncheck; any
	// directory for Trivy and Grype).
	Dir string
	// Binaries are Go executables on disk (govulncheck binary mode).
	Binaries []string
	// Image is an image whose Go binaries are extracted from its layers
	// and scanned in binary mode (govulncheck).
	Image v1.Image
	// ImageRef is an image reference for tools that pull the image
	// themselves (Trivy, Grype).
	ImageRef string
}

// Scanner finds vulnerabilities in a target.
type Scanner interface {
	// Scan returns the findings in t. An empty result with a nil error
	// means the scan ran and found nothing.
	Scan(ctx context.Context, t Target) ([]Finding, error)
}

// ScannerFunc adapts a function to [Scanner].
type ScannerFunc func(ctx context.Context, t Target) ([]Finding, error)

// Scan calls f.
func (f ScannerFunc) Scan(ctx context.Context, t Target) ([]Finding, error) { return f(ctx, t) }

// Sentinel errors; match them with errors.Is.
var (
	// ErrNotInstalled is returned (wrapped) when a scanner's external
	// program is not installed.
	ErrNotInstalled = errors.New("scanner not installed")
	// ErrNoTarget is returned (wrapped) when a target has nothing the
	// scanner can scan.
	ErrNoTarget = errors.New("nothing to scan")
	// ErrInvalidReport is returned (wrapped) when a scanner's report does
	// not parse.
	ErrInvalidReport = errors.New("invalid scan report")
	// ErrInvalidSeverity is returned (wrapped) by [ParseSeverity].
	ErrInvalidSeverity = errors.New("invalid severity")
	// ErrInvalidPolicy is returned (wrapped) by [Policy.Validate] and
	// [Policy.Check] for an unusable policy.
	ErrInvalidPolicy = errors.New("invalid scan policy")
	// ErrPolicyViolation is matched by the [*ViolationError] that
	// [Policy.Check] returns when findings fail the policy.
	ErrPolicyViolation = errors.New("scan policy violated")
)

// ScanError reports a scanner run that failed. Stderr is the tool's
// diagnostic output, trimmed.
type ScanError struct {
	// Scanner is the scanner's name, for example "govulncheck".
	Scanner string
	// Target names what was scanned (a directory, binary or image).
	Target string
	// Stderr is the tool's trimmed diagnostic output, if any.
	Stderr string
	// Err is the underlying error.
	Err error
}

// Error returns "<scanner> <target>: <err>[: <stderr>]".
func (e *ScanError) Error() string {
	msg := fmt.Sprintf("%s %s: %v", e.Scanner, e.Target, e.Err)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *ScanError) Unwrap() error { return e.Err }

// trimOutput keeps the last lines of tool output for error messages.
func trimOutput(b []byte) string {
	s := strings.TrimSpace(string(b))
	const max = 2000
	if len(s) > max {
		s = "…" + s[len(s)-max:]
	}
	return s
}
