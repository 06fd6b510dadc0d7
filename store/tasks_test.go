package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/store"
)

func TestTasksCreateIsIdempotent(t *testing.T) {
	t.Parallel()
	db := taskDB(t)
	s := store.NewTasks(db, store.TasksOptions{})
	nt := newTask("call-1")
	nt.CustomerID = "K1"
	first := mustCreate(t, s, nt)
	if again := mustCreate(t, s, nt); again != first {
		t.Fatalf("second create returned %d, want %d", again, first)
	}
	// Concurrent creates of one call, as a replayed spool racing a retry.
	var g errgroup.Group
	ids := make([]int64, 8)
	for i := range ids {
		g.Go(func() error {
			var err error
			ids[i], err = s.CreateTask(context.Background(), newTask("call-2"))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if ids[0] == 0 || slices.ContainsFunc(ids, func(id int64) bool { return id != ids[0] }) {
		t.Errorf("concurrent creates returned %v, want one ID", ids)
	}
	var tasks, events int
	if err := db.SQL().GetContext(context.Background(), &tasks, `SELECT count(*) FROM callback_tasks`); err != nil {
		t.Fatal(err)
	}
	if err := db.SQL().GetContext(context.Background(), &events, `SELECT count(*) FROM callback_events WHERE kind = 'created'`); err != nil {
		t.Fatal(err)
	}
	if tasks != 2 || events != 2 {
		t.Errorf("%d tasks, %d created events; want 2 and 2", tasks, events)
	}
	got := mustTask(t, s, first)
	if got.Status != callback.StatusPending || got.CustomerID != "K1" || got.FirstAgentID != "A1" || got.Priority != 10 ||
		!got.DueAt.Equal(nt.DueAt) || !slices.Equal(eventKinds(got), []callback.EventKind{callback.EventCreated}) {
		t.Errorf("stored %+v", got)
	}
}

func TestTasksCreateRefusesBadData(t *testing.T) {
	t.Parallel()
	s := store.NewTasks(taskDB(t), store.TasksOptions{})
	nt := newTask("call-1")
	nt.BusinessType = "mortgage"
	if _, err := s.CreateTask(context.Background(), nt); err == nil {
		t.Fatal("a task of an unknown business type was accepted")
	}
}

func TestTasksClaimOrderAndLease(t *testing.T) {
	t.Parallel()
	db := taskDB(t)
	s := store.NewTasks(db, store.TasksOptions{})
	ctx := context.Background()
	// Four tasks; then set their next checks and states by hand.
	ids := map[string]int64{}
	for _, c := range []string{"late", "soon-low", "soon-high", "new", "future", "done", "calling"} {
		ids[c] = mustCreate(t, s, newTask(c))
	}
	set := func(call, assignments string) { setTask(t, db, call, assignments) }
	set("late", `status = 'assigned', agent_id = 'A1', next_check_at = '2026-11-30T09:00:00Z'`)
	set("soon-low", `status = 'assigned', agent_id = 'A1', next_check_at = '2026-11-30T09:30:00Z', priority = 1`)
	set("soon-high", `status = 'assigned', agent_id = 'A1', next_check_at = '2026-11-30T09:30:00Z', priority = 20`)
	set("future", `status = 'assigned', agent_id = 'A1', next_check_at = '2026-11-30T11:00:00Z'`)
	set("done", `status = 'completed', completed_at = now()`)
	set("calling", `status = 'in_progress', agent_id = 'A1'`)

	claim := func(owner string, limit int) []string {
		tasks, err := s.Claim(ctx, callback.Claim{Owner: owner, Now: taskT0, Until: taskT0.Add(time.Minute), Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		var calls []string
		for _, task := range tasks {
			calls = append(calls, task.CallUUID)
		}
		return calls
	}
	// New tasks first (next check at the epoch), then by next check, then
	// by priority.
	if got, want := claim("w1", 3), []string{"new", "late", "soon-high"}; !slices.Equal(got, want) {
		t.Errorf("first claim %v, want %v", got, want)
	}
	if got, want := claim("w2", 10), []string{"soon-low"}; !slices.Equal(got, want) {
		t.Errorf("second claim %v, want %v (leased, future, closed and in-progress tasks are not due)", got, want)
	}
	var owner string
	if err := db.SQL().GetContext(ctx, &owner, `SELECT lease_owner FROM callback_tasks WHERE call_uuid = 'late'`); err != nil || owner != "w1" {
		t.Errorf("lease owner %q, %v; want w1", owner, err)
	}
	tasks, err := s.Claim(ctx, callback.Claim{Owner: "w3", Now: taskT0, Until: taskT0.Add(time.Minute), Limit: 10})
	if err != nil || len(tasks) != 0 {
		t.Errorf("third claim %d tasks, %v; want none", len(tasks), err)
	}
}

// An in_progress task with no lease (its next_callback call was taken over)
// goes back to assigned at the next rescue.
func TestTasksRescueUnleasedCall(t *testing.T) {
	t.Parallel()
	db := taskDB(t)
	s := store.NewTasks(db, store.TasksOptions{})
	ctx := context.Background()
	id := mustCreate(t, s, newTask("call-1"))
	if _, err := db.SQL().ExecContext(ctx, `UPDATE callback_tasks SET status = 'in_progress', agent_id = 'A1', lease_owner = NULL, lease_until = NULL WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Rescue(ctx, taskT0); err != nil || n != 1 {
		t.Fatalf("rescue returned %d, %v; want 1", n, err)
	}
	task, err := s.Task(ctx, id)
	if err != nil || task.Status != callback.StatusAssigned || task.AgentID != "A1" {
		t.Fatalf("task %s %s, %v; want assigned to A1", task.Status, task.AgentID, err)
	}
}

func TestTasksFinishRefusedAfterLeaseLost(t *testing.T) {
	t.Parallel()
	db := taskDB(t)
	s := store.NewTasks(db, store.TasksOptions{})
	ctx := context.Background()
	id := mustCreate(t, s, newTask("call-1"))
	claimed, err := s.Claim(ctx, callback.Claim{Owner: "slow", Now: taskT0, Until: taskT0.Add(30 * time.Second), Limit: 10})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %d, %v", len(claimed), err)
	}
	// The lease runs out and is rescued; another worker claims the task.
	if n, err := s.Rescue(ctx, taskT0.Add(time.Second)); err != nil || n != 0 {
		t.Fatalf("rescue before the end of the lease returned %d, %v", n, err)
	}
	if n, err := s.Rescue(ctx, taskT0.Add(31*time.Second)); err != nil || n != 1 {
		t.Fatalf("rescue returned %d, %v; want 1", n, err)
	}
	later := taskT0.Add(time.Minute)
	again, err := s.Claim(ctx, callback.Claim{Owner: "fast", Now: later, Until: later.Add(30 * time.Second), Limit: 10})
	if err != nil || len(again) != 1 || again[0].ID != id {
		t.Fatalf("claim after rescue: %v, %v", again, err)
	}

	stale := callback.Change{Task: claimed[0], Events: []callback.Event{{At: later, Kind: callback.EventAssigned, AgentID: "B1", Note: "stale"}}}
	stale.Task.Status, stale.Task.AgentID = callback.StatusAssigned, "B1"
	applied, err := s.Apply(ctx, "slow", []callback.Change{stale})
	if !errors.Is(err, callback.ErrLeaseLost) || len(applied) != 0 {
		t.Fatalf("stale finish: applied %v, %v; want ErrLeaseLost", applied, err)
	}
	fresh := callback.Change{Task: again[0], Events: []callback.Event{{At: later, Kind: callback.EventAssigned, AgentID: "A2", Note: "fresh"}}}
	fresh.Task.Status, fresh.Task.AgentID, fresh.Task.TeamID = callback.StatusAssigned, "A2", "north"
	if applied, err := s.Apply(ctx, "fast", []callback.Change{fresh}); err != nil || !slices.Equal(applied, []int64{id}) {
		t.Fatalf("fresh finish: %v, %v", applied, err)
	}
	got := mustTask(t, s, id)
	if got.AgentID != "A2" || got.TeamID != "north" || !slices.Equal(eventKinds(got), []callback.EventKind{callback.EventCreated, callback.EventAssigned}) ||
		got.Events[1].Note != "fresh" {
		t.Errorf("task %s/%s events %+v; only the fresh change may land", got.AgentID, got.TeamID, got.Events)
	}
	// A finish after the lease was given up is refused too.
	if _, err := s.Apply(ctx, "fast", []callback.Change{fresh}); !errors.Is(err, callback.ErrLeaseLost) {
		t.Errorf("second finish: %v, want ErrLeaseLost", err)
	}
}

func TestTasksLease(t *testing.T) {
	t.Parallel()
	db := taskDB(t)
	s := store.NewTasks(db, store.TasksOptions{})
	ctx := context.Background()
	id := mustCreate(t, s, newTask("call-1"))
	if _, err := s.Claim(ctx, callback.Claim{Owner: "worker", Now: taskT0, Until: taskT0.Add(time.Minute), Limit: 1}); err != nil {
		t.Fatal(err)
	}
	// An operator takes the task over from the worker.
	task, err := s.Lease(ctx, id, "operator", taskT0.Add(time.Minute))
	if err != nil || task.ID != id {
		t.Fatalf("lease: %v, %v", task.ID, err)
	}
	done := callback.Change{Task: task}
	now := taskT0.Add(time.Second)
	done.Task.Status, done.Task.Outcome, done.Task.CompletedAt = callback.StatusCompleted, "done", &now
	if _, err := s.Apply(ctx, "worker", []callback.Change{done}); !errors.Is(err, callback.ErrLeaseLost) {
		t.Errorf("worker's finish: %v, want ErrLeaseLost", err)
	}
	if _, err := s.Apply(ctx, "operator", []callback.Change{done}); err != nil {
		t.Fatal(err)
	}
	if got := mustTask(t, s, id); got.Status != callback.StatusCompleted || got.CompletedAt == nil || !got.CompletedAt.Equal(now) || got.Outcome != "done" {
		t.Errorf("stored %+v", got)
	}
	if _, err := s.Lease(ctx, id, "operator", taskT0); !errors.Is(err, callback.ErrClosed) {
		t.Errorf("lease of a completed task: %v, want ErrClosed", err)
	}
	_, err = s.Lease(ctx, 424242, "operator", taskT0)
	if !errors.Is(err, callback.ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("lease of a missing task: %v, want callback.ErrNotFound and store.ErrNotFound", err)
	}
	if _, err := s.Task(ctx, 424242); !errors.Is(err, callback.ErrNotFound) {
		t.Errorf("missing task: %v, want ErrNotFound", err)
	}
}

func TestTasksTakeTop(t *testing.T) {
	t.Parallel()
	db := taskDB(t)
	s := store.NewTasks(db, store.TasksOptions{})
	ctx := context.Background()
	for _, c := range []string{"low", "high-late", "high-soon", "retry-later", "other-agent", "no-caller"} {
		mustCreate(t, s, newTask(c))
	}
	set := func(call, assignments string) { setTask(t, db, call, "status = 'assigned', "+assignments) }
	set("low", `agent_id = 'A1', priority = 1`)
	set("high-late", `agent_id = 'A1', priority = 30, due_at = '2026-11-30T12:00:00Z'`)
	set("high-soon", `agent_id = 'A1', priority = 30, due_at = '2026-11-30T11:00:00Z'`)
	set("retry-later", `agent_id = 'A1', priority = 99, retry_at = '2026-11-30T10:30:00Z'`)
	set("other-agent", `priority = 99, agent_id = 'A2'`)
	set("no-caller", `agent_id = 'A1', priority = 20, caller = '', customer_id = 'K1'`)

	var order []string
	for {
		task, err := s.TakeTop(ctx, "A1", "call", taskT0, taskT0.Add(time.Hour))
		if errors.Is(err, callback.ErrNoTask) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != callback.StatusInProgress {
			t.Errorf("%s: status %s, want in_progress", task.CallUUID, task.Status)
		}
		if task.CallUUID == "no-caller" && task.Caller != "13900139001" {
			t.Errorf("no-caller task dials %q, want the customer's phone", task.Caller)
		}
		order = append(order, task.CallUUID)
	}
	if want := []string{"high-soon", "high-late", "no-caller", "low"}; !slices.Equal(order, want) {
		t.Errorf("taken in order %v, want %v", order, want)
	}
	// After its retry time the postponed task is offered.
	task, err := s.TakeTop(ctx, "A1", "call", taskT0.Add(31*time.Minute), taskT0.Add(time.Hour))
	if err != nil || task.CallUUID != "retry-later" {
		t.Errorf("after the retry time: %v, %v", task.CallUUID, err)
	}
	// A call that never reports back is returned by the rescuer.
	if n, err := s.Rescue(ctx, taskT0.Add(2*time.Hour)); err != nil || n != 5 {
		t.Fatalf("rescue: %d, %v; want 5", n, err)
	}
	var inProgress int
	if err := db.SQL().GetContext(ctx, &inProgress, `SELECT count(*) FROM callback_tasks WHERE status = 'in_progress'`); err != nil || inProgress != 0 {
		t.Errorf("%d tasks still in progress after the rescue, %v", inProgress, err)
	}
}

func TestTasksOpenCountsAndWake(t *testing.T) {
	t.Parallel()
	db := taskDB(t)
	s := store.NewTasks(db, store.TasksOptions{})
	ctx := context.Background()
	for i := range 5 {
		mustCreate(t, s, newTask(fmt.Sprint("c", i)))
	}
	for _, q := range []string{
		`UPDATE callback_tasks SET status = 'assigned', agent_id = 'A1' WHERE call_uuid IN ('c0', 'c1')`,
		`UPDATE callback_tasks SET status = 'in_progress', agent_id = 'A1' WHERE call_uuid = 'c2'`,
		`UPDATE callback_tasks SET status = 'completed', agent_id = 'A2', completed_at = now() WHERE call_uuid = 'c3'`,
		`UPDATE callback_tasks SET next_check_at = '2026-11-30T11:00:00Z' WHERE call_uuid = 'c4'`,
	} {
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := s.OpenCounts(ctx, []string{"A1", "A2", "B1"})
	if err != nil || len(counts) != 1 || counts["A1"] != 3 {
		t.Errorf("counts %v, %v; want A1:3", counts, err)
	}
	// A whole directory's list is counted another way, with the same answer.
	many := []string{"A1", "A2", "B1"}
	for i := range 2000 {
		many = append(many, fmt.Sprint("X", i))
	}
	if counts, err := s.OpenCounts(ctx, many); err != nil || len(counts) != 1 || counts["A1"] != 3 {
		t.Errorf("counts of %d agents %v, %v; want A1:3", len(many), counts, err)
	}
	if counts, err := s.OpenCounts(ctx, many[1:]); err != nil || len(counts) != 0 {
		t.Errorf("counts of %d agents without A1 %v, %v; want none", len(many)-1, counts, err)
	}
	if n, err := s.WakePending(ctx, taskT0); err != nil || n != 1 {
		t.Errorf("woke %d, %v; want the one pending task checked later", n, err)
	}
}

func TestTasksListFiltersAndJSON(t *testing.T) {
	t.Parallel()
	db := taskDB(t)
	s := store.NewTasks(db, store.TasksOptions{})
	ctx := context.Background()
	w := newTaskWorker(t, s, "w", 100)
	known := newTask("known")
	known.CustomerID = "K1"
	mustCreate(t, s, known)
	for i := range 3 {
		mustCreate(t, s, newTask(fmt.Sprint("unknown-", i)))
	}
	w.Pass(ctx, false)
	done, err := s.List(ctx, store.TaskFilter{AgentID: "A1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) == 0 {
		t.Fatal("no task of A1")
	}
	tests := []struct {
		name   string
		filter store.TaskFilter
		want   func(callback.Task) bool
		count  int
	}{
		{name: "all", count: 4, want: func(callback.Task) bool { return true }},
		{name: "by agent", filter: store.TaskFilter{AgentID: "A1"}, count: len(done), want: func(t callback.Task) bool { return t.AgentID == "A1" }},
		{name: "by status", filter: store.TaskFilter{Status: callback.StatusAssigned}, count: 4, want: func(t callback.Task) bool { return t.Status == callback.StatusAssigned }},
		{name: "by status, none", filter: store.TaskFilter{Status: callback.StatusCompleted}, count: 0},
		{name: "limit", filter: store.TaskFilter{Limit: 2}, count: 2, want: func(callback.Task) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.List(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.count {
				t.Fatalf("%d tasks, want %d", len(got), tt.count)
			}
			for _, task := range got {
				if !tt.want(task) || len(task.Events) != 2 {
					t.Errorf("task %+v", task)
				}
			}
		})
	}
	if _, err := s.List(ctx, store.TaskFilter{Status: "done"}); !errors.Is(err, store.ErrBadFilter) {
		t.Errorf("unknown status: %v, want ErrBadFilter", err)
	}
	open, err := s.List(ctx, store.TaskFilter{Status: store.StatusOpen})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range open {
		if !task.Status.Open() {
			t.Errorf("open list holds a %s task", task.Status)
		}
	}

	// The JSON field names are the external contract of DESIGN.md §4.6.
	raw, err := json.Marshal(done[0])
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "call_uuid", "customer_id", "caller", "business_type", "agent_id", "priority", "status", "due_at", "attempts", "events"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("task JSON lacks %q: %s", k, raw)
		}
	}
	var events []map[string]json.RawMessage
	if err := json.Unmarshal(fields["events"], &events); err != nil || len(events) != 2 {
		t.Fatalf("events %s: %v", fields["events"], err)
	}
	for _, k := range []string{"at", "kind", "agent_id", "note"} {
		if _, ok := events[1][k]; !ok {
			t.Errorf("event JSON lacks %q: %s", k, fields["events"])
		}
	}
	if !strings.Contains(string(fields["events"]), `"kind":"assigned"`) {
		t.Errorf("events %s", fields["events"])
	}
}

// TestTasksWorkersInParallel: three workers over one schema assign each of
// 10 000 tasks exactly once.
func TestTasksWorkersInParallel(t *testing.T) {
	t.Parallel()
	const n = 10000
	db := taskDB(t)
	s := store.NewTasks(db, store.TasksOptions{WebhookOutbox: true})
	ctx := context.Background()
	insertTasks(t, db, n, "par")

	var g errgroup.Group
	var mu sync.Mutex
	worked := map[string]int{}
	for _, owner := range []string{"w1", "w2", "w3"} {
		w := newTaskWorker(t, s, owner, 200)
		g.Go(func() error {
			k := w.Pass(ctx, false)
			mu.Lock()
			worked[owner] = k
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if k := newTaskWorker(t, s, "check", 200).Pass(ctx, false); k != 0 {
		t.Errorf("a pass after the workers found %d tasks due", k)
	}
	total := 0
	for _, k := range worked {
		total += k
	}
	if total != n {
		t.Errorf("workers worked %v = %d tasks, want %d", worked, total, n)
	}
	var check struct {
		Assigned   int `db:"assigned"`
		Events     int `db:"events"`
		TwiceOrNot int `db:"twice_or_not"`
		Leased     int `db:"leased"`
		Outbox     int `db:"outbox"`
	}
	err := db.SQL().GetContext(ctx, &check, `
SELECT (SELECT count(*) FROM callback_tasks WHERE status = 'assigned' AND agent_id IS NOT NULL) AS assigned,
       (SELECT count(*) FROM callback_events WHERE kind = 'assigned') AS events,
       (SELECT count(*) FROM (SELECT task_id FROM callback_events WHERE kind = 'assigned'
                               GROUP BY task_id HAVING count(*) <> 1) x) AS twice_or_not,
       (SELECT count(*) FROM callback_tasks WHERE lease_owner IS NOT NULL) AS leased,
       (SELECT count(*) FROM callback_outbox) AS outbox`)
	if err != nil {
		t.Fatal(err)
	}
	if check.Assigned != n || check.Events != n || check.TwiceOrNot != 0 || check.Leased != 0 || check.Outbox != n {
		t.Errorf("after the workers: %+v; want %d assigned, %d assigned events, none twice, no lease left, one notice each", check, n, n)
	}
	var perAgent []int
	if err := db.SQL().SelectContext(ctx, &perAgent, `SELECT count(*) FROM callback_tasks GROUP BY agent_id`); err != nil {
		t.Fatal(err)
	}
	sort.Ints(perAgent)
	if len(perAgent) != 4 || perAgent[3]-perAgent[0] > n/10 {
		t.Errorf("tasks per agent %v, want them spread over the 4 agents with the skill", perAgent)
	}
}

// setTask changes a task's columns by hand.
func setTask(t testing.TB, db *store.DB, call, assignments string) {
	t.Helper()
	if _, err := db.SQL().ExecContext(context.Background(), `UPDATE callback_tasks SET `+assignments+` WHERE call_uuid = $1`, call); err != nil {
		t.Fatal(err)
	}
}

// insertTasks adds n pending loan tasks of unknown callers in one statement.
func insertTasks(t testing.TB, db *store.DB, n int, prefix string) {
	t.Helper()
	_, err := db.SQL().ExecContext(context.Background(), `
INSERT INTO callback_tasks (call_uuid, caller, business_type, priority, due_at, next_check_at)
SELECT $2 || '-' || g, '139' || lpad(g::text, 8, '0'), 'loan', 10, now() + interval '30 minutes', 'epoch'
  FROM generate_series(1, $1) g`, n, prefix)
	if err != nil {
		t.Fatal(err)
	}
}

// TestTasksWorkerChasesOnPostgres runs step 06 end to end on the real store:
// an unknown customer's overdue task is reassigned within the team, then
// escalated to the leader, with notices in the outbox.
func TestTasksWorkerChasesOnPostgres(t *testing.T) {
	t.Parallel()
	db := taskDB(t)
	s := store.NewTasks(db, store.TasksOptions{WebhookOutbox: true})
	ctx := context.Background()
	clock := &taskClock{now: taskT0}
	w, err := callback.NewWorker(callback.Config{Owner: "w", MaxReminders: 1, Location: time.UTC},
		callback.Deps{Store: s, Directory: fixtureAgents, Availability: onlineOnly{"A2", "A1"}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	id := mustCreate(t, s, newTask("call-1"))
	w.Pass(ctx, false)
	clock.now = taskT0.Add(31 * time.Minute)
	w.Pass(ctx, false)
	clock.now = clock.now.Add(callback.DefaultRemindEvery)
	w.Pass(ctx, false)
	got := mustTask(t, s, id)
	want := []callback.EventKind{callback.EventCreated, callback.EventAssigned, callback.EventReassigned, callback.EventEscalated}
	if !slices.Equal(eventKinds(got), want) {
		t.Fatalf("events %v, want %v", eventKinds(got), want)
	}
	if got.AgentID != "L1" || !got.Escalated || got.Priority != 12 || got.Reminders != 1 {
		t.Errorf("task %+v", got)
	}
	if ev := got.Events[2]; ev.AgentID != "A1" || !ev.At.Equal(taskT0.Add(31*time.Minute)) {
		t.Errorf("reassignment %+v, want to A1 (same team, online) at the injected time", ev)
	}
	var kinds []string
	if err := db.SQL().SelectContext(ctx, &kinds, `SELECT body->>'kind' FROM callback_outbox WHERE task_id = $1 ORDER BY id`, id); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kinds, []string{"assigned", "reassigned", "escalated"}) {
		t.Errorf("outbox notices %v", kinds)
	}
}

type taskClock struct{ now time.Time }

func (c *taskClock) Now() time.Time { return c.now }

// onlineOnly reports these agents online, in this order.
type onlineOnly []string

func (o onlineOnly) OnlineAmong(_ context.Context, ids []string) ([]string, error) {
	var out []string
	for _, id := range o {
		if slices.Contains(ids, id) {
			out = append(out, id)
		}
	}
	return out, nil
}
