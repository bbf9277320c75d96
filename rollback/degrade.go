package rollback

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/health"
)

// Signal is one metric a degradation check compares between the new
// release and the previous one, such as p95 latency, error rate or CPU
// per request.
type Signal struct {
	// Name names the signal in the judgement and the evidence. Required.
	Name string
	// Query is what Source measures (a PromQL query), for the evidence.
	Query string
	// Source returns the signal's samples over a window; the same
	// source serves both windows (the environment before and after the
	// deploy), unless Baseline is set. A health.PrometheusQuery is one.
	// Required.
	Source health.SampleSource
	// Baseline, when set, serves the baseline window instead of Source.
	Baseline health.SampleSource
	// Direction is what counts against the new release; empty means
	// [health.Increase] (more latency, errors or CPU is worse).
	Direction health.Direction
	// AllowedIncrease is the effect-size gate on the ratio of means
	// (current / baseline) below which a significant rise is still a
	// Pass, for example 1.2 for +20%; zero means no gate beyond the
	// test (Kayenta's default).
	AllowedIncrease float64
}

// DegradationRequest asks [Controller.CheckDegradation] to compare a new
// release with the previous one. The zero value of every field but
// Target and Signals is the default.
type DegradationRequest struct {
	// Target is the app and environment.
	Target gitops.Target
	// Deploy names the new release's deploy commit; empty means the
	// current deploy.
	Deploy string
	// Signals are compared one by one. Required.
	Signals []Signal
	// Since is when the new release took all the traffic (for example
	// when its verification's wait ended); zero means the deploy
	// commit's time.
	Since time.Time
	// Window is the length of both windows; zero means
	// [DefaultWindow]. Step is the spacing of samples; zero means
	// [DefaultStep].
	Window, Step time.Duration
	// Judge configures the Mann-Whitney judge (confidence, tolerance);
	// zero means Kayenta's defaults.
	Judge health.JudgeConfig
	// Response overrides the Controller's [Policy] for a degraded
	// release.
	Response Response
}

// Defaults of a [DegradationRequest].
const (
	DefaultWindow = 10 * time.Minute
	DefaultStep   = time.Minute
)

// Comparison is the outcome of [Controller.CheckDegradation].
type Comparison struct {
	// Target is the app and environment, Deploy the new release's
	// deploy.
	Target gitops.Target
	Deploy gitops.Entry
	// Baseline is the window before Since, served by the previous
	// release; Current the window after it, of the same length and step.
	Baseline, Current [2]time.Time
	// Judgement is the judge's verdict on every signal.
	Judgement health.Judgement
	// Degraded reports whether a signal was classified High (Low for a
	// signal whose direction is Decrease).
	Degraded bool
	// Evidence is the comparison's record.
	Evidence *Evidence
	// Rollback is the rollback the degradation triggered, if any.
	Rollback *Outcome
}

