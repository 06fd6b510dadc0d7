package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/routing"
)

// Tasks is the PostgreSQL store of callback tasks: routing.TaskSink for
// step 04, callback.Store for the worker, and the reads of the HTTP API.
//
// Leases: Claim, Lease and TakeTop write lease_owner and lease_until; Apply
// changes only rows whose lease_owner is still the caller's, and clears it.
// A worker whose lease was rescued or taken over is thereby refused
// (callback.ErrLeaseLost) instead of overwriting a newer decision.
type Tasks struct {
	db     *DB
	outbox bool
}

// TasksOptions tunes Tasks.
type TasksOptions struct {
	// WebhookOutbox writes each notice into callback_outbox in the statement
	// that appends its event, for callback/webhook to deliver. Leave it off
	// when no webhook is configured, or the outbox grows undelivered.
	WebhookOutbox bool
}

var (
	_ routing.TaskSink   = (*Tasks)(nil)
	_ callback.Store     = (*Tasks)(nil)
	_ callback.Directory = (*Repo)(nil)
)

// ErrBadFilter: a task list filter names an unknown status.
var ErrBadFilter = errors.New("bad task filter")

// NewTasks returns the task store on db.
func NewTasks(db *DB, o TasksOptions) *Tasks { return &Tasks{db: db, outbox: o.WebhookOutbox} }

// taskColumns are the columns of taskRow, for a callback_tasks row aliased t.
const taskColumns = `t.id, t.call_uuid, t.customer_id, t.caller, t.business_type, t.agent_id, t.team_id,
 t.priority, t.status, t.due_at, t.attempts, t.reminders, t.escalated, t.abandoned, t.outcome,
 t.retry_at, t.next_check_at, t.created_at, t.updated_at, t.completed_at,
 (SELECT c.first_agent_id FROM customers c WHERE c.id = t.customer_id) AS first_agent_id`

type taskRow struct {
	ID           int64          `db:"id"`
	CallUUID     string         `db:"call_uuid"`
	CustomerID   sql.NullString `db:"customer_id"`
	Caller       string         `db:"caller"`
	BusinessType string         `db:"business_type"`
	AgentID      sql.NullString `db:"agent_id"`
	TeamID       sql.NullString `db:"team_id"`
	Priority     int            `db:"priority"`
	Status       string         `db:"status"`
	DueAt        time.Time      `db:"due_at"`
	Attempts     int            `db:"attempts"`
	Reminders    int            `db:"reminders"`
	Escalated    bool           `db:"escalated"`
	Abandoned    bool           `db:"abandoned"`
	Outcome      sql.NullString `db:"outcome"`
	RetryAt      sql.NullTime   `db:"retry_at"`
	NextCheckAt  time.Time      `db:"next_check_at"`
	CreatedAt    time.Time      `db:"created_at"`
	UpdatedAt    time.Time      `db:"updated_at"`
	CompletedAt  sql.NullTime   `db:"completed_at"`
	FirstAgentID sql.NullString `db:"first_agent_id"`
}

func (r taskRow) task() callback.Task {
	return callback.Task{
		ID: r.ID, CallUUID: r.CallUUID, CustomerID: r.CustomerID.String, Caller: r.Caller,
		BusinessType: r.BusinessType, AgentID: r.AgentID.String, TeamID: r.TeamID.String,
		Priority: r.Priority, Status: callback.Status(r.Status), DueAt: r.DueAt,
		Attempts: r.Attempts, Reminders: r.Reminders, Escalated: r.Escalated, Abandoned: r.Abandoned,
		Outcome: r.Outcome.String, RetryAt: timePtr(r.RetryAt), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		CompletedAt: timePtr(r.CompletedAt), Events: []callback.Event{},
		FirstAgentID: r.FirstAgentID.String, NextCheckAt: r.NextCheckAt,
	}
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	return &t.Time
}

func tasksOf(rows []taskRow) []callback.Task {
	out := make([]callback.Task, len(rows))
	for i, r := range rows {
		out[i] = r.task()
	}
	return out
}

