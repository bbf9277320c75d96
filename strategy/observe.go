package strategy

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/health"
)

// EventKind names what an [Event] reports.
type EventKind string

// The events a [Runner] reports, in the order a run meets them.
const (
	// EventPrepared: the target's manifests were written ([ActionPrepare]).
	EventPrepared EventKind = "prepared"
	// EventStarted: a run began (or was taken over from Git).
	EventStarted EventKind = "started"
	// EventStep: a step's commit was pushed.
	EventStep EventKind = "step"
	// EventSynced: the GitOps controller synced the commit and the app is
	// healthy on it.
	EventSynced EventKind = "synced"
	// EventAnalysis: an analysis ended; Analysis holds its record.
	EventAnalysis EventKind = "analysis"
	// EventPaused: the run paused (a pause step, an Inconclusive
	// analysis).
	EventPaused EventKind = "paused"
	// EventPromoted: a pause was passed by a Promote, or the run jumped
	// to its finish by PromoteFull.
	EventPromoted EventKind = "promoted"
	// EventAborted: all traffic went back to the stable release.
	EventAborted EventKind = "aborted"
	// EventScaledDown: the new release's pods were scaled down after an
	// abort, committed (an EventSynced follows once it is synced).
	EventScaledDown EventKind = "scaledDown"
	// EventCompleted: the new release is the stable one.
	EventCompleted EventKind = "completed"
	// EventConflict: a commit lost the record's compare-and-swap and the
	// run re-read Git.
	EventConflict EventKind = "conflict"
)

// Event is one thing a run did or decided.
type Event struct {
	// Kind says what happened, Time when (on the runner's clock).
	Kind EventKind
	Time time.Time
	// App, Environment and Strategy name the run.
	App, Environment string
	Strategy         Kind
	// Release is the release the run rolls out, and Stable the one it
	// replaces.
	Release, Stable flightdeck.Release
	// Step is the index of the step the run is at, Steps the plan's
	// length, and StepText the step as [Step.String] prints it.
	Step, Steps int
	StepText    string
	// Desired is what the overlay says after the event.
	Desired Desired
	// Commit is the commit of a step, abort or completion.
	Commit string
	// Analysis is the record of an analysis (EventAnalysis).
	Analysis *health.RunResult
	// Phase is the run's phase after the event.
	Phase RunPhase
	// Message says why.
	Message string
	// Took is how long the step's sync took (EventSynced), on the clock.
	Took time.Duration
}

// Observer receives every event of a run, in order, from the
// goroutine that runs it. It must not block for long.
type Observer interface {
	Observe(e Event)
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(e Event)

// Observe calls f(e).
func (f ObserverFunc) Observe(e Event) { f(e) }

var _ Observer = ObserverFunc(nil)

// Printer is an [Observer] that prints one line per event for a
// terminal:
//
//	shop/prod 1/7 setWeight 10%: committed, weight 10% (stable ×3, canary ×1)
//	shop/prod 1/7 setWeight 10%: synced, healthy
//	shop/prod 2/7 analysis errors: Successful (all 1 metrics successful)
//
// Lines carry no times or commit hashes unless asked, so that the output
// of a run on a fake clock is the same every time. Safe for concurrent
// use.
type Printer struct {
	mu      sync.Mutex
	w       io.Writer
	commits bool
}

var _ Observer = (*Printer)(nil)

// NewPrinter returns a Printer writing to w; with commits set, step lines
// end with the commit's short hash.
func NewPrinter(w io.Writer, commits bool) *Printer { return &Printer{w: w, commits: commits} }

// Observe prints e.
func (p *Printer) Observe(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, p.line(e))
}

