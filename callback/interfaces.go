package callback

import (
	"context"
	"time"

	"github.com/stickyacd/stickyacd/routing"
)

// Claim asks for a batch of tasks whose next check is due.
type Claim struct {
	Owner string    // lease owner written on the claimed tasks
	Now   time.Time // tasks with next check at or before Now are due
	Until time.Time // the lease ends then; a rescuer returns it afterwards
	Limit int
}

// Store keeps tasks (PostgreSQL in production, store.Tasks). Every method
// that leases writes Owner and Until; Apply only changes tasks still leased
// by its owner, so a worker that lost a lease cannot overwrite someone
// else's decision.
type Store interface {
	// Claim leases up to Limit pending or assigned tasks that are due, not
	// leased, oldest next check first, skipping rows other workers hold.
	// The returned tasks carry FirstAgentID and no events.
	Claim(ctx context.Context, c Claim) ([]Task, error)
	// Lease takes one open task over, whoever holds it now (an operator's
	// action wins over a worker's). ErrNotFound, or ErrClosed when it is
	// completed or cancelled.
	Lease(ctx context.Context, id int64, owner string, until time.Time) (Task, error)
	// TakeTop leases the agent's top assigned task (priority descending,
	// then due time) whose retry time has come, and marks it in_progress.
	// A task whose caller field is empty carries the customer's first phone
	// instead. ErrNoTask when there is none.
	TakeTop(ctx context.Context, agentID, owner string, now, until time.Time) (Task, error)
	// Apply writes the changes of tasks leased by owner, appends their
	// events and gives up their leases, atomically. It returns the IDs it
	// applied; when some tasks were no longer leased by owner they are left
	// untouched and the error wraps ErrLeaseLost.
	Apply(ctx context.Context, owner string, changes []Change) ([]int64, error)
	// OpenCounts returns the number of assigned and in-progress tasks of each
	// agent; agents with none may be absent.
	OpenCounts(ctx context.Context, agentIDs []string) (map[string]int, error)
	// Rescue gives up leases that ended before now; an in-progress task
	// (a next_callback call that never reported back) returns to assigned.
	Rescue(ctx context.Context, now time.Time) (int, error)
	// WakePending makes every pending task due at now.
	WakePending(ctx context.Context, now time.Time) (int, error)
}

// Directory is what the worker reads about agents (store's in-memory agent
// snapshot in production). Agent and TeamLeader return an error matching
// routing.ErrNotFound when there is none.
type Directory interface {
	AgentsWithSkill(ctx context.Context, code string) ([]routing.Agent, error)
	Agent(ctx context.Context, id string) (routing.Agent, error)
	TeamLeader(ctx context.Context, team string) (routing.Agent, error)
}

// Availability says who is online (Redis presence in production). Open-task
// counts are not kept there: PostgreSQL holds the tasks and computes them.
type Availability interface {
	// OnlineAmong returns the online agents among ids, longest idle first.
	OnlineAmong(ctx context.Context, ids []string) ([]string, error)
}

// Notifier pushes notices to agents at most once, best effort (the SSE
// feed, a SIP MESSAGE). It is called after the change is committed and must
// not block. The webhook is not a Notifier: it is fed durably by the store.
type Notifier interface {
	Notify(n Notice)
}

// Dial is one call to a customer from the agent's channel.
type Dial struct {
	Target      string // dial string with the number filled in
	CallerID    string // caller ID shown to the customer; "" keeps the gateway's
	RingTimeout time.Duration
	TaskID      int64
}

// CallControl is the agent's own channel during next_callback (an
// esl.Session in production). Methods fail once the agent has hung up.
type CallControl interface {
	Answer(ctx context.Context) error
	Playback(ctx context.Context, sound string) error
	// Say reads digits out one by one (FreeSWITCH `say`, "number iterated").
	Say(ctx context.Context, digits string) error
	// Bridge calls the customer and connects the agent; an answered call
	// returns when the conversation is over.
	Bridge(ctx context.Context, d Dial) (routing.BridgeResult, error)
	Hangup(ctx context.Context, cause string) error
}

// Clock is the worker's source of time.
type Clock interface {
	Now() time.Time
}
