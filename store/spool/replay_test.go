package spool

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/routing"
)

// acceptAll records what the replay creates; the property under test is
// the file reader's, not PostgreSQL's.
type acceptAll struct {
	mu    sync.Mutex
	calls []string
}

func (a *acceptAll) CreateTask(_ context.Context, t routing.NewTask) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, t.CallUUID)
	return int64(len(a.calls)), nil
}

// FuzzReplay: whatever a spool file holds (torn lines, garbage, CRLF),
// Replay never panics and every non-empty line ends up either created or
// kept in rejected.jsonl; no spool file is left behind.
func FuzzReplay(f *testing.F) {
	good, err := json.Marshal(toRecord(routing.NewTask{CallUUID: "c1", Caller: "13900139001", BusinessType: "loan", Priority: 3,
		DueAt: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)}, time.Date(2026, 11, 30, 9, 30, 0, 0, time.UTC)))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(good) + "\n",
		string(good) + "\n" + string(good)[:20],
		"\n\n{}\n",
		`{"call_uuid":""}` + "\n",
		"not json\r\n" + string(good) + "\r\n",
		`{"call_uuid":"x","due_at":"yesterday"}` + "\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64*1024 {
			return
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, currentName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		sink := &acceptAll{}
		sp, err := New(sink, Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		n, err := sp.Replay(context.Background())
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		rejected, err := os.ReadFile(filepath.Join(dir, rejectedName))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		lines := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSuffix(l, []byte("\r"))) > 0 {
				lines++
			}
		}
		if got := n + bytes.Count(rejected, []byte("\n")); got != lines || n != len(sink.calls) {
			t.Fatalf("%d lines in, %d created + %d rejected out (sink saw %d)", lines, n, bytes.Count(rejected, []byte("\n")), len(sink.calls))
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			info, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			if e.Name() != lockName && e.Name() != rejectedName && (e.Name() != currentName || info.Size() != 0) {
				t.Fatalf("left behind: %s", e.Name())
			}
		}
	})
}

// TestRecordFields guards the spool format: a field added to
// routing.NewTask must be added here by decision, and nothing shaped like an
// ID number may be written.
func TestRecordFields(t *testing.T) {
	t.Parallel()
	raw, err := json.Marshal(toRecord(routing.NewTask{CallUUID: "c", CustomerID: "K1", Abandoned: true}, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"abandoned", "business_type", "call_uuid", "caller", "customer_id", "due_at", "priority", "spooled_at"}
	if !slices.Equal(keys, want) {
		t.Errorf("spool record fields %v, want %v", keys, want)
	}
	for _, k := range keys {
		if strings.Contains(k, "id_number") || strings.Contains(k, "idnumber") {
			t.Errorf("spool record has %q", k)
		}
	}
}
