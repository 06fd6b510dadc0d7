package callback

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stickyacd/stickyacd/routing"
)

func TestComplete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ctx := context.Background()
	id := e.store.add(assignedTo(unknown("c1"), "A2", "north"))
	e.clock.advance(time.Minute)
	got, err := e.w.Complete(ctx, id, "", "A2")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusCompleted || got.Outcome != "done" || got.CompletedAt == nil || !got.CompletedAt.Equal(e.clock.Now()) {
		t.Errorf("returned %+v", got)
	}
	stored := e.store.get(id)
	if ev := lastEvent(stored); ev.Kind != EventCompleted || ev.AgentID != "A2" {
		t.Errorf("event %+v", ev)
	}
	if owner, _ := e.store.leaseOf(id); owner != "" {
		t.Errorf("lease %q left behind", owner)
	}
	if _, err := e.w.Complete(ctx, id, "again", "A2"); !errors.Is(err, ErrClosed) {
		t.Errorf("second complete: %v, want ErrClosed", err)
	}
	if _, err := e.w.Complete(ctx, 999, "", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("complete of a missing task: %v, want ErrNotFound", err)
	}
	other := e.store.add(assignedTo(unknown("c2"), "A2", "north"))
	if _, err := e.w.Complete(ctx, other, "", "nobody"); !errors.Is(err, ErrUnknownAgent) {
		t.Errorf("complete by an unknown agent: %v, want ErrUnknownAgent", err)
	}
	if got := e.store.get(other); got.Status != StatusAssigned {
		t.Errorf("task %s after a refused completion", got.Status)
	}
}

func TestCompleteTakesOverALease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ctx := context.Background()
	id := e.store.add(assignedTo(unknown("c1"), "A2", "north"))
	// A next_callback call is in progress.
	task, err := e.store.TakeTop(ctx, "A2", "call-owner", start, start.Add(time.Hour))
	if err != nil || task.ID != id {
		t.Fatalf("take top: %v %v", task.ID, err)
	}
	if _, err := e.w.Complete(ctx, id, "resolved by email", ""); err != nil {
		t.Fatal(err)
	}
	// The call's own outcome comes too late.
	if _, err := e.store.Apply(ctx, "call-owner", []Change{{Task: task}}); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("stale apply: %v, want ErrLeaseLost", err)
	}
	if got := e.store.get(id); got.Status != StatusCompleted {
		t.Errorf("status %s, want completed", got.Status)
	}
}

func TestReassign(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		to      string
		online  []string
		want    string
		wantErr error
	}{
		{name: "named agent", to: "B1", want: "B1"},
		{name: "named agent, even offline and without the skill", to: "A3", want: "A3"},
		{name: "least loaded other than the current agent", online: []string{"A2", "B1"}, want: "B1"},
		{name: "unknown agent", to: "Z9", wantErr: ErrUnknownAgent},
		{name: "nobody else online", online: []string{"A2"}, wantErr: ErrNoAgent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Config{})
			e.avail.set(tt.online...)
			id := e.store.add(assignedTo(unknown("c1"), "A2", "north"))
			got, err := e.w.Reassign(context.Background(), id, tt.to)
			stored := e.store.get(id)
			if owner, _ := e.store.leaseOf(id); owner != "" {
				t.Errorf("lease %q left behind", owner)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				if stored.AgentID != "A2" || len(stored.Events) != 1 {
					t.Errorf("task changed after a refused reassignment: %s %v", stored.AgentID, kinds(stored))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.AgentID != tt.want || stored.AgentID != tt.want || stored.Status != StatusAssigned {
				t.Fatalf("reassigned to %s (stored %s %s), want %s", got.AgentID, stored.AgentID, stored.Status, tt.want)
			}
			ev := lastEvent(stored)
			if ev.Kind != EventReassigned || ev.AgentID != tt.want || !strings.Contains(ev.Note, "from A2") {
				t.Errorf("event %+v", ev)
			}
			if ns := e.notes.all(); len(ns) != 1 || ns[0].AgentID != tt.want {
				t.Errorf("notices %+v", ns)
			}
		})
	}
}

// A refused reassignment of a task whose next_callback call is running
// gives it back as assigned: the call has lost its lease and will not
// report back, and nothing else takes an in_progress task up.
func TestRefusedReassignOfACallingTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	task := assignedTo(unknown("c1"), "A2", "north")
	task.Status = StatusInProgress
	id := e.store.add(task)
	if _, err := e.w.Reassign(context.Background(), id, ""); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("err %v, want ErrNoAgent", err)
	}
	if stored := e.store.get(id); stored.Status != StatusAssigned || stored.AgentID != "A2" {
		t.Fatalf("task left %s with %s", stored.Status, stored.AgentID)
	}
}

func TestReassignClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	id := e.store.add(assignedTo(unknown("c1"), "A2", "north"))
	if _, err := e.w.Complete(context.Background(), id, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.w.Reassign(context.Background(), id, "B1"); !errors.Is(err, ErrClosed) {
		t.Errorf("err %v, want ErrClosed", err)
	}
}

