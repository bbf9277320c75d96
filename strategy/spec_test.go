package strategy_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/strategy"
)

func stepStrings(p strategy.Plan) []string {
	out := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		out[i] = s.String()
	}
	return out
}

func TestCanaryCompile(t *testing.T) {
	t.Run("replica canary defaults", func(t *testing.T) {
		p, err := strategy.Canary{Steps: []strategy.Step{strategy.SetWeight(10), strategy.PauseUntilPromoted()}}.Compile("checkout", "prod")
		require.NoError(t, err)
		assert.Equal(t, []string{"setWeight 10%", "pause until promoted", "setWeight 100%", "switchActive", "scaleDown now"}, stepStrings(p))
		assert.Equal(t, 2, p.Finish)
		assert.Equal(t, strategy.Percent(25), p.MaxSurge)
		assert.Equal(t, strategy.Percent(25), p.MaxUnavailable)
		assert.Nil(t, p.TrafficRouting)
		assert.Equal(t, strategy.AbortPolicy{ScaleDown: strategy.ScaleDownWithTraffic}, p.Abort)
		assert.Equal(t, "checkout", p.App)
		assert.Equal(t, "prod", p.Environment)
		assert.Equal(t, strategy.KindCanary, p.Strategy)
	})
	t.Run("no steps goes straight to the finish", func(t *testing.T) {
		p, err := strategy.Canary{}.Compile("checkout", "prod")
		require.NoError(t, err)
		assert.Equal(t, []string{"setWeight 100%", "switchActive", "scaleDown now"}, stepStrings(p))
		assert.Equal(t, 0, p.Finish)
	})
	t.Run("a written setWeight 100% is kept before the finish", func(t *testing.T) {
		p, err := strategy.Canary{Steps: []strategy.Step{strategy.SetWeight(100)}}.Compile("checkout", "prod")
		require.NoError(t, err)
		assert.Equal(t, []string{"setWeight 100%", "setWeight 100%", "switchActive", "scaleDown now"}, stepStrings(p))
		assert.Equal(t, 1, p.Finish)
	})
	t.Run("background analysis is a step before startingStep", func(t *testing.T) {
		steps := []strategy.Step{strategy.SetWeight(20), strategy.SetWeight(40)}
		for start, want := range map[int32][]string{
			0: {"background analysis success-rate", "setWeight 20%", "setWeight 40%"},
			1: {"setWeight 20%", "background analysis success-rate", "setWeight 40%"},
			2: {"setWeight 20%", "setWeight 40%", "background analysis success-rate"},
		} {
			p, err := strategy.Canary{Steps: steps, Analysis: &strategy.BackgroundAnalysis{
				Analysis: strategy.Templates("success-rate"), StartingStep: new(start)}}.Compile("checkout", "prod")
			require.NoError(t, err)
			assert.Equal(t, want, stepStrings(p)[:3], "startingStep %d", start)
			assert.Equal(t, 3, p.Finish)
		}
		p, err := strategy.Canary{Steps: steps, Analysis: &strategy.BackgroundAnalysis{Analysis: strategy.Templates("success-rate")}}.Compile("checkout", "prod")
		require.NoError(t, err)
		assert.True(t, p.Steps[0].Analysis.Background, "startingStep defaults to 0")
	})
	t.Run("traffic routing defaults and abort policies", func(t *testing.T) {
		tests := []struct {
			name      string
			spec      strategy.Canary
			scaleDown string
			abort     strategy.AbortPolicy
		}{
			{"defaults", strategy.Canary{TrafficRouting: route}, "scaleDown after 30s",
				strategy.AbortPolicy{ScaleDown: strategy.ScaleDownAfterDelay, Delay: strategy.Duration(30 * time.Second)}},
			{"explicit delays", strategy.Canary{TrafficRouting: route, ScaleDownDelaySeconds: new(int32(10)), AbortScaleDownDelaySeconds: new(int32(45))},
				"scaleDown after 10s", strategy.AbortPolicy{ScaleDown: strategy.ScaleDownAfterDelay, Delay: strategy.Duration(45 * time.Second)}},
			{"abort delay 0 never scales down", strategy.Canary{TrafficRouting: route, AbortScaleDownDelaySeconds: new(int32(0)), ScaleDownDelaySeconds: new(int32(0))},
				"scaleDown now", strategy.AbortPolicy{ScaleDown: strategy.ScaleDownNever}},
			{"dynamic stable scale drains with traffic", strategy.Canary{TrafficRouting: route, DynamicStableScale: true},
				"scaleDown after 30s", strategy.AbortPolicy{ScaleDown: strategy.ScaleDownWithTraffic}},
			{"dynamic stable scale with an explicit abort delay", strategy.Canary{TrafficRouting: route, DynamicStableScale: true, AbortScaleDownDelaySeconds: new(int32(60))},
				"scaleDown after 30s", strategy.AbortPolicy{ScaleDown: strategy.ScaleDownAfterDelay, Delay: strategy.Duration(time.Minute)}},
		}
		for _, tt := range tests {
			p, err := tt.spec.Compile("checkout", "prod")
			require.NoError(t, err, tt.name)
			assert.Equal(t, tt.scaleDown, p.Steps[len(p.Steps)-1].String(), tt.name)
			assert.Equal(t, tt.abort, p.Abort, tt.name)
			assert.Equal(t, *route, *p.TrafficRouting, tt.name)
			assert.Equal(t, tt.spec.DynamicStableScale, p.DynamicStableScale, tt.name)
		}
	})
	t.Run("the plan shares no memory with the spec", func(t *testing.T) {
		spec := strategy.Canary{
			Steps:          []strategy.Step{strategy.SetWeight(10), strategy.Pause(time.Minute), strategy.Analyze("error-rate"), strategy.ScaleCanary(2)},
			TrafficRouting: &strategy.TrafficRouting{HTTPRoute: "checkout", StableService: "checkout", CanaryService: "checkout-canary"},
		}
		spec.Steps[2].Analysis.Args = []strategy.AnalysisArg{{Name: "hash", ValueFrom: &strategy.ArgValueFrom{PodTemplateHashValue: "Latest"}}}
		p, err := spec.Compile("checkout", "prod")
		require.NoError(t, err)
		before, err := p.Hash()
		require.NoError(t, err)
		*spec.Steps[0].SetWeight = 90
		*spec.Steps[1].Pause.Duration = 0
		spec.Steps[2].Analysis.Templates[0].TemplateName = "other"
		spec.Steps[2].Analysis.Args[0].ValueFrom.PodTemplateHashValue = "Stable"
		*spec.Steps[3].SetCanaryScale.Replicas = 9
		spec.TrafficRouting.HTTPRoute = "other"
		after, err := p.Hash()
		require.NoError(t, err)
		assert.Equal(t, before, after)
	})
}

