package sim

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"
)

type deploymentSpec struct {
	replicas       int
	maxSurge       int
	maxUnavailable int
	recreate       bool
	minReady       time.Duration
	deadline       time.Duration
	paused         bool
	template       map[string]any
	hash           string
	images         []string
}

type deployment struct {
	obj      *object
	spec     deploymentSpec
	observed int64
	sets     []*replicaSet
	newRS    *replicaSet
	revision int

	progressing, available cond
	last                   counts
}

type cond struct {
	status, reason, message  string
	lastUpdate, lastTransion time.Time
}

type counts struct{ total, updated, ready, available int }

type replicaSet struct {
	name     string
	hash     string
	template map[string]any
	images   []string
	replicas int
	gen      int64
	revision int
	created  time.Time
	pods     []*pod
	podSeq   int

	podLabels  map[string]any // template labels plus pod-template-hash
	containers []string

	okSeries, failSeries *series // this ReplicaSet's entries of Cluster.series, once used
}

// labels returns the labels of the ReplicaSet's pods.
func (rs *replicaSet) labels() map[string]any {
	if rs.podLabels == nil {
		md, _ := rs.template["metadata"].(map[string]any)
		rs.podLabels = copyLabels(md["labels"])
		rs.podLabels["pod-template-hash"] = rs.hash
	}
	return rs.podLabels
}

// containerNames returns the names of the pod template's containers.
func (rs *replicaSet) containerNames() []string {
	if rs.containers == nil {
		spec, _ := rs.template["spec"].(map[string]any)
		cs, _ := spec["containers"].([]any)
		for i, ct := range cs {
			m, _ := ct.(map[string]any)
			name, _ := m["name"].(string)
			if name == "" {
				name = "container-" + itoa(i)
			}
			rs.containers = append(rs.containers, name)
		}
	}
	return rs.containers
}

type pod struct {
	name     string
	created  time.Time
	readyAt  time.Time // zero: never ready
	crash    bool
	behavior Behavior
	// invalidImage is the first image of the pod that does not parse; the
	// kubelet never starts such a pod (InvalidImageName).
	invalidImage string

	served int        // requests answered
	carry  float64    // fraction of a WithTraffic request carried to the next interval
	logs   []logEntry // newest maxLogLines
}

