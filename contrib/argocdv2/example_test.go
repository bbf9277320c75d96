package argocdv2_test

import (
	"context"
	"fmt"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2/argocdv2test"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Sync an application with the official client over gRPC and wait until
// it is synced and healthy at the revision asked for.
func Example() {
	// An in-memory Argo CD whose controller finishes every sync at once.
	srv := argocdv2test.New(argocdv2test.WithToken("s3cret"), argocdv2test.WithAutoComplete(argocdv2test.Result{}))
	srv.Put(&v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "shop"},
		Spec: v1alpha1.ApplicationSpec{Source: &v1alpha1.ApplicationSource{
			RepoURL: "https://git.example.com/deploy.git", Path: "shop/overlays/prod", TargetRevision: "main",
		}},
	})
	ep, err := argocdv2test.Serve(srv)
	if err != nil {
		panic(err)
	}
	defer ep.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	syncer, err := argocdv2.New(ctx, apiclient.ClientOptions{ServerAddr: ep.Addr, AuthToken: "s3cret", PlainText: true})
	if err != nil {
		panic(err)
	}
	defer syncer.Close()

	if err := syncer.Sync(ctx, gitops.SyncRequest{App: "shop", Revision: "9f2c1e7"}); err != nil {
		panic(err)
	}
	st, err := gitops.WaitFor(ctx, syncer, gitops.WaitOptions{App: "shop", Revision: "9f2c1e7", StableFor: -1, PollInterval: 10 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	fmt.Println(st.App, st.SyncStatus, st.Health, st.Revision, st.Operation.Phase)
	// Output: shop Synced Healthy 9f2c1e7 Succeeded
}
