package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sync/errgroup"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/callback/webhook"
	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/store"
	"github.com/stickyacd/stickyacd/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "s3cret"

var t0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

// receiver is a webhook endpoint that fails its first failures requests.
type receiver struct {
	mu       sync.Mutex
	failures int
	reqs     []request
}

type request struct {
	key, signature, contentType string
	body                        []byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, request{
		key: req.Header.Get("Idempotency-Key"), signature: req.Header.Get("X-Stickyacd-Signature"),
		contentType: req.Header.Get("Content-Type"), body: body,
	})
	if r.failures > 0 {
		r.failures--
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

func newReceiver(t *testing.T, failures int) (*receiver, string) {
	t.Helper()
	r := &receiver{failures: failures}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL
}

// clock is a manual clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// outboxWith is a migrated schema whose outbox holds n notices, written the
// way the worker writes them: with the events, under the task's lease.
func outboxWith(t *testing.T, n int) (*store.DB, []string) {
	t.Helper()
	db := storetest.PG(t)
	ctx := context.Background()
	if _, err := db.SQL().ExecContext(ctx, `
INSERT INTO business_types (code, digit, name, callback_due, priority) VALUES ('loan', 1, 'Loans', '30 minutes', 10);
INSERT INTO teams (id) VALUES ('north');
INSERT INTO agents (id, name, extension, team_id, role) VALUES ('A1', 'Ann', '2001', 'north', 'agent');`); err != nil {
		t.Fatal(err)
	}
	tasks := store.NewTasks(db, store.TasksOptions{WebhookOutbox: true})
	for i := range n {
		if _, err := tasks.CreateTask(ctx, routing.NewTask{CallUUID: fmt.Sprint("call-", i), Caller: "13900139001",
			BusinessType: "loan", Priority: 10, DueAt: t0.Add(30 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := tasks.Claim(ctx, callback.Claim{Owner: "w", Now: t0, Until: t0.Add(time.Minute), Limit: n})
	if err != nil || len(claimed) != n {
		t.Fatalf("claim: %d, %v", len(claimed), err)
	}
	var keys []string
	changes := make([]callback.Change, n)
	for i, task := range claimed {
		task.Status, task.AgentID, task.TeamID, task.NextCheckAt = callback.StatusAssigned, "A1", "north", task.DueAt
		key := fmt.Sprint("key-", task.ID)
		keys = append(keys, key)
		changes[i] = callback.Change{
			Task:    task,
			Events:  []callback.Event{{At: t0, Kind: callback.EventAssigned, AgentID: "A1", Note: "test"}},
			Notices: []callback.Notice{{Key: key, Kind: callback.EventAssigned, At: t0, AgentID: "A1", Note: "test", Task: task}},
		}
	}
	if _, err := tasks.Apply(ctx, "w", changes); err != nil {
		t.Fatal(err)
	}
	return db, keys
}

func newDeliverer(t *testing.T, db *store.DB, url string, c *clock) *webhook.Deliverer {
	t.Helper()
	d, err := webhook.New(webhook.Config{URL: url, Secret: secret, MinBackoff: time.Second, MaxBackoff: time.Minute, Now: c.Now}, store.NewOutbox(db))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type outboxRow struct {
	Attempts    int        `db:"attempts"`
	NextAttempt time.Time  `db:"next_attempt_at"`
	Delivered   *time.Time `db:"delivered_at"`
	LastError   string     `db:"last_error"`
}

func row(t *testing.T, db *store.DB, key string) outboxRow {
	t.Helper()
	var r outboxRow
	if err := db.SQL().GetContext(context.Background(), &r,
		`SELECT attempts, next_attempt_at, delivered_at, last_error FROM callback_outbox WHERE idempotency_key = $1`, key); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDeliverRetriesWithBackoffThenSucceeds(t *testing.T) {
	t.Parallel()
	db, keys := outboxWith(t, 1)
	recv, url := newReceiver(t, 2)
	c := &clock{now: t0}
	d := newDeliverer(t, db, url, c)
	ctx := context.Background()

	steps := []struct {
		advance   time.Duration
		delivered int
		requests  int
		attempts  int
		next      time.Duration // after t0, when still pending
	}{
		{advance: 0, delivered: 0, requests: 1, attempts: 1, next: time.Second},
		{advance: 999 * time.Millisecond, delivered: 0, requests: 1, attempts: 1, next: time.Second}, // not due yet
		{advance: time.Millisecond, delivered: 0, requests: 2, attempts: 2, next: 3 * time.Second},   // 1s, then 2s
		{advance: 2 * time.Second, delivered: 1, requests: 3, attempts: 3},
		{advance: time.Hour, delivered: 0, requests: 3, attempts: 3}, // nothing more
	}
	for i, s := range steps {
		c.advance(s.advance)
		n, err := d.Deliver(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := row(t, db, keys[0])
		if n != s.delivered || len(recv.requests()) != s.requests || r.Attempts != s.attempts {
			t.Fatalf("step %d: delivered %d, %d requests, %d attempts; want %+v", i, n, len(recv.requests()), r.Attempts, s)
		}
		if s.next != 0 && (!r.NextAttempt.Equal(t0.Add(s.next)) || r.Delivered != nil || !strings.Contains(r.LastError, "503")) {
			t.Errorf("step %d: %+v, want next attempt at t0+%s after a 503", i, r, s.next)
		}
	}
	if r := row(t, db, keys[0]); r.Delivered == nil || r.LastError != "" {
		t.Errorf("after success: %+v", r)
	}
	for i, req := range recv.requests() {
		if req.key != keys[0] {
			t.Errorf("request %d: Idempotency-Key %q, want %q on every retry", i, req.key, keys[0])
		}
		if req.contentType != "application/json" {
			t.Errorf("request %d: Content-Type %q", i, req.contentType)
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(req.body)
		if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); req.signature != want {
			t.Errorf("request %d: signature %q, want %q", i, req.signature, want)
		}
		if string(req.body) != string(recv.requests()[0].body) {
			t.Errorf("request %d: body changed between retries", i)
		}
		var n callback.Notice
		if err := json.Unmarshal(req.body, &n); err != nil || n.Key != keys[0] || n.Kind != callback.EventAssigned || n.AgentID != "A1" || n.Task.ID == 0 {
			t.Errorf("request %d: body %s (%v)", i, req.body, err)
		}
	}
}

func TestDeliverySurvivesARestart(t *testing.T) {
	t.Parallel()
	db, keys := outboxWith(t, 1)
	ctx := context.Background()
	down, downURL := newReceiver(t, 1000)
	c := &clock{now: t0}
	if n, err := newDeliverer(t, db, downURL, c).Deliver(ctx); err != nil || n != 0 {
		t.Fatalf("first run: %d, %v", n, err)
	}
	if len(down.requests()) != 1 {
		t.Fatalf("%d requests, want 1", len(down.requests()))
	}

	// A new process, with its own pool, after the endpoint is fixed.
	again, err := store.Open(ctx, storetestDSN(t, db), store.Pool{MaxOpen: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	up, upURL := newReceiver(t, 0)
	c.advance(time.Second)
	if n, err := newDeliverer(t, again, upURL, c).Deliver(ctx); err != nil || n != 1 {
		t.Fatalf("after the restart: %d, %v; want 1 delivered", n, err)
	}
	if reqs := up.requests(); len(reqs) != 1 || reqs[0].key != keys[0] || reqs[0].key != down.requests()[0].key {
		t.Errorf("after the restart the notice went out with key %v, want %s as before", reqs, keys[0])
	}
}

// storetestDSN is the DSN of db's schema, for a second, independent pool.
func storetestDSN(t *testing.T, db *store.DB) string {
	t.Helper()
	var schema string
	if err := db.SQL().GetContext(context.Background(), &schema, `SELECT current_schema()`); err != nil {
		t.Fatal(err)
	}
	base := storetest.BaseDSN()
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func TestTwoDeliverersSendEachNoticeOnce(t *testing.T) {
	t.Parallel()
	db, keys := outboxWith(t, 40)
	recv, url := newReceiver(t, 0)
	c := &clock{now: t0}
	var g errgroup.Group
	for range 2 {
		d := newDeliverer(t, db, url, c)
		g.Go(func() error {
			_, err := d.Deliver(context.Background())
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range recv.requests() {
		seen[r.key]++
	}
	for _, k := range keys {
		if seen[k] != 1 {
			t.Errorf("notice %s sent %d times, want once", k, seen[k])
		}
	}
}

func TestRunDeliversAndStops(t *testing.T) {
	t.Parallel()
	db, keys := outboxWith(t, 3)
	recv, url := newReceiver(t, 1)
	d, err := webhook.New(webhook.Config{URL: url, Secret: secret, Poll: 10 * time.Millisecond, MinBackoff: 10 * time.Millisecond}, store.NewOutbox(db))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for _, k := range keys {
		for row(t, db, k).Delivered == nil {
			if time.Now().After(deadline) {
				t.Fatalf("notice %s not delivered; requests %d", k, len(recv.requests()))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	outbox := store.NewOutbox(nil)
	tests := []struct {
		name string
		cfg  webhook.Config
		want string
	}{
		{name: "no URL", cfg: webhook.Config{Secret: "x"}, want: "URL"},
		{name: "not http", cfg: webhook.Config{URL: "ftp://host/x", Secret: "x"}, want: "URL"},
		{name: "no secret", cfg: webhook.Config{URL: "https://crm.example/hook"}, want: "Secret"},
		{name: "backoffs inverted", cfg: webhook.Config{URL: "https://crm.example/hook", Secret: "x", MinBackoff: time.Hour, MaxBackoff: time.Second}, want: "MaxBackoff"},
		{name: "valid", cfg: webhook.Config{URL: "https://crm.example/hook", Secret: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := webhook.New(tt.cfg, outbox)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	// printf 'body' | openssl dgst -sha256 -hmac s3cret
	const want = "sha256=63d7d468988fe3de60e994cf90f219719ea4b63df0ee7521079ed251fa76e83d"
	if got := webhook.Sign(secret, []byte("body")); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}
