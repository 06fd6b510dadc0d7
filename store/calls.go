package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stickyacd/stickyacd/routing"
)

const (
	sqlCallTrace = `SELECT trace FROM calls WHERE uuid = $1`
)

// SaveCall stores the call's decision trace, replacing an earlier save of
// the same call. The record is queued and written behind the call (see
// callWriter); Call reads it back at once. It fails only when the queue is
// full.
func (r *Repo) SaveCall(_ context.Context, t *routing.Trace) error {
	doc, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("save call %s: encode trace: %w", t.UUID, err)
	}
	rec := &callRecord{
		uuid: t.UUID, caller: t.Caller, customerID: t.CustomerID, entry: string(t.Entry),
		outcome: string(t.Outcome), agentID: t.AgentID, trace: string(doc),
		startedAt: t.StartedAt.Format(time.RFC3339Nano),
	}
	if !t.EndedAt.IsZero() {
		rec.endedAt = t.EndedAt.Format(time.RFC3339Nano)
	}
	if t.TaskID != nil {
		rec.taskID = sql.NullInt64{Int64: *t.TaskID, Valid: true}
	}
	if err := r.calls.save(rec); err != nil {
		return fmt.Errorf("save call %s: %w", t.UUID, err)
	}
	return nil
}

// Call returns a call's decision trace.
func (r *Repo) Call(ctx context.Context, uuid string) (*routing.Trace, error) {
	var doc []byte
	if queued, ok := r.calls.queued(uuid); ok {
		doc = []byte(queued)
	} else if err := r.db.pool.GetContext(ctx, &doc, sqlCallTrace, uuid); err != nil {
		return nil, fmt.Errorf("call %s: %w", uuid, notFound(err))
	}
	var t routing.Trace
	if err := json.Unmarshal(doc, &t); err != nil {
		return nil, fmt.Errorf("call %s: decode trace: %w", uuid, err)
	}
	return &t, nil
}
