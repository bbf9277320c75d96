package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/command"
	"github.com/flightdeck-dev/flightdeck/pipeline/deploy"
	"github.com/flightdeck-dev/flightdeck/pipeline/gates"
	"github.com/flightdeck-dev/flightdeck/pipeline/gotest"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
	"github.com/flightdeck-dev/flightdeck/pipeline/postdeploy"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// Keys the quickstart's own stages hand on.
var (
	revisionKey   = pipeline.NewKey[string]("source.revision")
	committedKey  = pipeline.NewKey[time.Time]("source.commit-time")
	testReport    = pipeline.NewKey[*gotest.Report]("quickstart.tests")
	imageFindings = pipeline.NewKey[[]scan.Finding]("quickstart.image-findings")
)

// deployed is what one release run produced.
type deployed struct {
	deploy.Deployment
	smoke *postdeploy.Report
}

// Where the smoke-test stage and the quota gate put their reports.
var (
	smokeReport = pipeline.NewKey[*postdeploy.Report]("quickstart.smoke")
	quotaReport = pipeline.NewKey[gates.QuotaReport]("quickstart.quota")
)

// gate is a pre-deploy gate's step, after the checkout.
func (e *env) gate(s pipeline.Stage) pipeline.Step {
	return pipeline.Step{Stage: s, After: []string{"checkout"}}
}

// release runs the CI pipeline for version on the source's current
// revision: test, scan for vulnerabilities and committed secrets, build, push, deploy the pushed digest to dev
// (the ladder's first rung takes every commit to main), and once Argo CD
// has synced it, smoke tests against dev. With verbose every step is
// printed as it ends, else one line says how the run went.
func (e *env) release(ctx context.Context, out io.Writer, version string, verbose bool) (deployed, error) {
	bin := filepath.Join(e.work, "out", version, app)
	// Any finding at or above High fails the pipeline; the Go database has
	// no severities, so unknown counts as High.
	policy := scan.Policy{FailAt: scan.SeverityHigh, UnknownAs: scan.SeverityHigh}

	// The pre-deploy gates judge the dev overlay as Argo CD renders it:
	// every container sets requests and limits, and the namespace's
	// ResourceQuota holds the replicas and a rolling update's surge.
	devOverlay := gates.Overlay{Renderer: e.repo, Dir: target(flightdeck.Dev).Overlay(), Namespace: app + "-" + flightdeck.Dev}
	dep := deploy.New(e.repo, deploy.Spec{
		App:         app,
		Environment: flightdeck.Environment{Name: flightdeck.Dev},
		ImageName:   app,
		Revision:    revisionKey,
		SourceTime:  committedKey,
		SourceRepo:  e.sourceURL,
		Tag:         version,
	})
	var b pipeline.Builder
	b.Add(
		pipeline.Step{
			Stage: pipeline.Func("checkout", func(_ context.Context, st *pipeline.State) error {
				revisionKey.Put(st, e.revision)
				committedKey.Put(st, e.committed)
				return nil
			}),
			Provides: []pipeline.AnyKey{revisionKey, committedKey},
		},
		pipeline.Step{
			Stage:    gotest.New("unit-test", gotest.Spec{Dir: e.srcDir, Cover: true}).WithReport(testReport),
			After:    []string{"checkout"},
			Provides: []pipeline.AnyKey{testReport},
			Timeout:  2 * time.Minute,
		},
		pipeline.Step{
			Stage: scan.NewStage(e.vuln, scan.FixedTarget(scan.Target{Dir: e.srcDir}),
				scan.WithStageName("dependency-scan"), scan.WithPolicy(policy)),
			After:    []string{"checkout"},
			Provides: []pipeline.AnyKey{scan.Findings},
		},
		pipeline.Step{
			// Committed credentials fail the build as vulnerabilities
			// do: gitleaks when installed, else the built-in scanner.
			Stage:    scan.NewSecretsStage(e.srcDir, scan.WithPolicy(policy)),
			After:    []string{"checkout"},
			Provides: []pipeline.AnyKey{scan.SecretFindings},
		},
		pipeline.Step{
			Stage: command.New("compile", command.Spec{
				Program: "go",
				Args:    []string{"build", "-trimpath", "-ldflags", "-X main.version=" + version, "-o", bin, "."},
				Env:     []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"},
				Dir:     e.srcDir,
			}),
			After: []string{"unit-test", "dependency-scan", "secrets"},
		},
		withAfter(image.BuildStep(e.images, image.Spec{
			Layers: []image.Layer{{Files: []image.File{{Path: "/app/hello", Source: bin}}}},
			Config: image.Config{
				Entrypoint: []string{"/app/hello"},
				Env:        []string{"ADDR=:8080"},
				User:       "65532",
				Source:     e.sourceURL,
				Revision:   e.revision,
			},
		}), "compile"),
		pipeline.Step{
			Stage: scan.NewStage(e.vuln, scan.ImageTarget(image.Built),
				scan.WithStageName("image-scan"), scan.WithResultKey(imageFindings), scan.WithPolicy(policy)),
			Needs:    []pipeline.AnyKey{image.Built},
			Provides: []pipeline.AnyKey{imageFindings},
		},
		withAfter(image.PushStep(e.images, e.registry+"/"+app+":"+version), "image-scan"),
		e.gate(gates.NewResourceGate("requests-limits", devOverlay)),
		e.gate(gates.NewQuotaGate("quota", devOverlay).RequireQuota().WithReport(quotaReport)),
		withAfter(dep.Step(), "requests-limits", "quota"),
		e.smokeTest().Step(deploy.Deployed),
	)
	g, err := b.Build()
	if err != nil {
		return deployed{}, err
	}
	st := pipeline.NewState()
	obs := []pipeline.Observer{dep.NotifyObserver(e.fan, st, e.src)}
	if verbose {
		obs = append(obs, pipeline.Progress(out))
	}
	eng, err := pipeline.New(pipeline.WithObserver(obs...))
	if err != nil {
		return deployed{}, err
	}
	start := time.Now()
	rep, err := eng.Run(ctx, g, st)
	if err != nil {
		return deployed{}, fmt.Errorf("pipeline for %s %s: %w", app, version, err)
	}
	d, err := deploy.Deployed.Get(st)
	if err != nil {
		return deployed{}, err
	}
	smoke, err := smokeReport.Get(st)
	if err != nil {
		return deployed{}, err
	}
	if !verbose {
		fmt.Fprintf(out, "pipeline %s: %d steps ok in %s; dev runs %s (commit %s), smoke tests %s\n", version, len(rep.Steps),
			time.Since(start).Round(100*time.Millisecond), short(strings.TrimPrefix(d.Release.Digest, "sha256:")), short(d.Commit), smoke.Result)
		return deployed{d, smoke}, nil
	}
	if rep, err := testReport.Get(st); err == nil {
		fmt.Fprintf(out, "tests: %d passed, %d failed", rep.Count(gotest.Pass), rep.Count(gotest.Fail))
		if p := rep.Packages; len(p) > 0 && p[0].HasCoverage {
			fmt.Fprintf(out, ", coverage %.0f%%", p[0].Coverage)
		}
		fmt.Fprintln(out)
	}
	srcF, _ := scan.Findings.Get(st)
	imgF, _ := imageFindings.Get(st)
	secrets, _ := scan.SecretFindings.Get(st)
	fmt.Fprintf(out, "vulnerabilities: %d in the source, %d in the image; secrets committed in the source: %d\n",
		len(srcF), len(imgF), len(secrets))
	if q, err := quotaReport.Get(st); err == nil {
		for _, u := range q.Usages {
			fmt.Fprintf(out, "pre-deploy quota gate: %s\n", u)
		}
	}
	var tests []string
	for _, t := range smoke.Tests {
		tests = append(tests, t.Name+": "+t.Status)
	}
	fmt.Fprintf(out, "smoke tests against dev once Synced/Healthy: %s (%s)\n", smoke.Result, strings.Join(tests, ", "))
	return deployed{d, smoke}, nil
}

