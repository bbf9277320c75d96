package strategy

import (
	"fmt"
	"slices"
	"time"
)

// Defaults applied when a spec leaves a field unset, as Argo Rollouts'.
const (
	// DefaultScaleDownDelay is how long the old workload keeps its pods
	// after the switch: blue-green, and canaries with traffic routing.
	DefaultScaleDownDelay = 30 * time.Second
	// DefaultAbortScaleDownDelay is how long the new release keeps its
	// pods after an abort: blue-green, and canaries with traffic routing.
	DefaultAbortScaleDownDelay = 30 * time.Second
	// MaxWeight is the whole of the traffic, in percent.
	MaxWeight = 100
)

// DefaultMaxSurgePercent and DefaultMaxUnavailablePercent are the
// defaults of maxSurge and maxUnavailable, in percent of the app's
// replicas, as Kubernetes Deployments' and Argo Rollouts'.
const (
	DefaultMaxSurgePercent       = 25
	DefaultMaxUnavailablePercent = 25
)

// Spec is a strategy specification: [Rolling], [BlueGreen], [Canary], or
// a [Strategy] holding one of them.
type Spec interface {
	// Kind returns the strategy's kind.
	Kind() Kind
	// Validate checks the spec with Argo Rollouts' rules; the error joins
	// one [FieldError] per broken rule.
	Validate() error
	// Compile validates the spec and returns the plan that carries it out
	// for app in environment, defaults applied.
	Compile(app, environment string) (Plan, error)
}

var (
	_ Spec = Rolling{}
	_ Spec = BlueGreen{}
	_ Spec = Canary{}
	_ Spec = Strategy{}
)

// checkCompile validates a spec and the app and environment it is
// compiled for, naming the plan in the error.
func checkCompile(s Spec, app, env string) error {
	var c checker
	c.target(app, env)
	c.errs = append(c.errs, s.Validate())
	if err := c.err(); err != nil {
		return fmt.Errorf("%s plan for app %q in %q: %w", s.Kind(), app, env, err)
	}
	return nil
}

// Rolling is the Deployment's own rolling update, within maxSurge and
// maxUnavailable. It compiles to one step, setWeight 100%: Argo Rollouts'
// canary without steps.
type Rolling struct {
	// MaxSurge is how many pods may run above the app's replicas
	// (default 25%, rounded up).
	MaxSurge *IntOrPercent `json:"maxSurge,omitempty"`
	// MaxUnavailable is how many pods may be unavailable (default 25%,
	// rounded down). It cannot be zero when MaxSurge is.
	MaxUnavailable *IntOrPercent `json:"maxUnavailable,omitempty"`
}

// Kind returns [KindRolling].
func (Rolling) Kind() Kind { return KindRolling }

// Validate checks maxSurge and maxUnavailable. It returns errors wrapping
// [ErrInvalidStrategy].
func (r Rolling) Validate() error {
	var c checker
	c.surge(orDefault(r.MaxSurge, Percent(DefaultMaxSurgePercent)), orDefault(r.MaxUnavailable, Percent(DefaultMaxUnavailablePercent)))
	return c.err()
}

// Compile returns the rolling plan. It returns errors wrapping
// [ErrInvalidStrategy].
func (r Rolling) Compile(app, environment string) (Plan, error) {
	if err := checkCompile(r, app, environment); err != nil {
		return Plan{}, err
	}
	return Plan{
		App:            app,
		Environment:    environment,
		Strategy:       KindRolling,
		Steps:          []Step{SetWeight(MaxWeight)},
		Finish:         0,
		MaxSurge:       orDefault(r.MaxSurge, Percent(DefaultMaxSurgePercent)),
		MaxUnavailable: orDefault(r.MaxUnavailable, Percent(DefaultMaxUnavailablePercent)),
		Abort:          AbortPolicy{ScaleDown: ScaleDownWithTraffic},
	}, nil
}

