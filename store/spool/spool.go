// Package spool keeps callback promises on local disk while PostgreSQL
// cannot be reached (DESIGN.md §5: a promise is never lost).
//
// Spool decorates a routing.TaskSink: CreateTask tries the inner sink
// first; when PostgreSQL is unreachable it appends the task to
// DIR/current.jsonl, fsyncs it, and returns (0, nil), "accepted durably, ID
// not known yet". Run replays the spool when PostgreSQL is back. Replay
// first renames current.jsonl to replay-<n>.jsonl (new promises go to a
// fresh file meanwhile), creates every task of it through the inner sink,
// which is idempotent by call UUID, and only then deletes the file. A crash
// at any point therefore loses nothing and creates nothing twice: whatever
// was renamed but not deleted is replayed again at the next start, and
// tasks already created are found by their call UUID.
//
// A task the inner sink refuses for good (a constraint error, e.g. a
// business type that is no longer configured) is moved to DIR/rejected.jsonl
// and logged, so it neither blocks the others nor vanishes.
//
// One process owns a spool directory at a time (an exclusive flock on
// DIR/lock); give each instance its own directory.
//
// The spool holds what routing.NewTask holds and nothing more: the caller's
// number, the customer ID and the business type, never an ID-card number.
package spool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stickyacd/stickyacd/routing"
)

// Options configure a Spool.
type Options struct {
	// Dir holds the spool files; created (0700) if missing. Required.
	Dir string
	// RetryEvery is how often Run tries to replay while something is
	// spooled. Default 5s.
	RetryEvery time.Duration
	// ReplayTimeout bounds the creation of one replayed task. Default 10s.
	ReplayTimeout time.Duration
	// Unreachable decides which inner errors mean "PostgreSQL cannot be
	// reached" (spool the task) rather than "the task is refused" (return
	// the error). Default Unreachable.
	Unreachable func(error) bool
	// Now stamps spooled records. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger // nil: discard
}

// Defaults of Options.
const (
	DefaultRetryEvery    = 5 * time.Second
	DefaultReplayTimeout = 10 * time.Second
)

const (
	currentName  = "current.jsonl"
	replayPrefix = "replay-"
	rejectedName = "rejected.jsonl"
	lockName     = "lock"
)

// ErrLocked: another process owns the spool directory.
var ErrLocked = errors.New("spool directory is in use by another process")

// Spool is a routing.TaskSink that never loses a task to an unreachable
// PostgreSQL.
type Spool struct {
	inner routing.TaskSink
	opts  Options
	log   *slog.Logger
	lock  *os.File

	// mu serialises appends and the rotation of current.jsonl.
	mu sync.Mutex
	// replayMu serialises replays.
	replayMu sync.Mutex
	// seq numbers rotated files after those already on disk.
	seq int64
}

// record is one line of a spool file: the fields of routing.NewTask, named
// explicitly so the file format is stable and a field added to NewTask is
// not written without a decision.
type record struct {
	CallUUID     string    `json:"call_uuid"`
	Caller       string    `json:"caller"`
	CustomerID   string    `json:"customer_id,omitempty"`
	BusinessType string    `json:"business_type"`
	Priority     int       `json:"priority"`
	DueAt        time.Time `json:"due_at"`
	Abandoned    bool      `json:"abandoned,omitempty"`
	SpooledAt    time.Time `json:"spooled_at"`
}

func toRecord(t routing.NewTask, now time.Time) record {
	return record{
		CallUUID: t.CallUUID, Caller: t.Caller, CustomerID: t.CustomerID, BusinessType: t.BusinessType,
		Priority: t.Priority, DueAt: t.DueAt, Abandoned: t.Abandoned, SpooledAt: now,
	}
}

func (r record) task() routing.NewTask {
	return routing.NewTask{
		CallUUID: r.CallUUID, Caller: r.Caller, CustomerID: r.CustomerID, BusinessType: r.BusinessType,
		Priority: r.Priority, DueAt: r.DueAt, Abandoned: r.Abandoned,
	}
}

// New opens (or creates) the spool directory and takes ownership of it.
// A current.jsonl left by an earlier run is set aside for replay, so a line
// torn by a crash is never appended to. Close releases the directory.
func New(inner routing.TaskSink, opts Options) (*Spool, error) {
	if opts.Dir == "" {
		return nil, errors.New("spool: Dir is required")
	}
	if opts.RetryEvery <= 0 {
		opts.RetryEvery = DefaultRetryEvery
	}
	if opts.ReplayTimeout <= 0 {
		opts.ReplayTimeout = DefaultReplayTimeout
	}
	if opts.Unreachable == nil {
		opts.Unreachable = Unreachable
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Spool{inner: inner, opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", opts.Dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(opts.Dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: open lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("spool %s: %w (%v)", opts.Dir, ErrLocked, err)
	}
	s.lock = lock
	replays, err := s.replayFiles()
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	for _, name := range replays {
		if n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(name, replayPrefix), ".jsonl"), 10, 64); err == nil && n > s.seq {
			s.seq = n
		}
	}
	s.mu.Lock()
	err = s.rotate()
	s.mu.Unlock()
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the spool directory. Spooled tasks stay on disk for the
// next run.
func (s *Spool) Close() error {
	if err := s.lock.Close(); err != nil {
		return fmt.Errorf("spool: release lock: %w", err)
	}
	return nil
}

