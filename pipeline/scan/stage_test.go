package scan_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan/scantest"
)

func runSteps(t *testing.T, st *pipeline.State, steps ...pipeline.Step) (*pipeline.Report, error) {
	t.Helper()
	var b pipeline.Builder
	b.Add(steps...)
	g, err := b.Build()
	require.NoError(t, err)
	e, err := pipeline.New()
	require.NoError(t, err)
	return e.Run(context.Background(), g, st)
}

func TestStageScansBuiltImage(t *testing.T) {
	img, err := random.Image(32, 1)
	require.NoError(t, err)
	fake := scantest.New(low)
	st := pipeline.NewState()
	image.Built.Put(st, img)
	_, err = runSteps(t, st, pipeline.Step{
		Stage:    scan.NewStage(fake, scan.ImageTarget(image.Built), scan.WithPolicy(scan.Policy{FailAt: scan.SeverityHigh})),
		Provides: []pipeline.AnyKey{scan.Findings},
	})
	require.NoError(t, err)
	got, err := scan.Findings.Get(st)
	require.NoError(t, err)
	assert.Equal(t, []scan.Finding{low}, got)
	require.Len(t, fake.Calls(), 1)
	assert.Equal(t, img, fake.Calls()[0].Image)
}

func TestStageFailures(t *testing.T) {
	own := pipeline.NewKey[[]scan.Finding]("test.findings")
	fake := scantest.New(crit)
	st := pipeline.NewState()
	clock := clocktest.New(now)
	rep, err := runSteps(t, st, pipeline.Step{
		Stage: scan.NewStage(fake, scan.FixedTarget(scan.Target{Dir: "."}),
			scan.WithStageName("deps"), scan.WithResultKey(own),
			scan.WithPolicy(scan.Policy{FailAt: scan.SeverityHigh}), scan.WithClock(clock)),
		Provides: []pipeline.AnyKey{own},
		Retry:    pipeline.Retry{Attempts: 3, Backoff: time.Millisecond},
	})
	var ve *scan.ViolationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, []string{"CVE-2026-1"}, ids(ve.Failed))
	require.Len(t, rep.Steps, 1)
	assert.Equal(t, "deps", rep.Steps[0].Name)
	assert.Equal(t, 1, rep.Steps[0].Attempts, "a violation is not retried")
	stored, err := own.Get(st)
	require.NoError(t, err, "findings stored for reporting despite the failure")
	assert.Len(t, stored, 1)

	// A scanner error is retried by the step's policy.
	fake = scantest.New()
	fake.FailNext(errors.New("database temporarily unavailable"))
	_, err = runSteps(t, nil, pipeline.Step{
		Stage:    scan.NewStage(fake, scan.FixedTarget(scan.Target{Dir: "."})),
		Provides: []pipeline.AnyKey{scan.Findings},
		Retry:    pipeline.Retry{Attempts: 2, Backoff: time.Millisecond},
	})
	require.NoError(t, err)
	assert.Len(t, fake.Calls(), 2)

	// A missing image fails with the key named; the scanner is not called.
	fake = scantest.New()
	_, err = runSteps(t, nil, pipeline.Step{
		Stage:    scan.NewStage(fake, scan.ImageTarget(image.Built)),
		Provides: []pipeline.AnyKey{scan.Findings},
	})
	require.ErrorIs(t, err, pipeline.ErrNoValue)
	assert.ErrorContains(t, err, "image.built")
	assert.Empty(t, fake.Calls())

	// An invalid policy fails the stage.
	_, err = runSteps(t, nil, pipeline.Step{
		Stage:    scan.NewStage(scantest.New(), scan.FixedTarget(scan.Target{Dir: "."}), scan.WithPolicy(scan.Policy{Allow: []scan.Allow{{ID: "X"}}}), scan.WithClock(clock)),
		Provides: []pipeline.AnyKey{scan.Findings},
	})
	assert.ErrorIs(t, err, scan.ErrInvalidPolicy)
}

func TestScannerFunc(t *testing.T) {
	var got scan.Target
	s := scan.ScannerFunc(func(ctx context.Context, tg scan.Target) ([]scan.Finding, error) {
		got = tg
		return []scan.Finding{med}, nil
	})
	st := pipeline.NewState()
	err := scan.NewStage(s, scan.FixedTarget(scan.Target{Dir: "/src"})).Run(context.Background(), st)
	require.NoError(t, err)
	assert.Equal(t, "/src", got.Dir)
	fs, err := scan.Findings.Get(st)
	require.NoError(t, err)
	assert.Equal(t, []scan.Finding{med}, fs, "without a policy the stage only reports")
}
