package spool_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/store"
	"github.com/stickyacd/stickyacd/store/spool"
	"github.com/stickyacd/stickyacd/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// spoolEnv is a migrated schema reached two ways: through a proxy the test
// can cut (the store under test), and directly (to look at the rows).
type spoolEnv struct {
	proxy  *pgProxy
	direct *store.DB
	tasks  *store.Tasks
	dir    string
}

func newSpoolEnv(t *testing.T) *spoolEnv {
	t.Helper()
	dsn := storetest.DSN(t)
	ctx := context.Background()
	direct, err := store.Open(ctx, dsn, store.Pool{MaxOpen: 2})
	if err != nil {
		t.Fatalf("PostgreSQL (%s): %v", storetest.EnvDSN, err)
	}
	t.Cleanup(func() { _ = direct.Close() })
	if _, err := direct.SQL().ExecContext(ctx, `
INSERT INTO business_types (code, digit, name, callback_due, priority) VALUES ('loan', 1, 'Loans', '30 minutes', 10)`); err != nil {
		t.Fatal(err)
	}
	proxy := newPGProxy(t, pgAddr(t, dsn))
	viaProxy, err := store.Open(ctx, proxy.proxied(dsn), store.Pool{MaxOpen: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = viaProxy.Close() })
	return &spoolEnv{proxy: proxy, direct: direct, tasks: store.NewTasks(viaProxy, store.TasksOptions{}), dir: t.TempDir()}
}

func (e *spoolEnv) open(t *testing.T) *spool.Spool {
	t.Helper()
	sp, err := spool.New(e.tasks, spool.Options{Dir: e.dir, RetryEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close() })
	return sp
}

// counts returns the tasks and "created" events of a call in PostgreSQL.
func (e *spoolEnv) counts(t *testing.T, call string) (tasks, created int) {
	t.Helper()
	err := e.direct.SQL().QueryRowxContext(context.Background(), `
SELECT (SELECT count(*) FROM callback_tasks WHERE call_uuid = $1),
       (SELECT count(*) FROM callback_events e JOIN callback_tasks t ON t.id = e.task_id
         WHERE t.call_uuid = $1 AND e.kind = 'created')`, call).Scan(&tasks, &created)
	if err != nil {
		t.Fatal(err)
	}
	return tasks, created
}

// replayOne replays a spool holding one task and checks that PostgreSQL
// then has that call's task once, with one created event.
func (e *spoolEnv) replayOne(t *testing.T, sp *spool.Spool, call string) {
	t.Helper()
	if n, err := sp.Replay(context.Background()); err != nil || n != 1 {
		t.Fatalf("replay: %d, %v; want 1", n, err)
	}
	if tasks, created := e.counts(t, call); tasks != 1 || created != 1 {
		t.Errorf("after replay: %d tasks, %d created events of %s; want 1 and 1", tasks, created, call)
	}
}

func promise(call string) routing.NewTask {
	return routing.NewTask{CallUUID: call, Caller: "13900139001", BusinessType: "loan", Priority: 10,
		DueAt: time.Date(2026, 11, 30, 10, 30, 0, 0, time.UTC)}
}

func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".jsonl") {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestSpoolWhenPostgresIsUnreachable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cut  func(*pgProxy)
		ctx  time.Duration // deadline of step 04's context
	}{
		{name: "connection refused", cut: (*pgProxy).refuse, ctx: 5 * time.Second},
		{name: "connections reset", cut: (*pgProxy).reset, ctx: 5 * time.Second},
		{name: "server hangs: timeout", cut: (*pgProxy).hangUp, ctx: 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newSpoolEnv(t)
			sp := e.open(t)
			ctx := context.Background()
			if id, err := sp.CreateTask(ctx, promise("before")); err != nil || id == 0 {
				t.Fatalf("with PostgreSQL up: %d, %v", id, err)
			}

			tt.cut(e.proxy)
			cctx, cancel := context.WithTimeout(ctx, tt.ctx)
			id, err := sp.CreateTask(cctx, promise("during"))
			cancel()
			if err != nil || id != 0 {
				t.Fatalf("with PostgreSQL down: %d, %v; want (0, nil): spooled", id, err)
			}
			if n, _ := e.counts(t, "during"); n != 0 {
				t.Fatalf("%d rows for the spooled call while PostgreSQL was unreachable", n)
			}
			cctx, cancel = context.WithTimeout(ctx, tt.ctx)
			_, err = sp.Replay(cctx)
			cancel()
			if err == nil {
				t.Error("replay succeeded while PostgreSQL was still unreachable")
			}
			files := spoolFiles(t, e.dir)
			if len(files) != 1 || !strings.HasPrefix(files[0], "replay-") {
				t.Fatalf("spool files %v, want one replay file kept after the failed replay", files)
			}
			kept, err := os.ReadFile(filepath.Join(e.dir, files[0]))
			if err != nil || !strings.Contains(string(kept), `"call_uuid":"during"`) {
				t.Fatalf("spool file %q, %v", kept, err)
			}

			e.proxy.restore()
			e.replayOne(t, sp, "during")
			if files := spoolFiles(t, e.dir); len(files) != 0 {
				t.Errorf("spool files %v left after a complete replay", files)
			}

			// A crash between the replay and the removal of its file means
			// the same file is replayed again: nothing new is created.
			if err := os.WriteFile(filepath.Join(e.dir, files[0]), kept, 0o600); err != nil {
				t.Fatal(err)
			}
			e.replayOne(t, sp, "during")
		})
	}
}