// BlueGreen runs the new release (the preview colour) beside the active
// one, optionally analyses it, and switches the active Service to it in
// one step, keeping the old colour for ScaleDownDelaySeconds. The fields
// are Argo Rollouts' BlueGreenStrategy's.
type BlueGreen struct {
	// ActiveService is the Service that carries production traffic.
	ActiveService string `json:"activeService"`
	// PreviewService, when set, is the Service that selects the new
	// colour before the switch.
	PreviewService string `json:"previewService,omitempty"`
	// AutoPromotionEnabled switches as soon as the preview is ready and
	// its analysis passed (default true); false pauses until promoted.
	AutoPromotionEnabled *bool `json:"autoPromotionEnabled,omitempty"`
	// AutoPromotionSeconds, when positive, pauses that long before an
	// automatic switch.
	AutoPromotionSeconds int32 `json:"autoPromotionSeconds,omitempty"`
	// ScaleDownDelaySeconds is how long the old colour keeps its pods
	// after the switch (and after a passed post-promotion analysis);
	// default 30.
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
	// PrePromotionAnalysis runs against the preview before the switch; its
	// failure aborts.
	PrePromotionAnalysis *Analysis `json:"prePromotionAnalysis,omitempty"`
	// PostPromotionAnalysis runs after the switch; its failure switches
	// back.
	PostPromotionAnalysis *Analysis `json:"postPromotionAnalysis,omitempty"`
	// PreviewReplicaCount, when set, runs the preview with this many
	// replicas; it is scaled to the full count just before the switch.
	PreviewReplicaCount *int32 `json:"previewReplicaCount,omitempty"`
	// AbortScaleDownDelaySeconds is how long the new colour keeps its pods
	// after an abort (default 30); 0 keeps them until the next release.
	AbortScaleDownDelaySeconds *int32 `json:"abortScaleDownDelaySeconds,omitempty"`
}

// Kind returns [KindBlueGreen].
func (BlueGreen) Kind() Kind { return KindBlueGreen }

// Validate checks the spec. It returns errors wrapping
// [ErrInvalidStrategy].
func (b BlueGreen) Validate() error {
	var c checker
	c.services(b.ActiveService, b.PreviewService)
	c.nonNegative(-1, "autoPromotionSeconds", int64(b.AutoPromotionSeconds), "")
	if b.AutoPromotionEnabled != nil && !*b.AutoPromotionEnabled && b.AutoPromotionSeconds > 0 {
		c.field("autoPromotionSeconds", "has no effect when autoPromotionEnabled is false")
	}
	c.nonNegativePtr("scaleDownDelaySeconds", b.ScaleDownDelaySeconds)
	c.nonNegativePtr("abortScaleDownDelaySeconds", b.AbortScaleDownDelaySeconds)
	c.nonNegativePtr("previewReplicaCount", b.PreviewReplicaCount)
	if b.PrePromotionAnalysis != nil {
		c.analysis(-1, "prePromotionAnalysis", *b.PrePromotionAnalysis)
	}
	if b.PostPromotionAnalysis != nil {
		c.analysis(-1, "postPromotionAnalysis", *b.PostPromotionAnalysis)
	}
	return c.err()
}

// Compile returns the blue-green plan:
//
//	setCanaryScale previewReplicaCount (or 100%)   the preview comes up
//	analysis (prePromotionAnalysis)                 if set
//	pause until promoted | pause autoPromotionSeconds
//	setCanaryScale 100%                             if previewReplicaCount is set
//	switchActive                                    the active Service moves
//	analysis (postPromotionAnalysis)                if set
//	scaleDown after scaleDownDelaySeconds           the old colour goes
//
// The finish starts at the full-scale step, or at switchActive. It returns
// errors wrapping [ErrInvalidStrategy].
func (b BlueGreen) Compile(app, environment string) (Plan, error) {
	if err := checkCompile(b, app, environment); err != nil {
		return Plan{}, err
	}
	var steps []Step
	if b.PreviewReplicaCount != nil {
		steps = append(steps, ScaleCanary(*b.PreviewReplicaCount))
	} else {
		steps = append(steps, ScaleCanaryWeight(MaxWeight))
	}
	if b.PrePromotionAnalysis != nil {
		steps = append(steps, Step{Analysis: &AnalysisStep{Analysis: cloneAnalysis(*b.PrePromotionAnalysis)}})
	}
	switch {
	case b.AutoPromotionEnabled != nil && !*b.AutoPromotionEnabled:
		steps = append(steps, PauseUntilPromoted())
	case b.AutoPromotionSeconds > 0:
		steps = append(steps, Pause(seconds(b.AutoPromotionSeconds)))
	}
	finish := len(steps)
	if b.PreviewReplicaCount != nil {
		steps = append(steps, ScaleCanaryWeight(MaxWeight))
	}
	steps = append(steps, SwitchActive())
	if b.PostPromotionAnalysis != nil {
		steps = append(steps, Step{Analysis: &AnalysisStep{Analysis: cloneAnalysis(*b.PostPromotionAnalysis)}})
	}
	steps = append(steps, ScaleDown(secondsOr(b.ScaleDownDelaySeconds, DefaultScaleDownDelay)))
	return Plan{
		App:            app,
		Environment:    environment,
		Strategy:       KindBlueGreen,
		Steps:          steps,
		Finish:         finish,
		ActiveService:  b.ActiveService,
		PreviewService: b.PreviewService,
		Abort:          abortAfter(b.AbortScaleDownDelaySeconds),
	}, nil
}

