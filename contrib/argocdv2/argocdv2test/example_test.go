package argocdv2test_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2/argocdv2test"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
)

// Serve Argo CD's generated REST API from memory, drive the controller by
// hand, and read the result with flightdeck's REST client.
func Example() {
	srv := argocdv2test.New()
	srv.Put(&v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "shop"}})
	ep, err := argocdv2test.Serve(srv)
	if err != nil {
		panic(err)
	}
	defer ep.Close()

	ctx := context.Background()
	client, err := argocd.New(ep.URL, "")
	if err != nil {
		panic(err)
	}
	if err := client.Sync(ctx, gitops.SyncRequest{App: "shop", Revision: "9f2c1e7"}); err != nil {
		panic(err)
	}
	err = client.Sync(ctx, gitops.SyncRequest{App: "shop", Revision: "9f2c1e7"})
	fmt.Println(errors.Is(err, argocd.ErrOperationInProgress), err)

	if err := srv.FinishOperation("shop", argocdv2test.Result{}); err != nil {
		panic(err)
	}
	st, err := client.AppStatus(ctx, "shop")
	if err != nil {
		panic(err)
	}
	fmt.Println(st.SyncStatus, st.Health, st.Revision, st.Operation.Phase)

	if err := srv.SetSyncWindow("shop", true); err != nil {
		panic(err)
	}
	err = client.Sync(ctx, gitops.SyncRequest{App: "shop"})
	fmt.Println(errors.Is(err, argocd.ErrSyncWindow))
	// Output:
	// true argocd: sync app "shop": error setting app operation: rpc error: code = FailedPrecondition desc = another operation is already in progress (HTTP 400, code 9)
	// Synced Healthy 9f2c1e7 Succeeded
	// true
}
