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

// streamChunk is one line of a gRPC-gateway server stream: a result or
// an error.
type streamChunk struct {
	Result json.RawMessage `json:"result"`
	Error  *streamErrMsg   `json:"error"`
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

// stream reads one connection of the application stream and returns how
// many events it delivered and why it ended.
func (c *Client) stream(ctx context.Context, op, name string, deliver func(WatchEvent) error) (int, error) {
	n := 0
	err := c.readStream(ctx, request{op: op, method: "GET", path: "/api/v1/stream/applications", query: url.Values{"name": {name}}},
		func(result json.RawMessage) error {
			var ev WatchEvent
			if err := json.Unmarshal(result, &ev); err != nil {
				return opError(op, ErrBadResponse, err.Error(), err)
			}
			if ev.Application.Metadata.Name != name {
				return nil // a server that ignores the name filter
			}
			if err := deliver(ev); err != nil {
				return err
			}
			n++
			return nil
		})
	return n, err
}

// errStreamDone, returned by a readStream callback, ends the read with
// nil.
var errStreamDone = errors.New("stream done")

// readStream opens r as a gRPC-gateway server stream (one {"result": …}
// or {"error": …} JSON object per line) and hands each result to fn, in
// order. It returns nil once fn returns errStreamDone, fn's other errors
// as they are, the [*APIError] of an error chunk or of a refused request,
// [ErrResponseTooLarge] for a line past the size limit, [ErrBadResponse]
// for a line that is not a chunk, ctx's error once ctx ends, and an error
// wrapping io.EOF when the server closes the stream.
func (c *Client) readStream(ctx context.Context, r request, fn func(result json.RawMessage) error) error {
	op := r.op
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := readLine(br, c.o.maxBytes)
		if errors.Is(err, errLineTooLong) {
			return opError(op, ErrResponseTooLarge, fmt.Sprintf("stream event of more than %d bytes; raise the limit with WithMaxResponseBytes", c.o.maxBytes))
		}
		if len(bytes.TrimSpace(line)) > 0 {
			var chunk streamChunk
			if jerr := json.Unmarshal(line, &chunk); jerr != nil {
				if !looksLikeJSON(line) {
					return opError(op, ErrBadResponse, "stream line is not JSON: "+c.scrub(summarize(resp.Header.Get("Content-Type"), line)))
				}
				return opError(op, ErrBadResponse, jerr.Error(), jerr)
			}
			switch {
			case chunk.Error != nil:
				e := chunk.Error
				code := e.GrpcCode
				if code == 0 {
					code = e.Code
				}
				return c.apiError(op, e.HTTPCode, code, e.Message)
			case len(chunk.Result) > 0 && string(chunk.Result) != "null":
				if ferr := fn(chunk.Result); ferr != nil {
					if errors.Is(ferr, errStreamDone) {
						return nil
					}
					return ferr
				}
			default:
				return opError(op, ErrBadResponse, "chunk has neither result nor error")
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return opError(op, nil, ctx.Err().Error(), ctx.Err())
			}
			if errors.Is(err, io.EOF) {
				return opError(op, nil, "stream closed by server", io.EOF)
			}
			return opError(op, nil, "stream: "+transportError(err).Error(), err)
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
