package gates_test

import (
	"context"
	"fmt"

	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/gates"
	"github.com/flightdeck-dev/flightdeck/pipeline/gotest"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
)

// exampleRepo is a GitOps repository whose prod overlay raises the
// replicas of a base Deployment and sets a ResourceQuota.
func exampleRepo() (*gitopstest.Fake, error) {
	return gitopstest.NewFake(gitopstest.Files{
		"apps/shop/base/kustomization.yaml": "resources:\n- deployment.yaml\n",
		"apps/shop/base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers:
      - name: shop
        image: registry.example.com/team/shop:1.4.0
        resources:
          requests: {cpu: 250m, memory: 256Mi}
          limits: {cpu: 500m, memory: 512Mi}
      - name: log-shipper
        image: registry.example.com/team/log-shipper:0.9.1
        resources:
          requests: {cpu: 10m, memory: 32Mi}
`,
		"apps/shop/overlays/prod/kustomization.yaml": `namespace: shop-prod
resources:
- ../../base
- quota.yaml
replicas:
- name: shop
  count: 8
`,
		"apps/shop/overlays/prod/quota.yaml": `apiVersion: v1
kind: ResourceQuota
metadata:
  name: compute
spec:
  hard:
    requests.cpu: "2"
    limits.memory: 8Gi
`,
	})
}

// Pre-deploy gates on the prod overlay, rendered as Argo CD renders it:
// one container lacks its limits (and the quota admission would refuse
// its pods, since the quota tracks limits.memory), and 8 replicas plus 2
// surge pods of a rolling update need more CPU than the quota allows.
func ExampleNewQuotaGate() {
	repo, err := exampleRepo()
	if err != nil {
		fmt.Println(err)
		return
	}
	prod := gates.Overlay{Renderer: repo, Dir: "apps/shop/overlays/prod"}
	ctx := context.Background()

	err = gates.NewResourceGate("resources", prod).Run(ctx, nil)
	fmt.Println(err)

	report := pipeline.NewKey[gates.QuotaReport]("quota.report")
	st := pipeline.NewState()
	err = gates.NewQuotaGate("quota", prod).WithReport(report).Run(ctx, st)
	fmt.Println(err)
	rep, _ := report.Get(st)
	for _, u := range rep.Usages {
		fmt.Println(u)
	}
	// Output:
	// gate resources: overlay apps/shop/overlays/prod: 1 resource problem: Deployment/shop-prod/shop: container log-shipper: missing limits.cpu, limits.memory
	// gate quota: overlay apps/shop/overlays/prod: resource quota exceeded: ResourceQuota/shop-prod/compute: requests.cpu: total 2600m exceeds hard 2 by 600m (520m of it rolling-update surge); containers without resource requests or limits: Deployment/shop-prod/shop: container log-shipper: missing limits.memory: tracked by ResourceQuota/shop-prod/compute
	// ResourceQuota/shop-prod/compute: limits.memory: total 5Gi of hard 8Gi
	// ResourceQuota/shop-prod/compute: requests.cpu: total 2600m exceeds hard 2 by 600m (520m of it rolling-update surge)
}

// A release goes to prod only when its tests passed and its image's
// findings pass prod's scan policy; both refusals come in one error.
func ExampleNewReadyGate() {
	unit := pipeline.NewKey[*gotest.Report]("tests.unit")
	image := pipeline.NewKey[[]scan.Finding]("scan.image")
	st := pipeline.NewState()
	unit.Put(st, &gotest.Report{Packages: []gotest.PackageResult{{
		Package: "example.com/shop", Status: gotest.Fail, Tests: []gotest.TestResult{
			{Name: "TestCart", Status: gotest.Pass},
			{Name: "TestCheckout", Status: gotest.Fail},
		},
	}}})
	image.Put(st, []scan.Finding{{ID: "GO-2026-0042", Package: "example.com/tls", Installed: "v1.2.0",
		Fixed: "v1.2.1", Severity: scan.SeverityCritical}})

	prodPolicy := scan.Policy{FailAt: scan.SeverityHigh}
	gate := gates.NewReadyGate("ready-prod", gates.NewScanGate("image", prodPolicy, image), unit)
	fmt.Println(gate.Run(context.Background(), st))
	// Output:
	// gate ready-prod: tests: gotest: 1 failed: example.com/shop TestCheckout; scan image: scan policy violated: 1 finding(s): GO-2026-0042 example.com/tls@v1.2.0 (critical) fixed in v1.2.1
}