func TestSpoolSurvivesARestart(t *testing.T) {
	t.Parallel()
	e := newSpoolEnv(t)
	ctx := context.Background()
	first := e.open(t)
	e.proxy.refuse()
	for i := range 3 {
		if _, err := first.CreateTask(ctx, promise(fmt.Sprint("call-", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	// The process restarts; one more promise is spooled before PostgreSQL
	// is back.
	second := e.open(t)
	if _, err := second.CreateTask(ctx, promise("call-3")); err != nil {
		t.Fatal(err)
	}
	e.proxy.restore()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- second.Run(rctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 4; {
		if tasks, created := e.counts(t, fmt.Sprint("call-", i)); tasks == 1 && created == 1 {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("call-%d not replayed by Run", i)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	for len(spoolFiles(t, e.dir)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool files %v left after the replay", spoolFiles(t, e.dir))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lostReply creates the task but reports the connection as lost, as when
// PostgreSQL commits and the connection drops before the reply.
type lostReply struct{ inner routing.TaskSink }

func (l lostReply) CreateTask(ctx context.Context, t routing.NewTask) (int64, error) {
	if _, err := l.inner.CreateTask(ctx, t); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("read reply: %w", os.ErrDeadlineExceeded)
}

func TestSpoolReplayAfterALostReplyCreatesNothingTwice(t *testing.T) {
	t.Parallel()
	e := newSpoolEnv(t)
	sp, err := spool.New(lostReply{e.tasks}, spool.Options{Dir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	ctx := context.Background()
	if id, err := sp.CreateTask(ctx, promise("ambiguous")); err != nil || id != 0 {
		t.Fatalf("got %d, %v; want spooled", id, err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	replayer := e.open(t)
	e.replayOne(t, replayer, "ambiguous")
}

func TestSpoolPassesRefusalsThrough(t *testing.T) {
	t.Parallel()
	e := newSpoolEnv(t)
	sp := e.open(t)
	bad := promise("bad")
	bad.BusinessType = "mortgage" // not configured: a foreign-key violation
	if _, err := sp.CreateTask(context.Background(), bad); err == nil {
		t.Fatal("a task PostgreSQL refuses was accepted")
	}
	if files := spoolFiles(t, e.dir); len(files) != 0 {
		t.Errorf("refused task spooled: %v", files)
	}
}

func TestSpoolKeepsWhatReplayCannotCreate(t *testing.T) {
	t.Parallel()
	e := newSpoolEnv(t)
	sp := e.open(t)
	ctx := context.Background()
	e.proxy.refuse()
	bad := promise("bad")
	bad.BusinessType = "mortgage"
	for _, nt := range []routing.NewTask{promise("good-1"), bad, promise("good-2")} {
		if _, err := sp.CreateTask(ctx, nt); err != nil {
			t.Fatal(err)
		}
	}
	// A crash tore the last line of an append.
	f, err := os.OpenFile(filepath.Join(e.dir, "current.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"call_uuid":"torn","cal`); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	e.proxy.restore()
	if n, err := sp.Replay(ctx); err != nil || n != 2 {
		t.Fatalf("replay: %d, %v; want the 2 good tasks", n, err)
	}
	for _, call := range []string{"good-1", "good-2"} {
		if tasks, _ := e.counts(t, call); tasks != 1 {
			t.Errorf("%s: %d tasks", call, tasks)
		}
	}
	rejected, err := os.ReadFile(filepath.Join(e.dir, "rejected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rejected), `"call_uuid":"bad"`) || !strings.Contains(string(rejected), `"call_uuid":"torn","cal`) {
		t.Errorf("rejected.jsonl = %q, want the refused task and the torn line", rejected)
	}
	if files := spoolFiles(t, e.dir); len(files) != 1 || files[0] != "rejected.jsonl" {
		t.Errorf("spool files %v, want only rejected.jsonl", files)
	}
}

func TestSpoolDirectoryHasOneOwner(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := spool.New(nil, spool.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spool.New(nil, spool.Options{Dir: dir}); !errors.Is(err, spool.ErrLocked) {
		t.Errorf("second owner: %v, want ErrLocked", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := spool.New(nil, spool.Options{Dir: dir})
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	_ = again.Close()
}
