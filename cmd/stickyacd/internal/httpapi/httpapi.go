// Package httpapi serves stickyacd's admin HTTP API (DESIGN.md §4.6): health,
// metrics, agents, callbacks, call traces, agents' event streams and the
// wallboard. JSON in and out; errors as {"error": "..."}; a bearer token on
// everything but /healthz, /readyz and /metrics.
package httpapi

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/feed"
	"github.com/stickyacd/stickyacd/routing"
)

// Errors the dependencies return, mapped to HTTP statuses.
var (
	ErrNotFound = errors.New("not found")     // 404
	ErrInvalid  = errors.New("invalid input") // 400
	ErrConflict = errors.New("conflict")      // 409
)

// Agent is one agent as the API shows it; the first fields are the contract.
type Agent struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Extension  string     `json:"extension"`
	Team       string     `json:"team"`
	Role       string     `json:"role"`
	Status     string     `json:"status"`
	State      string     `json:"state"`
	Registered bool       `json:"registered"`
	StateSince *time.Time `json:"state_since"`
	OpenTasks  int        `json:"open_tasks"`
	Online     bool       `json:"online"`
	Reason     string     `json:"reason,omitempty"`
	NoAnswers  int        `json:"no_answers"`
	CallUUID   string     `json:"call_uuid,omitempty"`
	ReadyAt    *time.Time `json:"ready_at,omitempty"`
	Skills     []string   `json:"skills"`
}

// Agents is the live agent list.
type Agents interface {
	List(ctx context.Context) ([]Agent, error)
	// Get returns one agent; ErrNotFound.
	Get(ctx context.Context, id string) (Agent, error)
	// SetStatus sets available | break | logged_out; ErrNotFound, ErrInvalid.
	SetStatus(ctx context.Context, id, status string) (Agent, error)
}

// CallbackFilter selects callback tasks.
type CallbackFilter struct {
	Status string
	Agent  string
	Limit  int
}

// Callbacks are the callback tasks. Values returned must marshal to the
// callback JSON of DESIGN.md §4.6.
type Callbacks interface {
	List(ctx context.Context, f CallbackFilter) ([]any, error)
	Get(ctx context.Context, id int64) (any, error)
	Complete(ctx context.Context, id int64, outcome, agentID string) (any, error)
	Reassign(ctx context.Context, id int64, agentID string) (any, error)
}

// Calls finds a call's decision trace, live or finished.
type Calls interface {
	Call(ctx context.Context, uuid string) (*routing.Trace, error)
}

// Feed streams an agent's events.
type Feed interface {
	Subscribe(agentID string) (<-chan feed.Event, func())
}

// Config wires the server.
type Config struct {
	Token     string
	Agents    Agents
	Callbacks Callbacks
	Calls     Calls
	Feed      Feed
	Metrics   http.Handler
	// Ready checks dependencies for /readyz, by name ("redis", "postgres").
	Ready  map[string]func(context.Context) error
	Logger *slog.Logger
	// Heartbeat is the keep-alive interval of event streams.
	Heartbeat time.Duration
}

//go:embed wallboard.html
var static embed.FS

// New returns the API handler.
func New(c Config) http.Handler {
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	s := &server{c: c}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if c.Metrics != nil {
		mux.Handle("GET /metrics", c.Metrics)
	}
	mux.HandleFunc("GET /{$}", s.wallboard)
	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/agents", s.listAgents)
	api.HandleFunc("PUT /api/v1/agents/{id}/status", s.setStatus)
	api.HandleFunc("GET /api/v1/agents/{id}/events", s.events)
	api.HandleFunc("GET /api/v1/callbacks", s.listCallbacks)
	api.HandleFunc("GET /api/v1/callbacks/{id}", s.getCallback)
	api.HandleFunc("POST /api/v1/callbacks/{id}/complete", s.complete)
	api.HandleFunc("POST /api/v1/callbacks/{id}/reassign", s.reassign)
	api.HandleFunc("GET /api/v1/calls/{uuid}", s.call)
	api.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	mux.Handle("/api/", s.auth(api))
	return s.recoverer(mux)
}

type server struct{ c Config }

