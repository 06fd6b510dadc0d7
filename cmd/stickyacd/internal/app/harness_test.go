package app

// End-to-end tests of `serve`: the real wiring of App against the FreeSWITCH
// emulator (esl/fstest), the real PostgreSQL (a schema per test) and the
// real Redis (a key prefix per test). They drive eslgo, which has a data race
// of its own, so the Makefile runs this package without -race:
//
//	go test -count=1 ./cmd/stickyacd/internal/app/

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/config"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/httpapi"
	"github.com/stickyacd/stickyacd/esl/fstest"
	"github.com/stickyacd/stickyacd/internal/testlog"
	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/store"
	"github.com/stickyacd/stickyacd/store/presence/presencetest"
	"github.com/stickyacd/stickyacd/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// eslgo's one listener lives as long as the process (esl's design).
		goleak.IgnoreAnyFunction("github.com/stickyacd/stickyacd/esl.(*backend).run"),
		// lib/pq's listener connections end asynchronously after Close.
		goleak.IgnoreAnyFunction("github.com/lib/pq.(*ListenerConn).listenerConnLoop"),
		goleak.IgnoreAnyFunction("github.com/lib/pq.(*ListenerConn).listenerConnMain"),
	)
}

// speed divides every emulated media wait (prompts, ringing, digits).
const speed = 20

const testToken = "e2e-token"

// Test data: two teams; north has a leader and four agents so that every
// step of the chain (first, backup, team, leader) has someone.
const agentsCSV = `agent_id,name,extension,team,role,backup_agent_id,skills
A1,Ann,3001,north,agent,A2,loan|card
A2,Ben,3002,north,agent,A1,card
A3,Cat,3003,north,agent,,loan
A4,Dan,3004,north,agent,,loan|card
L1,Lea,3009,north,leader,,loan|card
B1,Bob,3101,south,agent,,loan|card
L2,Lou,3109,south,leader,,loan|card
`

// Customers: K1 and K2 belong to A1; K2 and K3 have ID numbers; K3 belongs
// to B1.
var (
	idK2 = idWithCheck("11010119900307001")
	idK3 = idWithX()
)

func customersCSV() string {
	return "customer_id,name,id_number,phones,first_agent_id\n" +
		"K1,Gao,," + "13900000001,A1\n" +
		"K2,Hu," + idK2 + ",13900000002,A1\n" +
		"K3,Jin," + idK3 + ",13900000003,B1\n"
}

// idWithCheck completes 17 digits with their ISO 7064 MOD 11-2 check character.
func idWithCheck(first17 string) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(first17[i]-'0') * w
	}
	return first17 + string("10X98765432"[sum%11])
}

// idWithX is a valid number whose check character is X.
func idWithX() string {
	for i := 0; i < 1000; i++ {
		id := idWithCheck(fmt.Sprintf("44030419770615%03d", i))
		if strings.HasSuffix(id, "X") {
			return id
		}
	}
	panic("no X check character found")
}

// offsetClock is the system clock moved forward by Advance: the callback
// worker and the call flow read it; Redis presence keeps its own time.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

