package gitops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// HistoryQuery selects commits for [Repo.History]. The zero value lists
// every commit that has a Flightdeck-Action trailer, newest first.
type HistoryQuery struct {
	// App and Environment, when set, must equal the commit's trailers.
	App         string
	Environment string
	// Actions, when set, lists the actions to keep. Empty means deploy,
	// promote and rollback (not step).
	Actions []Action
	// Revision is where the walk starts; empty means the branch head.
	Revision string
	// Limit caps the number of entries; zero means no cap.
	Limit int
}

// Entry is one commit listed by [Repo.History].
type Entry struct {
	Commit   plumbing.Hash
	Parent   plumbing.Hash // zero for a root commit
	Time     time.Time     // committer time
	Author   string        // "Name <email>"
	Subject  string        // first line of the message
	Trailers Trailers
}

// History lists the commits reachable from the query's revision whose
// trailers match it, newest first (by first-parent order, which is
// time order on the linear history [Repo.Apply] writes). It fetches when
// the revision is the branch head. Errors wrap [ErrNotExist] for an
// unknown revision, or are a *RemoteError from the fetch.
func (r *Repo) History(ctx context.Context, q HistoryQuery) ([]Entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.resolve(ctx, q.Revision)
	if err != nil {
		return nil, err
	}
	actions := q.Actions
	if len(actions) == 0 {
		actions = []Action{ActionDeploy, ActionPromote, ActionRollback}
	}
	var out []Entry
	n := 0
	for c != nil {
		if n++; n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return out, err
			}
		}
		t := ParseTrailers(c.Message)
		if t.Action != "" && slices.Contains(actions, t.Action) &&
			(q.App == "" || q.App == t.App) && (q.Environment == "" || q.Environment == t.Environment) {
			e := Entry{
				Commit:   c.Hash,
				Time:     c.Committer.When,
				Author:   c.Author.Name + " <" + c.Author.Email + ">",
				Subject:  strings.SplitN(c.Message, "\n", 2)[0],
				Trailers: t,
			}
			if len(c.ParentHashes) > 0 {
				e.Parent = c.ParentHashes[0]
			}
			out = append(out, e)
			if q.Limit > 0 && len(out) >= q.Limit {
				break
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
