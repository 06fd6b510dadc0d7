package routing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// routeKnown sends a known customer along their chain (011–014), or to 021
// when they have no related agent at all (see Router).
func (k *call) routeKnown(ctx context.Context) end {
	cust := *k.customer
	first := k.r.cfg.Chain[0]
	k.open(first)
	if cust.FirstAgentID == "" {
		k.note(first, "customer has no first agent: routed as 021")
		k.log.Info("customer has no first agent", "step", first, "customer_id", cust.ID)
		return k.anyAgent(ctx)
	}
	ch, err := k.r.d.Directory.Chain(ctx, cust.FirstAgentID)
	switch {
	case errors.Is(err, ErrNotFound):
		// The customer has an agent the directory does not know (yet):
		// never an unrelated agent, and never a new binding over theirs.
		k.note(first, "first agent "+cust.FirstAgentID+" not in directory")
		k.log.Error("first agent not in directory; promising a callback", "step", first, "customer_id", cust.ID, "agent_id", cust.FirstAgentID)
		return endCallback
	case err != nil:
		return k.storeFailed(first, "load agent chain", err)
	}
	return k.chain(ctx, ch)
}

// chainGroups orders the chain's candidates by the configured steps.
func (k *call) chainGroups(ch Chain) ([]Group, map[string]Agent) {
	agents := map[string]Agent{}
	ids := func(as ...Agent) []string {
		out := make([]string, 0, len(as))
		for _, a := range as {
			agents[a.ID] = a
			out = append(out, a.ID)
		}
		return out
	}
	groups := make([]Group, 0, len(k.r.cfg.Chain))
	for _, s := range k.r.cfg.Chain {
		g := Group{Step: s}
		switch s {
		case StepFirst:
			g.Agents = ids(ch.First)
		case StepBackup:
			if ch.Backup != nil {
				g.Agents = ids(*ch.Backup)
			}
		case StepTeam:
			g.Agents = ids(ch.Team...)
		case StepLeader:
			if ch.Leader != nil {
				g.Agents = ids(*ch.Leader)
			}
		}
		groups = append(groups, g)
	}
	return groups, agents
}

// remaining is what is left of groups from position from on, without the
// agents already tried and without empty groups.
func remaining(groups []Group, from int, tried map[string]bool) []Group {
	out := make([]Group, 0, len(groups)-from)
	for _, g := range groups[from:] {
		left := make([]string, 0, len(g.Agents))
		for _, id := range g.Agents {
			if !tried[id] {
				left = append(left, id)
			}
		}
		if len(left) > 0 {
			out = append(out, Group{Step: g.Step, Agents: left})
		}
	}
	return out
}

// chain is steps 011–014: one reservation per decision over every group not
// yet exhausted, then a bridge to the reserved agent; a failed attempt asks
// again without the agents already tried. Steps are never revisited: once
// 012 has been reached the first agent is not offered the call again.
func (k *call) chain(ctx context.Context, ch Chain) end {
	groups, agents := k.chainGroups(ch)
	tried := map[string]bool{}
	pos := 0
	for {
		left := remaining(groups, pos, tried)
		if len(left) == 0 {
			k.log.Info("chain exhausted", "step", k.step, "customer_id", k.customer.ID)
			k.note(k.step, "chain exhausted")
			return endCallback
		}
		if k.gone() {
			return endGone
		}
		k.open(left[0].Step)
		res, err := k.r.d.Presence.Reserve(ctx, k.trace.UUID, left)
		k.skipped(res.Skipped)
		switch {
		case errors.Is(err, ErrNoAgent) || (err == nil && res.AgentID == ""):
			last := left[len(left)-1].Step
			k.log.Info("no chain agent free", "step", last, "customer_id", k.customer.ID, "skipped", len(res.Skipped))
			k.note(last, "chain exhausted")
			return endCallback
		case err != nil:
			return k.storeFailed(k.step, "reserve chain agent", err)
		}
		tried[res.AgentID] = true
		pos = max(pos, slices.IndexFunc(groups, func(g Group) bool { return g.Step == res.Step }))
		a, ok := agents[res.AgentID]
		if !ok {
			// Never put a known customer through to an agent outside their chain.
			k.release(ctx, k.step, res.AgentID, "")
			return k.storeFailed(k.step, "reserve chain agent", fmt.Errorf("presence reserved %s, not in the chain", res.AgentID))
		}
		k.open(res.Step)
		k.log.Info("chain agent reserved", "step", res.Step, "agent_id", a.ID)
		e, err := k.attempt(ctx, a, res.Step, nil)
		if next, retry := k.settle(res.Step, e, err); !retry {
			return next
		}
	}
}

