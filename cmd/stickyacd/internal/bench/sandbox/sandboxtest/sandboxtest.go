// Package sandboxtest gives the bench's and the demo's tests a sandbox of
// their own on the real PostgreSQL and Redis (storetest's and
// presencetest's servers), dropped when the test ends, so that tests running
// at once, also from several checkouts, never share one.
package sandboxtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/bench/sandbox"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/config"
	"github.com/stickyacd/stickyacd/store/presence/presencetest"
	"github.com/stickyacd/stickyacd/store/storetest"
)

// Sandbox is a test's schema and key prefix, and the environment that
// points a configuration at the test servers.
type Sandbox struct {
	Schema, Prefix string
	env            map[string]string
}

// New names a fresh sandbox under owner (e.g. "stickyacd_bench") and drops
// it when the test ends. It fails the test, naming Redis, when Redis is
// down; PostgreSQL is named by the first use of the DSN.
func New(t testing.TB, owner string) *Sandbox {
	t.Helper()
	rdb := presencetest.Client(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := owner + "_t" + hex.EncodeToString(b)
	s := &Sandbox{Schema: name, Prefix: name, env: map[string]string{
		config.EnvName("postgres.dsn"): storetest.BaseDSN(),
		config.EnvName("redis.addrs"):  presencetest.Addr(),
	}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		schema, err := sandbox.NewSchema(storetest.BaseDSN(), name, owner)
		if err == nil {
			err = schema.Drop(ctx)
		}
		if err != nil {
			t.Errorf("sandboxtest: drop schema %s: %v", name, err)
		}
		if err := sandbox.DropPrefix(ctx, rdb, name); err != nil {
			t.Errorf("sandboxtest: drop keys of %s: %v", name, err)
		}
	})
	return s
}

// Set adds a configuration value, e.g. Set("log.level", "error").
func (s *Sandbox) Set(key, value string) { s.env[config.EnvName(key)] = value }

// LookupEnv is the environment of the configuration: the test servers and
// what Set added, nothing from the process.
func (s *Sandbox) LookupEnv(k string) (string, bool) {
	v, ok := s.env[k]
	return v, ok
}
