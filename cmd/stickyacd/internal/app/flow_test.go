package app

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/config"
	"github.com/stickyacd/stickyacd/esl/fstest"
	"github.com/stickyacd/stickyacd/routing"
)

// answers is an agent phone that answers quickly and talks briefly.
var answers = fstest.Endpoint{Answer: true, RingFor: 100 * time.Millisecond, TalkFor: 400 * time.Millisecond}

func (e *env) phones(eps map[string]fstest.Endpoint) {
	for ext, ep := range eps {
		e.fs.SetEndpoint("user/"+ext, ep)
	}
}

func wantSteps(t *testing.T, tr routing.Trace, want string) {
	t.Helper()
	if got := steps(tr); got != want {
		t.Fatalf("steps = %q, want %q", got, want)
	}
}

func wantOutcome(t *testing.T, tr routing.Trace, entry routing.Entry, outcome routing.Outcome, agent string) {
	t.Helper()
	if tr.Entry != entry || tr.Outcome != outcome || tr.AgentID != agent {
		t.Fatalf("entry/outcome/agent = %s/%s/%q, want %s/%s/%q (steps %s)", tr.Entry, tr.Outcome, tr.AgentID, entry, outcome, agent, steps(tr))
	}
}

// Row 011: a known caller reaches their own agent, who gets the customer in
// SIP headers.
func TestFlow011KnownCallerReachesFirstAgent(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.available("A1", "A2", "A3", "A4", "L1", "B1")
	e.phones(map[string]fstest.Endpoint{"3001": answers})
	// +86 and the trunk prefix are the same customer phone.
	for _, caller := range []string{"13900000001", "+8613900000001", "013900000001"} {
		res := e.call(fstest.CallSpec{Caller: caller})
		tr := e.trace(res.UUID)
		wantOutcome(t, tr, routing.EntryKnown, routing.OutcomeBridged, "A1")
		wantSteps(t, tr, "01 011:A1=answered")
		if len(res.Bridges) != 1 || res.Bridges[0].Target != "user/3001" || !res.Bridges[0].Answered {
			t.Fatalf("bridges = %+v", res.Bridges)
		}
		v := res.Bridges[0].Vars
		if v["sip_h_X-Stickyacd-Customer"] != "K1" || v["sip_h_X-Stickyacd-Step"] != "011" {
			t.Fatalf("agent leg headers = %v", v)
		}
		if tr.CustomerID != "K1" || tr.TaskID != nil {
			t.Fatalf("trace = %+v", tr)
		}
		ringback := false
		for _, c := range res.Commands {
			ringback = ringback || strings.Contains(c, "ringback "+e.cfg.Prompts.Ringback)
		}
		if !ringback {
			t.Fatalf("the caller's ringback was never set: %q", res.Commands)
		}
	}
	if n := len(e.tasks("")); n != 0 {
		t.Fatalf("%d tasks for bridged calls", n)
	}
}

// Row 012: the first agent does not answer; the backup does.
func TestFlow012BackupAnswers(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.available("A1", "A2", "A3", "A4", "L1")
	e.phones(map[string]fstest.Endpoint{"3001": fstest.NoAnswer(), "3002": answers})
	res := e.call(fstest.CallSpec{Caller: "13900000001"})
	tr := e.trace(res.UUID)
	wantOutcome(t, tr, routing.EntryKnown, routing.OutcomeBridged, "A2")
	wantSteps(t, tr, "01 011:A1=no_answer 012:A2=answered")
	if got := bridgedTo(res); !slices.Equal(got, []string{"user/3001", "user/3002"}) {
		t.Fatalf("bridged to %v", got)
	}
	if a := e.agent("A1"); a.NoAnswers != 1 {
		t.Fatalf("A1 no-answers = %d", a.NoAnswers)
	}
}

// Row 013: first and backup unavailable; another agent of the team answers.
// Each team member is tried once.
func TestFlow013TeamAnswers(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.available("A1", "A3")
	time.Sleep(20 * time.Millisecond) // A3 and A1 have been idle longer than A4
	e.available("A4", "L1")
	e.phones(map[string]fstest.Endpoint{"3001": fstest.Busy(), "3003": fstest.Unreachable(), "3004": answers})
	res := e.call(fstest.CallSpec{Caller: "13900000001"})
	tr := e.trace(res.UUID)
	wantOutcome(t, tr, routing.EntryKnown, routing.OutcomeBridged, "A4")
	wantSteps(t, tr, "01 011:A1=busy 012:A2=offline 013:A3=unreachable 013:A4=answered")
}

