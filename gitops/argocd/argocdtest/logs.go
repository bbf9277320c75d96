package argocdtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// MaxPodLogsToRender is how many pods one logs request may read, Argo CD's
// default of server.maxPodLogsToRender.
const MaxPodLogsToRender = 10

// logsQuery is ApplicationPodLogsQuery as the REST gateway decodes it.
type logsQuery struct {
	namespace, podName, container, kind, group, resourceName string
	filter                                                   *string
	sinceSeconds, tailLines                                  int64
	follow, previous                                         bool
	untilTime                                                time.Time
}

// parseLogsQuery decodes the query as grpc-gateway v1 does: unknown
// parameters are ignored, a number or bool that does not parse is
// InvalidArgument, and sinceTime, a Kubernetes Time, cannot be given in
// a query at all.
func parseLogsQuery(v url.Values) (logsQuery, *grpcError) {
	q := logsQuery{
		namespace: v.Get("namespace"), podName: v.Get("podName"), container: v.Get("container"),
		kind: v.Get("kind"), group: v.Get("group"), resourceName: v.Get("resourceName"),
	}
	if _, ok := v["filter"]; ok {
		f := v.Get("filter")
		q.filter = &f
	}
	if v.Get("sinceTime") != "" {
		return q, errorf(CodeInvalidArgument, "field type *v1.Time is not supported in query parameters")
	}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"sinceSeconds", &q.sinceSeconds}, {"tailLines", &q.tailLines}} {
		if s := v.Get(p.name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return q, errorf(CodeInvalidArgument, "%v", err)
			}
			*p.dst = n
		}
	}
	for _, p := range []struct {
		name string
		dst  *bool
	}{{"follow", &q.follow}, {"previous", &q.previous}} {
		if s := v.Get(p.name); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return q, errorf(CodeInvalidArgument, "%v", err)
			}
			*p.dst = b
		}
	}
	if s := v.Get("untilTime"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			// A plain error in Argo CD, so gRPC's Unknown.
			return q, errorf(CodeUnknown, "invalid untilTime parameter value: %v", err)
		}
		q.untilTime = t
	}
	if q.podName != "" {
		q.kind, q.resourceName = "Pod", q.podName
	}
	return q, nil
}

// matches reports whether node fits the query's kind, group, name and
// namespace.
func (q logsQuery) matches(n argocd.ResourceNode) bool {
	return (q.resourceName == "" || n.Name == q.resourceName) && (q.kind == "" || n.Kind == q.kind) &&
		(q.group == "" || n.Group == q.group) && (q.namespace == "" || n.Namespace == q.namespace)
}

// selectedPods returns the pods of tree that match q or descend from a
// node that does, as Argo CD's getSelectedPods picks them.
func selectedPods(tree argocd.ApplicationTree, q logsQuery) []argocd.ResourceNode {
	byUID := map[string]argocd.ResourceNode{}
	for _, n := range tree.Nodes {
		byUID[n.UID] = n
	}
	var selected func(n argocd.ResourceNode, depth int) bool
	selected = func(n argocd.ResourceNode, depth int) bool {
		if q.matches(n) {
			return true
		}
		for _, p := range n.ParentRefs {
			if parent, ok := byUID[p.UID]; ok && depth < 16 && selected(parent, depth+1) {
				return true
			}
		}
		return false
	}
	var pods []argocd.ResourceNode
	for _, n := range tree.Nodes {
		if n.Kind == "Pod" && n.Group == "" && n.UID != "" && selected(n, 0) {
			pods = append(pods, n)
		}
	}
	return pods
}

// logLine is one entry to send: a pod's line, or Kubernetes' refusal to
// read a pod (zero time).
type logLine struct {
	pod     string
	t       time.Time
	content string
}

// podCursor remembers what a follow stream sent of one pod: lines up to
// t, of which n at exactly t.
type podCursor struct {
	t time.Time
	n int
}

