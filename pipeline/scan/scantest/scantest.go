package scantest

import (
	"context"
	"slices"
	"sync"

	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
)

// Scanner is a fake scanner. It returns its current findings, records
// every target it was asked to scan, returns injected errors, and can
// block until the context ends. The zero value returns no findings; it
// is safe for concurrent use.
type Scanner struct {
	mu       sync.Mutex
	findings []scan.Finding
	calls    []scan.Target
	faults   []error
	block    bool
}

var _ scan.Scanner = (*Scanner)(nil)

// New returns a scanner that reports findings.
func New(findings ...scan.Finding) *Scanner {
	return &Scanner{findings: slices.Clone(findings)}
}

// SetFindings replaces the findings returned by later scans.
func (s *Scanner) SetFindings(findings ...scan.Finding) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.findings = slices.Clone(findings)
}

// FailNext makes the next scan return err; calls queue up, one error
// each.
func (s *Scanner) FailNext(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, err)
}

// Block makes scans wait until their context ends and return its error.
func (s *Scanner) Block(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.block = on
}

// Calls returns the targets scanned so far, in order.
func (s *Scanner) Calls() []scan.Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Scan records t and returns the configured findings or fault.
func (s *Scanner) Scan(ctx context.Context, t scan.Target) ([]scan.Finding, error) {
	s.mu.Lock()
	s.calls = append(s.calls, t)
	block := s.block
	var fault error
	if len(s.faults) > 0 {
		fault, s.faults = s.faults[0], s.faults[1:]
	}
	fs := slices.Clone(s.findings)
	s.mu.Unlock()
	if fault != nil {
		return nil, fault
	}
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return fs, nil
}
