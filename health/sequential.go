package health

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// ErrInvalidSequential is returned (wrapped) by [NewSequentialTest] for a
// configuration outside its domain.
var ErrInvalidSequential = errors.New("invalid sequential test")

// SequentialConfig configures a [SequentialTest]; zero values are the
// documented defaults except CanaryShare, which is required.
type SequentialConfig struct {
	// CanaryShare is the canary's share of the traffic, in (0,1).
	CanaryShare float64
	// Alpha bounds the probability of ever declaring a canary worse when
	// its error rate is not higher than the stable one, however often the
	// test is checked. Default 0.01.
	Alpha float64
	// Beta bounds the probability of ever declaring a canary no worse
	// when its error rate is NoWorseThan times the stable one or more.
	// Default 0.01.
	Beta float64
	// NoWorseThan is the error-rate ratio (canary/stable) a canary may be
	// declared "no worse" against; it must exceed 1. Default 2.
	NoWorseThan float64
}

// SequentialTest is an always-valid sequential test of whether a canary
// fails more often than stable, on the split of errors between them.
//
// Given the canary's traffic share s, every error is the canary's with
// probability θ = s·r/(s·r + 1 − s), where r is the ratio of the canary's
// error rate to stable's; r = 1 gives θ = s. The test keeps two mixture
// likelihood ratios over the sequence of errors (a mixture sequential
// probability ratio test, mSPRT):
//
//   - worse: the alternatives r ∈ {1.25, 1.5, 2, 3, 5, 10} (equal weights)
//     against r = 1. It is a non-negative martingale of mean 1 whenever
//     r ≤ 1, so by Ville's inequality it ever reaches 1/Alpha with
//     probability at most Alpha: checking after every error (continuous
//     monitoring) does not raise the false-positive rate. Reaching it is
//     Failed.
//   - no worse: the alternatives r ∈ {1/2, 2/3, 1, (1+NoWorseThan)/2}
//     below NoWorseThan against r = NoWorseThan; reaching 1/Beta is
//     Successful (the canary is no worse than NoWorseThan), early.
//
// Until one of them decides the phase is Running. Requests without errors
// carry no information about the split, so zero errors keep the test
// running: they never fail it. Safe for concurrent use.
type SequentialTest struct {
	cfg            SequentialConfig
	p0             float64
	worse, noWorse mixture

	mu             sync.Mutex
	canary, stable int
	phase          Phase
}

// NewSequentialTest returns a test with no errors observed. It returns an
// error wrapping [ErrInvalidSequential] when CanaryShare is not in (0,1),
// Alpha or Beta not in (0,1), or NoWorseThan not above 1.
func NewSequentialTest(cfg SequentialConfig) (*SequentialTest, error) {
	if cfg.Alpha == 0 {
		cfg.Alpha = 0.01
	}
	if cfg.Beta == 0 {
		cfg.Beta = 0.01
	}
	if cfg.NoWorseThan == 0 {
		cfg.NoWorseThan = 2
	}
	var errs []error
	if !(cfg.CanaryShare > 0 && cfg.CanaryShare < 1) {
		errs = append(errs, fmt.Errorf("%w: canary share %g not in (0,1)", ErrInvalidSequential, cfg.CanaryShare))
	}
	if !(cfg.Alpha > 0 && cfg.Alpha < 1) || !(cfg.Beta > 0 && cfg.Beta < 1) {
		errs = append(errs, fmt.Errorf("%w: alpha %g and beta %g must be in (0,1)", ErrInvalidSequential, cfg.Alpha, cfg.Beta))
	}
	if !(cfg.NoWorseThan > 1) || math.IsInf(cfg.NoWorseThan, 0) {
		errs = append(errs, fmt.Errorf("%w: no-worse-than ratio %g must be a number above 1", ErrInvalidSequential, cfg.NoWorseThan))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := cfg.CanaryShare
	theta := func(r float64) float64 { return s * r / (s*r + 1 - s) }
	t := &SequentialTest{cfg: cfg, p0: s, phase: Running,
		worse:   newMixture(theta(1), theta, 1.25, 1.5, 2, 3, 5, 10),
		noWorse: newMixture(theta(cfg.NoWorseThan), theta, 0.5, 2.0/3, 1, (1+cfg.NoWorseThan)/2),
	}
	return t, nil
}

// mixture is an equal-weight mixture of Bernoulli alternatives against a
// null, with the per-observation log likelihood ratios precomputed.
type mixture struct {
	canaryLLR, stableLLR []float64 // log(θa/θ0), log((1−θa)/(1−θ0))
}

func newMixture(null float64, theta func(float64) float64, ratios ...float64) mixture {
	var m mixture
	for _, r := range ratios {
		a := theta(r)
		m.canaryLLR = append(m.canaryLLR, math.Log(a/null))
		m.stableLLR = append(m.stableLLR, math.Log1p(-a)-math.Log1p(-null))
	}
	return m
}

// logRatio returns log of the mean over alternatives of their likelihood
// ratio after k canary and s stable errors, computed stably.
func (m mixture) logRatio(k, s float64) float64 {
	maxT := math.Inf(-1)
	var terms [8]float64
	for i := range m.canaryLLR {
		terms[i] = k*m.canaryLLR[i] + s*m.stableLLR[i]
		maxT = math.Max(maxT, terms[i])
	}
	var sum float64
	for i := range m.canaryLLR {
		sum += math.Exp(terms[i] - maxT)
	}
	return maxT + math.Log(sum/float64(len(m.canaryLLR)))
}

// Observe adds newly seen errors (not cumulative totals) and returns the
// phase: Running, Failed (canary worse, at level Alpha) or Successful
// (canary no worse than NoWorseThan, at level Beta). Once decided the
// phase stays. Negative counts are ignored.
func (t *SequentialTest) Observe(canaryErrors, stableErrors int) Phase {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.phase != Running {
		return t.phase
	}
	if canaryErrors > 0 {
		t.canary += canaryErrors
	}
	if stableErrors > 0 {
		t.stable += stableErrors
	}
	worse, ok := t.logRatios()
	switch {
	case worse >= math.Log(1/t.cfg.Alpha):
		t.phase = Failed
	case ok >= math.Log(1/t.cfg.Beta):
		t.phase = Successful
	}
	return t.phase
}

// logRatios returns the log mixture likelihood ratios of the two tests.
func (t *SequentialTest) logRatios() (worse, noWorse float64) {
	k, s := float64(t.canary), float64(t.stable)
	return t.worse.logRatio(k, s), t.noWorse.logRatio(k, s)
}

// SequentialState is a snapshot of a [SequentialTest].
type SequentialState struct {
	Phase           Phase
	CanaryErrors    int
	StableErrors    int
	LogRatioWorse   float64 // compare with ln(1/Alpha)
	LogRatioNoWorse float64 // compare with ln(1/Beta)
}

// State returns the current counts, statistics and phase.
func (t *SequentialTest) State() SequentialState {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.logRatios()
	return SequentialState{Phase: t.phase, CanaryErrors: t.canary, StableErrors: t.stable,
		LogRatioWorse: w, LogRatioNoWorse: ok}
}
