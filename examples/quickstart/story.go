package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/dora"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
	"github.com/flightdeck-dev/flightdeck/promote"
	"github.com/flightdeck-dev/flightdeck/promote/promotetest"
	"github.com/flightdeck-dev/flightdeck/rollback"
	"github.com/flightdeck-dev/flightdeck/sim"
	"github.com/flightdeck-dev/flightdeck/strategy"
)

// How the releases' pods behave in the cluster: the good ones fail 1% of
// their requests, the bad one five times as many.
var (
	latency  = sim.Latency{Median: 40 * time.Millisecond, P99: 150 * time.Millisecond}
	goodPods = sim.Behavior{ReadyAfter: 5 * time.Second, ErrorRate: 0.01, Latency: latency}
	badPods  = sim.Behavior{ReadyAfter: 5 * time.Second, ErrorRate: 0.05, Latency: latency}
)

// The people of the story: Ann promotes; alice and bob, of the SRE
// group, approve prod with their SSH keys.
const (
	ann   = "ann@example.com"
	alice = "alice@example.com"
	bob   = "bob@example.com"
)

func target(envName string) gitops.Target {
	return gitops.Target{App: app, Environment: flightdeck.Environment{Name: envName}, ImageName: app}
}

// delivery is what the story's controllers share: the promoter with its
// ladder, the rollback controller, the approvers' keys.
type delivery struct {
	promoter *promote.Promoter
	rollback *rollback.Controller
	keys     map[string]promotetest.SSHKey
}

// newDelivery builds the promoter (dev on every commit to main, staging
// by hand, prod by hand with two approvals of the SRE group, verified
// against their SSH keys, and a scan of the image by digest) and the
// rollback controller, each telling stakeholders through the fan-out.
func (e *env) newDelivery() (*delivery, error) {
	d := &delivery{keys: map[string]promotetest.SSHKey{}}
	var keys []promotetest.SSHKey
	for _, who := range []string{alice, bob} {
		k, err := promotetest.NewSSHKey(who)
		if err != nil {
			return nil, err
		}
		d.keys[who] = k
		keys = append(keys, k)
	}
	allowed, err := promotetest.AllowedSigners(keys...)
	if err != nil {
		return nil, err
	}
	pull := func(ctx context.Context, ref string) (v1.Image, error) {
		r, err := name.ParseReference(ref)
		if err != nil {
			return nil, err
		}
		return remote.Image(r, remote.WithContext(ctx))
	}
	ladder := promote.DefaultLadder()
	for i := range ladder {
		ladder[i].Syncer, ladder[i].Wait = e.client, e.wait()
	}
	ladder[2].Policies = append(ladder[2].Policies,
		promote.Approvals{Rules: []promote.Rule{{N: 2, Of: []string{"group:sre"}}},
			Groups: map[string][]string{"sre": {alice, bob}}, Verifier: promote.SSHVerifier{Signers: allowed}},
		promote.NewScan(e.vuln, scan.Policy{FailAt: scan.SeverityHigh, UnknownAs: scan.SeverityHigh}, 24*time.Hour, pull),
	)
	if d.promoter, err = promote.New(e.repo, ladder, promote.WithClock(e.clock),
		promote.WithObserver(promote.NotifyObserver(e.fan, e.src))); err != nil {
		return nil, err
	}
	if d.rollback, err = rollback.New(e.repo, rollback.WithClock(e.clock), rollback.WithSyncer(e.client),
		rollback.WithWait(e.wait()), rollback.WithPrune(), rollback.WithActor("flightdeck quickstart"),
		rollback.WithObserver(rollback.NotifyObserver(e.fan, e.src))); err != nil {
		return nil, err
	}
	return d, nil
}

// promoteByHand plans the promotion of what the previous environment
// runs to envName, prints the plan when asked, and promotes it as Ann.
func (e *env) promoteByHand(ctx context.Context, out io.Writer, d *delivery, envName string, printPlan bool) (*promote.Plan, error) {
	pl, err := d.promoter.Plan(ctx, app, envName)
	if err != nil {
		return nil, err
	}
	if printPlan {
		fmt.Fprint(out, indent("  ", pl.Text()))
	}
	outs, err := d.promoter.Promote(ctx, promote.Request{Actor: ann, Reason: "by hand"}, pl)
	if err != nil {
		return pl, err
	}
	o := outs[0]
	fmt.Fprintf(out, "%s promoted by hand from %s: %s runs %s (commit %s)", ann, pl.From, envName, pl.Release.Tag, short(o.Result.Commit.String()))
	if st := o.Synced; st != nil {
		fmt.Fprintf(out, ", Argo CD says %s/%s", st.SyncStatus, st.Health)
	}
	fmt.Fprintln(out)
	return pl, nil
}

