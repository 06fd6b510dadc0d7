package routingtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/stickyacd/stickyacd/routing"
)

// ErrNotOwner is returned by the fake Presence when a transition names a
// call that does not hold the agent — a bug in the caller of Presence.
var ErrNotOwner = errors.New("routingtest: agent not held by this call")

// Presence is an in-memory routing.Presence with scripted availability.
// Agents it has never heard of are offline. Wrap-up is not modelled: after
// Release or Hangup the agent is idle again at once (idle since the clock's
// time when Clock is set).
type Presence struct {
	faults
	// Clock, when set, advances by Latency on every call.
	Clock   *Clock
	Latency time.Duration

	mu     sync.Mutex
	agents map[string]*presenceAgent
	calls  []PresenceCall
}

var _ routing.Presence = (*Presence)(nil)

type presenceAgent struct {
	away      routing.Result // "" when online and free
	idleSince time.Time
	holder    string // call UUID holding the agent
	phase     string // "reserved", "ringing", "in_call"
}

// PresenceCall is one call made to the fake.
type PresenceCall struct {
	Method   string // Reserve, ReserveAny, Ringing, Answered, Release, Hangup
	AgentID  string // the agent reserved, or the one the transition names
	CallUUID string
	Why      routing.Result  // Release only
	Groups   []routing.Group // Reserve only
	Exclude  []string        // ReserveAny only
}

// NewPresence returns a presence where nobody is online.
func NewPresence() *Presence {
	return &Presence{agents: map[string]*presenceAgent{}}
}

// Idle makes an agent online and idle since the given time (earlier is
// offered first).
func (p *Presence) Idle(agentID string, since time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.agents[agentID] = &presenceAgent{idleSince: since}
}

// Away makes an agent unavailable for the given reason: offline, break,
// busy, wrap_up or reserved (by another call).
func (p *Presence) Away(agentID string, why routing.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.agents[agentID] = &presenceAgent{away: why}
}

// Held returns the agents held by a call — reserved, ringing or in a call —
// with that call's UUID. After a call ends it must be empty.
func (p *Presence) Held() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]string{}
	for id, a := range p.agents {
		if a.holder != "" {
			out[id] = a.holder
		}
	}
	return out
}

// Calls returns every call made to the fake, in order.
func (p *Presence) Calls() []PresenceCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// Count returns how many times method was called.
func (p *Presence) Count(method string) int {
	n := 0
	for _, c := range p.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

// enter records a call and returns its index in the record.
func (p *Presence) enter(ctx context.Context, c PresenceCall) (int, error) {
	p.Clock.Advance(p.Latency)
	p.mu.Lock()
	p.calls = append(p.calls, c)
	i := len(p.calls) - 1
	p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return i, fmt.Errorf("%s: %w", c.Method, err)
	}
	return i, p.failure(c.Method)
}

// why is an agent's reason for not being offered; "" when free.
func (a *presenceAgent) why() routing.Result {
	switch {
	case a == nil:
		return routing.ResultOffline
	case a.away != "":
		return a.away
	case a.phase == "reserved":
		return routing.ResultReserved
	case a.phase != "":
		return routing.ResultBusy
	}
	return ""
}

func (p *Presence) reserve(id, callUUID string) {
	a := p.agents[id]
	a.holder, a.phase = callUUID, "reserved"
}

