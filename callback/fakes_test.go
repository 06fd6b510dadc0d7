package callback

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/stickyacd/stickyacd/routing"
)

// memStore is an in-memory Store with the lease rules of store.Tasks.
type memStore struct {
	mu     sync.Mutex
	tasks  map[int64]*memTask
	nextID int64
	// beforeApply, when set, runs (unlocked) at the start of Apply: tests
	// use it to act while a worker holds its leases.
	beforeApply func()
}

type memTask struct {
	Task
	owner string
	until time.Time
}

func newMemStore() *memStore { return &memStore{tasks: map[int64]*memTask{}} }

// add stores a task as step 04 would, due for assignment at once.
func (s *memStore) add(t Task) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	t.ID = s.nextID
	if t.Status == "" {
		t.Status = StatusPending
	}
	t.Events = append(t.Events, Event{Kind: EventCreated})
	s.tasks[t.ID] = &memTask{Task: t}
	return t.ID
}

func (s *memStore) get(id int64) Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[id].Task
	t.Events = slices.Clone(t.Events)
	return t
}

func (s *memStore) leaseOf(id int64) (string, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tasks[id].owner, s.tasks[id].until
}

func (s *memStore) Claim(_ context.Context, c Claim) ([]Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*memTask
	for _, t := range s.tasks {
		if (t.Status == StatusPending || t.Status == StatusAssigned) && t.owner == "" && !t.NextCheckAt.After(c.Now) {
			due = append(due, t)
		}
	}
	slices.SortFunc(due, func(a, b *memTask) int {
		return cmp.Or(a.NextCheckAt.Compare(b.NextCheckAt), cmp.Compare(a.ID, b.ID))
	})
	var out []Task
	for _, t := range due[:min(len(due), c.Limit)] {
		t.owner, t.until = c.Owner, c.Until
		out = append(out, t.plain())
	}
	return out, nil
}

func (t *memTask) plain() Task {
	p := t.Task
	p.Events = nil
	return p
}

func (s *memStore) Lease(_ context.Context, id int64, owner string, until time.Time) (Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[id]
	if !ok {
		return Task{}, fmt.Errorf("task %d: %w", id, ErrNotFound)
	}
	if !t.Status.Open() {
		return Task{}, fmt.Errorf("task %d: %w", id, ErrClosed)
	}
	t.owner, t.until = owner, until
	return t.plain(), nil
}

func (s *memStore) TakeTop(_ context.Context, agentID, owner string, now, until time.Time) (Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *memTask
	for _, t := range s.tasks {
		if t.AgentID != agentID || t.Status != StatusAssigned || t.owner != "" || (t.RetryAt != nil && t.RetryAt.After(now)) {
			continue
		}
		if best == nil || t.Priority > best.Priority ||
			(t.Priority == best.Priority && (t.DueAt.Before(best.DueAt) || (t.DueAt.Equal(best.DueAt) && t.ID < best.ID))) {
			best = t
		}
	}
	if best == nil {
		return Task{}, ErrNoTask
	}
	best.owner, best.until, best.Status = owner, until, StatusInProgress
	return best.plain(), nil
}

func (s *memStore) Apply(_ context.Context, owner string, changes []Change) ([]int64, error) {
	if s.beforeApply != nil {
		s.beforeApply()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var applied []int64
	for _, c := range changes {
		t, ok := s.tasks[c.Task.ID]
		if !ok || t.owner != owner {
			continue
		}
		events := append(t.Events, c.Events...)
		t.Task = c.Task
		t.Events = events
		t.owner, t.until = "", time.Time{}
		applied = append(applied, c.Task.ID)
	}
	if len(applied) < len(changes) {
		return applied, fmt.Errorf("%d of %d: %w", len(changes)-len(applied), len(changes), ErrLeaseLost)
	}
	return applied, nil
}

func (s *memStore) OpenCounts(_ context.Context, ids []string) (map[string]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := map[string]int{}
	for _, t := range s.tasks {
		if (t.Status == StatusAssigned || t.Status == StatusInProgress) && slices.Contains(ids, t.AgentID) {
			counts[t.AgentID]++
		}
	}
	return counts, nil
}

func (s *memStore) Rescue(_ context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tasks {
		if t.owner != "" && t.until.Before(now) {
			t.owner, t.until = "", time.Time{}
			if t.Status == StatusInProgress {
				t.Status = StatusAssigned
			}
			n++
		}
	}
	return n, nil
}

func (s *memStore) WakePending(_ context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tasks {
		if t.Status == StatusPending && t.NextCheckAt.After(now) {
			t.NextCheckAt = now
			n++
		}
	}
	return n, nil
}

// memDirectory is a fixed set of agents.
type memDirectory struct{ agents []routing.Agent }

func (d *memDirectory) AgentsWithSkill(_ context.Context, code string) ([]routing.Agent, error) {
	var out []routing.Agent
	for _, a := range d.agents {
		if slices.Contains(a.Skills, code) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (d *memDirectory) Agent(_ context.Context, id string) (routing.Agent, error) {
	for _, a := range d.agents {
		if a.ID == id {
			return a, nil
		}
	}
	return routing.Agent{}, fmt.Errorf("agent %s: %w", id, routing.ErrNotFound)
}

func (d *memDirectory) TeamLeader(_ context.Context, team string) (routing.Agent, error) {
	for _, a := range d.agents {
		if a.Team == team && a.Role == routing.RoleLeader {
			return a, nil
		}
	}
	return routing.Agent{}, fmt.Errorf("leader of %s: %w", team, routing.ErrNotFound)
}

// memAvailability has the online agents in longest-idle order.
type memAvailability struct {
	mu     sync.Mutex
	online []string
	err    error
}

func (a *memAvailability) set(ids ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.online = ids
}

func (a *memAvailability) OnlineAmong(_ context.Context, ids []string) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return nil, a.err
	}
	var out []string
	for _, id := range a.online {
		if slices.Contains(ids, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// manualClock moves only when told to.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// memNotifier records notices.
type memNotifier struct {
	mu      sync.Mutex
	notices []Notice
}

func (n *memNotifier) Notify(x Notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notices = append(n.notices, x)
}

func (n *memNotifier) all() []Notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.notices)
}

// fakeCall is the agent's channel with a scripted bridge outcome.
type fakeCall struct {
	result    routing.BridgeResult
	bridgeErr error
	answerErr error
	played    []string
	said      []string
	dials     []Dial
	hungUp    bool
}

func (f *fakeCall) Answer(context.Context) error { return f.answerErr }

func (f *fakeCall) Playback(_ context.Context, sound string) error {
	f.played = append(f.played, sound)
	return nil
}

func (f *fakeCall) Say(_ context.Context, digits string) error {
	f.said = append(f.said, digits)
	return nil
}

func (f *fakeCall) Bridge(_ context.Context, d Dial) (routing.BridgeResult, error) {
	f.dials = append(f.dials, d)
	return f.result, f.bridgeErr
}

func (f *fakeCall) Hangup(context.Context, string) error {
	f.hungUp = true
	return nil
}
