package strategy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/flightdeck-dev/flightdeck"
)

// ErrInvalidStrategy is wrapped by every error that [Canary.Validate],
// [BlueGreen.Validate], [Rolling.Validate], [Strategy.Validate],
// [Plan.Validate] and the Compile methods return for bad input.
var ErrInvalidStrategy = errors.New("invalid strategy")

// FieldError is one rule a strategy or plan breaks, naming the step and
// the field.
type FieldError struct {
	// Step is the index of the step the field belongs to, or -1 when the
	// field is not inside a step.
	Step int
	// Field is the field's JSON path, inside the step when Step ≥ 0 (for
	// example "setWeight" or "analysis.templates[0].templateName"), from
	// the top of the spec or plan otherwise (for example "maxSurge");
	// empty when the rule is about the whole step.
	Field string
	// Reason says what is wrong, with the offending value.
	Reason string
}

// Error returns "steps[<i>].<field>: <reason>", or "<field>: <reason>"
// for a field outside the steps.
func (e *FieldError) Error() string {
	path := e.Field
	if e.Step >= 0 {
		path = fmt.Sprintf("steps[%d]", e.Step)
		if e.Field != "" {
			path += "." + e.Field
		}
	}
	if path == "" {
		return e.Reason
	}
	return path + ": " + e.Reason
}

// Unwrap returns [ErrInvalidStrategy].
func (e *FieldError) Unwrap() error { return ErrInvalidStrategy }

// checker collects field errors.
type checker struct{ errs []error }