// skipped records the candidates a reservation passed over.
func (k *call) skipped(cs []Candidate) {
	for _, c := range cs {
		k.candidate(c.Step, c.AgentID, c.Result, "")
	}
}

// anyAgent is step 021: the longest-idle online agent, for a caller with no
// related agent.
func (k *call) anyAgent(ctx context.Context) end {
	k.open(StepAnyAgent)
	var exclude []string
	for {
		if k.gone() {
			return endGone
		}
		if len(exclude) >= k.r.cfg.AnyAgentTries {
			// Every agent could be free and yet fail (a wrong dial string,
			// a broken trunk): the caller is not rung around the floor.
			k.log.Info("any-agent attempts exhausted", "step", StepAnyAgent, "tries", len(exclude))
			k.note(StepAnyAgent, fmt.Sprintf("%d agents tried", len(exclude)))
			return endCallback
		}
		res, err := k.r.d.Presence.ReserveAny(ctx, k.trace.UUID, exclude)
		k.skipped(res.Skipped)
		switch {
		case errors.Is(err, ErrNoAgent) || (err == nil && res.AgentID == ""):
			k.log.Info("no agent free", "step", StepAnyAgent)
			k.note(StepAnyAgent, "no agent online and idle")
			return endCallback
		case err != nil:
			return k.storeFailed(StepAnyAgent, "reserve any agent", err)
		}
		exclude = append(exclude, res.AgentID)
		a, err := k.r.d.Directory.Agent(ctx, res.AgentID)
		switch {
		case errors.Is(err, ErrNotFound):
			k.log.Warn("reserved agent not in directory", "step", StepAnyAgent, "agent_id", res.AgentID)
			k.release(ctx, StepAnyAgent, res.AgentID, "")
			k.note(StepAnyAgent, "agent "+res.AgentID+" not in directory")
			continue
		case err != nil:
			k.release(ctx, StepAnyAgent, res.AgentID, "")
			return k.storeFailed(StepAnyAgent, "load agent", err)
		}
		k.log.Info("agent reserved", "step", StepAnyAgent, "agent_id", a.ID)
		e, err := k.attempt(ctx, a, StepAnyAgent, k.welcome)
		if next, retry := k.settle(StepAnyAgent, e, err); !retry {
			return next
		}
	}
}

// attemptEnd is how one bridge attempt ended.
type attemptEnd int

const (
	attemptAnswered     attemptEnd = iota
	attemptFailed                  // no answer, busy, rejected, unreachable: try the next
	attemptGone                    // the caller hung up while the agent was rung
	attemptBroken                  // the caller's leg failed
	attemptPresenceDown            // presence refused the attempt
)

// settle turns how an attempt ended into where the flow goes; retry means
// the next candidate is to be tried.
func (k *call) settle(step Step, e attemptEnd, err error) (next end, retry bool) {
	switch e {
	case attemptFailed:
		return endCallback, true
	case attemptAnswered:
		return endBridged, false
	case attemptGone:
		return endGone, false
	case attemptBroken:
		return k.legEnd(err), false
	}
	return k.storeFailed(step, "presence", err), false
}

