// Package routing decides who answers an inbound call: steps 01–04 of the
// call flow in DESIGN.md §1, as plain Go over the small interfaces declared
// here. It knows nothing of FreeSWITCH, Redis or SQL.
package routing

import (
	"errors"
	"time"

	"github.com/stickyacd/stickyacd/routing/idnumber"
)

// Step names a row of the call-flow table; the same names appear in logs,
// traces, metrics and the HTTP API.
type Step string

const (
	StepLookup   Step = "01"  // caller ID look-up
	StepIDEntry  Step = "02"  // IVR: ID-card number
	StepFirst    Step = "011" // the customer's own (first) agent
	StepBackup   Step = "012" // that agent's backup
	StepTeam     Step = "013" // the rest of the first agent's team
	StepLeader   Step = "014" // the team leader
	StepAnyAgent Step = "021" // unknown customer: any agent
	StepCallback Step = "03"  // promise a call back, business-type menu
	StepTask     Step = "04"  // create the callback task
)

// Entry says how the caller was recognised.
type Entry string

const (
	EntryKnown   Entry = "known"   // by caller ID
	EntryID      Entry = "id"      // by the ID number keyed in
	EntryUnknown Entry = "unknown" // not recognised
)

// Outcome is how a call ended for stickyacd.
type Outcome string

const (
	OutcomeBridged   Outcome = "bridged"
	OutcomeCallback  Outcome = "callback"
	OutcomeAbandoned Outcome = "abandoned"
	OutcomeFailed    Outcome = "failed"
)

// Result is what happened to one candidate agent.
type Result string

const (
	ResultAnswered    Result = "answered"
	ResultOffline     Result = "offline"  // logged out, or not registered
	ResultBreak       Result = "break"    // on break
	ResultBusy        Result = "busy"     // in a call or ringing, or returned busy
	ResultWrapUp      Result = "wrap_up"  // wrap-up or a post-failure delay not over
	ResultReserved    Result = "reserved" // held for another call
	ResultNoAnswer    Result = "no_answer"
	ResultRejected    Result = "rejected"
	ResultUnreachable Result = "unreachable"
)

// Role of an agent in its team.
type Role string

const (
	RoleAgent  Role = "agent"
	RoleLeader Role = "leader"
)

// Agent is an agent as the directory knows it.
type Agent struct {
	ID        string
	Name      string
	Extension string
	Team      string
	Role      Role
	BackupID  string   // "" when none
	Skills    []string // business-type codes
}

// Customer is a known customer. The ID number itself is never held here.
type Customer struct {
	ID           string
	Name         string
	FirstAgentID string // "" when none is bound
	IDLast4      string // last 4 characters of the ID number, for display
}

// Chain lists the candidates tried for a known customer, steps 011–014.
type Chain struct {
	First  Agent
	Backup *Agent  // nil when the first agent has none
	Team   []Agent // the first agent's team minus first, backup and leader
	Leader *Agent  // nil when the team has none
}

// NewCustomer is what step 021 records once an agent answers an unknown caller.
type NewCustomer struct {
	CallUUID     string
	Phone        string          // normalised
	IDNumber     idnumber.Number // zero when none was keyed in
	FirstAgentID string          // "" when binding is switched off
}

// Binding records that a caller number belongs to a customer (step 02).
type Binding struct {
	CallUUID   string
	CustomerID string
	Phone      string // normalised
}

// NewTask is the callback promise of step 04.
type NewTask struct {
	CallUUID     string // idempotency key: one task per call
	Caller       string // normalised caller number
	CustomerID   string // "" for an unknown caller
	BusinessType string // business-type code
	Priority     int    // higher is more urgent
	DueAt        time.Time
	Abandoned    bool // the caller hung up before step 03
}

// Group is one step's candidates for a reservation, in order of preference.
// Presence orders a group by longest idle itself.
type Group struct {
	Step   Step
	Agents []string
}

// Candidate is one agent passed over (or chosen) and why.
type Candidate struct {
	Step    Step
	AgentID string
	Result  Result
}

// Reservation is what one reservation call returns: the agent now reserved
// for the call (AgentID "" when none) and every earlier candidate passed over.
type Reservation struct {
	AgentID string
	Step    Step
	Skipped []Candidate
}

// Sentinel errors of this package; implementations wrap or match them.
var (
	// ErrNotFound: no such customer or agent.
	ErrNotFound = errors.New("not found")
	// ErrNoAgent: no candidate was online and idle.
	ErrNoAgent = errors.New("no agent online and idle")
	// ErrHangup: the caller hung up.
	ErrHangup = errors.New("caller hung up")
	// ErrNoInput: digit collection timed out with nothing keyed.
	ErrNoInput = errors.New("no input")
	// ErrInvalidInput: digits were keyed but did not match the pattern.
	ErrInvalidInput = errors.New("invalid input")
)
