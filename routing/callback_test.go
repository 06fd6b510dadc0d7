package routing_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stickyacd/stickyacd/routing"
	rt "github.com/stickyacd/stickyacd/routing/routingtest"
)

// chainAway makes K1's whole chain busy, so K1's calls reach 03.
func chainAway(h *harness) { away(h, routing.ResultBusy, north...) }

// everyoneAway leaves no agent at all to take a call.
func everyoneAway(h *harness, why routing.Result) {
	away(h, why, slices.Concat(north, []string{"S1"})...)
}

func away(h *harness, why routing.Result, ids ...string) {
	for _, id := range ids {
		h.env.Presence.Away(id, why)
	}
}

// Step 03's menu and step 04's task for a known caller whose chain is busy.
func TestCallbackMenu(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		inputs    []rt.Input
		wantType  string
		wantPrio  int
		wantDue   time.Duration
		wantMenus int
		wantNote  string
	}{
		{name: "valid choice", inputs: keys("2"), wantType: "card", wantPrio: 5, wantDue: time.Hour, wantMenus: 1},
		{name: "invalid then valid", inputs: keys("7", "2"), wantType: "card", wantPrio: 5, wantDue: time.Hour, wantMenus: 2},
		{name: "two digits are invalid", inputs: keys("12", "1"), wantType: "loan", wantPrio: 10, wantDue: 30 * time.Minute, wantMenus: 2},
		{name: "timeout takes the default", inputs: keys(""), wantType: "loan", wantPrio: 10, wantDue: 30 * time.Minute,
			wantMenus: 1, wantNote: "menu: no input, default type"},
		{name: "invalid every time takes the default", inputs: keys("9", "0", "*"), wantType: "loan", wantPrio: 10,
			wantDue: 30 * time.Minute, wantMenus: 3, wantNote: "menu: no valid choice, default type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			chainAway(h)
			p := h.cfg.Prompts
			tr, cc := h.handle(t, "call-1", phoneK1, rt.Script{Inputs: tc.inputs})
			// The promise opens the first menu try; re-asks are the menu alone.
			want := []string{"answer", "preamble " + p.CallbackPromise}
			for range tc.wantMenus {
				want = append(want, "collect "+p.BusinessMenu)
			}
			want = append(want, "playback "+p.Goodbye)
			if got := cc.Events(); !slices.Equal(got, want) {
				t.Errorf("events %v, want %v", got, want)
			}
			for _, c := range cc.Collects() {
				if c.Min != 1 || c.Max != 1 || c.Pattern != "^[12]$" || c.Timeout != h.cfg.MenuTimeout || c.Invalid != "" {
					t.Errorf("menu collection %+v", c)
				}
			}
			st := step(t, tr, routing.StepCallback)
			if st.Result != tc.wantType || st.Note != tc.wantNote {
				t.Errorf("03 result %q note %q, want %q %q", st.Result, st.Note, tc.wantType, tc.wantNote)
			}
			tasks := h.env.Tasks.Tasks()
			wantTask := routing.NewTask{CallUUID: "call-1", Caller: phoneK1, CustomerID: "K1", BusinessType: tc.wantType,
				Priority: tc.wantPrio, DueAt: rt.Epoch.Add(tc.wantDue)}
			if len(tasks) != 1 || tasks[0] != wantTask {
				t.Errorf("tasks %+v, want %+v", tasks, wantTask)
			}
			if tr.Outcome != routing.OutcomeCallback || tr.TaskID == nil || *tr.TaskID != 1 || tr.Error != "" {
				t.Errorf("outcome %s task %v error %q", tr.Outcome, tr.TaskID, tr.Error)
			}
			if st := step(t, tr, routing.StepTask); st.Result != "created" {
				t.Errorf("04 result %q", st.Result)
			}
		})
	}
}

// A caller who stays on the line after goodbye is hung up after the grace.
func TestCallbackHangupGrace(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		chainAway(h)
		start := time.Now()
		tr, cc := h.handle(t, "call-1", phoneK1, rt.Script{Inputs: keys("1"), HangupAfter: "never"})
		if waited := time.Since(start); waited != h.cfg.HangupGrace {
			t.Errorf("waited %v for the caller, want the grace %v", waited, h.cfg.HangupGrace)
		}
		if cc.HungUpBy() != "app" || !slices.Contains(cc.Events(), "hangup NORMAL_CLEARING") {
			t.Errorf("hung up by %q, events %v", cc.HungUpBy(), cc.Events())
		}
		if n := step(t, tr, routing.StepCallback).Note; n != "hung up after grace" {
			t.Errorf("03 note %q", n)
		}
		if len(h.env.Tasks.Tasks()) != 1 {
			t.Errorf("tasks %+v", h.env.Tasks.Tasks())
		}
	})
}