// podLines returns the lines of pod written after cur, as the kubelet
// serves them to q (container, previous, sinceSeconds and tailLines
// apply to the first read, when first is set), and the cursor after
// them.
func (s *Server) podLines(pod argocd.ResourceNode, q logsQuery, cur podCursor, first bool, now time.Time) ([]logLine, podCursor) {
	lines, err := s.cluster.Logs(sim.Ref{APIVersion: "v1", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name})
	switch {
	case err != nil && first:
		return []logLine{{pod: pod.Name, content: fmt.Sprintf("pods %q not found", pod.Name)}}, cur
	case err != nil:
		return nil, cur
	case first && q.container != "" && q.container != containerOf(lines):
		// What Kubernetes answers instead of the lines; Argo CD passes it
		// on as one.
		return []logLine{{pod: pod.Name, content: fmt.Sprintf("container %s is not valid for pod %s", q.container, pod.Name)}}, cur
	case first && q.previous:
		return []logLine{{pod: pod.Name, content: fmt.Sprintf("previous terminated container %q in pod %q not found", containerOf(lines), pod.Name)}}, cur
	}
	var out []logLine
	seenAt := 0
	since := now.Add(-time.Duration(q.sinceSeconds) * time.Second)
	for _, l := range lines {
		if l.Time.Before(cur.t) {
			continue
		}
		if l.Time.Equal(cur.t) {
			if seenAt++; seenAt <= cur.n {
				continue
			}
		}
		if first && q.sinceSeconds > 0 && l.Time.Before(since) {
			continue
		}
		out = append(out, logLine{pod: pod.Name, t: l.Time, content: l.Text})
	}
	if first && q.tailLines > 0 && int64(len(out)) > q.tailLines {
		out = out[int64(len(out))-q.tailLines:]
	}
	if len(lines) > 0 {
		last := lines[len(lines)-1].Time
		n := 0
		for i := len(lines) - 1; i >= 0 && lines[i].Time.Equal(last); i-- {
			n++
		}
		cur = podCursor{t: last, n: n}
	}
	return out, cur
}

// containerOf names the container the sim logs for a pod: its first.
func containerOf(lines []sim.LogLine) string {
	if len(lines) > 0 {
		return lines[0].Container
	}
	return "app"
}

// logEntryOf is an application.LogEntry as the REST gateway writes it.
func logEntryOf(l logLine, last bool) map[string]any {
	var ts any // metav1.Time: whole seconds, null when zero
	if !l.t.IsZero() {
		ts = l.t.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	return map[string]any{"result": map[string]any{
		"content": l.content, "timeStamp": ts, "last": last,
		"timeStampStr": l.t.UTC().Format(time.RFC3339Nano), "podName": l.pod,
	}}
}

// logs serves GET /api/v1/applications/{name}/logs as Argo CD's PodLogs
// does over the REST gateway: one {"result": LogEntry} line per log line
// of the selected pods, merged in time order, filtered by substring (a
// leading "!" inverts it), up to the first line after untilTime (sent
// with last true), then an empty entry with last true; with follow, new
// lines as the cluster writes them, until the client goes away.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if pod := r.PathValue("podName"); pod != "" {
		v.Set("podName", pod)
	}
	q, gerr := parseLogsQuery(v)
	if gerr != nil {
		writeError(w, gerr)
		return
	}
	s.mu.Lock()
	a, gerr := s.lookup(r.PathValue("name"))
	if gerr != nil {
		s.mu.Unlock()
		writeError(w, gerr)
		return
	}
	pods := selectedPods(s.tree(a), q)
	s.mu.Unlock()
	if len(pods) == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		return
	}
	if len(pods) > MaxPodLogsToRender {
		writeError(w, errorf(CodeInvalidArgument, "max pods to view logs are reached. Please provide more granular query"))
		return
	}
	literal, inverse := "", false
	if q.filter != nil {
		literal = *q.filter
		if strings.HasPrefix(literal, "!") {
			literal, inverse = literal[1:], true
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	write := func(l logLine, last bool) bool {
		b, _ := json.Marshal(logEntryOf(l, last))
		_, err := w.Write(append(b, '\n'))
		return err == nil
	}
	// send writes lines in time order and reports whether the stream
	// goes on.
	send := func(lines []logLine) bool {
		sort.SliceStable(lines, func(i, j int) bool { return lines[i].t.Before(lines[j].t) })
		for _, l := range lines {
			if q.filter != nil && strings.Contains(l.content, literal) == inverse {
				continue
			}
			if !q.untilTime.IsZero() && l.t.After(q.untilTime) {
				write(l, true)
				return false
			}
			if !write(l, false) {
				return false
			}
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	cursors := make([]podCursor, len(pods))
	first := true
	read := func() []logLine {
		now := s.clock.Now()
		var lines []logLine
		for i, p := range pods {
			var got []logLine
			got, cursors[i] = s.podLines(p, q, cursors[i], first, now)
			lines = append(lines, got...)
		}
		first = false
		return lines
	}
	if !send(read()) {
		return
	}
	if q.follow {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for s.tick(r, tick.C) {
			if !send(read()) {
				return
			}
		}
		return // the request or the server ended
	}
	now := s.clock.Now()
	write(logLine{t: now}, true)
}
