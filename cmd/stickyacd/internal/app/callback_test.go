package app

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/config"
	"github.com/stickyacd/stickyacd/esl/fstest"
	"github.com/stickyacd/stickyacd/routing"
)

// taskOf finds the task created for a call.
func (e *env) taskOf(callUUID string) callback.Task {
	e.t.Helper()
	var found callback.Task
	e.eventually("the task of call "+callUUID, func() bool {
		for _, task := range e.tasks("") {
			if task.CallUUID == callUUID {
				found = task
				return true
			}
		}
		return false
	})
	return found
}

func kinds(task callback.Task) string {
	var out []string
	for _, ev := range task.Events {
		out = append(out, string(ev.Kind)+":"+ev.AgentID)
	}
	return strings.Join(out, " ")
}

// A known customer's callback is assigned to their agent (05); overdue, the
// agent is reminded on their event stream and their phone (chat), and the
// priority rises (06).
func TestCallbackReminderReachesTheAgent(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	feed, stop := e.app.hub.Subscribe("A1")
	defer stop()
	e.fs.Register("3001", "10.0.0.1") // the realm chat messages go to
	res := e.call(fstest.CallSpec{Caller: "13900000001", Input: []string{"1"}})
	wantOutcome(t, e.trace(res.UUID), routing.EntryKnown, routing.OutcomeCallback, "")
	task := e.taskOf(res.UUID)
	e.eventually("assignment to A1", func() bool {
		task = e.taskOf(res.UUID)
		return task.Status == callback.StatusAssigned && task.AgentID == "A1"
	})
	next := func(typ string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ev := <-feed:
				if ev.Type == typ {
					return
				}
			case <-deadline:
				t.Fatalf("no %s event on A1's stream", typ)
			}
		}
	}
	next("assignment")

	e.clock.Advance(31 * time.Minute) // business type loan is due in 30m
	e.app.worker.Kick()
	next("reminder")
	e.eventually("a SIP MESSAGE to A1's phone", func() bool {
		for _, c := range e.fs.InboundCommands() {
			if strings.HasPrefix(c, "bgapi chat sip|") && strings.Contains(c, "|3001@10.0.0.1|") {
				return true
			}
		}
		return false
	})
	e.eventually("the reminder in the task's history", func() bool {
		got := e.taskOf(res.UUID)
		return got.Priority > task.Priority && strings.Contains(kinds(got), "reminded:A1")
	})
}

// An unknown customer's overdue callback is reassigned to another
// least-loaded agent with the skill, same team first; after max reminders it
// is escalated to the team leader.
func TestCallbackReassignedThenEscalated(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *config.Config) { c.Callback.MaxReminders = 1 })
	res := e.call(fstest.CallSpec{Caller: "13600000004", Input: []string{"", "", "", "1"}})
	wantOutcome(t, e.trace(res.UUID), routing.EntryUnknown, routing.OutcomeCallback, "")
	e.available("A4", "B1")
	var task callback.Task
	e.eventually("assignment", func() bool {
		task = e.taskOf(res.UUID)
		return task.Status == callback.StatusAssigned
	})
	first := task.AgentID
	e.clock.Advance(31 * time.Minute)
	e.app.worker.Kick()
	e.eventually("reassignment", func() bool {
		task = e.taskOf(res.UUID)
		return task.AgentID != first && strings.Contains(kinds(task), "reassigned:")
	})
	second := task.AgentID
	e.clock.Advance(11 * time.Minute)
	e.app.worker.Kick()
	e.eventually("escalation to the leader", func() bool {
		task = e.taskOf(res.UUID)
		return task.Escalated && strings.Contains(kinds(task), "escalated:")
	})
	if leader := map[string]string{"A4": "L1", "B1": "L2"}[second]; task.AgentID != leader {
		t.Fatalf("escalated to %s; events %s", task.AgentID, kinds(task))
	}
}