// Hang-ups at every stage: before 03 the call is abandoned, from 03 on the
// promise stands; either way at most one task.
func TestHangup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		caller      string
		script      rt.Script
		chainAway   bool
		abandonedOn bool
		wantOutcome routing.Outcome
		wantTask    *routing.NewTask
		wantRelease string // agent released with no penalty
	}{
		{
			name: "during 02, abandoned tasks on", caller: phoneNew, abandonedOn: true,
			script:      rt.Script{Inputs: []rt.Input{{Digits: idBadSum}, rt.HangUp}},
			wantOutcome: routing.OutcomeAbandoned,
			wantTask: &routing.NewTask{CallUUID: "call-1", Caller: phoneNew, BusinessType: "loan", Priority: 10,
				DueAt: rt.Epoch.Add(30 * time.Minute), Abandoned: true},
		},
		{
			name: "during 02, abandoned tasks off", caller: phoneNew,
			script:      rt.Script{Inputs: []rt.Input{rt.HangUp}},
			wantOutcome: routing.OutcomeAbandoned,
		},
		{
			name: "during the invalid prompt", caller: phoneNew, abandonedOn: true,
			script:      rt.Script{Inputs: keys(idBadSum), HangupAt: rt.Point{Method: "Preamble", N: 1}},
			wantOutcome: routing.OutcomeAbandoned,
			wantTask: &routing.NewTask{CallUUID: "call-1", Caller: phoneNew, BusinessType: "loan", Priority: 10,
				DueAt: rt.Epoch.Add(30 * time.Minute), Abandoned: true},
		},
		{
			name: "during 02, anonymous: nobody to call back", caller: "anonymous", abandonedOn: true,
			script:      rt.Script{Inputs: []rt.Input{rt.HangUp}},
			wantOutcome: routing.OutcomeAbandoned,
		},
		{
			name: "while the first agent rings", caller: phoneK1, abandonedOn: true,
			script:      rt.Script{Agents: map[string]rt.Outcome{"A1": {CallerHangsUp: true}}},
			wantOutcome: routing.OutcomeAbandoned, wantRelease: "A1",
			wantTask: &routing.NewTask{CallUUID: "call-1", Caller: phoneK1, CustomerID: "K1", BusinessType: "loan",
				Priority: 10, DueAt: rt.Epoch.Add(30 * time.Minute), Abandoned: true},
		},
		{
			name: "between bridge attempts, abandoned tasks off", caller: phoneK1,
			script: rt.Script{Agents: map[string]rt.Outcome{"A1": noAnswer},
				HangupAt: rt.Point{Method: "Bridge", N: 2}},
			wantOutcome: routing.OutcomeAbandoned, wantRelease: "B1",
		},
		{
			name: "the caller ends the conversation: bridged", caller: phoneK1, abandonedOn: true,
			script:      rt.Script{Agents: map[string]rt.Outcome{"A1": {EndsWithHangup: true}}},
			wantOutcome: routing.OutcomeBridged,
		},
		{
			name: "during the promise", caller: phoneK1, chainAway: true,
			script:      rt.Script{HangupAt: rt.Point{Method: "Preamble", N: 1}},
			wantOutcome: routing.OutcomeCallback,
			wantTask: &routing.NewTask{CallUUID: "call-1", Caller: phoneK1, CustomerID: "K1", BusinessType: "loan",
				Priority: 10, DueAt: rt.Epoch.Add(30 * time.Minute)},
		},
		{
			name: "during the menu after an invalid choice", caller: phoneK1, chainAway: true,
			script:      rt.Script{Inputs: []rt.Input{{Digits: "7"}, rt.HangUp}},
			wantOutcome: routing.OutcomeCallback,
			wantTask: &routing.NewTask{CallUUID: "call-1", Caller: phoneK1, CustomerID: "K1", BusinessType: "loan",
				Priority: 10, DueAt: rt.Epoch.Add(30 * time.Minute)},
		},
		{
			name: "during goodbye after choosing", caller: phoneK1, chainAway: true,
			script:      rt.Script{Inputs: keys("2"), HangupAt: rt.Point{Method: "Playback", N: 1}},
			wantOutcome: routing.OutcomeCallback,
			wantTask: &routing.NewTask{CallUUID: "call-1", Caller: phoneK1, CustomerID: "K1", BusinessType: "card",
				Priority: 5, DueAt: rt.Epoch.Add(time.Hour)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *routing.Config) { c.AbandonedTasks = tc.abandonedOn })
			if tc.chainAway {
				chainAway(h)
			}
			tr, cc := h.handle(t, "call-1", tc.caller, tc.script)
			if tr.Outcome != tc.wantOutcome {
				t.Errorf("outcome %s, want %s (error %q)", tr.Outcome, tc.wantOutcome, tr.Error)
			}
			tasks := h.env.Tasks.Tasks()
			switch {
			case tc.wantTask == nil && len(tasks) != 0:
				t.Errorf("tasks %+v, want none", tasks)
			case tc.wantTask != nil && (len(tasks) != 1 || tasks[0] != *tc.wantTask):
				t.Errorf("tasks %+v, want %+v", tasks, *tc.wantTask)
			}
			if h.env.Tasks.Calls() > 1 {
				t.Errorf("CreateTask called %d times", h.env.Tasks.Calls())
			}
			if cc.HungUpBy() != "caller" {
				t.Errorf("hung up by %q", cc.HungUpBy())
			}
			if slices.Contains(cc.Events(), "hangup NORMAL_CLEARING") {
				t.Errorf("the app hung up a caller already gone: %v", cc.Events())
			}
			if tc.wantRelease != "" {
				var found bool
				for _, c := range h.env.Presence.Calls() {
					if c.Method == "Release" && c.AgentID == tc.wantRelease {
						found = c.Why == ""
					}
				}
				if !found {
					t.Errorf("%s not released without penalty: %+v", tc.wantRelease, h.env.Presence.Calls())
				}
			}
		})
	}
}