// smokeTest is the stage that waits for Argo CD to sync dev to the
// deploy commit and report it Healthy, then sends requests through the
// app's Service and passes when at most 5% of them fail. Its report is
// committed with the release, where promote's Tests policy can ask for
// it.
func (e *env) smokeTest() *postdeploy.Stage {
	service := sim.Ref{APIVersion: "v1", Kind: "Service", Namespace: app + "-" + flightdeck.Dev, Name: app}
	run := postdeploy.RunnerFunc(func(ctx context.Context, _ []string) (postdeploy.Outcome, error) {
		res, err := e.cluster.Send(ctx, service, 200)
		if err != nil {
			return postdeploy.Outcome{}, err
		}
		t := postdeploy.Test{Name: "GET / through Service hello", Status: postdeploy.StatusPass}
		if ok := res.Codes[200]; ok < 190 {
			t.Status, t.Output = postdeploy.StatusFail, fmt.Sprintf("%d of 200 requests failed", 200-ok)
		}
		return postdeploy.Outcome{Tests: []postdeploy.Test{t}}, nil
	})
	return postdeploy.New(e.repo, postdeploy.Spec{Suite: "smoke", Tests: run},
		postdeploy.WithName("smoke-dev"), postdeploy.WithReport(smokeReport), postdeploy.WithClock(e.clock),
		postdeploy.WithSyncer(e.client, e.wait()), postdeploy.WithNotify(e.fan, e.src))
}

// wait is how the story waits for Argo CD: poll every two seconds of
// cluster time, require ten seconds of stable status, bounded by the
// context only.
func (e *env) wait() gitops.WaitOptions {
	return gitops.WaitOptions{PollInterval: 2 * time.Second, StableFor: 10 * time.Second, Timeout: -1, Clock: e.clock}
}

// printCurrent reads back from Git what dev runs, the whole release as
// the deploy commit's trailers recorded it, and what Argo CD says of it.
func (e *env) printCurrent(ctx context.Context, out io.Writer) error {
	cur, err := gitops.CurrentRelease(ctx, e.repo, gitops.Target{
		App: app, Environment: flightdeck.Environment{Name: flightdeck.Dev}, ImageName: app,
	}, "")
	if err != nil {
		return err
	}
	r := cur.Release
	fmt.Fprintf(out, "read back from Git: dev runs %s, built from %s of %s at %s\n",
		r.Ref(), short(r.Revision), r.SourceRepo, r.Time.Format(time.RFC3339))
	st, err := e.client.AppStatus(ctx, app+"-"+flightdeck.Dev)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Argo CD: %s-dev is %s/%s at %s\n", app, st.SyncStatus, st.Health, short(st.Revision))
	return nil
}

func withAfter(s pipeline.Step, after ...string) pipeline.Step {
	s.After = append(s.After, after...)
	return s
}
