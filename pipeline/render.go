package pipeline

import (
	"fmt"
	"strings"
)

// edges returns the graph's edges as (from, to, label): ordering edges
// have an empty label, data edges the key name.
func (g *Graph) edges(visit func(from, to *node, label string)) {
	for _, n := range g.nodes {
		data := map[int][]string{}
		for _, nd := range n.needs {
			data[nd.producer] = append(data[nd.producer], nd.key)
		}
		done := map[int]bool{}
		for _, a := range n.step.After {
			j := g.index[a]
			if done[j] {
				continue
			}
			done[j] = true
			if keys, ok := data[j]; ok {
				visit(g.nodes[j], n, strings.Join(keys, ", "))
			} else {
				visit(g.nodes[j], n, "")
			}
		}
		for _, nd := range n.needs {
			if done[nd.producer] {
				continue
			}
			done[nd.producer] = true
			visit(g.nodes[nd.producer], n, strings.Join(data[nd.producer], ", "))
		}
	}
}

// Mermaid renders the graph as a Mermaid flowchart, top to bottom. Steps
// are nodes; an arrow labelled with key names is a data dependency, an
// unlabelled arrow an ordering one; finally steps are drawn in a
// "finally" subgraph. Node ids are s0, s1, … in graph order.
func (g *Graph) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	id := g.ids()
	for _, n := range g.nodes[:g.mainLen] {
		fmt.Fprintf(&b, "    %s[%q]\n", id[n], n.name)
	}
	if g.mainLen < len(g.nodes) {
		b.WriteString("    subgraph finally\n")
		for _, n := range g.nodes[g.mainLen:] {
			fmt.Fprintf(&b, "        %s[%q]\n", id[n], n.name)
		}
		b.WriteString("    end\n")
	}
	g.edges(func(from, to *node, label string) {
		if label == "" {
			fmt.Fprintf(&b, "    %s --> %s\n", id[from], id[to])
		} else {
			fmt.Fprintf(&b, "    %s -->|%s| %s\n", id[from], mermaidLabel(label), id[to])
		}
	})
	return b.String()
}

// DOT renders the graph in Graphviz DOT. Data dependencies are labelled
// with key names; finally steps are in a cluster labelled "finally".
func (g *Graph) DOT() string {
	var b strings.Builder
	b.WriteString("digraph pipeline {\n    rankdir=LR;\n    node [shape=box];\n")
	for _, n := range g.nodes[:g.mainLen] {
		fmt.Fprintf(&b, "    %q;\n", n.name)
	}
	if g.mainLen < len(g.nodes) {
		b.WriteString("    subgraph cluster_finally {\n        label=\"finally\";\n        style=dashed;\n")
		for _, n := range g.nodes[g.mainLen:] {
			fmt.Fprintf(&b, "        %q;\n", n.name)
		}
		b.WriteString("    }\n")
	}
	g.edges(func(from, to *node, label string) {
		if label == "" {
			fmt.Fprintf(&b, "    %q -> %q;\n", from.name, to.name)
		} else {
			fmt.Fprintf(&b, "    %q -> %q [label=%q];\n", from.name, to.name, label)
		}
	})
	b.WriteString("}\n")
	return b.String()
}

func (g *Graph) ids() map[*node]string {
	id := make(map[*node]string, len(g.nodes))
	for i, n := range g.nodes {
		id[n] = fmt.Sprintf("s%d", i)
	}
	return id
}

// mermaidLabel makes s safe inside |…|.
func mermaidLabel(s string) string {
	return `"` + strings.NewReplacer("|", "/", `"`, "'").Replace(s) + `"`
}
