package notify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	flightdeck "github.com/flightdeck-dev/flightdeck"
)

// Source is what the adapters of the producing packages
// (deploy.Stage.NotifyObserver in pipeline/deploy, strategy.NotifyObserver,
// rollback.NotifyObserver, promote.NotifyObserver) add to every event
// they build, and how they hand it on. The zero value is ready to use.
type Source struct {
	// Actor is who the events name as their cause when the source event
	// names nobody (a rollout step, a pipeline deploy); empty means the
	// producing package's name ("strategy", "pipeline").
	Actor string
	// Links are added to every event, after the event's own: the Argo
	// CD application, a dashboard, the pipeline's run page.
	Links []Link
	// Logger logs the events a notifier refused or failed (and a
	// notifier's panic); nil discards.
	Logger *slog.Logger
}

// Send completes e (Actor defaults to o.Actor, then to fallback; o.Links
// are appended) and hands it to n. It never panics and returns nothing:
// a failure, or a panic of n, is logged, because the deployment that
// emitted the event must go on. It waits as long as n.Notify does, so
// give it a [Fanout], whose Notify only queues.
func (o Source) Send(ctx context.Context, n Notifier, fallback string, e Event) {
	if n == nil {
		return
	}
	if e.Actor == "" {
		e.Actor = o.Actor
	}
	if e.Actor == "" {
		e.Actor = fallback
	}
	if len(o.Links) > 0 {
		e.Links = append(slices.Clip(e.Links), o.Links...)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if p := recover(); p != nil {
			log.ErrorContext(ctx, "notifier panicked", "kind", string(e.Kind), "app", e.App, "environment", e.Environment,
				"panic", fmt.Sprint(p))
		}
	}()
	if err := n.Notify(ctx, e); err != nil {
		log.WarnContext(ctx, "event not delivered", "kind", string(e.Kind), "app", e.App, "environment", e.Environment,
			"err", err)
	}
}

// Version names a release in a summary: its tag, else its digest cut
// to 12 hex digits ("sha256:0123456789ab"), else "a release".
func Version(r flightdeck.Release) string {
	switch {
	case r.Tag != "":
		return r.Tag
	case len(r.Digest) > len("sha256:")+12:
		return r.Digest[:len("sha256:")+12]
	case r.Digest != "":
		return r.Digest
	}
	return "a release"
}
