package sim

import (
	"fmt"
	"strings"
	"time"
)

// render returns a copy of o with the metadata and status the API server
// and controllers would have written; c.mu is held.
func (c *Cluster) render(o *object) map[string]any {
	out, _ := normalize(o.obj).(map[string]any)
	md, _ := out["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		out["metadata"] = md
	}
	md["uid"] = o.uid
	md["creationTimestamp"] = ts(o.created)
	md["generation"] = o.gen
	if md["resourceVersion"] == nil {
		md["resourceVersion"] = fmt.Sprint(o.gen)
	}
	switch {
	case o.dep != nil:
		c.renderDeploymentStatus(o.dep, out, md)
	case o.ref.Kind == "Service" && o.ref.Group() == "":
		spec, _ := out["spec"].(map[string]any)
		if spec == nil {
			spec = map[string]any{}
			out["spec"] = spec
		}
		if spec["clusterIP"] == nil {
			n := 0
			for _, k := range c.order {
				if k == o.ref.key() {
					break
				}
				n++
			}
			spec["clusterIP"] = fmt.Sprintf("10.96.%d.%d", n/250, n%250+1)
		}
		lb := map[string]any{}
		if spec["type"] == "LoadBalancer" {
			lb["ingress"] = []any{map[string]any{"ip": "192.0.2.10"}}
		}
		out["status"] = map[string]any{"loadBalancer": lb}
	case o.ref.Kind == "HTTPRoute" && o.ref.Group() == "gateway.networking.k8s.io":
		spec, _ := out["spec"].(map[string]any)
		parents, _ := spec["parentRefs"].([]any)
		var ps []any
		for _, p := range parents {
			ps = append(ps, map[string]any{
				"parentRef":      p,
				"controllerName": "sim.flightdeck.dev/gateway-controller",
				"conditions": []any{
					condMap("Accepted", "True", "Accepted", "Route is accepted", o.gen, o.created),
					condMap("ResolvedRefs", "True", "ResolvedRefs", "Resolved all the Object references for the Route", o.gen, o.created),
				},
			})
		}
		out["status"] = map[string]any{"parents": ps}
	}
	return out
}

func condMap(typ, status, reason, msg string, gen int64, at time.Time) map[string]any {
	return map[string]any{
		"type": typ, "status": status, "reason": reason, "message": msg,
		"observedGeneration": gen, "lastTransitionTime": ts(at),
	}
}

func (c *Cluster) renderDeploymentStatus(d *deployment, out, md map[string]any) {
	anns, _ := md["annotations"].(map[string]any)
	if anns == nil {
		anns = map[string]any{}
		md["annotations"] = anns
	}
	anns["deployment.kubernetes.io/revision"] = itoa(d.revision)
	st := map[string]any{"observedGeneration": d.observed}
	put := func(k string, n int) {
		if n != 0 {
			st[k] = int64(n)
		}
	}
	put("replicas", d.last.total)
	put("updatedReplicas", d.last.updated)
	put("readyReplicas", d.last.ready)
	put("availableReplicas", d.last.available)
	put("unavailableReplicas", max(0, d.spec.replicas-d.last.available))
	var conds []any
	for _, x := range []struct {
		typ string
		c   cond
	}{{"Available", d.available}, {"Progressing", d.progressing}} {
		if x.c.status == "" {
			continue
		}
		conds = append(conds, map[string]any{
			"type": x.typ, "status": x.c.status, "reason": x.c.reason, "message": x.c.message,
			"lastUpdateTime": ts(x.c.lastUpdate), "lastTransitionTime": ts(x.c.lastTransion),
		})
	}
	st["conditions"] = conds
	out["status"] = st
}

func (c *Cluster) renderRS(d *deployment, rs *replicaSet) map[string]any {
	ns := d.obj.ref.Namespace
	tmpl, _ := normalize(rs.template).(map[string]any)
	labels := templateLabels(tmpl, rs.hash)
	ready, avail := rs.count(c.now, d.spec.minReady)
	st := map[string]any{"replicas": int64(len(rs.pods)), "fullyLabeledReplicas": int64(len(rs.pods)), "observedGeneration": rs.gen}
	if ready > 0 {
		st["readyReplicas"] = int64(ready)
	}
	if avail > 0 {
		st["availableReplicas"] = int64(avail)
	}
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "ReplicaSet",
		"metadata": map[string]any{
			"name": rs.name, "namespace": ns, "labels": labels, "generation": rs.gen,
			"uid":               d.obj.uid[:24] + "rs" + rs.hash,
			"creationTimestamp": ts(rs.created),
			"annotations":       map[string]any{"deployment.kubernetes.io/revision": itoa(rs.revision)},
			"ownerReferences": []any{map[string]any{
				"apiVersion": "apps/v1", "kind": "Deployment", "name": d.obj.ref.Name, "uid": d.obj.uid,
				"controller": true, "blockOwnerDeletion": true,
			}},
		},
		"spec": map[string]any{
			"replicas": int64(rs.replicas), "minReadySeconds": int64(d.spec.minReady.Seconds()),
			"selector": map[string]any{"matchLabels": copyLabels(labels)}, "template": tmpl,
		},
		"status": st,
	}
}