// attempt rings a reserved agent and bridges the caller. welcome, run when
// the agent answers, does step 021's extra work; nil for the chain.
func (k *call) attempt(ctx context.Context, a Agent, step Step, welcome func(context.Context, Agent)) (attemptEnd, error) {
	// The decision is made: this agent is rung now.
	k.decide()
	// "Ringing" is news for the wallboard, not a condition of the bridge
	// (the reservation already holds the agent, with the same TTL): it is
	// written while the bridge is issued, and waited for before the
	// agent's next transition so they stay in order.
	ringing := make(chan error, 1)
	go func() {
		sctx, cancel := k.detached(ctx)
		defer cancel()
		ringing <- k.r.d.Presence.Ringing(sctx, a.ID, k.trace.UUID)
	}()
	var rang sync.Once
	ringDone := func() {
		rang.Do(func() {
			if err := <-ringing; err != nil {
				k.log.Error("presence update failed", "step", step, "what", "mark agent ringing", "agent_id", a.ID, "err", err)
				k.note(step, "mark agent "+a.ID+" ringing failed")
				k.fallback(fmt.Sprintf("mark agent %s ringing: %v", a.ID, err))
			}
		})
	}
	req := BridgeRequest{Agent: a, Step: step, RingTimeout: k.r.cfg.RingTimeout}
	if k.customer != nil {
		req.Customer = *k.customer
	}
	// OnAnswer may run on another goroutine while Bridge blocks; the Once
	// makes its work happen exactly once and, by the final Do below,
	// before this goroutine reads what it wrote.
	var once sync.Once
	picked := false
	onAnswer := func() {
		once.Do(func() {
			picked = true
			ringDone()
			k.agentAnswered(ctx, a, step, welcome)
		})
	}
	req.OnAnswer = onAnswer
	settled := false
	defer func() {
		if settled {
			return
		}
		// A panic is on its way up to Handle: give the agent back now rather
		// than when presence's backstop TTL expires.
		once.Do(func() {})
		ringDone()
		if picked {
			k.presence(ctx, step, "hang up agent", func(c context.Context) error {
				return k.r.d.Presence.Hangup(c, a.ID, k.trace.UUID)
			})
			return
		}
		k.release(ctx, step, a.ID, "")
	}()
	res, err := k.cc.Bridge(ctx, req)
	if err == nil && res.Result == ResultAnswered {
		onAnswer()
	}
	once.Do(func() {})
	ringDone()
	settled = true
	switch {
	case picked:
		// Answered, even if the conversation ended with the caller hanging up.
		k.candidate(step, a.ID, ResultAnswered, "")
		k.trace.AgentID = a.ID
		k.log.Info("call bridged", "step", step, "agent_id", a.ID, "result", ResultAnswered)
		k.presence(ctx, step, "hang up agent", func(c context.Context) error {
			return k.r.d.Presence.Hangup(c, a.ID, k.trace.UUID)
		})
		return attemptAnswered, nil
	case errors.Is(err, ErrHangup):
		k.log.Info("caller hung up during bridge attempt", "step", step, "agent_id", a.ID)
		k.note(step, "caller hung up while "+a.ID+" was rung")
		k.release(ctx, step, a.ID, "")
		return attemptGone, nil
	case err != nil:
		k.release(ctx, step, a.ID, "")
		return attemptBroken, fmt.Errorf("bridge to agent %s: %w", a.ID, err)
	}
	why := res.Result
	switch why {
	case ResultNoAnswer, ResultBusy, ResultRejected, ResultUnreachable:
	default:
		k.log.Warn("unexpected bridge result, taken as unreachable", "step", step, "agent_id", a.ID, "result", why)
		why = ResultUnreachable
	}
	k.candidate(step, a.ID, why, res.Cause)
	k.log.Info("bridge attempt failed", "step", step, "agent_id", a.ID, "result", why, "cause", res.Cause)
	k.release(ctx, step, a.ID, why)
	return attemptFailed, nil
}

// agentAnswered runs when the agent picks up: mark them in call, do the
// step's extra work, pop the customer to their screen. It runs on the
// CallControl's goroutine, so a panic is contained here.
func (k *call) agentAnswered(ctx context.Context, a Agent, step Step, welcome func(context.Context, Agent)) {
	defer func() {
		if p := recover(); p != nil {
			k.log.Error("panic after agent answered", "step", step, "agent_id", a.ID, "panic", fmt.Sprint(p))
			k.fallback(fmt.Sprintf("internal error after agent %s answered", a.ID))
		}
	}()
	k.presence(ctx, step, "mark agent answered", func(c context.Context) error {
		return k.r.d.Presence.Answered(c, a.ID, k.trace.UUID)
	})
	if welcome != nil {
		welcome(ctx, a)
		return
	}
	k.pop(a, step, false)
}

