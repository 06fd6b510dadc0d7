package storetest_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stickyacd/stickyacd/store/storetest"
)

func TestPGGivesEachTestItsOwnSchema(t *testing.T) {
	t.Parallel()
	a, b := storetest.PG(t), storetest.PG(t)
	ctx := context.Background()
	var schemaA, schemaB string
	if err := a.SQL().GetContext(ctx, &schemaA, `SELECT current_schema()`); err != nil {
		t.Fatal(err)
	}
	if err := b.SQL().GetContext(ctx, &schemaB, `SELECT current_schema()`); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(schemaA, "t_") || schemaA == schemaB {
		t.Fatalf("schemas %q and %q: want two distinct t_ schemas", schemaA, schemaB)
	}
	if _, err := a.SQL().ExecContext(ctx, `INSERT INTO teams (id) VALUES ('x')`); err != nil {
		t.Fatalf("the schema is not migrated: %v", err)
	}
	var n int
	if err := b.SQL().GetContext(ctx, &n, `SELECT count(*) FROM teams`); err != nil || n != 0 {
		t.Fatalf("the other schema sees %d teams, %v", n, err)
	}
}

// fatalRecorder stands in for testing.T to see how the helpers fail.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestHelpersFailNamingTheServer(t *testing.T) {
	t.Setenv(storetest.EnvDSN, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5")
	for name, helper := range map[string]func(testing.TB){
		"PG":       func(tb testing.TB) { storetest.PG(tb) },
		"DSN":      func(tb testing.TB) { storetest.DSN(tb) },
		"EmptyDSN": func(tb testing.TB) { storetest.EmptyDSN(tb) },
	} {
		rec := &fatalRecorder{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			helper(rec)
		}()
		<-done
		if !strings.Contains(rec.msg, "PostgreSQL at 127.0.0.1:1") {
			t.Errorf("%s failed with %q, want a message naming PostgreSQL at 127.0.0.1:1", name, rec.msg)
		}
	}
}
