package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stickyacd/stickyacd/routing"
)

func TestObserveCall(t *testing.T) {
	m := New(nil)
	bridged := &routing.Trace{Entry: routing.EntryKnown, Outcome: routing.OutcomeBridged, DecisionMS: 1.5, Steps: []routing.StepTrace{
		{Step: routing.StepLookup},
		{Step: routing.StepFirst, Candidates: []routing.CandidateTrace{{AgentID: "A1", Result: routing.ResultBusy, Cause: "USER_BUSY"}}},
		{Step: routing.StepBackup, Candidates: []routing.CandidateTrace{{AgentID: "A2", Result: routing.ResultNoAnswer, Cause: "NO_ANSWER"}}},
		{Step: routing.StepTeam, Candidates: []routing.CandidateTrace{{AgentID: "A3", Result: routing.ResultBusy}, {AgentID: "A4", Result: routing.ResultAnswered}}},
	}}
	spooled := &routing.Trace{Entry: routing.EntryUnknown, Outcome: routing.OutcomeCallback, Error: "presence: down", Steps: []routing.StepTrace{
		{Step: routing.StepCallback}, {Step: routing.StepTask, Result: "spooled"},
	}}
	abandoned := &routing.Trace{Entry: routing.EntryID, Outcome: routing.OutcomeAbandoned, Steps: []routing.StepTrace{
		{Step: routing.StepTask, Result: "created"},
	}}
	for _, tr := range []*routing.Trace{bridged, spooled, abandoned} {
		m.ObserveCall(tr)
	}
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"known bridged", testutil.ToFloat64(m.calls.WithLabelValues("known", "bridged")), 1},
		{"bridged at 013", testutil.ToFloat64(m.bridged.WithLabelValues("013")), 1},
		{"busy bridge attempts at 011", testutil.ToFloat64(m.bridgeAttempts.WithLabelValues("011", "busy")), 1},
		{"busy skips are no bridge attempts", testutil.ToFloat64(m.bridgeAttempts.WithLabelValues("013", "busy")), 0},
		{"no answers", testutil.ToFloat64(m.noAnswers), 1},
		{"tasks (spooled counts)", testutil.ToFloat64(m.tasksCreated.WithLabelValues("false")), 1},
		{"abandoned tasks", testutil.ToFloat64(m.tasksCreated.WithLabelValues("true")), 1},
		{"degraded", testutil.ToFloat64(m.degraded), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}