//go:embed strategy.json
var strategyJSON []byte

// canary rolls bad out to staging as a canary behind an HTTPRoute, with
// the sequential error judge between the steps, and returns how it was
// aborted.
func (e *env) canary(ctx context.Context, out io.Writer, bad flightdeck.Release) (*strategy.AbortedError, error) {
	spec, err := strategy.ParseStrategy(strategyJSON)
	if err != nil {
		return nil, fmt.Errorf("strategy.json: %w", err)
	}
	plan, err := spec.Compile(app, flightdeck.Staging)
	if err != nil {
		return nil, err
	}
	h, err := plan.Hash()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "plan %s:\n%s", short(strings.TrimPrefix(h, "sha256:")), indent("  ", plan.String()))
	route := *plan.TrafficRouting
	overlay := strategy.Overlay{Dir: target(flightdeck.Staging).Overlay(), Deployment: app, Image: app, Replicas: 4}
	rt, err := strategy.NewRouteTarget(overlay, route, "gateway")
	if err != nil {
		return nil, err
	}
	res, err := strategy.PrepareOverlay(ctx, e.repo, rt, strategy.PrepareRequest{App: app, Environment: flightdeck.Staging})
	if err != nil {
		return nil, err
	}
	if err := e.sync(ctx, flightdeck.Staging, res.Commit.String()); err != nil {
		return nil, err
	}
	ns := app + "-" + flightdeck.Staging
	if err := e.cluster.SetLoad(sim.Ref{APIVersion: "gateway.networking.k8s.io/v1", Kind: "HTTPRoute", Namespace: ns, Name: route.HTTPRoute}, 200); err != nil {
		return nil, err
	}
	failed := func(deployment string) health.Evaluator {
		ref := sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: deployment}
		return health.Func(func(context.Context) health.Measurement {
			_, f, err := e.cluster.Requests(ref)
			if err != nil {
				return health.Measurement{Time: e.clock.Now(), Phase: health.Error, Err: err, Message: err.Error()}
			}
			return health.Measurement{Time: e.clock.Now(), Value: f, Phase: health.Successful}
		})
	}
	runner, err := strategy.New(e.repo, e.client, plan, rt,
		strategy.WithClock(e.clock), strategy.WithSyncApp(ns),
		strategy.WithWait(gitops.WaitOptions{PollInterval: time.Second, StableFor: 2 * time.Second, Timeout: -1}),
		strategy.WithControlPoll(5*time.Second),
		strategy.WithTemplate("errors", strategy.ErrorJudge(failed(app+"-canary"), failed(app), 30*time.Second, 10, e.clock)),
		strategy.WithObserver(strategy.NewPrinter(indentWriter{out}, false), strategy.NotifyObserver(e.fan, e.src)))
	if err != nil {
		return nil, err
	}
	_, err = runner.Run(ctx, bad)
	var aborted *strategy.AbortedError
	if !errors.As(err, &aborted) {
		return nil, fmt.Errorf("the canary of %s was not aborted: %v", bad.Tag, err)
	}
	fmt.Fprintf(out, "result: aborted at step %d/%d (%s)\n", aborted.Step+1, len(plan.Steps), aborted.StepText)
	served, err := e.cluster.Send(ctx, sim.Ref{APIVersion: "gateway.networking.k8s.io/v1", Kind: "HTTPRoute", Namespace: ns, Name: route.HTTPRoute}, 1000)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "1000 requests through the HTTPRoute: %d served by the stable Deployment, %d by the canary\n",
		served.Deployments[ns+"/"+app], served.Deployments[ns+"/"+app+"-canary"])
	return aborted, nil
}

// rollBack restores staging to the deploy at commit good, with a hold
// and the bad digest quarantined, and prints all three.
func (e *env) rollBack(ctx context.Context, out io.Writer, d *delivery, good string, aborted *strategy.AbortedError, bad flightdeck.Release) error {
	o, err := d.rollback.Rollback(ctx, rollback.Request{Target: target(flightdeck.Staging), To: good,
		Reason: fmt.Sprintf("the canary of %s was aborted at %s", bad.Tag, aborted.StepText)})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "rollback commit %s restores %s (overlay tree %s, the promotion's own)\n",
		short(o.Commit.String()), short(o.Restored.Commit.String()), short(o.Tree.String()))
	if st := o.Status; st != nil {
		fmt.Fprintf(out, "  recovered by %s: %s/%s at %s\n", o.Recovery, st.SyncStatus, st.Health, short(st.Revision))
	}
	if o.Hold != nil {
		fmt.Fprintf(out, "hold placed: %s\n", o.Hold)
	}
	fmt.Fprintf(out, "quarantined in staging: %s\n", o.Quarantined)
	_, err = gitops.DeployRelease(ctx, e.repo, gitops.DeployRequest{Target: target(flightdeck.Staging), Release: bad})
	if !errors.Is(err, gitops.ErrRefused) {
		return fmt.Errorf("a redeploy of %s into the held staging was not refused: %v", bad.Tag, err)
	}
	fmt.Fprintf(out, "an automated redeploy of %s is refused: %v\n", bad.Tag, err)
	return nil
}

