package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/flightdeck-dev/flightdeck/notify"
)

// receiver is the stakeholders' end of the webhook: an HTTP server in
// process that checks every delivery's signature with notify.Verify, as
// a receiver must, and keeps what it received.
type receiver struct {
	srv    *httptest.Server
	secret []byte

	mu  sync.Mutex
	got []received
}

// received is one request the receiver got.
type received struct {
	event notify.Event
	key   string // the Idempotency-Key header
	err   error  // why it was refused; nil when the signature was valid
}

func newReceiver(secret []byte) *receiver {
	r := &receiver{secret: secret}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

// URL is where the webhook posts.
func (r *receiver) URL() string { return r.srv.URL + "/hooks/flightdeck" }

// Close stops the server.
func (r *receiver) Close() { r.srv.Close() }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	d := received{key: req.Header.Get(notify.IdempotencyKeyHeader), err: err}
	if d.err == nil {
		// Deliveries are signed with the sender's wall clock: judge them
		// by this one, not by the simulated cluster's.
		d.err = notify.Verify(r.secret, req.Header.Get(notify.SignatureHeader), body, 5*time.Minute, time.Now())
	}
	if d.err == nil {
		d.err = json.Unmarshal(body, &d.event)
	}
	r.mu.Lock()
	r.got = append(r.got, d)
	r.mu.Unlock()
	if d.err != nil {
		http.Error(w, "refused", http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// print writes one line per delivery received, in order.
func (r *receiver) print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.got {
		if d.err != nil {
			fmt.Fprintf(w, "  refused    %v\n", d.err)
			continue
		}
		e := d.event
		where := e.App
		if e.Environment != "" {
			where += "/" + e.Environment
		}
		fmt.Fprintf(w, "  valid sig  %-26s %-13s %s\n", e.Kind, where, e.Summary)
	}
}

// count returns how many deliveries had a valid signature, and how many
// were refused.
func (r *receiver) count() (valid, refused int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.got {
		if d.err != nil {
			refused++
		} else {
			valid++
		}
	}
	return valid, refused
}

// forge posts an event signed with the wrong secret, as an attacker
// who knows the URL would.
func (r *receiver) forge(e notify.Event) (int, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest(http.MethodPost, r.URL(), strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set(notify.SignatureHeader, notify.Sign([]byte("not the secret"), time.Now(), body))
	res, err := r.srv.Client().Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}
