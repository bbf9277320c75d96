package gitops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	flightdeck "github.com/flightdeck-dev/flightdeck"
)

// ErrUntrusted is wrapped by [Trust.Verify] when a commit was not made by
// a trusted committer or lacks a valid signature.
var ErrUntrusted = errors.New("gitops: commit not written by flightdeck")

// HistoryQuery selects commits for [Repo.History]. The zero value lists
// every deploy, promote and rollback commit written by this Repo's
// committer, newest first.
type HistoryQuery struct {
	// App and Environment, when set, must equal the commit's trailers.
	App         string
	Environment string
	// Actions, when set, lists the actions to keep. Empty means deploy,
	// promote and rollback (not step), unless AllActions is set.
	Actions []Action
	// AllActions keeps commits of any action.
	AllActions bool
	// Image and Digest, when set, must equal the release the commit
	// records.
	Image  string
	Digest string
	// Revision is where the walk starts; empty means the branch head.
	Revision string
	// Limit caps the number of entries; zero means no cap.
	Limit int
	// Committers lists further committer identities, "Name <email>",
	// whose commits are read as flightdeck's, besides the Repo's own
	// (for example the identities of other tools that write the same
	// repository).
	Committers []string
}

// Matches reports whether e is selected by q's App, Environment,
// Actions, Image and Digest (not Revision, Limit or Committers). An entry
// without an action never matches.
func (q HistoryQuery) Matches(e Entry) bool {
	t := e.Trailers
	if t.Action == "" {
		return false
	}
	switch {
	case q.AllActions:
	case len(q.Actions) == 0:
		if t.Action != ActionDeploy && t.Action != ActionPromote && t.Action != ActionRollback {
			return false
		}
	case !slices.Contains(q.Actions, t.Action):
		return false
	}
	return (q.App == "" || q.App == t.App) && (q.Environment == "" || q.Environment == t.Environment) &&
		(q.Image == "" || q.Image == t.Image) && (q.Digest == "" || q.Digest == t.Digest)
}

// Entry is one commit listed by [Repo.History].
type Entry struct {
	Commit    plumbing.Hash
	Parent    plumbing.Hash // zero for a root commit
	Time      time.Time     // committer time
	Author    string        // "Name <email>"
	Committer string        // "Name <email>"
	Subject   string        // first line of the message
	Trailers  Trailers
}

// Release returns the release the commit put into its environment, with
// App, image, digest, tag and source (Time is the source commit's time),
// and whether the commit records one.
func (e Entry) Release() (flightdeck.Release, bool) { return e.Trailers.Release() }

// EntryOf returns the entry of a commit from its message (see
// [ParseTrailers] for the errors). It does not say whether flightdeck
// wrote it: see [Trust].
func EntryOf(c *object.Commit) (Entry, error) {
	t, err := ParseTrailers(c.Message)
	if err != nil {
		return Entry{}, fmt.Errorf("commit %s: %w", c.Hash, err)
	}
	e := Entry{
		Commit:    c.Hash,
		Time:      c.Committer.When,
		Author:    identity(c.Author),
		Committer: identity(c.Committer),
		Subject:   strings.SplitN(c.Message, "\n", 2)[0],
		Trailers:  t,
	}
	if len(c.ParentHashes) > 0 {
		e.Parent = c.ParentHashes[0]
	}
	return e, nil
}

func identity(s object.Signature) string { return s.Name + " <" + s.Email + ">" }

// Trust says which commits are flightdeck's. A commit's trailers are text
// that anyone can type, copy or cherry-pick, so [Repo.History] reads a
// commit only if, besides carrying the Flightdeck-Version trailer,
//
//   - its committer identity is one of Committers (a cherry-pick, rebase,
//     amend or squash by a person, or by a forge's merge button, records
//     that person or the forge as committer, so a copied message does not
//     pass); and
//   - when Keyring is set, it carries a valid OpenPGP signature by one of
//     its keys.
//
// Without a keyring this stops accidents and copies, not intent: anyone
// who may push can set their committer identity to flightdeck's on
// purpose. Sign commits ([WithSignKey]) where that matters: History then
// requires the Repo's key, which only the holder of the private key can
// satisfy.
type Trust struct {
	// Committers are the trusted identities, "Name <email>".
	Committers []string
	// Keyring, when not empty, must have signed the commit.
	Keyring openpgp.EntityList
}