const (
	// New tasks are due for assignment at once, before any task waiting for
	// a check: their next check is the epoch.
	sqlCreateTask = `
WITH ins AS (
    INSERT INTO callback_tasks (call_uuid, customer_id, caller, business_type, priority, due_at, abandoned, next_check_at)
    VALUES ($1, NULLIF($2, ''), $3, $4, $5, $6, $7, 'epoch')
    ON CONFLICT (call_uuid) DO NOTHING
    RETURNING id
), ev AS (
    INSERT INTO callback_events (task_id, kind, note)
    SELECT id, 'created', $8 FROM ins
)
SELECT id FROM ins`

	sqlTaskIDByCall = `SELECT id FROM callback_tasks WHERE call_uuid = $1`

	sqlClaimTasks = `
WITH due AS (
    SELECT id FROM callback_tasks
     WHERE status IN ('pending', 'assigned') AND lease_owner IS NULL AND next_check_at <= $2
     ORDER BY next_check_at, priority DESC, id
     LIMIT $4
     FOR UPDATE SKIP LOCKED
)
UPDATE callback_tasks t SET lease_owner = $1, lease_until = $3
  FROM due WHERE t.id = due.id
RETURNING ` + taskColumns

	sqlLeaseTask = `
UPDATE callback_tasks t SET lease_owner = $2, lease_until = $3
 WHERE t.id = $1 AND t.status IN ('pending', 'assigned', 'in_progress')
RETURNING ` + taskColumns

	sqlTaskStatus = `SELECT status FROM callback_tasks WHERE id = $1`

	// The caller is empty when an anonymous caller keyed an ID number:
	// the customer's first phone is called instead.
	sqlTakeTopTask = `
WITH top AS (
    SELECT id FROM callback_tasks
     WHERE agent_id = $1 AND status = 'assigned' AND lease_owner IS NULL
       AND (retry_at IS NULL OR retry_at <= $3)
     ORDER BY priority DESC, due_at, id
     LIMIT 1
     FOR UPDATE SKIP LOCKED
)
UPDATE callback_tasks t SET status = 'in_progress', lease_owner = $2, lease_until = $4, updated_at = now()
  FROM top WHERE t.id = top.id
RETURNING ` + taskColumns + `,
 COALESCE(NULLIF(t.caller, ''),
          (SELECT p.phone FROM customer_phones p WHERE p.customer_id = t.customer_id ORDER BY p.created_at, p.phone LIMIT 1),
          '') AS dial_number`

	// One statement per batch: the new task states, their events and
	// (optionally) their webhook notices, all only for rows still leased
	// by $1. Nullable text and timestamps travel as '' in text arrays.
	sqlApplyChanges = `
WITH ch AS (
    SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::int[],
                         $9::bool[], $10::text[], $11::text[], $12::timestamptz[], $13::text[])
        AS ch(id, agent_id, team_id, status, priority, attempts, reminders, escalated, outcome, retry_at, next_check_at, completed_at)
), upd AS (
    UPDATE callback_tasks t SET
        agent_id = NULLIF(ch.agent_id, ''), team_id = NULLIF(ch.team_id, ''), status = ch.status,
        priority = ch.priority, attempts = ch.attempts, reminders = ch.reminders, escalated = ch.escalated,
        outcome = NULLIF(ch.outcome, ''), retry_at = NULLIF(ch.retry_at, '')::timestamptz,
        next_check_at = ch.next_check_at, completed_at = NULLIF(ch.completed_at, '')::timestamptz,
        lease_owner = NULL, lease_until = NULL, updated_at = now()
      FROM ch
     WHERE t.id = ch.id AND t.lease_owner = $1
    RETURNING t.id
), ev AS (
    INSERT INTO callback_events (task_id, at, kind, agent_id, note)
    SELECT e.task_id, e.at, e.kind, NULLIF(e.agent_id, ''), e.note
      FROM unnest($14::bigint[], $15::timestamptz[], $16::text[], $17::text[], $18::text[]) WITH ORDINALITY
           AS e(task_id, at, kind, agent_id, note, ord)
     WHERE e.task_id IN (SELECT id FROM upd)
     ORDER BY e.ord
), ob AS (
    INSERT INTO callback_outbox (task_id, idempotency_key, body, next_attempt_at)
    SELECT o.task_id, o.key, o.body::jsonb, o.at
      FROM unnest($19::bigint[], $20::text[], $21::text[], $22::timestamptz[]) AS o(task_id, key, body, at)
     WHERE o.task_id IN (SELECT id FROM upd)
)
SELECT id FROM upd`

	sqlOpenCounts = `
SELECT agent_id, count(*) AS n FROM callback_tasks
 WHERE agent_id = ANY($1) AND status IN ('assigned', 'in_progress')
 GROUP BY agent_id`

	sqlAllOpenCounts = `
SELECT agent_id, count(*) AS n FROM callback_tasks
 WHERE status IN ('assigned', 'in_progress')
 GROUP BY agent_id`

	// An in_progress task without a lease is a next_callback call whose
	// lease was taken over: nothing else would ever pick it up again.
	sqlRescueTasks = `
UPDATE callback_tasks SET lease_owner = NULL, lease_until = NULL, updated_at = now(),
       status = CASE WHEN status = 'in_progress' THEN 'assigned' ELSE status END
 WHERE (lease_owner IS NOT NULL AND lease_until < $1)
    OR (status = 'in_progress' AND lease_owner IS NULL)`

	sqlWakePending = `
UPDATE callback_tasks SET next_check_at = $1
 WHERE status = 'pending' AND next_check_at > $1`

	sqlTaskByID = `SELECT ` + taskColumns + ` FROM callback_tasks t WHERE t.id = $1`

	sqlListTasks = `
SELECT ` + taskColumns + ` FROM callback_tasks t
 WHERE ($1 = '' OR t.status = $1 OR ($1 = 'open' AND t.status IN ('pending', 'assigned', 'in_progress')))
   AND ($2 = '' OR t.agent_id = $2)
 ORDER BY t.priority DESC, t.due_at, t.id
 LIMIT $3`

	sqlEventsOf = `
SELECT task_id, at, kind, COALESCE(agent_id, '') AS agent_id, note FROM callback_events
 WHERE task_id = ANY($1)
 ORDER BY task_id, id`
)