func (c *checker) step(i int, field, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{Step: i, Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (c *checker) field(field, format string, args ...any) { c.step(-1, field, format, args...) }

func (c *checker) err() error { return errors.Join(c.errs...) }

// name checks a name that must be a valid Kubernetes-style object name.
func (c *checker) name(step int, field, value string, required bool) {
	switch {
	case value == "" && required:
		c.step(step, field, "required")
	case value != "" && !flightdeck.ValidName(value):
		c.step(step, field, "%q is not a valid name (lower-case letters, digits, '-', '.', '_')", value)
	}
}

func (c *checker) nonNegative(step int, field string, v int64, unit string) {
	if v < 0 {
		c.step(step, field, "must not be negative, got %d%s", v, unit)
	}
}

func (c *checker) nonNegativePtr(field string, v *int32) {
	if v != nil {
		c.nonNegative(-1, field, int64(*v), "")
	}
}

// stepRules says which kinds a strategy allows in a list of steps, and why
// it refuses the others.
type stepRules struct {
	refuse map[StepKind]string
}

// steps checks each step of a list: exactly one kind, and that kind's own
// rules.
func (c *checker) steps(steps []Step, rules stepRules) {
	for i, s := range steps {
		kinds := s.kinds()
		switch len(kinds) {
		case 0:
			c.step(i, "", "a step needs one of setWeight, pause, analysis, setCanaryScale, switchActive, scaleDown")
			continue
		case 1:
		default:
			names := make([]string, len(kinds))
			for j, k := range kinds {
				names[j] = string(k)
			}
			c.step(i, "", "a step has exactly one kind, this one has %s", strings.Join(names, ", "))
			continue
		}
		if why, refused := rules.refuse[kinds[0]]; refused {
			c.step(i, string(kinds[0]), "%s", why)
			continue
		}
		switch kinds[0] {
		case StepSetWeight:
			c.weight(i, "setWeight", *s.SetWeight)
		case StepPause:
			if d := s.Pause.Duration; d != nil && *d < 0 {
				c.step(i, "pause.duration", "must not be negative, got %s", d)
			}
		case StepAnalysis:
			c.analysis(i, "analysis", s.Analysis.Analysis)
		case StepSetCanaryScale:
			c.canaryScale(i, s.SetCanaryScale)
		case StepScaleDown:
			if s.ScaleDown.Delay < 0 {
				c.step(i, "scaleDown.delay", "must not be negative, got %s", s.ScaleDown.Delay)
			}
		}
	}
}

func (c *checker) weight(step int, field string, w int32) {
	if w < 0 || w > MaxWeight {
		c.step(step, field, "must be between 0 and %d, got %d", MaxWeight, w)
	}
}

func (c *checker) canaryScale(i int, s *CanaryScaleStep) {
	set := 0
	if s.Weight != nil {
		set++
		c.nonNegative(i, "setCanaryScale.weight", int64(*s.Weight), "%")
	}
	if s.Replicas != nil {
		set++
		c.nonNegative(i, "setCanaryScale.replicas", int64(*s.Replicas), "")
	}
	if s.MatchTrafficWeight {
		set++
	}
	if set != 1 {
		c.step(i, "setCanaryScale", "set exactly one of weight, replicas, matchTrafficWeight (%d set)", set)
	}
}

// analysis checks an analysis reference; step is -1 for analyses outside
// the steps, and at is the field path of the analysis.
func (c *checker) analysis(step int, at string, a Analysis) {
	if len(a.Templates) == 0 {
		c.step(step, at+".templates", "at least one template is required")
	}
	for j, t := range a.Templates {
		c.name(step, fmt.Sprintf("%s.templates[%d].templateName", at, j), t.TemplateName, true)
	}
	seen := map[string]bool{}
	for j, arg := range a.Args {
		f := fmt.Sprintf("%s.args[%d]", at, j)
		switch {
		case arg.Name == "":
			c.step(step, f+".name", "required")
		case seen[arg.Name]:
			c.step(step, f+".name", "argument %q is given twice", arg.Name)
		}
		seen[arg.Name] = true
		switch {
		case arg.Value != "" && arg.ValueFrom != nil:
			c.step(step, f, "set one of value and valueFrom, not both")
		case arg.ValueFrom != nil:
			if h := arg.ValueFrom.PodTemplateHashValue; h != PodTemplateHashStable && h != PodTemplateHashLatest {
				c.step(step, f+".valueFrom.podTemplateHashValue", "must be %q or %q, got %q", PodTemplateHashStable, PodTemplateHashLatest, h)
			}
		}
	}
	for j, d := range a.DryRun {
		if d.MetricName == "" {
			c.step(step, fmt.Sprintf("%s.dryRun[%d].metricName", at, j), "required")
		}
	}
}

// surge checks maxSurge and maxUnavailable, both resolved (defaults
// applied).
func (c *checker) surge(maxSurge, maxUnavailable IntOrPercent) {
	if maxSurge.Value < 0 {
		c.field("maxSurge", "must not be negative, got %s", maxSurge)
	}
	if maxUnavailable.Value < 0 {
		c.field("maxUnavailable", "must not be negative, got %s", maxUnavailable)
	}
	if maxUnavailable.Percent && maxUnavailable.Value > 100 {
		c.field("maxUnavailable", "must not be more than 100%%, got %s", maxUnavailable)
	}
	if maxSurge.Value == 0 && maxUnavailable.Value == 0 {
		c.field("maxSurge", "maxSurge and maxUnavailable cannot both be zero")
	}
}

// trafficRouting checks a canary's HTTPRoute and its two backends.
func (c *checker) trafficRouting(t *TrafficRouting) {
	c.name(-1, "trafficRouting.httpRoute", t.HTTPRoute, true)
	c.name(-1, "trafficRouting.stableService", t.StableService, true)
	c.name(-1, "trafficRouting.canaryService", t.CanaryService, true)
	if t.StableService != "" && t.StableService == t.CanaryService {
		c.field("trafficRouting.stableService", "%q is also the canaryService; two different services are required", t.StableService)
	}
}

// services checks a blue-green pair of Services.
func (c *checker) services(active, preview string) {
	c.name(-1, "activeService", active, true)
	c.name(-1, "previewService", preview, false)
	if active != "" && active == preview {
		c.field("activeService", "%q is also the previewService; two different services are required", active)
	}
}

// target checks the app and environment a plan is for.
func (c *checker) target(app, environment string) {
	c.name(-1, "app", app, true)
	c.name(-1, "environment", environment, true)
}
