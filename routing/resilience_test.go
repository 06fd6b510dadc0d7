package routing_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/routing"
	rt "github.com/stickyacd/stickyacd/routing/routingtest"
)

// Directory and Presence failures mid-call never leave the caller in
// silence: the flow falls through to 03/04.
func TestStoreFailures(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	tests := []struct {
		name        string
		fail        func(*harness)
		caller      string
		inputs      []rt.Input
		agents      map[string]rt.Outcome
		wantOutcome routing.Outcome
		wantError   string // substring of Trace.Error
		wantBridged []string
		wantCust    string // customer of the task ("" when bridged)
		wantTask    bool
	}{
		{
			name: "customer look-up by number", caller: phoneK1, inputs: keys("1"),
			fail:        func(h *harness) { h.env.Directory.Fail("CustomerByPhone", down) },
			wantOutcome: routing.OutcomeCallback, wantError: "look up caller: connection refused", wantTask: true,
		},
		{
			name: "customer look-up by ID number", caller: phoneNew, inputs: keys(idK1, "1"),
			fail:        func(h *harness) { h.env.Directory.Fail("CustomerByIDNumber", down) },
			wantOutcome: routing.OutcomeCallback, wantError: "look up id number: connection refused", wantTask: true,
		},
		{
			name: "agent chain", caller: phoneK1, inputs: keys("1"),
			fail:        func(h *harness) { h.env.Directory.Fail("Chain", down) },
			wantOutcome: routing.OutcomeCallback, wantError: "load agent chain: connection refused", wantCust: "K1", wantTask: true,
		},
		{
			name: "agent at 021", caller: phoneNew, inputs: keys(idNobody, "1"),
			fail:        func(h *harness) { h.env.Directory.Fail("Agent", down) },
			wantOutcome: routing.OutcomeCallback, wantError: "load agent: connection refused", wantTask: true,
		},
		{
			name: "phone binding: still routed to the customer's agent", caller: phoneNew, inputs: keys(idK1),
			fail:        func(h *harness) { h.env.Directory.Fail("BindPhone", down) },
			wantOutcome: routing.OutcomeBridged, wantError: "bind phone: connection refused", wantBridged: []string{"A1"},
		},
		{
			name: "customer creation: the conversation goes on", caller: phoneNew, inputs: keys(idNobody),
			fail:        func(h *harness) { h.env.Directory.Fail("CreateCustomer", down) },
			wantOutcome: routing.OutcomeBridged, wantError: "create customer: connection refused", wantBridged: []string{"S1"},
		},
		{
			name: "first-agent binding: the conversation goes on", caller: phoneK2,
			fail:        func(h *harness) { h.env.Directory.Fail("BindFirstAgent", down) },
			wantOutcome: routing.OutcomeBridged, wantError: "bind first agent: connection refused", wantBridged: []string{"S1"},
		},
		{
			name: "reservation", caller: phoneK1, inputs: keys("1"),
			fail:        func(h *harness) { h.env.Presence.Fail("Reserve", down) },
			wantOutcome: routing.OutcomeCallback, wantError: "reserve chain agent: connection refused", wantCust: "K1", wantTask: true,
		},
		{
			name: "reservation at 021", caller: phoneNew, inputs: keys(idNobody, "1"),
			fail:        func(h *harness) { h.env.Presence.Fail("ReserveAny", down) },
			wantOutcome: routing.OutcomeCallback, wantError: "reserve any agent: connection refused", wantTask: true,
		},
		{
			// The agent is already reserved: the bridge goes ahead.
			name: "ringing: the call goes on", caller: phoneK1,
			fail:        func(h *harness) { h.env.Presence.Fail("Ringing", down) },
			wantOutcome: routing.OutcomeBridged, wantError: "mark agent A1 ringing: connection refused", wantBridged: []string{"A1"},
		},
		{
			name: "answered: the conversation goes on", caller: phoneK1,
			fail:        func(h *harness) { h.env.Presence.Fail("Answered", down) },
			wantOutcome: routing.OutcomeBridged, wantError: "mark agent answered: connection refused", wantBridged: []string{"A1"},
		},
		{
			name: "release after no answer: the next agent is still tried", caller: phoneK1,
			agents:      map[string]rt.Outcome{"A1": noAnswer},
			fail:        func(h *harness) { h.env.Presence.Fail("Release", down) },
			wantOutcome: routing.OutcomeBridged, wantError: "release agent A1: connection refused", wantBridged: []string{"A1", "B1"},
		},
		{
			name: "the call record", caller: phoneK1,
			fail:        func(h *harness) { h.env.Records.Fail("SaveCall", down) },
			wantOutcome: routing.OutcomeBridged, wantBridged: []string{"A1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			tc.fail(h)
			cc := rt.NewCall(rt.Script{Inputs: tc.inputs, Agents: tc.agents, HangupAfter: h.cfg.Prompts.Goodbye})
			tr := h.router.Handle(context.Background(), routing.Call{UUID: "call-1", CallerNumber: tc.caller}, cc)
			if tr.Outcome != tc.wantOutcome || !strings.Contains(tr.Error, tc.wantError) {
				t.Errorf("outcome %s error %q, want %s with %q", tr.Outcome, tr.Error, tc.wantOutcome, tc.wantError)
			}
			if got := bridged(cc); !slices.Equal(got, tc.wantBridged) {
				t.Errorf("bridged %v, want %v", got, tc.wantBridged)
			}
			tasks := h.env.Tasks.Tasks()
			if tc.wantTask != (len(tasks) == 1) || (tc.wantTask && tasks[0].CustomerID != tc.wantCust) {
				t.Errorf("tasks %+v, want task %v for %q", tasks, tc.wantTask, tc.wantCust)
			}
			if tc.wantOutcome == routing.OutcomeCallback && !slices.Contains(cc.Events(), "preamble "+h.cfg.Prompts.CallbackPromise) {
				t.Errorf("the caller never heard the promise: %v", cc.Events())
			}
		})
	}
}

