package argocd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/flightdeck-dev/flightdeck/health"
)

// LogQuery selects the pod logs [Client.Logs] and [Client.FollowLogs]
// read. Its zero value reads every pod of the application (their default
// container), all the lines the kubelet kept. The fields are the query
// parameters of Argo CD's ApplicationPodLogsQuery.
type LogQuery struct {
	// Namespace, Kind, Group and ResourceName select the pods of the
	// application's resource tree that match them, or that descend from a
	// resource that does (Kind "Deployment" and ResourceName "web" read
	// the pods of every ReplicaSet of web). Empty fields match anything.
	Namespace, Kind, Group, ResourceName string
	// PodName reads one pod; Argo CD then ignores Kind and ResourceName.
	PodName string
	// Container is the container to read; empty means the pod's only
	// container (Kubernetes refuses an empty name for a pod with several,
	// and Argo CD passes the refusal on as a log line).
	Container string
	// Since keeps the lines of the last Since (sinceSeconds, rounded up to
	// whole seconds); zero keeps all.
	Since time.Duration
	// SinceTime keeps the lines written at or after it; zero keeps all.
	// Argo CD's REST gateway cannot read sinceTime (grpc-gateway v1 does
	// not parse Kubernetes' Time in a query), so the client asks for
	// sinceSeconds back to SinceTime on its clock ([WithClock]) plus
	// [LogSinceSlack], and drops older lines itself.
	SinceTime time.Time
	// TailLines keeps the last TailLines lines of each pod; zero keeps all.
	TailLines int64
	// UntilTime ends the read at the first line written after it; zero
	// reads to the end.
	UntilTime time.Time
	// Filter keeps the lines that contain it, or, when it starts with "!",
	// the lines that do not contain the rest: a plain substring, not a
	// pattern, as Argo CD matches it.
	Filter string
	// Previous reads the previous, terminated instance of the container.
	Previous bool
	// Project, when set, is the project the application must belong to.
	Project string
}

// LogSinceSlack is how much further back than LogQuery.SinceTime the
// client asks the server to read (sinceSeconds counts back from the
// server's clock, which may be ahead of the client's, or move while the
// request travels); the lines of the slack are dropped by the client.
const LogSinceSlack = time.Minute

// LogEntry is one line of a pod's log.
type LogEntry struct {
	// Pod is the pod that wrote the line.
	Pod string
	// Container is LogQuery.Container: Argo CD's entries do not name the
	// container, so it is empty when the query left it to the pod's
	// default.
	Container string
	// Time is the kubelet's timestamp of the line. It is zero for a
	// message Kubernetes wrote instead of the pod's log, such as a
	// container that has not started yet.
	Time time.Time
	// Content is the line without its timestamp and line ending.
	Content string
}

// logEntryJSON is Argo CD's application.LogEntry as the REST gateway
// writes it: timeStamp is a Kubernetes Time in whole seconds (null when
// zero), timeStampStr the same time in RFC 3339 with nanoseconds.
type logEntryJSON struct {
	Content      string          `json:"content"`
	TimeStamp    json.RawMessage `json:"timeStamp"`
	Last         bool            `json:"last"`
	TimeStampStr string          `json:"timeStampStr"`
	PodName      string          `json:"podName"`
}

// time returns the entry's time: timeStampStr, else timeStamp.
func (e *logEntryJSON) time() (time.Time, error) {
	if e.TimeStampStr != "" {
		return time.Parse(time.RFC3339Nano, e.TimeStampStr)
	}
	var s *string
	if len(e.TimeStamp) == 0 {
		return time.Time{}, nil
	}
	if err := json.Unmarshal(e.TimeStamp, &s); err != nil {
		return time.Time{}, err
	}
	if s == nil || *s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, *s)
}

