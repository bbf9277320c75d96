// Package storyflags is the command line of the example programs that
// tell one fixed story and take no flags (examples/promotion,
// examples/rollback): -help prints what the story shows, anything else
// on the command line is refused.
package storyflags

import (
	"flag"
	"fmt"
	"os"
)

// Parse parses the command line with usage as the text of -help, and
// exits with status 2 after printing it when there are arguments.
func Parse(usage string) {
	flag.Usage = func() { fmt.Fprint(flag.CommandLine.Output(), usage) }
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
}
