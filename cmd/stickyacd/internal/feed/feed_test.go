package feed

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func redisClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	addr := os.Getenv("STICKYACD_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		t.Fatalf("Redis is not reachable at %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestEventsCrossInstancesOnce(t *testing.T) {
	t.Parallel()
	rdb := redisClient(t)
	channel := "test:feed:" + uuid.NewString()
	a, b := New(rdb, channel, quiet()), New(rdb, channel, quiet())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	for _, h := range []*Hub{a, b} {
		go func() { _ = h.Run(ctx); done <- struct{}{} }()
	}
	defer func() { cancel(); <-done; <-done }()

	onA, stopA := a.Subscribe("S2001")
	defer stopA()
	onB, stopB := b.Subscribe("S2001")
	defer stopB()
	other, stopOther := b.Subscribe("S2002")
	defer stopOther()

	// The relay subscribes asynchronously; publish until B has seen one.
	deadline := time.After(5 * time.Second)
	var got Event
wait:
	for {
		if err := a.Publish(ctx, "S2001", "reminder", map[string]int{"task": 7}); err != nil {
			t.Fatal(err)
		}
		select {
		case got = <-onB:
			break wait
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("event published on A never reached B")
		}
	}
	if got.Type != "reminder" || string(got.Data) != `{"task":7}` {
		t.Fatalf("got %+v", got)
	}
	// A delivers locally once per publish, never again via Redis.
	n := 0
	for drained := false; !drained; {
		select {
		case <-onA:
			n++
		case <-time.After(200 * time.Millisecond):
			drained = true
		}
	}
	if n == 0 {
		t.Fatal("local subscriber got nothing")
	}
	select {
	case ev := <-other:
		t.Fatalf("another agent's subscriber got %+v", ev)
	default:
	}
}

func TestSlowSubscriberDropsInsteadOfBlocking(t *testing.T) {
	t.Parallel()
	h := New(nil, "", quiet())
	ch, stop := h.Subscribe("S1")
	defer stop()
	for i := 0; i < SubscriberBuffer+10; i++ {
		if err := h.Publish(context.Background(), "S1", "screen_pop", i); err != nil {
			t.Fatal(err)
		}
	}
	if h.Dropped() != 10 {
		t.Fatalf("dropped = %d, want 10", h.Dropped())
	}
	if len(ch) != SubscriberBuffer {
		t.Fatalf("buffered = %d", len(ch))
	}
	stop()
	if h.Subscribers() != 0 {
		t.Fatalf("subscribers after stop = %d", h.Subscribers())
	}
}