// CreateTask records a callback promise (step 04) with its "created"
// event. It is idempotent by call UUID: a second call for the same call
// returns the first task's ID and writes nothing.
func (s *Tasks) CreateTask(ctx context.Context, t routing.NewTask) (int64, error) {
	note := fmt.Sprintf("business type %s, priority %d", t.BusinessType, t.Priority)
	if t.Abandoned {
		note += ", caller hung up before the menu"
	}
	var ids []int64
	err := s.db.pool.SelectContext(ctx, &ids, sqlCreateTask,
		t.CallUUID, t.CustomerID, t.Caller, t.BusinessType, t.Priority, t.DueAt, t.Abandoned, note)
	if err != nil {
		return 0, fmt.Errorf("create callback task of call %s: %w", t.CallUUID, err)
	}
	if len(ids) == 1 {
		return ids[0], nil
	}
	// Already there, or inserted by a concurrent call our statement's
	// snapshot could not see: a fresh statement finds it.
	var id int64
	if err := s.db.pool.GetContext(ctx, &id, sqlTaskIDByCall, t.CallUUID); err != nil {
		return 0, fmt.Errorf("find callback task of call %s: %w", t.CallUUID, err)
	}
	return id, nil
}

// Claim leases due pending and assigned tasks (callback.Store).
func (s *Tasks) Claim(ctx context.Context, c callback.Claim) ([]callback.Task, error) {
	var rows []taskRow
	if err := s.db.pool.SelectContext(ctx, &rows, sqlClaimTasks, c.Owner, c.Now, c.Until, c.Limit); err != nil {
		return nil, fmt.Errorf("claim callback tasks: %w", err)
	}
	return tasksOf(rows), nil
}

// Lease takes one open task over, whoever holds it (callback.Store).
func (s *Tasks) Lease(ctx context.Context, id int64, owner string, until time.Time) (callback.Task, error) {
	var row taskRow
	err := s.db.pool.GetContext(ctx, &row, sqlLeaseTask, id, owner, until)
	if errors.Is(err, sql.ErrNoRows) {
		var status string
		err = s.db.pool.GetContext(ctx, &status, sqlTaskStatus, id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return callback.Task{}, fmt.Errorf("lease callback task %d: %w", id, ErrNotFound)
		case err == nil:
			return callback.Task{}, fmt.Errorf("lease callback task %d (%s): %w", id, status, callback.ErrClosed)
		}
	}
	if err != nil {
		return callback.Task{}, fmt.Errorf("lease callback task %d: %w", id, err)
	}
	return row.task(), nil
}

// TakeTop leases the agent's top callable task and marks it in progress
// (callback.Store).
func (s *Tasks) TakeTop(ctx context.Context, agentID, owner string, now, until time.Time) (callback.Task, error) {
	var row struct {
		taskRow
		DialNumber string `db:"dial_number"`
	}
	err := s.db.pool.GetContext(ctx, &row, sqlTakeTopTask, agentID, owner, now, until)
	if errors.Is(err, sql.ErrNoRows) {
		return callback.Task{}, fmt.Errorf("top callback task of agent %s: %w", agentID, callback.ErrNoTask)
	}
	if err != nil {
		return callback.Task{}, fmt.Errorf("take top callback task of agent %s: %w", agentID, err)
	}
	t := row.task()
	t.Caller = row.DialNumber
	return t, nil
}