// toProd plans prod, shows it blocked until two of two verified
// approvals are in, and promotes it.
func (e *env) toProd(ctx context.Context, out io.Writer, d *delivery) error {
	pl, err := d.promoter.Plan(ctx, app, flightdeck.Prod)
	if err != nil {
		return err
	}
	explain := func() error {
		ex, err := d.promoter.Explain(ctx, pl, promote.Request{Actor: ann})
		if err == nil {
			fmt.Fprint(out, indent("  ", ex.String()))
		}
		return err
	}
	try := func() ([]promote.Outcome, error) {
		return d.promoter.Promote(ctx, promote.Request{Actor: ann, Reason: "release 1.2.0"}, pl)
	}
	approve := func(who string) error {
		a := promote.Approval{App: pl.App, Environment: pl.To, PlanHash: pl.Hash, Approver: who, Decision: promote.Approve, Time: e.clock.Now()}
		sig, err := d.keys[who].Sign(a)
		if err != nil {
			return err
		}
		_, err = d.promoter.Approve(ctx, pl, a, sig)
		return err
	}
	from := notify.Version(pl.Current)
	if pl.Current.Digest == "" {
		from = "the tag the repository started with (no release deployed yet)"
	}
	fmt.Fprintf(out, "prod plan %s: %s → %s\n", short(strings.TrimPrefix(pl.Hash, "sha256:")), from, notify.Version(pl.Release))
	if err := explain(); err != nil {
		return err
	}
	for _, who := range []string{alice, bob} {
		if _, err := try(); err != nil {
			fmt.Fprintf(out, "refused: %v\n", err)
		} else {
			return errors.New("prod was promoted without two approvals")
		}
		fmt.Fprintf(out, "%s approves, signing the plan hash with an SSH key of the allowed signers\n", strings.TrimSuffix(who, "@example.com"))
		if err := approve(who); err != nil {
			return err
		}
	}
	if err := explain(); err != nil {
		return err
	}
	outs, err := try()
	if err != nil {
		return err
	}
	o := outs[0]
	fmt.Fprintf(out, "prod runs %s (commit %s)", pl.Release.Tag, short(o.Result.Commit.String()))
	if st := o.Synced; st != nil {
		fmt.Fprintf(out, ", Argo CD says %s/%s", st.SyncStatus, st.Health)
	}
	fmt.Fprintln(out)
	return nil
}

// notifications drains the fan-out and prints what the webhook receiver
// got, then shows a forged delivery refused.
func (e *env) notifications(ctx context.Context, out io.Writer) error {
	if err := e.closeFanout(ctx); err != nil {
		return err
	}
	valid, refused := e.hook.count()
	fmt.Fprintf(out, "the webhook receiver at %s verified %d deliveries (notify.Verify, HMAC-SHA256), refused %d:\n", e.hook.URL(), valid, refused)
	e.hook.print(out)
	code, err := e.hook.forge(notify.Event{Kind: notify.Promoted, App: app, Environment: flightdeck.Prod, Summary: "hello 6.6.6 promoted"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "a delivery signed with another secret gets HTTP %d\n", code)
	return nil
}

// doraReport prints the DORA figures of the story, read from the GitOps
// repository's history.
func (e *env) doraReport(ctx context.Context, out io.Writer) error {
	rep, err := dora.NewReader(e.repo, dora.WithClock(e.clock)).Report(ctx, dora.Query{})
	if err != nil {
		return err
	}
	return rep.WriteText(out)
}

// sync asks Argo CD to sync envName's application to revision and waits
// until it is Synced and Healthy there.
func (e *env) sync(ctx context.Context, envName, revision string) error {
	name := app + "-" + envName
	if err := e.client.Sync(ctx, gitops.SyncRequest{App: name, Revision: revision}); err != nil {
		return err
	}
	w := e.wait()
	w.App, w.Revision = name, revision
	_, err := gitops.WaitFor(ctx, e.client, w)
	return err
}

// change commits a change to the source repository: one more line of
// its changelog.
func (e *env) change(message string) error {
	f, err := os.OpenFile(filepath.Join(e.srcDir, "CHANGES"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, message); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return e.commitSource(message)
}

func indent(prefix, s string) string {
	return prefix + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+prefix) + "\n"
}

// indentWriter indents what is written to it, a line at a time.
type indentWriter struct{ w io.Writer }

func (i indentWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(i.w, indent("  ", string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
