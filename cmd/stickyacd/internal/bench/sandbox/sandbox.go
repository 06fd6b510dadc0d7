// Package sandbox keeps the bench's and the demo's data away from a
// deployment's: a PostgreSQL schema of their own, selected through the DSN's
// search_path, and a Redis key prefix of their own. Names are checked so that
// a mistyped flag can never point them at a production schema or prefix.
package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/config"

	_ "github.com/lib/pq" // the "postgres" driver
)

// ErrName: a schema or prefix name outside the sandbox's namespace.
var ErrName = errors.New("not a sandbox name")

// nameSyntax keeps names safe to splice into SQL and key patterns.
var nameSyntax = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// checkName accepts a schema or key-prefix name that starts with owner
// (e.g. "stickyacd_bench") and holds only lower-case letters, digits and _.
func checkName(name, owner string) error {
	if !strings.HasPrefix(name, owner) || !nameSyntax.MatchString(name) {
		return fmt.Errorf("%q must start with %q and hold only a-z, 0-9 and _: %w", name, owner, ErrName)
	}
	return nil
}

// Schema is a PostgreSQL schema owned by a sandbox.
type Schema struct {
	Name string
	base string
}

// NewSchema names the sandbox schema name on the server of baseDSN; name
// must start with owner.
func NewSchema(baseDSN, name, owner string) (Schema, error) {
	if err := checkName(name, owner); err != nil {
		return Schema{}, fmt.Errorf("schema: %w", err)
	}
	return Schema{Name: name, base: baseDSN}, nil
}

// DSN is baseDSN with every connection's search_path set to the schema;
// lib/pq sends unknown DSN parameters to the server as run-time settings.
func (s Schema) DSN() string {
	if strings.HasPrefix(s.base, "postgres://") || strings.HasPrefix(s.base, "postgresql://") {
		if u, err := url.Parse(s.base); err == nil {
			q := u.Query()
			q.Set("search_path", s.Name)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return s.base + " search_path=" + s.Name
}

// Ensure creates the schema if it does not exist.
func (s Schema) Ensure(ctx context.Context) error {
	return s.admin(ctx, "CREATE SCHEMA IF NOT EXISTS "+s.Name)
}

// Reset drops the schema with everything in it and creates it empty.
func (s Schema) Reset(ctx context.Context) error {
	return s.admin(ctx, "DROP SCHEMA IF EXISTS "+s.Name+" CASCADE; CREATE SCHEMA "+s.Name)
}

// admin runs stmt on a connection of its own to the base DSN.
func (s Schema) admin(ctx context.Context, stmt string) error {
	db, err := sql.Open("postgres", s.base)
	if err != nil {
		return fmt.Errorf("schema %s: %w", s.Name, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("schema %s: %w", s.Name, err)
	}
	return nil
}

// CheckPrefix checks a Redis key prefix the same way as a schema name.
func CheckPrefix(prefix, owner string) error {
	if err := checkName(prefix, owner); err != nil {
		return fmt.Errorf("redis key prefix: %w", err)
	}
	return nil
}

// DropPrefix deletes every presence key of prefix ({prefix}:…).
func DropPrefix(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	iter := rdb.Scan(ctx, 0, "{"+prefix+"}:*", 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := rdb.Unlink(ctx, batch...).Err()
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return fmt.Errorf("drop redis keys of %s: %w", prefix, err)
			}
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("drop redis keys of %s: %w", prefix, err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("drop redis keys of %s: %w", prefix, err)
	}
	return nil
}

// Scaled is d divided by speed, in configuration syntax: stickyacd's own
// real-time delays shrink with the emulator's speed-up so that they keep
// their proportion to emulated ringing and talking.
func Scaled(d time.Duration, speed float64) string {
	return time.Duration(float64(d) / speed).String()
}

// Drop drops the schema with everything in it.
func (s Schema) Drop(ctx context.Context) error {
	return s.admin(ctx, "DROP SCHEMA IF EXISTS "+s.Name+" CASCADE")
}

// FreePort picks a free loopback port for stickyacd's outbound socket, which
// the emulator must be given before stickyacd starts.
func FreePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Load reads the configuration as every command does and names the
// sandbox in it: the schema on its PostgreSQL server, checked with the key
// prefix against owner. Errors name the flag (--schema, --redis-prefix) or
// the configuration key.
func Load(configFile string, lookupEnv func(string) (string, bool), schema, prefix, owner string) (*config.Config, Schema, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	if err := CheckPrefix(prefix, owner); err != nil {
		return nil, Schema{}, fmt.Errorf("--redis-prefix: %w", err)
	}
	cfg, err := config.Load(configFile, lookupEnv)
	if err != nil {
		return nil, Schema{}, err
	}
	if err := cfg.Validate(config.Need{}); err != nil {
		return nil, Schema{}, err
	}
	s, err := NewSchema(cfg.Postgres.DSN, schema, owner)
	if err != nil {
		return nil, Schema{}, fmt.Errorf("--schema: %w", err)
	}
	return cfg, s, nil
}