func templateLabels(tmpl map[string]any, hash string) map[string]any {
	md, _ := tmpl["metadata"].(map[string]any)
	labels := copyLabels(md["labels"])
	labels["pod-template-hash"] = hash
	if md == nil {
		md = map[string]any{}
		tmpl["metadata"] = md
	}
	md["labels"] = copyLabels(labels)
	return labels
}

func copyLabels(v any) map[string]any {
	out := map[string]any{}
	if m, ok := v.(map[string]any); ok {
		for k, e := range m {
			out[k] = e
		}
	}
	return out
}

func (c *Cluster) renderPod(d *deployment, rs *replicaSet, p *pod) map[string]any {
	now := c.now
	tmpl, _ := normalize(rs.template).(map[string]any)
	labels := templateLabels(tmpl, rs.hash)
	spec, _ := tmpl["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
	}
	spec["nodeName"] = "sim-node-1"
	ready := p.ready(now)
	boolStr := map[bool]string{true: "True", false: "False"}
	podCond := func(typ string, ok bool, at string) map[string]any {
		m := map[string]any{"type": typ, "status": boolStr[ok], "lastTransitionTime": at}
		if !ok {
			m["reason"] = "ContainersNotReady"
		}
		return m
	}
	readyAt := ts(p.created)
	if ready {
		readyAt = ts(p.readyAt)
	}
	var statuses []any
	containers, _ := spec["containers"].([]any)
	for i, ct := range containers {
		m, _ := ct.(map[string]any)
		name, _ := m["name"].(string)
		image, _ := m["image"].(string)
		cs := map[string]any{
			"name": name, "image": image, "imageID": imageID(image), "ready": ready,
			"started": true, "restartCount": int64(0),
			"state": map[string]any{"running": map[string]any{"startedAt": ts(p.created)}},
		}
		if p.invalidImage != "" {
			cs["started"] = false
			delete(cs, "imageID")
			if image == p.invalidImage {
				cs["state"] = map[string]any{"waiting": map[string]any{
					"reason":  "InvalidImageName",
					"message": fmt.Sprintf("Failed to apply default image tag %q: couldn't parse image name %q: invalid reference format", image, image),
				}}
			} else {
				cs["state"] = map[string]any{"waiting": map[string]any{"reason": "ContainerCreating"}}
			}
		}
		if p.crash && i == 0 {
			restarts, waiting, backoff := p.crashState(now)
			cs["restartCount"] = int64(restarts)
			if now.Sub(p.created) >= 1e9 {
				cs["lastState"] = map[string]any{"terminated": map[string]any{"exitCode": int64(1), "reason": "Error"}}
			}
			if waiting {
				cs["started"] = false
				cs["state"] = map[string]any{"waiting": map[string]any{
					"reason":  "CrashLoopBackOff",
					"message": fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", backoff, name, p.name),
				}}
			}
		}
		statuses = append(statuses, cs)
	}
	phase := "Running"
	if p.invalidImage != "" {
		phase = "Pending"
	}
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{
			"name": p.name, "namespace": d.obj.ref.Namespace, "labels": labels,
			"uid": d.obj.uid[:24] + "po" + strings.ReplaceAll(p.name[len(p.name)-5:], "-", ""), "creationTimestamp": ts(p.created),
			"ownerReferences": []any{map[string]any{
				"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs.name,
				"controller": true, "blockOwnerDeletion": true,
			}},
		},
		"spec": spec,
		"status": map[string]any{
			"phase": phase, "startTime": ts(p.created), "podIP": "10.244.0." + itoa(len(p.name)%250+2),
			"conditions": []any{
				podCond("Initialized", true, ts(p.created)),
				podCond("Ready", ready, readyAt),
				podCond("ContainersReady", ready, readyAt),
				podCond("PodScheduled", true, ts(p.created)),
			},
			"containerStatuses": statuses,
		},
	}
}

func imageID(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		return image
	}
	return image + "@sha256:" + strings.Repeat("0", 64)
}
