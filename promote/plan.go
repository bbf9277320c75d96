package promote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Plan is what a promotion of one app from one environment to the next
// would change. Its Hash binds approvals to exactly what ships.
type Plan struct {
	// App is the application; From and To the environments.
	App      string
	From, To string
	// Release is the release that goes to To: the digest and source
	// identity From runs (with the image repository of To's registry
	// when the rung says so).
	Release flightdeck.Release
	// Current is the release To runs now; its Digest is empty when To
	// pins none yet.
	Current flightdeck.Release
	// ImageName is the name of the `images:` entry that pins the app's
	// image in both overlays.
	ImageName string
	// Base is the repository commit the plan was computed on.
	Base string
	// Before and After are the rendered manifests of To's overlay, now
	// and after the promotion, and Diff their unified diff.
	Before, After []byte
	Diff          string
	// Commits are the source commits between Current's revision and
	// Release's, newest first: the release notes.
	Commits []SourceCommit
	// Authors are the authors of the change (of Commits, or of the
	// release's revision), "Name <email>"; none of them may approve it.
	Authors []string
	// Hash is "sha256:<hex>" over [Plan.HashInput]'s canonical JSON.
	Hash string
	// Unchanged reports that To already runs the release.
	Unchanged bool
}

// HashInput is what a plan's hash covers: app, environment, image and
// digest, source commit, and the SHA-256 of the rendered manifests of the
// target after the promotion.
type HashInput struct {
	App         string `json:"app"`
	Environment string `json:"environment"`
	Image       string `json:"image"`
	Digest      string `json:"digest"`
	Source      string `json:"sourceRevision"`
	Manifests   string `json:"manifests"`
}

// HashInput returns the fields the plan's hash covers.
func (p *Plan) HashInput() HashInput {
	m := sha256.Sum256(p.After)
	return HashInput{App: p.App, Environment: p.To, Image: p.Release.Image, Digest: p.Release.Digest,
		Source: p.Release.Revision, Manifests: "sha256:" + hex.EncodeToString(m[:])}
}

