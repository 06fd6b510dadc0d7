// Package store is stickyacd's PostgreSQL side: the schema (embedded
// migrations), the customer and agent directory that routing reads, call
// records, and the CSV import. All SQL goes through sqlx's *Context methods.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq" // also registers the "postgres" driver

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/routing"
)

// notFoundError is the type of ErrNotFound: it also matches the not-found
// sentinels of the packages store serves, so their callers need not know
// about store.
type notFoundError struct{}

// notFoundAliases are the sentinels ErrNotFound matches besides itself; a
// package that declares its own not-found sentinel is added here.
var notFoundAliases = []error{
	routing.ErrNotFound,
	callback.ErrNotFound,
}

func (notFoundError) Error() string { return "not found" }

func (notFoundError) Is(target error) bool {
	for _, alias := range notFoundAliases {
		if target == alias {
			return true
		}
	}
	return false
}

// Sentinel errors of this package.
var (
	// ErrNotFound: no such row. errors.Is also matches routing.ErrNotFound.
	ErrNotFound error = notFoundError{}
	// ErrConflict: the write collides with existing data (a phone or ID
	// number that already belongs to another customer).
	ErrConflict = errors.New("conflicts with existing data")
	// ErrNoSSLMode: the DSN leaves sslmode to lib/pq's default ("require"),
	// which silently differs from libpq's.
	ErrNoSSLMode = errors.New("postgres dsn must set sslmode explicitly (e.g. sslmode=disable or sslmode=verify-full)")
)

// Pool limits the connection pool. A zero field takes its default.
type Pool struct {
	// MaxOpen caps open connections. Default 20.
	MaxOpen int
	// MaxIdle caps idle connections kept for reuse. Default 10.
	MaxIdle int
	// ConnMaxLifetime recycles connections so fail-overs and server-side
	// settings changes are picked up. Default 30m.
	ConnMaxLifetime time.Duration
}

const (
	defaultMaxOpen         = 20
	defaultMaxIdle         = 10
	defaultConnMaxLifetime = 30 * time.Minute
)

func (p Pool) withDefaults() Pool {
	if p.MaxOpen <= 0 {
		p.MaxOpen = defaultMaxOpen
	}
	if p.MaxIdle <= 0 {
		p.MaxIdle = defaultMaxIdle
	}
	if p.MaxIdle > p.MaxOpen {
		p.MaxIdle = p.MaxOpen
	}
	if p.ConnMaxLifetime <= 0 {
		p.ConnMaxLifetime = defaultConnMaxLifetime
	}
	return p
}

// DB is the connection pool to stickyacd's schema.
type DB struct {
	pool *sqlx.DB
	// dsn is kept for connections outside the pool (LISTEN).
	dsn string
}

// Open connects to PostgreSQL and pings it. The DSN (URL or key=value form)
// must set sslmode.
func Open(ctx context.Context, dsn string, p Pool) (*DB, error) {
	params, err := dsnParams(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if params["sslmode"] == "" {
		return nil, fmt.Errorf("open postgres: %w", ErrNoSSLMode)
	}
	// Validates every parameter now rather than at the first query.
	if _, err := pq.NewConfig(dsn); err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	p = p.withDefaults()
	pool.SetMaxOpenConns(p.MaxOpen)
	pool.SetMaxIdleConns(p.MaxIdle)
	pool.SetConnMaxLifetime(p.ConnMaxLifetime)
	if err := pool.PingContext(ctx); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("ping postgres at %s: %w", hostOf(params), err)
	}
	return &DB{pool: pool, dsn: dsn}, nil
}

// Close closes the pool.
func (d *DB) Close() error {
	if err := d.pool.Close(); err != nil {
		return fmt.Errorf("close postgres: %w", err)
	}
	return nil
}

// SQL is the underlying pool, for tests and tools that inspect the schema
// directly; the application goes through DB's methods.
func (d *DB) SQL() *sqlx.DB { return d.pool }

// Ping checks that PostgreSQL answers (readiness).
func (d *DB) Ping(ctx context.Context) error {
	if err := d.pool.PingContext(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction, committing when it returns nil.
func (d *DB) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := d.pool.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func hostOf(params map[string]string) string {
	host, port := params["host"], params["port"]
	if host == "" {
		host = "localhost"
	}
	if port == "" {
		port = "5432"
	}
	return host + ":" + port
}

// dsnParams returns the parameters a DSN states, URL or key=value form,
// without consulting the environment.
func dsnParams(dsn string) (map[string]string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			// url errors quote the whole DSN, password included.
			return nil, errors.New("dsn is not a valid URL")
		}
		params := map[string]string{"host": u.Hostname(), "port": u.Port()}
		for k, v := range u.Query() {
			if len(v) > 0 {
				params[k] = v[len(v)-1]
			}
		}
		return params, nil
	}
	return parseKeyValueDSN(dsn)
}

// parseKeyValueDSN reads "key=value key='quoted value'" connection strings
// with libpq's quoting: single quotes, backslash escapes the next character.
func parseKeyValueDSN(dsn string) (map[string]string, error) {
	params := map[string]string{}
	s := []rune(dsn)
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	for {
		skipSpace()
		if i >= len(s) {
			return params, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' {
			i++
		}
		key := string(s[start:i])
		skipSpace()
		if i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("dsn: parameter %q has no value", key)
		}
		i++
		skipSpace()
		var val strings.Builder
		quoted := i < len(s) && s[i] == '\''
		if quoted {
			i++
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				val.WriteRune(s[i])
				continue
			}
			if quoted && c == '\'' {
				break
			}
			if !quoted && c == ' ' {
				break
			}
			val.WriteRune(c)
		}
		if quoted {
			if i >= len(s) {
				return nil, fmt.Errorf("dsn: unterminated quote in parameter %q", key)
			}
			i++
		}
		params[key] = val.String()
	}
}
