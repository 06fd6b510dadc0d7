package demo

// The demo drives eslgo, which has a data race of its own, so the Makefile
// runs this package without -race.

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/bench/sandbox/sandboxtest"
	"github.com/stickyacd/stickyacd/routing"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// eslgo's one listener lives as long as the process (esl's design).
		goleak.IgnoreAnyFunction("github.com/stickyacd/stickyacd/esl.(*backend).run"),
		// lib/pq's listener connections end asynchronously after Close.
		goleak.IgnoreAnyFunction("github.com/lib/pq.(*ListenerConn).listenerConnLoop"),
		goleak.IgnoreAnyFunction("github.com/lib/pq.(*ListenerConn).listenerConnMain"),
	)
}

// The demo takes every branch of the flow and says so.
func TestDemoShowsEveryBranch(t *testing.T) {
	sb := sandboxtest.New(t, sandboxOwner)
	o := Defaults()
	o.Schema, o.RedisPrefix, o.LookupEnv = sb.Schema, sb.Prefix, sb.LookupEnv
	o.Speed = 100
	var logs bytes.Buffer
	o.Log = &logs

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, o, &out); err != nil {
		t.Fatalf("demo: %v\noutput:\n%s\nlogs:\n%s", err, out.String(), logs.String())
	}
	got := out.String()
	for _, want := range []string{
		"011  first agent\n            A1  answered",
		"A1  rung, did not answer [NO_ANSWER]\n     012  backup agent\n            A2  answered",
		"013  team\n            A3  passed over: on break\n            A4  answered",
		"014  team leader\n            L1  answered",
		"02   ID-number entry: match (tries: malformed,valid; caller number bound)",
		"021  any agent (customer created)\n            B2  answered",
		"03   callback promise, business-type menu: card",
		"04   callback task: created (business type card)",
		"assigned   B1  first agent of customer K3",
		"assigned   B2  least loaded online with skill loan (0 open)",
		"reminded   B1",
		"reassigned B1",
		"SIP MESSAGE to 3101@demo.local",
		"stickyacd dials sofia/gateway/outbound/13900000003: answered",
		"completed  B1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	if strings.Contains(got+logs.String(), idK2) {
		t.Error("a raw ID number was printed")
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
}

// A trace prints every step, every candidate with why they were passed
// over, and the outcome.
func TestWriteTrace(t *testing.T) {
	t.Parallel()
	task := int64(7)
	tests := []struct {
		name string
		tr   routing.Trace
		want string
	}{
		{
			name: "chain to the leader",
			tr: routing.Trace{
				Entry: routing.EntryKnown, Outcome: routing.OutcomeBridged, AgentID: "L1", CustomerID: "K1", DecisionMS: 1.234,
				Steps: []routing.StepTrace{
					{Step: routing.StepLookup, Result: "known"},
					{Step: routing.StepFirst, Candidates: []routing.CandidateTrace{{AgentID: "A1", Result: routing.ResultBusy, Cause: "USER_BUSY"}}},
					{Step: routing.StepBackup, Candidates: []routing.CandidateTrace{{AgentID: "A2", Result: routing.ResultOffline}}},
					{Step: routing.StepLeader, Candidates: []routing.CandidateTrace{{AgentID: "L1", Result: routing.ResultAnswered}}},
				},
			},
			want: "" +
				"     01   caller ID look-up: known\n" +
				"     011  first agent\n" +
				"            A1  passed over: busy [USER_BUSY]\n" +
				"     012  backup agent\n" +
				"            A2  passed over: offline (logged out or phone not registered)\n" +
				"     014  team leader\n" +
				"            L1  answered\n" +
				"     → bridged to L1, customer K1 (known caller; decision 1.23 ms)\n",
		},
		{
			name: "callback",
			tr: routing.Trace{
				Entry: routing.EntryUnknown, Outcome: routing.OutcomeCallback, TaskID: &task, DecisionMS: 2,
				Steps: []routing.StepTrace{
					{Step: routing.StepAnyAgent, Note: "no agent online and idle"},
					{Step: routing.StepCallback, Result: "loan"},
					{Step: routing.StepTask, Result: "created", Note: "business type loan"},
				},
			},
			want: "" +
				"     021  any agent (no agent online and idle)\n" +
				"     03   callback promise, business-type menu: loan\n" +
				"     04   callback task: created (business type loan)\n" +
				"     → callback, task 7 (unknown caller; decision 2.00 ms)\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			writeTrace(&b, tc.tr)
			if b.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tc.want)
			}
		})
	}
}

// A task prints its state and its history, notes included.
func TestWriteTask(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	writeTask(&b, "after the call", callback.Task{
		ID: 3, CustomerID: "K3", BusinessType: "card", AgentID: "B1", Priority: 1, Status: callback.StatusCompleted,
		Events: []callback.Event{
			{Kind: callback.EventAssigned, AgentID: "B1", Note: "first agent of customer K3"},
			{Kind: callback.EventCompleted, AgentID: "B1"},
		},
	})
	want := "" +
		"   task 3, K3: after the call\n" +
		"     completed, business type card, agent B1, priority 1\n" +
		"       assigned   B1  first agent of customer K3\n" +
		"       completed  B1\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
