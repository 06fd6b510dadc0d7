// Package storetest gives each test its own PostgreSQL schema on the real
// server, so tests run in parallel without seeing each other's rows.
//
// The server comes from STICKYACD_TEST_POSTGRES_DSN, default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. When it does not
// answer, the helpers fail the test naming PostgreSQL and its address; they
// never skip.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/stickyacd/stickyacd/store"
)

// EnvDSN names the environment variable holding the base DSN.
const EnvDSN = "STICKYACD_TEST_POSTGRES_DSN"

const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// setupTimeout bounds creating, migrating and dropping a schema, so a hung
// server fails the test instead of the whole run timing out.
const setupTimeout = 30 * time.Second

// BaseDSN is the DSN of the test database, without a schema.
func BaseDSN() string {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn
	}
	return defaultDSN
}

// PG returns a pool on a fresh, migrated schema that is dropped when the
// test ends.
func PG(t testing.TB) *store.DB {
	t.Helper()
	dsn := DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	db, err := store.Open(ctx, dsn, store.Pool{MaxOpen: 4, MaxIdle: 4})
	if err != nil {
		t.Fatalf("storetest: %s: %v", where(), err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("storetest: %v", err)
		}
	})
	return db
}

// DSN returns the DSN of a fresh, migrated schema that is dropped when the
// test ends, for tests that open their own connections. Migrate on it is a
// no-op.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := EmptyDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	db, err := store.Open(ctx, dsn, store.Pool{MaxOpen: 1})
	if err != nil {
		t.Fatalf("storetest: %s: %v", where(), err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("storetest: migrate test schema: %v", err)
	}
	return dsn
}

// EmptyDSN returns the DSN of a fresh schema with no tables, dropped when
// the test ends; for tests of migration itself.
func EmptyDSN(t testing.TB) string {
	t.Helper()
	base := BaseDSN()
	schema := "t_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := admin(ctx, base, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("storetest: %s: create schema: %v", where(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := admin(ctx, base, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(base, schema)
}

// admin runs one statement on a short-lived connection of its own, so no
// pool outlives the helper (goleak).
func admin(ctx context.Context, dsn, stmt string) error {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A test that leaves a transaction open must fail its clean-up, not hang it.
	if _, err := conn.ExecContext(ctx, "SET lock_timeout = '10s'"); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, stmt)
	return err
}

// where names the server for failure messages.
func where() string {
	host, port := "127.0.0.1", "5432"
	if cfg, err := pq.NewConfig(BaseDSN()); err == nil {
		if cfg.Host != "" {
			host = cfg.Host
		}
		if cfg.Port != 0 {
			port = strconv.Itoa(int(cfg.Port))
		}
	}
	return "PostgreSQL at " + host + ":" + port + " (" + EnvDSN + ")"
}

// withSearchPath points every connection of dsn at schema; lib/pq sends
// unknown DSN parameters to the server as run-time settings.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
