// Command gen writes a bare GitOps repository for the gitops benchmarks:
// -apps apps with base and dev/staging/prod overlays (the layout of
// gitopstest.KustomizeLayout) and a linear history of -commits commits,
// each bumping one overlay's image tag, fed to `git fast-import`.
//
//	go run ./bench/gitops/gen -apps 1000 -commits 3000 -out /tmp/big.git
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

func main() {
	apps := flag.Int("apps", 50, "number of apps")
	commits := flag.Int("commits", 300, "number of commits, the initial layout included")
	out := flag.String("out", "", "bare repository to create (must not exist)")
	flag.Parse()
	if *out == "" || *apps < 1 || *commits < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*out, *apps, *commits); err != nil {
		log.Fatal(err)
	}
}

func appName(i int) string { return fmt.Sprintf("app%04d", i) }

func run(out string, apps, commits int) error {
	if err := exec.Command("git", "init", "-q", "--bare", "-b", "main", out).Run(); err != nil {
		return fmt.Errorf("git init: %w", err)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = out
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(in, 1<<20)
	names := make([]string, apps)
	for i := range names {
		names[i] = appName(i)
	}
	layout := gitopstest.KustomizeLayout(names...)
	when := int64(1700000000)
	commit := func(n int, msg string, files map[string]string) {
		fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\ncommitter gen <gen@example.com> %d +0000\n", n, when+int64(n))
		fmt.Fprintf(w, "data %d\n%s\n", len(msg), msg)
		if n > 1 {
			fmt.Fprintf(w, "from :%d\n", n-1)
		}
		for _, p := range slices.Sorted(maps.Keys(files)) {
			fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", p, len(files[p]), files[p])
		}
	}
	commit(1, "initial layout", layout)
	envs := []string{"dev", "staging", "prod"}
	for n := 2; n <= commits; n++ {
		app := names[n%apps]
		env := envs[(n/apps)%3]
		p := "apps/" + app + "/overlays/" + env + "/kustomization.yaml"
		body := strings.Replace(layout[p], "newTag: 1.0.0", fmt.Sprintf("newTag: 1.0.%d", n), 1)
		msg := fmt.Sprintf("deploy %s to %s\n\nFlightdeck-App: %s\nFlightdeck-Environment: %s\nFlightdeck-Action: deploy", app, env, app, env)
		commit(n, msg, map[string]string{p: body})
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := in.Close(); err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git fast-import: %w", err)
	}
	// Servers keep their repositories packed; so does the generated one.
	repack := exec.Command("git", "repack", "-adq")
	repack.Dir = out
	repack.Stderr = os.Stderr
	if err := repack.Run(); err != nil {
		return fmt.Errorf("git repack: %w", err)
	}
	for _, kv := range [][2]string{{"receive.autogc", "false"}, {"http.receivepack", "true"}} {
		if err := exec.Command("git", "-C", out, "config", kv[0], kv[1]).Run(); err != nil {
			return err
		}
	}
	_, _ = io.WriteString(os.Stdout, out+"\n")
	return nil
}
