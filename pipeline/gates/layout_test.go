package gates_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/pipeline/gates"
)

// kustomization returns an overlay's kustomization.yaml.
func kustomization(namespace string, resources ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
	if namespace != "" {
		b.WriteString("namespace: " + namespace + "\n")
	}
	b.WriteString("resources:\n")
	for _, r := range resources {
		b.WriteString("- " + r + "\n")
	}
	return b.String()
}

// resources is a container's resources block at the indentation of a
// Deployment's container fields.
func resources(reqCPU, reqMem, limCPU, limMem string) string {
	var b strings.Builder
	b.WriteString("        resources:\n")
	section := func(name, cpu, mem string) {
		if cpu == "" && mem == "" {
			return
		}
		b.WriteString("          " + name + ":\n")
		if cpu != "" {
			b.WriteString("            cpu: " + cpu + "\n")
		}
		if mem != "" {
			b.WriteString("            memory: " + mem + "\n")
		}
	}
	section("requests", reqCPU, reqMem)
	section("limits", limCPU, limMem)
	return b.String()
}

// deployment returns a Deployment named name with the given replicas and
// containers (each a "- name: …" block at container indentation).
func deployment(name string, replicas int, containers ...string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
spec:
  replicas: ` + itoa(replicas) + `
  selector:
    matchLabels:
      app: ` + name + `
  template:
    metadata:
      labels:
        app: ` + name + `
    spec:
      containers:
` + strings.Join(containers, "")
}

func containerBlock(name, res string) string {
	return "      - name: " + name + "\n        image: registry.example.com/team/" + name + ":1.0.0\n" + res
}

func itoa(n int) string { return strconv.Itoa(n) }

// replicasPatch returns a strategic-merge patch setting a Deployment's
// replicas.
func replicasPatch(name string, n int) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\nspec:\n  replicas: " + itoa(n) + "\n"
}

// quota returns a ResourceQuota named name with the hard limits given as
// "resource: value" lines.
func quota(name string, hard ...string) string {
	return "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: " + name + "\nspec:\n  hard:\n    " + strings.Join(hard, "\n    ") + "\n"
}

// shopLayout is a GitOps repository with:
//   - apps/web: a base Deployment whose log-shipper container has no
//     memory limit, and a dev overlay;
//   - apps/api: a complete base (an app container and a sidecar), a
//     staging overlay that fits its quota and a prod overlay whose
//     replicas exceed it; dev has no quota;
//   - apps/broken: an overlay whose base does not exist;
//   - apps/typo: an overlay with malformed quantities.
func shopLayout() gitopstest.Files {
	apiPod := containerBlock("api", resources("250m", "256Mi", "500m", "512Mi"))
	api := deployment("api", 2, apiPod) + `      initContainers:
      - name: proxy
        image: registry.example.com/team/proxy:2.1.0
        restartPolicy: Always
` + resources("50m", "64Mi", "100m", "128Mi")
	return gitopstest.Files{
		"apps/web/base/kustomization.yaml": kustomization("", "deployment.yaml"),
		"apps/web/base/deployment.yaml": deployment("web", 2,
			containerBlock("web", resources("100m", "128Mi", "200m", "256Mi")),
			containerBlock("log-shipper", resources("10m", "32Mi", "50m", ""))),
		"apps/web/overlays/dev/kustomization.yaml": kustomization("web-dev", "../../base"),

		"apps/api/base/kustomization.yaml":             kustomization("", "deployment.yaml", "service.yaml"),
		"apps/api/base/deployment.yaml":                api,
		"apps/api/base/service.yaml":                   "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector:\n    app: api\n  ports:\n  - port: 80\n",
		"apps/api/overlays/dev/kustomization.yaml":     kustomization("api-dev", "../../base"),
		"apps/api/overlays/staging/kustomization.yaml": kustomization("api-staging", "../../base", "quota.yaml"),
		"apps/api/overlays/staging/quota.yaml":         quota("compute", `requests.cpu: "2"`, "limits.memory: 2Gi", `pods: "4"`),
		"apps/api/overlays/prod/kustomization.yaml": kustomization("api-prod", "../../base", "quota.yaml") +
			"patches:\n- path: replicas.yaml\n",
		"apps/api/overlays/prod/replicas.yaml": replicasPatch("api", 6),
		"apps/api/overlays/prod/quota.yaml": quota("compute", `requests.cpu: "2"`, `cpu: "3"`, "limits.memory: 4Gi",
			`pods: "10"`, `count/deployments.apps: "1"`, `services: "1"`, "services.nodeports: 0"),

		"apps/broken/overlays/dev/kustomization.yaml": kustomization("broken-dev", "../../base"),

		"apps/typo/base/kustomization.yaml": kustomization("", "deployment.yaml"),
		"apps/typo/base/deployment.yaml": deployment("typo", 1,
			containerBlock("typo", resources("one", "128Mi", "1", "12Gb"))),
		"apps/typo/overlays/dev/kustomization.yaml": kustomization("typo-dev", "../../base", "quota.yaml"),
		"apps/typo/overlays/dev/quota.yaml":         quota("compute", "limits.memory: lots"),
	}
}

// shopRepo returns a repository on disk holding [shopLayout], and a
// function naming one of its overlays.
func shopRepo(t *testing.T) func(dir string) gates.Overlay {
	t.Helper()
	w := gitopstest.NewWriter(t, shopLayout())
	return func(dir string) gates.Overlay { return gates.Overlay{Renderer: w.Repo, Dir: dir} }
}

// texts is each problem or violation as its String says.
func texts[T fmt.Stringer](xs []T) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, x.String())
	}
	return out
}
