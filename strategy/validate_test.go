package strategy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/strategy"
)

// fieldErrors flattens the joined and wrapped errors a validation returns.
func fieldErrors(err error) []strategy.FieldError {
	var out []strategy.FieldError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*strategy.FieldError); ok {
			out = append(out, *fe)
			return
		}
		switch e := err.(type) {
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// where is a FieldError's place: its step (-1 outside the steps) and field.
type where struct {
	Step  int
	Field string
}

func places(err error) []where {
	var out []where
	for _, fe := range fieldErrors(err) {
		out = append(out, where{fe.Step, fe.Field})
	}
	return out
}

var route = &strategy.TrafficRouting{HTTPRoute: "checkout", StableService: "checkout", CanaryService: "checkout-canary"}

func TestCanaryValidate(t *testing.T) {
	both := strategy.Step{SetWeight: new(int32(10)), Pause: &strategy.PauseStep{}}
	negative := strategy.Duration(-time.Second)
	tests := []struct {
		name  string
		spec  strategy.Canary
		wants []where
	}{
		{"valid replica canary", strategy.Canary{Steps: []strategy.Step{
			strategy.SetWeight(0), strategy.SetWeight(100), strategy.Pause(0), strategy.PauseUntilPromoted(),
			strategy.Analyze("error-rate"), strategy.AnalyzeInBackground("latency"),
		}}, nil},
		{"valid routed canary", strategy.Canary{Steps: []strategy.Step{
			strategy.ScaleCanary(2), strategy.ScaleCanaryWeight(50), strategy.MatchTrafficWeight(), strategy.SetWeight(20),
		}, TrafficRouting: route, DynamicStableScale: true, AbortScaleDownDelaySeconds: new(int32(60))}, nil},
		{"weight below 0", strategy.Canary{Steps: []strategy.Step{strategy.SetWeight(-1)}}, []where{{0, "setWeight"}}},
		{"weight above 100", strategy.Canary{Steps: []strategy.Step{strategy.SetWeight(10), strategy.SetWeight(101)}}, []where{{1, "setWeight"}}},
		{"a step with no kind", strategy.Canary{Steps: []strategy.Step{{}}}, []where{{0, ""}}},
		{"a step with two kinds", strategy.Canary{Steps: []strategy.Step{both}}, []where{{0, ""}}},
		{"negative pause", strategy.Canary{Steps: []strategy.Step{{Pause: &strategy.PauseStep{Duration: &negative}}}}, []where{{0, "pause.duration"}}},
		{"setCanaryScale without trafficRouting", strategy.Canary{Steps: []strategy.Step{strategy.ScaleCanary(1)}}, []where{{0, "setCanaryScale"}}},
		{"setCanaryScale with two fields", strategy.Canary{TrafficRouting: route, Steps: []strategy.Step{
			{SetCanaryScale: &strategy.CanaryScaleStep{Replicas: new(int32(1)), Weight: new(int32(10))}},
		}}, []where{{0, "setCanaryScale"}}},
		{"setCanaryScale with none", strategy.Canary{TrafficRouting: route, Steps: []strategy.Step{
			{SetCanaryScale: &strategy.CanaryScaleStep{}},
		}}, []where{{0, "setCanaryScale"}}},
		{"setCanaryScale negative", strategy.Canary{TrafficRouting: route, Steps: []strategy.Step{
			strategy.ScaleCanary(-1), strategy.ScaleCanaryWeight(-5),
		}}, []where{{0, "setCanaryScale.replicas"}, {1, "setCanaryScale.weight"}}},
		{"switchActive and scaleDown are not canary steps", strategy.Canary{Steps: []strategy.Step{
			strategy.SwitchActive(), strategy.ScaleDown(time.Second),
		}}, []where{{0, "switchActive"}, {1, "scaleDown"}}},
		{"maxSurge and maxUnavailable both zero", strategy.Canary{MaxSurge: new(strategy.Pods(0)), MaxUnavailable: new(strategy.Percent(0))},
			[]where{{-1, "maxSurge"}}},
		{"negative maxSurge", strategy.Canary{MaxSurge: new(strategy.Pods(-1))}, []where{{-1, "maxSurge"}}},
		{"maxUnavailable above 100%", strategy.Canary{MaxUnavailable: new(strategy.Percent(101))}, []where{{-1, "maxUnavailable"}}},
		{"scaleDownDelaySeconds needs trafficRouting", strategy.Canary{ScaleDownDelaySeconds: new(int32(10))}, []where{{-1, "scaleDownDelaySeconds"}}},
		{"abortScaleDownDelaySeconds needs trafficRouting", strategy.Canary{AbortScaleDownDelaySeconds: new(int32(10))}, []where{{-1, "abortScaleDownDelaySeconds"}}},
		{"dynamicStableScale needs trafficRouting", strategy.Canary{DynamicStableScale: true}, []where{{-1, "dynamicStableScale"}}},
		{"dynamicStableScale with scaleDownDelaySeconds", strategy.Canary{TrafficRouting: route, DynamicStableScale: true, ScaleDownDelaySeconds: new(int32(10))},
			[]where{{-1, "dynamicStableScale"}}},
		{"negative delays", strategy.Canary{TrafficRouting: route, ScaleDownDelaySeconds: new(int32(-1)), AbortScaleDownDelaySeconds: new(int32(-1))},
			[]where{{-1, "scaleDownDelaySeconds"}, {-1, "abortScaleDownDelaySeconds"}}},
		{"the same service twice", strategy.Canary{TrafficRouting: &strategy.TrafficRouting{HTTPRoute: "checkout", StableService: "checkout", CanaryService: "checkout"}},
			[]where{{-1, "trafficRouting.stableService"}}},
		{"trafficRouting names missing or invalid", strategy.Canary{TrafficRouting: &strategy.TrafficRouting{StableService: "checkout", CanaryService: "Checkout_Canary"}},
			[]where{{-1, "trafficRouting.httpRoute"}, {-1, "trafficRouting.canaryService"}}},
		{"an analysis without templates", strategy.Canary{Steps: []strategy.Step{{Analysis: &strategy.AnalysisStep{}}}},
			[]where{{0, "analysis.templates"}}},
		{"an analysis with a bad template name", strategy.Canary{Steps: []strategy.Step{strategy.Analyze("ok", "Not OK", "")}},
			[]where{{0, "analysis.templates[1].templateName"}, {0, "analysis.templates[2].templateName"}}},
		{"analysis arguments", strategy.Canary{Steps: []strategy.Step{{Analysis: &strategy.AnalysisStep{Analysis: strategy.Analysis{
			Templates: []strategy.AnalysisTemplate{{TemplateName: "error-rate"}},
			Args: []strategy.AnalysisArg{
				{Name: "service", Value: "checkout", ValueFrom: &strategy.ArgValueFrom{PodTemplateHashValue: strategy.PodTemplateHashStable}},
				{Name: "service", Value: "again"},
				{Value: "nameless"},
				{Name: "hash", ValueFrom: &strategy.ArgValueFrom{PodTemplateHashValue: "Canary"}},
				{Name: "latest", ValueFrom: &strategy.ArgValueFrom{PodTemplateHashValue: strategy.PodTemplateHashLatest}},
			},
			DryRun: []strategy.DryRun{{MetricName: "latency"}, {}},
		}}}}}, []where{
			{0, "analysis.args[0]"}, {0, "analysis.args[1].name"}, {0, "analysis.args[2].name"},
			{0, "analysis.args[3].valueFrom.podTemplateHashValue"}, {0, "analysis.dryRun[1].metricName"},
		}},
		{"background analysis starting past the steps", strategy.Canary{Steps: []strategy.Step{strategy.SetWeight(10)},
			Analysis: &strategy.BackgroundAnalysis{Analysis: strategy.Templates("error-rate"), StartingStep: new(int32(2))}},
			[]where{{-1, "analysis.startingStep"}}},
		{"background analysis starting before the steps", strategy.Canary{
			Analysis: &strategy.BackgroundAnalysis{Analysis: strategy.Templates("error-rate"), StartingStep: new(int32(-1))}},
			[]where{{-1, "analysis.startingStep"}}},
		{"background analysis without templates", strategy.Canary{Analysis: &strategy.BackgroundAnalysis{}},
			[]where{{-1, "analysis.templates"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			assert.Equal(t, tt.wants, places(err))
			if tt.wants == nil {
				return
			}
			assert.ErrorIs(t, err, strategy.ErrInvalidStrategy)
			_, cerr := tt.spec.Compile("checkout", "prod")
			assert.ErrorIs(t, cerr, strategy.ErrInvalidStrategy)
			assert.ErrorContains(t, cerr, `canary plan for app "checkout" in "prod": `)
		})
	}
}

func TestBlueGreenValidate(t *testing.T) {
	tests := []struct {
		name  string
		spec  strategy.BlueGreen
		wants []where
	}{
		{"valid, active only", strategy.BlueGreen{ActiveService: "checkout"}, nil},
		{"valid, everything", strategy.BlueGreen{
			ActiveService: "checkout", PreviewService: "checkout-preview", AutoPromotionEnabled: new(true),
			AutoPromotionSeconds: 30, ScaleDownDelaySeconds: new(int32(0)), AbortScaleDownDelaySeconds: new(int32(0)),
			PreviewReplicaCount: new(int32(0)), PrePromotionAnalysis: new(strategy.Templates("smoke")),
			PostPromotionAnalysis: new(strategy.Templates("error-rate")),
		}, nil},
		{"no active service", strategy.BlueGreen{PreviewService: "checkout-preview"}, []where{{-1, "activeService"}}},
		{"active is preview", strategy.BlueGreen{ActiveService: "checkout", PreviewService: "checkout"}, []where{{-1, "activeService"}}},
		{"bad preview name", strategy.BlueGreen{ActiveService: "checkout", PreviewService: "-preview"}, []where{{-1, "previewService"}}},
		{"negative numbers", strategy.BlueGreen{ActiveService: "checkout", AutoPromotionSeconds: -1,
			ScaleDownDelaySeconds: new(int32(-1)), AbortScaleDownDelaySeconds: new(int32(-1)), PreviewReplicaCount: new(int32(-1))},
			[]where{{-1, "autoPromotionSeconds"}, {-1, "scaleDownDelaySeconds"}, {-1, "abortScaleDownDelaySeconds"}, {-1, "previewReplicaCount"}}},
		{"autoPromotionSeconds without auto-promotion", strategy.BlueGreen{ActiveService: "checkout",
			AutoPromotionEnabled: new(false), AutoPromotionSeconds: 30}, []where{{-1, "autoPromotionSeconds"}}},
		{"analyses", strategy.BlueGreen{ActiveService: "checkout",
			PrePromotionAnalysis: &strategy.Analysis{}, PostPromotionAnalysis: new(strategy.Templates("Bad"))},
			[]where{{-1, "prePromotionAnalysis.templates"}, {-1, "postPromotionAnalysis.templates[0].templateName"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			assert.Equal(t, tt.wants, places(err))
			if tt.wants != nil {
				assert.ErrorIs(t, err, strategy.ErrInvalidStrategy)
			}
		})
	}
}

func TestRollingValidate(t *testing.T) {
	assert.NoError(t, strategy.Rolling{}.Validate())
	assert.NoError(t, strategy.Rolling{MaxSurge: new(strategy.Pods(0))}.Validate())
	err := strategy.Rolling{MaxSurge: new(strategy.Pods(0)), MaxUnavailable: new(strategy.Pods(0))}.Validate()
	assert.Equal(t, []where{{-1, "maxSurge"}}, places(err))
	assert.EqualError(t, err, "maxSurge: maxSurge and maxUnavailable cannot both be zero")
}

func TestStrategyHoldsExactlyOneSpec(t *testing.T) {
	for _, s := range []strategy.Strategy{{}, {Rolling: &strategy.Rolling{}, Canary: &strategy.Canary{}}} {
		_, err := s.Spec()
		assert.ErrorIs(t, err, strategy.ErrInvalidStrategy)
		assert.ErrorIs(t, s.Validate(), strategy.ErrInvalidStrategy)
		_, err = s.Compile("checkout", "prod")
		assert.ErrorIs(t, err, strategy.ErrInvalidStrategy)
		assert.Equal(t, strategy.Kind(""), s.Kind())
	}
	s := strategy.Strategy{BlueGreen: &strategy.BlueGreen{ActiveService: "checkout"}}
	assert.Equal(t, strategy.KindBlueGreen, s.Kind())
	plan, err := s.Compile("checkout", "prod")
	require.NoError(t, err)
	assert.Equal(t, strategy.KindBlueGreen, plan.Strategy)
	err = strategy.Strategy{BlueGreen: &strategy.BlueGreen{}}.Validate()
	assert.Equal(t, []where{{-1, "activeService"}}, places(err))
}

func TestCompileChecksAppAndEnvironment(t *testing.T) {
	for _, spec := range []strategy.Spec{strategy.Rolling{}, strategy.BlueGreen{ActiveService: "checkout"}, strategy.Canary{}} {
		_, err := spec.Compile("", "Prod")
		assert.Equal(t, []where{{-1, "app"}, {-1, "environment"}}, places(err), "%s", spec.Kind())
		assert.ErrorIs(t, err, strategy.ErrInvalidStrategy)
	}
}

func TestFieldErrorMessages(t *testing.T) {
	err := strategy.Canary{Steps: []strategy.Step{strategy.SetWeight(10), strategy.SetWeight(120)}, DynamicStableScale: true}.Validate()
	assert.EqualError(t, err, "steps[1].setWeight: must be between 0 and 100, got 120\n"+
		"dynamicStableScale: can only be used with trafficRouting")
	var fe *strategy.FieldError
	require.True(t, errors.As(err, &fe))
	assert.Equal(t, strategy.FieldError{Step: 1, Field: "setWeight", Reason: "must be between 0 and 100, got 120"}, *fe)
	assert.EqualError(t, &strategy.FieldError{Step: 3, Reason: "bad"}, "steps[3]: bad")
	assert.EqualError(t, &strategy.FieldError{Step: -1, Reason: "bad"}, "bad")
}

func TestPlanValidate(t *testing.T) {
	compile := func(spec strategy.Spec) strategy.Plan {
		t.Helper()
		p, err := spec.Compile("checkout", "prod")
		require.NoError(t, err)
		return p
	}
	canary := func() strategy.Plan {
		return compile(strategy.Canary{Steps: []strategy.Step{strategy.SetWeight(10), strategy.Analyze("error-rate")}})
	}
	routed := func() strategy.Plan {
		return compile(strategy.Canary{Steps: []strategy.Step{strategy.ScaleCanary(1), strategy.SetWeight(10)}, TrafficRouting: route})
	}
	blueGreen := func() strategy.Plan {
		return compile(strategy.BlueGreen{ActiveService: "checkout", PreviewService: "checkout-preview",
			PostPromotionAnalysis: new(strategy.Templates("error-rate"))})
	}
	rolling := func() strategy.Plan { return compile(strategy.Rolling{}) }

	tests := []struct {
		name   string
		plan   strategy.Plan
		mutate func(*strategy.Plan)
		wants  []where
	}{
		{"compiled canary", canary(), func(*strategy.Plan) {}, nil},
		{"compiled routed canary", routed(), func(*strategy.Plan) {}, nil},
		{"compiled blue-green", blueGreen(), func(*strategy.Plan) {}, nil},
		{"compiled rolling", rolling(), func(*strategy.Plan) {}, nil},
		{"unknown strategy", canary(), func(p *strategy.Plan) { p.Strategy = "linear" }, []where{{-1, "strategy"}}},
		{"no steps", rolling(), func(p *strategy.Plan) { p.Steps = nil }, []where{{-1, "steps"}}},
		{"finish out of range", canary(), func(p *strategy.Plan) { p.Finish = len(p.Steps) }, []where{{-1, "finish"}}},
		{"bad app", canary(), func(p *strategy.Plan) { p.App = "Checkout" }, []where{{-1, "app"}}},
		{"a step with two kinds", canary(), func(p *strategy.Plan) { p.Steps[0].Pause = &strategy.PauseStep{} }, []where{{0, ""}}},
		{"canary finish without scaleDown", canary(), func(p *strategy.Plan) { p.Steps = p.Steps[:len(p.Steps)-1] }, []where{{-1, "finish"}}},
		{"canary finish not at 100%", canary(), func(p *strategy.Plan) { *p.Steps[p.Finish].SetWeight = 90 }, []where{{2, ""}}},
		{"canary finish out of order", canary(), func(p *strategy.Plan) {
			p.Steps[p.Finish+1], p.Steps[p.Finish+2] = p.Steps[p.Finish+2], p.Steps[p.Finish+1]
		}, []where{{3, ""}, {4, ""}}},
		{"canary switch before the finish", canary(), func(p *strategy.Plan) { p.Steps[1] = strategy.SwitchActive() }, []where{{1, "switchActive"}}},
		{"setCanaryScale without routing", canary(), func(p *strategy.Plan) { p.Steps[0] = strategy.ScaleCanary(1) }, []where{{0, "setCanaryScale"}}},
		{"replica canary aborting after a delay", canary(), func(p *strategy.Plan) {
			p.Abort = strategy.AbortPolicy{ScaleDown: strategy.ScaleDownAfterDelay, Delay: strategy.Duration(time.Second)}
		}, []where{{-1, "abort.scaleDown"}}},
		{"replica canary with dynamic stable scale", canary(), func(p *strategy.Plan) { p.DynamicStableScale = true }, []where{{-1, "dynamicStableScale"}}},
		{"routed canary with duplicate services", routed(), func(p *strategy.Plan) { p.TrafficRouting.CanaryService = "checkout" },
			[]where{{-1, "trafficRouting.stableService"}}},
		{"canary surge both zero", canary(), func(p *strategy.Plan) { p.MaxSurge, p.MaxUnavailable = strategy.Pods(0), strategy.Pods(0) },
			[]where{{-1, "maxSurge"}}},
		{"unknown abort policy", routed(), func(p *strategy.Plan) { p.Abort.ScaleDown = "later" }, []where{{-1, "abort.scaleDown"}}},
		{"abort delay without afterDelay", routed(), func(p *strategy.Plan) { p.Abort.ScaleDown = strategy.ScaleDownNever },
			[]where{{-1, "abort.delay"}}},
		{"negative abort delay", routed(), func(p *strategy.Plan) { p.Abort.Delay = -1 }, []where{{-1, "abort.delay"}}},
		{"blue-green with a weight", blueGreen(), func(p *strategy.Plan) { p.Steps[0] = strategy.SetWeight(50) }, []where{{0, "setWeight"}}},
		{"blue-green switching twice", blueGreen(), func(p *strategy.Plan) {
			p.Steps = append([]strategy.Step{strategy.SwitchActive()}, p.Steps...)
			p.Finish++
		}, []where{{0, "switchActive"}, {-1, "steps"}}},
		{"blue-green scaleDown not last", blueGreen(), func(p *strategy.Plan) {
			n := len(p.Steps)
			p.Steps[n-1], p.Steps[n-2] = p.Steps[n-2], p.Steps[n-1]
		}, []where{{2, "scaleDown"}, {3, ""}}},
		{"blue-green with one service", blueGreen(), func(p *strategy.Plan) { p.PreviewService = p.ActiveService }, []where{{-1, "activeService"}}},
		{"blue-green aborting with traffic", blueGreen(), func(p *strategy.Plan) {
			p.Abort = strategy.AbortPolicy{ScaleDown: strategy.ScaleDownWithTraffic}
		}, []where{{-1, "abort.scaleDown"}}},
		{"rolling with a switch", rolling(), func(p *strategy.Plan) { p.Steps = append(p.Steps, strategy.SwitchActive()) }, []where{{1, "switchActive"}}},
		{"rolling finish not 100%", rolling(), func(p *strategy.Plan) { p.Steps[0] = strategy.SetWeight(50) }, []where{{0, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.plan
			tt.mutate(&p)
			err := p.Validate()
			assert.Equal(t, tt.wants, places(err))
			if tt.wants != nil {
				assert.ErrorIs(t, err, strategy.ErrInvalidStrategy)
			}
		})
	}
}
