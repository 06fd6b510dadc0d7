package routing_test

import (
	"slices"
	"testing"

	"github.com/stickyacd/stickyacd/routing"
	rt "github.com/stickyacd/stickyacd/routing/routingtest"
)

var (
	noAnswer    = rt.Outcome{Result: routing.ResultNoAnswer, Cause: "NO_ANSWER"}
	busy        = rt.Outcome{Result: routing.ResultBusy, Cause: "USER_BUSY"}
	rejected    = rt.Outcome{Result: routing.ResultRejected, Cause: "CALL_REJECTED"}
	unreachable = rt.Outcome{Result: routing.ResultUnreachable, Cause: "USER_NOT_REGISTERED"}
)

// Steps 011–014 for a caller recognised by number (K1, first agent A1).
func TestKnownCustomerChain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		chain       []routing.Step
		away        map[string]routing.Result
		agents      map[string]rt.Outcome
		wantBridged []string
		wantSteps   map[routing.Step]string
		wantOutcome routing.Outcome
		wantAgent   string
	}{
		{
			name:        "first agent answers",
			wantBridged: []string{"A1"},
			wantSteps:   map[routing.Step]string{routing.StepFirst: "A1:answered"},
			wantOutcome: routing.OutcomeBridged, wantAgent: "A1",
		},
		{
			name:        "first no answer, backup answers",
			agents:      map[string]rt.Outcome{"A1": noAnswer},
			wantBridged: []string{"A1", "B1"},
			wantSteps: map[routing.Step]string{
				routing.StepFirst: "A1:no_answer/NO_ANSWER", routing.StepBackup: "B1:answered"},
			wantOutcome: routing.OutcomeBridged, wantAgent: "B1",
		},
		{
			name:        "first busy, backup answers",
			agents:      map[string]rt.Outcome{"A1": busy},
			wantBridged: []string{"A1", "B1"},
			wantSteps: map[routing.Step]string{
				routing.StepFirst: "A1:busy/USER_BUSY", routing.StepBackup: "B1:answered"},
			wantOutcome: routing.OutcomeBridged, wantAgent: "B1",
		},
		{
			name:        "first rejects, backup answers",
			agents:      map[string]rt.Outcome{"A1": rejected},
			wantBridged: []string{"A1", "B1"},
			wantSteps: map[routing.Step]string{
				routing.StepFirst: "A1:rejected/CALL_REJECTED", routing.StepBackup: "B1:answered"},
			wantOutcome: routing.OutcomeBridged, wantAgent: "B1",
		},
		{
			name:        "first unreachable, backup answers",
			agents:      map[string]rt.Outcome{"A1": unreachable},
			wantBridged: []string{"A1", "B1"},
			wantSteps: map[routing.Step]string{
				routing.StepFirst: "A1:unreachable/USER_NOT_REGISTERED", routing.StepBackup: "B1:answered"},
			wantOutcome: routing.OutcomeBridged, wantAgent: "B1",
		},
		{
			name:        "first offline, backup answers without ringing the first",
			away:        map[string]routing.Result{"A1": routing.ResultOffline},
			wantBridged: []string{"B1"},
			wantSteps: map[routing.Step]string{
				routing.StepFirst: "A1:offline", routing.StepBackup: "B1:answered"},
			wantOutcome: routing.OutcomeBridged, wantAgent: "B1",
		},
		{
			name:        "first on break, backup in a call: longest-idle team member",
			away:        map[string]routing.Result{"A1": routing.ResultBreak, "B1": routing.ResultBusy},
			wantBridged: []string{"T2"},
			wantSteps: map[routing.Step]string{
				routing.StepFirst: "A1:break", routing.StepBackup: "B1:busy", routing.StepTeam: "T2:answered"},
			wantOutcome: routing.OutcomeBridged, wantAgent: "T2",
		},
		{
			name: "team members each tried once, longest idle first, then the leader",
			agents: map[string]rt.Outcome{"A1": noAnswer, "B1": noAnswer, "T2": noAnswer,
				"T3": busy, "T1": rejected},
			wantBridged: []string{"A1", "B1", "T2", "T3", "T1", "L1"},
			wantSteps: map[routing.Step]string{
				routing.StepTeam:   "T2:no_answer/NO_ANSWER T3:busy/USER_BUSY T1:rejected/CALL_REJECTED",
				routing.StepLeader: "L1:answered"},
			wantOutcome: routing.OutcomeBridged, wantAgent: "L1",
		},
		{
			name:        "team member in wrap-up and one reserved by another call are passed over",
			away:        map[string]routing.Result{"A1": routing.ResultOffline, "B1": routing.ResultOffline, "T2": routing.ResultWrapUp, "T3": routing.ResultReserved},
			wantBridged: []string{"T1"},
			wantSteps: map[routing.Step]string{
				routing.StepTeam: "T2:wrap_up T3:reserved T1:answered"},
			wantOutcome: routing.OutcomeBridged, wantAgent: "T1",
		},
		{
			name: "whole chain unavailable: callback, no stranger",
			away: map[string]routing.Result{"A1": routing.ResultBusy, "B1": routing.ResultBreak, "T1": routing.ResultOffline,
				"T2": routing.ResultBusy, "T3": routing.ResultWrapUp, "L1": routing.ResultBusy},
			wantSteps: map[routing.Step]string{
				routing.StepFirst: "A1:busy", routing.StepBackup: "B1:break",
				routing.StepTeam: "T1:offline T2:busy T3:wrap_up", routing.StepLeader: "L1:busy"},
			wantOutcome: routing.OutcomeCallback,
		},
		{
			name: "whole chain fails to answer: callback, no stranger",
			agents: map[string]rt.Outcome{"A1": noAnswer, "B1": busy, "T1": noAnswer, "T2": noAnswer,
				"T3": unreachable, "L1": noAnswer},
			wantBridged: []string{"A1", "B1", "T2", "T3", "T1", "L1"},
			wantSteps:   map[routing.Step]string{routing.StepLeader: "L1:no_answer/NO_ANSWER"},
			wantOutcome: routing.OutcomeCallback,
		},
		{
			name:        "configured chain first then leader skips backup and team",
			chain:       []routing.Step{routing.StepFirst, routing.StepLeader},
			agents:      map[string]rt.Outcome{"A1": noAnswer},
			wantBridged: []string{"A1", "L1"},
			wantSteps: map[routing.Step]string{
				routing.StepFirst: "A1:no_answer/NO_ANSWER", routing.StepLeader: "L1:answered"},
			wantOutcome: routing.OutcomeBridged, wantAgent: "L1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *routing.Config) {
				if tc.chain != nil {
					c.Chain = tc.chain
				}
			})
			for id, why := range tc.away {
				h.env.Presence.Away(id, why)
			}
			tr, cc := h.handle(t, "call-1", "+86 139 0013 9001", rt.Script{Agents: tc.agents})
			if got := bridged(cc); !slices.Equal(got, tc.wantBridged) {
				t.Errorf("bridged %v, want %v", got, tc.wantBridged)
			}
			for s, want := range tc.wantSteps {
				if got := cands(tr, s); got != want {
					t.Errorf("step %s candidates %q, want %q", s, got, want)
				}
			}
			if tr.Outcome != tc.wantOutcome || tr.AgentID != tc.wantAgent {
				t.Errorf("outcome %s agent %q, want %s %q", tr.Outcome, tr.AgentID, tc.wantOutcome, tc.wantAgent)
			}
			if tr.Entry != routing.EntryKnown || tr.CustomerID != "K1" || tr.Caller != phoneK1 {
				t.Errorf("entry %s customer %q caller %q, want known K1 %s", tr.Entry, tr.CustomerID, tr.Caller, phoneK1)
			}
			for _, b := range cc.Bridges() {
				if !slices.Contains(north, b.Agent.ID) {
					t.Errorf("known customer put through to stranger %s", b.Agent.ID)
				}
				if b.Customer.ID != "K1" || b.RingTimeout != h.cfg.RingTimeout {
					t.Errorf("bridge to %s carries customer %q ring timeout %v", b.Agent.ID, b.Customer.ID, b.RingTimeout)
				}
			}
			if n := h.env.Presence.Count("ReserveAny"); n != 0 {
				t.Errorf("ReserveAny called %d times for a known customer", n)
			}
			tasks := h.env.Tasks.Tasks()
			switch tc.wantOutcome {
			case routing.OutcomeBridged:
				if len(tasks) != 0 {
					t.Errorf("bridged call created tasks %v", tasks)
				}
				pops := h.env.Notifier.Pops()
				if len(pops) != 1 || pops[0].AgentID != tc.wantAgent || pops[0].CustomerID != "K1" ||
					pops[0].Name != "Alice" || pops[0].IDLast4 != "0011" || pops[0].New {
					t.Errorf("screen pops %+v, want one to %s for K1", pops, tc.wantAgent)
				}
				if got := cc.Events(); got[len(got)-1] != "hangup NORMAL_CLEARING" || slices.Contains(got, "answer") {
					t.Errorf("events %v: want the bridge to answer and the app to hang up after", got)
				}
			case routing.OutcomeCallback:
				if len(tasks) != 1 || tasks[0].CustomerID != "K1" || tasks[0].Caller != phoneK1 || tasks[0].Abandoned {
					t.Errorf("tasks %+v, want one for K1", tasks)
				}
				if len(h.env.Notifier.Pops()) != 0 {
					t.Errorf("screen pop on a call nobody took")
				}
			}
		})
	}
}

