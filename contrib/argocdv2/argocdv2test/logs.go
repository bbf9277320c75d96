package argocdv2test

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LogLine is one line a pod of an application wrote, for
// [Server.AddLogs].
type LogLine struct {
	Pod     string
	Time    time.Time
	Content string
}

// AddLogs appends lines to the pod logs of application name. It returns
// [ErrUnknownApp] for an application that was never [Server.Put].
func (s *Server) AddLogs(name string, lines ...LogLine) error {
	return s.control("AddLogs", name, func(e *app) error {
		e.logs = append(e.logs, lines...)
		return nil
	})
}

// PodLogs streams the pod logs of an application as Argo CD v2.14's
// PodLogs does, over the lines given to [Server.AddLogs]: podName (or
// kind Pod with resourceName) selects one pod, sinceSeconds (on the
// server's clock), sinceTime and tailLines (per pod) select lines, and
// the lines of every pod are merged in time order, filtered by substring
// (a leading "!" inverts it), sent up to the first line after untilTime
// (sent with last true), then an empty entry with last true. follow does
// not wait for more lines: the stream ends when the lines given so far
// are sent. An application without lines ends the stream at once, as
// Argo CD does for one without pods.
func (s *Server) PodLogs(q *application.ApplicationPodLogsQuery, ws application.ApplicationService_PodLogsServer) error {
	ctx := ws.Context()
	if err := s.begin(ctx, "PodLogs", q.GetName(), false); err != nil {
		return err
	}
	var until time.Time
	if u := q.GetUntilTime(); u != "" {
		t, err := time.Parse(time.RFC3339Nano, u)
		if err != nil {
			return fmt.Errorf("invalid untilTime parameter value: %w", err)
		}
		until = t
	}
	pod := q.GetPodName()
	if pod == "" && q.GetKind() == "Pod" {
		pod = q.GetResourceName()
	}
	lines, err := onApp(s, q.GetName(), q.GetProject(), func(e *app) ([]LogLine, error) {
		return slices.Clone(e.logs), nil
	})
	if err != nil {
		return err
	}
	if len(lines) == 0 {
		return nil
	}
	now := s.clock.Now()
	byPod := map[string][]LogLine{}
	for _, l := range lines {
		switch {
		case pod != "" && l.Pod != pod:
		case q.GetSinceSeconds() > 0 && l.Time.Before(now.Add(-time.Duration(q.GetSinceSeconds())*time.Second)):
		case q.SinceTime != nil && l.Time.Before(q.SinceTime.Time):
		default:
			byPod[l.Pod] = append(byPod[l.Pod], l)
		}
	}
	var merged []LogLine
	for _, ls := range byPod {
		if n := int(q.GetTailLines()); n > 0 && len(ls) > n {
			ls = ls[len(ls)-n:]
		}
		merged = append(merged, ls...)
	}
	slices.SortStableFunc(merged, func(a, b LogLine) int { return a.Time.Compare(b.Time) })
	literal, inverse := q.GetFilter(), false
	if strings.HasPrefix(literal, "!") {
		literal, inverse = literal[1:], true
	}
	send := func(l LogLine, last bool) error {
		ts := metav1.NewTime(l.Time)
		return ws.Send(&application.LogEntry{
			Content: ptrTo(l.Content), TimeStamp: &ts, Last: ptrTo(last),
			TimeStampStr: ptrTo(l.Time.Format(time.RFC3339Nano)), PodName: ptrTo(l.Pod),
		})
	}
	for _, l := range merged {
		if q.Filter != nil && strings.Contains(l.Content, literal) == inverse {
			continue
		}
		if !until.IsZero() && l.Time.After(until) {
			return send(l, true)
		}
		if err := send(l, false); err != nil {
			return err
		}
	}
	return send(LogLine{Time: now}, true)
}

func ptrTo[T any](v T) *T { return &v }
