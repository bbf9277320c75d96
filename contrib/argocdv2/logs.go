package argocdv2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
)

var _ argocd.LogReader = (*Syncer)(nil)

// Logs returns the lines of the pods of application name that q
// selects, oldest first across pods, with Argo CD's PodLogs (follow off)
// read until its last entry, like [argocd.Client.Logs]; argocd.LogSource
// takes a Syncer as it takes the REST client. Over gRPC, q.SinceTime goes
// to the server as sinceTime (the REST gateway cannot carry it). The
// content read is bounded by [WithMaxResponseBytes] in all, as each
// message is. An Unavailable answer is retried, reading the stream again
// from its start. Over gRPC-web, apiclient reports an empty stream (Argo
// CD's answer for an application without pods) as Unknown "unexpected
// EOF"; before any line that reads as no lines, too. Refusals are those
// of [Syncer.Get]; a negative Since or
// TailLines is an error before anything is sent.
func (s *Syncer) Logs(ctx context.Context, name string, q argocd.LogQuery) ([]argocd.LogEntry, error) {
	op := fmt.Sprintf("logs of app %q", name)
	switch {
	case name == "":
		return nil, fmt.Errorf("argocdv2: %s: application name is required", op)
	case q.Since < 0:
		return nil, fmt.Errorf("argocdv2: %s: negative Since %s", op, q.Since)
	case q.TailLines < 0:
		return nil, fmt.Errorf("argocdv2: %s: negative TailLines %d", op, q.TailLines)
	}
	pq := &application.ApplicationPodLogsQuery{Name: &name, AppNamespace: s.ns(), Project: s.proj(), Follow: ptr(false)}
	str := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	pq.Namespace, pq.PodName, pq.Container = str(q.Namespace), str(q.PodName), str(q.Container)
	pq.Kind, pq.Group, pq.ResourceName = str(q.Kind), str(q.Group), str(q.ResourceName)
	pq.Filter = str(q.Filter)
	if q.Project != "" {
		pq.Project = &q.Project
	}
	if q.Since > 0 {
		pq.SinceSeconds = ptr(int64(math.Ceil(q.Since.Seconds())))
	}
	if !q.SinceTime.IsZero() {
		pq.SinceTime = &metav1.Time{Time: q.SinceTime}
	}
	if q.TailLines > 0 {
		pq.TailLines = &q.TailLines
	}
	if !q.UntilTime.IsZero() {
		pq.UntilTime = ptr(q.UntilTime.UTC().Format(time.RFC3339Nano))
	}
	if q.Previous {
		pq.Previous = ptr(true)
	}
	var (
		out   []argocd.LogEntry
		local error // a failure of the answer, not a refusal: not retried
	)
	err := s.call(ctx, op, func(ctx context.Context) error {
		out, local = nil, nil
		stream, err := s.apps.PodLogs(ctx, pq, s.callOpts()...)
		if err != nil {
			return err
		}
		size := 0
		for {
			e, err := stream.Recv()
			switch {
			case errors.Is(err, io.EOF):
				if len(out) > 0 {
					local = fmt.Errorf("%w: log stream ended before its last entry", argocd.ErrBadResponse)
				}
				return nil // else no pod matched
			case err != nil && len(out) == 0 && emptyOverGRPCWeb(err):
				return nil
			case err != nil:
				return err
			case e.GetLast():
				return nil
			}
			t := e.GetTimeStamp().Time
			if str := e.GetTimeStampStr(); str != "" {
				if t, err = time.Parse(time.RFC3339Nano, str); err != nil {
					local = fmt.Errorf("%w: log entry time: %w", argocd.ErrBadResponse, err)
					return nil
				}
			}
			if !q.UntilTime.IsZero() && t.After(q.UntilTime) {
				return nil
			}
			if size += len(e.GetContent()); size > s.o.maxBytes {
				local = fmt.Errorf("%w: more than %d bytes of log lines; raise the limit with WithMaxResponseBytes", argocd.ErrResponseTooLarge, s.o.maxBytes)
				return nil
			}
			out = append(out, argocd.LogEntry{Pod: e.GetPodName(), Container: q.Container, Time: t, Content: e.GetContent()})
		}
	})
	switch {
	case err != nil:
		return nil, err
	case local != nil:
		return nil, fmt.Errorf("argocdv2: %s: %w", op, local)
	}
	return out, nil
}

// emptyOverGRPCWeb reports whether err is how apiclient's gRPC-web proxy
// reports a stream that ended without a message: Argo CD's answer for an
// application without pods (plain gRPC reads it as io.EOF).
func emptyOverGRPCWeb(err error) bool {
	st := status.Convert(err)
	return st.Code() == codes.Unknown && st.Message() == io.ErrUnexpectedEOF.Error()
}

func ptr[T any](v T) *T { return &v }
