package promote_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
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

// Windows from RFC 5545 rules: office hours on weekdays, and a freeze
// from the last Friday of every month at 16:00 until Monday 10:00. The
// last Friday of March 2026 is the 27th; Berlin's clocks go forward on
// the 29th, and the freeze still ends at 10:00 local time.
func ExampleWindows_rrule() {
	ws := promote.Windows{
		Allow: []promote.Window{{Name: "office hours", Duration: 8 * time.Hour,
			RRule: "DTSTART;TZID=Europe/Berlin:20260105T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"}},
		Deny: []promote.Window{{Name: "month-end freeze",
			RRule: "DTSTART;TZID=Europe/Berlin:20260130T160000\nRRULE:FREQ=MONTHLY;BYDAY=-1FR\nDURATION:P2DT18H"}},
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	pl := &promote.Plan{App: "shop", From: "staging", To: "prod"}
	for _, at := range []time.Time{
		time.Date(2026, 3, 20, 16, 30, 0, 0, berlin),
		time.Date(2026, 3, 27, 16, 30, 0, 0, berlin),
		time.Date(2026, 3, 28, 12, 0, 0, 0, berlin),
	} {
		v := ws.Evaluate(context.Background(), &promote.Input{Plan: pl, Now: at})
		fmt.Println(at.Format("Mon 2 Jan 15:04"), "→", v)
	}
	// Output:
	// Fri 20 Mar 16:30 → windows: allowed: allow window "office hours" is open until 2026-03-20T17:00:00+01:00
	// Fri 27 Mar 16:30 → windows: blocked: deny window "month-end freeze" is open until 2026-03-30T10:00:00+02:00
	// Sat 28 Mar 12:00 → windows: blocked: deny window "month-end freeze" is open until 2026-03-30T10:00:00+02:00
}

// A release's image copied by digest from staging's registry into
// prod's, two in-process registries; set the copier as prod's Rung.Copy
// and promotions do this before they push.
func ExampleCopyImage() {
	newRegistry := func() (host string, stop func()) {
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		return strings.TrimPrefix(srv.URL, "http://"), srv.Close
	}
	staging, stop1 := newRegistry()
	defer stop1()
	prod, stop2 := newRegistry()
	defer stop2()
	img, _ := random.Image(256, 1)
	d, _ := img.Digest()
	ref, _ := name.ParseReference(staging + "/shop:1.4.0")
	_ = remote.Write(ref, img)

	cp, err := promote.CopyImage(prod+"/team/shop", image.WithKeychain(authn.NewMultiKeychain()))
	if err != nil {
		fmt.Println(err)
		return
	}
	rel := flightdeck.Release{App: "shop", Image: staging + "/shop", Digest: d.String(), Tag: "1.4.0"}
	got, err := cp.Copy(context.Background(), rel)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("in prod's registry:", strings.TrimPrefix(got.Image, prod))
	fmt.Println("same digest:", got.Digest == rel.Digest)
	// Output:
	// in prod's registry: /team/shop
	// same digest: true
}
