// Command vulnapp calls a vulnerable symbol of example.com/vulnlib so that
// govulncheck reports GO-2026-9001 as reachable; it imports the module's
// package but never calls Compare, so GO-2026-9002 is not reachable. It
// imports nothing else, to keep scans fast.
package main

import "example.com/vulnlib"

func main() {
	println(vulnlib.ParseHeader("((Content-Type: text/plain))"))
}