func (p *Printer) line(e Event) string {
	where := e.App + "/" + e.Environment
	at := ""
	if e.Step < e.Steps {
		at = fmt.Sprintf(" %d/%d %s", e.Step+1, e.Steps, e.StepText)
	}
	var what string
	switch e.Kind {
	case EventPrepared:
		what = "prepared the overlay for " + string(e.Strategy)
		at = ""
	case EventStarted:
		what = e.Message
		at = ""
	case EventStep:
		what = "committed, " + describeDesired(e.Strategy, e.Desired)
	case EventSynced:
		what = "synced, healthy"
	case EventAnalysis:
		what = string(e.Analysis.Phase)
		if e.Analysis.Message != "" {
			what += " (" + e.Analysis.Message + ")"
		}
	case EventPaused, EventPromoted, EventConflict:
		what = string(e.Kind) + ": " + e.Message
	case EventAborted:
		what = "aborted: " + e.Message + "; " + describeDesired(e.Strategy, e.Desired)
	case EventScaledDown:
		what = "scaled down: " + describeDesired(e.Strategy, e.Desired)
	case EventCompleted:
		what = "completed: " + describeDesired(e.Strategy, e.Desired)
		at = ""
	default:
		what = string(e.Kind) + " " + e.Message
	}
	line := where + at + ": " + what
	if p.commits && e.Commit != "" {
		c := e.Commit
		if len(c) > 7 {
			c = c[:7]
		}
		line += " [" + c + "]"
	}
	return line
}

// describeDesired says where the traffic and the pods are, in words for
// the strategy.
func describeDesired(k Kind, d Desired) string {
	pods := func(w Workload) string { return fmt.Sprintf("×%d", w.Replicas) }
	switch k {
	case KindRolling:
		return fmt.Sprintf("release %s %s", shortDigest(d.Stable), pods(d.Stable))
	case KindBlueGreen:
		active := "stable"
		if d.Weight == MaxWeight {
			active = "new"
		}
		return fmt.Sprintf("active on the %s release (stable %s, new %s)", active, pods(d.Stable), pods(d.Canary))
	}
	return fmt.Sprintf("weight %d%% (stable %s, canary %s)", d.Weight, pods(d.Stable), pods(d.Canary))
}

func shortDigest(w Workload) string {
	d := strings.TrimPrefix(w.Release.Digest, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

// metrics are a runner's Prometheus metrics. Labels come from small
// fixed sets: the strategy kind, the step kind, a phase, an abort cause.
type metrics struct {
	steps     *prometheus.CounterVec
	stepTime  *prometheus.HistogramVec
	syncTime  *prometheus.HistogramVec
	analyses  *prometheus.CounterVec
	aborts    *prometheus.CounterVec
	runs      *prometheus.CounterVec
	conflicts *prometheus.CounterVec
}

// Abort causes, the values of the cause label of
// flightdeck_rollout_aborts_total.
const (
	causeAnalysis  = "analysis"
	causeUnhealthy = "unhealthy"
	causeManual    = "manual"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flightdeck_rollout_steps_total",
			Help: "Steps of rollouts begun (one commit each), by strategy and step kind.",
		}, []string{"strategy", "step"}),
		stepTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flightdeck_rollout_step_duration_seconds",
			Help:    "Time from a step's commit to the end of the step (sync, pause, analysis), by strategy and step kind.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}, []string{"strategy", "step"}),
		syncTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flightdeck_rollout_sync_duration_seconds",
			Help:    "Time from a rollout commit to the app being synced and healthy on it, by strategy.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 12),
		}, []string{"strategy"}),
		analyses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flightdeck_rollout_analyses_total",
			Help: "Analyses of rollouts ended, by strategy and phase.",
		}, []string{"strategy", "phase"}),
		aborts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flightdeck_rollout_aborts_total",
			Help: "Rollouts aborted, by strategy and cause (analysis, unhealthy, manual).",
		}, []string{"strategy", "cause"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flightdeck_rollout_runs_total",
			Help: "Rollout runs ended, by strategy and phase (Completed, Aborted).",
		}, []string{"strategy", "phase"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flightdeck_rollout_conflicts_total",
			Help: "Rollout commits that lost the run record's compare-and-swap, by strategy.",
		}, []string{"strategy"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	for _, c := range []**prometheus.CounterVec{&m.steps, &m.analyses, &m.aborts, &m.runs, &m.conflicts} {
		if *c, err = register(reg, *c); err != nil {
			return nil, err
		}
	}
	for _, h := range []**prometheus.HistogramVec{&m.stepTime, &m.syncTime} {
		if *h, err = register(reg, *h); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// register registers c, or returns the collector already registered
// under its name (several runners share one registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
		return c, nil
	case errors.As(err, &are):
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("registering rollout metrics: %w", err)
}
