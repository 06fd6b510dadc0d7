package routing

import "time"

// Trace is one call's decision record, served by GET /api/v1/calls/{uuid}.
// JSON field names are part of the external contract (DESIGN.md §4.6).
type Trace struct {
	UUID       string      `json:"uuid"`
	Caller     string      `json:"caller"`
	CustomerID string      `json:"customer_id"`
	Entry      Entry       `json:"entry"`
	Outcome    Outcome     `json:"outcome"`
	AgentID    string      `json:"agent_id"`
	TaskID     *int64      `json:"task_id"`
	Steps      []StepTrace `json:"steps"`
	StartedAt  time.Time   `json:"started_at"`
	EndedAt    time.Time   `json:"ended_at"`
	// DecisionMS is the time from the start of the call to the first bridge
	// or the step 03 prompt, time spent playing prompts excluded.
	DecisionMS float64 `json:"decision_ms"`
	// Error says why the outcome is "failed" or why a fallback was taken.
	Error string `json:"error,omitempty"`
}

// StepTrace is one step of the flow.
type StepTrace struct {
	Step       Step             `json:"step"`
	StartedAt  time.Time        `json:"started_at"`
	MS         float64          `json:"ms"`
	Candidates []CandidateTrace `json:"candidates"`
	// Result is the step's own outcome where it has one, e.g. "match",
	// "no_match", "bad_input" for 02, or the business type chosen at 03.
	Result string `json:"result,omitempty"`
	Note   string `json:"note,omitempty"`
}

// CandidateTrace is one agent considered by a step.
type CandidateTrace struct {
	AgentID string `json:"agent_id"`
	Result  Result `json:"result"`
	Cause   string `json:"cause,omitempty"` // FreeSWITCH disposition of a failed bridge
}