// Row 014: nobody of the chain but the leader is free.
func TestFlow014LeaderAnswers(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.available("A3", "L1", "B1")
	e.phones(map[string]fstest.Endpoint{"3003": fstest.Rejects(), "3009": answers})
	res := e.call(fstest.CallSpec{Caller: "13900000001"})
	tr := e.trace(res.UUID)
	wantOutcome(t, tr, routing.EntryKnown, routing.OutcomeBridged, "L1")
	got := steps(tr)
	for _, want := range []string{"01 011:A1=offline 012:A2=offline ", "013:A3=rejected", "013:A4=offline", " 014:L1=answered"} {
		if !strings.Contains(got, want) {
			t.Fatalf("steps %q lack %q", got, want)
		}
	}
}

// Every bridge outcome in one call, each recorded against its agent.
func TestBridgeOutcomes(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.available("A1", "A2", "A3", "A4", "L1")
	e.phones(map[string]fstest.Endpoint{
		"3001": fstest.Rejects(), "3002": fstest.Unreachable(),
		"3003": fstest.Busy(), "3004": fstest.NoAnswer(), "3009": answers,
	})
	res := e.call(fstest.CallSpec{Caller: "13900000001"})
	tr := e.trace(res.UUID)
	wantOutcome(t, tr, routing.EntryKnown, routing.OutcomeBridged, "L1")
	got := steps(tr)
	for _, want := range []string{"011:A1=rejected", "012:A2=unreachable", "013:A3=busy", "013:A4=no_answer", "014:L1=answered"} {
		if !strings.Contains(got, want) {
			t.Errorf("steps %q lack %s", got, want)
		}
	}
	if len(res.Bridges) != 5 {
		t.Fatalf("bridges = %v", bridgedTo(res))
	}
	for _, b := range res.Bridges[:4] {
		if b.Answered {
			t.Fatalf("a failed attempt answered: %+v", b)
		}
	}
}

// A known customer whose whole chain is busy hears 03 and never reaches an
// unrelated agent; the task goes to their own agent.
func TestKnownCustomerChainBusyGoesToCallback(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.available("A1", "A2", "B1", "L2")
	e.phones(map[string]fstest.Endpoint{"3001": fstest.Busy(), "3002": fstest.NoAnswer(), "3101": answers, "3109": answers})
	res := e.call(fstest.CallSpec{Caller: "13900000001", Input: []string{"2"}})
	tr := e.trace(res.UUID)
	wantOutcome(t, tr, routing.EntryKnown, routing.OutcomeCallback, "")
	for _, b := range res.Bridges {
		if b.Target == "user/3101" || b.Target == "user/3109" {
			t.Fatalf("known customer rung a stranger: %v", bridgedTo(res))
		}
	}
	promise := false
	for _, a := range res.Apps {
		// The promise opens the menu's collection so an early key counts.
		promise = promise || (a.Name == "play_and_get_digits" &&
			strings.Contains(a.Arg, "file_string://"+e.cfg.Prompts.CallbackPromise+"!"+e.cfg.Prompts.BusinessMenu))
	}
	if !promise {
		t.Fatalf("no promise and business menu: %s", appNames(res))
	}
	if tr.TaskID == nil {
		t.Fatalf("no task in trace %+v", tr)
	}
	e.eventually("the task assigned to A1", func() bool {
		ts := e.tasks("?agent=A1")
		return len(ts) == 1 && ts[0].Status == callback.StatusAssigned
	})
	task := e.tasks("?agent=A1")[0]
	if task.CallUUID != res.UUID || task.BusinessType != "card" || task.CustomerID != "K1" || task.Caller != "13900000001" {
		t.Fatalf("task = %+v", task)
	}
}

// Row 02: an unknown number keys the ID number of a customer; the number is
// bound to the customer, the call goes on at 011, and the next call from
// that number is recognised at 01.
func TestFlow02IDMatchBindsTheNumber(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.available("A1")
	e.phones(map[string]fstest.Endpoint{"3001": answers})
	res := e.call(fstest.CallSpec{Caller: "13700000000", Input: []string{idK2 + "#"}})
	tr := e.trace(res.UUID)
	wantOutcome(t, tr, routing.EntryID, routing.OutcomeBridged, "A1")
	// The number keyed is cleared from the channel (CDRs, uuid_dump, later
	// events) as soon as it has been read.
	if !slices.Contains(res.Commands, "api uuid_setvar "+res.UUID+" stickyacd_digits") {
		t.Errorf("the ID number was left on the channel: %q", res.Commands)
	}
	if tr.CustomerID != "K2" || !strings.HasPrefix(steps(tr), "01 02 011:A1=answered") {
		t.Fatalf("trace %s customer %s", steps(tr), tr.CustomerID)
	}
	res = e.call(fstest.CallSpec{Caller: "13700000000"})
	tr = e.trace(res.UUID)
	wantOutcome(t, tr, routing.EntryKnown, routing.OutcomeBridged, "A1")
	wantSteps(t, tr, "01 011:A1=answered")
}