// CreateTask creates the task through the inner sink, or spools it when
// PostgreSQL is unreachable and returns (0, nil): accepted durably, ID not
// known yet. It returns by ctx's deadline at the latest (spooling then).
func (s *Spool) CreateTask(ctx context.Context, t routing.NewTask) (int64, error) {
	id, err := s.create(ctx, t)
	if err == nil || !s.opts.Unreachable(err) {
		return id, err
	}
	if serr := s.append(t); serr != nil {
		return 0, errors.Join(err, fmt.Errorf("spool task of call %s: %w", t.CallUUID, serr))
	}
	s.log.Warn("callback task spooled: postgres unreachable", "call_uuid", t.CallUUID, "err", err)
	return 0, nil
}

// create calls the inner sink but stops waiting when ctx ends: lib/pq
// ignores the context during its connection handshake, so a server that
// accepts connections and never answers would otherwise hold the caller
// until connect_timeout, or for ever. The abandoned call may still land
// later; the task is spooled all the same, and its replay finds it by call
// UUID.
func (s *Spool) create(ctx context.Context, t routing.NewTask) (int64, error) {
	type result struct {
		id  int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		id, err := s.inner.CreateTask(ctx, t)
		done <- result{id, err}
	}()
	select {
	case r := <-done:
		return r.id, r.err
	case <-ctx.Done():
		return 0, fmt.Errorf("create task of call %s: %w", t.CallUUID, context.Cause(ctx))
	}
}

// append writes one line to current.jsonl and fsyncs it (and the directory
// when the file is new) before returning.
func (s *Spool) append(t routing.NewTask) error {
	line, err := json.Marshal(toRecord(t, s.opts.Now()))
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	path := filepath.Join(s.opts.Dir, currentName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if _, err := f.Write(line); err != nil {
		// Cut a partial line off so the next append starts clean.
		_ = f.Truncate(info.Size())
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if info.Size() == 0 {
		return s.syncDir()
	}
	return nil
}

// rotate renames a non-empty current.jsonl to the next replay file. The
// caller holds mu.
func (s *Spool) rotate() error {
	path := filepath.Join(s.opts.Dir, currentName)
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("spool: stat %s: %w", path, err)
	}
	if info.Size() == 0 {
		return nil
	}
	s.seq++
	next := filepath.Join(s.opts.Dir, fmt.Sprintf("%s%020d.jsonl", replayPrefix, s.seq))
	if err := os.Rename(path, next); err != nil {
		return fmt.Errorf("spool: rotate %s: %w", path, err)
	}
	return s.syncDir()
}

func (s *Spool) syncDir() error {
	d, err := os.Open(s.opts.Dir)
	if err != nil {
		return fmt.Errorf("open spool dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync spool dir: %w", err)
	}
	return nil
}

// replayFiles lists the files awaiting replay, oldest first.
func (s *Spool) replayFiles() ([]string, error) {
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("spool: list %s: %w", s.opts.Dir, err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), replayPrefix) && strings.HasSuffix(e.Name(), ".jsonl") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// Replay creates every spooled task through the inner sink and removes
// what it has replayed. It stops at the first unreachable error, keeping
// the rest for the next try, and returns how many tasks it passed to the
// inner sink.
func (s *Spool) Replay(ctx context.Context) (int, error) {
	s.replayMu.Lock()
	defer s.replayMu.Unlock()
	s.mu.Lock()
	err := s.rotate()
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	names, err := s.replayFiles()
	if err != nil {
		return 0, err
	}
	total := 0
	for _, name := range names {
		n, err := s.replayFile(ctx, name)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (s *Spool) replayFile(ctx context.Context, name string) (int, error) {
	path := filepath.Join(s.opts.Dir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("spool: read %s: %w", name, err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(line, &r); err != nil || r.CallUUID == "" {
			// A crash in the middle of an append leaves this; that append
			// never reported success, but the line is kept for a human all
			// the same.
			if rerr := s.reject(line); rerr != nil {
				return n, rerr
			}
			s.log.Warn("spool: unreadable line kept in "+rejectedName, "file", name, "line", lineNo, "err", err)
			continue
		}
		tctx, cancel := context.WithTimeout(ctx, s.opts.ReplayTimeout)
		_, err := s.create(tctx, r.task())
		cancel()
		if err != nil {
			if s.opts.Unreachable(err) {
				return n, fmt.Errorf("spool: replay %s: %w", name, err)
			}
			if rerr := s.reject(line); rerr != nil {
				return n, errors.Join(fmt.Errorf("spool: replay %s: task refused: %w", name, err), rerr)
			}
			s.log.Error("spool: task refused by the database; kept in "+rejectedName, "call_uuid", r.CallUUID, "err", err)
			continue
		}
		n++
		s.log.Info("spooled callback task replayed", "call_uuid", r.CallUUID)
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("spool: read %s: %w", name, err)
	}
	if err := os.Remove(path); err != nil {
		return n, fmt.Errorf("spool: remove replayed %s: %w", name, err)
	}
	return n, s.syncDir()
}

// reject appends a line the database refused to rejected.jsonl.
func (s *Spool) reject(line []byte) error {
	path := filepath.Join(s.opts.Dir, rejectedName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := f.Write(append(slices.Clone(line), '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return f.Close()
}

// Run replays at once (tasks spooled by an earlier run) and then every
// RetryEvery, until ctx ends. Failures are logged and retried.
func (s *Spool) Run(ctx context.Context) error {
	tick := time.NewTicker(s.opts.RetryEvery)
	defer tick.Stop()
	for {
		n, err := s.Replay(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("spool: replay failed; will retry", "replayed", n, "err", err)
		case n > 0:
			s.log.Info("spool: replayed callback tasks", "replayed", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