// Each reservation covers every group not yet exhausted, minus the agents
// already tried, and steps are not revisited.
func TestReservationGroups(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.handle(t, "call-1", phoneK1, rt.Script{Agents: map[string]rt.Outcome{"A1": noAnswer, "B1": noAnswer, "T2": noAnswer}})
	var got [][]routing.Group
	for _, c := range h.env.Presence.Calls() {
		if c.Method == "Reserve" {
			got = append(got, c.Groups)
		}
	}
	g := func(s routing.Step, ids ...string) routing.Group { return routing.Group{Step: s, Agents: ids} }
	want := [][]routing.Group{
		{g("011", "A1"), g("012", "B1"), g("013", "T1", "T2", "T3"), g("014", "L1")},
		{g("012", "B1"), g("013", "T1", "T2", "T3"), g("014", "L1")},
		{g("013", "T1", "T2", "T3"), g("014", "L1")},
		{g("013", "T1", "T3"), g("014", "L1")},
	}
	if len(got) != len(want) {
		t.Fatalf("%d reservations, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if !slices.EqualFunc(got[i], want[i], func(a, b routing.Group) bool {
			return a.Step == b.Step && slices.Equal(a.Agents, b.Agents)
		}) {
			t.Errorf("reservation %d groups %v, want %v", i+1, got[i], want[i])
		}
	}
	var releases []string
	for _, c := range h.env.Presence.Calls() {
		if c.Method == "Release" {
			releases = append(releases, c.AgentID+":"+string(c.Why))
		}
	}
	if w := []string{"A1:no_answer", "B1:no_answer", "T2:no_answer"}; !slices.Equal(releases, w) {
		t.Errorf("releases %v, want %v", releases, w)
	}
}

