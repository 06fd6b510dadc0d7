package callback

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickyacd/stickyacd/routing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start is a Monday morning, inside business hours.
var start = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

// Team north: A1 (loan, card), A2 (loan), A3 (card), leader L1 (loan).
// Team south: B1 (loan), leader L2. Team solo: S1 (loan), no leader.
var agents = []routing.Agent{
	{ID: "A1", Team: "north", Role: routing.RoleAgent, Skills: []string{"loan", "card"}},
	{ID: "A2", Team: "north", Role: routing.RoleAgent, Skills: []string{"loan"}},
	{ID: "A3", Team: "north", Role: routing.RoleAgent, Skills: []string{"card"}},
	{ID: "L1", Team: "north", Role: routing.RoleLeader, Skills: []string{"loan"}},
	{ID: "B1", Team: "south", Role: routing.RoleAgent, Skills: []string{"loan"}},
	{ID: "L2", Team: "south", Role: routing.RoleLeader},
	{ID: "S1", Team: "solo", Role: routing.RoleAgent, Skills: []string{"loan"}},
}

type env struct {
	store *memStore
	avail *memAvailability
	clock *manualClock
	notes *memNotifier
	w     *Worker
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	e := &env{store: newMemStore(), avail: &memAvailability{}, clock: &manualClock{now: start}, notes: &memNotifier{}}
	cfg.Location = time.UTC
	cfg.Owner = "test-worker"
	w, err := NewWorker(cfg, Deps{
		Store: e.store, Directory: &memDirectory{agents: agents}, Availability: e.avail,
		Notifier: e.notes, Clock: e.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.w = w
	return e
}

// unknown is a new task of an unknown caller, due in 30 minutes.
func unknown(call string) Task {
	return Task{CallUUID: call, Caller: "13900139001", BusinessType: "loan", Priority: 5, DueAt: start.Add(30 * time.Minute)}
}

// known is a new task of customer K1, whose first agent is A1.
func known(call string) Task {
	t := unknown(call)
	t.CustomerID, t.FirstAgentID = "K1", "A1"
	return t
}

// assignedTo is an already assigned task with open status.
func assignedTo(t Task, agent, team string) Task {
	t.AgentID, t.TeamID, t.Status, t.NextCheckAt = agent, team, StatusAssigned, t.DueAt
	return t
}

// addOpen gives agents open tasks of other callers, due tomorrow so the
// passes under test leave them alone.
func (e *env) addOpen(open map[string]int) {
	for agent, count := range open {
		for i := range count {
			task := unknown(fmt.Sprint("old-", agent, i))
			task.DueAt = start.Add(24 * time.Hour)
			e.store.add(assignedTo(task, agent, "north"))
		}
	}
}

func (e *env) pass(t *testing.T) {
	t.Helper()
	e.w.Pass(context.Background(), false)
}

func lastEvent(t Task) Event { return t.Events[len(t.Events)-1] }

func kinds(t Task) []EventKind {
	var ks []EventKind
	for _, ev := range t.Events {
		ks = append(ks, ev.Kind)
	}
	return ks
}

func TestAssignKnownCustomerToFirstAgentEvenOffline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.avail.set("B1", "A2") // A1 is offline
	id := e.store.add(known("c1"))
	e.pass(t)
	got := e.store.get(id)
	if got.Status != StatusAssigned || got.AgentID != "A1" || got.TeamID != "north" {
		t.Fatalf("task = %s %s/%s, want assigned A1/north", got.Status, got.AgentID, got.TeamID)
	}
	ev := lastEvent(got)
	if ev.Kind != EventAssigned || ev.AgentID != "A1" || !strings.Contains(ev.Note, "first agent") || !ev.At.Equal(start) {
		t.Errorf("event = %+v", ev)
	}
	if !got.NextCheckAt.Equal(got.DueAt) {
		t.Errorf("next check %s, want the due time %s", got.NextCheckAt, got.DueAt)
	}
	ns := e.notes.all()
	if len(ns) != 1 || ns[0].Kind != EventAssigned || ns[0].AgentID != "A1" || ns[0].Task.ID != id || ns[0].Key == "" {
		t.Fatalf("notices = %+v", ns)
	}
	if want := "New callback: call 13900139001 back (customer K1, loan, priority 5, due Mon 10:30). first agent of customer K1"; ns[0].Text != want {
		t.Errorf("notice text %q, want %q", ns[0].Text, want)
	}
}

func TestAssignUnknownToLeastLoaded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		online []string
		open   map[string]int // open tasks already assigned
		want   string         // "" = stays pending
	}{
		{name: "fewest open tasks", online: []string{"A2", "B1"}, open: map[string]int{"A2": 1}, want: "B1"},
		{name: "tie to the longest idle", online: []string{"B1", "A2"}, want: "B1"},
		{name: "tie to the longest idle, other order", online: []string{"A2", "B1"}, want: "A2"},
		{name: "offline agents are not chosen", online: []string{"A2"}, open: map[string]int{"A2": 3}, want: "A2"},
		{name: "only agents with the skill", online: []string{"A3", "L2"}, want: ""},
		{name: "nobody online", want: ""},
		{name: "leader with the skill counts", online: []string{"A1", "L1"}, open: map[string]int{"A1": 1}, want: "L1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Config{})
			e.avail.set(tt.online...)
			e.addOpen(tt.open)
			id := e.store.add(unknown("new"))
			e.pass(t)
			got := e.store.get(id)
			if tt.want == "" {
				if got.Status != StatusPending || got.AgentID != "" || len(got.Events) != 1 {
					t.Fatalf("task = %s %q events %v, want pending with no new event", got.Status, got.AgentID, kinds(got))
				}
				if !got.NextCheckAt.Equal(start.Add(DefaultInterval)) {
					t.Errorf("next check %s, want one interval later", got.NextCheckAt)
				}
				return
			}
			if got.Status != StatusAssigned || got.AgentID != tt.want {
				t.Fatalf("task = %s %q, want assigned to %s", got.Status, got.AgentID, tt.want)
			}
			if ev := lastEvent(got); ev.Kind != EventAssigned || !strings.Contains(ev.Note, "least loaded") {
				t.Errorf("event = %+v", ev)
			}
		})
	}
}

