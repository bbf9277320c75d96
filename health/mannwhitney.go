package health

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// MannWhitneyResult is the outcome of a two-sided Mann-Whitney U test
// (Wilcoxon rank-sum) of experiment against control.
type MannWhitneyResult struct {
	// U is the statistic of the experiment sample.
	U float64
	// P is the two-sided p-value (normal approximation with tie and
	// continuity corrections).
	P float64
	// Estimate is the Hodges-Lehmann estimate of the location shift
	// experiment − control: the median of all pairwise differences.
	Estimate float64
	// Lower and Upper bound the confidence interval of the shift.
	Lower, Upper float64
}

// MannWhitney tests experiment against control at the given two-sided
// confidence level (for example 0.98), as R's wilcox.test with
// conf.int=TRUE does and Kayenta's MannWhitneyClassifier calls it. The
// confidence interval is the order-statistic interval of the pairwise
// differences (Hollander & Wolfe) with the normal approximation for its
// rank, corrected for ties. NaNs must already be removed; both samples must
// be non-empty.
func MannWhitney(control, experiment []float64, confidence float64) MannWhitneyResult {
	m, n := len(experiment), len(control)
	type obs struct {
		v   float64
		exp bool
	}
	all := make([]obs, 0, m+n)
	for _, v := range experiment {
		all = append(all, obs{v, true})
	}
	for _, v := range control {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	N := float64(m + n)
	var rankSumExp, tieTerm float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // average of ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].exp {
				rankSumExp += rank
			}
		}
		t := float64(j - i)
		tieTerm += t*t*t - t
		i = j
	}
	fm, fn := float64(m), float64(n)
	u := rankSumExp - fm*(fm+1)/2
	mean := fm * fn / 2
	variance := fm * fn / 12 * ((N + 1) - tieTerm/(N*(N-1)))
	sd := math.Sqrt(variance)
	res := MannWhitneyResult{U: u, P: 1}
	if sd > 0 {
		d := u - mean
		z := (math.Abs(d) - 0.5) / sd
		if z < 0 {
			z = 0
		}
		res.P = math.Min(1, math.Erfc(z/math.Sqrt2))
	}

	diffs := make([]float64, 0, m*n)
	for _, x := range experiment {
		for _, y := range control {
			diffs = append(diffs, x-y)
		}
	}
	slices.Sort(diffs)
	res.Estimate = median(diffs)
	zq := normalQuantile(1 - (1-confidence)/2)
	k := int(math.Floor(mean - zq*sd))
	if k < 0 {
		k = 0
	}
	if k > len(diffs)-1-k {
		k = (len(diffs) - 1) / 2
	}
	res.Lower, res.Upper = diffs[k], diffs[len(diffs)-1-k]
	return res
}

func median(sorted []float64) float64 {
	l := len(sorted)
	if l == 0 {
		return math.NaN()
	}
	if l%2 == 1 {
		return sorted[l/2]
	}
	return (sorted[l/2-1] + sorted[l/2]) / 2
}

