package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/stickyacd/stickyacd/routing"
)

const (
	sqlSaveCall = `
INSERT INTO calls (uuid, caller, customer_id, entry, outcome, agent_id, task_id, trace, started_at, ended_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (uuid) DO UPDATE
   SET caller = EXCLUDED.caller, customer_id = EXCLUDED.customer_id, entry = EXCLUDED.entry,
       outcome = EXCLUDED.outcome, agent_id = EXCLUDED.agent_id, task_id = EXCLUDED.task_id,
       trace = EXCLUDED.trace, started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at`
	sqlCallTrace = `SELECT trace FROM calls WHERE uuid = $1`
)

// SaveCall stores the call's decision trace, replacing an earlier save of
// the same call.
func (r *Repo) SaveCall(ctx context.Context, t *routing.Trace) error {
	doc, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("save call %s: encode trace: %w", t.UUID, err)
	}
	var ended sql.NullTime
	if !t.EndedAt.IsZero() {
		ended = sql.NullTime{Time: t.EndedAt, Valid: true}
	}
	var taskID sql.NullInt64
	if t.TaskID != nil {
		taskID = sql.NullInt64{Int64: *t.TaskID, Valid: true}
	}
	// jsonb goes as text: lib/pq would send []byte as bytea.
	_, err = r.db.pool.ExecContext(ctx, sqlSaveCall, t.UUID, t.Caller, nullable(t.CustomerID),
		string(t.Entry), string(t.Outcome), nullable(t.AgentID), taskID, string(doc), t.StartedAt, ended)
	if err != nil {
		return fmt.Errorf("save call %s: %w", t.UUID, err)
	}
	return nil
}

// Call returns a call's decision trace.
func (r *Repo) Call(ctx context.Context, uuid string) (*routing.Trace, error) {
	var doc []byte
	if err := r.db.pool.GetContext(ctx, &doc, sqlCallTrace, uuid); err != nil {
		return nil, fmt.Errorf("call %s: %w", uuid, notFound(err))
	}
	var t routing.Trace
	if err := json.Unmarshal(doc, &t); err != nil {
		return nil, fmt.Errorf("call %s: decode trace: %w", uuid, err)
	}
	return &t, nil
}
