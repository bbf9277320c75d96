package rollback_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/rollback"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// A rollback that restores an overlay without a resource the rolled-back
// deploy added (a canary's Service, say) prunes it with WithPrune, and
// the recovery ends Synced.
func TestRollbackWithPruneDeletesWhatTheRestoredOverlayLacks(t *testing.T) {
	files := gitopstest.KustomizeLayout("web")
	w := newWorld(t, worldOptions{files: files})
	ctx := realCtx(t)
	ov := w.prod.Overlay()
	good := w.deploy(1)
	require.NoError(t, w.client.Sync(ctx, gitops.SyncRequest{App: "web-prod", Revision: good.Commit.String()}))
	w.synced(ctx, good.Commit)

	kust := files[ov+"/kustomization.yaml"]
	require.Contains(t, kust, "- ../../base")
	extra := "apiVersion: v1\nkind: Service\nmetadata:\n  name: web-extra\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n"
	added, err := w.repo.Apply(ctx, gitops.Change{Trailers: gitops.ReleaseTrailers(gitops.ActionDeploy, "prod", release("web", 2)),
		Edits: []gitops.Edit{
			gitops.SetImage{Dir: ov, Name: gitopstest.Image("web"), Digest: digestN(2)},
			gitops.WriteFile{Path: ov + "/extra.yaml", Data: []byte(extra)},
			gitops.WriteFile{Path: ov + "/kustomization.yaml", Data: []byte(strings.Replace(kust, "- ../../base", "- ../../base\n- extra.yaml", 1))},
		}})
	require.NoError(t, err)
	require.NoError(t, w.client.Sync(ctx, gitops.SyncRequest{App: "web-prod", Revision: added.Commit.String()}))
	w.synced(ctx, added.Commit)
	svc := sim.Ref{APIVersion: "v1", Kind: "Service", Namespace: "web-prod", Name: "web-extra"}
	_, err = w.cluster.Get(svc)
	require.NoError(t, err, "the second deploy's Service is live")

	ctl, err := rollback.New(w.repo, rollback.WithClock(w.clk), rollback.WithSyncer(w.client), rollback.WithPrune(),
		rollback.WithWait(gitops.WaitOptions{PollInterval: 2 * time.Second, StableFor: 10 * time.Second, Timeout: -1}))
	require.NoError(t, err)
	out, err := ctl.Rollback(ctx, rollback.Request{Target: w.prod, To: good.Commit.String(), Reason: "the extra Service was a mistake", By: "jo"})
	require.NoError(t, err)
	require.NotNil(t, out.Status)
	assert.Equal(t, gitops.SyncSynced, out.Status.SyncStatus)
	assert.Equal(t, out.Commit.String(), out.Status.Revision)
	_, err = w.cluster.Get(svc)
	assert.ErrorIs(t, err, sim.ErrNotFound, "pruned")
}
