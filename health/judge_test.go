package health_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/health"
)

func TestMannWhitneyKnownValues(t *testing.T) {
	// R's ?wilcox.test example: W = 35; difference in location 0.305.
	x := []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	y := []float64{1.15, 0.88, 0.90, 0.74, 1.21}
	r := health.MannWhitney(y, x, 0.98)
	assert.Equal(t, 35.0, r.U)
	// Normal approximation with continuity correction: z = (10-0.5)/sqrt(200/3).
	assert.InDelta(t, 0.2446, r.P, 1e-4)
	assert.InDelta(t, 0.305, r.Estimate, 1e-9)
	assert.InDelta(t, -0.17, r.Lower, 1e-9)
	assert.InDelta(t, 0.90, r.Upper, 1e-9)

	// Swapping the samples mirrors everything.
	s := health.MannWhitney(x, y, 0.98)
	assert.Equal(t, 15.0, s.U)
	assert.InDelta(t, r.P, s.P, 1e-12)
	assert.InDelta(t, -r.Estimate, s.Estimate, 1e-9)
	assert.InDelta(t, -r.Upper, s.Lower, 1e-9)
}

func TestMannWhitneyTies(t *testing.T) {
	// All ties but one: the tie correction keeps the variance positive.
	r := health.MannWhitney([]float64{0, 0, 0, 0}, []float64{0, 0, 0, 1}, 0.98)
	assert.Equal(t, 10.0, r.U) // 4 wins of the 1 plus half of 12 ties
	assert.Greater(t, r.P, 0.3)
	assert.Equal(t, 0.0, r.Estimate)
}

func seq(n int, f func(i int) float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func TestClassifyMetric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := seq(60, func(int) float64 { return 100 + rng.NormFloat64()*5 })
	slower := seq(60, func(int) float64 { return 150 + rng.NormFloat64()*5 })
	faster := seq(60, func(int) float64 { return 60 + rng.NormFloat64()*5 })
	same := seq(60, func(int) float64 { return 100 + rng.NormFloat64()*5 })
	tests := []struct {
		name string
		m    health.CanaryMetric
		want health.Classification
	}{
		{"no canary data", health.CanaryMetric{Control: base}, health.Nodata},
		{"only NaN is no data", health.CanaryMetric{Control: base, Experiment: []float64{math.NaN(), math.NaN()}}, health.Nodata},
		{"identical", health.CanaryMetric{Control: []float64{3, 1, 2}, Experiment: []float64{1, 2, 3}}, health.Pass},
		{"single distinct value", health.CanaryMetric{Control: []float64{0, 0, 0}, Experiment: []float64{0, 0}}, health.Pass},
		{"higher", health.CanaryMetric{Control: base, Experiment: slower}, health.High},
		{"higher with NaNs removed", health.CanaryMetric{Control: append(slices.Clone(base), math.NaN()), Experiment: append(slices.Clone(slower), math.NaN())}, health.High},
		{"lower", health.CanaryMetric{Control: base, Experiment: faster}, health.Low},
		{"lower but only increases count", health.CanaryMetric{Control: base, Experiment: faster, Direction: health.Increase}, health.Pass},
		{"higher but only decreases count", health.CanaryMetric{Control: base, Experiment: slower, Direction: health.Decrease}, health.Pass},
		{"higher within allowed increase", health.CanaryMetric{Control: base, Experiment: slower, AllowedIncrease: 1.6}, health.Pass},
		{"higher beyond allowed increase", health.CanaryMetric{Control: base, Experiment: slower, AllowedIncrease: 1.4}, health.High},
		{"lower within allowed decrease", health.CanaryMetric{Control: base, Experiment: faster, AllowedDecrease: 0.5}, health.Pass},
		{"same distribution", health.CanaryMetric{Control: base, Experiment: same}, health.Pass},
		{"an infinite canary is higher", health.CanaryMetric{Control: base, Experiment: seq(60, func(int) float64 { return math.Inf(1) })}, health.High},
		{"an infinite baseline makes the canary lower", health.CanaryMetric{Control: seq(60, func(int) float64 { return math.Inf(1) }), Experiment: base}, health.Low},
		{"a canary infinite half the time is higher", health.CanaryMetric{Control: base, Experiment: seq(60, func(i int) float64 {
			if i%2 == 0 {
				return math.Inf(1)
			}
			return base[i]
		})}, health.High},
		{"nothing finite on either side is no data", health.CanaryMetric{Control: []float64{math.Inf(1), math.Inf(1)}, Experiment: []float64{math.Inf(1), math.Inf(-1)}}, health.Nodata},
		{"identical infinities are no data", health.CanaryMetric{Control: []float64{math.Inf(1)}, Experiment: []float64{math.Inf(1)}}, health.Nodata},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.m.Name = "latency"
			v := health.ClassifyMetric(health.JudgeConfig{}, tt.m)
			assert.Equal(t, tt.want, v.Classification, v.Reason)
			if tt.want == health.High || tt.want == health.Low {
				require.NotNil(t, v.Test)
				assert.Contains(t, v.Reason, string(tt.want))
			}
		})
	}
}

