package routing_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickyacd/stickyacd/internal/testlog"
	"github.com/stickyacd/stickyacd/routing"
	rt "github.com/stickyacd/stickyacd/routing/routingtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The fixture: team north (first agent A1, backup B1, members T1–T3, leader
// L1) and team south (S1), whose members are strangers to north's customers.
const (
	phoneK1   = "13900139001" // K1, first agent A1
	phoneK2   = "13900139002" // K2, no first agent
	phoneNew  = "13800138000" // nobody's
	idK1      = "110101199003070011"
	idK3      = "11010519491231002X" // K3, first agent A1, no phone
	idK3Keyed = "11010519491231002*"
	idNobody  = "440304197706150031"
	idBadSum  = "110101199003070012"
)

// rawIDs must never appear in a log line, a trace or an error.
var rawIDs = []string{idK1, idK3, idK3Keyed, idNobody, idBadSum}

var (
	a1 = routing.Agent{ID: "A1", Extension: "2001", Team: "north", Role: routing.RoleAgent, BackupID: "B1"}
	b1 = routing.Agent{ID: "B1", Extension: "2002", Team: "north", Role: routing.RoleAgent}
	t1 = routing.Agent{ID: "T1", Extension: "2003", Team: "north", Role: routing.RoleAgent}
	t2 = routing.Agent{ID: "T2", Extension: "2004", Team: "north", Role: routing.RoleAgent}
	t3 = routing.Agent{ID: "T3", Extension: "2005", Team: "north", Role: routing.RoleAgent}
	l1 = routing.Agent{ID: "L1", Extension: "2009", Team: "north", Role: routing.RoleLeader}
	s1 = routing.Agent{ID: "S1", Extension: "3001", Team: "south", Role: routing.RoleAgent}
)

// north is K1's whole chain.
var north = []string{"A1", "B1", "T1", "T2", "T3", "L1"}

// harness is one Router over fresh fakes with the fixture loaded. Every
// agent is idle; team members' idle times order them T2, T3, T1 (longest
// idle first), and S1 has been idle longest of all.
type harness struct {
	cfg    routing.Config
	env    *rt.Env
	router *routing.Router
	logs   *testlog.Buffer
}

func newHarness(t testing.TB, tweak func(*routing.Config)) *harness {
	t.Helper()
	cfg := rt.Config()
	if tweak != nil {
		tweak(&cfg)
	}
	env := rt.NewEnv()
	for _, a := range []routing.Agent{a1, b1, t1, t2, t3, l1, s1} {
		env.Directory.AddAgent(a)
	}
	env.Directory.AddCustomer(routing.Customer{ID: "K1", Name: "Alice", FirstAgentID: "A1"}, []string{phoneK1}, idK1)
	env.Directory.AddCustomer(routing.Customer{ID: "K2", Name: "Bob"}, []string{phoneK2}, "")
	env.Directory.AddCustomer(routing.Customer{ID: "K3", Name: "Carol", FirstAgentID: "A1"}, nil, idK3)
	idle := map[string]time.Duration{"S1": 0, "T2": time.Minute, "T3": 2 * time.Minute, "T1": 3 * time.Minute,
		"A1": 4 * time.Minute, "B1": 5 * time.Minute, "L1": 6 * time.Minute}
	for id, d := range idle {
		env.Presence.Idle(id, rt.Epoch.Add(-time.Hour).Add(d))
	}
	logs := &testlog.Buffer{}
	d := env.Deps()
	d.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := routing.New(cfg, d)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{cfg: cfg, env: env, router: r, logs: logs}
}

// handle runs one call; by default the caller hangs up after goodbye.
func (h *harness) handle(t testing.TB, uuid, caller string, s rt.Script) (*routing.Trace, *rt.Call) {
	t.Helper()
	if s.HangupAfter == "" {
		s.HangupAfter = h.cfg.Prompts.Goodbye
	}
	cc := rt.NewCall(s)
	tr := h.router.Handle(context.Background(), routing.Call{UUID: uuid, CallerNumber: caller}, cc)
	if tr == nil {
		t.Fatal("Handle returned nil")
	}
	h.checkAfter(t, tr)
	return tr, cc
}

// checkAfter checks what must hold after any call.
func (h *harness) checkAfter(t testing.TB, tr *routing.Trace) {
	t.Helper()
	if held := h.env.Presence.Held(); len(held) != 0 {
		t.Errorf("agents still held after the call: %v", held)
	}
	saved, ok := h.env.Records.Call(tr.UUID)
	if !ok {
		t.Errorf("trace of %s not saved", tr.UUID)
	} else if saved.Outcome != tr.Outcome || len(saved.Steps) != len(tr.Steps) {
		t.Errorf("saved trace differs: saved %s/%d steps, returned %s/%d", saved.Outcome, len(saved.Steps), tr.Outcome, len(tr.Steps))
	}
	switch tr.Outcome {
	case routing.OutcomeBridged, routing.OutcomeCallback, routing.OutcomeAbandoned, routing.OutcomeFailed:
	default:
		t.Errorf("outcome %q is not one of the contract's", tr.Outcome)
	}
	js, err := json.Marshal(tr)
	if err != nil {
		t.Fatalf("marshal trace: %v", err)
	}
	logs := h.logs.String()
	for _, raw := range rawIDs {
		if strings.Contains(string(js), raw) {
			t.Errorf("trace contains raw ID number %s", raw)
		}
		if strings.Contains(logs, raw) {
			t.Errorf("logs contain raw ID number %s", raw)
		}
	}
	for line := range strings.Lines(logs) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line not JSON: %v: %s", err, line)
		}
		if rec["call_uuid"] == nil || rec["step"] == nil {
			t.Errorf("log line without call_uuid or step: %s", line)
		}
	}
}

// step returns the trace of one step, failing the test when absent.
func step(t testing.TB, tr *routing.Trace, s routing.Step) routing.StepTrace {
	t.Helper()
	for _, st := range tr.Steps {
		if st.Step == s {
			return st
		}
	}
	t.Fatalf("no step %s in trace; steps %v", s, steps(tr))
	return routing.StepTrace{}
}

func steps(tr *routing.Trace) []routing.Step {
	out := make([]routing.Step, 0, len(tr.Steps))
	for _, st := range tr.Steps {
		out = append(out, st.Step)
	}
	return out
}

// cands renders a step's candidates as "A1:no_answer/NO_ANSWER B1:answered".
func cands(tr *routing.Trace, s routing.Step) string {
	var parts []string
	for _, st := range tr.Steps {
		if st.Step != s {
			continue
		}
		for _, c := range st.Candidates {
			p := c.AgentID + ":" + string(c.Result)
			if c.Cause != "" {
				p += "/" + c.Cause
			}
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

// bridged lists the agents bridged to, in order.
func bridged(cc *rt.Call) []string {
	var out []string
	for _, b := range cc.Bridges() {
		out = append(out, b.Agent.ID)
	}
	return out
}
