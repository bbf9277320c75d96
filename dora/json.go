package dora

import (
	"encoding/json"
	"io"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// JSONSchema is the value of the "schema" field of [Report.WriteJSON]'s
// output; it changes only when a field changes meaning.
const JSONSchema = "flightdeck.dora/v1"

type jsonReport struct {
	Schema  string      `json:"schema"`
	Since   time.Time   `json:"since"`
	Until   time.Time   `json:"until"`
	Days    float64     `json:"days"`
	Targets []jsonStats `json:"targets"`
	Total   jsonStats   `json:"total"`
}

type jsonStats struct {
	App         string           `json:"app,omitempty"`
	Environment string           `json:"environment,omitempty"`
	Frequency   jsonFrequency    `json:"deploymentFrequency"`
	LeadTime    jsonTiming       `json:"changeLeadTime"`
	ChangeFail  jsonRate         `json:"changeFailRate"`
	Recovery    jsonTiming       `json:"failedDeploymentRecoveryTime"`
	Rework      jsonRate         `json:"deploymentReworkRate"`
	Deployments []jsonDeployment `json:"deployments,omitempty"`
}

type jsonFrequency struct {
	Deployments int     `json:"deployments"`
	PerDay      float64 `json:"perDay"`
	Band        Band    `json:"band,omitempty"`
}

type jsonTiming struct {
	MedianSeconds float64 `json:"medianSeconds"`
	Count         int     `json:"count"`
	Unrecovered   *int    `json:"unrecovered,omitempty"`
	Band          Band    `json:"band,omitempty"`
}

type jsonRate struct {
	Count int     `json:"count"`
	Of    int     `json:"of"`
	Rate  float64 `json:"rate"`
	Band  Band    `json:"band,omitempty"`
}

type jsonDeployment struct {
	Commit          string    `json:"commit"`
	Action          string    `json:"action"`
	Time            time.Time `json:"time"`
	Release         string    `json:"release,omitempty"`
	Revision        string    `json:"revision,omitempty"`
	SourceTime      time.Time `json:"sourceTime,omitzero"`
	Unplanned       bool      `json:"unplanned,omitempty"`
	VerifiedAt      time.Time `json:"verifiedAt,omitzero"`
	Completed       time.Time `json:"completed,omitzero"`
	LeadTimeSeconds float64   `json:"leadTimeSeconds,omitempty"`
	Failed          bool      `json:"failed,omitempty"`
	FailedBy        string    `json:"failedBy,omitempty"`
	RecoveredBy     string    `json:"recoveredBy,omitempty"`
	RecoveredAt     time.Time `json:"recoveredAt,omitzero"`
	RecoverySeconds *float64  `json:"recoverySeconds,omitempty"`
}

func hashText(h plumbing.Hash) string {
	if h.IsZero() {
		return ""
	}
	return h.String()
}

func jsonOf(st Stats, withDeployments bool) jsonStats {
	open := st.Unrecovered
	j := jsonStats{
		App: st.App, Environment: st.Environment,
		Frequency:  jsonFrequency{st.Frequency.Deployments, st.Frequency.PerDay, st.Frequency.Band},
		LeadTime:   jsonTiming{MedianSeconds: st.LeadTime.Median.Seconds(), Count: st.LeadTime.Count, Band: st.LeadTime.Band},
		ChangeFail: jsonRate{st.ChangeFailRate.Count, st.ChangeFailRate.Of, st.ChangeFailRate.Value, st.ChangeFailRate.Band},
		Recovery:   jsonTiming{MedianSeconds: st.Recovery.Median.Seconds(), Count: st.Recovery.Count, Unrecovered: &open, Band: st.Recovery.Band},
		Rework:     jsonRate{st.ReworkRate.Count, st.ReworkRate.Of, st.ReworkRate.Value, st.ReworkRate.Band},
	}
	if !withDeployments {
		return j
	}
	j.Deployments = make([]jsonDeployment, 0, len(st.Deployments))
	for _, d := range st.Deployments {
		jd := jsonDeployment{
			Commit: d.Commit.String(), Action: string(d.Action), Time: d.Time.UTC(),
			Release: d.Release, Revision: d.Revision, SourceTime: d.SourceTime.UTC(),
			Unplanned: d.Unplanned, VerifiedAt: d.VerifiedAt.UTC(), Completed: d.Completed.UTC(), LeadTimeSeconds: d.LeadTime.Seconds(),
			Failed: d.Failed, FailedBy: hashText(d.FailedBy),
			RecoveredBy: hashText(d.RecoveredBy), RecoveredAt: d.RecoveredAt.UTC(),
		}
		if d.Recovered() {
			s := d.Recovery.Seconds()
			jd.RecoverySeconds = &s
		}
		j.Deployments = append(j.Deployments, jd)
	}
	return j
}

// MarshalJSON encodes the report for machines: the period, every
// target's figures and deployments, and the total's figures (without
// its deployments, which are the targets'). Durations are in seconds,
// times in RFC 3339 UTC, commits full hashes; a figure without data has
// no band.
func (r Report) MarshalJSON() ([]byte, error) {
	j := jsonReport{Schema: JSONSchema, Since: r.Since.UTC(), Until: r.Until.UTC(), Days: r.Days(),
		Targets: make([]jsonStats, 0, len(r.Targets)), Total: jsonOf(r.Total, false)}
	for _, st := range r.Targets {
		j.Targets = append(j.Targets, jsonOf(st, true))
	}
	return json.Marshal(j)
}

// WriteJSON writes the report as indented JSON (see
// [Report.MarshalJSON]).
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
