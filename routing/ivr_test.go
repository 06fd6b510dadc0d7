package routing_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/routing"
	rt "github.com/stickyacd/stickyacd/routing/routingtest"
)

func keys(digits ...string) []rt.Input {
	out := make([]rt.Input, len(digits))
	for i, d := range digits {
		out[i] = rt.Input{Digits: d}
	}
	return out
}

// Step 02: callers not recognised by number key in their ID number.
func TestIDEntry(t *testing.T) {
	t.Parallel()
	const (
		enter   = "collect " + "E"
		invalid = "preamble " + "I"
	)
	tests := []struct {
		name       string
		caller     string
		inputs     []rt.Input
		wantIVR    []string // events up to the first bridge, E = enter-ID collection, I = invalid prompt
		wantResult string
		wantNote   string
		want021    string // the note of step 021, when reached
		wantEntry  routing.Entry
		wantCust   string
		wantBind   bool
		wantNext   []string // agents bridged
		wantNewID  string   // the ID number a new customer was created with ("" none)
		wantNew    bool     // a customer was created
	}{
		{
			name: "18 digits with * for X match, number bound, first agent", caller: phoneNew,
			inputs:  keys(idK3Keyed),
			wantIVR: []string{"answer", enter}, wantResult: "match", wantNote: "tries: valid; caller number bound",
			wantEntry: routing.EntryID, wantCust: "K3", wantBind: true, wantNext: []string{"A1"},
		},
		{
			name: "wrong checksum twice then right", caller: phoneNew,
			inputs:  keys(idBadSum, idBadSum, idK1),
			wantIVR: []string{"answer", enter, invalid, enter, invalid, enter}, wantResult: "match",
			wantNote:  "tries: checksum,checksum,valid; caller number bound",
			wantEntry: routing.EntryID, wantCust: "K1", wantBind: true, wantNext: []string{"A1"},
		},
		{
			name: "malformed then right", caller: phoneNew,
			inputs:  keys("12345", idK1),
			wantIVR: []string{"answer", enter, invalid, enter}, wantResult: "match",
			wantNote:  "tries: malformed,valid; caller number bound",
			wantEntry: routing.EntryID, wantCust: "K1", wantBind: true, wantNext: []string{"A1"},
		},
		{
			name: "* not last is malformed", caller: phoneNew,
			inputs:  keys("1101011990*3070011", idK1),
			wantIVR: []string{"answer", enter, invalid, enter}, wantResult: "match",
			wantNote:  "tries: malformed,valid; caller number bound",
			wantEntry: routing.EntryID, wantCust: "K1", wantBind: true, wantNext: []string{"A1"},
		},
		{
			name: "no input is asked again without the invalid prompt", caller: phoneNew,
			inputs:  keys("", idK1),
			wantIVR: []string{"answer", enter, enter}, wantResult: "match",
			wantNote:  "tries: no_input,valid; caller number bound",
			wantEntry: routing.EntryID, wantCust: "K1", wantBind: true, wantNext: []string{"A1"},
		},
		{
			name: "three bad tries go to 021", caller: phoneNew,
			inputs:  keys("999", idBadSum, ""),
			wantIVR: []string{"answer", enter, invalid, enter, invalid, enter}, wantResult: "bad_input",
			wantNote:  "tries: malformed,checksum,no_input",
			wantEntry: routing.EntryUnknown, wantNext: []string{"S1"}, wantNew: true,
		},
		{
			name: "valid but unknown goes to 021 and the new customer gets the ID", caller: phoneNew,
			inputs:  keys(idNobody),
			wantIVR: []string{"answer", enter}, wantResult: "no_match", wantNote: "tries: valid",
			wantEntry: routing.EntryUnknown, wantNext: []string{"S1"}, wantNew: true, wantNewID: idNobody,
		},
		{
			name: "anonymous caller matched: nothing to bind", caller: "anonymous",
			inputs:  keys(idK1),
			wantIVR: []string{"answer", enter}, wantResult: "match",
			wantNote:  "tries: valid; caller number unusable: not bound",
			wantEntry: routing.EntryID, wantCust: "K1", wantNext: []string{"A1"},
		},
		{
			name: "anonymous caller with an unknown ID: customer by ID only", caller: "",
			inputs:  keys(idNobody),
			wantIVR: []string{"answer", enter}, wantResult: "no_match", wantNote: "tries: valid",
			wantEntry: routing.EntryUnknown, wantNext: []string{"S1"}, wantNew: true, wantNewID: idNobody,
		},
		{
			name: "anonymous caller without an ID: put through, no customer", caller: "Restricted",
			inputs:  keys("", "", ""),
			wantIVR: []string{"answer", enter, enter, enter}, wantResult: "bad_input",
			wantNote: "tries: no_input,no_input,no_input", want021: "no number or id number: customer not created",
			wantEntry: routing.EntryUnknown, wantNext: []string{"S1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			p := h.cfg.Prompts
			tr, cc := h.handle(t, "call-1", tc.caller, rt.Script{Inputs: tc.inputs})
			var want []string
			for _, e := range tc.wantIVR {
				switch e {
				case enter:
					e = "collect " + p.EnterID
				case invalid:
					e = "preamble " + p.InvalidID
				}
				want = append(want, e)
			}
			if got := cc.Events()[:len(want)]; !slices.Equal(got, want) {
				t.Errorf("IVR events %v, want %v", cc.Events(), want)
			}
			st := step(t, tr, routing.StepIDEntry)
			if st.Result != tc.wantResult || st.Note != tc.wantNote {
				t.Errorf("02 result %q note %q, want %q %q", st.Result, st.Note, tc.wantResult, tc.wantNote)
			}
			if tc.want021 != "" {
				if n := step(t, tr, routing.StepAnyAgent).Note; n != tc.want021 {
					t.Errorf("021 note %q, want %q", n, tc.want021)
				}
			}
			if tr.Entry != tc.wantEntry || (!tc.wantNew && tr.CustomerID != tc.wantCust) {
				t.Errorf("entry %s customer %q, want %s %q", tr.Entry, tr.CustomerID, tc.wantEntry, tc.wantCust)
			}
			if got := bridged(cc); !slices.Equal(got, tc.wantNext) {
				t.Errorf("bridged %v, want %v", got, tc.wantNext)
			}
			for _, c := range cc.Collects() {
				if c.Prompt == p.EnterID && (c.Terminators != "#" || c.Max != 18 || c.Timeout != h.cfg.IDTimeout ||
					c.DigitTimeout != h.cfg.IDDigitTimeout || c.Invalid != "") {
					t.Errorf("ID collection %+v", c)
				}
			}
			binds := h.env.Directory.Bindings()
			if tc.wantBind != (len(binds) == 1) ||
				(tc.wantBind && (binds[0] != routing.Binding{CallUUID: "call-1", CustomerID: tc.wantCust, Phone: phoneNew})) {
				t.Errorf("bindings %+v, want bound %v", binds, tc.wantBind)
			}
			created := h.env.Directory.Created()
			if tc.wantNew != (len(created) == 1) {
				t.Fatalf("created %+v, want created %v", created, tc.wantNew)
			}
			if tc.wantNew {
				c := created[0]
				wantPhone := phoneNew
				if tc.caller != phoneNew {
					wantPhone = ""
				}
				if c.Phone != wantPhone || c.FirstAgentID != "S1" || c.CallUUID != "call-1" || c.IDNumber.Reveal() != tc.wantNewID {
					t.Errorf("created %+v (id %s), want phone %q first agent S1 id %s", c, c.IDNumber, wantPhone, tc.wantNewID)
				}
				if tr.CustomerID != "new-1" || tr.Outcome != routing.OutcomeBridged {
					t.Errorf("customer %q outcome %s, want new-1 bridged", tr.CustomerID, tr.Outcome)
				}
				pops := h.env.Notifier.Pops()
				wantLast4 := ""
				if tc.wantNewID != "" {
					wantLast4 = tc.wantNewID[len(tc.wantNewID)-4:]
				}
				if len(pops) != 1 || !pops[0].New || pops[0].CustomerID != "new-1" || pops[0].AgentID != "S1" || pops[0].IDLast4 != wantLast4 {
					t.Errorf("screen pops %+v", pops)
				}
			}
		})
	}
}

