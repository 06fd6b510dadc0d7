package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lib/pq"
)

const (
	// sqlSaveCalls upserts a group of call records in one statement; each
	// array holds one column. A later save of a call replaces the earlier.
	sqlSaveCalls = `
INSERT INTO calls (uuid, caller, customer_id, entry, outcome, agent_id, task_id, trace, started_at, ended_at)
SELECT c.uuid, c.caller, c.customer_id, c.entry, c.outcome, c.agent_id, c.task_id, c.trace::jsonb,
       c.started_at::timestamptz, c.ended_at::timestamptz
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
              $8::text[], $9::text[], $10::text[])
       AS c(uuid, caller, customer_id, entry, outcome, agent_id, task_id, trace, started_at, ended_at)
ON CONFLICT (uuid) DO UPDATE
   SET caller = EXCLUDED.caller, customer_id = EXCLUDED.customer_id, entry = EXCLUDED.entry,
       outcome = EXCLUDED.outcome, agent_id = EXCLUDED.agent_id, task_id = EXCLUDED.task_id,
       trace = EXCLUDED.trace, started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at`

	// callBatchMax bounds one statement's records.
	callBatchMax = 500
	// callQueueMax bounds the records waiting in memory while PostgreSQL
	// is slow or away; past it a save fails at once instead of growing
	// the heap without end.
	callQueueMax = 20_000
	// callBatchTimeout bounds one group's write, whoever waits for it.
	callBatchTimeout = 10 * time.Second
)

// errCallQueueFull is returned by a save while callQueueMax records wait.
var errCallQueueFull = errors.New("call record queue full: PostgreSQL is not keeping up")

// callWriter saves call records in groups: the calls that end while one
// group is being written go together in the next, one statement and one
// commit. Under load that spares PostgreSQL a commit per call and the pool
// a connection per ending call, and a record whose caller stopped waiting
// (its store deadline passed while the machine was saturated) is still
// written instead of lost. The goroutine writing exists only while records
// wait.
type callWriter struct {
	db *DB

	mu      sync.Mutex
	queue   []*callRecord
	running bool
	idle    chan struct{} // closed when the writing goroutine has ended
}

// callRecord is one call's row, encoded, and where its result goes.
type callRecord struct {
	uuid, caller, customerID, entry, outcome, agentID string
	trace, startedAt, endedAt                         string // JSON and RFC 3339 texts; "" is NULL
	taskID                                            sql.NullInt64
	done                                              chan error // buffered: the writer never blocks on it
}

// save queues rec and waits until its group is written or ctx ends; a
// record whose wait ended is still written.
func (w *callWriter) save(ctx context.Context, rec *callRecord) error {
	w.mu.Lock()
	if len(w.queue) >= callQueueMax {
		w.mu.Unlock()
		return errCallQueueFull
	}
	w.queue = append(w.queue, rec)
	if !w.running {
		w.running = true
		w.idle = make(chan struct{})
		go w.run(w.idle)
	}
	w.mu.Unlock()
	select {
	case err := <-rec.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("still queued, to be written when PostgreSQL catches up: %w", context.Cause(ctx))
	}
}

// run writes groups until none waits.
func (w *callWriter) run(idle chan struct{}) {
	defer close(idle)
	for {
		w.mu.Lock()
		n := min(len(w.queue), callBatchMax)
		if n == 0 {
			w.running = false
			w.queue = nil
			w.mu.Unlock()
			return
		}
		batch := w.queue[:n:n]
		w.queue = w.queue[n:]
		w.mu.Unlock()
		w.write(batch)
	}
}

// write saves one group and tells each record's waiter how it went. When
// PostgreSQL refuses the group (a record breaking a constraint), each
// record is written alone so that one bad record fails only itself.
func (w *callWriter) write(batch []*callRecord) {
	ctx, cancel := context.WithTimeout(context.Background(), callBatchTimeout)
	defer cancel()
	// The last save of a call is the one that counts; ON CONFLICT cannot
	// touch one row twice in a statement.
	last := make(map[string]*callRecord, len(batch))
	var rows []*callRecord
	for _, r := range batch {
		if _, seen := last[r.uuid]; !seen {
			rows = append(rows, r)
		}
		last[r.uuid] = r
	}
	for i, r := range rows {
		rows[i] = last[r.uuid]
	}
	result := make(map[*callRecord]error, len(rows))
	err := w.insert(ctx, rows)
	var refused *pq.Error
	if err != nil && len(rows) > 1 && errors.As(err, &refused) {
		for _, r := range rows {
			result[r] = w.insert(ctx, []*callRecord{r})
		}
	} else {
		for _, r := range rows {
			result[r] = err
		}
	}
	for _, r := range batch {
		r.done <- result[last[r.uuid]]
	}
}

func (w *callWriter) insert(ctx context.Context, rows []*callRecord) error {
	n := len(rows)
	uuid, caller, entry, outcome, trace, started := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	customer, agent, ended := make([]sql.NullString, n), make([]sql.NullString, n), make([]sql.NullString, n)
	task := make([]sql.NullInt64, n)
	for i, r := range rows {
		uuid[i], caller[i], entry[i], outcome[i], trace[i], started[i] = r.uuid, r.caller, r.entry, r.outcome, r.trace, r.startedAt
		customer[i], agent[i], ended[i] = nullable(r.customerID), nullable(r.agentID), nullable(r.endedAt)
		task[i] = r.taskID
	}
	if _, err := w.db.pool.ExecContext(ctx, sqlSaveCalls, pq.Array(uuid), pq.Array(caller), pq.Array(customer),
		pq.Array(entry), pq.Array(outcome), pq.Array(agent), pq.Array(task), pq.Array(trace),
		pq.Array(started), pq.Array(ended)); err != nil {
		return fmt.Errorf("write %d call records: %w", n, err)
	}
	return nil
}

// wait blocks until no record waits to be written, or ctx ends.
func (w *callWriter) wait(ctx context.Context) error {
	w.mu.Lock()
	idle, running := w.idle, w.running
	w.mu.Unlock()
	if !running {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("call records still queued: %w", context.Cause(ctx))
	}
}
