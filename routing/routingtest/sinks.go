package routingtest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/stickyacd/stickyacd/routing"
)

// Tasks is an in-memory routing.TaskSink, idempotent by call UUID like the
// real one. Fail("CreateTask", err) makes it fail; Spool makes it answer
// (0, nil), as the spooling decorator does when PostgreSQL is down.
type Tasks struct {
	faults

	mu     sync.Mutex
	spool  bool
	calls  int
	byCall map[string]int64
	tasks  []routing.NewTask
}

var _ routing.TaskSink = (*Tasks)(nil)

// NewTasks returns an empty sink.
func NewTasks() *Tasks { return &Tasks{byCall: map[string]int64{}} }

// Spool switches spooling on or off.
func (t *Tasks) Spool(on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.spool = on
}

// CreateTask implements routing.TaskSink; task IDs count from 1.
func (t *Tasks) CreateTask(ctx context.Context, nt routing.NewTask) (int64, error) {
	t.mu.Lock()
	t.calls++
	t.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("create task: %w", err)
	}
	if err := t.failure("CreateTask"); err != nil {
		return 0, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id, ok := t.byCall[nt.CallUUID]
	if !ok {
		t.tasks = append(t.tasks, nt)
		id = int64(len(t.tasks))
		t.byCall[nt.CallUUID] = id
	}
	if t.spool {
		return 0, nil
	}
	return id, nil
}

// Tasks returns the distinct tasks created, in order.
func (t *Tasks) Tasks() []routing.NewTask {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.tasks)
}

// Calls returns how many times CreateTask was called.
func (t *Tasks) Calls() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.calls
}

// Records is an in-memory routing.CallRecords keeping a copy of each trace.
type Records struct {
	faults

	mu     sync.Mutex
	traces map[string]routing.Trace
}

var _ routing.CallRecords = (*Records)(nil)

// NewRecords returns an empty store.
func NewRecords() *Records { return &Records{traces: map[string]routing.Trace{}} }

// SaveCall implements routing.CallRecords (an upsert by UUID).
func (r *Records) SaveCall(ctx context.Context, t *routing.Trace) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save call: %w", err)
	}
	if err := r.failure("SaveCall"); err != nil {
		return err
	}
	c := *t
	c.Steps = make([]routing.StepTrace, len(t.Steps))
	for i, s := range t.Steps {
		s.Candidates = slices.Clone(s.Candidates)
		c.Steps[i] = s
	}
	if t.TaskID != nil {
		id := *t.TaskID
		c.TaskID = &id
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.traces[t.UUID] = c
	return nil
}

// Call returns the saved trace of a call.
func (r *Records) Call(uuid string) (routing.Trace, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.traces[uuid]
	return t, ok
}

// Pop is one screen pop sent to an agent.
type Pop struct {
	AgentID string
	routing.ScreenPop
}

// Notifier is an in-memory routing.Notifier.
type Notifier struct {
	mu   sync.Mutex
	pops []Pop
}

var _ routing.Notifier = (*Notifier)(nil)

// ScreenPop implements routing.Notifier.
func (n *Notifier) ScreenPop(agentID string, p routing.ScreenPop) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pops = append(n.pops, Pop{AgentID: agentID, ScreenPop: p})
}

// Pops returns the screen pops sent, in order.
func (n *Notifier) Pops() []Pop {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.pops)
}
