package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/feed"
	"github.com/stickyacd/stickyacd/routing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeAgents struct{ list []Agent }

func (f *fakeAgents) List(context.Context) ([]Agent, error) { return f.list, nil }
func (f *fakeAgents) Get(_ context.Context, id string) (Agent, error) {
	for _, a := range f.list {
		if a.ID == id {
			return a, nil
		}
	}
	return Agent{}, ErrNotFound
}
func (f *fakeAgents) SetStatus(_ context.Context, id, status string) (Agent, error) {
	for i, a := range f.list {
		if a.ID == id {
			f.list[i].Status = status
			return f.list[i], nil
		}
	}
	return Agent{}, errors.Join(ErrNotFound, errors.New("agent "+id))
}

type fakeCallbacks struct{}

func (fakeCallbacks) List(_ context.Context, f CallbackFilter) ([]any, error) {
	if f.Status == "bogus" {
		return nil, errors.Join(ErrInvalid, errors.New("status bogus"))
	}
	return nil, nil
}
func (fakeCallbacks) Get(_ context.Context, id int64) (any, error) {
	if id == 7 {
		return map[string]any{"id": 7, "status": "assigned"}, nil
	}
	return nil, ErrNotFound
}
func (fakeCallbacks) Complete(_ context.Context, id int64, outcome, _ string) (any, error) {
	return map[string]any{"id": id, "status": "completed", "outcome": outcome}, nil
}
func (fakeCallbacks) Reassign(_ context.Context, id int64, agent string) (any, error) {
	return map[string]any{"id": id, "agent_id": agent}, nil
}

type fakeCalls struct{}

func (fakeCalls) Call(_ context.Context, uuid string) (*routing.Trace, error) {
	if uuid == "c1" {
		return &routing.Trace{UUID: "c1", Entry: routing.EntryKnown, Outcome: routing.OutcomeBridged, Steps: []routing.StepTrace{}}, nil
	}
	return nil, routing.ErrNotFound
}