// Reserve implements routing.Presence: the first group with a free agent
// wins, longest idle first within it; every busy member of the groups up to
// and including that one is reported as skipped.
func (p *Presence) Reserve(ctx context.Context, callUUID string, groups []routing.Group) (routing.Reservation, error) {
	call, err := p.enter(ctx, PresenceCall{Method: "Reserve", CallUUID: callUUID, Groups: cloneGroups(groups)})
	if err != nil {
		return routing.Reservation{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var res routing.Reservation
	seen := map[string]bool{}
	for _, g := range groups {
		var free []string
		for _, id := range g.Agents {
			if seen[id] {
				continue
			}
			seen[id] = true
			if why := p.agents[id].why(); why != "" {
				res.Skipped = append(res.Skipped, routing.Candidate{Step: g.Step, AgentID: id, Result: why})
				continue
			}
			free = append(free, id)
		}
		if len(free) == 0 {
			continue
		}
		slices.SortStableFunc(free, func(a, b string) int {
			return p.agents[a].idleSince.Compare(p.agents[b].idleSince)
		})
		p.reserve(free[0], callUUID)
		p.calls[call].AgentID = free[0]
		res.AgentID, res.Step = free[0], g.Step
		return res, nil
	}
	return res, fmt.Errorf("reserve for %s: %w", callUUID, routing.ErrNoAgent)
}

// ReserveAny implements routing.Presence: the longest-idle free agent not
// excluded (ties by ID).
func (p *Presence) ReserveAny(ctx context.Context, callUUID string, exclude []string) (routing.Reservation, error) {
	call, err := p.enter(ctx, PresenceCall{Method: "ReserveAny", CallUUID: callUUID, Exclude: slices.Clone(exclude)})
	if err != nil {
		return routing.Reservation{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var free []string
	for id, a := range p.agents {
		if a.why() == "" && !slices.Contains(exclude, id) {
			free = append(free, id)
		}
	}
	if len(free) == 0 {
		return routing.Reservation{}, fmt.Errorf("reserve any for %s: %w", callUUID, routing.ErrNoAgent)
	}
	slices.SortFunc(free, func(a, b string) int {
		return cmp.Or(p.agents[a].idleSince.Compare(p.agents[b].idleSince), cmp.Compare(a, b))
	})
	p.reserve(free[0], callUUID)
	p.calls[call].AgentID = free[0]
	return routing.Reservation{AgentID: free[0], Step: routing.StepAnyAgent}, nil
}

// move is a compare-and-set transition on the call UUID.
func (p *Presence) move(ctx context.Context, c PresenceCall, from []string, to string) error {
	if _, err := p.enter(ctx, c); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.agents[c.AgentID]
	if a == nil || a.holder != c.CallUUID || !slices.Contains(from, a.phase) {
		return fmt.Errorf("%s %s for %s: %w", c.Method, c.AgentID, c.CallUUID, ErrNotOwner)
	}
	if to != "" {
		a.phase = to
		return nil
	}
	a.holder, a.phase = "", ""
	if p.Clock != nil {
		a.idleSince = p.Clock.Now()
	}
	return nil
}

// Ringing implements routing.Presence.
func (p *Presence) Ringing(ctx context.Context, agentID, callUUID string) error {
	return p.move(ctx, PresenceCall{Method: "Ringing", AgentID: agentID, CallUUID: callUUID}, []string{"reserved"}, "ringing")
}

// Answered implements routing.Presence.
func (p *Presence) Answered(ctx context.Context, agentID, callUUID string) error {
	return p.move(ctx, PresenceCall{Method: "Answered", AgentID: agentID, CallUUID: callUUID}, []string{"ringing"}, "in_call")
}

// Release implements routing.Presence.
func (p *Presence) Release(ctx context.Context, agentID, callUUID string, why routing.Result) error {
	return p.move(ctx, PresenceCall{Method: "Release", AgentID: agentID, CallUUID: callUUID, Why: why},
		[]string{"reserved", "ringing"}, "")
}

// Hangup implements routing.Presence.
func (p *Presence) Hangup(ctx context.Context, agentID, callUUID string) error {
	return p.move(ctx, PresenceCall{Method: "Hangup", AgentID: agentID, CallUUID: callUUID}, []string{"in_call"}, "")
}

func cloneGroups(gs []routing.Group) []routing.Group {
	out := make([]routing.Group, len(gs))
	for i, g := range gs {
		out[i] = routing.Group{Step: g.Step, Agents: slices.Clone(g.Agents)}
	}
	return out
}
