// Command vulnapp calls a vulnerable symbol of example.com/vulnlib so that
// govulncheck reports GO-2026-9001 as reachable; it imports the module's
// package but never calls Compare, so GO-2026-9002 is not reachable.
package main

import (
	"os"

	"example.com/vulnlib"
)

func main() {
	if len(os.Args) > 1 {
		os.Stdout.WriteString(vulnlib.ParseHeader(os.Args[1]) + "\n")
	}
}