// An ID number ending in X is keyed with * for X.
func TestFlow02StarMeansX(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.available("B1")
	e.phones(map[string]fstest.Endpoint{"3101": answers})
	keyed := strings.TrimSuffix(idK3, "X") + "*#"
	res := e.call(fstest.CallSpec{Caller: "13700000001", Input: []string{keyed}})
	tr := e.trace(res.UUID)
	wantOutcome(t, tr, routing.EntryID, routing.OutcomeBridged, "B1")
	if tr.CustomerID != "K3" {
		t.Fatalf("customer %q", tr.CustomerID)
	}
}

// A wrong checksum twice, then the right number: re-asked with the invalid
// prompt, no look-up for the bad ones, then a match.
func TestFlow02WrongChecksumTwiceThenRight(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.available("A1")
	e.phones(map[string]fstest.Endpoint{"3001": answers})
	bad := idK2[:17] + string("0123456789"[(int(idK2[17]-'0')+1)%10])
	if bad == idK2 || strings.HasSuffix(idK2, "X") {
		t.Fatal("test data: idK2 must end in a digit")
	}
	res := e.call(fstest.CallSpec{Caller: "13700000002", Input: []string{bad + "#", "12345#", idK2 + "#"}})
	tr := e.trace(res.UUID)
	wantOutcome(t, tr, routing.EntryID, routing.OutcomeBridged, "A1")
	// "Invalid, please re-enter" opens the next collection (keys pressed
	// during it count), never a playback of its own.
	invalid := 0
	for _, a := range res.Apps {
		if a.Name == "play_and_get_digits" && strings.Contains(a.Arg, "file_string://"+e.cfg.Prompts.InvalidID+"!"+e.cfg.Prompts.EnterID) {
			invalid++
		}
		if a.Name == "playback" {
			t.Errorf("a playback during the ID entry would swallow keys: %s %s", a.Name, a.Arg)
		}
	}
	if invalid != 2 {
		t.Fatalf("invalid-ID prompt opened %d collections: %s", invalid, appNames(res))
	}
}

