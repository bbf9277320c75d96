package gotest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/gotest"
)

var hermetic = []string{"GOFLAGS=", "GOTOOLCHAIN=local", "GOWORK=off"}

// tinyModule writes a module with a passing, a failing, a skipped test, a
// subtest, and an integration-tagged test.
func tinyModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/tiny\n\ngo 1.26\n",
		"calc/calc.go": `package calc

// Add adds.
func Add(a, b int) int { return a + b }

// Sub subtracts.
func Sub(a, b int) int { return a - b }
`,
		"calc/calc_test.go": `package calc

import "testing"

func TestAddPasses(t *testing.T) {
	if Add(2, 2) != 4 {
		t.Fatal("math")
	}
}

func TestSubFails(t *testing.T) {
	t.Run("small", func(t *testing.T) {
		if got := Sub(3, 1); got != 1 {
			t.Errorf("Sub(3, 1) = %d, want 1", got)
		}
	})
}

func TestSkipped(t *testing.T) {
	if Add(0, 0) != 0 {
		t.Fatal("math")
	}
	t.Skip("not today")
}
`,
		"calc/integration_test.go": `//go:build integration

package calc

import "testing"

func TestIntegrationAdd(t *testing.T) {
	if Add(1, 1) != 2 {
		t.Fatal("math")
	}
}
`,
		"empty/empty.go": "package empty\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

func TestRunReportsPassFailSkipAndCoverage(t *testing.T) {
	dir := tinyModule(t)
	rep, err := gotest.Run(context.Background(), gotest.Spec{Dir: dir, Cover: true, Env: hermetic})
	require.Error(t, err)
	require.NotNil(t, rep)

	assert.ErrorIs(t, err, gotest.ErrTestsFailed)
	var fe *gotest.FailError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, []string{"example.com/tiny/calc TestSubFails", "example.com/tiny/calc TestSubFails/small"}, fe.Failures)
	assert.Contains(t, err.Error(), "gotest: 2 failed: example.com/tiny/calc TestSubFails, example.com/tiny/calc TestSubFails/small")
	assert.Contains(t, err.Error(), "Sub(3, 1) = 2, want 1")

	calc, ok := rep.Package("example.com/tiny/calc")
	require.True(t, ok)
	assert.Equal(t, gotest.Fail, calc.Status)
	assert.True(t, calc.HasCoverage)
	assert.InDelta(t, 100.0, calc.Coverage, 0.01)
	pass, ok := calc.Test("TestAddPasses")
	require.True(t, ok)
	assert.Equal(t, gotest.Pass, pass.Status)
	skip, _ := calc.Test("TestSkipped")
	assert.Equal(t, gotest.Skip, skip.Status)
	assert.Contains(t, skip.Output, "not today")
	_, ok = calc.Test("TestIntegrationAdd")
	assert.False(t, ok, "untagged run leaves integration tests out")

	empty, ok := rep.Package("example.com/tiny/empty")
	require.True(t, ok)
	assert.Equal(t, gotest.Skip, empty.Status, "a package without tests is skipped")

	assert.Equal(t, 1, rep.Count(gotest.Pass))
	assert.Equal(t, 2, rep.Count(gotest.Fail))
	assert.Equal(t, 1, rep.Count(gotest.Skip))
}

func TestRunSelectsByRunAndTags(t *testing.T) {
	dir := tinyModule(t)
	rep, err := gotest.Run(context.Background(), gotest.Spec{
		Dir: dir, Env: hermetic, Tags: []string{"integration"}, Run: "Integration|AddPasses",
		Packages: []string{"./calc"},
	})
	require.NoError(t, err)
	require.Len(t, rep.Packages, 1)
	calc := rep.Packages[0]
	assert.Equal(t, gotest.Pass, calc.Status)
	var names []string
	for _, tr := range calc.Tests {
		names = append(names, tr.Name)
		assert.Equal(t, gotest.Pass, tr.Status)
	}
	assert.ElementsMatch(t, []string{"TestAddPasses", "TestIntegrationAdd"}, names)
	assert.False(t, calc.HasCoverage)
}