func TestBatchSpreadsAssignments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{BatchSize: 4}) // several batches in one pass
	e.avail.set("A1", "A2", "B1")
	var ids []int64
	for i := range 9 {
		ids = append(ids, e.store.add(unknown(string(rune('a'+i)))))
	}
	if n := e.w.Pass(context.Background(), false); n != 9 {
		t.Fatalf("pass worked %d tasks, want 9", n)
	}
	per := map[string]int{}
	for _, id := range ids {
		per[e.store.get(id).AgentID]++
	}
	if per["A1"] != 3 || per["A2"] != 3 || per["B1"] != 3 {
		t.Errorf("assignments per agent = %v, want 3 each", per)
	}
}

func TestNotOverdueIsLeftAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	task := assignedTo(known("c1"), "A1", "north")
	task.NextCheckAt = start // e.g. moved by hand, next check earlier than due
	id := e.store.add(task)
	e.pass(t)
	got := e.store.get(id)
	if len(got.Events) != 1 || got.Priority != 5 || !got.NextCheckAt.Equal(got.DueAt) {
		t.Errorf("task events %v priority %d next %s; want untouched, next check at due time", kinds(got), got.Priority, got.NextCheckAt)
	}
}

func TestChaseKnownCustomerRemindsThenEscalates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{RemindEvery: 10 * time.Minute, MaxReminders: 2, PriorityStep: 2})
	id := e.store.add(known("c1"))
	e.pass(t) // assigned to A1

	e.clock.advance(29 * time.Minute)
	e.pass(t)
	if got := e.store.get(id); len(got.Events) != 2 {
		t.Fatalf("before the due time: events %v", kinds(got))
	}

	steps := []struct {
		kind      EventKind
		agent     string
		priority  int
		reminders int
		escalated bool
	}{
		{EventReminded, "A1", 7, 1, false},
		{EventReminded, "A1", 9, 2, false},
		{EventEscalated, "L1", 11, 2, true},
		{EventReminded, "L1", 13, 3, true},
	}
	e.clock.advance(time.Minute) // due now
	for i, s := range steps {
		before := len(e.notes.all())
		e.pass(t)
		got := e.store.get(id)
		ev := lastEvent(got)
		if ev.Kind != s.kind || ev.AgentID != s.agent || got.AgentID != s.agent || got.Priority != s.priority ||
			got.Reminders != s.reminders || got.Escalated != s.escalated || got.Status != StatusAssigned {
			t.Fatalf("step %d: event %s/%s %q, task agent %s priority %d reminders %d escalated %v; want %+v",
				i, ev.Kind, ev.AgentID, ev.Note, got.AgentID, got.Priority, got.Reminders, got.Escalated, s)
		}
		if !got.NextCheckAt.Equal(e.clock.Now().Add(10 * time.Minute)) {
			t.Errorf("step %d: next check %s, want one period later", i, got.NextCheckAt)
		}
		ns := e.notes.all()[before:]
		if len(ns) != 1 || ns[0].Kind != s.kind || ns[0].AgentID != s.agent || ns[0].Task.Priority != s.priority ||
			!strings.HasPrefix(ns[0].Text, noticeTitles[s.kind]+": call 13900139001 back") || !strings.HasSuffix(ns[0].Text, ev.Note) {
			t.Errorf("step %d: notices %+v", i, ns)
		}
		// Nothing more happens until the next period.
		e.clock.advance(9 * time.Minute)
		e.pass(t)
		if n := len(e.store.get(id).Events); n != len(got.Events) {
			t.Fatalf("step %d: an action before the period was over", i)
		}
		e.clock.advance(time.Minute)
	}
	if got := e.store.get(id); got.TeamID != "north" {
		t.Errorf("escalated task team %q, want north", got.TeamID)
	}
}