// After an ID match binds the number, the next call from it is known at 01.
func TestBindingRecognisedNextCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tr, _ := h.handle(t, "call-1", phoneNew, rt.Script{Inputs: keys(idK1)})
	if tr.Entry != routing.EntryID {
		t.Fatalf("first call entry %s", tr.Entry)
	}
	tr, cc := h.handle(t, "call-2", "0"+phoneNew, rt.Script{})
	if tr.Entry != routing.EntryKnown || tr.CustomerID != "K1" || len(cc.Collects()) != 0 {
		t.Errorf("second call entry %s customer %q collects %d", tr.Entry, tr.CustomerID, len(cc.Collects()))
	}
}

// Step 021 beyond the IVR cases: the next agent when one fails, nobody free,
// binding switched off.
func TestAnyAgent(t *testing.T) {
	t.Parallel()
	t.Run("next longest idle after a failure", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		tr, cc := h.handle(t, "call-1", phoneNew, rt.Script{Inputs: keys(idNobody), Agents: map[string]rt.Outcome{"S1": noAnswer}})
		if got := bridged(cc); !slices.Equal(got, []string{"S1", "T2"}) {
			t.Errorf("bridged %v, want S1 then T2", got)
		}
		if got := cands(tr, routing.StepAnyAgent); got != "S1:no_answer/NO_ANSWER T2:answered" {
			t.Errorf("021 candidates %q", got)
		}
		var excl [][]string
		for _, c := range h.env.Presence.Calls() {
			if c.Method == "ReserveAny" {
				excl = append(excl, c.Exclude)
			}
		}
		if len(excl) != 2 || len(excl[0]) != 0 || !slices.Equal(excl[1], []string{"S1"}) {
			t.Errorf("ReserveAny excludes %v", excl)
		}
	})
	t.Run("binding switched off", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *routing.Config) { c.BindAnsweringAgent = false })
		h.handle(t, "call-1", phoneNew, rt.Script{Inputs: keys(idNobody)})
		created := h.env.Directory.Created()
		if len(created) != 1 || created[0].FirstAgentID != "" || created[0].Phone != phoneNew {
			t.Errorf("created %+v, want one without a first agent", created)
		}
		if len(h.env.Notifier.Pops()) != 1 {
			t.Errorf("screen pop missing")
		}
	})
	t.Run("nobody free goes to 03", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		everyoneAway(h, routing.ResultBusy)
		tr, cc := h.handle(t, "call-1", phoneNew, rt.Script{Inputs: keys(idNobody, "2")})
		if tr.Outcome != routing.OutcomeCallback || len(cc.Bridges()) != 0 {
			t.Errorf("outcome %s bridges %d", tr.Outcome, len(cc.Bridges()))
		}
		if n := step(t, tr, routing.StepAnyAgent).Note; n != "no agent online and idle" {
			t.Errorf("021 note %q", n)
		}
		tasks := h.env.Tasks.Tasks()
		if len(tasks) != 1 || tasks[0].CustomerID != "" || tasks[0].Caller != phoneNew || tasks[0].BusinessType != "card" {
			t.Errorf("tasks %+v", tasks)
		}
		if len(h.env.Directory.Created()) != 0 {
			t.Errorf("customer created though nobody answered")
		}
	})
	t.Run("reserved agent missing from the directory is released and skipped", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.env.Presence.Idle("GHOST", rt.Epoch.Add(-2*time.Hour))
		tr, cc := h.handle(t, "call-1", phoneNew, rt.Script{Inputs: keys(idNobody)})
		if got := bridged(cc); !slices.Equal(got, []string{"S1"}) {
			t.Errorf("bridged %v", got)
		}
		if tr.Outcome != routing.OutcomeBridged {
			t.Errorf("outcome %s", tr.Outcome)
		}
	})
}

