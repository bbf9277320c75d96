package promote_test

import (
	"context"
	"fmt"
	"time"

	"github.com/flightdeck-dev/flightdeck/promote"
	"github.com/flightdeck-dev/flightdeck/promote/promotetest"
)

// An Approvals policy fed by the in-memory store: one approval of two,
// then a forged one that does not count, then the second.
func ExampleApprovals() {
	store := promotetest.NewStore()
	clk := promotetest.FixedClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	pol := promote.Approvals{Rules: []promote.Rule{{N: 2, Of: []string{"group:sre"}}},
		Groups: map[string][]string{"sre": {"alice", "bob", "carol"}}, Verifier: promote.TrustedCaller{}, Source: store}
	pl := &promote.Plan{App: "shop", From: "staging", To: "prod", Hash: "sha256:" + fmt.Sprintf("%064x", 1), Authors: []string{"Carol <carol>"}}
	ask := func() {
		v := pol.Evaluate(context.Background(), &promote.Input{Plan: pl, Now: clk.Now()})
		fmt.Println(v)
	}
	a := promote.Approval{App: "shop", Environment: "prod", PlanHash: pl.Hash, Approver: "alice", Decision: promote.Approve, Time: clk.Now()}
	_ = store.Put(a, nil)
	ask()
	a.Approver = "carol"
	_ = store.Put(a, nil)
	ask()
	a.Approver = "bob"
	_ = store.Put(a, nil)
	ask()
	// Output:
	// approvals: blocked: approvals 1 of 2 from group:sre (alice)
	// approvals: blocked: approvals 1 of 2 from group:sre (alice); refused: approver is an author of the change: carol wrote a commit of this change
	// approvals: allowed: approvals 2 of 2 from group:sre (alice, bob); refused: approver is an author of the change: carol wrote a commit of this change
}
