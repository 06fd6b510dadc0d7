package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/routing"
)

func trace(uuid string, outcome routing.Outcome) *routing.Trace {
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	return &routing.Trace{UUID: uuid, Caller: "13900139001", Entry: routing.EntryUnknown, Outcome: outcome,
		StartedAt: start, EndedAt: start.Add(time.Minute)}
}

// TestSaveCallsTogether: calls ending at once are all written, whichever
// group each lands in; a later save of a call replaces the earlier; and a
// saved record reads back at once, written yet or not.
func TestSaveCallsTogether(t *testing.T) {
	t.Parallel()
	f, _ := repoFixture(t)
	r := f.repo(t)
	ctx := context.Background()
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			uuid := fmt.Sprint("together-", i)
			if err := r.SaveCall(ctx, trace(uuid, routing.OutcomeCallback)); err != nil {
				errs <- err
				return
			}
			if err := r.SaveCall(ctx, trace(uuid, routing.OutcomeBridged)); err != nil {
				errs <- err
				return
			}
			if got, err := r.Call(ctx, uuid); err != nil || got.Outcome != routing.OutcomeBridged {
				errs <- fmt.Errorf("read back at once: %+v, %v", got, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil { // writes what is still queued
		t.Fatal(err)
	}
	var bridged int
	if err := f.db.SQL().GetContext(ctx, &bridged,
		`SELECT count(*) FROM calls WHERE uuid LIKE 'together-%' AND outcome = 'bridged'`); err != nil || bridged != n {
		t.Fatalf("%d of %d calls stored with their last outcome, %v", bridged, n, err)
	}
}

// TestSaveCallRefusedRecordAlone: a record PostgreSQL refuses is the only
// one lost of those written in the same group.
func TestSaveCallRefusedRecordAlone(t *testing.T) {
	t.Parallel()
	f, _ := repoFixture(t)
	r := f.repo(t)
	ctx := context.Background()
	for i := range 50 {
		tr := trace(fmt.Sprint("alone-", i), routing.OutcomeBridged)
		if i == 25 {
			tr.Entry = "bogus" // the CHECK on calls.entry refuses it
		}
		if err := r.SaveCall(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var stored []string
	if err := f.db.SQL().SelectContext(ctx, &stored, `SELECT uuid FROM calls WHERE uuid LIKE 'alone-%'`); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 49 {
		t.Fatalf("%d of 49 good records stored", len(stored))
	}
	for _, uuid := range stored {
		if uuid == "alone-25" {
			t.Fatalf("the refused record was stored")
		}
	}
}