// Errors other than hang-up from the caller's leg before 03.
func TestBrokenLeg(t *testing.T) {
	t.Parallel()
	boom := errors.New("esl: session poisoned")
	tests := []struct {
		name      string
		caller    string
		script    rt.Script
		wantTasks int
	}{
		{name: "collect fails", caller: phoneNew, script: rt.Script{Inputs: []rt.Input{{Err: boom}}}, wantTasks: 1},
		{name: "bridge fails", caller: phoneK1, script: rt.Script{Agents: map[string]rt.Outcome{"A1": {Err: boom}}}, wantTasks: 1},
		{name: "collect fails, nobody to call back", caller: "anonymous", script: rt.Script{Inputs: []rt.Input{{Err: boom}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *routing.Config) { c.AbandonedTasks = false })
			tr, cc := h.handle(t, "call-1", tc.caller, tc.script)
			if tr.Outcome != routing.OutcomeFailed || !strings.Contains(tr.Error, "session poisoned") {
				t.Errorf("outcome %s error %q", tr.Outcome, tr.Error)
			}
			tasks := h.env.Tasks.Tasks()
			if len(tasks) != tc.wantTasks || (tc.wantTasks == 1 && !tasks[0].Abandoned) {
				t.Errorf("tasks %+v, want %d abandoned", tasks, tc.wantTasks)
			}
			if cc.HungUpBy() != "app" {
				t.Errorf("hung up by %q, want the app", cc.HungUpBy())
			}
		})
	}
}