// Canary shifts traffic to the new release step by step. The fields are
// Argo Rollouts' CanaryStrategy's, with traffic routing by Gateway API
// HTTPRoute only.
type Canary struct {
	// Steps are the canary's steps: setWeight, pause, analysis and (with
	// TrafficRouting) setCanaryScale. Every canary plan ends with
	// setWeight 100%, switchActive and scaleDown, which are not written
	// here.
	Steps []Step `json:"steps,omitempty"`
	// TrafficRouting splits traffic by HTTPRoute weights; nil splits it by
	// the replica ratio of stable and canary pods behind one Service.
	TrafficRouting *TrafficRouting `json:"trafficRouting,omitempty"`
	// Analysis runs in the background from step StartingStep to the end.
	Analysis *BackgroundAnalysis `json:"analysis,omitempty"`
	// MaxSurge is how many pods may run above the app's replicas while
	// the replica ratio changes (default 25%, rounded up).
	MaxSurge *IntOrPercent `json:"maxSurge,omitempty"`
	// MaxUnavailable is how many pods may be unavailable while the
	// replica ratio changes (default 25%, rounded down).
	MaxUnavailable *IntOrPercent `json:"maxUnavailable,omitempty"`
	// ScaleDownDelaySeconds is how long the canary workload keeps its pods
	// after the stable took its release (traffic routing only; default
	// 30).
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
	// AbortScaleDownDelaySeconds is how long the canary keeps its pods
	// after an abort (traffic routing only; default 30); 0 keeps them
	// until the next release.
	AbortScaleDownDelaySeconds *int32 `json:"abortScaleDownDelaySeconds,omitempty"`
	// DynamicStableScale scales the stable down as traffic moves to the
	// canary, instead of keeping it at full scale (traffic routing only).
	DynamicStableScale bool `json:"dynamicStableScale,omitempty"`
}

// BackgroundAnalysis is a canary's background analysis.
type BackgroundAnalysis struct {
	Analysis
	// StartingStep is the index of the step the analysis starts before
	// (default 0, the start).
	StartingStep *int32 `json:"startingStep,omitempty"`
}

// Kind returns [KindCanary].
func (Canary) Kind() Kind { return KindCanary }

