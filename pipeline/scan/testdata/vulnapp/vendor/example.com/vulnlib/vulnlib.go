// Package vulnlib is a tiny library with two planted vulnerabilities
// (GO-2026-9001 in ParseHeader, GO-2026-9002 in Compare) described by the
// fixture database in ../../../../vulndb.
package vulnlib

import "strings"

// ParseHeader returns the header name before the first colon.
func ParseHeader(s string) string {
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		return ParseHeader(s[1 : len(s)-1])
	}
	name, _, _ := strings.Cut(s, ":")
	return name
}

// Compare reports whether a and b are equal.
func Compare(a, b string) bool { return a == b }
