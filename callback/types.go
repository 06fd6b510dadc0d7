package callback

import (
	"errors"
	"time"
)

// Status is where a task stands.
type Status string

const (
	StatusPending    Status = "pending"     // no agent yet: nobody with the skill was online
	StatusAssigned   Status = "assigned"    // an agent owns it
	StatusInProgress Status = "in_progress" // the agent is calling the customer (next_callback)
	StatusCompleted  Status = "completed"
	StatusCancelled  Status = "cancelled"
)

// Open reports whether the task still has to be worked.
func (s Status) Open() bool {
	return s == StatusPending || s == StatusAssigned || s == StatusInProgress
}

// EventKind names an entry of a task's history.
type EventKind string

const (
	EventCreated    EventKind = "created"
	EventAssigned   EventKind = "assigned"
	EventReminded   EventKind = "reminded"
	EventReassigned EventKind = "reassigned"
	EventEscalated  EventKind = "escalated"
	EventAttempted  EventKind = "attempted"
	EventCompleted  EventKind = "completed"
	EventCancelled  EventKind = "cancelled"
)

// notifies lists the kinds that put a task in front of an agent: those are
// pushed to the agent (Notifier) and to the webhook.
var notifies = map[EventKind]bool{
	EventAssigned:   true,
	EventReminded:   true,
	EventReassigned: true,
	EventEscalated:  true,
}

// Event is one entry of a task's append-only history.
type Event struct {
	At      time.Time `json:"at"`
	Kind    EventKind `json:"kind"`
	AgentID string    `json:"agent_id"` // the agent the action concerns; "" when none
	Note    string    `json:"note"`     // why
}

// Task is a callback promise. Its JSON is served by the HTTP API; the names
// are an external contract (DESIGN.md §4.6): fields may be added, never
// renamed.
type Task struct {
	ID           int64      `json:"id"`
	CallUUID     string     `json:"call_uuid"`
	CustomerID   string     `json:"customer_id"` // "" for an unknown caller
	Caller       string     `json:"caller"`      // normalised number to call back
	BusinessType string     `json:"business_type"`
	AgentID      string     `json:"agent_id"` // "" while pending
	TeamID       string     `json:"team_id"`  // the agent's team when it was assigned
	Priority     int        `json:"priority"` // higher is more urgent
	Status       Status     `json:"status"`
	DueAt        time.Time  `json:"due_at"`
	Attempts     int        `json:"attempts"`
	Reminders    int        `json:"reminders"`
	Escalated    bool       `json:"escalated"`
	Abandoned    bool       `json:"abandoned"`
	Outcome      string     `json:"outcome,omitempty"`
	RetryAt      *time.Time `json:"retry_at,omitempty"` // not offered to next_callback before
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	CompletedAt  *time.Time `json:"completed_at,omitempty"`
	Events       []Event    `json:"events"`

	// FirstAgentID is the customer's bound first agent ("" when unknown or
	// unbound), read with the task: it decides between the sticky rules and
	// the least-loaded rules.
	FirstAgentID string `json:"-"`
	// NextCheckAt is when the worker next looks at the task.
	NextCheckAt time.Time `json:"-"`
}

// sticky reports whether the task belongs to the customer's own agent
// (step 05's "known customer"): reminded when overdue, never reassigned. A
// known customer with no first agent bound is served like an unknown one.
func (t Task) sticky() bool { return t.CustomerID != "" && t.FirstAgentID != "" }

// Notice tells an agent about a task: a new assignment, a reminder, a
// reassignment or an escalation. Its JSON is the webhook body and the SSE
// event of the agent's feed.
type Notice struct {
	// Key identifies the notice; receivers deduplicate on it (the webhook's
	// Idempotency-Key).
	Key     string    `json:"key"`
	Kind    EventKind `json:"kind"`
	At      time.Time `json:"at"`
	AgentID string    `json:"agent_id"` // the agent notified
	Note    string    `json:"note"`
	// Text is a one-line message for the agent (the SIP MESSAGE body),
	// e.g. "Callback reminder: call 13900139001 back (customer K1, loan,
	// priority 6, due Mon 10:30). overdue by 5m0s; reminder 1; priority 6".
	Text string `json:"text"`
	Task Task   `json:"task"` // the task after the change, without its history
}

// Change is the outcome of acting on one leased task: its new state, the
// events to append and the notices to send. Applying it gives up the lease.
type Change struct {
	Task    Task
	Events  []Event
	Notices []Notice
}

// Sentinel errors of this package; store implementations return them
// (wrapped) so callers can check with errors.Is.
var (
	// ErrNotFound: no such task.
	ErrNotFound = errors.New("callback task not found")
	// ErrClosed: the task is already completed or cancelled.
	ErrClosed = errors.New("callback task is closed")
	// ErrLeaseLost: the change was refused because the caller no longer
	// holds the task's lease (it expired and was rescued, or an operator
	// took the task over).
	ErrLeaseLost = errors.New("callback task lease lost")
	// ErrNoTask: the agent has no task ready to call.
	ErrNoTask = errors.New("no callback task ready")
	// ErrNoAgent: no online agent has the task's skill.
	ErrNoAgent = errors.New("no online agent with the skill")
	// ErrUnknownAgent: the agent named does not exist.
	ErrUnknownAgent = errors.New("unknown agent")
)
