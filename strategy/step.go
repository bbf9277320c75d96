package strategy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind names a strategy.
type Kind string

// The strategies a [Plan] can be compiled from.
const (
	// KindRolling is the Deployment's own rolling update, watched to the end.
	KindRolling Kind = "rolling"
	// KindBlueGreen runs the new release beside the old one behind a
	// preview Service and switches the active Service to it in one step.
	KindBlueGreen Kind = "blueGreen"
	// KindCanary shifts traffic to the new release in weighted steps.
	KindCanary Kind = "canary"
)

// StepKind names the kind of a [Step].
type StepKind string

// The closed set of step kinds. A [Step] has exactly one of them.
const (
	StepSetWeight      StepKind = "setWeight"
	StepPause          StepKind = "pause"
	StepAnalysis       StepKind = "analysis"
	StepSetCanaryScale StepKind = "setCanaryScale"
	StepSwitchActive   StepKind = "switchActive"
	StepScaleDown      StepKind = "scaleDown"
)

// Step is one step of a plan: a closed sum with exactly one non-nil field,
// in the manner of Argo Rollouts' CanaryStep, so that a step serialises as
// {"setWeight":25}, {"pause":{}}, {"analysis":{...}} and so on. Build steps
// with [SetWeight], [Pause], [PauseUntilPromoted], [Analyze], [ScaleCanary],
// [SwitchActive] and [ScaleDown], or decode them from JSON.
type Step struct {
	// SetWeight sends this percentage (0–100) of the traffic to the new
	// release: HTTPRoute weights with traffic routing, the replica ratio
	// without it.
	SetWeight *int32 `json:"setWeight,omitempty"`
	// Pause holds the run for a duration, or until promoted.
	Pause *PauseStep `json:"pause,omitempty"`
	// Analysis runs named analyses, blocking the run (inline) or beside
	// the following steps (background).
	Analysis *AnalysisStep `json:"analysis,omitempty"`
	// SetCanaryScale scales the new release without changing the traffic
	// weight (traffic-routed canaries; blue-green preview scale).
	SetCanaryScale *CanaryScaleStep `json:"setCanaryScale,omitempty"`
	// SwitchActive makes the new release the one that serves: the active
	// Service's selector moves to the new colour (blue-green), or the
	// stable workload takes the canary's release (canary).
	SwitchActive *SwitchStep `json:"switchActive,omitempty"`
	// ScaleDown scales down, after a delay, the workload that stopped
	// serving at the preceding SwitchActive.
	ScaleDown *ScaleDownStep `json:"scaleDown,omitempty"`
}

// PauseStep is the body of a pause step.
type PauseStep struct {
	// Duration is how long to pause; nil pauses until promoted.
	Duration *Duration `json:"duration,omitempty"`
}

// AnalysisStep is the body of an analysis step.
type AnalysisStep struct {
	Analysis
	// Background starts the analysis and moves on at once; it then runs
	// beside the following steps until the plan finishes, and its failure
	// aborts the run at whatever step it has reached. An inline analysis
	// (the default) blocks the run until it ends.
	Background bool `json:"background,omitempty"`
}

// CanaryScaleStep is the body of a setCanaryScale step, as Argo Rollouts'
// SetCanaryScale: exactly one of its fields is set.
type CanaryScaleStep struct {
	// Weight scales the new release to this percentage of the app's
	// replicas (it may exceed 100).
	Weight *int32 `json:"weight,omitempty"`
	// Replicas scales the new release to this many replicas.
	Replicas *int32 `json:"replicas,omitempty"`
	// MatchTrafficWeight cancels an earlier Weight or Replicas: the new
	// release is scaled by its traffic weight again.
	MatchTrafficWeight bool `json:"matchTrafficWeight,omitempty"`
}

// SwitchStep is the body of a switchActive step. It has no fields: the
// Services and workloads it moves are named by the [Plan].
type SwitchStep struct{}

// ScaleDownStep is the body of a scaleDown step.
type ScaleDownStep struct {
	// Delay is how long after the switch the old workload keeps its
	// pods (Argo Rollouts' scaleDownDelaySeconds); zero scales down at once.
	Delay Duration `json:"delay"`
}

// SetWeight returns a step that sends weight percent of the traffic to the
// new release.
func SetWeight(weight int32) Step { return Step{SetWeight: &weight} }

// Pause returns a step that pauses for d.
func Pause(d time.Duration) Step {
	dur := Duration(d)
	return Step{Pause: &PauseStep{Duration: &dur}}
}

// PauseUntilPromoted returns a step that pauses until the run is promoted.
func PauseUntilPromoted() Step { return Step{Pause: &PauseStep{}} }