// Apply writes the changes of tasks leased by owner in one statement
// (callback.Store).
func (s *Tasks) Apply(ctx context.Context, owner string, changes []callback.Change) ([]int64, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	n := len(changes)
	var (
		ids                                          = make([]int64, n)
		agents, teams, statuses, outcomes, retries   = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		completed                                    = make([]string, n)
		priorities, attempts, reminders              = make([]int64, n), make([]int64, n), make([]int64, n)
		escalated                                    = make([]bool, n)
		nextChecks                                   = make([]time.Time, n)
		evTasks, obTasks                             []int64
		evAt                                         []time.Time
		evKinds, evAgents, evNotes, obKeys, obBodies []string
		obAt                                         []time.Time
	)
	for i, c := range changes {
		t := c.Task
		ids[i], agents[i], teams[i], statuses[i], outcomes[i] = t.ID, t.AgentID, t.TeamID, string(t.Status), t.Outcome
		priorities[i], attempts[i], reminders[i], escalated[i] = int64(t.Priority), int64(t.Attempts), int64(t.Reminders), t.Escalated
		nextChecks[i], retries[i], completed[i] = t.NextCheckAt, timeText(t.RetryAt), timeText(t.CompletedAt)
		for _, ev := range c.Events {
			evTasks, evAt = append(evTasks, t.ID), append(evAt, ev.At)
			evKinds, evAgents, evNotes = append(evKinds, string(ev.Kind)), append(evAgents, ev.AgentID), append(evNotes, ev.Note)
		}
		if !s.outbox {
			continue
		}
		for _, nt := range c.Notices {
			body, err := json.Marshal(nt)
			if err != nil {
				return nil, fmt.Errorf("encode notice of callback task %d: %w", t.ID, err)
			}
			obTasks, obKeys, obBodies = append(obTasks, t.ID), append(obKeys, nt.Key), append(obBodies, string(body))
			obAt = append(obAt, nt.At)
		}
	}
	var applied []int64
	err := s.db.pool.SelectContext(ctx, &applied, sqlApplyChanges, owner,
		pq.Array(ids), pq.Array(agents), pq.Array(teams), pq.Array(statuses), pq.Array(priorities),
		pq.Array(attempts), pq.Array(reminders), pq.Array(escalated), pq.Array(outcomes), pq.Array(retries),
		pq.Array(timeTexts(nextChecks)), pq.Array(completed),
		pq.Array(evTasks), pq.Array(timeTexts(evAt)), pq.Array(evKinds), pq.Array(evAgents), pq.Array(evNotes),
		pq.Array(obTasks), pq.Array(obKeys), pq.Array(obBodies), pq.Array(timeTexts(obAt)))
	if err != nil {
		return nil, fmt.Errorf("apply %d callback task changes: %w", n, err)
	}
	if len(applied) < n {
		return applied, fmt.Errorf("apply callback task changes: %d of %d: %w", n-len(applied), n, callback.ErrLeaseLost)
	}
	return applied, nil
}

// timeText renders an optional time for a text array: "" is NULL.
func timeText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// timeTexts renders times for a timestamptz[] parameter; lib/pq has no
// array encoder for time.Time.
func timeTexts(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Format(time.RFC3339Nano)
	}
	return out
}

// openCountsListMax is the longest agent list sent to PostgreSQL as an
// array. Planning = ANY over the worker's whole online list took 60–290 ms
// per pass at 50 000 agents, on the connections calls need; above this the
// open tasks are counted for everyone (the partial index holds only open
// tasks) and filtered here.
const openCountsListMax = 500