func answered(talk time.Duration) routing.BridgeResult {
	at := start.Add(time.Minute)
	return routing.BridgeResult{Result: routing.ResultAnswered, Cause: "SUCCESS", AnsweredAt: at, EndedAt: at.Add(talk)}
}

func TestNextCallback(t *testing.T) {
	t.Parallel()
	cfg := Config{MaxAttempts: 3, RetryBackoff: 15 * time.Minute, CompleteAfter: 20 * time.Second}
	tests := []struct {
		name      string
		now       time.Time // default start
		attempts  int       // before the call
		caller    string    // default 13900139001
		result    routing.BridgeResult
		bridgeErr error
		status    Status
		outcome   string
		events    []EventKind // appended by the call
		attemptsN int
		retryAt   time.Time
	}{
		{
			name: "answered long enough completes", result: answered(2 * time.Minute),
			status: StatusCompleted, outcome: OutcomeAnswered, events: []EventKind{EventAttempted, EventCompleted}, attemptsN: 1,
		},
		{
			name: "answered too briefly is retried", result: answered(5 * time.Second),
			status: StatusAssigned, events: []EventKind{EventAttempted}, attemptsN: 1, retryAt: start.Add(15 * time.Minute),
		},
		{
			name: "no answer is retried after the backoff", result: routing.BridgeResult{Result: routing.ResultNoAnswer, Cause: "NO_ANSWER"},
			status: StatusAssigned, events: []EventKind{EventAttempted}, attemptsN: 1, retryAt: start.Add(15 * time.Minute),
		},
		{
			name: "the backoff doubles", attempts: 1, result: routing.BridgeResult{Result: routing.ResultBusy},
			status: StatusAssigned, events: []EventKind{EventAttempted}, attemptsN: 2, retryAt: start.Add(30 * time.Minute),
		},
		{
			name:   "a retry after closing time moves to the next business morning",
			now:    time.Date(2026, 12, 4, 17, 50, 0, 0, time.UTC), // a Friday
			result: routing.BridgeResult{Result: routing.ResultNoAnswer},
			status: StatusAssigned, events: []EventKind{EventAttempted}, attemptsN: 1,
			retryAt: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC),
		},
		{
			name: "the last attempt cancels", attempts: 2, result: routing.BridgeResult{Result: routing.ResultUnreachable},
			status: StatusCancelled, outcome: OutcomeUnreachable, events: []EventKind{EventAttempted, EventCancelled}, attemptsN: 3,
		},
		{
			name: "the agent hangs up before the customer is called: not an attempt", bridgeErr: routing.ErrHangup,
			status: StatusAssigned, attemptsN: 0,
		},
		{
			name: "no number to call", caller: "-",
			status: StatusCancelled, outcome: OutcomeNoNumber, events: []EventKind{EventCancelled},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, cfg)
			if !tt.now.IsZero() {
				e.clock.now = tt.now
			}
			task := assignedTo(known("c1"), "A1", "north")
			task.Attempts = tt.attempts
			switch tt.caller {
			case "-":
				task.Caller = ""
			case "":
			default:
				task.Caller = tt.caller
			}
			id := e.store.add(task)
			cc := &fakeCall{result: tt.result, bridgeErr: tt.bridgeErr}
			got, err := e.w.NextCallback(context.Background(), "A1", cc)
			if (err != nil) != (tt.bridgeErr != nil) {
				t.Fatalf("err %v", err)
			}
			if got == nil || got.ID != id {
				t.Fatalf("returned %+v", got)
			}
			stored := e.store.get(id)
			if stored.Status != tt.status || stored.Outcome != tt.outcome || stored.Attempts != tt.attemptsN {
				t.Errorf("stored %s %q attempts %d, want %s %q %d", stored.Status, stored.Outcome, stored.Attempts, tt.status, tt.outcome, tt.attemptsN)
			}
			if added := kinds(stored)[1:]; !slices.Equal(added, tt.events) {
				t.Errorf("events %v, want %v", added, tt.events)
			}
			if !tt.retryAt.IsZero() && (stored.RetryAt == nil || !stored.RetryAt.Equal(tt.retryAt)) {
				t.Errorf("retry at %v, want %s", stored.RetryAt, tt.retryAt)
			}
			if !tt.retryAt.IsZero() && stored.NextCheckAt.Before(tt.retryAt) {
				t.Errorf("next check %s before the retry %s: it would be chased while it cannot be called", stored.NextCheckAt, tt.retryAt)
			}
			if owner, _ := e.store.leaseOf(id); owner != "" {
				t.Errorf("lease %q left behind", owner)
			}
			if !cc.hungUp {
				t.Error("agent's channel not hung up")
			}
			if tt.caller == "-" {
				if len(cc.dials) != 0 {
					t.Errorf("dialled %+v with no number", cc.dials)
				}
				return
			}
			if len(cc.dials) != 1 || cc.dials[0].Target != "sofia/gateway/outbound/13900139001" || cc.dials[0].TaskID != id || cc.dials[0].RingTimeout != DefaultRingTimeout {
				t.Errorf("dials %+v", cc.dials)
			}
			if !slices.Equal(cc.played, []string{DefaultAnnounce}) || !slices.Equal(cc.said, []string{"13900139001"}) {
				t.Errorf("played %v said %v", cc.played, cc.said)
			}
		})
	}
}

