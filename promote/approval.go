package promote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Errors of approvals.
var (
	// ErrInvalidApproval means an approval is malformed: no approver, an
	// unknown decision, fields that do not parse.
	ErrInvalidApproval = errors.New("invalid approval")
	// ErrUnverified means an approval's signature is missing, does not
	// verify, or was made by a key not allowed to sign as the approver.
	ErrUnverified = errors.New("approval not verified")
	// ErrSelfApproval means the approver is an author of the change.
	ErrSelfApproval = errors.New("approver is an author of the change")
	// ErrDuplicateApproval means the approver already decided on the
	// plan.
	ErrDuplicateApproval = errors.New("duplicate approval")
	// ErrStalePlan means an approval names a plan hash other than the
	// plan's: the plan changed since it was approved.
	ErrStalePlan = errors.New("approval is for another plan")
	// ErrInvalidSigners means an allowed-signers file does not parse.
	ErrInvalidSigners = errors.New("invalid allowed signers")
)

// Decision is an approver's answer.
type Decision string

// Decisions.
const (
	Approve Decision = "approve"
	Reject  Decision = "reject"
)

// Approval is one person's decision on one promotion plan. Its JSON form
// ([Approval.Marshal]) is what the approver signs and what is stored in
// the repository.
type Approval struct {
	App         string    `json:"app"`
	Environment string    `json:"environment"`
	PlanHash    string    `json:"planHash"`
	Approver    string    `json:"approver"`
	Decision    Decision  `json:"decision"`
	Time        time.Time `json:"time"`
	Comment     string    `json:"comment,omitempty"`
}

