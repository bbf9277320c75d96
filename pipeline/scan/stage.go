package scan

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/pipeline"
)

// Findings is the default key under which [NewStage] puts its findings.
var Findings = pipeline.NewKey[[]Finding]("scan.findings")

// TargetFunc chooses a stage's target from the run's state.
type TargetFunc func(s *pipeline.State) (Target, error)

// FixedTarget returns a TargetFunc that always returns t.
func FixedTarget(t Target) TargetFunc {
	return func(*pipeline.State) (Target, error) { return t, nil }
}

// ImageTarget returns a TargetFunc that scans the image stored under k
// (for example image.Built), so the step must need k.
func ImageTarget(k pipeline.Key[v1.Image]) TargetFunc {
	return func(s *pipeline.State) (Target, error) {
		img, err := k.Get(s)
		if err != nil {
			return Target{}, err
		}
		return Target{Image: img}, nil
	}
}

type stageConfig struct {
	name    string
	key     pipeline.Key[[]Finding]
	policy  *Policy
	clock   clock.Clock
	secrets Scanner
}

// StageOption configures [NewStage].
type StageOption func(*stageConfig)

// WithStageName sets the stage's name. Default "scan".
func WithStageName(name string) StageOption { return func(c *stageConfig) { c.name = name } }

// WithResultKey sets the key findings are put under. Default [Findings];
// give each scan stage of one graph its own key.
func WithResultKey(k pipeline.Key[[]Finding]) StageOption {
	return func(c *stageConfig) { c.key = k }
}

// WithPolicy makes the stage fail when the findings violate p at the
// time of the stage's clock ([WithClock]). Default: no policy, the stage
// only reports.
func WithPolicy(p Policy) StageOption {
	return func(c *stageConfig) { c.policy = &p }
}

// WithClock sets the clock whose time decides whether the policy's
// allowlist entries have expired. Default (and nil): the system clock.
func WithClock(c clock.Clock) StageOption {
	return func(cfg *stageConfig) { cfg.clock = c }
}

// WithSecretScanner sets the scanner [NewSecretsStage] runs instead of
// NewSecrets(nil), for example
// NewSecrets(NewGitleaks(WithBinary(path)), WithSkip("testdata/**")) to
// pass gitleaks or built-in scanner options, or a scanner of your own.
// [NewStage] takes its scanner as an argument and ignores this option.
func WithSecretScanner(s Scanner) StageOption {
	return func(c *stageConfig) { c.secrets = s }
}

// NewStage returns a stage that scans the target chosen by target with s
// and puts the findings under the result key (see the options). With a
// policy, a violation fails the stage with the [*ViolationError] marked
// [pipeline.Permanent] (the findings are stored first, so finally steps
// can report them); an invalid policy fails it the same way.
func NewStage(s Scanner, target TargetFunc, opts ...StageOption) pipeline.Stage {
	c := stageConfig{name: "scan", key: Findings}
	for _, o := range opts {
		o(&c)
	}
	c.clock = clock.Or(c.clock)
	return pipeline.Func(c.name, func(ctx context.Context, st *pipeline.State) error {
		t, err := target(st)
		if err != nil {
			return err
		}
		fs, err := s.Scan(ctx, t)
		if err != nil {
			return err
		}
		c.key.Put(st, fs)
		if c.policy == nil {
			return nil
		}
		if _, err := c.policy.Check(c.clock.Now(), fs); err != nil {
			return pipeline.Permanent(err)
		}
		return nil
	})
}