// TestCustomerCreatedAfterTheCall: a step-021 customer whose creation
// failed while the caller talked is created when the call ends, so the
// caller is known next time.
func TestCustomerCreatedAfterTheCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.env.Directory.FailOnce("CreateCustomer", errors.New("pool timeout"))
	cc := rt.NewCall(rt.Script{Inputs: keys(idNobody)})
	tr := h.router.Handle(context.Background(), routing.Call{UUID: "call-1", CallerNumber: phoneNew}, cc)
	if tr.Outcome != routing.OutcomeBridged || tr.CustomerID == "" {
		t.Fatalf("outcome %s customer %q, want bridged with the customer created", tr.Outcome, tr.CustomerID)
	}
	if created := h.env.Directory.Created(); len(created) != 1 || created[0].CallUUID != "call-1" {
		t.Fatalf("created %+v", created)
	}
	var note string
	for _, st := range tr.Steps {
		if st.Step == routing.StepAnyAgent {
			note = st.Note
		}
	}
	if !strings.Contains(note, "customer not created") || !strings.Contains(note, "customer created after the call") {
		t.Errorf("021 note %q", note)
	}
	next, err := h.env.Directory.CustomerByPhone(context.Background(), phoneNew)
	if err != nil || next.ID != tr.CustomerID {
		t.Errorf("next call's look-up: %+v, %v", next, err)
	}
}

// panicky wraps fakes to panic at a chosen method.
type panickyDirectory struct{ *rt.Directory }

func (panickyDirectory) CustomerByPhone(context.Context, string) (routing.Customer, error) {
	panic("directory exploded")
}

type panickyNotifier struct{}

func (panickyNotifier) ScreenPop(string, routing.ScreenPop) { panic("notifier exploded") }

type panickyCall struct {
	*rt.Call
	at string // a sound, or "bridge"
}

func (c panickyCall) Playback(ctx context.Context, sound string) error {
	if sound == c.at {
		panic("playback exploded")
	}
	return c.Call.Playback(ctx, sound)
}

func (c panickyCall) Bridge(ctx context.Context, r routing.BridgeRequest) (routing.BridgeResult, error) {
	if c.at == "bridge" {
		if r.Agent.ID == "B1" {
			r.OnAnswer()
		}
		panic("bridge exploded")
	}
	return c.Call.Bridge(ctx, r)
}

