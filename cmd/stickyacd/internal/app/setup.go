// Package app wires stickyacd together: configuration to components, and the
// commands serve, migrate and import.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"

	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/config"
	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/routing/callerid"
	"github.com/stickyacd/stickyacd/store"
)

// NewLogger builds the process logger from the log section.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func openDB(ctx context.Context, cfg *config.Config) (*store.DB, error) {
	return store.Open(ctx, withConnectTimeout(cfg.Postgres.DSN), store.Pool{
		MaxOpen:         cfg.Postgres.MaxOpenConns,
		MaxIdle:         cfg.Postgres.MaxIdleConns,
		ConnMaxLifetime: cfg.Postgres.ConnMaxLifetime,
	})
}

// withConnectTimeout bounds connection set-up when the DSN does not: lib/pq
// ignores the context during its handshake, so a stalled server would hang
// every caller waiting for a pooled connection.
func withConnectTimeout(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Query().Has("connect_timeout") {
		return dsn
	}
	q := u.Query()
	q.Set("connect_timeout", "5")
	u.RawQuery = q.Encode()
	return u.String()
}

// businessTypes converts the configured menu.
func businessTypes(cfg *config.Config) []routing.BusinessType {
	out := make([]routing.BusinessType, 0, len(cfg.BusinessTypes))
	for _, bt := range cfg.BusinessTypes {
		out = append(out, routing.BusinessType{
			Digit: bt.Digit, Code: bt.Code, Name: bt.Name, CallbackDue: bt.CallbackDue, Priority: bt.Priority,
		})
	}
	return out
}

func normalizer(cfg *config.Config) callerid.Normalizer {
	return callerid.Normalizer{
		CountryCode:         cfg.CallerID.CountryCode,
		InternationalPrefix: cfg.CallerID.InternationalPrefix,
		TrunkPrefix:         cfg.CallerID.TrunkPrefix,
	}
}

// prepareDB migrates the schema and syncs the configured business types,
// which agents' skills refer to.
func prepareDB(ctx context.Context, db *store.DB, cfg *config.Config, log *slog.Logger) ([]string, error) {
	applied, err := db.Migrate(ctx)
	if err != nil {
		return applied, err
	}
	for _, m := range applied {
		log.Info("schema migration applied", "migration", m)
	}
	if err := db.SyncBusinessTypes(ctx, businessTypes(cfg)); err != nil {
		return applied, err
	}
	return applied, nil
}

// Migrate applies pending migrations and returns their names.
func Migrate(ctx context.Context, cfg *config.Config, log *slog.Logger) ([]string, error) {
	db, err := openDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return prepareDB(ctx, db, cfg, log)
}

// Import loads an agents or customers CSV file.
func Import(ctx context.Context, cfg *config.Config, log *slog.Logger, kind, path string) (store.Counts, error) {
	hasher, err := store.NewIDHasher([]byte(cfg.Security.IDHashKey))
	if err != nil {
		return store.Counts{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return store.Counts{}, fmt.Errorf("import %s: %w", kind, err)
	}
	defer f.Close()
	db, err := openDB(ctx, cfg)
	if err != nil {
		return store.Counts{}, err
	}
	defer db.Close()
	if _, err := prepareDB(ctx, db, cfg, log); err != nil {
		return store.Counts{}, err
	}
	im := store.NewImporter(db, hasher, normalizer(cfg))
	if kind == "agents" {
		return im.ImportAgents(ctx, f, path)
	}
	return im.ImportCustomers(ctx, f, path)
}