// Analyze returns an inline analysis step running the named templates.
func Analyze(templates ...string) Step {
	return Step{Analysis: &AnalysisStep{Analysis: Templates(templates...)}}
}

// AnalyzeInBackground returns a background analysis step running the named
// templates.
func AnalyzeInBackground(templates ...string) Step {
	return Step{Analysis: &AnalysisStep{Analysis: Templates(templates...), Background: true}}
}

// ScaleCanary returns a setCanaryScale step that scales the new release to
// replicas replicas.
func ScaleCanary(replicas int32) Step {
	return Step{SetCanaryScale: &CanaryScaleStep{Replicas: &replicas}}
}

// ScaleCanaryWeight returns a setCanaryScale step that scales the new
// release to weight percent of the app's replicas.
func ScaleCanaryWeight(weight int32) Step {
	return Step{SetCanaryScale: &CanaryScaleStep{Weight: &weight}}
}

// MatchTrafficWeight returns a setCanaryScale step that scales the new
// release by its traffic weight again.
func MatchTrafficWeight() Step {
	return Step{SetCanaryScale: &CanaryScaleStep{MatchTrafficWeight: true}}
}

// SwitchActive returns a switchActive step.
func SwitchActive() Step { return Step{SwitchActive: &SwitchStep{}} }

// ScaleDown returns a step that scales down the old workload after delay.
func ScaleDown(delay time.Duration) Step {
	return Step{ScaleDown: &ScaleDownStep{Delay: Duration(delay)}}
}

// kinds lists the kinds whose field is set, in declaration order.
func (s Step) kinds() []StepKind {
	var k []StepKind
	if s.SetWeight != nil {
		k = append(k, StepSetWeight)
	}
	if s.Pause != nil {
		k = append(k, StepPause)
	}
	if s.Analysis != nil {
		k = append(k, StepAnalysis)
	}
	if s.SetCanaryScale != nil {
		k = append(k, StepSetCanaryScale)
	}
	if s.SwitchActive != nil {
		k = append(k, StepSwitchActive)
	}
	if s.ScaleDown != nil {
		k = append(k, StepScaleDown)
	}
	return k
}

// Kind returns the step's kind, or "" when the step has no kind or more
// than one (which [Plan.Validate] refuses).
func (s Step) Kind() StepKind {
	if k := s.kinds(); len(k) == 1 {
		return k[0]
	}
	return ""
}

// String describes the step in one line, for example "setWeight 25%",
// "pause 10m0s", "pause until promoted", "analysis error-rate, latency",
// "background analysis error-rate", "setCanaryScale 3 replicas",
// "switchActive" or "scaleDown after 30s".
func (s Step) String() string {
	switch s.Kind() {
	case StepSetWeight:
		return fmt.Sprintf("setWeight %d%%", *s.SetWeight)
	case StepPause:
		if s.Pause.Duration == nil {
			return "pause until promoted"
		}
		return "pause " + s.Pause.Duration.String()
	case StepAnalysis:
		names := make([]string, len(s.Analysis.Templates))
		for i, t := range s.Analysis.Templates {
			names[i] = t.TemplateName
		}
		text := "analysis " + strings.Join(names, ", ")
		if s.Analysis.Background {
			text = "background " + text
		}
		return text
	case StepSetCanaryScale:
		c := s.SetCanaryScale
		switch {
		case c.Replicas != nil:
			if *c.Replicas == 1 {
				return "setCanaryScale 1 replica"
			}
			return fmt.Sprintf("setCanaryScale %d replicas", *c.Replicas)
		case c.Weight != nil:
			return fmt.Sprintf("setCanaryScale %d%%", *c.Weight)
		default:
			return "setCanaryScale matchTrafficWeight"
		}
	case StepSwitchActive:
		return "switchActive"
	case StepScaleDown:
		if s.ScaleDown.Delay == 0 {
			return "scaleDown now"
		}
		return "scaleDown after " + s.ScaleDown.Delay.String()
	}
	k := s.kinds()
	if len(k) == 0 {
		return "empty step"
	}
	parts := make([]string, len(k))
	for i, kind := range k {
		parts[i] = string(kind)
	}
	return "invalid step (" + strings.Join(parts, ", ") + ")"
}

// Analysis names the analyses to run and the arguments they get, as Argo
// Rollouts' RolloutAnalysis. The names are resolved to analyses when the
// plan runs.
type Analysis struct {
	// Templates are the named analyses (their metrics are combined into
	// one run).
	Templates []AnalysisTemplate `json:"templates,omitempty"`
	// Args are passed to the templates.
	Args []AnalysisArg `json:"args,omitempty"`
	// DryRun lists metrics that are measured and recorded but never decide
	// the run.
	DryRun []DryRun `json:"dryRun,omitempty"`
}

