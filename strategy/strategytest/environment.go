package strategytest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
	"github.com/flightdeck-dev/flightdeck/strategy"

	dto "github.com/prometheus/client_model/go"
)

// EnvironmentConfig configures [NewEnvironment]. The zero value of every
// field but Dir is the default.
type EnvironmentConfig struct {
	// Dir is a directory for the repository and its caches; empty means
	// a temporary directory that Close removes.
	Dir string
	// App is the app's name; default "shop".
	App string
	// Replicas is the app's replica count; default 4.
	Replicas int32
	// Speed, when positive, runs the clock that many times faster than
	// real time; zero makes every wait return at once (clocktest.NewAuto),
	// which is fastest but lets concurrent waits add up.
	Speed float64
	// Seed seeds the cluster's traffic; default 1.
	Seed uint64
	// OtherApps adds that many apps beside App to the repository
	// ("app00", "app01", ...), each with its base and overlays, for a
	// repository of realistic size; only App has an Argo CD application.
	OtherApps int
	// Behaviors are the behaviours of the pods of [Release](App, n), by n,
	// set before anything runs.
	Behaviors map[int]sim.Behavior
}

// Environment is everything a rollout needs in one process: a GitOps
// repository on disk in the layout of [Layout], pinned to release 1 of
// the app in prod; the fake Argo CD (argocdtest) with an application for
// that overlay, rendering each sync into a simulated cluster; the
// cluster's metrics over HTTP; and one clock for all of them. The app is
// synced and healthy when NewEnvironment returns.
type Environment struct {
	// App and SyncApp name the app and its Argo CD application
	// ("<app>-prod"); Namespace is its namespace in the cluster.
	App, SyncApp, Namespace string
	// Overlay is the app's prod overlay.
	Overlay strategy.Overlay
	// Dir is the bare repository.
	Dir string
	// Repo reads and writes it.
	Repo *gitops.Repo
	// Server is the fake Argo CD and Argo a client of it.
	Server *argocdtest.Server
	Argo   *argocd.Client
	// Cluster is the simulated cluster, Clock the clock of everything.
	Cluster *sim.Cluster
	Clock   *clocktest.Clock
	// MetricsURL serves the cluster's metrics in the Prometheus text
	// format.
	MetricsURL string

	metrics *httptest.Server
	tmp     string
	stop    context.CancelFunc
	done    chan struct{}
}

