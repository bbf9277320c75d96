// Package vulnlib is a tiny library with two planted vulnerabilities
// (GO-2026-9001 in ParseHeader, GO-2026-9002 in Compare) described by the
// fixture database in pipeline/scan/testdata/vulndb.
package vulnlib

// ParseHeader returns the header name before the first colon, unwrapping
// any parentheses around the header without limit.
func ParseHeader(s string) string {
	if len(s) > 1 && s[0] == '(' && s[len(s)-1] == ')' {
		return ParseHeader(s[1 : len(s)-1])
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return s[:i]
		}
	}
	return s
}

// Compare reports whether a and b are equal.
func Compare(a, b string) bool { return a == b }
