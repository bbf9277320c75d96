package strategy

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Plan is a compiled strategy: the steps that take one app in one
// environment from its stable release to a new one, with every default
// applied, so that the plan alone says what will run. It validates
// ([Plan.Validate]), hashes ([Plan.Hash]) and prints ([Plan.String],
// [Plan.Mermaid]) before anything runs.
//
// A plan ends with its finish, Steps[Finish:], the steps that make the new
// release the stable one: setWeight 100%, switchActive and scaleDown for a
// canary; the full-scale step (if any), switchActive, the post-promotion
// analysis (if any) and scaleDown for blue-green; the one setWeight 100%
// of a rolling plan.
type Plan struct {
	// App is the application the plan rolls out.
	App string `json:"app"`
	// Environment is the environment it rolls out in.
	Environment string `json:"environment"`
	// Strategy is the kind of strategy the plan was compiled from.
	Strategy Kind `json:"strategy"`
	// Steps are the steps in order.
	Steps []Step `json:"steps"`
	// Finish is the index of the first step of the finish. A full
	// promotion jumps there and then runs only the steps that are neither
	// a pause nor an analysis.
	Finish int `json:"finish"`
	// MaxSurge and MaxUnavailable bound the pods while replica counts
	// change (rolling and canary plans; zero in blue-green plans).
	MaxSurge       IntOrPercent `json:"maxSurge,omitzero"`
	MaxUnavailable IntOrPercent `json:"maxUnavailable,omitzero"`
	// TrafficRouting, in a canary plan, splits traffic by HTTPRoute
	// weights; nil splits it by the replica ratio.
	TrafficRouting *TrafficRouting `json:"trafficRouting,omitempty"`
	// DynamicStableScale, in a traffic-routed canary plan, scales the
	// stable down as traffic moves to the canary.
	DynamicStableScale bool `json:"dynamicStableScale,omitempty"`
	// ActiveService and PreviewService are a blue-green plan's Services.
	ActiveService  string `json:"activeService,omitempty"`
	PreviewService string `json:"previewService,omitempty"`
	// Abort says what an abort does to the new release's pods once all
	// traffic is back on the stable release.
	Abort AbortPolicy `json:"abort"`
}

// TrafficRouting names the Gateway API HTTPRoute that carries a canary's
// traffic split and the two Services it weighs.
type TrafficRouting struct {
	// HTTPRoute is the HTTPRoute's name.
	HTTPRoute string `json:"httpRoute"`
	// StableService is the backendRef that selects the stable release.
	StableService string `json:"stableService"`
	// CanaryService is the backendRef that selects the new release.
	CanaryService string `json:"canaryService"`
}

// AbortScaleDown says when an abort scales the new release down.
type AbortScaleDown string

// The abort scale-down policies.
const (
	// ScaleDownAfterDelay keeps the new release's pods for
	// AbortPolicy.Delay after all traffic is back on stable.
	ScaleDownAfterDelay AbortScaleDown = "afterDelay"
	// ScaleDownNever keeps them until the next release (Argo Rollouts'
	// abortScaleDownDelaySeconds: 0).
	ScaleDownNever AbortScaleDown = "never"
	// ScaleDownWithTraffic scales them down as the traffic returns to
	// stable: the replica arithmetic of a canary without traffic routing,
	// a rolling update back, or a dynamically scaled stable.
	ScaleDownWithTraffic AbortScaleDown = "withTraffic"
)

// AbortPolicy is what an abort does to the new release's pods.
type AbortPolicy struct {
	// ScaleDown is the policy.
	ScaleDown AbortScaleDown `json:"scaleDown"`
	// Delay is the delay of [ScaleDownAfterDelay]; zero otherwise.
	Delay Duration `json:"delay,omitzero"`
}

// String returns "scale the new release down after 30s", "keep the new
// release's pods" or "scale the new release down with its traffic".
func (a AbortPolicy) String() string {
	switch a.ScaleDown {
	case ScaleDownAfterDelay:
		return "scale the new release down after " + a.Delay.String()
	case ScaleDownNever:
		return "keep the new release's pods"
	case ScaleDownWithTraffic:
		return "scale the new release down with its traffic"
	}
	return fmt.Sprintf("scale down %q", string(a.ScaleDown))
}

// ParsePlan decodes a plan from JSON, refusing unknown fields, and
// validates it. It returns errors wrapping [ErrInvalidStrategy] for a
// plan that decodes but breaks a rule.
func ParsePlan(data []byte) (Plan, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return Plan{}, fmt.Errorf("decoding plan: %w", err)
	}
	if dec.More() {
		return Plan{}, fmt.Errorf("decoding plan: data after the plan")
	}
	if err := p.Validate(); err != nil {
		return Plan{}, fmt.Errorf("plan for app %q in %q: %w", p.App, p.Environment, err)
	}
	return p, nil
}

