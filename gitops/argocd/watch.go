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

	"github.com/flightdeck-dev/flightdeck/clock"
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
// 12 polls. Answers that retrying cannot fix end the watch with their
// error: unauthenticated, permission denied, the application not found,
// a redirect, and an event past the size limit ([ErrResponseTooLarge]).
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
		if err := clock.Sleep(ctx, c.o.clock, wait); err != nil {
			return opError(op, nil, err.Error(), err)
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
		return true, opError(op, nil, ctx.Err().Error(), ctx.Err())
	case permanentWatchError(err):
		return true, err
	}
	return false, nil
}

// permanentWatchError reports whether err is an answer that reconnecting
// or polling cannot change.
func permanentWatchError(err error) bool {
	if errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrPermissionDenied) || errors.Is(err, ErrResponseTooLarge) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && (ae.Code == codeNotFound || ae.StatusCode >= 300 && ae.StatusCode < 400)
}

func streamUnsupported(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == 0 &&
		(ae.StatusCode == http.StatusNotFound || ae.StatusCode == http.StatusMethodNotAllowed || ae.StatusCode == http.StatusNotImplemented)
}

// errLineTooLong ends readLine past the limit.
var errLineTooLong = errors.New("line too long")

// readLine reads up to and including the next newline, or to the end of
// the stream, failing with errLineTooLong past limit bytes without
// reading further.
func readLine(r *bufio.Reader, limit int64) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		if int64(len(line))+int64(len(frag)) > limit {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
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
		line, err := readLine(r, c.o.maxBytes)
		if errors.Is(err, errLineTooLong) {
			return n, opError(op, ErrResponseTooLarge, fmt.Sprintf("stream event of more than %d bytes; raise the limit with WithMaxResponseBytes", c.o.maxBytes))
		}
		if len(bytes.TrimSpace(line)) > 0 {
			var chunk streamChunk
			if jerr := json.Unmarshal(line, &chunk); jerr != nil {
				if !looksLikeJSON(line) {
					return n, opError(op, ErrBadResponse, "stream line is not JSON: "+c.scrub(summarize(resp.Header.Get("Content-Type"), line)))
				}
				return n, opError(op, ErrBadResponse, jerr.Error(), jerr)
			}
			switch {
			case chunk.Error != nil:
				e := chunk.Error
				code := e.GrpcCode
				if code == 0 {
					code = e.Code
				}
				return n, c.apiError(op, e.HTTPCode, code, e.Message)
			case chunk.Result != nil:
				if chunk.Result.Application.Metadata.Name != name {
					continue // a server that ignores the name filter
				}
				if derr := deliver(*chunk.Result); derr != nil {
					return n, derr
				}
				n++
			default:
				return n, opError(op, ErrBadResponse, "chunk has neither result nor error")
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return n, opError(op, nil, "stream closed by server")
			}
			return n, opError(op, nil, "stream: "+transportError(err).Error(), err)
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
		case permanentWatchError(err):
			return err
		case err != nil:
			c.log.WarnContext(ctx, "argocd poll failed", "op", op, "error", err)
		case app.Metadata.ResourceVersion == "" || app.Metadata.ResourceVersion != *lastRV:
			if derr := deliver(WatchEvent{Type: "MODIFIED", Application: *app}); derr != nil {
				return derr
			}
		}
		if err := clock.Sleep(ctx, c.o.clock, c.o.pollInterval); err != nil {
			return err
		}
	}
	return nil
}
