package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lib/pq"
)

const (
	// sqlSaveCalls upserts a group of call records in one statement; each
	// array holds one column.
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
	// is slow or away (about 3 KB each); past it a save fails at once.
	callQueueMax = 20_000
	// callWriteTimeout bounds one attempt at writing a group.
	callWriteTimeout = 10 * time.Second
	// callWriteAttempts: a group PostgreSQL could not be reached for is
	// tried again after 1, 2, 4 and 8 s (callRetryFirst, doubling), then
	// given up.
	callWriteAttempts = 5
	callRetryFirst    = time.Second
)

// errCallQueueFull is returned by a save while callQueueMax records wait.
var errCallQueueFull = errors.New("call record queue full: PostgreSQL is not keeping up")

// callWriter saves call records behind the calls: a save queues the record
// and returns, and one goroutine writes the queue in groups, one statement
// and one commit for the calls that ended meanwhile. A call's handler, and
// the session it holds, never waits for PostgreSQL at the end of a call;
// under load PostgreSQL is spared a commit per call and the pool a
// connection per ending call. The writer uses a connection of its own: in
// the shared pool, under saturation, it waited behind hundreds of calls
// (database/sql serves waiters in no fixed order). Queued records are read
// back by Repo.Call, so a saved trace can be read at once. The goroutine
// exists only while records wait.
type callWriter struct {
	conn       *sql.DB // at most one connection, for this writer only
	log        *slog.Logger
	retryFirst time.Duration // callRetryFirst; shorter in tests
	// stop ends by close: writes in flight are cancelled, nothing more is
	// tried, what is left is logged as lost.
	stop   context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	queue   []*callRecord
	pending map[string]*callRecord // the latest queued or in-flight save of each call
	running bool
	idle    chan struct{} // closed when the writing goroutine has ended
}

// callRecord is one call's row, encoded.
type callRecord struct {
	uuid, caller, customerID, entry, outcome, agentID string
	trace, startedAt, endedAt                         string // JSON and RFC 3339 texts; "" is NULL
	taskID                                            sql.NullInt64
}

func newCallWriter(db *DB, log *slog.Logger) (*callWriter, error) {
	conn, err := sql.Open("postgres", db.dsn)
	if err != nil {
		return nil, fmt.Errorf("open the call records' connection: %w", err)
	}
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	conn.SetConnMaxLifetime(defaultConnMaxLifetime)
	stop, cancel := context.WithCancel(context.Background())
	return &callWriter{conn: conn, log: log, pending: map[string]*callRecord{},
		retryFirst: callRetryFirst, stop: stop, cancel: cancel}, nil
}

// save queues rec for writing.
func (w *callWriter) save(rec *callRecord) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) >= callQueueMax {
		return errCallQueueFull
	}
	w.queue = append(w.queue, rec)
	w.pending[rec.uuid] = rec
	if !w.running {
		w.running = true
		w.idle = make(chan struct{})
		go w.run(w.idle)
	}
	return nil
}

// queued returns the trace of a call whose record is not written yet.
func (w *callWriter) queued(uuid string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r, ok := w.pending[uuid]; ok {
		return r.trace, true
	}
	return "", false
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
		if w.stop.Err() != nil { // closed: give up the whole queue at once
			batch, w.queue = append(batch, w.queue...), nil
		}
		w.mu.Unlock()
		w.write(batch)
		w.mu.Lock()
		for _, r := range batch {
			if w.pending[r.uuid] == r {
				delete(w.pending, r.uuid)
			}
		}
		w.mu.Unlock()
	}
}

// write saves one group, trying again while PostgreSQL cannot be reached.
// When PostgreSQL refuses the group (a record breaking a constraint), each
// record is written alone so that one bad record is the only one lost.
func (w *callWriter) write(batch []*callRecord) {
	// The last save of a call is the one that counts; ON CONFLICT cannot
	// touch one row twice in a statement.
	last := make(map[string]int, len(batch))
	var rows []*callRecord
	for _, r := range batch {
		if i, seen := last[r.uuid]; seen {
			rows[i] = r
			continue
		}
		last[r.uuid] = len(rows)
		rows = append(rows, r)
	}
	var err error
	wait := w.retryFirst
	for attempt := 1; ; attempt++ {
		err = w.insert(rows)
		if err == nil || refusedRecord(err) || attempt == callWriteAttempts || w.stop.Err() != nil {
			break
		}
		w.log.Warn("call records not written; trying again", "records", len(rows), "attempt", attempt, "in", wait, "err", err)
		select {
		case <-time.After(wait):
		case <-w.stop.Done():
		}
		wait *= 2
	}
	switch {
	case err == nil:
	case refusedRecord(err) && len(rows) > 1:
		for _, r := range rows {
			if err := w.insert([]*callRecord{r}); err != nil {
				w.log.Error("call record not saved", "call_uuid", r.uuid, "err", err)
			}
		}
	default:
		for _, r := range rows {
			w.log.Error("call record not saved", "call_uuid", r.uuid, "err", err)
		}
	}
}

// refusedRecord says whether PostgreSQL refused the data itself (a
// constraint or a bad value), which trying again cannot cure.
func refusedRecord(err error) bool {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return false
	}
	class := pqErr.Code.Class()
	return class == "22" || class == "23"
}

func (w *callWriter) insert(rows []*callRecord) error {
	ctx, cancel := context.WithTimeout(w.stop, callWriteTimeout)
	defer cancel()
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
	if _, err := w.conn.ExecContext(ctx, sqlSaveCalls, pq.Array(uuid), pq.Array(caller), pq.Array(customer),
		pq.Array(entry), pq.Array(outcome), pq.Array(agent), pq.Array(task), pq.Array(trace),
		pq.Array(started), pq.Array(ended)); err != nil {
		return fmt.Errorf("write %d call records: %w", n, err)
	}
	return nil
}

// close writes what is still queued, until ctx ends, and closes the
// writer's connection; a writer still busy then gives up what is left
// (each record logged) instead of trying again.
func (w *callWriter) close(ctx context.Context) error {
	w.mu.Lock()
	idle, running, queued := w.idle, w.running, len(w.pending)
	w.mu.Unlock()
	var err error
	if running {
		select {
		case <-idle:
		case <-ctx.Done():
			err = fmt.Errorf("%d call records not written before closing: %w", queued, context.Cause(ctx))
		}
	}
	w.cancel()
	if running {
		<-idle
	}
	return errors.Join(err, w.conn.Close())
}