// A panic never escapes Handle; a promise already made is kept.
func TestPanics(t *testing.T) {
	t.Parallel()
	t.Run("before any promise", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		d := h.env.Deps()
		d.Directory = panickyDirectory{h.env.Directory}
		r, err := routing.New(h.cfg, d)
		if err != nil {
			t.Fatal(err)
		}
		tr := r.Handle(context.Background(), routing.Call{UUID: "call-1", CallerNumber: phoneK1}, rt.NewCall(rt.Script{}))
		if tr.Outcome != routing.OutcomeFailed || tr.Error != "internal error at step 01" || h.env.Tasks.Calls() != 0 {
			t.Errorf("outcome %s error %q tasks %d", tr.Outcome, tr.Error, h.env.Tasks.Calls())
		}
		if _, ok := h.env.Records.Call("call-1"); !ok {
			t.Errorf("no call record after a panic")
		}
	})
	t.Run("after the promise", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		chainAway(h)
		cc := panickyCall{Call: rt.NewCall(rt.Script{Inputs: keys("2")}), at: h.cfg.Prompts.Goodbye}
		tr := h.router.Handle(context.Background(), routing.Call{UUID: "call-1", CallerNumber: phoneK1}, cc)
		tasks := h.env.Tasks.Tasks()
		if tr.Outcome != routing.OutcomeFailed || len(tasks) != 1 || tasks[0].BusinessType != "card" || tr.TaskID == nil {
			t.Errorf("outcome %s tasks %+v task id %v", tr.Outcome, tasks, tr.TaskID)
		}
	})
	for _, tc := range []struct {
		name    string
		away    []string
		release string
	}{
		{name: "while the agent rings: released", release: "Release"},
		{name: "during the conversation: hung up", away: []string{"A1"}, release: "Hangup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *routing.Config) { c.AbandonedTasks = false })
			away(h, routing.ResultOffline, tc.away...)
			cc := panickyCall{Call: rt.NewCall(rt.Script{}), at: "bridge"}
			tr := h.router.Handle(context.Background(), routing.Call{UUID: "call-1", CallerNumber: phoneK1}, cc)
			if tr.Outcome != routing.OutcomeFailed || h.env.Tasks.Calls() != 0 {
				t.Errorf("outcome %s tasks %d", tr.Outcome, h.env.Tasks.Calls())
			}
			if held := h.env.Presence.Held(); len(held) != 0 {
				t.Errorf("agents held after a panic: %v", held)
			}
			calls := h.env.Presence.Calls()
			if last := calls[len(calls)-1]; last.Method != tc.release {
				t.Errorf("last presence call %+v, want %s", last, tc.release)
			}
		})
	}
	t.Run("while the agent answers", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		d := h.env.Deps()
		d.Notifier = panickyNotifier{}
		r, err := routing.New(h.cfg, d)
		if err != nil {
			t.Fatal(err)
		}
		tr := r.Handle(context.Background(), routing.Call{UUID: "call-1", CallerNumber: phoneK1}, rt.NewCall(rt.Script{}))
		if tr.Outcome != routing.OutcomeBridged || tr.AgentID != "A1" || tr.Error != "internal error after agent A1 answered" {
			t.Errorf("outcome %s agent %s error %q", tr.Outcome, tr.AgentID, tr.Error)
		}
		if held := h.env.Presence.Held(); len(held) != 0 {
			t.Errorf("agents held: %v", held)
		}
	})
}

// The trace's timings come from the injected clock; DecisionMS leaves out
// the time callers spend listening to prompts and keying digits.
func TestTraceTimings(t *testing.T) {
	t.Parallel()
	t.Run("ID caller put through", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		clk := h.env.Clock
		h.env.Directory.Clock, h.env.Directory.Latency = clk, 2*time.Millisecond
		h.env.Presence.Clock, h.env.Presence.Latency = clk, time.Millisecond
		tr, _ := h.handle(t, "call-1", phoneNew, rt.Script{
			Inputs: keys(idBadSum, idK1), Clock: clk,
			PromptTime: 3 * time.Second, RingTime: 4 * time.Second, TalkTime: time.Minute,
		})
		// CustomerByPhone, CustomerByIDNumber, BindPhone, Chain: 2 ms each;
		// Reserve: 1 ms (Ringing is written while the bridge is issued).
		// Two collections and an invalid prompt (9 s) are left out.
		if tr.DecisionMS != 9 {
			t.Errorf("DecisionMS %v, want 9", tr.DecisionMS)
		}
		want := []struct {
			step    routing.Step
			startMS float64
			ms      float64
			result  string
		}{
			{routing.StepLookup, 0, 2, "unknown"},
			{routing.StepIDEntry, 2, 9004, "match"},
			// Chain, Reserve, Ringing, ring, Answered, talk.
			{routing.StepFirst, 9006, 2 + 1 + 1 + 4000 + 1 + 60000, ""},
		}
		if len(tr.Steps) != len(want) {
			t.Fatalf("steps %v", steps(tr))
		}
		for i, w := range want {
			st := tr.Steps[i]
			if st.Step != w.step || ms(st.StartedAt.Sub(tr.StartedAt)) != w.startMS || st.MS != w.ms || st.Result != w.result {
				t.Errorf("step %d: %s start +%vms ms %v result %q, want %s +%vms %v %q",
					i, st.Step, ms(st.StartedAt.Sub(tr.StartedAt)), st.MS, st.Result, w.step, w.startMS, w.ms, w.result)
			}
		}
		if !tr.StartedAt.Equal(rt.Epoch) || tr.EndedAt.Sub(tr.StartedAt) != 73012*time.Millisecond { // and Presence.Hangup
			t.Errorf("started %v ended %v", tr.StartedAt, tr.EndedAt)
		}
		pops := h.env.Notifier.Pops()
		if len(pops) != 1 || !pops[0].At.Equal(rt.Epoch.Add(13011*time.Millisecond)) {
			t.Errorf("screen pop %+v", pops)
		}
	})
	t.Run("known caller to 03", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		chainAway(h)
		clk := h.env.Clock
		h.env.Directory.Clock, h.env.Directory.Latency = clk, 2*time.Millisecond
		h.env.Presence.Clock, h.env.Presence.Latency = clk, time.Millisecond
		tr, _ := h.handle(t, "call-1", phoneK1, rt.Script{Inputs: keys("1"), Clock: clk, PromptTime: time.Second})
		if tr.DecisionMS != 5 {
			t.Errorf("DecisionMS %v, want 5 (look-up, chain, reservation)", tr.DecisionMS)
		}
		tasks := h.env.Tasks.Tasks()
		// Promise, menu and goodbye took 3 s before the task was created.
		if len(tasks) != 1 || !tasks[0].DueAt.Equal(rt.Epoch.Add(5*time.Millisecond+3*time.Second+30*time.Minute)) {
			t.Errorf("tasks %+v", tasks)
		}
	})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// The whole trace of one call, as GET /api/v1/calls/{uuid} serves it.
