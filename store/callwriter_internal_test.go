package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/internal/testlog"
)

// TestCallWriterWithoutPostgres: with PostgreSQL unreachable, saves still
// return at once and read back; the writer tries again; the queue is
// bounded; closing gives up what is left, naming each lost record, and
// leaves no goroutine behind.
func TestCallWriterWithoutPostgres(t *testing.T) {
	var logs testlog.Buffer
	w, err := newCallWriter(&DB{dsn: "postgres://postgres@127.0.0.1:1/test?sslmode=disable"},
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	w.retryFirst = 20 * time.Millisecond
	for i := range 3 {
		if err := w.save(&callRecord{uuid: fmt.Sprint("lost-", i), trace: `{"n":1}`}); err != nil {
			t.Fatal(err)
		}
	}
	if tr, ok := w.queued("lost-1"); !ok || tr != `{"n":1}` {
		t.Fatalf("queued record read back: %q, %v", tr, ok)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "trying again"); {
		if time.Now().After(deadline) {
			t.Fatalf("no retry logged:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}

	saved := 0
	for ; saved < callQueueMax+2*callBatchMax; saved++ {
		if err = w.save(&callRecord{uuid: fmt.Sprint("more-", saved)}); err != nil {
			break
		}
	}
	if !errors.Is(err, errCallQueueFull) || saved > callQueueMax {
		t.Fatalf("after %d more saves: %v, want errCallQueueFull by %d", saved, err, callQueueMax)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := w.close(ctx); err == nil || !strings.Contains(err.Error(), "not written before closing") {
		t.Fatalf("close: %v", err)
	}
	for i := range 3 {
		if !strings.Contains(logs.String(), fmt.Sprintf("call_uuid=lost-%d", i)) {
			t.Errorf("lost-%d not logged as lost", i)
		}
	}
	if _, ok := w.queued("lost-1"); ok {
		t.Errorf("a given-up record still reads as queued")
	}
}