func TestRunBuildFailureNamesPackage(t *testing.T) {
	dir := tinyModule(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "calc", "broken.go"), []byte("package calc\n\nfunc Broken() int { return \"x\" }\n"), 0o644))
	rep, err := gotest.Run(context.Background(), gotest.Spec{Dir: dir, Env: hermetic, Packages: []string{"./calc"}})
	require.ErrorIs(t, err, gotest.ErrTestsFailed)
	var fe *gotest.FailError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, []string{"example.com/tiny/calc"}, fe.Failures)
	assert.Contains(t, err.Error(), "broken.go:3")
	calc, _ := rep.Package("example.com/tiny/calc")
	assert.True(t, calc.BuildFailed)
}

func TestRunBadInputs(t *testing.T) {
	_, err := gotest.Run(context.Background(), gotest.Spec{Dir: filepath.Join(t.TempDir(), "nope"), Env: hermetic})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gotest: in ")
	assert.NotErrorIs(t, err, gotest.ErrTestsFailed)

	_, err = gotest.Run(context.Background(), gotest.Spec{Go: "flightdeck-no-go", Dir: t.TempDir()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "flightdeck-no-go")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = gotest.Run(ctx, gotest.Spec{Dir: t.TempDir(), Env: hermetic})
	assert.ErrorIs(t, err, context.Canceled)
}

const stream = `{"Action":"start","Package":"m/a"}
{"Action":"run","Package":"m/a","Test":"TestOne"}
{"Action":"output","Package":"m/a","Test":"TestOne","Output":"=== RUN   TestOne\n"}
{"Action":"output","Package":"m/a","Test":"TestOne","Output":"    a_test.go:9: boom\n"}
{"Action":"fail","Package":"m/a","Test":"TestOne","Elapsed":0.25}
{"Action":"run","Package":"m/a","Test":"TestTwo"}
{"Action":"pass","Package":"m/a","Test":"TestTwo","Elapsed":1.5}
{"Action":"output","Package":"m/a","Output":"coverage: 42.5% of statements\n"}
{"Action":"fail","Package":"m/a","Elapsed":2}
not json at all
{"ImportPath":"m/b [m/b.test]","Action":"build-output","Output":"b.go:1:1: expected 'package'\n"}
{"ImportPath":"m/b [m/b.test]","Action":"build-fail"}
{"Action":"start","Package":"m/b"}
{"Action":"output","Package":"m/b","Output":"FAIL\tm/b [build failed]\n"}
{"Action":"fail","Package":"m/b","Elapsed":0,"FailedBuild":"m/b [m/b.test]"}
{"Action":"run","Package":"m/c","Test":"TestHang"}
{"Action":"fail","Package":"m/c","Elapsed":600}`

func TestParse(t *testing.T) {
	rep, err := gotest.Parse(strings.NewReader(stream))
	require.NoError(t, err)
	require.Len(t, rep.Packages, 3)
	a := rep.Packages[0]
	assert.Equal(t, gotest.Fail, a.Status)
	assert.Equal(t, 2*1e9, float64(a.Elapsed))
	assert.True(t, a.HasCoverage)
	assert.Equal(t, 42.5, a.Coverage)
	one, _ := a.Test("TestOne")
	assert.Equal(t, gotest.TestResult{Name: "TestOne", Status: gotest.Fail, Elapsed: 250e6, Output: "=== RUN   TestOne\n    a_test.go:9: boom\n"}, one)
	two, _ := a.Test("TestTwo")
	assert.Equal(t, 1500e6, float64(two.Elapsed))

	b := rep.Packages[1]
	assert.True(t, b.BuildFailed)
	assert.Contains(t, b.Output, "expected 'package'")

	c := rep.Packages[2]
	hang, _ := c.Test("TestHang")
	assert.Equal(t, gotest.Running, hang.Status, "no outcome event: the binary died")
	assert.Equal(t, []string{"m/a TestOne", "m/b", "m/c TestHang"}, rep.Failures())
}

func TestStagePutsReportAndFails(t *testing.T) {
	dir := tinyModule(t)
	key := pipeline.NewKey[*gotest.Report]("test.gotest")
	unit := gotest.New("unit", gotest.Spec{Dir: dir, Env: hermetic, Packages: []string{"./calc"}}).WithReport(key)
	assert.Equal(t, "unit", unit.Name())
	st := pipeline.NewState()
	err := unit.Run(context.Background(), st)
	require.ErrorIs(t, err, gotest.ErrTestsFailed)
	assert.Contains(t, err.Error(), "stage unit: gotest: 2 failed: example.com/tiny/calc TestSubFails")
	rep, err := key.Get(st)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Count(gotest.Pass))
}