type env struct {
	t     *testing.T
	fs    *fstest.FS
	app   *App
	cfg   *config.Config
	base  string
	clock *offsetClock
	logs  *testlog.Buffer
	// stop ends Run as SIGTERM does and returns its error (once).
	stop func() error
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// start runs a whole stickyacd against a fresh emulator, schema and key
// prefix, with the test data imported. mut adjusts the configuration.
func start(t *testing.T, mut func(*config.Config)) *env {
	t.Helper()
	eslAddr := freePort(t)
	fs, err := fstest.New(fstest.Options{Outbound: eslAddr, Speed: speed, FileDuration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load("", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	presencetest.Client(t) // fails the test, naming Redis, when it is down
	cfg.ESL.Listen = eslAddr
	cfg.ESL.DrainTimeout = 2 * time.Second
	cfg.FreeSWITCH.EventSocket = fs.EventSocketAddr()
	cfg.FreeSWITCH.ReconcileInterval = time.Hour
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.HTTP.Token = testToken
	cfg.Postgres.DSN = storetest.DSN(t)
	cfg.Redis.Addrs = []string{presencetest.Addr()}
	cfg.Presence.KeyPrefix = "e2e-" + randomHex(6)
	cfg.Presence.RequireRegistration = false
	cfg.Presence.BusyDelay = 0
	cfg.Presence.RejectDelay = 0
	cfg.Security.IDHashKey = "e2e-hash-key"
	cfg.Callback.SpoolDir = t.TempDir()
	cfg.Callback.Interval = 100 * time.Millisecond
	cfg.Callback.Lease = 2 * time.Second
	cfg.Callback.BusinessHours = "00:00-24:00"
	cfg.Callback.BusinessDays = "sun-sat"
	cfg.Callback.DialString = "sofia/gateway/out/{number}"
	cfg.Callback.CompleteAfter = 200 * time.Millisecond
	cfg.Routing.RingTimeout = 2 * time.Second
	cfg.Routing.WrapUp = 0
	cfg.Routing.IDTimeout = 2 * time.Second
	cfg.Routing.IDDigitTimeout = 2 * time.Second
	cfg.Routing.MenuTimeout = 2 * time.Second
	cfg.Routing.HangupGrace = 300 * time.Millisecond
	cfg.Prompts = config.Prompts{
		EnterID:          "tone_stream://%(300,0,600)",
		InvalidID:        "tone_stream://%(150,100,300)",
		CallbackPromise:  "tone_stream://%(300,0,500)",
		BusinessMenu:     "tone_stream://%(300,0,700)",
		Ringback:         "tone_stream://%(1000,4000,425);loops=-1",
		FeatureOK:        "tone_stream://%(200,0,880)",
		FeatureError:     "tone_stream://%(200,100,300)",
		Goodbye:          "tone_stream://%(200,0,440)",
		CallbackAnnounce: "tone_stream://%(200,0,660)",
		CallbackNone:     "tone_stream://%(200,0,330)",
	}
	cfg.Log.Level = "debug"
	if mut != nil {
		mut(cfg)
	}
	if err := cfg.Validate(config.Need{HashKey: true}); err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := &offsetClock{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, cfg, log, "e2e", Options{Clock: clock, ReconcileGrace: 50 * time.Millisecond})
	if err != nil {
		cancel()
		fs.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var stopOnce sync.Once
	var stopErr error
	stop := func() error {
		stopOnce.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(15 * time.Second):
				stopErr = fmt.Errorf("app.Run did not return 15 s after its context ended")
			}
		})
		return stopErr
	}
	e := &env{t: t, fs: fs, app: a, cfg: cfg, base: "http://" + a.HTTPAddr().String(), clock: clock, logs: logs, stop: stop}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("app.Run: %v", err)
		}
		a.Close()
		fs.Close()
		if t.Failed() {
			t.Logf("stickyacd log:\n%s", tail(logs.String(), 200))
		}
		for _, raw := range []string{idK2, idK3} {
			if strings.Contains(logs.String(), raw) {
				t.Errorf("a raw ID number reached the log")
			}
		}
	})
	e.importCSV("agents", agentsCSV)
	e.importCSV("customers", customersCSV())
	if err := a.repo.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (e *env) importCSV(kind, body string) {
	e.t.Helper()
	hasher, err := store.NewIDHasher([]byte(e.cfg.Security.IDHashKey))
	if err != nil {
		e.t.Fatal(err)
	}
	im := store.NewImporter(e.app.db, hasher, normalizer(e.cfg))
	ctx := context.Background()
	if kind == "agents" {
		_, err = im.ImportAgents(ctx, strings.NewReader(body), kind+".csv")
	} else {
		_, err = im.ImportCustomers(ctx, strings.NewReader(body), kind+".csv")
	}
	if err != nil {
		e.t.Fatalf("import %s: %v", kind, err)
	}
}

// api calls the HTTP API with the token and decodes the JSON answer into out.
func (e *env) api(method, path string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// available logs agents in (HTTP PUT status).
func (e *env) available(ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		if st := e.api("PUT", "/api/v1/agents/"+id+"/status", map[string]string{"status": "available"}, nil); st != 200 {
			e.t.Fatalf("set %s available: %d", id, st)
		}
	}
}

func (e *env) agent(id string) httpapi.Agent {
	e.t.Helper()
	var a httpapi.Agent
	var list struct{ Items []httpapi.Agent }
	e.api("GET", "/api/v1/agents", nil, &list)
	for _, x := range list.Items {
		if x.ID == id {
			a = x
		}
	}
	if a.ID == "" {
		e.t.Fatalf("agent %s not listed", id)
	}
	return a
}

// call places a scripted call and waits for it to end.
func (e *env) call(spec fstest.CallSpec) *fstest.CallResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := e.fs.Call(ctx, spec)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := c.Wait(ctx)
	if err != nil {
		e.t.Fatalf("call %s: %v", c.UUID(), err)
	}
	return res
}

// trace is the saved decision trace of a finished call.
func (e *env) trace(uuid string) routing.Trace {
	e.t.Helper()
	var tr routing.Trace
	if st := e.api("GET", "/api/v1/calls/"+uuid, nil, &tr); st != 200 {
		e.t.Fatalf("GET /api/v1/calls/%s: %d", uuid, st)
	}
	return tr
}

func (e *env) tasks(query string) []callback.Task {
	e.t.Helper()
	var list struct{ Items []callback.Task }
	if st := e.api("GET", "/api/v1/callbacks"+query, nil, &list); st != 200 {
		e.t.Fatalf("GET /api/v1/callbacks%s: %d", query, st)
	}
	return list.Items
}

// eventually retries check until it passes or 10 s have gone.
func (e *env) eventually(what string, check func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// steps lists a trace's steps with each candidate and result, e.g.
// "011:A1=no_answer 012:A2=answered".
func steps(tr routing.Trace) string {
	var parts []string
	for _, s := range tr.Steps {
		if len(s.Candidates) == 0 {
			parts = append(parts, string(s.Step))
			continue
		}
		for _, c := range s.Candidates {
			parts = append(parts, fmt.Sprintf("%s:%s=%s", s.Step, c.AgentID, c.Result))
		}
	}
	return strings.Join(parts, " ")
}

func bridgedTo(res *fstest.CallResult) []string {
	var out []string
	for _, b := range res.Bridges {
		out = append(out, b.Target)
	}
	return out
}

func appNames(res *fstest.CallResult) string {
	var out []string
	for _, a := range res.Apps {
		out = append(out, a.Name)
	}
	return strings.Join(out, ",")
}
