package promotetest_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck/promote"
	"github.com/flightdeck-dev/flightdeck/promote/promotetest"
)

// A Store answers an Approvals policy from memory: what was put under a
// plan's hash is what the policy sees for that plan, and nothing else.
func ExampleStore() {
	clk := promotetest.FixedClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	hash := "sha256:" + strings.Repeat("ab", 32)
	store := promotetest.NewStore()
	if err := store.Put(promote.Approval{App: "shop", Environment: "prod", PlanHash: hash,
		Approver: "alice", Decision: promote.Approve, Time: clk.Now()}, nil); err != nil {
		fmt.Println(err)
		return
	}
	got, _ := store.Approvals(context.Background(), &promote.Input{Plan: &promote.Plan{App: "shop", To: "prod", Hash: hash}})
	other, _ := store.Approvals(context.Background(), &promote.Input{Plan: &promote.Plan{App: "shop", To: "prod", Hash: "sha256:" + strings.Repeat("cd", 32)}})
	fmt.Println(len(got), got[0].Path)
	fmt.Println(len(other), "for another plan")
	// Output:
	// 1 .flightdeck/approvals/shop/prod/abababababababababababababababababababababababababababababababab/alice.json
	// 0 for another plan
}

// An approver's SSH key made in process: its allowed-signers line goes
// into the verifier, and what it signs is a verified approval.
func ExampleSSHKey() {
	alice, err := promotetest.NewSSHKey("alice@example.com")
	if err != nil {
		fmt.Println(err)
		return
	}
	signers, _ := promotetest.AllowedSigners(alice)
	a := promote.Approval{App: "shop", Environment: "prod", PlanHash: "sha256:" + strings.Repeat("ab", 32),
		Approver: "alice@example.com", Decision: promote.Approve, Time: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	sig, _ := alice.Sign(a)
	data, _ := a.Marshal()
	fmt.Println(strings.Fields(alice.AllowedSigner())[:2])
	fmt.Println("verified:", promote.SSHVerifier{Signers: signers}.Verify(a, data, sig) == nil)
	// Output:
	// [alice@example.com ssh-ed25519]
	// verified: true
}
