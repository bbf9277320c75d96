package argocd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// pollsPerStreamRetry is how many polls Watch makes in polling mode before
// it tries the stream again.
const pollsPerStreamRetry = 12

type streamChunk struct {
	Result *WatchEvent   `json:"result"`
	Error  *streamErrMsg `json:"error"`
}

// streamErrMsg is the error chunk of a gRPC-gateway stream: v1 sends
// grpc_code/http_code, v2 sends code.
type streamErrMsg struct {
	GrpcCode int    `json:"grpc_code"`
	HTTPCode int    `json:"http_code"`
	Code     int    `json:"code"`
	Message  string `json:"message"`
}

type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// Watch calls fn with every event of application name from the stream
// GET /api/v1/stream/applications?name={name}, in order, until ctx ends
// (it then returns ctx's error) or fn returns an error (returned as is,
// except [ErrStopWatch], which ends the watch with nil).
//
// When the stream drops, Watch reconnects with back-off; events missed in
// between are not replayed, but the first event after a reconnect carries
// the application's full current state. When the stream cannot be opened
// (the path is not routed, or it failed more than the retry count in a
// row without delivering anything) Watch falls back to polling
// [Client.Get] every poll interval, calling fn with a MODIFIED event
// whenever the resourceVersion changes, and tries the stream again every
// 12 polls. Refusals that retrying cannot fix (unauthenticated,
// permission denied) end the watch with their [*APIError].
func (c *Client) Watch(ctx context.Context, name string, fn func(WatchEvent) error) error {
	op := fmt.Sprintf("watch app %q", name)
	if err := checkName(op, name); err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("argocd: %s: nil callback", op)
	}
	var (
		failures int
		lastRV   string
		wait     = c.o.backoff
	)
	deliver := func(ev WatchEvent) error {
		lastRV = ev.Application.Metadata.ResourceVersion
		if err := fn(ev); err != nil {
			return &callbackError{err}
		}
		return nil
	}
	for {
		delivered, err := c.stream(ctx, op, name, deliver)
		if delivered > 0 {
			failures, wait = 0, c.o.backoff
		}
		if done, rerr := c.watchEnd(ctx, op, err); done {
			return rerr
		}
		failures++
		if streamUnsupported(err) || failures > c.o.retries {
			c.log.WarnContext(ctx, "argocd stream unavailable, polling", "op", op, "error", err)
			err = c.poll(ctx, op, name, &lastRV, deliver)
			if done, rerr := c.watchEnd(ctx, op, err); done {
				return rerr
			}
			failures, wait = 0, c.o.backoff
			continue
		}
		c.log.WarnContext(ctx, "argocd stream dropped, reconnecting", "op", op, "attempt", failures, "wait", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("argocd: %s: %w", op, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, c.o.maxBackoff)
	}
}

// watchEnd decides whether err ends the watch, and with what.
func (c *Client) watchEnd(ctx context.Context, op string, err error) (bool, error) {
	var cb *callbackError
	switch {
	case errors.As(err, &cb):
		if errors.Is(cb.err, ErrStopWatch) {
			return true, nil
		}
		return true, cb.err
	case ctx.Err() != nil:
		return true, fmt.Errorf("argocd: %s: %w", op, ctx.Err())
	case errors.Is(err, ErrUnauthenticated), errors.Is(err, ErrPermissionDenied):
		return true, err
	}
	return false, nil
}

func streamUnsupported(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == 0 &&
		(ae.StatusCode == http.StatusNotFound || ae.StatusCode == http.StatusMethodNotAllowed || ae.StatusCode == http.StatusNotImplemented)
}

// stream reads one connection of the stream and returns how many events
// it delivered and why it ended.
func (c *Client) stream(ctx context.Context, op, name string, deliver func(WatchEvent) error) (int, error) {
	q := url.Values{"name": {name}}
	resp, err := c.send(ctx, request{op: op, method: "GET", path: "/api/v1/stream/applications", query: q})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	n := 0
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var chunk streamChunk
			if jerr := json.Unmarshal(line, &chunk); jerr != nil {
				return n, fmt.Errorf("argocd: %s: %w: %v", op, ErrBadResponse, jerr)
			}
			switch {
			case chunk.Error != nil:
				e := chunk.Error
				code := e.GrpcCode
				if code == 0 {
					code = e.Code
				}
				ae := &APIError{Op: op, StatusCode: e.HTTPCode, Code: code, Message: e.Message}
				ae.Err = classify(ae.StatusCode, ae.Code, ae.Message)
				return n, ae
			case chunk.Result != nil:
				if chunk.Result.Application.Metadata.Name != name {
					continue // a server that ignores the name filter
				}
				if derr := deliver(*chunk.Result); derr != nil {
					return n, derr
				}
				n++
			default:
				return n, fmt.Errorf("argocd: %s: %w: chunk has neither result nor error", op, ErrBadResponse)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return n, fmt.Errorf("argocd: %s: stream closed by server", op)
			}
			return n, fmt.Errorf("argocd: %s: stream: %w", op, transportError(err))
		}
	}
}

// poll gets the application every poll interval and delivers it when its
// resourceVersion changed. It returns after pollsPerStreamRetry polls so
// the caller tries the stream again.
func (c *Client) poll(ctx context.Context, op, name string, lastRV *string, deliver func(WatchEvent) error) error {
	for i := 0; i < pollsPerStreamRetry; i++ {
		app, err := c.Get(ctx, name, RefreshNone)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, ErrUnauthenticated), errors.Is(err, ErrPermissionDenied):
			return err
		case err != nil:
			c.log.WarnContext(ctx, "argocd poll failed", "op", op, "error", err)
		case app.Metadata.ResourceVersion == "" || app.Metadata.ResourceVersion != *lastRV:
			if derr := deliver(WatchEvent{Type: "MODIFIED", Application: *app}); derr != nil {
				return derr
			}
		}
		t := time.NewTimer(c.o.pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
