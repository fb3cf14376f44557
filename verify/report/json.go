package report

import (
	"encoding/json"
	"io"
	"time"
)

// The JSON schema (docs/verify.md). These types exist apart from Report so that the schema
// stays what it is documented to be whatever the engine's own types become.
type jsonReport struct {
	SchemaVersion   int         `json:"schemaVersion"`
	Source          string      `json:"source"`
	Lab             string      `json:"lab,omitempty"`
	StartedAt       string      `json:"startedAt"`
	DurationSeconds float64     `json:"durationSeconds"`
	Status          Status      `json:"status"`
	Summary         jsonSummary `json:"summary"`
	Checks          []jsonCheck `json:"checks"`
}

// jsonSummary counts checks by status; partial and nodes came later in schema version 1.
type jsonSummary struct {
	Passed  int        `json:"passed"`
	Failed  int        `json:"failed"`
	Skipped int        `json:"skipped"`
	Partial int        `json:"partial"`
	Nodes   jsonCounts `json:"nodes"`
}

// jsonCounts counts targets (nodes, the switch, the cluster) by status.
type jsonCounts struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

type jsonCheck struct {
	ID                 string     `json:"id"`
	Title              string     `json:"title"`
	Status             Status     `json:"status"`
	Reason             string     `json:"reason,omitempty"`
	Passed             int        `json:"passed"`
	Failed             int        `json:"failed"`
	Skipped            int        `json:"skipped"`
	Partial            bool       `json:"partial"`
	DurationSeconds    float64    `json:"durationSeconds"`
	PassedAfterSeconds *float64   `json:"passedAfterSeconds,omitempty"`
	Nodes              []jsonNode `json:"nodes"`
}

type jsonNode struct {
	Node            string        `json:"node"`
	Status          Status        `json:"status"`
	Reason          string        `json:"reason,omitempty"`
	DurationSeconds float64       `json:"durationSeconds"`
	Notes           []string      `json:"notes,omitempty"`
	Findings        []jsonFinding `json:"findings"`
}

type jsonFinding struct {
	Kind     FindingKind `json:"kind"`
	Entry    string      `json:"entry"`
	Field    string      `json:"field,omitempty"`
	Expected string      `json:"expected,omitempty"`
	Found    string      `json:"found,omitempty"`
	Reason   string      `json:"reason,omitempty"`
	Layer    string      `json:"layer,omitempty"`
}

// WriteJSON writes the report in the documented schema, indented, with a final newline.
func WriteJSON(w io.Writer, r *Report) error {
	sum := r.Summary()
	out := jsonReport{
		SchemaVersion:   SchemaVersion,
		Source:          r.Source,
		Lab:             r.Lab,
		StartedAt:       r.Started.UTC().Format(time.RFC3339Nano),
		DurationSeconds: r.Duration.Seconds(),
		Status:          r.Status(),
		Summary: jsonSummary{Passed: sum.Passed, Failed: sum.Failed, Skipped: sum.Skipped, Partial: sum.Partial,
			Nodes: jsonCounts(sum.Nodes)},
		Checks: []jsonCheck{},
	}
	for _, c := range r.Checks {
		n := c.Counts()
		jc := jsonCheck{ID: c.ID, Title: c.Title, Status: c.Status, Reason: c.Reason,
			Passed: n.Passed, Failed: n.Failed, Skipped: n.Skipped, Partial: c.Partial(),
			DurationSeconds: c.Duration.Seconds(), Nodes: []jsonNode{}}
		if c.PassedAfter > 0 {
			s := c.PassedAfter.Seconds()
			jc.PassedAfterSeconds = &s
		}
		for _, n := range c.Nodes {
			jn := jsonNode{Node: n.Node, Status: n.Status, Reason: n.Reason, DurationSeconds: n.Duration.Seconds(),
				Notes: n.Notes, Findings: []jsonFinding{}}
			for _, f := range n.Findings {
				jn.Findings = append(jn.Findings, jsonFinding(f))
			}
			jc.Nodes = append(jc.Nodes, jn)
		}
		out.Checks = append(out.Checks, jc)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