// Logs returns the lines of the pods of application name that q
// selects, oldest first across pods (GET
// /api/v1/applications/{name}/logs without follow), read until the
// server's last entry. An application without matching pods has no
// lines. The content read is bounded by [WithMaxResponseBytes] in all,
// as each line is.
//
// It returns an [*APIError] wrapping [ErrNotFound],
// [ErrUnauthenticated] or [ErrPermissionDenied] when refused (before or
// during the stream; Argo CD refuses more than 10 pods at once as
// InvalidArgument, "max pods to view logs are reached"), [ErrUnavailable]
// when the server could not be reached, [ErrBadResponse] for an answer
// that is not a log stream or a stream that ends before its last entry,
// [ErrResponseTooLarge] past the size limit, and ctx's error once ctx
// ends. An invalid query (negative Since or TailLines) is an error
// before anything is sent.
func (c *Client) Logs(ctx context.Context, name string, q LogQuery) ([]LogEntry, error) {
	var (
		out  []LogEntry
		size int64
	)
	op := fmt.Sprintf("logs of app %q", name)
	err := c.logs(ctx, op, name, q, false, func(e LogEntry) error {
		size += int64(len(e.Content))
		if size > c.o.maxBytes {
			return c.tooLarge(op)
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FollowLogs calls fn with each line of the pods of application name
// that q selects, the lines already written first (as q selects them),
// then each new line as it is written (follow on), until ctx ends (it
// returns ctx's error), the server ends the stream with its last entry
// (nil: every selected container has terminated), or fn returns an error
// (returned as is, except [ErrStopWatch], which ends with nil). A stream
// the server drops is not reopened: FollowLogs returns its error, and the
// caller may follow again from the last line's time with q.SinceTime.
// Other errors are those of [Client.Logs].
func (c *Client) FollowLogs(ctx context.Context, name string, q LogQuery, fn func(LogEntry) error) error {
	op := fmt.Sprintf("follow logs of app %q", name)
	if fn == nil {
		return fmt.Errorf("argocd: %s: nil callback", op)
	}
	err := c.logs(ctx, op, name, q, true, func(e LogEntry) error {
		if err := fn(e); err != nil {
			return &callbackError{err}
		}
		return nil
	})
	var cb *callbackError
	if errors.As(err, &cb) {
		if errors.Is(cb.err, ErrStopWatch) {
			return nil
		}
		return cb.err
	}
	return err
}

// logs reads the log stream of name and hands each selected line to fn.
func (c *Client) logs(ctx context.Context, op, name string, q LogQuery, follow bool, fn func(LogEntry) error) error {
	if err := checkName(op, name); err != nil {
		return err
	}
	query, err := c.logQuery(op, q, follow)
	if err != nil {
		return err
	}
	n := 0
	err = c.readStream(ctx, request{op: op, method: "GET", path: appPath(name, "/logs"), query: query}, func(result json.RawMessage) error {
		var e logEntryJSON
		if err := json.Unmarshal(result, &e); err != nil {
			return opError(op, ErrBadResponse, "log entry: "+err.Error(), err)
		}
		n++
		if e.Last {
			// The end marker, or the first line past untilTime.
			return errStreamDone
		}
		t, err := e.time()
		if err != nil {
			return opError(op, ErrBadResponse, "log entry time: "+err.Error(), err)
		}
		switch {
		case !q.SinceTime.IsZero() && !t.IsZero() && t.Before(q.SinceTime):
			return nil
		case !q.UntilTime.IsZero() && t.After(q.UntilTime):
			return errStreamDone
		}
		return fn(LogEntry{Pod: e.PodName, Container: q.Container, Time: t, Content: e.Content})
	})
	if err != nil && errors.Is(err, io.EOF) {
		if n == 0 {
			// Argo CD closes the stream without a word when no pod matches.
			return nil
		}
		return opError(op, ErrBadResponse, "log stream ended before its last entry")
	}
	return err
}

// logQuery encodes q as Argo CD's query parameters.
func (c *Client) logQuery(op string, q LogQuery, follow bool) (url.Values, error) {
	switch {
	case q.Since < 0:
		return nil, fmt.Errorf("argocd: %s: negative Since %s", op, q.Since)
	case q.TailLines < 0:
		return nil, fmt.Errorf("argocd: %s: negative TailLines %d", op, q.TailLines)
	}
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("namespace", q.Namespace)
	set("podName", q.PodName)
	set("container", q.Container)
	set("kind", q.Kind)
	set("group", q.Group)
	set("resourceName", q.ResourceName)
	set("filter", q.Filter)
	set("project", q.Project)
	since := q.Since
	if !q.SinceTime.IsZero() {
		// The later of the two bounds, with slack for the server's clock
		// being ahead of ours; never zero, which would read all.
		back := max(c.o.clock.Now().Sub(q.SinceTime), 0) + LogSinceSlack
		if since == 0 || back < since {
			since = back
		}
	}
	if since > 0 {
		v.Set("sinceSeconds", strconv.FormatInt(int64(math.Ceil(since.Seconds())), 10))
	}
	if q.TailLines > 0 {
		v.Set("tailLines", strconv.FormatInt(q.TailLines, 10))
	}
	if !q.UntilTime.IsZero() {
		v.Set("untilTime", q.UntilTime.UTC().Format(time.RFC3339Nano))
	}
	if q.Previous {
		v.Set("previous", "true")
	}
	v.Set("follow", strconv.FormatBool(follow))
	return v, nil
}

// LogReader reads the pod logs of an application; [*Client] is one, and
// so is the adapter over Argo CD's own client in contrib/argocdv2.
type LogReader interface {
	Logs(ctx context.Context, name string, q LogQuery) ([]LogEntry, error)
}

var _ LogReader = (*Client)(nil)

// LogSource returns the pod logs of application name that q selects as a
// [health.LogSource], for [health.NewErrorLogs]: each read asks r for the
// lines of its window (q.SinceTime and q.UntilTime are set per read) and
// names each line's source "pod" or "pod/container". Lines Kubernetes
// wrote instead of a pod's log (zero time: a container not started yet,
// a container or previous instance not found) are left out, so a pod
// that cannot be read adds no line, and an application none of whose
// pods can be read has no data rather than a clean log.
func LogSource(r LogReader, name string, q LogQuery) health.LogSource {
	return health.LogSourceFunc(func(ctx context.Context, since, until time.Time) ([]health.LogLine, error) {
		q := q
		q.SinceTime, q.UntilTime = since, until
		entries, err := r.Logs(ctx, name, q)
		if err != nil {
			return nil, err
		}
		lines := make([]health.LogLine, 0, len(entries))
		for _, e := range entries {
			if e.Time.IsZero() {
				continue
			}
			src := e.Pod
			if e.Container != "" {
				src += "/" + e.Container
			}
			lines = append(lines, health.LogLine{Time: e.Time, Source: src, Text: e.Content})
		}
		return lines, nil
	})
}