// The agent's next_callback feature code dials the customer of their top
// task; an answered call long enough completes the task.
func TestNextCallbackCompletesTheTask(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	res := e.call(fstest.CallSpec{Caller: "13900000001", Input: []string{"2"}})
	var task callback.Task
	e.eventually("assignment to A1", func() bool {
		task = e.taskOf(res.UUID)
		return task.AgentID == "A1" && task.Status == callback.StatusAssigned
	})
	e.fs.SetEndpoint("sofia/gateway/out/13900000001", fstest.Endpoint{Answer: true, RingFor: 100 * time.Millisecond, TalkFor: 8 * time.Second})
	agentCall := e.call(fstest.CallSpec{Caller: "3001", Destination: "*24", Vars: map[string]string{"stickyacd_action": "next_callback"}})
	if len(agentCall.Bridges) != 1 || agentCall.Bridges[0].Target != "sofia/gateway/out/13900000001" || !agentCall.Bridges[0].Answered {
		t.Fatalf("agent call bridges %+v (apps %s)", agentCall.Bridges, appNames(agentCall))
	}
	task = e.taskOf(res.UUID)
	if task.Status != callback.StatusCompleted || !strings.Contains(kinds(task), "completed:A1") {
		t.Fatalf("task %s: %s", task.Status, kinds(task))
	}
	// Nothing left: the code says so and hangs up.
	again := e.call(fstest.CallSpec{Caller: "3001", Destination: "*24", Vars: map[string]string{"stickyacd_action": "next_callback"}})
	if len(again.Bridges) != 0 || !strings.Contains(appNames(again), "playback") {
		t.Fatalf("second next_callback: apps %s bridges %v", appNames(again), bridgedTo(again))
	}
}

// A callback the customer does not answer counts an attempt and stays open.
func TestNextCallbackUnansweredCountsAnAttempt(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	res := e.call(fstest.CallSpec{Caller: "13900000001", Input: []string{"2"}})
	e.eventually("assignment to A1", func() bool { return e.taskOf(res.UUID).AgentID == "A1" })
	e.fs.SetEndpoint("sofia/gateway/out/13900000001", fstest.Busy())
	e.call(fstest.CallSpec{Caller: "3001", Destination: "*24", Vars: map[string]string{"stickyacd_action": "next_callback"}})
	task := e.taskOf(res.UUID)
	if task.Attempts != 1 || task.Status != callback.StatusAssigned || !strings.Contains(kinds(task), "attempted:A1") {
		t.Fatalf("task %s attempts %d: %s", task.Status, task.Attempts, kinds(task))
	}
}

// The API completes and reassigns tasks, with their history.
func TestCallbackAPI(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.available("A3", "A4")
	res := e.call(fstest.CallSpec{Caller: "13900000002", Input: []string{"1"}})
	task := e.taskOf(res.UUID)
	var out callback.Task
	if st := e.api("POST", "/api/v1/callbacks/"+itoa(task.ID)+"/reassign", map[string]string{"agent_id": "A4"}, &out); st != 200 || out.AgentID != "A4" {
		t.Fatalf("reassign: %d %+v", st, out)
	}
	if st := e.api("POST", "/api/v1/callbacks/"+itoa(task.ID)+"/complete", map[string]string{"outcome": "resolved by phone", "agent_id": "A4"}, &out); st != 200 || out.Status != callback.StatusCompleted {
		t.Fatalf("complete: %d %+v", st, out)
	}
	if !strings.Contains(kinds(out), "reassigned:A4") || !strings.Contains(kinds(out), "completed:A4") {
		t.Fatalf("history %s", kinds(out))
	}
	var errBody map[string]string
	if st := e.api("POST", "/api/v1/callbacks/"+itoa(task.ID)+"/complete", nil, &errBody); st != 409 || errBody["error"] == "" {
		t.Fatalf("completing twice: %d %v", st, errBody)
	}
	if st := e.api("POST", "/api/v1/callbacks/999999/complete", nil, &errBody); st != 404 {
		t.Fatalf("unknown task: %d", st)
	}
	if got := e.tasks("?status=completed&agent=A4"); len(got) != 1 {
		t.Fatalf("filtered list %+v", got)
	}
	res2 := e.call(fstest.CallSpec{Caller: "13900000001", Input: []string{"2"}})
	e.taskOf(res2.UUID)
	if got := e.tasks("?status=open&limit=1"); len(got) != 1 || got[0].CallUUID != res2.UUID {
		t.Fatalf("open tasks %+v", got)
	}
	if st := e.api("GET", "/api/v1/callbacks?status=bogus", nil, &errBody); st != 400 {
		t.Fatalf("bad filter: %d", st)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
