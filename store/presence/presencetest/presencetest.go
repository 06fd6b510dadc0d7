// Package presencetest gives tests a presence.Store on the real Redis,
// isolated by a fresh key prefix and cleaned up when the test ends.
//
// Redis is 127.0.0.1:6379 unless STICKYACD_TEST_REDIS_ADDR says otherwise.
// A test fails, naming the address, when Redis is unreachable: presence
// cannot be faked meaningfully, so its tests never skip.
package presencetest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/stickyacd/stickyacd/store/presence"
)

// AddrEnv names the environment variable that overrides the Redis address.
const AddrEnv = "STICKYACD_TEST_REDIS_ADDR"

// Addr is the Redis address tests use.
func Addr() string {
	if a := os.Getenv(AddrEnv); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// New returns a Store with default options (registration waived) under a
// fresh prefix. Its keys are deleted and its client closed at cleanup.
func New(t testing.TB) *presence.Store {
	t.Helper()
	return NewWithOptions(t, presence.Options{})
}

// NewWithOptions is New with o's settings; o.Prefix is replaced by a fresh one.
func NewWithOptions(t testing.TB, o presence.Options) *presence.Store {
	t.Helper()
	rdb := Client(t)
	o.Prefix = "test-" + uuid.NewString()
	s, err := presence.New(rdb, o)
	if err != nil {
		t.Fatalf("presencetest: new store: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dropPrefix(ctx, rdb, o.Prefix); err != nil {
			t.Errorf("presencetest: drop keys of prefix %s: %v", o.Prefix, err)
		}
	})
	return s
}

// Client returns a client of the test Redis, closed at cleanup, after
// checking that Redis answers.
func Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	rdb, err := presence.NewClient(presence.ClientOptions{Addrs: []string{Addr()}, CommandTimeout: 10 * time.Second, PoolSize: 64})
	if err != nil {
		t.Fatalf("presencetest: redis client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		t.Fatalf("presencetest: Redis at %s is unreachable (set %s to use another): %v", Addr(), AddrEnv, err)
	}
	t.Cleanup(func() {
		if err := rdb.Close(); err != nil {
			t.Errorf("presencetest: close redis client: %v", err)
		}
	})
	return rdb
}

func dropPrefix(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	iter := rdb.Scan(ctx, 0, "{"+prefix+"}:*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return rdb.Unlink(ctx, batch...).Err()
	}
	return nil
}

// WaitUntil returns once the Redis server clock, which presence judges
// every expiry by, has passed at.
func WaitUntil(t testing.TB, at time.Time) {
	t.Helper()
	rdb := Client(t)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		now, err := rdb.Time(ctx).Result()
		cancel()
		if err != nil {
			t.Fatalf("presencetest: Redis time at %s: %v", Addr(), err)
		}
		if now.After(at) {
			return
		}
		time.Sleep(at.Sub(now) + time.Millisecond)
	}
}