// Validate checks the spec with Argo Rollouts' rules. It returns errors
// wrapping [ErrInvalidStrategy].
func (cn Canary) Validate() error {
	var c checker
	refuse := map[StepKind]string{
		StepSwitchActive: "not a canary step: every canary plan ends with setWeight 100%, switchActive and scaleDown",
		StepScaleDown:    "not a canary step: every canary plan ends with setWeight 100%, switchActive and scaleDown",
	}
	if cn.TrafficRouting == nil {
		refuse[StepSetCanaryScale] = "requires trafficRouting"
	}
	c.steps(cn.Steps, stepRules{refuse: refuse})
	c.surge(orDefault(cn.MaxSurge, Percent(DefaultMaxSurgePercent)), orDefault(cn.MaxUnavailable, Percent(DefaultMaxUnavailablePercent)))
	c.nonNegativePtr("scaleDownDelaySeconds", cn.ScaleDownDelaySeconds)
	c.nonNegativePtr("abortScaleDownDelaySeconds", cn.AbortScaleDownDelaySeconds)
	if cn.TrafficRouting == nil {
		if cn.ScaleDownDelaySeconds != nil {
			c.field("scaleDownDelaySeconds", "can only be used with trafficRouting")
		}
		if cn.AbortScaleDownDelaySeconds != nil {
			c.field("abortScaleDownDelaySeconds", "can only be used with trafficRouting; without it an abort scales the canary down as its weight returns to 0")
		}
		if cn.DynamicStableScale {
			c.field("dynamicStableScale", "can only be used with trafficRouting")
		}
	} else {
		c.trafficRouting(cn.TrafficRouting)
		if cn.DynamicStableScale && cn.ScaleDownDelaySeconds != nil {
			c.field("dynamicStableScale", "cannot be used with scaleDownDelaySeconds")
		}
	}
	if a := cn.Analysis; a != nil {
		c.analysis(-1, "analysis", a.Analysis)
		if s := a.StartingStep; s != nil && (*s < 0 || int(*s) > len(cn.Steps)) {
			c.field("analysis.startingStep", "must be between 0 and %d (the number of steps), got %d", len(cn.Steps), *s)
		}
	}
	return c.err()
}

// Compile returns the canary plan: the steps as written, the background
// analysis inserted as a step before StartingStep, then the finish:
// setWeight 100%, switchActive and scaleDown after ScaleDownDelaySeconds
// (30s with traffic routing, at once without). It returns errors wrapping
// [ErrInvalidStrategy].
func (cn Canary) Compile(app, environment string) (Plan, error) {
	if err := checkCompile(cn, app, environment); err != nil {
		return Plan{}, err
	}
	steps := make([]Step, 0, len(cn.Steps)+4)
	for i, s := range cn.Steps {
		if a := cn.Analysis; a != nil && int(ptrOr(a.StartingStep, 0)) == i {
			steps = append(steps, Step{Analysis: &AnalysisStep{Analysis: cloneAnalysis(a.Analysis), Background: true}})
		}
		steps = append(steps, cloneStep(s))
	}
	if a := cn.Analysis; a != nil && int(ptrOr(a.StartingStep, 0)) == len(cn.Steps) {
		steps = append(steps, Step{Analysis: &AnalysisStep{Analysis: cloneAnalysis(a.Analysis), Background: true}})
	}
	finish := len(steps)
	scaleDownDelay := time.Duration(0)
	abort := AbortPolicy{ScaleDown: ScaleDownWithTraffic}
	var routing *TrafficRouting
	if cn.TrafficRouting != nil {
		r := *cn.TrafficRouting
		routing = &r
		scaleDownDelay = secondsOr(cn.ScaleDownDelaySeconds, DefaultScaleDownDelay)
		if !cn.DynamicStableScale || cn.AbortScaleDownDelaySeconds != nil {
			abort = abortAfter(cn.AbortScaleDownDelaySeconds)
		}
	}
	steps = append(steps, SetWeight(MaxWeight), SwitchActive(), ScaleDown(scaleDownDelay))
	return Plan{
		App:                app,
		Environment:        environment,
		Strategy:           KindCanary,
		Steps:              steps,
		Finish:             finish,
		MaxSurge:           orDefault(cn.MaxSurge, Percent(DefaultMaxSurgePercent)),
		MaxUnavailable:     orDefault(cn.MaxUnavailable, Percent(DefaultMaxUnavailablePercent)),
		TrafficRouting:     routing,
		DynamicStableScale: cn.DynamicStableScale,
		Abort:              abort,
	}, nil
}

// Strategy holds exactly one of the three specs, for configuration files:
// {"canary": {...}}, {"blueGreen": {...}} or {"rolling": {...}}.
type Strategy struct {
	// Rolling is a rolling update.
	Rolling *Rolling `json:"rolling,omitempty"`
	// BlueGreen is a blue-green rollout.
	BlueGreen *BlueGreen `json:"blueGreen,omitempty"`
	// Canary is a canary rollout.
	Canary *Canary `json:"canary,omitempty"`
}

