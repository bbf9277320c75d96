package health_test

import (
	"context"
	"fmt"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/health"
)

// ExampleNewErrorLogs judges the error lines of the last minute: three
// in a minute are more than the two tolerated, and the samples hide the
// token one of them leaked.
func ExampleNewErrorLogs() {
	clk := clocktest.New(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	now := clk.Now()
	log := []health.LogLine{
		{Time: now.Add(-90 * time.Second), Source: "web-1", Text: `level=error msg="too old to count"`},
		{Time: now.Add(-50 * time.Second), Source: "web-1", Text: `level=info msg="request served" status=200`},
		{Time: now.Add(-40 * time.Second), Source: "web-1", Text: `level=error msg="request failed" status=500`},
		{Time: now.Add(-30 * time.Second), Source: "web-2", Text: `{"level":"error","msg":"upstream refused","authorization":"Bearer eyJhbGciOi.eyJzdWIiOi.c2ln"}`},
		{Time: now.Add(-10 * time.Second), Source: "web-2", Text: `panic: runtime error: index out of range [3] with length 3`},
	}
	src := health.LogSourceFunc(func(ctx context.Context, since, until time.Time) ([]health.LogLine, error) {
		return log, nil
	})
	e, err := health.NewErrorLogs(src, health.ErrorLogSpec{MaxRate: 2, Samples: 2}, health.WithClock(clk))
	if err != nil {
		fmt.Println(err)
		return
	}
	m := e.Evaluate(context.Background())
	fmt.Println(m.Phase, m.Values["errors"], "of", m.Values["lines"])
	fmt.Println(m.Message)
	// Output:
	// Failed 3 of 4
	// error logs: 3 error lines of 4 in the last 1m0s, 3/min, above the limit of 2/min; e.g. "web-2: {\"level\":\"error\",\"msg\":\"upstream refused\",\"authorization\":\"Bearer xxxxx\"}", "web-2: panic: runtime error: index out of range [3] with length 3"
}