func TestChaseUnknownCustomerReassigns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		online []string
		open   map[string]int
		want   EventKind
		agent  string
	}{
		{name: "same team first, even when busier", online: []string{"B1", "A1"}, open: map[string]int{"A1": 2}, want: EventReassigned, agent: "A1"},
		{name: "least loaded within the team", online: []string{"A1", "L1"}, open: map[string]int{"A1": 1}, want: EventReassigned, agent: "L1"},
		{name: "another team when the team has nobody", online: []string{"B1", "A3"}, want: EventReassigned, agent: "B1"},
		{name: "nobody else online: reminded", online: []string{"A2"}, want: EventReminded, agent: "A2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Config{})
			e.avail.set(tt.online...)
			e.addOpen(tt.open)
			id := e.store.add(assignedTo(unknown("c1"), "A2", "north"))
			e.clock.advance(31 * time.Minute)
			e.pass(t)
			got := e.store.get(id)
			ev := lastEvent(got)
			if ev.Kind != tt.want || got.AgentID != tt.agent || ev.AgentID != tt.agent {
				t.Fatalf("event %s to %s (%q), task with %s; want %s to %s", ev.Kind, ev.AgentID, ev.Note, got.AgentID, tt.want, tt.agent)
			}
			if got.Priority != 6 || got.Reminders != 1 || got.Escalated {
				t.Errorf("priority %d reminders %d escalated %v, want 6 1 false", got.Priority, got.Reminders, got.Escalated)
			}
			if tt.want == EventReassigned && !strings.Contains(ev.Note, "from A2") {
				t.Errorf("note %q does not say where it came from", ev.Note)
			}
		})
	}
}

func TestChaseUnknownCustomerEscalatesAfterCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxReminders: 2})
	e.avail.set("A1", "A2")
	id := e.store.add(unknown("c1"))
	e.pass(t)
	first := e.store.get(id).AgentID
	e.clock.advance(30 * time.Minute)
	for range 3 {
		e.pass(t)
		e.clock.advance(DefaultRemindEvery)
	}
	got := e.store.get(id)
	want := []EventKind{EventCreated, EventAssigned, EventReassigned, EventReassigned, EventEscalated}
	if !slices.Equal(kinds(got), want) {
		t.Fatalf("events %v, want %v", kinds(got), want)
	}
	if got.AgentID != "L1" || !got.Escalated {
		t.Errorf("task with %s escalated %v, want the leader L1", got.AgentID, got.Escalated)
	}
	// It went back and forth between the two online agents of the team.
	if a, b := got.Events[2].AgentID, got.Events[3].AgentID; a == first || b != first {
		t.Errorf("reassigned to %s then %s, first agent %s", a, b, first)
	}
}

func TestEscalateWithoutAnotherLeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, agent, team, note string
	}{
		{name: "team has no leader", agent: "S1", team: "solo", note: "no leader"},
		{name: "the agent is the leader", agent: "L1", team: "north", note: "leads the team"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Config{MaxReminders: 1})
			task := assignedTo(unknown("c1"), tt.agent, tt.team)
			task.Reminders = 1
			id := e.store.add(task)
			e.clock.advance(31 * time.Minute)
			e.pass(t)
			got := e.store.get(id)
			ev := lastEvent(got)
			if ev.Kind != EventEscalated || got.AgentID != tt.agent || !got.Escalated || !strings.Contains(ev.Note, tt.note) {
				t.Errorf("event %s %q, task with %s escalated %v", ev.Kind, ev.Note, got.AgentID, got.Escalated)
			}
		})
	}
}

func TestPresenceFailureDefersLeastLoaded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.avail.err = errors.New("redis down")
	pending := e.store.add(unknown("c1"))
	sticky := e.store.add(known("c2"))
	overdue := e.store.add(assignedTo(unknown("c3"), "A2", "north"))
	e.clock.advance(31 * time.Minute)
	e.pass(t)
	if got := e.store.get(pending); got.Status != StatusPending {
		t.Errorf("pending task %s, want still pending", got.Status)
	}
	if got := e.store.get(sticky); got.AgentID != "A1" {
		t.Errorf("known customer's task with %q, want A1 (no presence needed)", got.AgentID)
	}
	got := e.store.get(overdue)
	if len(got.Events) != 1 || got.Reminders != 0 || !got.NextCheckAt.Equal(e.clock.Now().Add(DefaultInterval)) {
		t.Errorf("overdue task events %v reminders %d next %s; want deferred one interval", kinds(got), got.Reminders, got.NextCheckAt)
	}
}

func TestLostLeaseIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.avail.set("A1")
	id := e.store.add(unknown("c1"))
	other := e.store.add(unknown("c2"))
	// While the worker holds its leases, an operator completes one task.
	e.store.beforeApply = func() {
		e.store.beforeApply = nil
		if _, err := e.w.Complete(context.Background(), id, "called from the CRM", "A2"); err != nil {
			t.Errorf("complete: %v", err)
		}
	}
	e.pass(t)
	got := e.store.get(id)
	if got.Status != StatusCompleted || got.AgentID != "" || !slices.Equal(kinds(got), []EventKind{EventCreated, EventCompleted}) {
		t.Errorf("completed task = %s %q %v; the worker's stale change must not land", got.Status, got.AgentID, kinds(got))
	}
	if got := e.store.get(other); got.AgentID != "A1" {
		t.Errorf("other task with %q, want A1", got.AgentID)
	}
	for _, n := range e.notes.all() {
		if n.Task.ID == id {
			t.Errorf("notice for a refused change: %+v", n)
		}
	}
}

func TestWorkerRespectsOtherLeases(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.avail.set("A1")
	id := e.store.add(unknown("c1"))
	if _, err := e.store.Lease(context.Background(), id, "someone-else", start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := e.w.Pass(context.Background(), false); n != 0 {
		t.Errorf("pass worked %d tasks leased by another worker", n)
	}
}

// A task that has waited long for an agent is looked at less and less often
// (half its age, up to RemindEvery), not rewritten every Interval all night.
func TestPendingTaskBacksOff(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		age, want time.Duration
	}{
		{0, DefaultInterval},
		{4 * time.Minute, 2 * time.Minute},
		{5 * time.Hour, DefaultRemindEvery},
	} {
		e := newEnv(t, Config{})
		task := unknown("new")
		task.CreatedAt = start.Add(-tt.age)
		id := e.store.add(task)
		e.pass(t)
		if got := e.store.get(id); got.Status != StatusPending || !got.NextCheckAt.Equal(start.Add(tt.want)) {
			t.Errorf("pending %s: next check %s, want %s later", tt.age, got.NextCheckAt, tt.want)
		}
	}
}
