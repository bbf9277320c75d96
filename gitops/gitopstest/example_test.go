package gitopstest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

// A GitOps repository for two apps, made without a testing.TB.
func ExampleCreateBareRepo() {
	tmp, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "gitops.git")
	if err := gitopstest.CreateBareRepo(dir, gitopstest.KustomizeLayout("web", "api")); err != nil {
		fmt.Println(err)
		return
	}
	r, _ := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(filepath.Join(tmp, "cache")))
	out, err := r.ReadFile(context.Background(), "", "apps/web/overlays/prod/replicas.yaml")
	fmt.Print(string(out), err)
	// Output:
	// apiVersion: apps/v1
	// kind: Deployment
	// metadata:
	//   name: web
	// spec:
	//   replicas: 3
	// <nil>
}
