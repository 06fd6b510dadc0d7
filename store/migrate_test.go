package store_test

import (
	"context"
	"slices"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/stickyacd/stickyacd/store"
	"github.com/stickyacd/stickyacd/store/storetest"
)

func openEmpty(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), storetest.EmptyDSN(t), store.Pool{MaxOpen: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openEmpty(t)
	first, err := db.Migrate(ctx)
	if err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	if !slices.Contains(first, "0001_init.sql") {
		t.Fatalf("first migrate applied %v, want 0001_init.sql among them", first)
	}
	before := dumpSchema(t, db)
	second, err := db.Migrate(ctx)
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if len(second) != 0 {
		t.Fatalf("second migrate applied %v, want nothing", second)
	}
	if after := dumpSchema(t, db); after != before {
		t.Fatalf("second migrate changed the schema:\nbefore %s\nafter  %s", before, after)
	}
}

func TestMigrateRacingInstancesBothSucceed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := storetest.EmptyDSN(t)
	var dbs [2]*store.DB
	for i := range dbs {
		db, err := store.Open(ctx, dsn, store.Pool{MaxOpen: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
	}
	var applied [2][]string
	var g errgroup.Group
	for i, db := range dbs {
		g.Go(func() error {
			var err error
			applied[i], err = db.Migrate(ctx)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("racing migrate: %v", err)
	}
	if n := len(applied[0]) + len(applied[1]); n == 0 || len(applied[0]) > 0 && len(applied[1]) > 0 {
		t.Fatalf("applied %v and %v: want exactly one instance to do the work", applied[0], applied[1])
	}
}