// NewEnvironment builds an [Environment]. Close it when done.
func NewEnvironment(ctx context.Context, cfg EnvironmentConfig) (*Environment, error) {
	var tmp string
	if cfg.Dir == "" {
		var err error
		if tmp, err = os.MkdirTemp("", "strategytest-"); err != nil {
			return nil, fmt.Errorf("strategytest: %w", err)
		}
		cfg.Dir = tmp
	}
	if cfg.App == "" {
		cfg.App = "shop"
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 4
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	e := &Environment{App: cfg.App, SyncApp: cfg.App + "-" + Env, Namespace: Namespace(cfg.App), Overlay: Overlay(cfg.App, cfg.Replicas),
		Dir: filepath.Join(cfg.Dir, "gitops.git"), tmp: tmp, done: make(chan struct{})}
	apps := []string{cfg.App}
	for i := range cfg.OtherApps {
		apps = append(apps, fmt.Sprintf("app%02d", i))
	}
	runCtx, stop := context.WithCancel(context.Background())
	e.stop = stop
	if err := gitopstest.CreateBareRepo(e.Dir, Layout(cfg.Replicas, apps...)); err != nil {
		close(e.done)
		e.Close()
		return nil, fmt.Errorf("strategytest: %w", err)
	}
	var err error
	if e.Repo, err = gitops.New(gitopstest.FileURL(e.Dir), gitops.WithCacheDir(filepath.Join(cfg.Dir, "cache"))); err != nil {
		close(e.done)
		e.Close()
		return nil, fmt.Errorf("strategytest: %w", err)
	}
	if cfg.Speed > 0 {
		e.Clock = clocktest.New(time.Time{})
		go func() {
			defer close(e.done)
			e.Clock.Accelerate(runCtx, cfg.Speed)
		}()
	} else {
		e.Clock = clocktest.NewAuto(time.Time{})
		close(e.done)
	}
	e.Cluster = sim.New(e.Clock, sim.WithSeed(cfg.Seed))
	for n, b := range cfg.Behaviors {
		if err := e.Cluster.SetBehavior(Release(cfg.App, n).Ref(), b); err != nil {
			e.Close()
			return nil, fmt.Errorf("strategytest: %w", err)
		}
	}
	if e.Server, err = argocdtest.New(argocdtest.WithClock(e.Clock), argocdtest.WithCluster(e.Cluster)); err != nil {
		e.Close()
		return nil, fmt.Errorf("strategytest: %w", err)
	}
	e.metrics = httptest.NewServer(e.Cluster.MetricsHandler())
	e.MetricsURL = e.metrics.URL + "/metrics"
	if err := e.Server.AddApp(ctx, argocdtest.App{Name: e.SyncApp, RepoURL: gitopstest.FileURL(e.Dir), Path: e.Overlay.Dir}); err != nil {
		e.Close()
		return nil, fmt.Errorf("strategytest: %w", err)
	}
	if e.Argo, err = e.Server.Client(argocd.WithClock(e.Clock)); err != nil {
		e.Close()
		return nil, fmt.Errorf("strategytest: %w", err)
	}
	if err := e.Sync(ctx, ""); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Close stops the servers and the clock.
func (e *Environment) Close() {
	e.stop()
	<-e.done
	if e.metrics != nil {
		e.metrics.Close()
	}
	if e.Server != nil {
		e.Server.Close()
	}
	if e.tmp != "" {
		_ = os.RemoveAll(e.tmp)
	}
}

// Release returns release n of the app ([Release]).
func (e *Environment) Release(n int) flightdeck.Release { return Release(e.App, n) }

// Sync syncs the app to revision (empty: the branch head) and waits until
// it is synced and healthy on it.
func (e *Environment) Sync(ctx context.Context, revision string) error {
	if err := e.Argo.Sync(ctx, gitops.SyncRequest{App: e.SyncApp, Revision: revision}); err != nil {
		return fmt.Errorf("strategytest: %w", err)
	}
	if _, err := gitops.WaitFor(ctx, e.Argo, gitops.WaitOptions{App: e.SyncApp, Revision: revision, Clock: e.Clock, PollInterval: time.Second, StableFor: -1}); err != nil {
		return fmt.Errorf("strategytest: %w", err)
	}
	return nil
}

// Prepare writes target's manifests into the overlay ([strategy.PrepareOverlay])
// and syncs them.
func (e *Environment) Prepare(ctx context.Context, target strategy.Target) error {
	res, err := strategy.PrepareOverlay(ctx, e.Repo, target, strategy.PrepareRequest{App: e.App, Environment: Env})
	if err != nil {
		return err
	}
	if !res.Changed {
		return nil
	}
	return e.Sync(ctx, res.Commit.String())
}

// Ref names an object of the app's namespace: kind is "Service",
// "HTTPRoute" or "Deployment".
func (e *Environment) Ref(kind, name string) sim.Ref {
	switch kind {
	case "HTTPRoute":
		return sim.Ref{APIVersion: "gateway.networking.k8s.io/v1", Kind: kind, Namespace: e.Namespace, Name: name}
	case "Deployment":
		return sim.Ref{APIVersion: "apps/v1", Kind: kind, Namespace: e.Namespace, Name: name}
	}
	return sim.Ref{APIVersion: "v1", Kind: kind, Namespace: e.Namespace, Name: name}
}

// Served sends n requests to a Service or an HTTPRoute of the app (kind
// "Service" or "HTTPRoute") and says which Deployments served them:
// "shop 97, shop-canary 3", in name order.
func (e *Environment) Served(ctx context.Context, kind, name string, n int) (string, error) {
	res, err := e.Cluster.Send(ctx, e.Ref(kind, name), n)
	if err != nil {
		return "", err
	}
	var by []string
	for d, k := range res.Deployments {
		by = append(by, fmt.Sprintf("%s %d", strings.TrimPrefix(d, e.Namespace+"/"), k))
	}
	sort.Strings(by)
	if len(by) == 0 {
		return "none", nil
	}
	return strings.Join(by, ", "), nil
}

// Options returns the runner options that fit the environment: its
// clock, its Argo CD application, and waits that poll every second of
// it, hold for two, and are bounded by the context only.
func (e *Environment) Options() []strategy.Option {
	return []strategy.Option{
		strategy.WithClock(e.Clock), strategy.WithSyncApp(e.SyncApp),
		strategy.WithWait(gitops.WaitOptions{PollInterval: time.Second, StableFor: 2 * time.Second, Timeout: -1}),
		strategy.WithControlPoll(5 * time.Second),
	}
}

// Requests returns an evaluator of the requests the pods of Deployment
// deployment have served with HTTP status code (empty: any), read from
// the cluster's metrics endpoint with health.Scrape: a counter, 0 before
// the first such request.
func (e *Environment) Requests(deployment, code string) (health.Evaluator, error) {
	labels := map[string]string{"namespace": e.Namespace, "deployment": deployment}
	if code != "" {
		labels["code"] = code
	}
	return e.scraped(labels, func(fams map[string]*dto.MetricFamily) health.Measurement {
		v, _ := health.Select(fams, "flightdeck_sim_requests_total", labels)
		return health.Measurement{Value: v, Message: fmt.Sprintf("%s requests %s: %g", deployment, code, v)}
	})
}

// scraped returns an evaluator that scrapes the request counters
// (labels narrow the scrape; nil: all) and measures with read, stamped
// by the environment's clock.
func (e *Environment) scraped(labels map[string]string, read func(map[string]*dto.MetricFamily) health.Measurement) (health.Evaluator, error) {
	s, err := health.NewScrape(e.MetricsURL, health.ScrapeSpec{Metric: "flightdeck_sim_requests_total", Labels: labels}, health.WithClock(e.Clock))
	if err != nil {
		return nil, err
	}
	return health.Func(func(ctx context.Context) health.Measurement {
		fams, err := s.Families(ctx)
		if err != nil {
			return health.Measurement{Time: e.Clock.Now(), Phase: health.Error, Err: err, Message: err.Error()}
		}
		m := read(fams)
		m.Time, m.Phase = e.Clock.Now(), health.Successful
		return m
	}), nil
}

// ErrorJudge returns a template of the sequential error judge
// ([strategy.ErrorJudge]) between the failed
// requests of the canary's and the stable's Deployments, with the
// canary's traffic share the weight the run is at: measured every
// interval, count times, it fails as soon as the canary's errors are
// shown to be more frequent than the stable's.
func (e *Environment) ErrorJudge(canary, stable string, interval time.Duration, count int) strategy.Template {
	both, err := e.Errors(canary, stable)
	if err != nil {
		return strategy.TemplateFunc(func(context.Context, strategy.AnalysisInput) (health.Analysis, error) { return health.Analysis{}, err })
	}
	return strategy.ErrorJudgeOf(both, interval, count, e.Clock)
}

// Errors returns an evaluator of the failed requests (code 500) of the
// canary's and the stable's Deployments read from one scrape of the
// cluster's metrics, under health.CanaryErrorsKey and
// health.StableErrorsKey, so both counts are of the same instant.
func (e *Environment) Errors(canary, stable string) (health.Evaluator, error) {
	return e.scraped(nil, func(fams map[string]*dto.MetricFamily) health.Measurement {
		values := map[string]float64{}
		for key, d := range map[string]string{health.CanaryErrorsKey: canary, health.StableErrorsKey: stable} {
			values[key], _ = health.Select(fams, "flightdeck_sim_requests_total", map[string]string{"namespace": e.Namespace, "deployment": d, "code": "500"})
		}
		return health.Measurement{Value: values[health.CanaryErrorsKey], Values: values,
			Message: fmt.Sprintf("failed requests: %s %g, %s %g", canary, values[health.CanaryErrorsKey], stable, values[health.StableErrorsKey])}
	})
}

// LatencyCheck returns a template that compares the mean latency of the
// canary's requests with the stable's since the analysis began, read from
// the cluster's latency histograms: measured every interval, count
// times, it fails when the canary is more than maxRatio times slower.
func (e *Environment) LatencyCheck(canary, stable string, maxRatio float64, interval time.Duration, count int) strategy.Template {
	return strategy.TemplateFunc(func(ctx context.Context, in strategy.AnalysisInput) (health.Analysis, error) {
		s, err := health.NewScrape(e.MetricsURL, health.ScrapeSpec{Metric: "flightdeck_sim_request_duration_seconds_count"}, health.WithClock(e.Clock))
		if err != nil {
			return health.Analysis{}, err
		}
		read := func(ctx context.Context) (map[string][2]float64, error) {
			fams, err := s.Families(ctx)
			if err != nil {
				return nil, err
			}
			out := map[string][2]float64{}
			for _, d := range []string{canary, stable} {
				l := map[string]string{"namespace": e.Namespace, "deployment": d}
				sum, _ := health.Select(fams, "flightdeck_sim_request_duration_seconds_sum", l)
				n, _ := health.Select(fams, "flightdeck_sim_request_duration_seconds_count", l)
				out[d] = [2]float64{sum, n}
			}
			return out, nil
		}
		start, err := read(ctx)
		if err != nil {
			return health.Analysis{}, err
		}
		eval := health.Func(func(ctx context.Context) health.Measurement {
			now := e.Clock.Now()
			cur, err := read(ctx)
			if err != nil {
				return health.Measurement{Time: now, Phase: health.Error, Err: err, Message: err.Error()}
			}
			mean := func(d string) (float64, bool) {
				n := cur[d][1] - start[d][1]
				return (cur[d][0] - start[d][0]) / n, n > 0
			}
			c, okC := mean(canary)
			st, okS := mean(stable)
			if !okC || !okS || st <= 0 {
				return health.Measurement{Time: now, Phase: health.Inconclusive, Message: "latency: no requests yet"}
			}
			return health.Measurement{Time: now, Value: c / st, Phase: health.Successful,
				Message: fmt.Sprintf("latency: canary %.0fms, stable %.0fms", c*1000, st*1000)}
		})
		return health.Analysis{Metrics: []health.Metric{{
			Name: in.Template, Evaluator: eval, InitialDelay: interval, Interval: interval, Count: count,
			SuccessCondition: health.AtMost(maxRatio),
		}}}, nil
	})
}
