package strategy_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/strategy"
)

func TestPlanStringNumbersEveryStep(t *testing.T) {
	p, err := strategy.Canary{Steps: []strategy.Step{strategy.SetWeight(5), strategy.SetWeight(25)}}.Compile("checkout", "prod")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(p.String(), "\n"), "\n")
	require.Len(t, lines, len(p.Steps)+2)
	assert.Equal(t, "canary plan for checkout in prod (replica ratio, maxSurge 25%, maxUnavailable 25%)", lines[0])
	assert.Equal(t, "2/5 setWeight 25%", lines[2])
	assert.Equal(t, "3/5 setWeight 100% (finish)", lines[3])
	assert.Equal(t, "abort: all traffic back to stable, then scale the new release down with its traffic", lines[len(lines)-1])
}

func TestMermaidBranches(t *testing.T) {
	bg, err := strategy.BlueGreen{ActiveService: "checkout", PostPromotionAnalysis: new(strategy.Templates("error-rate"))}.Compile("checkout", "prod")
	require.NoError(t, err)
	m := bg.Mermaid()
	assert.True(t, strings.HasPrefix(m, "flowchart TD\n"))
	assert.Contains(t, m, `    s3{"3/4 analysis error-rate"}`)
	assert.Contains(t, m, "    s3 -->|Successful| s4\n")
	assert.Contains(t, m, "    s3 -->|Failed, Error| abort\n", "a failed post-promotion analysis aborts")
	assert.Contains(t, m, "    s4 --> done\n")

	canary, err := strategy.Canary{Steps: []strategy.Step{strategy.AnalyzeInBackground("latency"), strategy.SetWeight(10)}}.Compile("checkout", "prod")
	require.NoError(t, err)
	m = canary.Mermaid()
	assert.Contains(t, m, `    s1[/"1/5 background analysis latency"/]`)
	assert.Contains(t, m, "    s1 --> s2\n")
	assert.Contains(t, m, "    s1 -.->|Failed, Error| abort\n")

	odd := strategy.Plan{Strategy: strategy.KindCanary, App: `a"b`, Steps: []strategy.Step{strategy.Analyze(`x|y`)}}
	m = odd.Mermaid()
	assert.Contains(t, m, `start(["canary plan for a#quot;b in "])`)
	assert.Contains(t, m, `s1{"1/1 analysis x#124;y"}`)
}