// OpenCounts returns the assigned and in-progress tasks of each agent
// (callback.Store, and the agents API's open_tasks).
func (s *Tasks) OpenCounts(ctx context.Context, agentIDs []string) (map[string]int, error) {
	var rows []struct {
		AgentID string `db:"agent_id"`
		N       int    `db:"n"`
	}
	var asked map[string]bool // nil: the query itself kept only agentIDs
	var err error
	if len(agentIDs) <= openCountsListMax {
		err = s.db.pool.SelectContext(ctx, &rows, sqlOpenCounts, pq.Array(agentIDs))
	} else {
		asked = make(map[string]bool, len(agentIDs))
		for _, id := range agentIDs {
			asked[id] = true
		}
		err = s.db.pool.SelectContext(ctx, &rows, sqlAllOpenCounts)
	}
	if err != nil {
		return nil, fmt.Errorf("count open callback tasks of %d agents: %w", len(agentIDs), err)
	}
	counts := make(map[string]int, len(rows))
	for _, r := range rows {
		if asked == nil || asked[r.AgentID] {
			counts[r.AgentID] = r.N
		}
	}
	return counts, nil
}

// Rescue gives up leases that ended before now (callback.Store).
func (s *Tasks) Rescue(ctx context.Context, now time.Time) (int, error) {
	return s.db.rowsChanged(ctx, "rescue expired callback task leases", sqlRescueTasks, now)
}

// WakePending makes every pending task due at now (callback.Store).
func (s *Tasks) WakePending(ctx context.Context, now time.Time) (int, error) {
	return s.db.rowsChanged(ctx, "wake pending callback tasks", sqlWakePending, now)
}

// rowsChanged runs a statement and returns how many rows it changed; what
// names it in errors.
func (d *DB) rowsChanged(ctx context.Context, what, query string, args ...any) (int, error) {
	res, err := d.pool.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return int(n), nil
}

// Task returns one task with its history.
func (s *Tasks) Task(ctx context.Context, id int64) (callback.Task, error) {
	var row taskRow
	err := s.db.pool.GetContext(ctx, &row, sqlTaskByID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return callback.Task{}, fmt.Errorf("callback task %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return callback.Task{}, fmt.Errorf("read callback task %d: %w", id, err)
	}
	tasks := []callback.Task{row.task()}
	if err := s.withEvents(ctx, tasks); err != nil {
		return callback.Task{}, err
	}
	return tasks[0], nil
}

// StatusOpen in a TaskFilter selects every task still to be worked:
// pending, assigned and in progress.
const StatusOpen callback.Status = "open"

// TaskFilter selects tasks for List; empty fields select everything.
type TaskFilter struct {
	Status  callback.Status
	AgentID string
	// Limit caps the list. Default (0) and maximum 1000.
	Limit int
}

const maxListedTasks = 1000

// List returns the tasks matching f with their histories, most urgent
// first (priority, then due time). ErrBadFilter for an unknown status.
func (s *Tasks) List(ctx context.Context, f TaskFilter) ([]callback.Task, error) {
	switch f.Status {
	case "", StatusOpen, callback.StatusPending, callback.StatusAssigned, callback.StatusInProgress, callback.StatusCompleted, callback.StatusCancelled:
	default:
		return nil, fmt.Errorf("list callback tasks: %w: unknown status %q", ErrBadFilter, f.Status)
	}
	if f.Limit <= 0 || f.Limit > maxListedTasks {
		f.Limit = maxListedTasks
	}
	var rows []taskRow
	if err := s.db.pool.SelectContext(ctx, &rows, sqlListTasks, string(f.Status), f.AgentID, f.Limit); err != nil {
		return nil, fmt.Errorf("list callback tasks: %w", err)
	}
	tasks := tasksOf(rows)
	if err := s.withEvents(ctx, tasks); err != nil {
		return nil, err
	}
	return tasks, nil
}

// withEvents fills in the histories of tasks with one query.
func (s *Tasks) withEvents(ctx context.Context, tasks []callback.Task) error {
	if len(tasks) == 0 {
		return nil
	}
	ids := make([]int64, len(tasks))
	at := make(map[int64]int, len(tasks))
	for i, t := range tasks {
		ids[i], at[t.ID] = t.ID, i
	}
	var rows []struct {
		TaskID  int64     `db:"task_id"`
		At      time.Time `db:"at"`
		Kind    string    `db:"kind"`
		AgentID string    `db:"agent_id"`
		Note    string    `db:"note"`
	}
	if err := s.db.pool.SelectContext(ctx, &rows, sqlEventsOf, pq.Array(ids)); err != nil {
		return fmt.Errorf("read callback task events: %w", err)
	}
	for _, r := range rows {
		i := at[r.TaskID]
		tasks[i].Events = append(tasks[i].Events, callback.Event{At: r.At, Kind: callback.EventKind(r.Kind), AgentID: r.AgentID, Note: r.Note})
	}
	return nil
}
