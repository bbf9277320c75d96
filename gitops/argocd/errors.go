package argocd

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Sentinel errors. Refusals by the server come as an [*APIError] that
// wraps one of them (when one applies) and keeps the server's message.
var (
	// ErrNotFound: the application (or API path) does not exist (gRPC
	// code 5, HTTP 404). It matches [gitops.ErrAppNotFound], so
	// [gitops.WaitFor] stops at once.
	ErrNotFound error = &sentinel{"argocd: not found", gitops.ErrAppNotFound}
	// ErrUnauthenticated: the token is missing, invalid, expired or
	// revoked (code 16, HTTP 401). It matches [gitops.ErrAccessDenied].
	ErrUnauthenticated error = &sentinel{"argocd: unauthenticated", gitops.ErrAccessDenied}
	// ErrPermissionDenied: the token's account may not do this (code 7,
	// HTTP 403). Argo CD also answers so for an application the account
	// may not see, whether or not it exists. It matches
	// [gitops.ErrAccessDenied].
	ErrPermissionDenied error = &sentinel{"argocd: permission denied", gitops.ErrAccessDenied}
	// ErrSyncWindow: a sync window of the project blocks syncs now (code
	// 7 with "blocked by sync window").
	ErrSyncWindow = errors.New("argocd: blocked by sync window")
	// ErrOperationInProgress: another operation is already running on the
	// application (code 9, "another operation is already in progress").
	ErrOperationInProgress = errors.New("argocd: another operation is already in progress")
	// ErrAutoSyncRevision: a sync to a revision other than the target
	// revision was asked while auto-sync is on (code 9, "auto-sync
	// currently set to").
	ErrAutoSyncRevision = errors.New("argocd: revision differs from the target revision while auto-sync is on")
	// ErrUnavailable: the server could not be reached (connection refused
	// or timed out, name not resolved) or answered 502, 503 or 504, on
	// every attempt.
	ErrUnavailable = errors.New("argocd: server unavailable")
	// ErrBadResponse: the answer was not the API's: a redirect (never
	// followed), or a body that is not the expected JSON, such as a
	// proxy's or a login page's HTML.
	ErrBadResponse = errors.New("argocd: malformed response")
	// ErrResponseTooLarge: a body or a stream line was larger than the
	// limit of [WithMaxResponseBytes]; the client stopped reading it.
	ErrResponseTooLarge = errors.New("argocd: response too large")
)

// sentinel is a sentinel error that also matches a gitops sentinel.
type sentinel struct {
	msg string
	is  error
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.is }

// APIError is a refusal by the Argo CD API server, decoded from the
// gRPC-gateway error body {"error", "code", "message"} (Argo CD v2) or
// {"code", "message"} (v3), or an answer that was not the API's (a
// redirect, a proxy's page).
type APIError struct {
	// Op says what was attempted, naming the application, such as
	// `sync app "shop"`.
	Op string
	// StatusCode is the HTTP status; Code the gRPC code (0 if absent).
	StatusCode int
	Code       int
	// Message is the server's message with the client's token replaced
	// by "xxxxx"; an HTML page is summarised by its title.
	Message string
	// Err is the matching sentinel, or nil if none applies.
	Err error
}

// Error returns "argocd: <op>: <message> (HTTP <status>, code <code>)".
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("argocd: %s: %s (HTTP %d, code %d)", e.Op, msg, e.StatusCode, e.Code)
}

// Unwrap returns the sentinel, if any.
func (e *APIError) Unwrap() error { return e.Err }

// gRPC codes used by the mapping.
const (
	codeNotFound           = 5
	codePermissionDenied   = 7
	codeFailedPrecondition = 9
	codeUnauthenticated    = 16
)

