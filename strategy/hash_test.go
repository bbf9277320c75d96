package strategy_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/strategy"
)

// goldenPlan is a fixed plan; its canonical JSON and hash must never
// change, or every recorded plan hash would stop matching.
func goldenPlan(t *testing.T) strategy.Plan {
	t.Helper()
	p, err := strategy.Canary{
		Steps: []strategy.Step{
			strategy.SetWeight(10),
			strategy.Pause(5 * time.Minute),
			{Analysis: &strategy.AnalysisStep{Analysis: strategy.Analysis{
				Templates: []strategy.AnalysisTemplate{{TemplateName: "error-rate"}},
				Args:      []strategy.AnalysisArg{{Name: "canary-hash", ValueFrom: &strategy.ArgValueFrom{PodTemplateHashValue: "Latest"}}},
			}}},
			strategy.ScaleCanary(2),
			strategy.SetWeight(50),
			strategy.PauseUntilPromoted(),
		},
		TrafficRouting: &strategy.TrafficRouting{HTTPRoute: "checkout", StableService: "checkout", CanaryService: "checkout-canary"},
		Analysis:       &strategy.BackgroundAnalysis{Analysis: strategy.Templates("success-rate"), StartingStep: new(int32(1))},
	}.Compile("checkout", "prod")
	require.NoError(t, err)
	return p
}

const goldenCanonical = `{"abort":{"delay":"30s","scaleDown":"afterDelay"},"app":"checkout","environment":"prod","finish":7,` +
	`"maxSurge":"25%","maxUnavailable":"25%","steps":[{"setWeight":10},` +
	`{"analysis":{"background":true,"templates":[{"templateName":"success-rate"}]}},{"pause":{"duration":"5m0s"}},` +
	`{"analysis":{"args":[{"name":"canary-hash","valueFrom":{"podTemplateHashValue":"Latest"}}],"templates":[{"templateName":"error-rate"}]}},` +
	`{"setCanaryScale":{"replicas":2}},{"setWeight":50},{"pause":{}},{"setWeight":100},{"switchActive":{}},` +
	`{"scaleDown":{"delay":"30s"}}],"strategy":"canary",` +
	`"trafficRouting":{"canaryService":"checkout-canary","httpRoute":"checkout","stableService":"checkout"}}`

const goldenHash = "5eede69957029e06d4c56fc8e8810d1d0f3479cdcd1a5cf01b85650e4d2a5f7a"

func TestPlanHashGolden(t *testing.T) {
	p := goldenPlan(t)
	canonical, err := p.CanonicalJSON()
	require.NoError(t, err)
	assert.Equal(t, goldenCanonical, string(canonical))
	hash, err := p.Hash()
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(goldenCanonical))
	assert.Equal(t, hex.EncodeToString(sum[:]), hash, "the hash is the SHA-256 of the canonical JSON")
	assert.Equal(t, goldenHash, hash)
}

// shuffled writes v as JSON with every object's keys in Go's (random) map
// iteration order and arbitrary whitespace.
func shuffled(v any) string {
	var b bytes.Buffer
	var write func(v any)
	write = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			b.WriteString("{ ")
			first := true
			for k, e := range x {
				if !first {
					b.WriteString(" ,\n ")
				}
				first = false
				fmt.Fprintf(&b, "%q :  ", k)
				write(e)
			}
			b.WriteString(" }")
		case []any:
			b.WriteString("[\t")
			for i, e := range x {
				if i > 0 {
					b.WriteString(" , ")
				}
				write(e)
			}
			b.WriteString("]")
		default:
			enc, _ := json.Marshal(x)
			b.Write(enc)
		}
	}
	write(v)
	return b.String()
}

func TestPlanHashIgnoresKeyOrderAndWhitespace(t *testing.T) {
	p := goldenPlan(t)
	want, err := p.Hash()
	require.NoError(t, err)
	var generic any
	require.NoError(t, json.Unmarshal([]byte(goldenCanonical), &generic))
	orders := map[string]bool{}
	for range 50 {
		doc := shuffled(generic)
		orders[doc] = true
		parsed, err := strategy.ParsePlan([]byte(doc))
		require.NoError(t, err)
		got, err := parsed.Hash()
		require.NoError(t, err)
		require.Equal(t, want, got, doc)
	}
	require.Greater(t, len(orders), 1, "the documents came in more than one key order")
}

func TestPlanHashChangesWithWhatWouldRun(t *testing.T) {
	base := goldenPlan(t)
	baseHash, err := base.Hash()
	require.NoError(t, err)
	changes := map[string]func(p *strategy.Plan){
		"a weight":   func(p *strategy.Plan) { p.Steps[0] = strategy.SetWeight(11) },
		"a pause":    func(p *strategy.Plan) { p.Steps[2] = strategy.Pause(5*time.Minute + time.Second) },
		"step order": func(p *strategy.Plan) { p.Steps[0], p.Steps[1] = p.Steps[1], p.Steps[0] },
		"the app":    func(p *strategy.Plan) { p.App = "payments" },
		"the env":    func(p *strategy.Plan) { p.Environment = "staging" },
		"the route": func(p *strategy.Plan) {
			p.TrafficRouting = &strategy.TrafficRouting{HTTPRoute: "other", StableService: "checkout", CanaryService: "checkout-canary"}
		},
		"the abort":  func(p *strategy.Plan) { p.Abort = strategy.AbortPolicy{ScaleDown: strategy.ScaleDownNever} },
		"maxSurge":   func(p *strategy.Plan) { p.MaxSurge = strategy.Pods(25) },
		"the finish": func(p *strategy.Plan) { p.Finish = 6 },
		"background": func(p *strategy.Plan) {
			p.Steps[1].Analysis = &strategy.AnalysisStep{Analysis: strategy.Templates("success-rate")}
		},
		"dynamic stable": func(p *strategy.Plan) { p.DynamicStableScale = true },
	}
	seen := map[string]string{baseHash: "base"}
	names := make([]string, 0, len(changes))
	for name := range changes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := goldenPlan(t)
		changes[name](&p)
		h, err := p.Hash()
		require.NoError(t, err)
		prev, dup := seen[h]
		assert.False(t, dup, "changing %s gives the hash of %s", name, prev)
		seen[h] = name
	}
}

func TestPlanHashNilAndEmptySteps(t *testing.T) {
	a, err := strategy.Plan{App: "checkout"}.Hash()
	require.NoError(t, err)
	b, err := strategy.Plan{App: "checkout", Steps: []strategy.Step{}}.Hash()
	require.NoError(t, err)
	assert.Equal(t, a, b)
	c, err := strategy.Plan{App: "checkout"}.CanonicalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(c), `"steps":[]`)
}
