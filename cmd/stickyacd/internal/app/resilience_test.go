package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/config"
	"github.com/stickyacd/stickyacd/esl/fstest"
	"github.com/stickyacd/stickyacd/routing"
)

// tcpGate forwards connections to a server until it is shut, when it
// refuses new connections and cuts the open ones: a database that goes away.
type tcpGate struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	open   bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func newGate(t *testing.T, target string) *tcpGate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &tcpGate{ln: ln, target: target, open: true, conns: map[net.Conn]struct{}{}}
	g.wg.Add(1)
	go g.serve()
	t.Cleanup(func() {
		ln.Close()
		g.shut()
		g.wg.Wait()
	})
	return g
}

func (g *tcpGate) serve() {
	defer g.wg.Done()
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		if !g.open {
			g.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", g.target)
		if err != nil {
			g.mu.Unlock()
			c.Close()
			continue
		}
		g.conns[c], g.conns[up] = struct{}{}, struct{}{}
		g.mu.Unlock()
		g.wg.Add(2)
		go func() { defer g.wg.Done(); io.Copy(up, c); up.Close() }()
		go func() { defer g.wg.Done(); io.Copy(c, up); c.Close() }()
	}
}

func (g *tcpGate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = false
	for c := range g.conns {
		c.Close()
	}
	clear(g.conns)
}

func (g *tcpGate) reopen() {
	g.mu.Lock()
	g.open = true
	g.mu.Unlock()
}

