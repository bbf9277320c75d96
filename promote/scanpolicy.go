package promote

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
)

// Scan is the policy of a full security scan before an environment: the
// release's image is scanned by digest (the reference "image@digest",
// and, when Image is set, the image itself, whose Go binaries govulncheck
// scans) and its findings judged by the scan policy with its expiring
// allowlist at the decision's time. A result is reused for MaxAge and
// re-run after; a scan that fails blocks. Scans run before a push
// attempt, never inside one (on Input.Tree without Input.Writer): a
// result that goes stale between the check before the push and the
// attempt blocks, saying to promote again.
//
// Results are kept with the release in the GitOps repository, at
// [ScanPath] (a [ScanRecord]), each written by its own commit (action
// "scan") when the scan runs, so another process, or this one started
// again, reuses a recent result instead of scanning again. A result is
// the image's, by digest: it serves the same digest named under another
// repository (the copy a [Rung]'s Copy makes in the next environment's
// registry) without a scan of its own. The record
// holds the findings, not the verdict: they are judged again at every
// decision, by the environment's policy and allowlist of the moment. A
// result that cannot be recorded blocks (Git is the only state); a
// record that does not parse is scanned again and replaced. Records are
// read from the scan commits that wrote them, as [gitops.Historian]
// trusts commits, through Input.History: a file put there by hand, or a
// record edited after its commit, does not count as a scan.
//
// A Scan is safe for concurrent use; create it with [NewScan].
type Scan struct {
	scanner scan.Scanner
	image   func(ctx context.Context, ref string) (v1.Image, error)
	maxAge  time.Duration

	mu      sync.Mutex
	policy  scan.Policy
	results map[string]ScanRecord
	// failed holds why the last scan of an app@digest failed, for the
	// evaluation inside the push attempt that follows.
	failed map[string]string
}

// ScanRecord is a scan's result as kept in the repository, at
// [ScanPath]: what was scanned, when (by the Promoter's clock), and
// what was found.
type ScanRecord struct {
	App    string `json:"app"`
	Digest string `json:"digest"`
	// Ref is the reference scanned, "image@digest".
	Ref       string         `json:"ref"`
	ScannedAt time.Time      `json:"scannedAt"`
	Findings  []scan.Finding `json:"findings"`
}

// ActionScan is the action of the commits that record scan results.
const ActionScan gitops.Action = "scan"

// TrailerScanned names the reference a scan commit's record is of.
const TrailerScanned = "Flightdeck-Scanned"

// ScanPath returns where the scan result of app's image digest is kept:
// .flightdeck/scans/<app>/<digest hex>.json.
func ScanPath(app, digest string) string {
	_, hex, _ := strings.Cut(digest, ":")
	return path.Join(".flightdeck", "scans", app, hex+".json")
}

// NewScan returns the scan policy: s scans, p judges, and a result older
// than maxAge (zero means one hour) is re-run. image, when not nil,
// loads the image by reference (remote.Image, say) so that scanners that
// read an image's layers get it.
func NewScan(s scan.Scanner, p scan.Policy, maxAge time.Duration, image func(ctx context.Context, ref string) (v1.Image, error)) *Scan {
	if maxAge <= 0 {
		maxAge = time.Hour
	}
	return &Scan{scanner: s, policy: p, maxAge: maxAge, image: image, results: map[string]ScanRecord{}, failed: map[string]string{}}
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

func (s *Scan) fresh(r ScanRecord, ok bool, now time.Time) bool {
	return ok && now.Sub(r.ScannedAt) < s.maxAge
}

// load reads the kept scan result of the plan's app and digest from the
// newest scan commit that wrote one, as History trusts commits (the
// schema trailer and the repository's committer): a record written or
// edited by hand is not read, so it cannot stand in for a scan. A record
// of another app or digest, or one that does not parse, is none; one of
// the digest under another repository (the image before it was copied
// into this environment's registry) is the same image, and serves.
func load(ctx context.Context, in *Input, file string) (ScanRecord, bool) {
	if in.History == nil {
		return ScanRecord{}, false
	}
	app, digest := in.Plan.App, in.Plan.Release.Digest
	entries, err := in.History.History(ctx, gitops.HistoryQuery{App: app, Actions: []gitops.Action{ActionScan}})
	if err != nil {
		return ScanRecord{}, false
	}
	for _, e := range entries {
		if ref, _ := e.Trailers.Extra.Get(TrailerScanned); !strings.HasSuffix(ref, "@"+digest) {
			continue
		}
		data, err := in.History.ReadFile(ctx, e.Commit.String(), file)
		var r ScanRecord
		if err != nil || json.Unmarshal(data, &r) != nil || r.App != app || r.Digest != digest {
			return ScanRecord{}, false
		}
		return r, true
	}
	return ScanRecord{}, false
}

func record(ctx context.Context, w gitops.Writer, file string, r ScanRecord) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tr := gitops.Trailers{Action: ActionScan, App: r.App}
	tr.Extra.Set(TrailerScanned, r.Ref)
	_, err = w.Apply(ctx, gitops.Change{
		Message:  fmt.Sprintf("scan %s %s: %d finding(s)", r.App, short(r.Digest), len(r.Findings)),
		Trailers: tr, Edits: []gitops.Edit{gitops.WriteFile{Path: file, Data: append(data, '\n')}}})
	return err
}