func TestBlueGreenCompile(t *testing.T) {
	tests := []struct {
		name   string
		spec   strategy.BlueGreen
		steps  []string
		finish int
		abort  strategy.AbortPolicy
	}{
		{"defaults", strategy.BlueGreen{ActiveService: "checkout"},
			[]string{"setCanaryScale 100%", "switchActive", "scaleDown after 30s"}, 1,
			strategy.AbortPolicy{ScaleDown: strategy.ScaleDownAfterDelay, Delay: strategy.Duration(30 * time.Second)}},
		{"auto-promotion after a delay", strategy.BlueGreen{ActiveService: "checkout", AutoPromotionSeconds: 90, ScaleDownDelaySeconds: new(int32(0))},
			[]string{"setCanaryScale 100%", "pause 1m30s", "switchActive", "scaleDown now"}, 2,
			strategy.AbortPolicy{ScaleDown: strategy.ScaleDownAfterDelay, Delay: strategy.Duration(30 * time.Second)}},
		{"manual promotion, small preview, both analyses", strategy.BlueGreen{ActiveService: "checkout", PreviewService: "checkout-preview",
			AutoPromotionEnabled: new(false), PreviewReplicaCount: new(int32(2)), AbortScaleDownDelaySeconds: new(int32(0)),
			PrePromotionAnalysis: new(strategy.Templates("smoke")), PostPromotionAnalysis: new(strategy.Templates("error-rate"))},
			[]string{"setCanaryScale 2 replicas", "analysis smoke", "pause until promoted", "setCanaryScale 100%",
				"switchActive", "analysis error-rate", "scaleDown after 30s"}, 3,
			strategy.AbortPolicy{ScaleDown: strategy.ScaleDownNever}},
		{"abort delay", strategy.BlueGreen{ActiveService: "checkout", AbortScaleDownDelaySeconds: new(int32(5)), ScaleDownDelaySeconds: new(int32(600))},
			[]string{"setCanaryScale 100%", "switchActive", "scaleDown after 10m0s"}, 1,
			strategy.AbortPolicy{ScaleDown: strategy.ScaleDownAfterDelay, Delay: strategy.Duration(5 * time.Second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.spec.Compile("checkout", "prod")
			require.NoError(t, err)
			assert.Equal(t, tt.steps, stepStrings(p))
			assert.Equal(t, tt.finish, p.Finish)
			assert.Equal(t, tt.abort, p.Abort)
			assert.Equal(t, tt.spec.ActiveService, p.ActiveService)
			assert.Equal(t, tt.spec.PreviewService, p.PreviewService)
			assert.Zero(t, p.MaxSurge)
			for _, s := range p.Steps {
				if s.Analysis != nil {
					assert.False(t, s.Analysis.Background, "blue-green analyses block")
				}
			}
		})
	}
}

func TestRollingCompile(t *testing.T) {
	p, err := strategy.Rolling{MaxSurge: new(strategy.Pods(1)), MaxUnavailable: new(strategy.Pods(0))}.Compile("checkout", "dev")
	require.NoError(t, err)
	assert.Equal(t, []string{"setWeight 100%"}, stepStrings(p))
	assert.Equal(t, 0, p.Finish)
	assert.Equal(t, strategy.Pods(1), p.MaxSurge)
	assert.Equal(t, strategy.Pods(0), p.MaxUnavailable)
	assert.Equal(t, strategy.AbortPolicy{ScaleDown: strategy.ScaleDownWithTraffic}, p.Abort)
}

func TestCompiledPlansValidate(t *testing.T) {
	specs := []strategy.Spec{
		strategy.Rolling{},
		strategy.Rolling{MaxSurge: new(strategy.Pods(0)), MaxUnavailable: new(strategy.Pods(1))},
		strategy.BlueGreen{ActiveService: "checkout"},
		strategy.BlueGreen{ActiveService: "checkout", PreviewService: "checkout-preview", AutoPromotionEnabled: new(false),
			PreviewReplicaCount: new(int32(1)), PrePromotionAnalysis: new(strategy.Templates("smoke")),
			PostPromotionAnalysis: new(strategy.Templates("error-rate")), AbortScaleDownDelaySeconds: new(int32(0))},
		strategy.Canary{},
		strategy.Canary{Steps: []strategy.Step{strategy.SetWeight(10), strategy.Pause(time.Minute), strategy.Analyze("error-rate"), strategy.SetWeight(100)},
			Analysis: &strategy.BackgroundAnalysis{Analysis: strategy.Templates("latency"), StartingStep: new(int32(4))}},
		strategy.Canary{Steps: []strategy.Step{strategy.ScaleCanary(1), strategy.SetWeight(5), strategy.MatchTrafficWeight()},
			TrafficRouting: route, DynamicStableScale: true},
		strategy.Canary{TrafficRouting: route, AbortScaleDownDelaySeconds: new(int32(0))},
	}
	for _, spec := range specs {
		p, err := spec.Compile("checkout", "prod")
		require.NoError(t, err)
		assert.NoError(t, p.Validate(), "%s", p)
		b, err := json.Marshal(p)
		require.NoError(t, err)
		parsed, err := strategy.ParsePlan(b)
		require.NoError(t, err, "%s", b)
		assert.Equal(t, p, parsed, "a plan survives JSON unchanged")
	}
}

func TestStepJSONIsArgoRolloutsShaped(t *testing.T) {
	tests := []struct {
		step strategy.Step
		json string
	}{
		{strategy.SetWeight(25), `{"setWeight":25}`},
		{strategy.PauseUntilPromoted(), `{"pause":{}}`},
		{strategy.Pause(90 * time.Second), `{"pause":{"duration":"1m30s"}}`},
		{strategy.Analyze("error-rate"), `{"analysis":{"templates":[{"templateName":"error-rate"}]}}`},
		{strategy.AnalyzeInBackground("error-rate"), `{"analysis":{"templates":[{"templateName":"error-rate"}],"background":true}}`},
		{strategy.ScaleCanary(3), `{"setCanaryScale":{"replicas":3}}`},
		{strategy.ScaleCanaryWeight(50), `{"setCanaryScale":{"weight":50}}`},
		{strategy.MatchTrafficWeight(), `{"setCanaryScale":{"matchTrafficWeight":true}}`},
		{strategy.SwitchActive(), `{"switchActive":{}}`},
		{strategy.ScaleDown(30 * time.Second), `{"scaleDown":{"delay":"30s"}}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.step)
		require.NoError(t, err)
		assert.JSONEq(t, tt.json, string(b))
		var back strategy.Step
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, tt.step, back)
	}
}

func TestCanarySpecFromArgoRolloutsJSON(t *testing.T) {
	// An Argo Rollouts canary, pause durations as Argo Rollouts accepts them.
	const doc = `{
	  "steps": [
	    {"setWeight": 20},
	    {"pause": {"duration": 600}},
	    {"setWeight": 40},
	    {"pause": {"duration": "30"}},
	    {"setWeight": 60},
	    {"pause": {"duration": "1h"}},
	    {"analysis": {"templates": [{"templateName": "success-rate"}],
	                  "args": [{"name": "service-name", "value": "guestbook-svc"}]}},
	    {"pause": {}}
	  ],
	  "maxSurge": "20%",
	  "maxUnavailable": 0,
	  "analysis": {"templates": [{"templateName": "latency"}], "startingStep": 2}
	}`
	var c strategy.Canary
	require.NoError(t, json.Unmarshal([]byte(doc), &c))
	p, err := c.Compile("guestbook", "prod")
	require.NoError(t, err)
	assert.Equal(t, []string{
		"setWeight 20%", "pause 10m0s", "background analysis latency", "setWeight 40%", "pause 30s",
		"setWeight 60%", "pause 1h0m0s", "analysis success-rate", "pause until promoted",
		"setWeight 100%", "switchActive", "scaleDown now",
	}, stepStrings(p))
	assert.Equal(t, strategy.Percent(20), p.MaxSurge)
	assert.Equal(t, strategy.Pods(0), p.MaxUnavailable)
	assert.Equal(t, []strategy.AnalysisArg{{Name: "service-name", Value: "guestbook-svc"}}, p.Steps[7].Analysis.Args)
}

func TestJSONValueTypes(t *testing.T) {
	var v strategy.IntOrPercent
	require.NoError(t, json.Unmarshal([]byte(`3`), &v))
	assert.Equal(t, strategy.Pods(3), v)
	require.NoError(t, json.Unmarshal([]byte(`"25%"`), &v))
	assert.Equal(t, strategy.Percent(25), v)
	for _, bad := range []string{`"25"`, `1.5`, `"a%"`, `true`} {
		assert.Error(t, json.Unmarshal([]byte(bad), &v), bad)
	}
	b, err := json.Marshal(strategy.Percent(25))
	require.NoError(t, err)
	assert.Equal(t, `"25%"`, string(b))
	b, err = json.Marshal(strategy.Pods(2))
	require.NoError(t, err)
	assert.Equal(t, `2`, string(b))

	var d strategy.Duration
	for in, want := range map[string]time.Duration{`30`: 30 * time.Second, `"45"`: 45 * time.Second, `"1h30m"`: 90 * time.Minute, `"250ms"`: 250 * time.Millisecond} {
		require.NoError(t, json.Unmarshal([]byte(in), &d), in)
		assert.Equal(t, strategy.Duration(want), d, in)
	}
	for _, bad := range []string{`"soon"`, `1.5`, `{}`} {
		assert.Error(t, json.Unmarshal([]byte(bad), &d), bad)
	}
}

func TestIntOrPercentScaled(t *testing.T) {
	assert.Equal(t, int32(3), strategy.Percent(25).Scaled(10, true), "maxSurge rounds up")
	assert.Equal(t, int32(2), strategy.Percent(25).Scaled(10, false), "maxUnavailable rounds down")
	assert.Equal(t, int32(4), strategy.Pods(4).Scaled(10, true))
	surge, unavailable := strategy.Fenceposts(10, strategy.Percent(0), strategy.Percent(0))
	assert.Equal(t, [2]int32{0, 1}, [2]int32{surge, unavailable}, "both zero makes maxUnavailable 1")
	surge, unavailable = strategy.Fenceposts(3, strategy.Pods(1), strategy.Pods(5))
	assert.Equal(t, [2]int32{1, 3}, [2]int32{surge, unavailable}, "maxUnavailable is capped at the replicas")
	surge, unavailable = strategy.Fenceposts(0, strategy.Pods(1), strategy.Pods(1))
	assert.Equal(t, [2]int32{1, 0}, [2]int32{surge, unavailable})
}

func TestParsePlanRefusesBadInput(t *testing.T) {
	p, err := strategy.Rolling{}.Compile("checkout", "dev")
	require.NoError(t, err)
	good, err := json.Marshal(p)
	require.NoError(t, err)

	_, err = strategy.ParsePlan([]byte(`{"app":"checkout","environment":"dev","strategy":"rolling","steps":[{"setWeight":100}],"finish":0,"extra":1}`))
	assert.ErrorContains(t, err, `unknown field "extra"`)
	_, err = strategy.ParsePlan(append(append([]byte{}, good...), good...))
	assert.ErrorContains(t, err, "data after the plan")
	_, err = strategy.ParsePlan([]byte(`{"app":"checkout","environment":"dev","strategy":"rolling","steps":[{"setWeight":101}],"finish":0,"abort":{"scaleDown":"withTraffic"}}`))
	assert.ErrorIs(t, err, strategy.ErrInvalidStrategy)
	assert.ErrorContains(t, err, `plan for app "checkout" in "dev": `)
	assert.ErrorContains(t, err, "steps[0].setWeight: must be between 0 and 100, got 101")
}

func TestStepStringOfInvalidSteps(t *testing.T) {
	assert.Equal(t, "empty step", strategy.Step{}.String())
	assert.Equal(t, "invalid step (setWeight, pause)", strategy.Step{SetWeight: new(int32(1)), Pause: &strategy.PauseStep{}}.String())
	assert.Equal(t, strategy.StepKind(""), strategy.Step{}.Kind())
	assert.Equal(t, strategy.StepSwitchActive, strategy.SwitchActive().Kind())
}
