package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/store"
	"github.com/stickyacd/stickyacd/store/storetest"
)

// taskFixtureSQL: two business types, teams north (A1, A2, leader L1) and
// south (B1), customer K1 (first agent A1, phone 13900139001) and K2 (no
// first agent, phone 13900139002).
const taskFixtureSQL = `
INSERT INTO business_types (code, digit, name, callback_due, priority) VALUES
    ('loan', 1, 'Loans', '30 minutes', 10), ('card', 2, 'Credit cards', '45 minutes', 5);
INSERT INTO teams (id) VALUES ('north'), ('south');
INSERT INTO agents (id, name, extension, team_id, role) VALUES
    ('A1', 'Ann', '2001', 'north', 'agent'), ('A2', 'Ben', '2002', 'north', 'agent'),
    ('L1', 'Lea', '2009', 'north', 'leader'), ('B1', 'Bo', '3001', 'south', 'agent');
INSERT INTO agent_skills (agent_id, business_type) VALUES
    ('A1', 'loan'), ('A1', 'card'), ('A2', 'loan'), ('L1', 'loan'), ('B1', 'loan');
INSERT INTO customers (id, name, first_agent_id) VALUES ('K1', 'Kay', 'A1'), ('K2', 'Kim', NULL);
INSERT INTO customer_phones (phone, customer_id) VALUES ('13900139001', 'K1'), ('13900139002', 'K2');
`

// taskDB is a fresh schema with the task fixture.
func taskDB(t testing.TB) *store.DB {
	t.Helper()
	db := storetest.PG(t)
	if _, err := db.SQL().ExecContext(context.Background(), taskFixtureSQL); err != nil {
		t.Fatalf("task fixture: %v", err)
	}
	return db
}

// taskT0 is a Monday morning.
var taskT0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func newTask(call string) routing.NewTask {
	return routing.NewTask{CallUUID: call, Caller: "13911112222", BusinessType: "loan", Priority: 10, DueAt: taskT0.Add(30 * time.Minute)}
}

func mustCreate(t testing.TB, s *store.Tasks, nt routing.NewTask) int64 {
	t.Helper()
	id, err := s.CreateTask(context.Background(), nt)
	if err != nil {
		t.Fatalf("create task %s: %v", nt.CallUUID, err)
	}
	return id
}

func mustTask(t testing.TB, s *store.Tasks, id int64) callback.Task {
	t.Helper()
	task, err := s.Task(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func eventKinds(task callback.Task) []callback.EventKind {
	var ks []callback.EventKind
	for _, ev := range task.Events {
		ks = append(ks, ev.Kind)
	}
	return ks
}

// taskAgents is a fixed directory matching taskFixtureSQL, for worker tests
// whose subject is the task store, not the agent snapshot.
type taskAgents []routing.Agent

var fixtureAgents = taskAgents{
	{ID: "A1", Team: "north", Role: routing.RoleAgent, Skills: []string{"loan", "card"}},
	{ID: "A2", Team: "north", Role: routing.RoleAgent, Skills: []string{"loan"}},
	{ID: "L1", Team: "north", Role: routing.RoleLeader, Skills: []string{"loan"}},
	{ID: "B1", Team: "south", Role: routing.RoleAgent, Skills: []string{"loan"}},
}

func (as taskAgents) AgentsWithSkill(_ context.Context, code string) ([]routing.Agent, error) {
	var out []routing.Agent
	for _, a := range as {
		if slices.Contains(a.Skills, code) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (as taskAgents) Agent(_ context.Context, id string) (routing.Agent, error) {
	for _, a := range as {
		if a.ID == id {
			return a, nil
		}
	}
	return routing.Agent{}, fmt.Errorf("agent %s: %w", id, routing.ErrNotFound)
}

func (as taskAgents) TeamLeader(_ context.Context, team string) (routing.Agent, error) {
	for _, a := range as {
		if a.Team == team && a.Role == routing.RoleLeader {
			return a, nil
		}
	}
	return routing.Agent{}, fmt.Errorf("leader of %s: %w", team, routing.ErrNotFound)
}

// allOnline reports every agent online, in the order asked.
type allOnline struct{}

func (allOnline) OnlineAmong(_ context.Context, ids []string) ([]string, error) { return ids, nil }

func newTaskWorker(t testing.TB, s *store.Tasks, owner string, batch int) *callback.Worker {
	t.Helper()
	w, err := callback.NewWorker(callback.Config{Owner: owner, BatchSize: batch, Location: time.UTC},
		callback.Deps{Store: s, Directory: fixtureAgents, Availability: allOnline{}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}