func TestNextCallbackNothingToDo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	later := e.clock.Now().Add(time.Hour)
	task := assignedTo(known("c1"), "A1", "north")
	task.RetryAt = &later // not callable yet
	e.store.add(task)
	e.store.add(assignedTo(known("c2"), "A2", "north")) // someone else's
	cc := &fakeCall{}
	got, err := e.w.NextCallback(context.Background(), "A1", cc)
	if err != nil || got != nil {
		t.Fatalf("got %+v, %v; want nothing", got, err)
	}
	if !slices.Equal(cc.played, []string{DefaultNone}) || len(cc.dials) != 0 || !cc.hungUp {
		t.Errorf("played %v dials %v hung up %v", cc.played, cc.dials, cc.hungUp)
	}
}

func TestNextCallbackTakesTheTopTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	mk := func(call string, priority int, due time.Duration) int64 {
		task := assignedTo(unknown(call), "A1", "north")
		task.Priority, task.DueAt = priority, start.Add(due)
		return e.store.add(task)
	}
	mk("low", 1, time.Minute)
	laterDue := mk("high-later", 9, 20*time.Minute)
	top := mk("high-sooner", 9, 10*time.Minute)
	for _, want := range []int64{top, laterDue} {
		cc := &fakeCall{result: answered(time.Minute)}
		got, err := e.w.NextCallback(context.Background(), "A1", cc)
		if err != nil || got.ID != want {
			t.Fatalf("took %+v, %v; want task %d", got, err, want)
		}
	}
}

func TestRescueReturnsAStuckCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxCallDuration: time.Hour})
	id := e.store.add(assignedTo(known("c1"), "A1", "north"))
	if _, err := e.store.TakeTop(context.Background(), "A1", "crashed", start, start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(61 * time.Minute)
	e.w.rescue(context.Background())
	if got := e.store.get(id); got.Status != StatusAssigned {
		t.Errorf("status %s, want assigned again", got.Status)
	}
	if owner, _ := e.store.leaseOf(id); owner != "" {
		t.Errorf("lease %q not returned", owner)
	}
}

// TestRunRetriesPendingAndKicks drives Run on fake time: a pending task is
// retried at each tick, and assigned at once after Kick.
func TestRunRetriesPendingAndKicks(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st, avail, notes := newMemStore(), &memAvailability{}, &memNotifier{}
		w, err := NewWorker(Config{Interval: time.Second, Owner: "w"}, Deps{
			Store: st, Directory: &memDirectory{agents: agents}, Availability: avail, Notifier: notes,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()

		task := unknown("c1")
		task.DueAt = time.Now().Add(time.Hour)
		id := st.add(task)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if got := st.get(id); got.Status != StatusPending || !got.NextCheckAt.After(time.Now()) {
			t.Fatalf("task %s next check %s, want pending and retried later", got.Status, got.NextCheckAt)
		}

		// An agent logs in between ticks: Kick assigns without waiting.
		time.Sleep(100 * time.Millisecond)
		avail.set("B1")
		w.Kick()
		synctest.Wait()
		if got := st.get(id); got.Status != StatusAssigned || got.AgentID != "B1" {
			t.Fatalf("after Kick: %s %q, want assigned to B1", got.Status, got.AgentID)
		}

		// A second pending task is picked up by the next tick on its own.
		task2 := unknown("c2")
		task2.DueAt = time.Now().Add(time.Hour)
		id2 := st.add(task2)
		time.Sleep(time.Second)
		synctest.Wait()
		if got := st.get(id2); got.AgentID != "B1" {
			t.Fatalf("second task with %q, want B1 after a tick", got.AgentID)
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestNewWorkerValidates(t *testing.T) {
	t.Parallel()
	deps := Deps{Store: newMemStore(), Directory: &memDirectory{}, Availability: &memAvailability{}}
	tests := []struct {
		name string
		cfg  Config
		deps Deps
		want string
	}{
		{name: "defaults are valid", deps: deps},
		{name: "negative interval", cfg: Config{Interval: -time.Second}, deps: deps, want: "Interval"},
		{name: "dial string without number", cfg: Config{DialString: "sofia/gateway/out/123"}, deps: deps, want: "DialString"},
		{name: "negative attempts", cfg: Config{MaxAttempts: -1}, deps: deps, want: "MaxAttempts"},
		{name: "hours closing before opening", cfg: Config{BusinessHours: BusinessHours{Open: 600, Close: 500, Days: DefaultBusinessHours.Days}}, deps: deps, want: "BusinessHours"},
		{name: "missing store", want: "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewWorker(tt.cfg, tt.deps)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want one naming %s", err, tt.want)
			}
		})
	}
}
