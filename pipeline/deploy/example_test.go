package deploy_test

import (
	"context"
	"fmt"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/deploy"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
)

// The deploy stage turns the pushed digest into an overlay edit and a
// commit with trailers. Here a gitops.WriterFunc prints the change
// instead of committing it; gitopstest.Writer applies it to a real bare
// repository in tests.
func ExampleNew() {
	w := gitops.WriterFunc(func(_ context.Context, ch gitops.Change) (gitops.Result, error) {
		set := ch.Edits[len(ch.Edits)-1].(gitops.SetImage)
		fmt.Println("overlay:", set.Dir)
		fmt.Println("image:", set.Name, set.Digest[:15]+"…")
		fmt.Print(ch.Trailers)
		return gitops.Result{Changed: true}, nil
	})
	push := pipeline.Func("image-push", func(_ context.Context, s *pipeline.State) error {
		image.Ref.Put(s, "registry.example.com/team/checkout@sha256:"+
			"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
		return nil
	})
	d := deploy.New(w, deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: flightdeck.Dev}})

	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: push, Provides: []pipeline.AnyKey{image.Ref}}, d.Step())
	g, _ := b.Build()
	e, _ := pipeline.New()
	if _, err := e.Run(context.Background(), g, nil); err != nil {
		fmt.Println(err)
	}
	// Output:
	// overlay: apps/checkout/overlays/dev
	// image: registry.example.com/team/checkout sha256:9f86d081…
	// Flightdeck-Version: 1
	// Flightdeck-Action: deploy
	// Flightdeck-App: checkout
	// Flightdeck-Environment: dev
	// Flightdeck-Release: registry.example.com/team/checkout@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
}

// NotifyObserver, on the engine that runs the deploy, tells
// stakeholders of the commit; a recorder stands in here for a
// notify.Fanout of webhooks and Slack.
func ExampleStage_NotifyObserver() {
	repo, _ := gitopstest.NewFake(gitopstest.KustomizeLayout("checkout"))
	push := pipeline.Func("image-push", func(_ context.Context, s *pipeline.State) error {
		image.Ref.Put(s, gitopstest.Image("checkout")+"@sha256:"+
			"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
		return nil
	})
	d := deploy.New(repo, deploy.Spec{App: "checkout", Environment: flightdeck.Environment{Name: flightdeck.Dev}, Tag: "1.4.2"})
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: push, Provides: []pipeline.AnyKey{image.Ref}}, d.Step())
	g, _ := b.Build()

	var heard notifytest.Recorder
	st := pipeline.NewState() // one state, and one observer, per run
	e, _ := pipeline.New(pipeline.WithObserver(d.NotifyObserver(&heard, st, notify.Source{Actor: "ci"})))
	if _, err := e.Run(context.Background(), g, st); err != nil {
		fmt.Println(err)
	}
	for _, n := range heard.Events() {
		fmt.Println(n.Kind, n.Release.Tag, "to", n.Environment, "by", n.Actor+":", n.Details["overlay"])
	}
	// Output:
	// on-committed 1.4.2 to dev by ci: apps/checkout/overlays/dev
}
