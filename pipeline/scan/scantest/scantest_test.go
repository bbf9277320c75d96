package scantest_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan/scantest"
)

func TestScanner(t *testing.T) {
	f := scan.Finding{ID: "CVE-2026-1", Package: "libfoo", Severity: scan.SeverityHigh}
	s := scantest.New(f)
	got, err := s.Scan(context.Background(), scan.Target{Dir: "/src"})
	require.NoError(t, err)
	assert.Equal(t, []scan.Finding{f}, got)
	got[0].ID = "mutated"
	again, err := s.Scan(context.Background(), scan.Target{ImageRef: "app:v1"})
	require.NoError(t, err)
	assert.Equal(t, "CVE-2026-1", again[0].ID, "results are copies")

	boom := errors.New("db unavailable")
	s.FailNext(boom)
	_, err = s.Scan(context.Background(), scan.Target{})
	assert.ErrorIs(t, err, boom)

	s.SetFindings()
	got, err = s.Scan(context.Background(), scan.Target{})
	require.NoError(t, err)
	assert.Empty(t, got)

	assert.Equal(t, []scan.Target{{Dir: "/src"}, {ImageRef: "app:v1"}, {}, {}}, s.Calls())
}

func TestScannerBlocksUntilCancelled(t *testing.T) {
	s := scantest.New()
	s.Block(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := s.Scan(ctx, scan.Target{})
		done <- err
	}()
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

func TestScannerConcurrent(t *testing.T) {
	s := scantest.New(scan.Finding{ID: "X"})
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Scan(context.Background(), scan.Target{})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Len(t, s.Calls(), 16)
}