var approverName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$`)

// Validate checks the approval's fields. Errors wrap [ErrInvalidApproval].
func (a Approval) Validate() error {
	switch {
	case !approverName.MatchString(a.Approver):
		return fmt.Errorf("%w: approver %q: want letters, digits and . _ @ + -", ErrInvalidApproval, a.Approver)
	case a.Decision != Approve && a.Decision != Reject:
		return fmt.Errorf("%w: approval by %s: decision %q (want approve or reject)", ErrInvalidApproval, a.Approver, a.Decision)
	case !strings.HasPrefix(a.PlanHash, "sha256:") || len(a.PlanHash) != len("sha256:")+64:
		return fmt.Errorf("%w: approval by %s: plan hash %q", ErrInvalidApproval, a.Approver, a.PlanHash)
	case a.App == "" || a.Environment == "":
		return fmt.Errorf("%w: approval by %s names no app or environment", ErrInvalidApproval, a.Approver)
	case a.Time.IsZero():
		return fmt.Errorf("%w: approval by %s has no time", ErrInvalidApproval, a.Approver)
	}
	return nil
}

// Marshal returns the approval's canonical JSON: the bytes to sign.
func (a Approval) Marshal() ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	a.Time = a.Time.UTC()
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ApprovalDir is where approvals of a plan are stored in the GitOps
// repository: ".flightdeck/approvals/<app>/<env>/<plan hash hex>".
func ApprovalDir(app, env, planHash string) string {
	return path.Join(".flightdeck/approvals", app, env, strings.TrimPrefix(planHash, "sha256:"))
}

// ApprovalPath is the file of one approver's decision:
// ApprovalDir/<approver>.json; its signature is beside it, with ".sig"
// appended.
func ApprovalPath(app, env, planHash, approver string) string {
	return path.Join(ApprovalDir(app, env, planHash), approver+".json")
}

// Signed is an approval as stored: its bytes and their signature.
type Signed struct {
	// Path is where it was read from, for messages.
	Path      string
	Data      []byte
	Signature []byte
}

// Verifier checks that an approval was made by its approver: data are the
// approval's stored bytes, sig their signature. Errors wrap
// [ErrUnverified].
type Verifier interface {
	Verify(a Approval, data, sig []byte) error
}

// PGPVerifier verifies approvals with an armored detached OpenPGP
// signature by a key of Keyring that has an identity whose e-mail
// address, or whole "Name <email>", is the approver.
type PGPVerifier struct {
	Keyring openpgp.EntityList
}

var _ Verifier = PGPVerifier{}

// Verify implements [Verifier].
func (v PGPVerifier) Verify(a Approval, data, sig []byte) error {
	if len(sig) == 0 {
		return fmt.Errorf("%w: approval by %s is not signed", ErrUnverified, a.Approver)
	}
	e, err := openpgp.CheckArmoredDetachedSignature(v.Keyring, bytes.NewReader(data), bytes.NewReader(sig), nil)
	if err != nil {
		return fmt.Errorf("%w: approval by %s: OpenPGP signature: %v", ErrUnverified, a.Approver, err)
	}
	for _, id := range e.Identities {
		if id.UserId != nil && (strings.EqualFold(id.UserId.Email, a.Approver) || id.Name == a.Approver) {
			return nil
		}
	}
	return fmt.Errorf("%w: approval by %s: signed by key %X, which has no identity %s", ErrUnverified, a.Approver, e.PrimaryKey.Fingerprint, a.Approver)
}

// TrustedCaller is the verifier of the explicit trusted-caller mode: the
// embedding tool has authenticated its user itself and vouches for every
// approval it stores. It accepts approvals without a signature. Use it
// only where every writer of the repository's approvals is that tool.
type TrustedCaller struct{}

// Verify implements [Verifier]: it accepts every approval.
func (TrustedCaller) Verify(Approval, []byte, []byte) error { return nil }

// ApprovalSource lists the stored approvals of a promotion.
type ApprovalSource interface {
	Approvals(ctx context.Context, in *Input) ([]Signed, error)
}

// GitApprovals reads approvals from the repository tree the decision is
// made on: every "<approver>.json" under [ApprovalDir] of the plan, with
// its ".sig".
type GitApprovals struct{}

// Approvals implements [ApprovalSource].
func (GitApprovals) Approvals(_ context.Context, in *Input) ([]Signed, error) {
	if in.Tree == nil {
		return nil, errors.New("no repository tree to read approvals from")
	}
	dir := ApprovalDir(in.Plan.App, in.Plan.To, in.Plan.Hash)
	names, err := in.Tree.ReadDir(dir)
	if errors.Is(err, gitops.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Signed
	for _, n := range names {
		if !strings.HasSuffix(n, ".json") {
			continue
		}
		p := path.Join(dir, n)
		data, err := in.Tree.ReadFile(p)
		if err != nil {
			return nil, err
		}
		sig, err := in.Tree.ReadFile(p + ".sig")
		if err != nil && !errors.Is(err, gitops.ErrNotExist) {
			return nil, err
		}
		out = append(out, Signed{Path: p, Data: data, Signature: sig})
	}
	return out, nil
}

// Rule asks for at least N distinct approvers among Of: names, or
// "group:<name>" for the members of a group of [Approvals.Groups].
type Rule struct {
	N  int
	Of []string
}

// Approvals is the policy of N-of-M approvals: every rule must be met by
// verified approvals of this very plan (its hash), from distinct people
// who are not authors of the change; any verified rejection blocks. An
// approval that is unsigned, wrongly signed, by an author, given twice
// or for another plan is refused and said so in the verdict.
type Approvals struct {
	Rules    []Rule
	Groups   map[string][]string
	Verifier Verifier
	// Source lists the approvals; nil means [GitApprovals].
	Source ApprovalSource
}

// Name returns "approvals".
func (Approvals) Name() string { return "approvals" }

func (ap Approvals) members(r Rule) []string {
	var out []string
	for _, o := range r.Of {
		if g, ok := strings.CutPrefix(o, "group:"); ok {
			out = append(out, ap.Groups[g]...)
		} else {
			out = append(out, o)
		}
	}
	return out
}

// Check verifies one stored approval against the plan: it parses, names
// the plan's app, environment and hash, is verified, and its approver is
// not an author. Errors wrap [ErrInvalidApproval], [ErrStalePlan],
// [ErrUnverified] or [ErrSelfApproval].
func (ap Approvals) Check(p *Plan, s Signed) (Approval, error) {
	var a Approval
	if err := json.Unmarshal(s.Data, &a); err != nil {
		return a, fmt.Errorf("%w: %s: %v", ErrInvalidApproval, s.Path, err)
	}
	if err := a.Validate(); err != nil {
		return a, err
	}
	if a.PlanHash != p.Hash || a.App != p.App || a.Environment != p.To {
		return a, fmt.Errorf("%w: approval by %s is for %s in %s, plan %s; this plan is %s", ErrStalePlan, a.Approver, a.App, a.Environment, a.PlanHash, p.Hash)
	}
	if s.Path != "" && path.Base(s.Path) != a.Approver+".json" {
		return a, fmt.Errorf("%w: %s holds an approval by %s", ErrInvalidApproval, s.Path, a.Approver)
	}
	if ap.Verifier == nil {
		return a, fmt.Errorf("%w: approval by %s: no verifier is configured", ErrUnverified, a.Approver)
	}
	if err := ap.Verifier.Verify(a, s.Data, s.Signature); err != nil {
		return a, err
	}
	if p.IsAuthor(a.Approver) {
		return a, fmt.Errorf("%w: %s wrote a commit of this change", ErrSelfApproval, a.Approver)
	}
	return a, nil
}

// Evaluate implements [Policy].
func (ap Approvals) Evaluate(ctx context.Context, in *Input) Verdict {
	src := ap.Source
	if src == nil {
		src = GitApprovals{}
	}
	stored, err := src.Approvals(ctx, in)
	if err != nil {
		return block(ap, "approvals cannot be read: %v", err)
	}
	approved := map[string]bool{}
	var rejected, refused []string
	seen := map[string]bool{}
	for _, s := range stored {
		a, err := ap.Check(in.Plan, s)
		if err == nil && seen[a.Approver] {
			err = fmt.Errorf("%w: %s decided twice", ErrDuplicateApproval, a.Approver)
		}
		if err != nil {
			refused = append(refused, err.Error())
			continue
		}
		seen[a.Approver] = true
		if a.Decision == Reject {
			r := a.Approver
			if a.Comment != "" {
				r += " (" + a.Comment + ")"
			}
			rejected = append(rejected, r)
			continue
		}
		approved[a.Approver] = true
	}
	var notes []string
	if len(refused) > 0 {
		notes = append(notes, "refused: "+strings.Join(refused, "; "))
	}
	if len(rejected) > 0 {
		return block(ap, "rejected by %s%s", strings.Join(rejected, ", "), suffix(notes))
	}
	ok := true
	var parts []string
	for _, r := range ap.Rules {
		m := ap.members(r)
		var got []string
		for _, who := range m {
			if approved[who] && !slices.Contains(got, who) {
				got = append(got, who)
			}
		}
		sort.Strings(got)
		desc := fmt.Sprintf("approvals %d of %d from %s", len(got), r.N, strings.Join(r.Of, ", "))
		if len(got) > 0 {
			desc += " (" + strings.Join(got, ", ") + ")"
		}
		parts = append(parts, desc)
		if len(got) < r.N {
			ok = false
		}
	}
	reason := strings.Join(parts, "; ") + suffix(notes)
	if ok {
		return allow(ap, "%s", reason)
	}
	return block(ap, "%s", reason)
}

func suffix(notes []string) string {
	if len(notes) == 0 {
		return ""
	}
	return "; " + strings.Join(notes, "; ")
}