func (h HashInput) hash() string {
	b, _ := json.Marshal(h) // fixed field order: canonical
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// drift lists how h differs from the plan's input, field by field.
func (h HashInput) drift(now HashInput) []string {
	var out []string
	add := func(what, a, b string) {
		if a != b {
			out = append(out, fmt.Sprintf("%s changed from %s to %s", what, orNone(a), orNone(b)))
		}
	}
	add("app", h.App, now.App)
	add("environment", h.Environment, now.Environment)
	add("image", h.Image, now.Image)
	add("digest", h.Digest, now.Digest)
	add("source revision", h.Source, now.Source)
	add("rendered manifests of the target", h.Manifests, now.Manifests)
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// IsAuthor reports whether who (a name, an e-mail address or "Name
// <email>") is one of the plan's authors.
func (p *Plan) IsAuthor(who string) bool {
	for _, a := range p.Authors {
		name, email := splitIdentity(a)
		if strings.EqualFold(who, a) || strings.EqualFold(who, email) || (name != "" && who == name) {
			return true
		}
	}
	return false
}

func splitIdentity(s string) (name, email string) {
	i, j := strings.LastIndexByte(s, '<'), strings.LastIndexByte(s, '>')
	if i < 0 || j < i {
		return s, ""
	}
	return strings.TrimSpace(s[:i]), s[i+1 : j]
}

// Text renders the plan for a person: what goes where, the release notes
// and the diff.
func (p *Plan) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "promote %s from %s to %s\n", p.App, p.From, p.To)
	fmt.Fprintf(&b, "  release: %s", p.Release.Ref())
	if p.Release.Tag != "" {
		fmt.Fprintf(&b, " (%s)", p.Release.Tag)
	}
	if p.Release.Revision != "" {
		fmt.Fprintf(&b, " from %s", abbrev(p.Release.Revision))
	}
	b.WriteByte('\n')
	if p.Current.Digest != "" {
		fmt.Fprintf(&b, "  replaces: %s\n", p.Current.Ref())
	}
	fmt.Fprintf(&b, "  plan: %s\n", p.Hash)
	if len(p.Commits) > 0 {
		b.WriteString("  release notes:\n")
		for _, c := range p.Commits {
			fmt.Fprintf(&b, "    %s %s (%s)\n", abbrev(c.Hash), c.Subject, c.Author)
		}
	}
	if p.Diff != "" {
		b.WriteString(p.Diff)
		if !strings.HasSuffix(p.Diff, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func abbrev(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// SourceCommit is one commit of the source repository.
type SourceCommit struct {
	Hash    string
	Author  string // "Name <email>"
	Time    time.Time
	Subject string
}

// ReleaseNotes lists the source commits of a change: those reachable
// from to and not from from (from empty: to alone), newest first.
type ReleaseNotes interface {
	Commits(ctx context.Context, repo, from, to string) ([]SourceCommit, error)
}

// GitNotes reads release notes with go-git: from a local repository
// (a path or file:// URL, opened in place) or by cloning any other URL
// into memory.
//
// The commits listed are exactly those of `git log from..to`: reachable
// from to and not from from, across merges (a merged branch's commits
// are listed), newest first. Every one is listed, because the plan's
// authors are read from them and an approver must never be an author of
// what they approve: a range of more than Limit commits (zero: 10,000)
// is refused with [ErrTooManyCommits] rather than cut short.
type GitNotes struct {
	Auth  transport.AuthMethod
	Limit int
}

// ErrTooManyCommits is returned (wrapped) by [GitNotes.Commits] for a
// range longer than its Limit.
var ErrTooManyCommits = errors.New("too many commits between the releases")

// Commits implements [ReleaseNotes].
func (g GitNotes) Commits(ctx context.Context, repo, from, to string) ([]SourceCommit, error) {
	where := "source repository " + gitops.RedactURL(repo)
	r, err := g.open(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, redactErr(err, repo))
	}
	limit := g.Limit
	if limit <= 0 {
		limit = 10000
	}
	h, err := r.ResolveRevision(plumbing.Revision(to))
	if err != nil {
		return nil, fmt.Errorf("%s: revision %s: %w", where, to, err)
	}
	if from == "" {
		c, err := r.CommitObject(*h)
		if err != nil {
			return nil, fmt.Errorf("%s: revision %s: %w", where, to, err)
		}
		return []SourceCommit{sourceCommit(c)}, nil
	}
	fh, err := r.ResolveRevision(plumbing.Revision(from))
	if err != nil {
		return nil, fmt.Errorf("%s: the current release's revision %s: %w", where, from, err)
	}
	cs, err := rangeCommits(ctx, r, *fh, *h, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %s..%s: %w", where, shortRev(from), shortRev(to), err)
	}
	out := make([]SourceCommit, len(cs))
	for i, c := range cs {
		out[i] = sourceCommit(c)
	}
	return out, nil
}

func sourceCommit(c *object.Commit) SourceCommit {
	return SourceCommit{Hash: c.Hash.String(), Author: c.Author.Name + " <" + c.Author.Email + ">",
		Time: c.Author.When, Subject: strings.SplitN(strings.TrimSpace(c.Message), "\n", 2)[0]}
}

// rangeCommits returns the commits reachable from to and not from from,
// newest (by committer time) first, as git's revision walk does: both
// sides are walked together in committer-time order, marks of commits
// reachable from from spread to their parents, and the walk ends when
// only such commits are left to visit.
func rangeCommits(ctx context.Context, r *git.Repository, from, to plumbing.Hash, limit int) ([]*object.Commit, error) {
	const uninteresting = 1
	marks := map[plumbing.Hash]int{}
	var queue []*object.Commit // kept sorted, newest last
	interesting := 0           // queued commits without the mark
	push := func(c *object.Commit, mark int) {
		if old, seen := marks[c.Hash]; seen {
			if mark == uninteresting && old != uninteresting {
				marks[c.Hash] = uninteresting
				for _, q := range queue {
					if q.Hash == c.Hash {
						interesting--
					}
				}
			}
			return
		}
		marks[c.Hash] = mark
		if mark != uninteresting {
			interesting++
		}
		i := sort.Search(len(queue), func(i int) bool { return !queue[i].Committer.When.Before(c.Committer.When) })
		queue = slices.Insert(queue, i, c)
	}
	for i, h := range []plumbing.Hash{from, to} { // from first: to == from lists nothing
		c, err := r.CommitObject(h)
		if err != nil {
			return nil, err
		}
		mark := 0
		if i == 0 {
			mark = uninteresting
		}
		push(c, mark)
	}
	var out []*object.Commit
	for interesting > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		mark := marks[c.Hash]
		if mark != uninteresting {
			interesting--
			out = append(out, c)
			if len(out) > limit {
				return nil, fmt.Errorf("%w: more than %d", ErrTooManyCommits, limit)
			}
		}
		for _, ph := range c.ParentHashes {
			p, err := r.CommitObject(ph)
			if err != nil {
				return nil, fmt.Errorf("commit %s: parent %s: %w", c.Hash, ph, err)
			}
			push(p, mark)
		}
	}
	// A commit listed before a later (clock-skewed) path marked it is
	// not in the range after all.
	return slices.DeleteFunc(out, func(c *object.Commit) bool { return marks[c.Hash] == uninteresting }), nil
}

func (g GitNotes) open(ctx context.Context, repo string) (*git.Repository, error) {
	local := strings.TrimPrefix(repo, "file://")
	if st, err := os.Stat(local); err == nil && st.IsDir() {
		return git.PlainOpenWithOptions(local, &git.PlainOpenOptions{DetectDotGit: true})
	}
	return git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{URL: repo, Auth: g.Auth, NoCheckout: true})
}

// shortRev shortens a commit hash for messages.
func shortRev(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// redactedError is err with a URL's credentials taken out of its text;
// errors.Is and As still see err.
type redactedError struct {
	err  error
	text string
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }

// redactErr returns err with every occurrence of rawURL in its text
// replaced by its redacted form.
func redactErr(err error, rawURL string) error {
	red := gitops.RedactURL(rawURL)
	if red == rawURL || !strings.Contains(err.Error(), rawURL) {
		return err
	}
	return &redactedError{err: err, text: strings.ReplaceAll(err.Error(), rawURL, red)}
}
