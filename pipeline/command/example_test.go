package command_test

import (
	"context"
	"fmt"

	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/command"
)

// A failing program's error carries its exit code and the tail of its
// output.
func ExampleNew() {
	vet := command.New("vet", command.Spec{
		Program: "sh",
		Args:    []string{"-c", `echo "main.go:3: unreachable code" >&2; exit 1`},
	})
	var b pipeline.Builder
	b.Add(pipeline.Step{Stage: vet})
	g, _ := b.Build()
	e, _ := pipeline.New()
	_, err := e.Run(context.Background(), g, nil)
	fmt.Println(err)
	// Output:
	// pipeline: step "vet" failed after 1 attempt: stage vet: command sh: exit code 1:
	// main.go:3: unreachable code
}

func ExampleRun() {
	res, err := command.Run(context.Background(), command.Spec{Program: "echo", Args: []string{"hello"}})
	fmt.Printf("%q %d %v\n", res.Stdout, res.ExitCode, err)
	// Output: "hello\n" 0 <nil>
}