// classify picks the sentinel for a refusal.
func classify(status, code int, msg string) error {
	lower := strings.ToLower(msg)
	switch {
	case code == 0 && status >= 300 && status < 400:
		return ErrBadResponse
	case code == codeNotFound || code == 0 && status == http.StatusNotFound:
		return ErrNotFound
	case code == codeUnauthenticated || code == 0 && status == http.StatusUnauthorized:
		return ErrUnauthenticated
	case (code == codePermissionDenied || code == 0 && status == http.StatusForbidden) && strings.Contains(lower, "sync window"):
		return ErrSyncWindow
	case code == codePermissionDenied || code == 0 && status == http.StatusForbidden:
		return ErrPermissionDenied
	case strings.Contains(lower, "another operation is already in progress"):
		return ErrOperationInProgress
	case strings.Contains(lower, "auto-sync currently set to"):
		return ErrAutoSyncRevision
	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		return ErrUnavailable
	}
	return nil
}

// callError is the error of an API call that is not a refusal:
// "argocd: <op>: <kind>: <detail>", wrapping kind (a sentinel, or nil)
// and the causes.
type callError struct {
	op     string
	kind   error
	detail string
	causes []error
}

func (e *callError) Error() string {
	var b strings.Builder
	b.WriteString("argocd: ")
	b.WriteString(e.op)
	if e.kind != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.kind.Error(), "argocd: "))
	}
	if e.detail != "" {
		b.WriteString(": ")
		b.WriteString(e.detail)
	}
	return b.String()
}

func (e *callError) Unwrap() []error {
	if e.kind == nil {
		return e.causes
	}
	return append([]error{e.kind}, e.causes...)
}

// opError returns the error of op: kind (nil for none), a detail and the
// errors it wraps.
func opError(op string, kind error, detail string, causes ...error) error {
	return &callError{op: op, kind: kind, detail: detail, causes: causes}
}

// detailOf returns err's text without the "argocd: <op>: " it starts
// with, so an error can quote another of the same call without
// repeating its prefix.
func detailOf(op string, err error) string {
	return strings.TrimPrefix(err.Error(), "argocd: "+op+": ")
}

// scrub replaces the token in text a server sent back.
func (c *Client) scrub(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "xxxxx")
}

// apiError builds the [*APIError] of a refusal, with the token scrubbed
// from the message.
func (c *Client) apiError(op string, status, code int, msg string) *APIError {
	e := &APIError{Op: op, StatusCode: status, Code: code, Message: c.scrub(msg)}
	e.Err = classify(status, code, e.Message)
	return e
}

var (
	titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	h1RE    = regexp.MustCompile(`(?is)<h1[^>]*>(.*?)</h1>`)
	tagRE   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// maxSummary is the longest text kept from a body that is not the API's.
const maxSummary = 200

// summarize describes in one short line a body that is not the API's
// JSON: an HTML page by its title (or first heading), anything else by
// its first line.
func summarize(contentType string, data []byte) string {
	text := strings.TrimSpace(string(data))
	if text == "" {
		return "empty body"
	}
	isHTML := strings.Contains(strings.ToLower(contentType), "html") || strings.HasPrefix(text, "<")
	if isHTML {
		for _, re := range []*regexp.Regexp{titleRE, h1RE} {
			if m := re.FindStringSubmatch(text); m != nil {
				if t := oneLine(tagRE.ReplaceAllString(m[1], "")); t != "" {
					return fmt.Sprintf("HTML page %q", t)
				}
			}
		}
		return "HTML page"
	}
	first, _, _ := strings.Cut(text, "\n")
	return oneLine(first)
}

// oneLine collapses whitespace and shortens s to maxSummary runes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxSummary {
		s = string(r[:maxSummary]) + "…"
	}
	return s
}

// redirectTarget names where a redirect pointed, without credentials,
// query or fragment (which may carry secrets).
func redirectTarget(req *http.Request, location string) string {
	if location == "" {
		return "no location"
	}
	u, err := url.Parse(location)
	if err != nil {
		return "an unparsable location"
	}
	if req != nil {
		u = req.URL.ResolveReference(u)
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment = nil, "", "", ""
	return u.String()
}