// parseDeployment reads the parts of a Deployment spec the controller
// acts on, with the API server's defaults.
func parseDeployment(obj map[string]any) (*deploymentSpec, error) {
	spec, _ := obj["spec"].(map[string]any)
	s := &deploymentSpec{replicas: 1, deadline: 600 * time.Second}
	var err error
	num := func(field string, v any) int {
		switch n := v.(type) {
		case int64:
			if n < 0 {
				err = fmt.Errorf("%w: %s must not be negative", ErrInvalidObject, field)
			}
			return int(n)
		case nil:
			return -1
		}
		err = fmt.Errorf("%w: %s must be an integer, got %v", ErrInvalidObject, field, v)
		return 0
	}
	if n := num("spec.replicas", spec["replicas"]); n >= 0 {
		s.replicas = n
	}
	if n := num("spec.minReadySeconds", spec["minReadySeconds"]); n >= 0 {
		s.minReady = time.Duration(n) * time.Second
	}
	if n := num("spec.progressDeadlineSeconds", spec["progressDeadlineSeconds"]); n >= 0 {
		s.deadline = time.Duration(n) * time.Second
	}
	if err != nil {
		return nil, err
	}
	s.paused, _ = spec["paused"].(bool)
	strategy, _ := spec["strategy"].(map[string]any)
	switch t, _ := strategy["type"].(string); t {
	case "", "RollingUpdate":
		ru, _ := strategy["rollingUpdate"].(map[string]any)
		surge, e1 := intOrPercent(ru["maxSurge"], "25%", s.replicas, true)
		unavail, e2 := intOrPercent(ru["maxUnavailable"], "25%", s.replicas, false)
		if e1 != nil || e2 != nil {
			return nil, fmt.Errorf("%w: spec.strategy.rollingUpdate: %v", ErrInvalidObject, firstErr(e1, e2))
		}
		if surge == 0 && unavail == 0 {
			return nil, fmt.Errorf("%w: maxSurge and maxUnavailable may not both be zero", ErrInvalidObject)
		}
		s.maxSurge, s.maxUnavailable = surge, unavail
	case "Recreate":
		s.recreate = true
	default:
		return nil, fmt.Errorf("%w: unknown spec.strategy.type %q", ErrInvalidObject, t)
	}
	if err != nil {
		return nil, err
	}
	s.template, _ = spec["template"].(map[string]any)
	podSpec, _ := s.template["spec"].(map[string]any)
	containers, _ := podSpec["containers"].([]any)
	if len(containers) == 0 {
		return nil, fmt.Errorf("%w: spec.template.spec.containers is empty", ErrInvalidObject)
	}
	for i, ct := range containers {
		m, _ := ct.(map[string]any)
		img, _ := m["image"].(string)
		if img == "" {
			return nil, fmt.Errorf("%w: spec.template.spec.containers[%d].image is empty", ErrInvalidObject, i)
		}
		s.images = append(s.images, img)
	}
	raw, _ := json.Marshal(s.template)
	s.hash = hashString(raw)
	return s, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// intOrPercent resolves an IntOrString against total: percentages round
// up for maxSurge and down for maxUnavailable, as Kubernetes does.
func intOrPercent(v any, def string, total int, roundUp bool) (int, error) {
	if v == nil {
		v = def
	}
	switch t := v.(type) {
	case int64:
		if t < 0 {
			return 0, fmt.Errorf("negative value %d", t)
		}
		return int(t), nil
	case string:
		p, ok := strings.CutSuffix(t, "%")
		n, err := strconv.Atoi(p)
		if !ok || err != nil || n < 0 {
			return 0, fmt.Errorf("invalid value %q", t)
		}
		f := float64(n) * float64(total) / 100
		if roundUp {
			return int(math.Ceil(f)), nil
		}
		return int(math.Floor(f)), nil
	}
	return 0, fmt.Errorf("invalid value %v", v)
}

const hashAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func hashString(b []byte) string {
	h := fnv.New64a()
	h.Write(b)
	n := h.Sum64()
	out := make([]byte, 10)
	for i := range out {
		out[i] = hashAlphabet[n%uint64(len(hashAlphabet))]
		n /= uint64(len(hashAlphabet))
	}
	return string(out)
}

func (p *pod) ready(t time.Time) bool {
	return !p.readyAt.IsZero() && !t.Before(p.readyAt)
}

func (p *pod) availableAt(t time.Time, minReady time.Duration) bool {
	return !p.readyAt.IsZero() && !t.Before(p.readyAt.Add(minReady))
}

func (rs *replicaSet) count(t time.Time, minReady time.Duration) (ready, available int) {
	for _, p := range rs.pods {
		if p.ready(t) {
			ready++
		}
		if p.availableAt(t, minReady) {
			available++
		}
	}
	return
}

// deadline is when the rollout times out if nothing progresses.
func (d *deployment) deadline() (time.Time, bool) {
	if d.spec.paused || d.progressing.status != "True" || d.progressing.reason == "NewReplicaSetAvailable" {
		return time.Time{}, false
	}
	return d.progressing.lastUpdate.Add(d.spec.deadline), true
}

func (d *deployment) setCond(c *cond, status, reason, message string, now time.Time) {
	if c.status != status {
		c.lastTransion = now
	}
	if c.status != status || c.reason != reason || c.message != message {
		c.lastUpdate = now
	}
	c.status, c.reason, c.message = status, reason, message
}

// syncDeployment runs one pass of the Deployment and ReplicaSet
// controllers for d at c.now and reports whether anything changed.
func (c *Cluster) syncDeployment(d *deployment) bool {
	now := c.now
	changed := false
	s := &d.spec

	// Observe a new generation: find or create the ReplicaSet of the
	// current template.
	if d.observed < d.obj.gen {
		d.observed = d.obj.gen
		changed = true
		var found *replicaSet
		for _, rs := range d.sets {
			if rs.hash == s.hash {
				found = rs
			}
		}
		msgReason := "FoundNewReplicaSet"
		if found == nil {
			found = &replicaSet{
				name: d.obj.ref.Name + "-" + s.hash, hash: s.hash, template: s.template,
				images: s.images, created: now, gen: 1,
			}
			d.sets = append(d.sets, found)
			msgReason = "NewReplicaSetCreated"
		}
		if d.newRS != found {
			d.revision++
			found.revision = d.revision
			d.newRS = found
			msg := fmt.Sprintf("Created new replica set %q", found.name)
			if msgReason == "FoundNewReplicaSet" {
				msg = fmt.Sprintf("Found new replica set %q", found.name)
			}
			d.setCond(&d.progressing, "True", msgReason, msg, now)
			d.progressing.lastUpdate = now
			c.log.Info("rollout started", "deployment", d.obj.ref.String(), "replicaset", found.name, "images", strings.Join(found.images, ","))
		}
	}
	newRS := d.newRS

	if !s.paused {
		if s.recreate {
			oldPods := 0
			for _, rs := range d.sets {
				if rs != newRS {
					if rs.replicas != 0 {
						c.scale(rs, 0)
						changed = true
					}
					oldPods += len(rs.pods)
				}
			}
			if oldPods == 0 && newRS.replicas != s.replicas {
				c.scale(newRS, s.replicas)
				changed = true
			}
		} else {
			changed = c.rollingUpdate(d) || changed
		}
	}

	// ReplicaSet controller: create or delete pods to match.
	for _, rs := range d.sets {
		for len(rs.pods) < rs.replicas {
			rs.podSeq++
			p := &pod{name: rs.name + "-" + hashString([]byte(rs.name + itoa(rs.podSeq)))[:5], created: now}
			b := c.behavior(rs.images[0])
			for _, img := range rs.images[1:] {
				if ib := c.behavior(img); ib.CrashLoop || ib.NeverReady || ib.ReadyAfter > b.ReadyAfter {
					b = ib
				}
			}
			p.behavior = b
			for _, img := range rs.images {
				if _, err := parseImage(img); err != nil {
					p.invalidImage = img
					break
				}
			}
			switch {
			case p.invalidImage != "":
				c.log.Warn("pod image does not parse", "pod", p.name, "image", p.invalidImage)
			case b.CrashLoop:
				p.crash = true
			case b.NeverReady:
			default:
				p.readyAt = now.Add(b.ReadyAfter)
			}
			rs.pods = append(rs.pods, p)
			changed = true
		}
		for len(rs.pods) > rs.replicas {
			// Delete a pod that is not ready first, then the newest.
			victim := len(rs.pods) - 1
			for i, p := range rs.pods {
				if !p.ready(now) {
					victim = i
				}
			}
			rs.pods = append(rs.pods[:victim:victim], rs.pods[victim+1:]...)
			changed = true
		}
	}
	// Drop empty old ReplicaSets beyond the revision history limit of 10.
	if len(d.sets) > 11 {
		for i, rs := range d.sets {
			if rs != newRS && rs.replicas == 0 && len(rs.pods) == 0 {
				d.sets = append(d.sets[:i:i], d.sets[i+1:]...)
				changed = true
				break
			}
		}
	}

	// Status and conditions.
	var cur counts
	for _, rs := range d.sets {
		ready, avail := rs.count(now, s.minReady)
		cur.total += len(rs.pods)
		cur.ready += ready
		cur.available += avail
	}
	cur.updated = len(newRS.pods)
	_, newAvail := newRS.count(now, s.minReady)

	minAvailable := s.replicas - s.maxUnavailable
	if s.recreate {
		minAvailable = s.replicas
	}
	if cur.available >= minAvailable {
		d.setCond(&d.available, "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now)
	} else {
		d.setCond(&d.available, "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", now)
	}
	complete := cur.updated == s.replicas && cur.total == s.replicas && newAvail == s.replicas && cur.available == s.replicas
	progressed := cur.updated > d.last.updated || cur.ready > d.last.ready || cur.available > d.last.available ||
		cur.total-cur.updated < d.last.total-d.last.updated
	switch {
	case s.paused:
		d.setCond(&d.progressing, "Unknown", "DeploymentPaused", "Deployment is paused", now)
	case complete:
		if d.progressing.reason != "NewReplicaSetAvailable" {
			c.log.Info("rollout complete", "deployment", d.obj.ref.String(), "replicaset", newRS.name)
		}
		d.setCond(&d.progressing, "True", "NewReplicaSetAvailable", fmt.Sprintf("ReplicaSet %q has successfully progressed.", newRS.name), now)
	case progressed:
		d.setCond(&d.progressing, "True", "ReplicaSetUpdated", fmt.Sprintf("ReplicaSet %q is progressing.", newRS.name), now)
		d.progressing.lastUpdate = now
	default:
		if t, ok := d.deadline(); ok && !now.Before(t) {
			d.setCond(&d.progressing, "False", "ProgressDeadlineExceeded", fmt.Sprintf("ReplicaSet %q has timed out progressing.", newRS.name), now)
			c.log.Warn("rollout timed out", "deployment", d.obj.ref.String(), "replicaset", newRS.name)
			changed = true
		}
	}
	if cur != d.last {
		d.last = cur
		changed = true
	}
	return changed
}

func (c *Cluster) scale(rs *replicaSet, n int) {
	if rs.replicas != n {
		rs.replicas = n
		rs.gen++
	}
}

// rollingUpdate scales the new ReplicaSet up within maxSurge and the old
// ones down within maxUnavailable, as the Deployment controller does.
func (c *Cluster) rollingUpdate(d *deployment) bool {
	s, newRS, now := &d.spec, d.newRS, c.now
	changed := false
	total := 0
	for _, rs := range d.sets {
		total += rs.replicas
	}
	// Scale up.
	switch {
	case newRS.replicas > s.replicas:
		c.scale(newRS, s.replicas)
		changed = true
	case newRS.replicas < s.replicas:
		if room := s.replicas + s.maxSurge - total; room > 0 {
			c.scale(newRS, min(s.replicas, newRS.replicas+room))
			changed = true
		}
	}
	// Scale down old ReplicaSets.
	total = 0
	for _, rs := range d.sets {
		total += rs.replicas
	}
	minAvailable := s.replicas - s.maxUnavailable
	_, newAvail := newRS.count(now, s.minReady)
	newUnavailable := newRS.replicas - newAvail
	maxScaledDown := total - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return changed
	}
	// First the old pods that are not available anyway.
	cleaned := 0
	for _, rs := range d.sets {
		if rs == newRS || cleaned >= maxScaledDown {
			continue
		}
		_, avail := rs.count(now, s.minReady)
		if n := min(maxScaledDown-cleaned, rs.replicas-avail); n > 0 {
			c.scale(rs, rs.replicas-n)
			cleaned += n
			changed = true
		}
	}
	// Then available ones, oldest ReplicaSet first, keeping minAvailable.
	available := 0
	for _, rs := range d.sets {
		_, avail := rs.count(now, s.minReady)
		available += min(avail, rs.replicas)
	}
	budget := available - minAvailable
	for _, rs := range d.sets {
		if rs == newRS || budget <= 0 || rs.replicas == 0 {
			continue
		}
		n := min(budget, rs.replicas)
		c.scale(rs, rs.replicas-n)
		budget -= n
		changed = true
	}
	return changed
}

// crashState returns a crash-looping pod's restart count and whether its
// container is currently waiting in back-off, at t.
func (p *pod) crashState(t time.Time) (restarts int, waiting bool, backoff time.Duration) {
	elapsed := t.Sub(p.created)
	if elapsed < time.Second {
		return 0, false, 0
	}
	next, backoff := time.Second, 10*time.Second
	for elapsed >= next+backoff+time.Second {
		restarts++
		next += backoff + time.Second
		backoff = min(backoff*2, 5*time.Minute)
	}
	return restarts, elapsed < next+backoff, backoff
}
