package routing

import (
	"context"
	"time"

	"github.com/stickyacd/stickyacd/routing/idnumber"
)

// Directory is the customer and agent data the flow reads and writes
// (PostgreSQL in production).
type Directory interface {
	// CustomerByPhone finds the customer owning a normalised number; ErrNotFound if none.
	CustomerByPhone(ctx context.Context, phone string) (Customer, error)
	// CustomerByIDNumber finds the customer with this ID number; ErrNotFound if none.
	CustomerByIDNumber(ctx context.Context, id idnumber.Number) (Customer, error)
	// BindPhone makes phone belong to the customer, audited with the call UUID.
	BindPhone(ctx context.Context, b Binding) error
	// CreateCustomer records a new customer found by step 021.
	CreateCustomer(ctx context.Context, c NewCustomer) (Customer, error)
	// Chain returns the candidates of steps 011–014 for a first agent.
	Chain(ctx context.Context, firstAgentID string) (Chain, error)
	// Agent returns one agent; ErrNotFound if none.
	Agent(ctx context.Context, id string) (Agent, error)
}

// Presence is live agent availability (Redis in production). Every
// transition after Reserve is compare-and-set on the call UUID.
type Presence interface {
	// Reserve atomically reserves the first online, idle agent of the groups,
	// in group order and longest idle first within a group. When none is
	// free it returns ErrNoAgent with Skipped filled in.
	Reserve(ctx context.Context, callUUID string, groups []Group) (Reservation, error)
	// ReserveAny reserves the longest-idle online agent not in exclude (step 021).
	ReserveAny(ctx context.Context, callUUID string, exclude []string) (Reservation, error)
	// Ringing marks the reserved agent's phone as ringing for this call.
	Ringing(ctx context.Context, agentID, callUUID string) error
	// Answered marks the agent in a call with this caller.
	Answered(ctx context.Context, agentID, callUUID string) error
	// Release gives the agent back after a failed attempt (why is no_answer,
	// busy, rejected or unreachable) or an unused reservation (why "").
	Release(ctx context.Context, agentID, callUUID string, why Result) error
	// Hangup ends the agent's call with this caller; the agent goes to wrap-up.
	Hangup(ctx context.Context, agentID, callUUID string) error
}

// Collect describes one digit collection (play_and_get_digits).
type Collect struct {
	// Preamble is played before Prompt as part of the same collection, so
	// keys the caller presses during it are kept (a separate playback would
	// swallow them).
	Preamble     string
	Prompt       string        // sound played before collecting
	Invalid      string        // sound played when the input does not match Pattern
	Min, Max     int           // digit count
	Timeout      time.Duration // wait for the first digit after the prompt
	DigitTimeout time.Duration // wait between digits
	Terminators  string        // e.g. "#"
	Pattern      string        // regular expression the input must match
	// Sensitive input (the ID-card number) must not stay anywhere outside
	// stickyacd once read, e.g. in FreeSWITCH's channel variables.
	Sensitive bool
}

// BridgeRequest is one attempt to connect the caller to an agent.
type BridgeRequest struct {
	Agent       Agent
	Step        Step
	Customer    Customer // zero for an unknown caller
	RingTimeout time.Duration
	// OnAnswer is called once, as soon as the agent answers, before the
	// conversation ends.
	OnAnswer func()
}

// BridgeResult is how an attempt ended. Answered attempts return when the
// conversation is over.
type BridgeResult struct {
	Result     Result // answered, no_answer, busy, rejected, unreachable
	Cause      string // FreeSWITCH originate disposition, for the trace
	AnsweredAt time.Time
	EndedAt    time.Time
}

// CallControl is the caller's leg (esl.Session in production). Methods
// return ErrHangup once the caller is gone.
type CallControl interface {
	Answer(ctx context.Context) error
	Playback(ctx context.Context, sound string) error
	// Collect returns the digits keyed, ErrNoInput or ErrInvalidInput.
	Collect(ctx context.Context, c Collect) (string, error)
	Bridge(ctx context.Context, r BridgeRequest) (BridgeResult, error)
	Hangup(ctx context.Context, cause string) error
	// Done is closed when the caller has hung up.
	Done() <-chan struct{}
}

// TaskSink records callback promises (step 04); idempotent per call UUID.
type TaskSink interface {
	CreateTask(ctx context.Context, t NewTask) (taskID int64, err error)
}

// CallRecords keeps each call's decision trace.
type CallRecords interface {
	SaveCall(ctx context.Context, t *Trace) error
}

// ScreenPop is what an agent's screen shows when a call is put through.
type ScreenPop struct {
	CallUUID   string    `json:"call_uuid"`
	Step       Step      `json:"step"`
	Caller     string    `json:"caller"`
	CustomerID string    `json:"customer_id,omitempty"`
	Name       string    `json:"name,omitempty"`
	IDLast4    string    `json:"id_last4,omitempty"`
	New        bool      `json:"new_customer"`
	At         time.Time `json:"at"`
}

// Notifier pushes screen pops to agents; it must not block.
type Notifier interface {
	ScreenPop(agentID string, p ScreenPop)
}

// Clock is the flow's source of time.
type Clock interface {
	Now() time.Time
}

// FirstAgentBinder is implemented by a Directory that can make an agent an
// existing customer's first agent. Step 021 uses it for a known customer who
// has none, so that the next call from them goes to the agent who took this
// one; a Directory without it leaves such customers unbound (logged).
type FirstAgentBinder interface {
	BindFirstAgent(ctx context.Context, b FirstAgentBinding) error
}

// FirstAgentBinding makes AgentID the first agent of CustomerID, audited
// with the call UUID.
type FirstAgentBinding struct {
	CallUUID   string
	CustomerID string
	AgentID    string
}