// Spec returns the one spec s holds, or an error wrapping
// [ErrInvalidStrategy] when it holds none or several.
func (s Strategy) Spec() (Spec, error) {
	var specs []Spec
	if s.Rolling != nil {
		specs = append(specs, *s.Rolling)
	}
	if s.BlueGreen != nil {
		specs = append(specs, *s.BlueGreen)
	}
	if s.Canary != nil {
		specs = append(specs, *s.Canary)
	}
	if len(specs) != 1 {
		return nil, &FieldError{Step: -1, Reason: fmt.Sprintf("set exactly one of rolling, blueGreen, canary (%d set)", len(specs))}
	}
	return specs[0], nil
}

// Kind returns the kind of the spec s holds, or "" when it does not hold
// exactly one.
func (s Strategy) Kind() Kind {
	spec, err := s.Spec()
	if err != nil {
		return ""
	}
	return spec.Kind()
}

// Validate checks that s holds exactly one spec, and that spec. It
// returns errors wrapping [ErrInvalidStrategy].
func (s Strategy) Validate() error {
	spec, err := s.Spec()
	if err != nil {
		return err
	}
	return spec.Validate()
}

// Compile compiles the one spec s holds. It returns errors wrapping
// [ErrInvalidStrategy].
func (s Strategy) Compile(app, environment string) (Plan, error) {
	spec, err := s.Spec()
	if err != nil {
		return Plan{}, fmt.Errorf("plan for app %q in %q: %w", app, environment, err)
	}
	return spec.Compile(app, environment)
}

func orDefault(v *IntOrPercent, def IntOrPercent) IntOrPercent {
	if v == nil {
		return def
	}
	return *v
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func seconds(s int32) time.Duration { return time.Duration(s) * time.Second }

func secondsOr(s *int32, def time.Duration) time.Duration {
	if s == nil {
		return def
	}
	return seconds(*s)
}

// abortAfter resolves abortScaleDownDelaySeconds: unset is 30s, 0 never
// scales down.
func abortAfter(s *int32) AbortPolicy {
	switch {
	case s == nil:
		return AbortPolicy{ScaleDown: ScaleDownAfterDelay, Delay: Duration(DefaultAbortScaleDownDelay)}
	case *s == 0:
		return AbortPolicy{ScaleDown: ScaleDownNever}
	default:
		return AbortPolicy{ScaleDown: ScaleDownAfterDelay, Delay: Duration(seconds(*s))}
	}
}

// cloneAnalysis copies an analysis so a plan shares no memory with its
// spec.
func cloneAnalysis(a Analysis) Analysis {
	a.Templates = slices.Clone(a.Templates)
	a.DryRun = slices.Clone(a.DryRun)
	args := slices.Clone(a.Args)
	for i := range args {
		if v := args[i].ValueFrom; v != nil {
			c := *v
			args[i].ValueFrom = &c
		}
	}
	a.Args = args
	return a
}

// cloneStep copies a step so a plan shares no memory with its spec.
func cloneStep(s Step) Step {
	clonePtr := func(p *int32) *int32 {
		if p == nil {
			return nil
		}
		v := *p
		return &v
	}
	var out Step
	out.SetWeight = clonePtr(s.SetWeight)
	if s.Pause != nil {
		p := PauseStep{}
		if s.Pause.Duration != nil {
			d := *s.Pause.Duration
			p.Duration = &d
		}
		out.Pause = &p
	}
	if s.Analysis != nil {
		out.Analysis = &AnalysisStep{Analysis: cloneAnalysis(s.Analysis.Analysis), Background: s.Analysis.Background}
	}
	if s.SetCanaryScale != nil {
		out.SetCanaryScale = &CanaryScaleStep{
			Weight:             clonePtr(s.SetCanaryScale.Weight),
			Replicas:           clonePtr(s.SetCanaryScale.Replicas),
			MatchTrafficWeight: s.SetCanaryScale.MatchTrafficWeight,
		}
	}
	if s.SwitchActive != nil {
		out.SwitchActive = &SwitchStep{}
	}
	if s.ScaleDown != nil {
		sd := *s.ScaleDown
		out.ScaleDown = &sd
	}
	return out
}