// Validate checks a plan, for example one read back from Git: each step
// has exactly one kind and keeps its kind's rules, the strategy's rules
// hold, and the finish has the shape its strategy gives it. Compiled plans
// always pass. The error joins one [FieldError] per broken rule, each
// wrapping [ErrInvalidStrategy].
func (p Plan) Validate() error {
	var c checker
	c.target(p.App, p.Environment)
	c.abort(p.Abort)
	if len(p.Steps) == 0 {
		c.field("steps", "a plan has at least one step")
	} else if p.Finish < 0 || p.Finish >= len(p.Steps) {
		c.field("finish", "must be the index of a step (0 to %d), got %d", len(p.Steps)-1, p.Finish)
	}
	finishOK := len(p.Steps) > 0 && p.Finish >= 0 && p.Finish < len(p.Steps)
	switch p.Strategy {
	case KindRolling:
		c.steps(p.Steps, stepRules{refuse: map[StepKind]string{
			StepSetCanaryScale: "not a rolling step",
			StepSwitchActive:   "not a rolling step",
			StepScaleDown:      "not a rolling step",
		}})
		c.surge(p.MaxSurge, p.MaxUnavailable)
		if finishOK {
			c.finishWeight(p.Finish, p.Steps[p.Finish])
		}
	case KindCanary:
		refuse := map[StepKind]string{}
		if p.TrafficRouting == nil {
			refuse[StepSetCanaryScale] = "requires trafficRouting"
		}
		c.steps(p.Steps, stepRules{refuse: refuse})
		c.surge(p.MaxSurge, p.MaxUnavailable)
		if p.TrafficRouting != nil {
			c.trafficRouting(p.TrafficRouting)
		} else {
			if p.DynamicStableScale {
				c.field("dynamicStableScale", "can only be used with trafficRouting")
			}
			if p.Abort.ScaleDown != ScaleDownWithTraffic {
				c.field("abort.scaleDown", "a canary without trafficRouting scales down with traffic, got %q", p.Abort.ScaleDown)
			}
		}
		if finishOK {
			c.canaryFinish(p.Steps, p.Finish)
		}
	case KindBlueGreen:
		c.steps(p.Steps, stepRules{refuse: map[StepKind]string{
			StepSetWeight: "not a blue-green step: blue-green moves traffic with switchActive",
		}})
		c.services(p.ActiveService, p.PreviewService)
		if p.Abort.ScaleDown == ScaleDownWithTraffic {
			c.field("abort.scaleDown", "a blue-green abort scales down after a delay or never, got %q", p.Abort.ScaleDown)
		}
		if finishOK {
			c.blueGreenFinish(p.Steps, p.Finish)
		}
	default:
		c.field("strategy", "must be %q, %q or %q, got %q", KindRolling, KindBlueGreen, KindCanary, p.Strategy)
	}
	return c.err()
}

func (c *checker) abort(a AbortPolicy) {
	switch a.ScaleDown {
	case ScaleDownAfterDelay, ScaleDownNever, ScaleDownWithTraffic:
	default:
		c.field("abort.scaleDown", "must be %q, %q or %q, got %q", ScaleDownAfterDelay, ScaleDownNever, ScaleDownWithTraffic, a.ScaleDown)
		return
	}
	if a.Delay < 0 {
		c.field("abort.delay", "must not be negative, got %s", a.Delay)
	}
	if a.Delay != 0 && a.ScaleDown != ScaleDownAfterDelay {
		c.field("abort.delay", "only %q has a delay", ScaleDownAfterDelay)
	}
}

func (c *checker) finishWeight(i int, s Step) {
	if s.Kind() != StepSetWeight || *s.SetWeight != MaxWeight {
		c.step(i, "", "the finish starts with setWeight %d%%, got %s", MaxWeight, s)
	}
}

// canaryFinish checks that a canary plan ends with exactly setWeight 100%,
// switchActive and scaleDown, and has neither a switch nor a scale-down
// before.
func (c *checker) canaryFinish(steps []Step, finish int) {
	for i, s := range steps[:finish] {
		if k := s.Kind(); k == StepSwitchActive || k == StepScaleDown {
			c.step(i, string(k), "only in the finish of a canary plan (from step %d)", finish)
		}
	}
	want := []StepKind{StepSetWeight, StepSwitchActive, StepScaleDown}
	got := steps[finish:]
	if len(got) != len(want) {
		c.field("finish", "a canary finish is setWeight 100%%, switchActive, scaleDown; got %d steps", len(got))
		return
	}
	c.finishWeight(finish, got[0])
	for j, k := range want[1:] {
		if got[j+1].Kind() != k {
			c.step(finish+j+1, "", "a canary finish is setWeight 100%%, switchActive, scaleDown; got %s here", got[j+1])
		}
	}
}

// blueGreenFinish checks that a blue-green plan switches exactly once, in
// its finish, and ends with its only scaleDown.
func (c *checker) blueGreenFinish(steps []Step, finish int) {
	switches := 0
	for i, s := range steps {
		switch s.Kind() {
		case StepSwitchActive:
			switches++
			if i < finish {
				c.step(i, "switchActive", "only in the finish of a blue-green plan (from step %d)", finish)
			}
		case StepScaleDown:
			if i != len(steps)-1 {
				c.step(i, "scaleDown", "only as the last step of a blue-green plan")
			}
		}
	}
	if switches != 1 {
		c.field("steps", "a blue-green plan switches exactly once, this one %d times", switches)
	}
	if last := steps[len(steps)-1]; last.Kind() != StepScaleDown {
		c.step(len(steps)-1, "", "a blue-green plan ends with scaleDown, got %s", last)
	}
}

// WeightAt returns the canary weight in effect at step i of a canary or
// rolling plan, as Argo Rollouts computes it: the last setWeight at or
// before i, 0 before the first, and 100 from len(Steps) on.
func (p Plan) WeightAt(i int) int32 {
	if i >= len(p.Steps) {
		return MaxWeight
	}
	for ; i >= 0; i-- {
		if w := p.Steps[i].SetWeight; w != nil {
			return *w
		}
	}
	return 0
}