// welcome is step 021's work once the agent answers: record the new
// customer (or bind a known one to the agent) and pop them.
func (k *call) welcome(ctx context.Context, a Agent) {
	sctx, cancel := k.detached(ctx)
	defer cancel()
	agentID := ""
	if k.r.cfg.BindAnsweringAgent {
		agentID = a.ID
	}
	if k.customer != nil {
		if agentID != "" {
			k.bindFirstAgent(sctx, agentID)
		}
		k.pop(a, StepAnyAgent, false)
		return
	}
	if k.phone == "" && k.idNumber.IsZero() {
		k.note(StepAnyAgent, "no number or id number: customer not created")
		k.pop(a, StepAnyAgent, true)
		return
	}
	nc := NewCustomer{
		CallUUID:     k.trace.UUID,
		Phone:        k.phone,
		IDNumber:     k.idNumber,
		FirstAgentID: agentID,
	}
	cust, err := k.r.d.Directory.CreateCustomer(sctx, nc)
	if err != nil {
		k.log.Error("create customer", "step", StepAnyAgent, "agent_id", a.ID, "err", err)
		k.note(StepAnyAgent, "customer not created")
		k.fallback(fmt.Sprintf("create customer: %v", err))
		k.lateCustomer = &nc
		k.pop(a, StepAnyAgent, true)
		return
	}
	k.customer = &cust
	k.trace.CustomerID = cust.ID
	k.note(StepAnyAgent, "customer created")
	k.log.Info("customer created", "step", StepAnyAgent, "customer_id", cust.ID, "first_agent_id", agentID)
	k.pop(a, StepAnyAgent, true)
}

// createCustomerLate tries step 021's failed customer creation once more
// when the call is over: a creation that failed while the caller talked
// (PostgreSQL saturated or briefly away) would otherwise leave the caller
// unknown on their next call. Creation is idempotent by call UUID.
func (k *call) createCustomerLate(ctx context.Context) {
	if k.lateCustomer == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			k.log.Error("panic creating customer after the call", "step", StepAnyAgent, "panic", fmt.Sprint(p))
		}
	}()
	sctx, cancel := k.detached(ctx)
	defer cancel()
	cust, err := k.r.d.Directory.CreateCustomer(sctx, *k.lateCustomer)
	if err != nil {
		k.log.Error("create customer after the call", "step", StepAnyAgent, "err", err)
		k.note(StepAnyAgent, "not created after the call either")
		return
	}
	k.trace.CustomerID = cust.ID
	k.note(StepAnyAgent, "customer created after the call")
	k.log.Info("customer created after the call", "step", StepAnyAgent, "customer_id", cust.ID,
		"first_agent_id", k.lateCustomer.FirstAgentID)
}

func (k *call) bindFirstAgent(ctx context.Context, agentID string) {
	b, ok := k.r.d.Directory.(FirstAgentBinder)
	if !ok {
		k.log.Warn("directory cannot bind a first agent", "step", StepAnyAgent, "customer_id", k.customer.ID)
		k.note(StepAnyAgent, "first agent not bound: unsupported")
		return
	}
	err := b.BindFirstAgent(ctx, FirstAgentBinding{CallUUID: k.trace.UUID, CustomerID: k.customer.ID, AgentID: agentID})
	if err != nil {
		k.log.Error("bind first agent", "step", StepAnyAgent, "customer_id", k.customer.ID, "agent_id", agentID, "err", err)
		k.note(StepAnyAgent, "first agent not bound")
		k.fallback(fmt.Sprintf("bind first agent: %v", err))
		return
	}
	k.customer.FirstAgentID = agentID
	k.note(StepAnyAgent, "first agent bound")
	k.log.Info("first agent bound", "step", StepAnyAgent, "customer_id", k.customer.ID, "agent_id", agentID)
}

// pop shows the caller on the agent's screen.
func (k *call) pop(a Agent, step Step, isNew bool) {
	p := ScreenPop{CallUUID: k.trace.UUID, Step: step, Caller: k.phone, New: isNew, At: k.r.d.Clock.Now()}
	if k.customer != nil {
		p.CustomerID, p.Name, p.IDLast4 = k.customer.ID, k.customer.Name, k.customer.IDLast4
	}
	if p.IDLast4 == "" && !k.idNumber.IsZero() {
		p.IDLast4 = k.idNumber.Last4()
	}
	k.r.d.Notifier.ScreenPop(a.ID, p)
}

// release gives an agent back after an attempt that did not connect.
func (k *call) release(ctx context.Context, step Step, agentID string, why Result) {
	k.presence(ctx, step, "release agent "+agentID, func(c context.Context) error {
		return k.r.d.Presence.Release(c, agentID, k.trace.UUID, why)
	})
}

// presence runs a state change that must happen even if the caller has
// gone; a failure is logged and noted, the call goes on (presence TTLs
// bound the damage).
func (k *call) presence(ctx context.Context, step Step, what string, f func(context.Context) error) {
	sctx, cancel := k.detached(ctx)
	defer cancel()
	if err := f(sctx); err != nil {
		k.log.Error("presence update failed", "step", step, "what", what, "err", err)
		k.note(step, what+" failed")
		k.fallback(fmt.Sprintf("presence: %s: %v", what, err))
	}
}