func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.c.Logger.Error("http handler panic", "path", r.URL.Path, "panic", fmt.Sprint(p))
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *server) auth(next http.Handler) http.Handler {
	if s.c.Token == "" {
		return next
	}
	want := []byte("Bearer " + s.c.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		// EventSource cannot set headers: an event stream may pass
		// ?token= (only a stream: elsewhere it would end up in logs and
		// browser histories for nothing).
		if len(got) == 0 && strings.HasSuffix(r.URL.Path, "/events") && r.URL.Query().Get("token") != "" {
			got = []byte("Bearer " + r.URL.Query().Get("token"))
		}
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="stickyacd"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	for name, check := range s.c.Ready {
		if err := check(ctx); err != nil {
			checks[name] = err.Error()
			ok = false
			continue
		}
		checks[name] = "ok"
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"ready": ok, "checks": checks})
}

func (s *server) wallboard(w http.ResponseWriter, _ *http.Request) {
	body, err := static.ReadFile("wallboard.html")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "wallboard missing")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(body)
}

func (s *server) listAgents(w http.ResponseWriter, r *http.Request) {
	agents, err := s.c.Agents.List(r.Context())
	if err != nil {
		s.fail(w, r, "list agents", err)
		return
	}
	writeItems(w, agents)
}

var statuses = map[string]bool{"available": true, "break": true, "logged_out": true}

func (s *server) setStatus(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Status string `json:"status"`
	}
	if err := decode(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !statuses[body.Status] {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("status %q: must be available, break or logged_out", body.Status))
		return
	}
	a, err := s.c.Agents.SetStatus(r.Context(), r.PathValue("id"), body.Status)
	if err != nil {
		s.fail(w, r, "set agent status", err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *server) listCallbacks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := CallbackFilter{Status: q.Get("status"), Agent: q.Get("agent")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "limit must be a positive integer")
			return
		}
		f.Limit = n
	}
	items, err := s.c.Callbacks.List(r.Context(), f)
	if err != nil {
		s.fail(w, r, "list callbacks", err)
		return
	}
	writeItems(w, items)
}

func taskID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("callback id %q is not a positive integer", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

func (s *server) getCallback(w http.ResponseWriter, r *http.Request) {
	id, ok := taskID(w, r)
	if !ok {
		return
	}
	t, err := s.c.Callbacks.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, "get callback", err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *server) complete(w http.ResponseWriter, r *http.Request) {
	id, ok := taskID(w, r)
	if !ok {
		return
	}
	var body struct {
		Outcome string `json:"outcome"`
		AgentID string `json:"agent_id"`
	}
	if err := decodeOptional(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if body.Outcome == "" {
		body.Outcome = "completed"
	}
	t, err := s.c.Callbacks.Complete(r.Context(), id, body.Outcome, body.AgentID)
	if err != nil {
		s.fail(w, r, "complete callback", err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *server) reassign(w http.ResponseWriter, r *http.Request) {
	id, ok := taskID(w, r)
	if !ok {
		return
	}
	var body struct {
		AgentID string `json:"agent_id"`
	}
	if err := decodeOptional(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	t, err := s.c.Callbacks.Reassign(r.Context(), id, body.AgentID)
	if err != nil {
		s.fail(w, r, "reassign callback", err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *server) call(w http.ResponseWriter, r *http.Request) {
	t, err := s.c.Calls.Call(r.Context(), r.PathValue("uuid"))
	if err != nil {
		s.fail(w, r, "get call", err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// events streams the agent's feed as Server-Sent Events.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.c.Agents.Get(r.Context(), id); err != nil {
		s.fail(w, r, "get agent", err)
		return
	}
	rc := http.NewResponseController(w)
	ch, stop := s.c.Feed.Subscribe(id)
	defer stop()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The retry hint and a first comment let clients see the stream is open.
	if _, err := fmt.Fprint(w, "retry: 3000\n: stream open\n\n"); err != nil {
		return
	}
	_ = rc.Flush()
	tick := time.NewTicker(s.c.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
		case ev := <-ch:
			data, err := json.Marshal(ev)
			if err != nil {
				s.c.Logger.Error("encode feed event", "agent_id", id, "err", err)
				continue
			}
			if _, err := fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, data); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, routing.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, context.Canceled):
		// The client went away; nothing to answer.
	default:
		s.c.Logger.Error(what+" failed", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, what+": "+err.Error())
	}
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	return nil
}

// decodeOptional accepts an empty body.
func decodeOptional(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	err := decode(r, v)
	if errors.Is(err, io.EOF) {
		// An empty body (chunked, so ContentLength was unknown). A body
		// cut short is io.ErrUnexpectedEOF, and an error.
		return nil
	}
	return err
}

func writeItems[T any](w http.ResponseWriter, items []T) {
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