// PostgreSQL goes away mid-service: a known caller cannot be looked up, so
// the call falls through to the callback path rather than dropping the
// caller; the promise is spooled and, once PostgreSQL is back, replayed
// exactly once.
func TestPostgresDownCallbackIsSpooledAndReplayed(t *testing.T) {
	t.Parallel()
	var gate *tcpGate
	e := start(t, func(c *config.Config) {
		u, err := url.Parse(c.Postgres.DSN)
		if err != nil {
			t.Fatal(err)
		}
		gate = newGate(t, u.Host)
		u.Host = gate.ln.Addr().String()
		q := u.Query()
		q.Set("connect_timeout", "1")
		u.RawQuery = q.Encode()
		c.Postgres.DSN = u.String()
	})
	e.available("A1")
	e.phones(map[string]fstest.Endpoint{"3001": answers})
	gate.shut()
	res := e.call(fstest.CallSpec{Caller: "13900000001", Input: []string{"2"}})
	if !strings.Contains(appNames(res), "play_and_get_digits") || res.HungUpBy == "" {
		t.Fatalf("the caller did not get the callback path: %s", appNames(res))
	}
	if len(res.Bridges) != 0 {
		t.Fatalf("bridged without a customer look-up: %v", bridgedTo(res))
	}
	gate.reopen()
	var task callback.Task
	e.eventually("the spooled task replayed", func() bool {
		for _, tk := range e.tasks("") {
			if tk.CallUUID == res.UUID {
				task = tk
				return true
			}
		}
		return false
	})
	if task.BusinessType != "card" || task.Caller != "13900000001" {
		t.Fatalf("replayed task %+v", task)
	}
	// Replaying again (the spool runs every few seconds) creates nothing new.
	if _, err := e.app.spool.Replay(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tk := range e.tasks("") {
		if tk.CallUUID == res.UUID {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d tasks for the call", n)
	}
}

// Redis is unreachable: nobody can be reserved, so every caller gets the
// callback path, and the API says it is not ready.
func TestRedisDownCallersGetCallbacks(t *testing.T) {
	t.Parallel()
	dead := freePort(t)
	e := start(t, func(c *config.Config) { c.Redis.Addrs = []string{dead} })
	res := e.call(fstest.CallSpec{Caller: "13900000001", Input: []string{"1"}})
	tr := e.trace(res.UUID)
	if tr.Outcome != routing.OutcomeCallback || tr.TaskID == nil || tr.Error == "" {
		t.Fatalf("trace outcome %s task %v error %q (%s)", tr.Outcome, tr.TaskID, tr.Error, steps(tr))
	}
	var ready map[string]any
	if st := e.api("GET", "/readyz", nil, &ready); st != 503 {
		t.Fatalf("/readyz = %d %v", st, ready)
	}
	var metrics string
	resp, err := http.Get(e.base + "/metrics")
	if err == nil {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics = string(raw)
	}
	if !strings.Contains(metrics, "stickyacd_calls_degraded_total 1") {
		t.Fatalf("degraded call not counted:\n%s", grep(metrics, "stickyacd_calls"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Calls are counted on /metrics by entry and outcome, with the step that
// bridged them and the bridge attempts.
func TestMetricsCountCalls(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.available("A1", "A2")
	e.phones(map[string]fstest.Endpoint{"3001": fstest.Busy(), "3002": answers})
	e.call(fstest.CallSpec{Caller: "13900000001"})
	e.call(fstest.CallSpec{Caller: "13900000001"})
	scrape := func() string {
		resp, err := http.Get(e.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return string(raw)
	}
	raw := scrape()
	for _, want := range []string{
		`stickyacd_calls_total{entry="known",outcome="bridged"} 2`,
		`stickyacd_calls_bridged_total{step="012"} 2`,
		`stickyacd_bridge_attempts_total{result="busy",step="011"} 2`,
		`stickyacd_decision_seconds_count 2`,
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grep(raw, "stickyacd_"))
		}
	}
	// The socket closes just after the call ends.
	e.eventually("no session left", func() bool { return strings.Contains(scrape(), "stickyacd_esl_sessions_active 0") })
}

// After routing.max_no_answer unanswered offers in a row the agent is put
// on break, as mod_callcenter's max-no-answer does.
func TestMaxNoAnswerPutsAgentOnBreak(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *config.Config) { c.Routing.MaxNoAnswer = 2 })
	e.available("A1", "A2")
	e.phones(map[string]fstest.Endpoint{"3001": fstest.NoAnswer(), "3002": answers})
	e.call(fstest.CallSpec{Caller: "13900000001"})
	if a := e.agent("A1"); a.Status != "available" || a.NoAnswers != 1 {
		t.Fatalf("after one no-answer: %+v", a)
	}
	e.call(fstest.CallSpec{Caller: "13900000001"})
	a := e.agent("A1")
	if a.Status != "break" || a.Reason != "max_no_answer" {
		t.Fatalf("after two no-answers: status %s reason %q", a.Status, a.Reason)
	}
	res := e.call(fstest.CallSpec{Caller: "13900000001"})
	wantSteps(t, e.trace(res.UUID), "01 011:A1=break 012:A2=answered")
}

// Reconciliation also finds an agent on the phone whose call events were
// missed, from `show channels`.
func TestReconcileFindsMissedCall(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *config.Config) { c.Routing.WrapUp = 0 })
	e.available("A2")
	ch := e.fs.StartChannel("3002", "outbound", "77770000")
	e.eventually("A2 in a call", func() bool { return e.agent("A2").State == "in_call" })
	ctx := context.Background()
	// The end of the call is recorded although FreeSWITCH still has it.
	if err := e.app.pres.ExternalCall(ctx, "A2", ch.UUID(), false); err != nil {
		t.Fatal(err)
	}
	e.eventually("A2 idle", func() bool { return e.agent("A2").State == "idle" })
	time.Sleep(100 * time.Millisecond)
	if err := e.app.events.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if a := e.agent("A2"); a.State != "in_call" || a.CallUUID != ch.UUID() {
		t.Fatalf("after reconcile: %s on %q", a.State, a.CallUUID)
	}
	ch.Hangup()
}

// The optional webhook receives signed notices (assignment, reminder) with
// an idempotency key.
func TestWebhookNotices(t *testing.T) {
	t.Parallel()
	const secret = "hook-secret"
	type hit struct {
		kind, key string
		signed    bool
	}
	var mu sync.Mutex
	var hits []hit
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		var n struct{ Kind string }
		_ = json.Unmarshal(body, &n)
		mu.Lock()
		hits = append(hits, hit{n.Kind, r.Header.Get("Idempotency-Key"), r.Header.Get("X-Stickyacd-Signature") == "sha256="+hex.EncodeToString(m.Sum(nil))})
		mu.Unlock()
	}))
	defer hook.Close()
	e := start(t, func(c *config.Config) {
		c.Callback.WebhookURL = hook.URL
		c.Callback.WebhookSecret = secret
	})
	res := e.call(fstest.CallSpec{Caller: "13900000001", Input: []string{"1"}})
	e.eventually("assignment to A1", func() bool { return e.taskOf(res.UUID).AgentID == "A1" })
	e.clock.Advance(31 * time.Minute)
	e.app.worker.Kick()
	e.eventually("assignment and reminder delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		kinds := map[string]bool{}
		for _, h := range hits {
			if !h.signed || h.key == "" {
				t.Errorf("unsigned or keyless delivery %+v", h)
			}
			kinds[h.kind] = true
		}
		return kinds["assigned"] && kinds["reminded"]
	})
}
