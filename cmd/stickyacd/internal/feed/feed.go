// Package feed carries per-agent events (screen pops, callback reminders and
// assignments) to the agents' Server-Sent-Events streams. Events published on
// one stickyacd instance reach subscribers connected to any instance through
// a Redis pub/sub channel; delivery to a slow subscriber never blocks: its
// buffer is bounded and overflow is dropped and counted.
package feed

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Event is one item of an agent's feed.
type Event struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"` // screen_pop | assignment | reminder | reassignment | escalation
	AgentID string          `json:"agent_id"`
	At      time.Time       `json:"at"`
	Data    json.RawMessage `json:"data"`
}

// envelope is what travels over Redis: the origin lets an instance skip its
// own messages, already delivered locally.
type envelope struct {
	Origin string `json:"origin"`
	Event  Event  `json:"event"`
}

// SubscriberBuffer is how many events a subscriber may lag behind before
// newer ones are dropped.
const SubscriberBuffer = 64

// Hub fans events out to subscribers.
type Hub struct {
	rdb     redis.UniversalClient // nil: this instance only
	channel string
	origin  string
	log     *slog.Logger

	mu   sync.Mutex
	subs map[string]map[*subscriber]struct{}

	dropped atomic.Int64
}

type subscriber struct {
	ch chan Event
}

// New returns a hub publishing through rdb on channel (nil rdb: local only).
func New(rdb redis.UniversalClient, channel string, log *slog.Logger) *Hub {
	return &Hub{
		rdb:     rdb,
		channel: channel,
		origin:  uuid.NewString(),
		log:     log,
		subs:    map[string]map[*subscriber]struct{}{},
	}
}

// Subscribe returns the agent's event stream and a function ending it.
func (h *Hub) Subscribe(agentID string) (<-chan Event, func()) {
	s := &subscriber{ch: make(chan Event, SubscriberBuffer)}
	h.mu.Lock()
	if h.subs[agentID] == nil {
		h.subs[agentID] = map[*subscriber]struct{}{}
	}
	h.subs[agentID][s] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs[agentID], s)
			if len(h.subs[agentID]) == 0 {
				delete(h.subs, agentID)
			}
			h.mu.Unlock()
		})
	}
}

// Publish delivers an event of type typ with data (JSON-encoded) to the
// agent's subscribers on every instance. It never blocks on a subscriber.
func (h *Hub) Publish(ctx context.Context, agentID, typ string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("feed: encode %s for agent %s: %w", typ, agentID, err)
	}
	ev := Event{ID: uuid.NewString(), Type: typ, AgentID: agentID, At: time.Now().UTC(), Data: raw}
	h.deliver(ev)
	if h.rdb == nil {
		return nil
	}
	msg, err := json.Marshal(envelope{Origin: h.origin, Event: ev})
	if err != nil {
		return fmt.Errorf("feed: encode envelope: %w", err)
	}
	if err := h.rdb.Publish(ctx, h.channel, msg).Err(); err != nil {
		return fmt.Errorf("feed: publish %s for agent %s: %w", typ, agentID, err)
	}
	return nil
}

func (h *Hub) deliver(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[ev.AgentID] {
		select {
		case s.ch <- ev:
		default:
			h.dropped.Add(1)
		}
	}
}

// Dropped is the number of events dropped because a subscriber lagged.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// Subscribers is the number of open streams.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.subs {
		n += len(m)
	}
	return n
}

// Run relays events published by other instances until ctx ends,
// resubscribing after Redis errors.
func (h *Hub) Run(ctx context.Context) error {
	if h.rdb == nil {
		<-ctx.Done()
		return nil
	}
	for {
		err := h.relay(ctx)
		if ctx.Err() != nil {
			return nil
		}
		h.log.Warn("feed relay interrupted; resubscribing", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (h *Hub) relay(ctx context.Context) error {
	ps := h.rdb.Subscribe(ctx, h.channel)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		return fmt.Errorf("subscribe %s: %w", h.channel, err)
	}
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-ch:
			if !ok {
				return fmt.Errorf("subscription %s closed", h.channel)
			}
			var env envelope
			if err := json.Unmarshal([]byte(m.Payload), &env); err != nil {
				h.log.Warn("feed: undecodable message", "err", err)
				continue
			}
			if env.Origin == h.origin {
				continue
			}
			h.deliver(env.Event)
		}
	}
}