// Templates returns an Analysis of the named templates.
func Templates(names ...string) Analysis {
	a := Analysis{Templates: make([]AnalysisTemplate, len(names))}
	for i, n := range names {
		a.Templates[i] = AnalysisTemplate{TemplateName: n}
	}
	return a
}

// AnalysisTemplate names one analysis.
type AnalysisTemplate struct {
	// TemplateName is the analysis's name.
	TemplateName string `json:"templateName"`
}

// AnalysisArg is one argument to the analyses: exactly one of Value and
// ValueFrom is set.
type AnalysisArg struct {
	// Name is the argument's name, unique within an analysis.
	Name string `json:"name"`
	// Value is a literal value.
	Value string `json:"value,omitempty"`
	// ValueFrom takes the value from the run.
	ValueFrom *ArgValueFrom `json:"valueFrom,omitempty"`
}

// ArgValueFrom says where an argument's value comes from.
type ArgValueFrom struct {
	// PodTemplateHashValue takes the pod-template hash of the stable
	// ([PodTemplateHashStable]) or the new ([PodTemplateHashLatest])
	// release, as Argo Rollouts does.
	PodTemplateHashValue string `json:"podTemplateHashValue"`
}

// The values of [ArgValueFrom.PodTemplateHashValue].
const (
	PodTemplateHashStable = "Stable"
	PodTemplateHashLatest = "Latest"
)

// DryRun names a metric that runs in dry-run mode.
type DryRun struct {
	// MetricName is the metric's name.
	MetricName string `json:"metricName"`
}

// Duration is a time.Duration that encodes in JSON as Go's duration
// string ("30s", "1h0m0s"). It decodes from such a string, from a string
// of digits, or from a JSON number; the last two count seconds, as Argo
// Rollouts' pause durations do.
type Duration time.Duration

// String returns the duration as time.Duration prints it.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON encodes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON decodes a duration string, a string of digits (seconds) or
// a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	n, isNumber, s, err := wholeNumberOrString(b)
	switch {
	case err != nil:
		return fmt.Errorf("duration %s: not a whole number of seconds or a duration string", b)
	case isNumber:
		*d = Duration(time.Duration(n) * time.Second)
		return nil
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		*d = Duration(time.Duration(secs) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// wholeNumberOrString decodes a JSON integer or a JSON string.
func wholeNumberOrString(b []byte) (n int64, isNumber bool, s string, err error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '"' {
		err = json.Unmarshal(b, &n)
		return n, true, "", err
	}
	err = json.Unmarshal(b, &s)
	return 0, false, s, err
}

// IntOrPercent is an absolute number of pods or a percentage of the app's
// replicas, as Kubernetes' maxSurge and maxUnavailable. It encodes in JSON
// as a number (3) or a percentage string ("25%").
type IntOrPercent struct {
	// Value is the number, or the percentage when Percent is set.
	Value int32
	// Percent says Value is a percentage.
	Percent bool
}

// Pods returns an IntOrPercent of n pods.
func Pods(n int32) IntOrPercent { return IntOrPercent{Value: n} }

// Percent returns an IntOrPercent of p percent.
func Percent(p int32) IntOrPercent { return IntOrPercent{Value: p, Percent: true} }

// String returns "3" or "25%".
func (v IntOrPercent) String() string {
	if v.Percent {
		return strconv.Itoa(int(v.Value)) + "%"
	}
	return strconv.Itoa(int(v.Value))
}

// Scaled returns the number of pods v stands for out of total: a
// percentage is rounded up or down as roundUp says, exactly as Kubernetes
// does (maxSurge rounds up, maxUnavailable down).
func (v IntOrPercent) Scaled(total int32, roundUp bool) int32 {
	if !v.Percent {
		return v.Value
	}
	x := float64(v.Value) * float64(total) / 100
	if roundUp {
		return int32(math.Ceil(x))
	}
	return int32(math.Floor(x))
}

// MarshalJSON encodes v as a number or a percentage string.
func (v IntOrPercent) MarshalJSON() ([]byte, error) {
	if v.Percent {
		return json.Marshal(v.String())
	}
	return json.Marshal(v.Value)
}

// UnmarshalJSON decodes a number or a string "N%".
func (v *IntOrPercent) UnmarshalJSON(b []byte) error {
	n, isNumber, s, err := wholeNumberOrString(b)
	if err == nil && isNumber && n == int64(int32(n)) {
		*v = Pods(int32(n))
		return nil
	}
	digits, ok := strings.CutSuffix(s, "%")
	p, perr := strconv.ParseInt(digits, 10, 32)
	if err != nil || isNumber || !ok || perr != nil {
		return fmt.Errorf("%s: not a whole number of pods or a percentage such as \"25%%\"", b)
	}
	*v = Percent(int32(p))
	return nil
}
