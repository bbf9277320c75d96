package gitops

import (
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/utils/diff"
	"github.com/sergi/go-diff/diffmatchpatch"
)

// UnifiedDiff returns a unified diff of a and b with three lines of
// context, headed "--- a/<name>" and "+++ b/<name>", or "" if they are
// equal. [Result].Diff is these diffs of each rendered overlay (named by
// its directory), before and after the change, one after another.
func UnifiedDiff(name string, a, b string) string {
	if a == b {
		return ""
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	for _, d := range diff.Do(a, b) {
		op := byte(' ')
		switch d.Type {
		case diffmatchpatch.DiffDelete:
			op = '-'
		case diffmatchpatch.DiffInsert:
			op = '+'
		}
		text := strings.TrimSuffix(d.Text, "\n")
		for _, l := range strings.Split(text, "\n") {
			lines = append(lines, line{op, l})
		}
	}
	const ctx = 3
	var b2 strings.Builder
	fmt.Fprintf(&b2, "--- a/%s\n+++ b/%s\n", name, name)
	// Walk hunks: a hunk spans changes closer than 2*ctx lines apart.
	aLine, bLine := 1, 1
	for i := 0; i < len(lines); {
		if lines[i].op == ' ' {
			aLine++
			bLine++
			i++
			continue
		}
		start := max(i-ctx, 0)
		end := i
		for j := i; j < len(lines); j++ {
			if lines[j].op != ' ' {
				end = j
			} else if j-end > 2*ctx {
				break
			}
		}
		end = min(end+ctx, len(lines)-1)
		as, bs := aLine-(i-start), bLine-(i-start)
		var ac, bc int
		for _, l := range lines[start : end+1] {
			if l.op != '+' {
				ac++
			}
			if l.op != '-' {
				bc++
			}
		}
		fmt.Fprintf(&b2, "@@ -%d,%d +%d,%d @@\n", as, ac, bs, bc)
		for _, l := range lines[start : end+1] {
			b2.WriteByte(l.op)
			b2.WriteString(l.text)
			b2.WriteByte('\n')
		}
		for _, l := range lines[i : end+1] {
			if l.op != '+' {
				aLine++
			}
			if l.op != '-' {
				bLine++
			}
		}
		i = end + 1
	}
	return b2.String()
}
