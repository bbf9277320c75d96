package argocd_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
)

// ExampleNew shows a refusal: the server's message is kept and the error
// matches its sentinel.
func ExampleNew() {
	srv, err := argocdtest.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	client, err := argocd.New(srv.URL, srv.Token)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = client.Get(context.Background(), "checkout", argocd.RefreshNone)
	fmt.Println(errors.Is(err, argocd.ErrNotFound))
	fmt.Println(err)
	// Output:
	// true
	// argocd: get app "checkout": applications.argoproj.io "checkout" not found (HTTP 404, code 5)
}
