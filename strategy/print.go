package strategy

import (
	"fmt"
	"strings"
)

// String prints the plan as text: a header naming the strategy, app,
// environment and how traffic moves, one numbered line per step ("3/7
// setWeight 25%", the first step of the finish marked), and what an abort
// does.
func (p Plan) String() string {
	var b strings.Builder
	b.WriteString(p.title())
	if d := p.details(); d != "" {
		b.WriteString(" (" + d + ")")
	}
	b.WriteByte('\n')
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "%s", p.stepLabel(i, s))
		if i == p.Finish {
			b.WriteString(" (finish)")
		}
		b.WriteByte('\n')
	}
	b.WriteString("abort: " + p.abortText() + "\n")
	return b.String()
}

func (p Plan) title() string {
	return fmt.Sprintf("%s plan for %s in %s", p.Strategy, p.App, p.Environment)
}

func (p Plan) details() string {
	surge := fmt.Sprintf("maxSurge %s, maxUnavailable %s", p.MaxSurge, p.MaxUnavailable)
	switch p.Strategy {
	case KindRolling:
		return surge
	case KindCanary:
		if t := p.TrafficRouting; t != nil {
			d := fmt.Sprintf("HTTPRoute %s, stable %s, canary %s", t.HTTPRoute, t.StableService, t.CanaryService)
			if p.DynamicStableScale {
				d += ", dynamic stable scale"
			}
			return d
		}
		return "replica ratio, " + surge
	case KindBlueGreen:
		if p.PreviewService == "" {
			return "active " + p.ActiveService
		}
		return fmt.Sprintf("active %s, preview %s", p.ActiveService, p.PreviewService)
	}
	return ""
}

func (p Plan) stepLabel(i int, s Step) string {
	return fmt.Sprintf("%d/%d %s", i+1, len(p.Steps), s)
}

func (p Plan) abortText() string {
	return "all traffic back to stable, then " + p.Abort.String()
}

// Mermaid prints the plan as a Mermaid flowchart: one node per step in
// order, an inline analysis branching on its outcome (Successful goes on,
// Failed or Error aborts, Inconclusive pauses until promoted or aborted),
// a background analysis with a dotted branch to the abort, and a pause
// until promoted going on when promoted.
func (p Plan) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	node := func(id, shape, label string) {
		open, close := shape[:len(shape)/2], shape[len(shape)/2:]
		fmt.Fprintf(&b, "    %s%s\"%s\"%s\n", id, open, mermaidEscape(label), close)
	}
	id := func(i int) string {
		if i == len(p.Steps) {
			return "done"
		}
		return fmt.Sprintf("s%d", i+1)
	}
	node("start", "([])", p.title())
	for i, s := range p.Steps {
		switch {
		case s.Analysis != nil && !s.Analysis.Background && s.Kind() == StepAnalysis:
			node(id(i), "{}", p.stepLabel(i, s))
			node(id(i)+"i", "([])", "paused: promote or abort")
		case s.Analysis != nil && s.Kind() == StepAnalysis:
			node(id(i), "[//]", p.stepLabel(i, s))
		default:
			node(id(i), "[]", p.stepLabel(i, s))
		}
	}
	node("done", "([])", "done")
	node("abort", "([])", "abort: "+p.abortText())
	edge := func(from, arrow, label, to string) {
		if label != "" {
			label = "|" + mermaidEscape(label) + "|"
		}
		fmt.Fprintf(&b, "    %s %s%s %s\n", from, arrow, label, to)
	}
	edge("start", "-->", "", id(0))
	for i, s := range p.Steps {
		next := id(i + 1)
		switch {
		case s.Kind() == StepAnalysis && !s.Analysis.Background:
			edge(id(i), "-->", "Successful", next)
			edge(id(i), "-->", "Failed, Error", "abort")
			edge(id(i), "-->", "Inconclusive", id(i)+"i")
			edge(id(i)+"i", "-->", "promote", next)
			edge(id(i)+"i", "-->", "abort", "abort")
		case s.Kind() == StepAnalysis:
			edge(id(i), "-->", "", next)
			edge(id(i), "-.->", "Failed, Error", "abort")
		case s.Kind() == StepPause && s.Pause.Duration == nil:
			edge(id(i), "-->", "promote", next)
		default:
			edge(id(i), "-->", "", next)
		}
	}
	return b.String()
}

// mermaidEscape makes a label safe inside Mermaid's double quotes.
func mermaidEscape(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "|", "#124;").Replace(s)
}