// TestClassifyMetricToleranceGate checks the gate on the interval: a
// shift the test finds significant is High only when the interval's lower
// end clears Tolerance×|estimate|.
func TestClassifyMetricToleranceGate(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	base := seq(60, func(int) float64 { return 100 + rng.NormFloat64()*10 })
	slower := seq(60, func(int) float64 { return 110 + rng.NormFloat64()*10 })
	m := health.CanaryMetric{Name: "latency", Control: base, Experiment: slower}

	def := health.ClassifyMetric(health.JudgeConfig{}, m)
	require.NotNil(t, def.Test)
	require.Greater(t, def.Test.Lower, 0.0, "the shift is significant")
	assert.Equal(t, health.High, def.Classification, def.Reason)

	// A tolerance the lower end cannot clear turns the same samples into a Pass.
	strict := health.JudgeConfig{Tolerance: def.Test.Lower/def.Test.Estimate + 0.01}
	v := health.ClassifyMetric(strict, m)
	assert.Equal(t, health.Pass, v.Classification, v.Reason)
	assert.Equal(t, def.Test.Lower, v.Test.Lower, "same test, only the gate moved")
}

func TestJudgeScoring(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := func() []float64 { return seq(40, func(int) float64 { return 10 + rng.NormFloat64() }) }
	worse := func() []float64 { return seq(40, func(int) float64 { return 20 + rng.NormFloat64() }) }
	m := func(name, group string, exp []float64) health.CanaryMetric {
		return health.CanaryMetric{Name: name, Groups: []string{group}, Control: base(), Experiment: exp}
	}

	t.Run("weighted groups", func(t *testing.T) {
		j, err := health.Judge(health.JudgeConfig{GroupWeights: map[string]float64{"latency": 60}}, []health.CanaryMetric{
			m("p50", "latency", base()), m("p99", "latency", worse()),
			m("errors", "errors", base()), m("5xx", "errors", base()),
			{Name: "empty", Groups: []string{"other"}},
		})
		require.NoError(t, err)
		// latency 50 × 0.6 + errors 100 × 0.2 + other (no data) 0 = 50.
		assert.InDelta(t, 50, j.Score, 1e-9)
		assert.Equal(t, health.ScoreFail, j.Classification)
		assert.Equal(t, health.Failed, j.Phase())
		require.Len(t, j.Groups, 3)
		assert.Equal(t, health.GroupScore{Name: "latency", Score: 50}, j.Groups[0])
		assert.Equal(t, health.GroupScore{Name: "errors", Score: 100}, j.Groups[1])
		assert.True(t, j.Groups[2].NoData)
	})
	t.Run("pass", func(t *testing.T) {
		j, err := health.Judge(health.JudgeConfig{}, []health.CanaryMetric{m("a", "g", base()), m("b", "g", base())})
		require.NoError(t, err)
		assert.Equal(t, 100.0, j.Score)
		assert.Equal(t, health.ScorePass, j.Classification)
		assert.Equal(t, health.Successful, j.Phase())
	})
	t.Run("marginal", func(t *testing.T) {
		ms := []health.CanaryMetric{m("w", "g", worse())}
		for _, n := range []string{"a", "b", "c", "d", "e"} {
			ms = append(ms, m(n, "g", base()))
		}
		j, err := health.Judge(health.JudgeConfig{}, ms)
		require.NoError(t, err)
		assert.InDelta(t, 500.0/6, j.Score, 1e-9)
		assert.Equal(t, health.ScoreMarginal, j.Classification)
		assert.Equal(t, health.Inconclusive, j.Phase())
	})
	t.Run("critical metric fails the canary", func(t *testing.T) {
		crit := m("errors", "g", worse())
		crit.Critical = true
		ms := []health.CanaryMetric{crit}
		for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t"} {
			ms = append(ms, m(n, "g", base()))
		}
		j, err := health.Judge(health.JudgeConfig{}, ms)
		require.NoError(t, err)
		assert.Equal(t, 0.0, j.Score)
		assert.Equal(t, health.ScoreFail, j.Classification)
		assert.Contains(t, j.Reason, "critical metric failed: errors High")
	})
	t.Run("critical metric without data fails", func(t *testing.T) {
		j, err := health.Judge(health.JudgeConfig{}, []health.CanaryMetric{{Name: "errors", Critical: true}, m("a", "g", base())})
		require.NoError(t, err)
		assert.Equal(t, health.ScoreFail, j.Classification)
		assert.Contains(t, j.Reason, "errors Nodata")
	})
}