// A customer with no first agent bound has no related agent and is routed
// as 021.
func TestKnownCustomerWithoutFirstAgent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		bind     bool
		setup    func(*harness)
		caller   string
		customer string
	}{
		{name: "no first agent, binding on", bind: true, caller: phoneK2, customer: "K2"},
		{name: "no first agent, binding off", bind: false, caller: phoneK2, customer: "K2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *routing.Config) { c.BindAnsweringAgent = tc.bind })
			if tc.setup != nil {
				tc.setup(h)
			}
			tr, cc := h.handle(t, "call-1", tc.caller, rt.Script{})
			if got := bridged(cc); !slices.Equal(got, []string{"S1"}) {
				t.Fatalf("bridged %v, want the longest-idle agent S1", got)
			}
			if tr.Outcome != routing.OutcomeBridged || tr.Entry != routing.EntryKnown || cands(tr, routing.StepAnyAgent) != "S1:answered" {
				t.Errorf("outcome %s entry %s 021 %q", tr.Outcome, tr.Entry, cands(tr, routing.StepAnyAgent))
			}
			if len(h.env.Directory.Created()) != 0 {
				t.Errorf("a known customer was created again")
			}
			fa := h.env.Directory.FirstAgents()
			if tc.bind != (len(fa) == 1) || (tc.bind && (fa[0].CustomerID != tc.customer || fa[0].AgentID != "S1" || fa[0].CallUUID != "call-1")) {
				t.Errorf("first-agent bindings %+v with binding %v", fa, tc.bind)
			}
			pops := h.env.Notifier.Pops()
			if len(pops) != 1 || pops[0].AgentID != "S1" || pops[0].CustomerID != tc.customer || pops[0].New || pops[0].Step != routing.StepAnyAgent {
				t.Errorf("screen pops %+v", pops)
			}
		})
	}
}

// A customer whose first agent the directory does not know (stale data)
// still has a related agent: the call is never given to an unrelated one,
// it goes to 03, and the customer keeps their first agent.
func TestFirstAgentMissingFromDirectory(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *routing.Config) { c.BindAnsweringAgent = true })
	h.env.Directory.AddCustomer(routing.Customer{ID: "K1", Name: "Alice", FirstAgentID: "X9"}, []string{phoneK1}, idK1)
	tr, cc := h.handle(t, "call-1", phoneK1, rt.Script{Inputs: keys("1")})
	if got := bridged(cc); len(got) != 0 {
		t.Fatalf("bridged %v: an unrelated agent", got)
	}
	if tr.Outcome != routing.OutcomeCallback || tr.Entry != routing.EntryKnown {
		t.Errorf("outcome %s entry %s", tr.Outcome, tr.Entry)
	}
	if fa := h.env.Directory.FirstAgents(); len(fa) != 0 {
		t.Errorf("first agent rebound: %+v", fa)
	}
}

// Step 021 rings at most AnyAgentTries agents: when every one fails the
// same way (a wrong dial string, a broken trunk), the caller is promised a
// callback rather than rung around the whole floor.
func TestAnyAgentTriesAreCapped(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *routing.Config) { c.AnyAgentTries = 2 })
	unreachable := rt.Outcome{Result: routing.ResultUnreachable}
	tr, cc := h.handle(t, "call-1", phoneNew, rt.Script{
		Inputs: keys(idNobody, "1"),
		Agents: map[string]rt.Outcome{"S1": unreachable, "S2": unreachable, "A1": unreachable, "B1": unreachable, "T2": unreachable},
	})
	if got := bridged(cc); len(got) != 2 {
		t.Fatalf("bridged %v, want 2 attempts", got)
	}
	if tr.Outcome != routing.OutcomeCallback {
		t.Errorf("outcome %s", tr.Outcome)
	}
}