// CheckDegradation compares the new release of t with the previous one
// over matching windows: the samples of each signal in the Window before
// Since (the previous release, serving alone) and in the Window after it
// (the new release), at the same Step, judged by the Mann-Whitney judge
// ([health.Judge]: a two-sided Mann-Whitney U test, the Hodges-Lehmann
// shift with its confidence interval, and the ratio of means). A signal
// classified High (more latency, errors or CPU than the noise allows)
// makes the release degraded, which rolls it back by default (see
// [Policy]) with the comparison as evidence. Each sample stands for the
// step before its time: a window [s, s+Window) is read as the samples at
// s+Step ... s+Window. If the current window has not ended yet,
// CheckDegradation waits for it on the Controller's clock.
//
// Errors wrap [ErrInvalidRequest] for no signals or a signal without
// name or source, the sources' errors, health.ErrInvalidJudgement, or
// the rollback's.
func (c *Controller) CheckDegradation(ctx context.Context, req DegradationRequest) (Comparison, error) {
	t := req.Target
	cmp := Comparison{Target: t}
	where := "check degradation of " + t.String()
	if len(req.Signals) == 0 {
		return cmp, fmt.Errorf("%s: %w: no signals", where, ErrInvalidRequest)
	}
	for i, s := range req.Signals {
		if s.Name == "" || s.Source == nil {
			return cmp, fmt.Errorf("%s: %w: signal %d needs a name and a source", where, ErrInvalidRequest, i)
		}
	}
	window, step := req.Window, req.Step
	if window <= 0 {
		window = DefaultWindow
	}
	if step <= 0 {
		step = DefaultStep
	}
	if step > window {
		return cmp, fmt.Errorf("%s: %w: step %s longer than window %s", where, ErrInvalidRequest, step, window)
	}
	var err error
	if req.Deploy == "" {
		cmp.Deploy, err = c.Current(ctx, t, "")
	} else {
		cmp.Deploy, err = c.Deploy(ctx, t, req.Deploy, "")
	}
	if err != nil {
		return cmp, fmt.Errorf("%s: %w", where, err)
	}
	since := req.Since
	if since.IsZero() {
		since = cmp.Deploy.Time
	}
	cmp.Baseline = [2]time.Time{since.Add(-window), since}
	cmp.Current = [2]time.Time{since, since.Add(window)}
	if wait := cmp.Current[1].Sub(c.now()); wait > 0 {
		if err := clock.Sleep(ctx, c.o.clock, wait); err != nil {
			return cmp, fmt.Errorf("%s: waiting for the current window: %w", where, err)
		}
	}

	ev := &Evidence{Trigger: TriggerDegradation, Started: cmp.Baseline[0], Finished: cmp.Current[1]}
	metrics := make([]health.CanaryMetric, len(req.Signals))
	for i, s := range req.Signals {
		base := s.Baseline
		if base == nil {
			base = s.Source
		}
		control, err := base.Range(ctx, cmp.Baseline[0].Add(step), cmp.Baseline[1], step)
		if err != nil {
			return cmp, fmt.Errorf("%s: baseline of %s: %w", where, s.Name, err)
		}
		experiment, err := s.Source.Range(ctx, cmp.Current[0].Add(step), cmp.Current[1], step)
		if err != nil {
			return cmp, fmt.Errorf("%s: current %s: %w", where, s.Name, err)
		}
		dir := s.Direction
		if dir == "" {
			dir = health.Increase
		}
		metrics[i] = health.CanaryMetric{Name: s.Name, Direction: dir, AllowedIncrease: s.AllowedIncrease,
			Control: control, Experiment: experiment}
		ev.Metrics = append(ev.Metrics, MetricEvidence{Name: s.Name, Query: s.Query, Threshold: threshold(req.Judge, s, dir),
			Baseline: stats(cmp.Baseline[0], cmp.Baseline[1], control), Current: stats(cmp.Current[0], cmp.Current[1], experiment)})
	}
	j, err := health.Judge(req.Judge, metrics)
	if err != nil {
		return cmp, fmt.Errorf("%s: %w", where, err)
	}
	cmp.Judgement = j
	var worse []string
	for i, v := range j.Metrics {
		v := v
		ev.Metrics[i].Verdict = &v
		ev.Metrics[i].Phase = health.Successful
		ev.Metrics[i].Message = v.Reason
		bad := v.Classification == health.High || v.Classification == health.Low
		switch {
		case bad:
			ev.Metrics[i].Phase = health.Failed
			worse = append(worse, fmt.Sprintf("%s %s (ratio %s)", v.Name, v.Classification, num(v.Ratio)))
		case v.Classification == health.Nodata:
			ev.Metrics[i].Phase = health.Inconclusive
		}
	}
	cmp.Degraded = len(worse) > 0
	verdict := "not degraded"
	ev.Summary = fmt.Sprintf("not degraded: every signal passed (score %s)", num(j.Score))
	if cmp.Degraded {
		verdict = "degraded"
		ev.Summary = "degraded: " + strings.Join(worse, ", ")
	}
	cmp.Evidence = ev
	rel, _ := cmp.Deploy.Release()
	c.emit(ctx, Event{Kind: EventVerdict, Target: t, Trigger: TriggerDegradation, Verdict: verdict, Release: rel, Commit: cmp.Deploy.Commit.String(), Message: ev.Summary})
	response := req.Response
	if response == "" {
		response = orResponse(c.o.policy.Degradation, RollBack)
	}
	if !cmp.Degraded || response != RollBack {
		return cmp, nil
	}
	out, err := c.Rollback(ctx, Request{Target: t, Reverts: cmp.Deploy.Commit.String(), Trigger: TriggerDegradation,
		Reason: "performance " + ev.Summary, Evidence: ev})
	cmp.Rollback = &out
	if err != nil {
		return cmp, fmt.Errorf("%s: %w", where, err)
	}
	return cmp, nil
}

// threshold describes how a signal is judged.
func threshold(cfg health.JudgeConfig, s Signal, dir health.Direction) string {
	conf, tol := cfg.Confidence, cfg.Tolerance
	if conf == 0 {
		conf = 0.98
	}
	if tol == 0 {
		tol = 0.25
	}
	gate := "no ratio gate"
	if s.AllowedIncrease > 0 {
		gate = "ratio at least " + num(s.AllowedIncrease)
	}
	return fmt.Sprintf("Mann-Whitney, %s counts against: %s%% interval clears %s×|shift|, %s", dir, num(conf*100), num(tol), gate)
}