// normalQuantile is the inverse standard normal CDF (Acklam's rational
// approximation refined by one Newton step; |error| < 1e-12).
func normalQuantile(p float64) float64 {
	if p <= 0 {
		return math.Inf(-1)
	}
	if p >= 1 {
		return math.Inf(1)
	}
	a := []float64{-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00}
	b := []float64{-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01}
	c := []float64{-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00}
	d := []float64{7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00}
	var x float64
	switch {
	case p < 0.02425:
		q := math.Sqrt(-2 * math.Log(p))
		x = (((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	case p > 1-0.02425:
		q := math.Sqrt(-2 * math.Log(1-p))
		x = -(((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	default:
		q := p - 0.5
		r := q * q
		x = (((((a[0]*r+a[1])*r+a[2])*r+a[3])*r+a[4])*r + a[5]) * q / (((((b[0]*r+b[1])*r+b[2])*r+b[3])*r+b[4])*r + 1)
	}
	e := 0.5*math.Erfc(-x/math.Sqrt2) - p
	u := e * math.Sqrt(2*math.Pi) * math.Exp(x*x/2)
	return x - u/(1+x*u/2)
}

// Direction says which change of a metric counts against the canary.
type Direction string

// Directions, as Kayenta names them.
const (
	Either   Direction = "either" // the default
	Increase Direction = "increase"
	Decrease Direction = "decrease"
)

// Classification is a metric's verdict in a canary judgement.
type Classification string

// Metric classifications, as Kayenta names them.
const (
	Pass   Classification = "Pass"
	High   Classification = "High"
	Low    Classification = "Low"
	Nodata Classification = "Nodata"
)

// ScoreClassification is the verdict of a whole canary judgement.
type ScoreClassification string

// Score classifications.
const (
	ScorePass     ScoreClassification = "Pass"
	ScoreMarginal ScoreClassification = "Marginal"
	ScoreFail     ScoreClassification = "Fail"
)

// CanaryMetric is one metric to judge: its configuration and the samples
// of the baseline (control) and the canary (experiment).
type CanaryMetric struct {
	Name string
	// Groups the metric scores in; none means the group "default".
	Groups []string
	// Direction that counts against the canary; default Either.
	Direction Direction
	// Critical metrics fail the whole judgement when not Pass.
	Critical bool
	// AllowedIncrease and AllowedDecrease are the effect-size gates on the
	// ratio mean(canary)/mean(baseline): High needs ratio ≥
	// AllowedIncrease, Low needs ratio ≤ AllowedDecrease. Zero means 1.0,
	// Kayenta's default (no gate beyond the test).
	AllowedIncrease, AllowedDecrease float64
	// Control and Experiment are the samples; NaNs are removed.
	Control, Experiment []float64
}

// JudgeConfig is the per-call input of [Judge]; zero values are
// Kayenta's NetflixACAJudge defaults.
type JudgeConfig struct {
	// Confidence of the Mann-Whitney interval; default 0.98.
	Confidence float64
	// Tolerance is the fraction of |Hodges-Lehmann estimate| the interval
	// must clear; default 0.25. A negative tolerance would let an interval
	// that contains zero pass the gate: [Judge] rejects it.
	Tolerance float64
	// GroupWeights weighs group scores (percent). Groups without a weight
	// share what is left of 100 equally.
	GroupWeights map[string]float64
	// PassThreshold and MarginalThreshold classify the score: ≥ pass is
	// Pass, ≥ marginal is Marginal, below is Fail. Defaults 95 and 75.
	PassThreshold, MarginalThreshold float64
}

// MetricVerdict is the classification of one metric.
type MetricVerdict struct {
	Name           string
	Classification Classification
	Reason         string
	// Ratio is mean(canary)/mean(baseline), the effect size.
	Ratio    float64
	Critical bool
	Test     *MannWhitneyResult // nil when no test was needed
}

// GroupScore is the score of one group: Pass / (Pass+High+Low) × 100.
type GroupScore struct {
	Name   string
	Score  float64
	NoData bool
}

// Judgement is the result of [Judge].
type Judgement struct {
	Score          float64
	Classification ScoreClassification
	Reason         string
	Groups         []GroupScore
	Metrics        []MetricVerdict
}

// Phase maps the judgement to a measurement phase: Pass → Successful,
// Marginal → Inconclusive, Fail → Failed.
func (j Judgement) Phase() Phase {
	switch j.Classification {
	case ScorePass:
		return Successful
	case ScoreMarginal:
		return Inconclusive
	}
	return Failed
}

// ErrInvalidJudgement is returned (wrapped) by [Judge] for a malformed
// configuration: no metrics, a metric without a name, a duplicate name, a
// confidence outside (0,1), a negative tolerance, or thresholds out of
// order.
var ErrInvalidJudgement = errors.New("invalid canary judgement")

func (c JudgeConfig) withDefaults() JudgeConfig {
	if c.Confidence == 0 {
		c.Confidence = 0.98
	}
	if c.Tolerance == 0 {
		c.Tolerance = 0.25
	}
	if c.PassThreshold == 0 {
		c.PassThreshold = 95
	}
	if c.MarginalThreshold == 0 {
		c.MarginalThreshold = 75
	}
	return c
}

func dropNaN(xs []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}

func isFinite(x float64) bool { return !math.IsInf(x, 0) && !math.IsNaN(x) }

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// ClassifyMetric classifies one metric as Kayenta's MannWhitneyClassifier
// does: NaNs removed; no data on either side → Nodata; identical samples or
// a single distinct value → Pass; otherwise High when the direction allows
// it, the interval's lower end exceeds Tolerance×|estimate| and the ratio
// reaches AllowedIncrease; Low symmetrically; else Pass.
func ClassifyMetric(cfg JudgeConfig, m CanaryMetric) MetricVerdict {
	cfg = cfg.withDefaults()
	v := MetricVerdict{Name: m.Name, Ratio: 1, Critical: m.Critical, Classification: Pass}
	control, experiment := dropNaN(m.Control), dropNaN(m.Experiment)
	if len(control) == 0 || len(experiment) == 0 {
		v.Classification = Nodata
		v.Reason = fmt.Sprintf("missing data for %s (baseline %d, canary %d values)", m.Name, len(control), len(experiment))
		return v
	}
	if !slices.ContainsFunc(control, isFinite) && !slices.ContainsFunc(experiment, isFinite) {
		// Both sides beyond measurement (a quantile above the top bucket
		// everywhere): nothing tells whether the canary is worse.
		v.Classification = Nodata
		v.Reason = fmt.Sprintf("no finite data for %s", m.Name)
		return v
	}
	sc, se := slices.Sorted(slices.Values(control)), slices.Sorted(slices.Values(experiment))
	if slices.Equal(sc, se) {
		v.Reason = "the canary and baseline data are identical"
		return v
	}
	if sc[0] == sc[len(sc)-1] && se[0] == se[len(se)-1] && sc[0] == se[0] {
		v.Reason = "a single distinct value"
		return v
	}
	mw := MannWhitney(control, experiment, cfg.Confidence)
	v.Test = &mw
	mc, me := mean(control), mean(experiment)
	switch {
	case mc == 0 && me == 0:
		v.Ratio = 1
	case mc == 0:
		v.Ratio = math.Inf(int(math.Copysign(1, me)))
	default:
		v.Ratio = me / mc
	}
	incr, decr := m.AllowedIncrease, m.AllowedDecrease
	if incr == 0 {
		incr = 1
	}
	if decr == 0 {
		decr = 1
	}
	bound := cfg.Tolerance * math.Abs(mw.Estimate)
	if math.IsInf(bound, 0) || math.IsNaN(bound) {
		// An infinite shift is not a small one: the interval only has to
		// exclude zero.
		bound = 0
	}
	dir := m.Direction
	if dir == "" {
		dir = Either
	}
	switch {
	case (dir == Increase || dir == Either) && mw.Lower > bound && v.Ratio >= incr:
		v.Classification = High
		v.Reason = fmt.Sprintf("%s was classified as High: shift %.4g [%.4g, %.4g], ratio %.3g", m.Name, mw.Estimate, mw.Lower, mw.Upper, v.Ratio)
	case (dir == Decrease || dir == Either) && mw.Upper < -bound && v.Ratio <= decr:
		v.Classification = Low
		v.Reason = fmt.Sprintf("%s was classified as Low: shift %.4g [%.4g, %.4g], ratio %.3g", m.Name, mw.Estimate, mw.Lower, mw.Upper, v.Ratio)
	}
	return v
}

// Judge classifies every metric with [ClassifyMetric] and scores the
// canary as Kayenta's NetflixACAJudge with its WeightedSumScorer does:
// each group scores Pass/(Pass+High+Low)×100 (Nodata metrics do not count;
// a group with only Nodata has no score and adds nothing); the summary is
// the weighted sum of group scores; a Critical metric that is not Pass
// forces the score to 0 and the verdict to Fail. It returns an error
// wrapping [ErrInvalidJudgement] for a malformed configuration.
func Judge(cfg JudgeConfig, metrics []CanaryMetric) (Judgement, error) {
	cfg = cfg.withDefaults()
	var errs []error
	if len(metrics) == 0 {
		errs = append(errs, fmt.Errorf("%w: no metrics", ErrInvalidJudgement))
	}
	if cfg.Confidence <= 0 || cfg.Confidence >= 1 {
		errs = append(errs, fmt.Errorf("%w: confidence %g outside (0,1)", ErrInvalidJudgement, cfg.Confidence))
	}
	if !(cfg.Tolerance >= 0) { // also rejects NaN
		errs = append(errs, fmt.Errorf("%w: negative tolerance %g", ErrInvalidJudgement, cfg.Tolerance))
	}
	if cfg.MarginalThreshold > cfg.PassThreshold {
		errs = append(errs, fmt.Errorf("%w: marginal threshold %g above pass threshold %g", ErrInvalidJudgement, cfg.MarginalThreshold, cfg.PassThreshold))
	}
	seen := map[string]bool{}
	for i, m := range metrics {
		if m.Name == "" {
			errs = append(errs, fmt.Errorf("%w: metric %d has no name", ErrInvalidJudgement, i))
		} else if seen[m.Name] {
			errs = append(errs, fmt.Errorf("%w: metric %q is given twice", ErrInvalidJudgement, m.Name))
		}
		seen[m.Name] = true
		switch m.Direction {
		case "", Either, Increase, Decrease:
		default:
			errs = append(errs, fmt.Errorf("%w: metric %q: direction %q", ErrInvalidJudgement, m.Name, m.Direction))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Judgement{}, err
	}

	var j Judgement
	type counts struct{ pass, high, low int }
	groups := map[string]*counts{}
	var order []string
	var critical []string
	for _, m := range metrics {
		v := ClassifyMetric(cfg, m)
		j.Metrics = append(j.Metrics, v)
		if v.Critical && v.Classification != Pass {
			critical = append(critical, fmt.Sprintf("%s %s", v.Name, v.Classification))
		}
		gs := m.Groups
		if len(gs) == 0 {
			gs = []string{"default"}
		}
		for _, g := range gs {
			c, ok := groups[g]
			if !ok {
				c = &counts{}
				groups[g] = c
				order = append(order, g)
			}
			switch v.Classification {
			case Pass:
				c.pass++
			case High:
				c.high++
			case Low:
				c.low++
			}
		}
	}
	var weighted float64
	var unweighted []string
	for _, g := range order {
		if _, ok := cfg.GroupWeights[g]; ok {
			weighted += cfg.GroupWeights[g]
		} else {
			unweighted = append(unweighted, g)
		}
	}
	share := 0.0
	if len(unweighted) > 0 {
		share = (100 - weighted) / float64(len(unweighted))
	}
	for _, g := range order {
		c := groups[g]
		total := c.pass + c.high + c.low
		gsc := GroupScore{Name: g, NoData: total == 0}
		if total > 0 {
			gsc.Score = float64(c.pass) / float64(total) * 100
			w, ok := cfg.GroupWeights[g]
			if !ok {
				w = share
			}
			j.Score += gsc.Score * w / 100
		}
		j.Groups = append(j.Groups, gsc)
	}
	switch {
	case len(critical) > 0:
		j.Score = 0
		j.Classification = ScoreFail
		j.Reason = "critical metric failed: " + strings.Join(critical, ", ")
	case j.Score >= cfg.PassThreshold:
		j.Classification = ScorePass
		j.Reason = fmt.Sprintf("score %.1f ≥ pass threshold %g", j.Score, cfg.PassThreshold)
	case j.Score >= cfg.MarginalThreshold:
		j.Classification = ScoreMarginal
		j.Reason = fmt.Sprintf("score %.1f ≥ marginal threshold %g", j.Score, cfg.MarginalThreshold)
	default:
		j.Classification = ScoreFail
		j.Reason = fmt.Sprintf("score %.1f below marginal threshold %g", j.Score, cfg.MarginalThreshold)
	}
	return j, nil
}
