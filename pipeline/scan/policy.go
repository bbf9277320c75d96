package scan

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Policy decides which findings fail a build. The zero value is the
// strictest policy: every finding fails, reachable or not.
type Policy struct {
	// FailAt is the lowest severity that fails. Zero (SeverityUnknown)
	// means every finding fails.
	FailAt Severity
	// UnknownAs is the severity assumed for findings whose severity is
	// unknown (the Go vulnerability database assigns none). Zero means
	// SeverityCritical, so unknown findings fail unless explicitly
	// downgraded.
	UnknownAs Severity
	// OnlyReachable ignores findings whose vulnerable code is not
	// reachable (see [Finding.Reachable]).
	OnlyReachable bool
	// Allow lists accepted findings. An entry stops applying at its
	// expiry.
	Allow []Allow
}

// Allow accepts a finding until an expiry date. For a secret, ID is the
// rule (with Package, the file: "this rule in this file") or the
// finding's fingerprint "<file>:<rule>:<line>" (that one finding).
type Allow struct {
	// ID is the advisory ID or any alias (for example a CVE); for
	// secrets the rule ID or a fingerprint. Required.
	ID string
	// Package, when set, restricts the entry to findings in that package
	// (for secrets, that file).
	Package string
	// Reason says why the finding is accepted. Required.
	Reason string
	// Expires is when the entry stops applying. Required.
	Expires time.Time
}

// Active reports whether the entry applies at now (now is before
// Expires).
func (a Allow) Active(now time.Time) bool { return now.Before(a.Expires) }

func (a Allow) matches(f Finding) bool {
	return f.Matches(a.ID) && (a.Package == "" || a.Package == f.Package)
}

// Validate checks that every allowlist entry has an ID, a reason and an
// expiry date, and that the severities are known. Errors wrap
// [ErrInvalidPolicy] and name the entry.
func (p Policy) Validate() error {
	var errs []error
	if p.FailAt < SeverityUnknown || p.FailAt > SeverityCritical {
		errs = append(errs, fmt.Errorf("%w: FailAt %s", ErrInvalidPolicy, p.FailAt))
	}
	if p.UnknownAs < SeverityUnknown || p.UnknownAs > SeverityCritical {
		errs = append(errs, fmt.Errorf("%w: UnknownAs %s", ErrInvalidPolicy, p.UnknownAs))
	}
	for i, a := range p.Allow {
		switch {
		case strings.TrimSpace(a.ID) == "":
			errs = append(errs, fmt.Errorf("%w: allow entry %d has no ID", ErrInvalidPolicy, i))
		case strings.TrimSpace(a.Reason) == "":
			errs = append(errs, fmt.Errorf("%w: allow entry %d (%s) has no reason", ErrInvalidPolicy, i, a.ID))
		case a.Expires.IsZero():
			errs = append(errs, fmt.Errorf("%w: allow entry %d (%s) has no expiry date", ErrInvalidPolicy, i, a.ID))
		}
	}
	return errors.Join(errs...)
}

// Allowed is a finding accepted by an allowlist entry.
type Allowed struct {
	// Finding is the accepted finding.
	Finding Finding
	// Entry is the allowlist entry that accepted it.
	Entry Allow
}

// Verdict is the outcome of [Policy.Check].
type Verdict struct {
	// Failed are the findings that fail the policy.
	Failed []Finding
	// Allowed are findings that would fail but are accepted by an active
	// allowlist entry.
	Allowed []Allowed
	// Ignored are findings below FailAt, or unreachable under
	// OnlyReachable.
	Ignored []Finding
	// Expired are allowlist entries that matched a failing finding but
	// had expired.
	Expired []Allow
}

// Passed reports whether no finding failed.
func (v Verdict) Passed() bool { return len(v.Failed) == 0 }

// ViolationError is returned by [Policy.Check] when findings fail the
// policy. It matches [ErrPolicyViolation] with errors.Is.
type ViolationError struct {
	// Failed are the failing findings, most severe first.
	Failed []Finding
	// Expired are allowlist entries that would have accepted a failing
	// finding but had expired.
	Expired []Allow
}

// Error lists the failing findings.
func (e *ViolationError) Error() string {
	parts := make([]string, 0, len(e.Failed))
	for _, f := range e.Failed {
		s := f.String()
		if f.Kind == KindSecret {
			parts = append(parts, s)
			continue
		}
		if f.Fixed != "" {
			s += " fixed in " + f.Fixed
		}
		if f.Location != "" {
			s += " in " + f.Location
		}
		parts = append(parts, s)
	}
	msg := fmt.Sprintf("%v: %d finding(s): %s", ErrPolicyViolation, len(e.Failed), strings.Join(parts, "; "))
	for _, a := range e.Expired {
		msg += fmt.Sprintf(" (allowlist entry for %s expired %s)", a.ID, a.Expires.UTC().Format(time.DateOnly))
	}
	return msg
}

// Is matches [ErrPolicyViolation].
func (e *ViolationError) Is(target error) bool { return target == ErrPolicyViolation }

// Check applies the policy to findings at time now (pass a clock's
// reading; allowlist entries whose expiry is not after now no longer
// apply). It returns the verdict and, when a finding fails, a
// [*ViolationError]; an invalid policy returns an error wrapping
// [ErrInvalidPolicy] and an empty verdict.
func (p Policy) Check(now time.Time, findings []Finding) (Verdict, error) {
	if err := p.Validate(); err != nil {
		return Verdict{}, err
	}
	unknownAs := p.UnknownAs
	if unknownAs == SeverityUnknown {
		unknownAs = SeverityCritical
	}
	var v Verdict
	expired := map[int]bool{}
	for _, f := range findings {
		sev := f.Severity
		if sev == SeverityUnknown {
			sev = unknownAs
		}
		if sev < p.FailAt || (p.OnlyReachable && !f.Reachable) {
			v.Ignored = append(v.Ignored, f)
			continue
		}
		allowed := false
		for i, a := range p.Allow {
			if !a.matches(f) {
				continue
			}
			if a.Active(now) {
				v.Allowed = append(v.Allowed, Allowed{Finding: f, Entry: a})
				allowed = true
				break
			}
			expired[i] = true
		}
		if !allowed {
			v.Failed = append(v.Failed, f)
		}
	}
	for i, a := range p.Allow {
		if expired[i] {
			v.Expired = append(v.Expired, a)
		}
	}
	Sort(v.Failed)
	Sort(v.Ignored)
	if len(v.Failed) > 0 {
		return v, &ViolationError{Failed: v.Failed, Expired: v.Expired}
	}
	return v, nil
}