func TestJudgeInvalid(t *testing.T) {
	ok := health.CanaryMetric{Name: "a", Control: []float64{1}, Experiment: []float64{1}}
	tests := []struct {
		name string
		cfg  health.JudgeConfig
		ms   []health.CanaryMetric
		want string
	}{
		{"no metrics", health.JudgeConfig{}, nil, "no metrics"},
		{"confidence", health.JudgeConfig{Confidence: 1.5}, []health.CanaryMetric{ok}, "confidence 1.5 outside (0,1)"},
		{"tolerance", health.JudgeConfig{Tolerance: -0.1}, []health.CanaryMetric{ok}, "negative tolerance -0.1"},
		{"thresholds", health.JudgeConfig{PassThreshold: 50, MarginalThreshold: 80}, []health.CanaryMetric{ok}, "marginal threshold 80 above pass threshold 50"},
		{"unnamed", health.JudgeConfig{}, []health.CanaryMetric{{}}, "metric 0 has no name"},
		{"duplicate", health.JudgeConfig{}, []health.CanaryMetric{ok, ok}, `"a" is given twice`},
		{"direction", health.JudgeConfig{}, []health.CanaryMetric{{Name: "d", Direction: "up"}}, `direction "up"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := health.Judge(tt.cfg, tt.ms)
			require.Error(t, err)
			assert.ErrorIs(t, err, health.ErrInvalidJudgement)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestSequentialTest(t *testing.T) {
	newTest := func(t *testing.T) *health.SequentialTest {
		st, err := health.NewSequentialTest(health.SequentialConfig{CanaryShare: 0.1})
		require.NoError(t, err)
		return st
	}
	t.Run("zero errors keep it running", func(t *testing.T) {
		st := newTest(t)
		for range 1000 {
			require.Equal(t, health.Running, st.Observe(0, 0))
		}
		assert.Equal(t, health.SequentialState{Phase: health.Running}, st.State())
	})
	t.Run("errors concentrated on the canary fail it", func(t *testing.T) {
		st := newTest(t)
		// With a 10% share, 5 canary errors and no stable ones are decisive.
		var p health.Phase
		n := 0
		for p = st.Observe(0, 0); p == health.Running; p = st.Observe(1, 0) {
			n++
		}
		assert.Equal(t, health.Failed, p)
		assert.Equal(t, 4, n, "decided on the 4th canary error")
		assert.Equal(t, health.Failed, st.Observe(0, 100), "a decision stays")
		assert.Equal(t, 4, st.State().CanaryErrors)
	})
	t.Run("errors in proportion conclude no worse", func(t *testing.T) {
		st := newTest(t)
		var p health.Phase
		for p = health.Running; p == health.Running; p = st.Observe(1, 9) {
		}
		assert.Equal(t, health.Successful, p)
		s := st.State()
		assert.Greater(t, s.LogRatioNoWorse, math.Log(100))
		assert.Less(t, s.LogRatioWorse, 0.0)
	})
	t.Run("invalid", func(t *testing.T) {
		for _, cfg := range []health.SequentialConfig{
			{}, {CanaryShare: 1}, {CanaryShare: 0.5, Alpha: 2}, {CanaryShare: 0.5, Beta: -1}, {CanaryShare: 0.5, NoWorseThan: 0.9}, {CanaryShare: math.NaN()},
		} {
			_, err := health.NewSequentialTest(cfg)
			assert.ErrorIs(t, err, health.ErrInvalidSequential, "%+v", cfg)
		}
	})
}

// binomial draws Binomial(n, p) by inversion (fast for small n·p).
func binomial(rng *rand.Rand, n int, p float64) int {
	u := rng.Float64()
	q := math.Pow(1-p, float64(n))
	cdf := q
	k := 0
	for u > cdf && k < n {
		q *= float64(n-k) / float64(k+1) * p / (1 - p)
		k++
		cdf += q
	}
	return k
}

// errorRates simulates k intervals of perInterval requests at rate p and
// returns the error rate of each interval.
func errorRates(rng *rand.Rand, k, perInterval int, p float64) []float64 {
	return seq(k, func(int) float64 { return float64(binomial(rng, perInterval, p)) / float64(perInterval) })
}

// TestMannWhitneyAAFalsePositives runs 2,000 A/A comparisons per metric
// kind (fixed seed) and checks that the judge calls the canary High in at
// most 1% of them (Direction Increase: the one-sided tail of the 98%
// interval is 1%).
func TestMannWhitneyAAFalsePositives(t *testing.T) {
	const trials = 2000
	kinds := map[string]func(rng *rand.Rand) []float64{
		"error rate, 30 intervals of 200 requests at 1%": func(rng *rand.Rand) []float64 { return errorRates(rng, 30, 200, 0.01) },
		"latency, 30 lognormal samples": func(rng *rand.Rand) []float64 {
			return seq(30, func(int) float64 { return math.Exp(4 + 0.5*rng.NormFloat64()) })
		},
	}
	for name, gen := range kinds {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2026, 1))
			high := 0
			for range trials {
				v := health.ClassifyMetric(health.JudgeConfig{}, health.CanaryMetric{Name: "m", Direction: health.Increase,
					Control: gen(rng), Experiment: gen(rng)})
				if v.Classification == health.High {
					high++
				}
			}
			rate := float64(high) / trials
			t.Logf("A/A false-positive rate: %d/%d = %.4f", high, trials, rate)
			assert.LessOrEqual(t, rate, 0.01)
		})
	}
}

// TestMannWhitneyCalibration checks the test beneath the judge on 2,000
// A/A trials of continuous data (fixed seed): its p-value falls below
// 0.01, and its 98% interval lies wholly above zero, about 1% of the time
// each. The judge's tolerance gate then makes it more conservative still,
// so the A/A false-positive rates above are an upper bound that holds
// with room, not a test that only passes because it never fires.
func TestMannWhitneyCalibration(t *testing.T) {
	const trials = 2000
	rng := rand.New(rand.NewPCG(2026, 7))
	lognormal := func() []float64 { return seq(30, func(int) float64 { return math.Exp(4 + 0.5*rng.NormFloat64()) }) }
	significant, above := 0, 0
	for range trials {
		r := health.MannWhitney(lognormal(), lognormal(), 0.98)
		if r.P < 0.01 {
			significant++
		}
		if r.Lower > 0 {
			above++
		}
	}
	t.Logf("A/A: p < 0.01 in %d/%d, 98%% interval above zero in %d/%d", significant, trials, above, trials)
	assert.InDelta(t, 0.01, float64(significant)/trials, 0.006, "two-sided p-value at 0.01")
	assert.InDelta(t, 0.01, float64(above)/trials, 0.006, "one tail of the 98% interval")
}

// TestMannWhitneyAAFalsePositivesEitherDirection runs 2,000 A/A
// comparisons (fixed seed) with Direction Either at 99% confidence, the
// two-sided form of α = 0.01: High or Low in at most 1% of them.
func TestMannWhitneyAAFalsePositivesEitherDirection(t *testing.T) {
	const trials = 2000
	rng := rand.New(rand.NewPCG(2026, 6))
	flagged := 0
	for range trials {
		v := health.ClassifyMetric(health.JudgeConfig{Confidence: 0.99}, health.CanaryMetric{Name: "m",
			Control: errorRates(rng, 30, 200, 0.01), Experiment: errorRates(rng, 30, 200, 0.01)})
		if v.Classification == health.High || v.Classification == health.Low {
			flagged++
		}
	}
	rate := float64(flagged) / trials
	t.Logf("A/A false-positive rate, either direction: %d/%d = %.4f", flagged, trials, rate)
	assert.LessOrEqual(t, rate, 0.01)
}

// TestSequentialAAFalsePositives checks the sequential test after every
// single error over 2,000 A/A trials (fixed seed): continuous monitoring
// must not lift the false-positive rate above α = 0.01. The no-worse
// conclusion is disabled (β tiny) so every trial watches up to 500
// errors, peeking after each: the worst case for peeking.
func TestSequentialAAFalsePositives(t *testing.T) {
	const trials, maxErrors = 2000, 500
	for _, share := range []float64{0.5, 0.1} {
		rng := rand.New(rand.NewPCG(2026, 2))
		fp := 0
		for range trials {
			st, err := health.NewSequentialTest(health.SequentialConfig{CanaryShare: share, Beta: 1e-300})
			require.NoError(t, err)
			for range maxErrors {
				var p health.Phase
				if rng.Float64() < share {
					p = st.Observe(1, 0)
				} else {
					p = st.Observe(0, 1)
				}
				if p == health.Failed {
					fp++
					break
				}
			}
		}
		rate := float64(fp) / trials
		t.Logf("canary share %.2f: A/A false positives under continuous monitoring %d/%d = %.4f", share, fp, trials, rate)
		assert.LessOrEqual(t, rate, 0.01)
	}
}

// TestSequentialCatchesDoubleErrorRate checks power on a fixed seed: a
// canary with twice the stable error rate (1% baseline, half the traffic)
// is caught in at least 95% of 500 trials within 20,000 requests.
func TestSequentialCatchesDoubleErrorRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 3))
	caught := 0
	for range 500 {
		if n, ok := sequentialRequestsToDetect(rng, 0.5, 0.01, 2, 20000); ok && n <= 20000 {
			caught++
		}
	}
	t.Logf("caught %d/500 within 20,000 requests", caught)
	assert.GreaterOrEqual(t, caught, 475)
}

// sequentialRequestsToDetect simulates requests split by share, stable
// error rate p and canary rate ratio·p, feeding errors to a sequential
// test one at a time, and returns the number of requests when it fails
// the canary (ok) or when it concluded otherwise or reached limit.
func sequentialRequestsToDetect(rng *rand.Rand, share, p, ratio float64, limit int) (int, bool) {
	st, err := health.NewSequentialTest(health.SequentialConfig{CanaryShare: share})
	if err != nil {
		panic(err)
	}
	pc := p * ratio
	pErr := share*pc + (1-share)*p // chance a request fails
	theta := share * pc / pErr     // chance a failure is the canary's
	requests := 0
	for requests < limit {
		// Requests until the next error: geometric(pErr).
		requests += 1 + int(math.Floor(math.Log(1-rng.Float64())/math.Log1p(-pErr)))
		var ph health.Phase
		if rng.Float64() < theta {
			ph = st.Observe(1, 0)
		} else {
			ph = st.Observe(0, 1)
		}
		switch ph {
		case health.Failed:
			return requests, true
		case health.Successful:
			return requests, false
		}
	}
	return requests, false
}
