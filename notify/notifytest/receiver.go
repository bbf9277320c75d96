package notifytest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/notify"
)

// Delivery is one request a [Receiver] took.
type Delivery struct {
	// Header and Body are the request's.
	Header http.Header
	Body   []byte
	// Key is the request's notify.IdempotencyKeyHeader.
	Key string
	// Event is the body decoded as a notify.Event when it is one (a
	// webhook delivery); the zero Event otherwise (a Slack message).
	Event notify.Event
	// VerifyErr is what notify.Verify said of the signature; nil when it
	// holds or when the receiver has no secret.
	VerifyErr error
	// Status is the HTTP status the receiver answered.
	Status int
	// Replay is true when the key had already been accepted: a duplicate
	// the receiver answered 200 without acting on it again.
	Replay bool
}

// Response is a scripted answer of a [Receiver].
type Response struct {
	// Status is the HTTP status; zero means 500.
	Status int
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Body is the answer's body.
	Body string
}

// ReceiverOption configures a [Receiver].
type ReceiverOption func(*Receiver)

// WithClock sets the clock against which signature timestamps are
// checked; use the sender's test clock. Default, and for nil: the system
// clock.
func WithClock(c clock.Clock) ReceiverOption { return func(r *Receiver) { r.clock = clock.Or(c) } }

// WithTolerance sets the signature tolerance passed to notify.Verify.
// Default: notify.DefaultTolerance.
func WithTolerance(d time.Duration) ReceiverOption { return func(r *Receiver) { r.tolerance = d } }

// Receiver is a webhook endpoint on a loopback httptest server. For each
// request it reads the body, waits while hung ([Receiver.Hang]), checks
// the signature when it has a secret (401 if it does not hold), answers
// the next scripted [Response] if any, and otherwise answers 200: once per
// idempotency key as a new delivery, then as a [Delivery.Replay].
type Receiver struct {
	// URL is the endpoint, "http://127.0.0.1:<port>".
	URL string

	srv       *httptest.Server
	secret    []byte
	clock     clock.Clock
	tolerance time.Duration

	mu         sync.Mutex
	deliveries []Delivery
	accepted   map[string]bool
	script     []Response
	hang       gate
	arrived    int
	changes    changes
}

// NewReceiver starts a receiver. With a secret it verifies every request's
// notify.SignatureHeader; with none (for Slack messages) it verifies
// nothing. Call [Receiver.Close] when done.
func NewReceiver(secret []byte, opts ...ReceiverOption) *Receiver {
	r := &Receiver{secret: append([]byte(nil), secret...), clock: clock.System(),
		accepted: map[string]bool{}}
	for _, o := range opts {
		o(r)
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	hang := r.hang.holder()
	r.arrived++
	r.changes.broadcast()
	r.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-req.Context().Done():
			return
		}
	}

	d := Delivery{Header: req.Header.Clone(), Body: body, Key: req.Header.Get(notify.IdempotencyKeyHeader)}
	var probe struct {
		Kind string `json:"kind"`
	}
	if json.Unmarshal(body, &probe) == nil && probe.Kind != "" {
		_ = json.Unmarshal(body, &d.Event)
	}
	if len(r.secret) > 0 {
		d.VerifyErr = notify.Verify(r.secret, req.Header.Get(notify.SignatureHeader), body, r.tolerance, r.clock.Now())
	}

	r.mu.Lock()
	var resp Response
	switch {
	case d.VerifyErr != nil:
		resp = Response{Status: http.StatusUnauthorized, Body: d.VerifyErr.Error()}
	case len(r.script) > 0:
		resp = r.script[0]
		r.script = r.script[1:]
		if resp.Status == 0 {
			resp.Status = http.StatusInternalServerError
		}
	default:
		resp = Response{Status: http.StatusOK, Body: "ok"}
		if r.accepted[d.Key] {
			d.Replay = true
		}
		r.accepted[d.Key] = true
	}
	d.Status = resp.Status
	r.deliveries = append(r.deliveries, d)
	r.changes.broadcast()
	r.mu.Unlock()

	if resp.RetryAfter != "" {
		w.Header().Set("Retry-After", resp.RetryAfter)
	}
	w.WriteHeader(resp.Status)
	_, _ = io.WriteString(w, resp.Body)
}

// Script queues answers for the next requests that pass verification,
// one each, in order.
func (r *Receiver) Script(responses ...Response) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.script = append(r.script, responses...)
}

// FailNext answers the next n verified requests with status.
func (r *Receiver) FailNext(n, status int) {
	rs := make([]Response, n)
	for i := range rs {
		rs[i] = Response{Status: status, Body: "injected " + strconv.Itoa(status)}
	}
	r.Script(rs...)
}

// Hang makes requests wait, from now until [Receiver.Release] or until
// the sender gives up: a receiver that never answers. A hung request is
// recorded once it is released.
func (r *Receiver) Hang() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hang.close()
}

// Release lets hung requests go on and stops hanging new ones.
func (r *Receiver) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hang.open()
}

// Deliveries returns every request recorded so far, in order.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.deliveries...)
}

// Accepted returns the deliveries the receiver acted on: verified,
// answered 200, and not replays.
func (r *Receiver) Accepted() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Delivery
	for _, d := range r.deliveries {
		if d.Status == http.StatusOK && !d.Replay {
			out = append(out, d)
		}
	}
	return out
}

// Replays returns how many deliveries repeated a key already accepted.
func (r *Receiver) Replays() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, d := range r.deliveries {
		if d.Replay {
			n++
		}
	}
	return n
}

// WaitForRequests blocks until at least n requests have arrived, hung
// ones included, or returns ctx's error. With [Receiver.Hang] it is how a
// test knows a delivery is in flight.
func (r *Receiver) WaitForRequests(ctx context.Context, n int) error {
	return r.changes.wait(ctx, &r.mu, func() bool { return r.arrived >= n })
}

// WaitForDeliveries blocks until at least n requests are recorded
// (answered), or returns ctx's error.
func (r *Receiver) WaitForDeliveries(ctx context.Context, n int) error {
	return r.changes.wait(ctx, &r.mu, func() bool { return len(r.deliveries) >= n })
}

// Close releases hung requests and shuts the server down.
func (r *Receiver) Close() {
	r.Release()
	r.srv.Close()
}
