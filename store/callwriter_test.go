package store_test

import (
	"context"
	"fmt"
	"strings"
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
// group each lands in, and a later save of a call replaces the earlier.
func TestSaveCallsTogether(t *testing.T) {
	t.Parallel()
	f, r := repoFixture(t)
	ctx := context.Background()
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			uuid := fmt.Sprint("together-", i)
			errs <- r.SaveCall(ctx, trace(uuid, routing.OutcomeCallback))
			errs <- r.SaveCall(ctx, trace(uuid, routing.OutcomeBridged))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var bridged int
	if err := f.db.SQL().GetContext(ctx, &bridged,
		`SELECT count(*) FROM calls WHERE uuid LIKE 'together-%' AND outcome = 'bridged'`); err != nil || bridged != n {
		t.Fatalf("%d of %d calls saved with their last outcome, %v", bridged, n, err)
	}
}

// TestSaveCallRefusedRecordFailsAlone: a record PostgreSQL refuses fails
// its own save only, not those written in the same group.
func TestSaveCallRefusedRecordFailsAlone(t *testing.T) {
	t.Parallel()
	_, r := repoFixture(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	results := make([]error, 50)
	for i := range results {
		wg.Go(func() {
			tr := trace(fmt.Sprint("alone-", i), routing.OutcomeBridged)
			if i == 25 {
				tr.Entry = "bogus" // the CHECK on calls.entry refuses it
			}
			results[i] = r.SaveCall(ctx, tr)
		})
	}
	wg.Wait()
	for i, err := range results {
		if (err != nil) != (i == 25) {
			t.Errorf("save %d: %v", i, err)
		}
		if _, err := r.Call(ctx, fmt.Sprint("alone-", i)); (err == nil) != (i != 25) {
			t.Errorf("call %d look-up: %v", i, err)
		}
	}
}

// TestSaveCallOutlivesItsWait: a save whose caller stopped waiting (its
// store deadline passed) is still written, and Close waits for it.
func TestSaveCallOutlivesItsWait(t *testing.T) {
	t.Parallel()
	f, _ := repoFixture(t)
	r := f.repo(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.SaveCall(ctx, trace("late", routing.OutcomeBridged)); err != nil && !strings.Contains(err.Error(), "still queued") {
		t.Fatalf("save after the deadline: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Call(context.Background(), "late"); err != nil || got.Outcome != routing.OutcomeBridged {
		t.Fatalf("late record: %+v, %v", got, err)
	}
}