// Verify returns nil if c is trusted, or an error wrapping
// [ErrUntrusted] that says why not.
func (t Trust) Verify(c *object.Commit) error {
	who := identity(c.Committer)
	if !slices.Contains(t.Committers, who) {
		return fmt.Errorf("%w: commit %s: committer %s is not trusted", ErrUntrusted, c.Hash, who)
	}
	if len(t.Keyring) == 0 {
		return nil
	}
	if c.PGPSignature == "" {
		return fmt.Errorf("%w: commit %s is not signed", ErrUntrusted, c.Hash)
	}
	if err := verifySignature(c, t.Keyring); err != nil {
		return fmt.Errorf("%w: commit %s: signature: %v", ErrUntrusted, c.Hash, err)
	}
	return nil
}

func verifySignature(c *object.Commit, keyring openpgp.EntityList) error {
	obj := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(obj); err != nil {
		return err
	}
	rd, err := obj.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	_, err = openpgp.CheckArmoredDetachedSignature(keyring, rd, strings.NewReader(c.PGPSignature), nil)
	return err
}

// trust returns the Trust of History for q: the Repo's committer and
// q.Committers, and the Repo's signing key when it signs.
func (r *Repo) trust(q HistoryQuery) Trust {
	self := r.o.author
	if r.o.committer != nil {
		self = *r.o.committer
	}
	t := Trust{Committers: append([]string{identity(self)}, q.Committers...)}
	if r.o.signKey != nil {
		t.Keyring = openpgp.EntityList{r.o.signKey}
	}
	return t
}

// History lists the commits reachable from the query's revision that
// flightdeck wrote and whose trailers match the query, newest first (by
// first-parent order, which is time order on the linear history
// [Repo.Apply] writes). A commit counts as flightdeck's only if its
// trailer block carries the Flightdeck-Version trailer and [Trust]
// accepts it: its committer is this Repo's committer (or one of
// q.Committers) and, when the Repo signs commits ([WithSignKey]), it
// carries a valid signature by the Repo's key. Other commits, however
// their messages read, are skipped.
//
// It fetches when the revision is the branch head. Errors wrap
// [ErrNotExist] for an unknown revision, or are a *RemoteError from the
// fetch.
func (r *Repo) History(ctx context.Context, q HistoryQuery) ([]Entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.resolve(ctx, q.Revision)
	if err != nil {
		return nil, err
	}
	trust := r.trust(q)
	var out []Entry
	n := 0
	for c != nil {
		if n++; n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return out, err
			}
		}
		e, err := EntryOf(c)
		switch {
		case errors.Is(err, ErrInvalidTrailers):
			r.o.logger.DebugContext(ctx, "skipping commit with malformed trailers", "commit", c.Hash.String(), "err", err)
		case err != nil:
		case !q.Matches(e):
		default:
			if err := trust.Verify(c); err != nil {
				r.o.logger.DebugContext(ctx, "skipping commit", "commit", c.Hash.String(), "err", err)
				break
			}
			out = append(out, e)
			if q.Limit > 0 && len(out) >= q.Limit {
				return out, nil
			}
		}
		if len(c.ParentHashes) == 0 {
			break
		}
		next, err := object.GetCommit(r.repo.Storer, c.ParentHashes[0])
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			break // shallow boundary
		}
		if err != nil {
			return out, fmt.Errorf("gitops: %s: history at %s: %w", r.redacted, c.ParentHashes[0], err)
		}
		c = next
	}
	return out, nil
}