func TestTraceJSON(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.env.Presence.Away("A1", routing.ResultBreak)
	tr, _ := h.handle(t, "call-1", phoneK1, rt.Script{Agents: map[string]rt.Outcome{"B1": noAnswer}})
	got, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"uuid":"call-1","caller":"13900139001","customer_id":"K1","entry":"known","outcome":"bridged",` +
		`"agent_id":"T2","task_id":null,"steps":[` +
		`{"step":"01","started_at":"2026-11-30T09:00:00Z","ms":0,"candidates":[],"result":"known"},` +
		`{"step":"011","started_at":"2026-11-30T09:00:00Z","ms":0,"candidates":[{"agent_id":"A1","result":"break"}]},` +
		`{"step":"012","started_at":"2026-11-30T09:00:00Z","ms":0,"candidates":[{"agent_id":"B1","result":"no_answer","cause":"NO_ANSWER"}]},` +
		`{"step":"013","started_at":"2026-11-30T09:00:00Z","ms":0,"candidates":[{"agent_id":"T2","result":"answered"}]}],` +
		`"started_at":"2026-11-30T09:00:00Z","ended_at":"2026-11-30T09:00:00Z","decision_ms":0}`
	if string(got) != want {
		t.Errorf("trace JSON\n got %s\nwant %s", got, want)
	}
}

// One Router serves concurrent calls over shared stores: no agent is ever
// held by two calls and every call ends bridged or with one task.
func TestConcurrentCalls(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	const calls = 40
	var wg sync.WaitGroup
	traces := make([]*routing.Trace, calls)
	for i := range calls {
		wg.Go(func() {
			caller := phoneK1
			if i%2 == 1 {
				caller = fmt.Sprintf("1370000%04d", i)
			}
			s := rt.Script{Inputs: keys(idNobody, "1"), HangupAfter: h.cfg.Prompts.Goodbye,
				Agents: map[string]rt.Outcome{"A1": noAnswer, "T3": busy}}
			traces[i] = h.router.Handle(context.Background(),
				routing.Call{UUID: fmt.Sprintf("call-%d", i), CallerNumber: caller}, rt.NewCall(s))
		})
	}
	wg.Wait()
	tasks := map[string]int{}
	for _, task := range h.env.Tasks.Tasks() {
		tasks[task.CallUUID]++
	}
	for _, tr := range traces {
		// The fake Presence refuses a transition by a call not holding the
		// agent; the router would note it here.
		if tr.Error != "" {
			t.Errorf("%s: %s", tr.UUID, tr.Error)
		}
		switch tr.Outcome {
		case routing.OutcomeBridged:
			if tasks[tr.UUID] != 0 {
				t.Errorf("%s bridged with a task", tr.UUID)
			}
		case routing.OutcomeCallback:
			if tasks[tr.UUID] != 1 {
				t.Errorf("%s promised with %d tasks", tr.UUID, tasks[tr.UUID])
			}
		default:
			t.Errorf("%s ended %s (%s)", tr.UUID, tr.Outcome, tr.Error)
		}
	}
	if held := h.env.Presence.Held(); len(held) != 0 {
		t.Errorf("agents held: %v", held)
	}
}