// Step 04's task sink: idempotent per call, spooled, failing.
func TestTaskCreation(t *testing.T) {
	t.Parallel()
	t.Run("idempotent per call UUID", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		chainAway(h)
		first, _ := h.handle(t, "call-1", phoneK1, rt.Script{Inputs: keys("1")})
		again, _ := h.handle(t, "call-1", phoneK1, rt.Script{Inputs: keys("2")})
		if n := len(h.env.Tasks.Tasks()); n != 1 {
			t.Errorf("%d tasks for one call UUID", n)
		}
		if first.TaskID == nil || again.TaskID == nil || *first.TaskID != *again.TaskID {
			t.Errorf("task IDs %v and %v", first.TaskID, again.TaskID)
		}
	})
	t.Run("spooled: accepted, ID unknown", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		chainAway(h)
		h.env.Tasks.Spool(true)
		tr, _ := h.handle(t, "call-1", phoneK1, rt.Script{Inputs: keys("1")})
		if tr.Outcome != routing.OutcomeCallback || tr.TaskID != nil || step(t, tr, routing.StepTask).Result != "spooled" {
			t.Errorf("outcome %s task %v 04 %q", tr.Outcome, tr.TaskID, step(t, tr, routing.StepTask).Result)
		}
	})
	t.Run("sink fails: the promise is broken", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		chainAway(h)
		h.env.Tasks.Fail("CreateTask", errors.New("disk full"))
		tr, _ := h.handle(t, "call-1", phoneK1, rt.Script{Inputs: keys("1")})
		if tr.Outcome != routing.OutcomeFailed || tr.TaskID != nil || tr.Error != "create callback task: disk full" {
			t.Errorf("outcome %s task %v error %q", tr.Outcome, tr.TaskID, tr.Error)
		}
	})
	t.Run("sink fails on an abandoned call: still abandoned", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.env.Tasks.Fail("CreateTask", errors.New("disk full"))
		tr, _ := h.handle(t, "call-1", phoneNew, rt.Script{Inputs: []rt.Input{rt.HangUp}})
		if tr.Outcome != routing.OutcomeAbandoned || tr.Error == "" {
			t.Errorf("outcome %s error %q", tr.Outcome, tr.Error)
		}
	})
	t.Run("the task survives the call's context ending", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		chainAway(h)
		ctx, cancel := context.WithCancel(context.Background())
		cc := rt.NewCall(rt.Script{Inputs: keys("1"), HangupAfter: h.cfg.Prompts.Goodbye})
		sink := &cancelOnGoodbye{Call: cc, cancel: cancel, goodbye: h.cfg.Prompts.Goodbye}
		tr := h.router.Handle(ctx, routing.Call{UUID: "call-1", CallerNumber: phoneK1}, sink)
		h.checkAfter(t, tr)
		if len(h.env.Tasks.Tasks()) != 1 || tr.Outcome != routing.OutcomeCallback {
			t.Errorf("outcome %s tasks %+v", tr.Outcome, h.env.Tasks.Tasks())
		}
	})
}

// cancelOnGoodbye ends the call's context when the caller hangs up after
// goodbye, as the ESL session does.
type cancelOnGoodbye struct {
	*rt.Call
	cancel  context.CancelFunc
	goodbye string
}

func (c *cancelOnGoodbye) Playback(ctx context.Context, sound string) error {
	err := c.Call.Playback(ctx, sound)
	if sound == c.goodbye {
		c.cancel()
	}
	return err
}

// A caller with neither a usable number nor a known customer cannot be
// promised a call back.
func TestNoCallbackNumber(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	everyoneAway(h, routing.ResultOffline)
	p := h.cfg.Prompts
	tr, cc := h.handle(t, "call-1", "anonymous", rt.Script{Inputs: keys("", "", ""), HangupAfter: "never"})
	want := []string{"answer", "collect " + p.EnterID, "collect " + p.EnterID, "collect " + p.EnterID,
		"playback " + p.Goodbye, "hangup NORMAL_CLEARING"}
	if got := cc.Events(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if tr.Outcome != routing.OutcomeFailed || tr.Error != "no callback number" || tr.TaskID != nil {
		t.Errorf("outcome %s error %q task %v", tr.Outcome, tr.Error, tr.TaskID)
	}
	if h.env.Tasks.Calls() != 0 {
		t.Errorf("CreateTask called")
	}
}
