package gotest_test

import (
	"fmt"
	"strings"

	"github.com/flightdeck-dev/flightdeck/pipeline/gotest"
)

// Parse turns a saved `go test -json` stream into a report.
func ExampleParse() {
	const saved = `{"Action":"run","Package":"example.com/app","Test":"TestLogin"}
{"Action":"pass","Package":"example.com/app","Test":"TestLogin","Elapsed":0.01}
{"Action":"run","Package":"example.com/app","Test":"TestLogout"}
{"Action":"fail","Package":"example.com/app","Test":"TestLogout","Elapsed":0.02}
{"Action":"output","Package":"example.com/app","Output":"coverage: 71.4% of statements\n"}
{"Action":"fail","Package":"example.com/app","Elapsed":0.5}`
	rep, _ := gotest.Parse(strings.NewReader(saved))
	app, _ := rep.Package("example.com/app")
	fmt.Println(app.Status, app.Coverage, rep.Count(gotest.Pass), rep.Count(gotest.Fail))
	fmt.Println(rep.Failures())
	// Output:
	// fail 71.4 1 1
	// [example.com/app TestLogout]
}
