package promotetest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/promote"
)

// Store is an in-memory approval store: an [promote.ApprovalSource] for
// an Approvals policy, filled with [Store.Put] instead of the GitOps
// repository. It is safe for concurrent use and records nothing it is not
// given; Put stores whatever it is given, so that tests can store
// forged or stale approvals and see the policy refuse them.
type Store struct {
	mu sync.Mutex
	m  map[string][]promote.Signed // by app/env/plan hash
}

var _ promote.ApprovalSource = (*Store)(nil)

// NewStore returns an empty Store.
func NewStore() *Store { return &Store{m: map[string][]promote.Signed{}} }

func key(app, env, hash string) string { return app + "/" + env + "/" + hash }

// Put stores an approval (marshalled as promote stores it) with its
// signature, under the plan hash it names.
func (s *Store) Put(a promote.Approval, sig []byte) error {
	data, err := a.Marshal()
	if err != nil {
		return err
	}
	s.PutRaw(a.App, a.Environment, a.PlanHash, promote.Signed{
		Path: promote.ApprovalPath(a.App, a.Environment, a.PlanHash, a.Approver), Data: data, Signature: sig})
	return nil
}

// PutRaw stores bytes as they are, under a plan.
func (s *Store) PutRaw(app, env, planHash string, sg promote.Signed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(app, env, planHash)
	s.m[k] = append(s.m[k], sg)
}

// Approvals implements [promote.ApprovalSource].
func (s *Store) Approvals(_ context.Context, in *promote.Input) ([]promote.Signed, error) {
	if in.Plan == nil {
		return nil, fmt.Errorf("promotetest: no plan")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]promote.Signed(nil), s.m[key(in.Plan.App, in.Plan.To, in.Plan.Hash)]...), nil
}

// FixedClock returns a manual fake clock stopped at t: it moves only
// when the test advances it.
func FixedClock(t time.Time) *clocktest.Clock { return clocktest.New(t) }
