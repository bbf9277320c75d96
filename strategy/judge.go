package strategy

import (
	"context"
	"fmt"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/health"
)

// ErrorJudge returns a [Template] of the sequential error judge between
// a canary and its stable release: a [health.SequentialTest] fed by a
// [health.ErrorSplit] of two counters of failed requests (canaryErrors
// and stableErrors, cumulative: a Prometheus counter, a scrape), with the
// canary's share of the traffic taken from the weight the run is at.
// Measured every interval, count times, the analysis fails as soon as
// the canary's errors are shown to be more frequent than the stable's,
// and succeeds when they are shown not to be. Each analysis starts its
// own test, from the counters' values at its start; clk times the
// measurements (nil: the system clock). An analysis at weight 0 or 100
// fails to start, because the canary must share the traffic.
func ErrorJudge(canaryErrors, stableErrors health.Evaluator, interval time.Duration, count int, clk clock.Clock) Template {
	return errorJudge(func(test *health.SequentialTest) (*health.ErrorSplit, error) {
		return health.NewErrorSplit(test, canaryErrors, stableErrors, health.WithClock(clk))
	}, interval, count)
}

// ErrorJudgeOf is [ErrorJudge] with both counters read in one
// measurement of both tracks (see [health.NewErrorSplitOf]: its Values
// under health.CanaryErrorsKey and health.StableErrorsKey), so both
// increments cover exactly the same interval: one PromQL query summing
// errors by track, or one scrape of a metrics endpoint.
func ErrorJudgeOf(both health.Evaluator, interval time.Duration, count int, clk clock.Clock) Template {
	return errorJudge(func(test *health.SequentialTest) (*health.ErrorSplit, error) {
		return health.NewErrorSplitOf(test, both, health.WithClock(clk))
	}, interval, count)
}

func errorJudge(split func(*health.SequentialTest) (*health.ErrorSplit, error), interval time.Duration, count int) Template {
	return TemplateFunc(func(ctx context.Context, in AnalysisInput) (health.Analysis, error) {
		share := float64(in.Desired.Weight) / MaxWeight
		if share <= 0 || share >= 1 {
			return health.Analysis{}, fmt.Errorf("error judge at weight %d%%: the canary must share the traffic", in.Desired.Weight)
		}
		test, err := health.NewSequentialTest(health.SequentialConfig{CanaryShare: share})
		if err != nil {
			return health.Analysis{}, err
		}
		sp, err := split(test)
		if err != nil {
			return health.Analysis{}, err
		}
		return health.Analysis{Metrics: []health.Metric{{Name: in.Template, Evaluator: sp, Interval: interval, Count: count}}}, nil
	})
}
