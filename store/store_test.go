package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/store"
)

func TestOpenRefusesDSNWithoutSSLMode(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://postgres@127.0.0.1:5432/test",
		"host=127.0.0.1 dbname=test",
		"postgres://postgres@127.0.0.1:5432/test?sslmode=",
	} {
		_, err := store.Open(context.Background(), dsn, store.Pool{})
		if !errors.Is(err, store.ErrNoSSLMode) || !strings.Contains(err.Error(), "sslmode") {
			t.Errorf("Open(%q): %v, want ErrNoSSLMode", dsn, err)
		}
	}
}

func TestOpenNamesUnreachableServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on the loopback: nothing listens there.
	_, err := store.Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5", store.Pool{})
	if err == nil || !strings.Contains(err.Error(), "postgres at 127.0.0.1:1") {
		t.Fatalf("Open on a closed port: %v, want an error naming postgres at 127.0.0.1:1", err)
	}
}

func TestErrNotFoundMatchesRouting(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("agent x: %w", store.ErrNotFound)
	if !errors.Is(err, store.ErrNotFound) || !errors.Is(err, routing.ErrNotFound) || !errors.Is(err, callback.ErrNotFound) {
		t.Fatalf("%v does not match both not-found sentinels", err)
	}
	if errors.Is(err, routing.ErrNoAgent) || errors.Is(errors.New("other"), store.ErrNotFound) {
		t.Fatal("ErrNotFound matches too much")
	}
}

func TestNewIDHasherRefusesEmptyKey(t *testing.T) {
	t.Parallel()
	if _, err := store.NewIDHasher(nil); !errors.Is(err, store.ErrEmptyIDHashKey) {
		t.Fatalf("NewIDHasher(nil): %v, want ErrEmptyIDHashKey", err)
	}
}

func TestSyncBusinessTypes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.importContract(t) // agents' skills name loan and card
	ctx := context.Background()
	type row struct {
		Code  string  `db:"code"`
		Digit *int    `db:"digit"`
		Name  string  `db:"name"`
		Due   float64 `db:"due"`
		Prio  int     `db:"priority"`
	}
	read := func() string {
		var rows []row
		err := f.db.SQL().SelectContext(ctx, &rows,
			`SELECT code, digit, name, extract(epoch FROM callback_due) AS due, priority FROM business_types ORDER BY code`)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, r := range rows {
			d := "-"
			if r.Digit != nil {
				d = fmt.Sprint(*r.Digit)
			}
			fmt.Fprintf(&b, "%s:%s:%s:%g:%d ", r.Code, d, r.Name, r.Due, r.Prio)
		}
		return b.String()
	}
	if got, want := read(), "card:2:Credit cards:2700:5 loan:1:Loans:1800:10 "; got != want {
		t.Fatalf("after first sync: %q, want %q", got, want)
	}
	// Swap digits, retire card (skills still name it), add then retire
	// mortgage (nothing names it: deleted).
	next := []routing.BusinessType{
		{Digit: 2, Code: "loan", Name: "Loans", CallbackDue: time.Hour, Priority: 1},
		{Digit: 1, Code: "mortgage", Name: "Mortgages", CallbackDue: 90 * time.Second},
	}
	if err := f.db.SyncBusinessTypes(ctx, next); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "card:-:Credit cards:2700:5 loan:2:Loans:3600:1 mortgage:1:Mortgages:90:0 "; got != want {
		t.Fatalf("after second sync: %q, want %q", got, want)
	}
	if err := f.db.SyncBusinessTypes(ctx, next[:1]); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "card:-:Credit cards:2700:5 loan:2:Loans:3600:1 "; got != want {
		t.Fatalf("after third sync: %q, want %q", got, want)
	}
	// A retired type is no longer accepted as a skill.
	_, err := f.importString("agents", "agents.csv", "agent_id,name,extension,team,role,backup_agent_id,skills\n"+
		"S2002,Bo Chen,2002,north,agent,S2001,card\n")
	if err == nil || !strings.HasPrefix(err.Error(), `agents.csv:2: skill "card" is not a configured business type`) {
		t.Fatalf("import naming a retired type: %v", err)
	}
}