// run scans ref and records the result at file through in.Writer, when
// set. A failure is returned as the reason to block.
func (s *Scan) run(ctx context.Context, in *Input, ref, file string) (ScanRecord, string) {
	t := scan.Target{ImageRef: ref}
	if s.image != nil {
		img, err := s.image(ctx, ref)
		if err != nil {
			return ScanRecord{}, fmt.Sprintf("image %s cannot be loaded to scan: %v", ref, err)
		}
		t.Image = img
	}
	f, err := s.scanner.Scan(ctx, t)
	if err != nil {
		return ScanRecord{}, fmt.Sprintf("scan of %s failed: %v", ref, err)
	}
	r := ScanRecord{App: in.Plan.App, Digest: in.Plan.Release.Digest, Ref: ref, ScannedAt: in.Now, Findings: f}
	if in.Writer != nil {
		if err := record(ctx, in.Writer, file, r); err != nil {
			return ScanRecord{}, fmt.Sprintf("scan result of %s cannot be recorded at %s: %v", ref, file, err)
		}
	}
	return r, ""
}

// Evaluate implements [Policy].
func (s *Scan) Evaluate(ctx context.Context, in *Input) Verdict {
	ref := in.Plan.Release.Ref()
	file := ScanPath(in.Plan.App, in.Plan.Release.Digest)
	key := in.Plan.App + "@" + in.Plan.Release.Digest
	s.mu.Lock()
	r, ok := s.results[key]
	pol := s.policy
	s.mu.Unlock()
	if !s.fresh(r, ok, in.Now) {
		if lr, lok := load(ctx, in, file); lok {
			r, ok = lr, true
		}
	}
	if !s.fresh(r, ok, in.Now) && in.Tree != nil && in.Writer == nil {
		// Inside a push attempt: the repository is building the commit,
		// and a scan run now could not be recorded. The result read
		// moments before the attempt went stale in between.
		if ok {
			return block(s, "the scan result of %s expired during the promotion (scanned %s ago, kept for %s); promote again to scan anew",
				ref, in.Now.Sub(r.ScannedAt).Round(time.Second), s.maxAge)
		}
		s.mu.Lock()
		reason := s.failed[key]
		s.mu.Unlock()
		if reason != "" {
			return block(s, "%s", reason)
		}
		return block(s, "no scan result of %s: the scan before the push did not give one; promote again to scan", ref)
	}
	if !s.fresh(r, ok, in.Now) {
		var reason string
		if r, reason = s.run(ctx, in, ref, file); reason != "" {
			s.mu.Lock()
			s.failed[key] = reason
			s.mu.Unlock()
			return block(s, "%s", reason)
		}
	}
	s.mu.Lock()
	delete(s.failed, key)
	if cur, ok := s.results[key]; !ok || cur.ScannedAt.Before(r.ScannedAt) {
		s.results[key] = r
	}
	s.mu.Unlock()
	v, err := pol.Check(in.Now, r.Findings)
	age := in.Now.Sub(r.ScannedAt).Round(time.Second)
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
	return allow(s, "no finding fails the policy (scanned %s ago, %d findings)", age, len(r.Findings))
}
