package promote

import (
	"context"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
)

// Scan is the policy of a full security scan before an environment: the
// release's image is scanned by digest (the reference "image@digest",
// and, when Image is set, the image itself, whose Go binaries govulncheck
// scans) and its findings judged by the scan policy with its expiring
// allowlist at the decision's time. A result is reused for MaxAge and
// re-run after; a scan that fails blocks.
//
// A Scan is safe for concurrent use; create it with [NewScan].
type Scan struct {
	scanner scan.Scanner
	image   func(ctx context.Context, ref string) (v1.Image, error)
	maxAge  time.Duration

	mu      sync.Mutex
	policy  scan.Policy
	results map[string]scanResult
}

type scanResult struct {
	at       time.Time
	findings []scan.Finding
}

// NewScan returns the scan policy: s scans, p judges, and a result older
// than maxAge (zero means one hour) is re-run. image, when not nil,
// loads the image by reference (remote.Image, say) so that scanners that
// read an image's layers get it.
func NewScan(s scan.Scanner, p scan.Policy, maxAge time.Duration, image func(ctx context.Context, ref string) (v1.Image, error)) *Scan {
	if maxAge <= 0 {
		maxAge = time.Hour
	}
	return &Scan{scanner: s, policy: p, maxAge: maxAge, image: image, results: map[string]scanResult{}}
}

// SetPolicy replaces the scan policy (a new allowlist entry, say); the
// next evaluation judges the kept findings by it without scanning again.
func (s *Scan) SetPolicy(p scan.Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy = p
}

// Name returns "scan".
func (*Scan) Name() string { return "scan" }

// Validate checks the scan policy.
func (s *Scan) Validate() error { return s.policy.Validate() }

// Evaluate implements [Policy].
func (s *Scan) Evaluate(ctx context.Context, in *Input) Verdict {
	ref := in.Plan.Release.Ref()
	s.mu.Lock()
	r, ok := s.results[ref]
	pol := s.policy
	s.mu.Unlock()
	if !ok || in.Now.Sub(r.at) >= s.maxAge {
		t := scan.Target{ImageRef: ref}
		if s.image != nil {
			img, err := s.image(ctx, ref)
			if err != nil {
				return block(s, "image %s cannot be loaded to scan: %v", ref, err)
			}
			t.Image = img
		}
		f, err := s.scanner.Scan(ctx, t)
		if err != nil {
			return block(s, "scan of %s failed: %v", ref, err)
		}
		r = scanResult{at: in.Now, findings: f}
		s.mu.Lock()
		s.results[ref] = r
		s.mu.Unlock()
	}
	v, err := pol.Check(in.Now, r.findings)
	age := in.Now.Sub(r.at).Round(time.Second)
	if err != nil {
		return block(s, "%v (scanned %s ago)", err, age)
	}
	var allowed []string
	for _, a := range v.Allowed {
		allowed = append(allowed, a.Finding.ID+" until "+a.Entry.Expires.Format(time.DateOnly))
	}
	if len(allowed) > 0 {
		return allow(s, "no finding fails the policy (scanned %s ago; allowed: %s)", age, strings.Join(allowed, ", "))
	}
	return allow(s, "no finding fails the policy (scanned %s ago, %d findings)", age, len(r.findings))
}
