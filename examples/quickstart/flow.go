package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/command"
	"github.com/flightdeck-dev/flightdeck/pipeline/deploy"
	"github.com/flightdeck-dev/flightdeck/pipeline/gotest"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
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
}

// release runs the CI pipeline for version and deploys the pushed digest
// to dev. Progress is printed as the steps run.
func (e *env) release(ctx context.Context, out io.Writer, version string) (deployed, error) {
	bin := filepath.Join(e.work, "out", version, app)
	// Any finding at or above High fails the pipeline; the Go database has
	// no severities, so unknown counts as High.
	policy := scan.Policy{FailAt: scan.SeverityHigh, UnknownAs: scan.SeverityHigh}

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
			Stage: command.New("compile", command.Spec{
				Program: "go",
				Args:    []string{"build", "-trimpath", "-ldflags", "-X main.version=" + version, "-o", bin, "."},
				Env:     []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"},
				Dir:     e.srcDir,
			}),
			After: []string{"unit-test", "dependency-scan"},
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
		deploy.New(e.repo, deploy.Spec{
			App:         app,
			Environment: flightdeck.Environment{Name: flightdeck.Dev},
			ImageName:   app,
			Revision:    revisionKey,
			SourceTime:  committedKey,
			SourceRepo:  e.sourceURL,
		}).Step(),
	)
	g, err := b.Build()
	if err != nil {
		return deployed{}, err
	}
	eng, err := pipeline.New(pipeline.WithObserver(pipeline.Progress(out)))
	if err != nil {
		return deployed{}, err
	}
	st := pipeline.NewState()
	if _, err := eng.Run(ctx, g, st); err != nil {
		return deployed{}, fmt.Errorf("pipeline for %s %s: %w", app, version, err)
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
	fmt.Fprintf(out, "vulnerabilities: %d in the source, %d in the image\n", len(srcF), len(imgF))
	d, err := deploy.Deployed.Get(st)
	if err != nil {
		return deployed{}, err
	}
	return deployed{d}, nil
}

// printCurrent reads back from Git what dev runs, the whole release as
// the deploy commit's trailers recorded it.
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
	return nil
}

func withAfter(s pipeline.Step, after ...string) pipeline.Step {
	s.After = append(s.After, after...)
	return s
}

type outcome struct {
	health health.Status
	sync   string
}

var (
	healthy  = outcome{health.Healthy, gitops.SyncSynced}
	degraded = outcome{health.Degraded, gitops.SyncSynced}
)

// syncAndWatch asks Argo CD to sync revision, prints every change of the
// application's status, and waits until the application is want. Times
// are the simulated cluster's.
func (e *env) syncAndWatch(ctx context.Context, out io.Writer, revision string, want outcome) error {
	name := app + "-dev"
	clock := e.argo.Clock()
	start := clock.Now()
	realStart := time.Now()

	// Let Argo CD see the new commit, show where the app stands, then sync.
	if _, err := e.client.Get(ctx, name, "normal"); err != nil {
		return err
	}
	before, err := e.client.AppStatus(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  before     %s\n", describe(before))
	if err := e.client.Sync(ctx, gitops.SyncRequest{App: name, Revision: revision}); err != nil {
		return err
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var last string
		for watchCtx.Err() == nil {
			if st, err := e.client.AppStatus(watchCtx, name); err == nil {
				line := describe(st)
				if line != last {
					fmt.Fprintf(out, "  t+%-8s %s\n", clock.Now().Sub(start).Round(time.Second), line)
					last = line
				}
			}
			select {
			case <-watchCtx.Done():
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	// The wait is bounded in real time: on the accelerated clock, a
	// cluster-time timeout would expire in moments on a busy machine.
	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	st, err := gitops.WaitFor(waitCtx, e.client, gitops.WaitOptions{
		App: name, Revision: revision, Sync: want.sync, Health: want.health,
		StableFor: 30 * time.Second, PollInterval: 5 * time.Second, Clock: clock,
	})
	stopWatch()
	<-done
	var we *gitops.WaitError
	if errors.As(err, &we) {
		return fmt.Errorf("%s: %w (last status: %s)", name, err, describe(we.Last))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s is %s/%s at %s after %s of cluster time (%s real time)\n",
		name, st.SyncStatus, st.Health, short(st.Revision),
		clock.Now().Sub(start).Round(time.Second), time.Since(realStart).Round(time.Millisecond))
	if st.HealthMessage != "" {
		fmt.Fprintf(out, "  %s\n", st.HealthMessage)
	}
	return nil
}

func describe(st gitops.AppStatus) string {
	s := fmt.Sprintf("%s/%s", st.SyncStatus, st.Health)
	if st.Operation != nil {
		s += " operation " + st.Operation.Phase
	}
	if st.HealthMessage != "" {
		s += ": " + st.HealthMessage
	}
	return s
}