func newServer(t *testing.T, token string, hub *feed.Hub) *httptest.Server {
	t.Helper()
	h := New(Config{
		Token:     token,
		Agents:    &fakeAgents{list: []Agent{{ID: "S1", Extension: "2001", Team: "north", Role: "agent", Status: "logged_out", State: "idle"}}},
		Callbacks: fakeCallbacks{},
		Calls:     fakeCalls{},
		Feed:      hub,
		Metrics:   http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "# TYPE x counter\n") }),
		Ready:     map[string]func(context.Context) error{"redis": func(context.Context) error { return nil }},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Heartbeat: 20 * time.Millisecond,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestAPI(t *testing.T) {
	t.Parallel()
	srv := newServer(t, "tok", feed.New(nil, "", slog.Default()))
	cases := []struct {
		name, method, path, token, body string
		status                          int
		check                           func(t *testing.T, body map[string]any)
	}{
		{"healthz is open", "GET", "/healthz", "", "", 200, nil},
		{"readyz is open", "GET", "/readyz", "", "", 200, nil},
		{"no token", "GET", "/api/v1/agents", "", "", 401, hasError},
		{"wrong token", "GET", "/api/v1/agents", "nope", "", 401, hasError},
		{"agents", "GET", "/api/v1/agents", "tok", "", 200, func(t *testing.T, b map[string]any) {
			items, _ := b["items"].([]any)
			if len(items) != 1 {
				t.Fatalf("items = %v", b)
			}
			a := items[0].(map[string]any)
			for _, k := range []string{"id", "extension", "team", "role", "status", "state", "registered", "state_since", "open_tasks"} {
				if _, ok := a[k]; !ok {
					t.Errorf("agent JSON lacks %q", k)
				}
			}
		}},
		{"set status", "PUT", "/api/v1/agents/S1/status", "tok", `{"status":"available"}`, 200, func(t *testing.T, b map[string]any) {
			if b["status"] != "available" {
				t.Fatalf("got %v", b)
			}
		}},
		{"bad status", "PUT", "/api/v1/agents/S1/status", "tok", `{"status":"dancing"}`, 400, hasError},
		{"bad body", "PUT", "/api/v1/agents/S1/status", "tok", `{"state":"x"}`, 400, hasError},
		{"unknown agent", "PUT", "/api/v1/agents/NOPE/status", "tok", `{"status":"available"}`, 404, hasError},
		{"callbacks", "GET", "/api/v1/callbacks?status=assigned&agent=S1", "tok", "", 200, func(t *testing.T, b map[string]any) {
			if items, ok := b["items"].([]any); !ok || len(items) != 0 {
				t.Fatalf("got %v", b)
			}
		}},
		{"callbacks bad filter", "GET", "/api/v1/callbacks?status=bogus", "tok", "", 400, hasError},
		{"callback", "GET", "/api/v1/callbacks/7", "tok", "", 200, nil},
		{"callback bad id", "GET", "/api/v1/callbacks/x", "tok", "", 400, hasError},
		{"callback missing", "GET", "/api/v1/callbacks/8", "tok", "", 404, hasError},
		{"complete without body", "POST", "/api/v1/callbacks/7/complete", "tok", "", 200, nil},
		{"complete with outcome", "POST", "/api/v1/callbacks/7/complete", "tok", `{"outcome":"resolved"}`, 200, func(t *testing.T, b map[string]any) {
			if b["outcome"] != "resolved" {
				t.Fatalf("got %v", b)
			}
		}},
		{"reassign", "POST", "/api/v1/callbacks/7/reassign", "tok", `{"agent_id":"S1"}`, 200, nil},
		{"body cut short is no empty body", "POST", "/api/v1/callbacks/7/reassign", "tok", `{"agent_id":"S`, 400, hasError},
		{"token in the query only for event streams", "GET", "/api/v1/agents?token=tok", "", "", 401, hasError},
		{"call", "GET", "/api/v1/calls/c1", "tok", "", 200, func(t *testing.T, b map[string]any) {
			if b["uuid"] != "c1" || b["entry"] != "known" {
				t.Fatalf("got %v", b)
			}
		}},
		{"unknown call", "GET", "/api/v1/calls/00000000-0000-0000-0000-000000000000", "tok", "", 404, hasError},
		{"unknown endpoint", "GET", "/api/v1/nothing", "tok", "", 404, hasError},
		{"events of unknown agent", "GET", "/api/v1/agents/NOPE/events", "tok", "", 404, hasError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, tc.method, srv.URL+tc.path, tc.token, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, body)
			}
			if tc.check != nil {
				tc.check(t, body)
			}
		})
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("metrics: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(srv.URL + "/")
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("wallboard: %v %v", resp, err)
	}
	resp.Body.Close()
}

func hasError(t *testing.T, b map[string]any) {
	t.Helper()
	if _, ok := b["error"].(string); !ok {
		t.Fatalf("no {\"error\": ...} in %v", b)
	}
}

func TestReadyzReportsFailures(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(New(Config{
		Ready:  map[string]func(context.Context) error{"postgres": func(context.Context) error { return errors.New("connection refused") }},
		Logger: slog.Default(),
	}))
	defer srv.Close()
	status, body := do(t, "GET", srv.URL+"/readyz", "", "")
	if status != 503 || body["ready"] != false {
		t.Fatalf("%d %v", status, body)
	}
}

func TestEventStream(t *testing.T) {
	t.Parallel()
	hub := feed.New(nil, "", slog.Default())
	srv := newServer(t, "tok", hub)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/agents/S1/events?token=tok", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for hub.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := hub.Publish(ctx, "S1", "screen_pop", map[string]string{"caller": "13900139001"}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			data = v
			break
		}
	}
	if event != "screen_pop" || !strings.Contains(data, `"caller":"13900139001"`) {
		t.Fatalf("event %q data %q", event, data)
	}
}