// Three bad tries go to 021: any agent, who becomes the new customer's first
// agent and gets a screen pop; the next call from the number is known.
func TestFlow021UnknownCallerAnyAgent(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.available("B1")
	e.phones(map[string]fstest.Endpoint{"3101": answers})
	feed, stop := e.app.hub.Subscribe("B1")
	defer stop()
	res := e.call(fstest.CallSpec{Caller: "13600000000", Input: []string{"1#", "", "99#"}})
	tr := e.trace(res.UUID)
	wantOutcome(t, tr, routing.EntryUnknown, routing.OutcomeBridged, "B1")
	if !strings.Contains(steps(tr), "021:B1=answered") || tr.CustomerID == "" {
		t.Fatalf("trace %s customer %q", steps(tr), tr.CustomerID)
	}
	if v := res.Bridges[0].Vars; v["sip_h_X-Stickyacd-Step"] != "021" {
		t.Fatalf("agent leg headers %v", v)
	}
	select {
	case ev := <-feed:
		if ev.Type != "screen_pop" || !strings.Contains(string(ev.Data), `"new_customer":true`) || !strings.Contains(string(ev.Data), "13600000000") {
			t.Fatalf("feed event %s %s", ev.Type, ev.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no screen pop")
	}
	res = e.call(fstest.CallSpec{Caller: "13600000000"})
	tr2 := e.trace(res.UUID)
	wantOutcome(t, tr2, routing.EntryKnown, routing.OutcomeBridged, "B1")
	if tr2.CustomerID != tr.CustomerID {
		t.Fatalf("second call found customer %q, first created %q", tr2.CustomerID, tr.CustomerID)
	}
}

// A valid ID number nobody has: 021, and the new customer keeps the ID, so
// keying it from another phone finds them.
func TestFlow021NewCustomerKeepsIDNumber(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.available("B1")
	e.phones(map[string]fstest.Endpoint{"3101": answers})
	fresh := idWithCheck("32010219850101123")
	res := e.call(fstest.CallSpec{Caller: "13600000001", Input: []string{fresh + "#"}})
	tr := e.trace(res.UUID)
	wantOutcome(t, tr, routing.EntryUnknown, routing.OutcomeBridged, "B1")
	res = e.call(fstest.CallSpec{Caller: "13600000009", Input: []string{fresh + "#"}})
	tr2 := e.trace(res.UUID)
	wantOutcome(t, tr2, routing.EntryID, routing.OutcomeBridged, "B1")
	if tr2.CustomerID != tr.CustomerID {
		t.Fatalf("ID entry found %q, want %q", tr2.CustomerID, tr.CustomerID)
	}
	if strings.Contains(e.logs.String(), fresh) {
		t.Fatal("raw ID number in the log")
	}
}

// 021 with nobody online: the callback path; the unknown caller's task goes
// to the least-loaded online agent with the skill once one logs in.
func TestFlow021NobodyGoesToCallback(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	res := e.call(fstest.CallSpec{Caller: "13600000002", Input: []string{"", "", "", "1"}})
	tr := e.trace(res.UUID)
	wantOutcome(t, tr, routing.EntryUnknown, routing.OutcomeCallback, "")
	e.eventually("a pending task", func() bool {
		ts := e.tasks("?status=pending")
		return len(ts) == 1 && ts[0].BusinessType == "loan"
	})
	e.available("A3")
	e.eventually("the task assigned to A3 at log-in", func() bool {
		ts := e.tasks("?agent=A3")
		return len(ts) == 1 && ts[0].Status == callback.StatusAssigned
	})
}

// Step 03's menu: an invalid key is re-asked; silence takes the default type.
func TestFlow03Menu(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	res := e.call(fstest.CallSpec{Caller: "13900000001", Input: []string{"7", "2"}})
	if tr := e.trace(res.UUID); tr.Outcome != routing.OutcomeCallback {
		t.Fatalf("outcome %s", tr.Outcome)
	}
	res2 := e.call(fstest.CallSpec{Caller: "13900000002", Input: []string{"", "", ""}})
	if tr := e.trace(res2.UUID); tr.Outcome != routing.OutcomeCallback {
		t.Fatalf("outcome %s", tr.Outcome)
	}
	e.eventually("two tasks", func() bool { return len(e.tasks("")) == 2 })
	byCall := map[string]string{}
	for _, task := range e.tasks("") {
		byCall[task.CallUUID] = task.BusinessType
	}
	if byCall[res.UUID] != "card" || byCall[res2.UUID] != "loan" {
		t.Fatalf("business types %v", byCall)
	}
}

// Hang-ups before 03 are abandoned calls (a task all the same, by
// configuration); a hang-up during 03 keeps the promise.
func TestCallerHangsUp(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		spec      fstest.CallSpec
		outcome   routing.Outcome
		abandoned bool
	}{
		{"during 02", fstest.CallSpec{Caller: "13500000000", Input: []string{fstest.HangUp}}, routing.OutcomeAbandoned, true},
		{"during the bridge attempts", fstest.CallSpec{Caller: "13900000001", HangupOnApp: "bridge"}, routing.OutcomeAbandoned, true},
		{"during 03", fstest.CallSpec{Caller: "13900000002", Input: []string{fstest.HangUp}}, routing.OutcomeCallback, false},
	}
	e := start(t, nil)
	e.available("A1")
	e.phones(map[string]fstest.Endpoint{"3001": fstest.NoAnswer()})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "during 03" {
				e.api("PUT", "/api/v1/agents/A1/status", map[string]string{"status": "logged_out"}, nil)
			}
			res := e.call(tc.spec)
			if res.HungUpBy != "caller" {
				t.Fatalf("hung up by %s", res.HungUpBy)
			}
			tr := e.trace(res.UUID)
			if tr.Outcome != tc.outcome {
				t.Fatalf("outcome %s, want %s (%s)", tr.Outcome, tc.outcome, steps(tr))
			}
			var mine []callback.Task
			for _, task := range e.tasks("") {
				if task.CallUUID == res.UUID {
					mine = append(mine, task)
				}
			}
			if len(mine) != 1 || mine[0].Abandoned != tc.abandoned {
				t.Fatalf("tasks of the call: %+v", mine)
			}
		})
	}
	if a := e.agent("A1"); a.State == "reserved" || a.State == "ringing" || a.State == "in_call" {
		t.Fatalf("A1 left %s after the caller hung up", a.State)
	}
}

// With abandoned tasks switched off, a caller who hangs up while agents
// ring leaves no task.
func TestAbandonedTasksOff(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *config.Config) { c.Routing.AbandonedTasks = false })
	e.available("A1")
	e.phones(map[string]fstest.Endpoint{"3001": fstest.NoAnswer()})
	res := e.call(fstest.CallSpec{Caller: "13900000001", HangupOnApp: "bridge"})
	if tr := e.trace(res.UUID); tr.Outcome != routing.OutcomeAbandoned || tr.TaskID != nil {
		t.Fatalf("trace %+v", tr)
	}
	if n := len(e.tasks("")); n != 0 {
		t.Fatalf("%d tasks", n)
	}
}
