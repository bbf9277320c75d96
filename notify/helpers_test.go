package notify_test

import (
	"time"

	"github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/notify"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testTime   = time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
)

// promoted is a fully populated event.
func promoted() notify.Event {
	return notify.Event{
		Kind:        notify.Promoted,
		App:         "checkout",
		Environment: "prod",
		Release: flightdeck.Release{
			App:        "checkout",
			Image:      "registry.example.com/shop/checkout",
			Digest:     "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Tag:        "v1.4.2",
			SourceRepo: "https://git.example.com/shop/checkout",
			Revision:   "4e1243bd22c66e76c2ba9eddc1f91394e57f9f83",
			Time:       testTime.Add(-2 * time.Hour),
		},
		Time:         testTime,
		Actor:        "alice",
		Summary:      "checkout v1.4.2 promoted from staging to prod",
		Details:      map[string]string{"from": "staging", "approvals": "2 of 2"},
		Links:        []notify.Link{{Title: "Argo CD", URL: "https://argocd.example.com/applications/checkout-prod"}},
		ReleaseNotes: "- faster cart totals\n- fix rounding of discounts",
	}
}
