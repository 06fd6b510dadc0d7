package presence_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/store/presence"
	"github.com/stickyacd/stickyacd/store/presence/presencetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const hour = time.Hour

// short is the TTL of holds a test waits out. The test checks the hold
// before it expires, so it must outlast a few Redis round trips even on a
// loaded machine; the tests run in parallel, so the waits overlap.
const short = time.Second

// available makes each agent available in turn, each with a later
// idle-since than the one before, so "longest idle" is the given order.
func available(t *testing.T, s *presence.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.SetStatus(t.Context(), id, presence.StatusAvailable, ""); err != nil {
			t.Fatal(err)
		}
		presencetest.WaitUntil(t, get(t, s, id).IdleSince.Add(time.Millisecond))
	}
}

func get(t *testing.T, s *presence.Store, id string) presence.Agent {
	t.Helper()
	m, err := s.Snapshot(t.Context(), []string{id})
	if err != nil {
		t.Fatal(err)
	}
	return m[id]
}

func group(step routing.Step, ids ...string) routing.Group {
	return routing.Group{Step: step, Agents: ids}
}

// reserve reserves exactly agent id for call, or fails the test.
func reserve(t *testing.T, s *presence.Store, call, id string) {
	t.Helper()
	r, err := s.Reserve(t.Context(), call, []routing.Group{group(routing.StepFirst, id)})
	if err != nil || r.AgentID != id {
		t.Fatalf("reserve %s for %s: got %+v, %v", id, call, r, err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func checkIndexes(t *testing.T, s *presence.Store) {
	t.Helper()
	if err := presence.CheckIndexes(t.Context(), s); err != nil {
		t.Fatalf("indexes: %v", err)
	}
}

func TestReserveSkipReasons(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		opts  presence.Options
		setup func(t *testing.T, s *presence.Store)
		want  routing.Result
	}{
		{"never seen", presence.Options{}, func(*testing.T, *presence.Store) {}, routing.ResultOffline},
		{"logged out", presence.Options{}, func(t *testing.T, s *presence.Store) {
			must(t, s.SetStatus(ctx, "x", presence.StatusLoggedOut, ""))
		}, routing.ResultOffline},
		{"unregistered", presence.Options{RequireRegistration: true}, func(t *testing.T, s *presence.Store) {
			available(t, s, "x")
		}, routing.ResultOffline},
		{"break", presence.Options{}, func(t *testing.T, s *presence.Store) {
			must(t, s.SetStatus(ctx, "x", presence.StatusBreak, "lunch"))
		}, routing.ResultBreak},
		{"max no-answer", presence.Options{MaxNoAnswer: 1}, func(t *testing.T, s *presence.Store) {
			available(t, s, "x")
			reserve(t, s, "other", "x")
			must(t, s.Release(ctx, "x", "other", routing.ResultNoAnswer))
		}, routing.ResultBreak},
		{"reserved", presence.Options{}, func(t *testing.T, s *presence.Store) {
			available(t, s, "x")
			reserve(t, s, "other", "x")
		}, routing.ResultReserved},
		{"ringing", presence.Options{}, func(t *testing.T, s *presence.Store) {
			available(t, s, "x")
			reserve(t, s, "other", "x")
			must(t, s.Ringing(ctx, "x", "other"))
		}, routing.ResultBusy},
		{"in call", presence.Options{}, func(t *testing.T, s *presence.Store) {
			available(t, s, "x")
			reserve(t, s, "other", "x")
			must(t, s.Answered(ctx, "x", "other"))
		}, routing.ResultBusy},
		{"outside call", presence.Options{}, func(t *testing.T, s *presence.Store) {
			available(t, s, "x")
			must(t, s.ExternalCall(ctx, "x", "chan", true))
		}, routing.ResultBusy},
		{"wrap-up", presence.Options{WrapUp: hour}, func(t *testing.T, s *presence.Store) {
			available(t, s, "x")
			reserve(t, s, "other", "x")
			must(t, s.Answered(ctx, "x", "other"))
			must(t, s.Hangup(ctx, "x", "other"))
		}, routing.ResultWrapUp},
		{"busy delay", presence.Options{BusyDelay: hour}, func(t *testing.T, s *presence.Store) {
			available(t, s, "x")
			reserve(t, s, "other", "x")
			must(t, s.Release(ctx, "x", "other", routing.ResultBusy))
		}, routing.ResultWrapUp},
		{"reject delay", presence.Options{RejectDelay: hour}, func(t *testing.T, s *presence.Store) {
			available(t, s, "x")
			reserve(t, s, "other", "x")
			must(t, s.Release(ctx, "x", "other", routing.ResultRejected))
		}, routing.ResultWrapUp},
		{"no-answer delay", presence.Options{NoAnswerDelay: hour}, func(t *testing.T, s *presence.Store) {
			available(t, s, "x")
			reserve(t, s, "other", "x")
			must(t, s.Release(ctx, "x", "other", routing.ResultNoAnswer))
		}, routing.ResultWrapUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := presencetest.NewWithOptions(t, tt.opts)
			must(t, s.SetRegistered(ctx, "fallback", true))
			available(t, s, "fallback")
			tt.setup(t, s)

			got, err := s.Reserve(ctx, "call", []routing.Group{group(routing.StepFirst, "x"), group(routing.StepBackup, "fallback")})
			if err != nil {
				t.Fatal(err)
			}
			want := routing.Reservation{AgentID: "fallback", Step: routing.StepBackup,
				Skipped: []routing.Candidate{{Step: routing.StepFirst, AgentID: "x", Result: tt.want}}}
			if !equalReservation(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
			checkIndexes(t, s)
		})
	}
}

func equalReservation(a, b routing.Reservation) bool {
	return a.AgentID == b.AgentID && a.Step == b.Step && slices.Equal(a.Skipped, b.Skipped)
}

func TestReserveChainOrder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := presencetest.New(t)
	available(t, s, "first", "e", "c", "d", "leader")
	must(t, s.SetStatus(ctx, "backup", presence.StatusBreak, ""))
	reserve(t, s, "elsewhere", "first")
	must(t, s.Answered(ctx, "first", "elsewhere"))
	chain := []routing.Group{
		group(routing.StepFirst, "first"),
		group(routing.StepBackup, "backup"),
		group(routing.StepTeam, "c", "d", "e", "first"), // first again: considered once
		group(routing.StepLeader, "leader"),
	}
	before := []routing.Candidate{
		{Step: routing.StepFirst, AgentID: "first", Result: routing.ResultBusy},
		{Step: routing.StepBackup, AgentID: "backup", Result: routing.ResultBreak},
	}
	reserved := func(ids ...string) []routing.Candidate {
		var out []routing.Candidate
		for _, id := range ids {
			out = append(out, routing.Candidate{Step: routing.StepTeam, AgentID: id, Result: routing.ResultReserved})
		}
		return out
	}
	steps := []routing.Reservation{
		{AgentID: "e", Step: routing.StepTeam, Skipped: before},
		{AgentID: "c", Step: routing.StepTeam, Skipped: append(slices.Clone(before), reserved("e")...)},
		{AgentID: "d", Step: routing.StepTeam, Skipped: append(slices.Clone(before), reserved("c", "e")...)},
		{AgentID: "leader", Step: routing.StepLeader, Skipped: append(slices.Clone(before), reserved("c", "d", "e")...)},
	}
	for i, want := range steps {
		got, err := s.Reserve(ctx, "call-"+want.AgentID, chain)
		if err != nil {
			t.Fatalf("reservation %d: %v", i, err)
		}
		if !equalReservation(got, want) {
			t.Fatalf("reservation %d: got %+v, want %+v", i, got, want)
		}
	}

	got, err := s.Reserve(ctx, "call-none", chain)
	if !errors.Is(err, routing.ErrNoAgent) {
		t.Fatalf("all taken: err %v, want ErrNoAgent", err)
	}
	want := routing.Reservation{Skipped: append(append(slices.Clone(before), reserved("c", "d", "e")...),
		routing.Candidate{Step: routing.StepLeader, AgentID: "leader", Result: routing.ResultReserved})}
	if !equalReservation(got, want) {
		t.Errorf("all taken: got %+v, want %+v", got, want)
	}

	if _, err := s.Reserve(ctx, "call-empty", nil); !errors.Is(err, routing.ErrNoAgent) {
		t.Errorf("no groups: err %v, want ErrNoAgent", err)
	}
	checkIndexes(t, s)
}

func TestReserveTiesKeepGivenOrder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := presencetest.New(t)
	available(t, s, "a", "b", "c")
	// Equal idle-since is rare enough to need forcing.
	same := get(t, s, "a").IdleSince
	for _, id := range []string{"b", "c"} {
		must(t, presence.SetIdleSince(ctx, s, id, same))
	}
	for _, want := range []string{"c", "a", "b"} {
		r, err := s.Reserve(ctx, "call-"+want, []routing.Group{group(routing.StepTeam, "c", "a", "b")})
		if err != nil || r.AgentID != want {
			t.Fatalf("got %+v, %v; want %s", r, err, want)
		}
	}
}

func TestReserveAny(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := presencetest.New(t)
	available(t, s, "a", "b", "c")
	must(t, s.SetStatus(ctx, "d", presence.StatusBreak, ""))

	steps := []struct {
		call    string
		exclude []string
		want    string // "" for ErrNoAgent
	}{
		{"1", nil, "a"},
		{"2", []string{"b"}, "c"},
		{"3", []string{"b"}, ""},
		{"4", []string{"zz"}, "b"},
		{"5", nil, ""},
	}
	for _, st := range steps {
		r, err := s.ReserveAny(ctx, st.call, st.exclude)
		if st.want == "" {
			if !errors.Is(err, routing.ErrNoAgent) {
				t.Fatalf("call %s: got %+v, %v; want ErrNoAgent", st.call, r, err)
			}
			continue
		}
		if err != nil || r.AgentID != st.want || r.Step != routing.StepAnyAgent {
			t.Fatalf("call %s: got %+v, %v; want %s", st.call, r, err, st.want)
		}
	}
	checkIndexes(t, s)
}

func TestTransitionsAndWrapUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const wrap = short
	s := presencetest.NewWithOptions(t, presence.Options{WrapUp: wrap, ReserveTTL: hour, MaxCallDuration: 2 * hour})
	available(t, s, "a")
	idle := get(t, s, "a").IdleSince

	reserve(t, s, "c1", "a")
	a := get(t, s, "a")
	if a.State != presence.StateReserved || a.CallUUID != "c1" || a.Expires.Sub(a.StateSince) != hour {
		t.Fatalf("reserved: %+v", a)
	}
	must(t, s.Ringing(ctx, "a", "c1"))
	if a = get(t, s, "a"); a.State != presence.StateRinging || a.CallUUID != "c1" {
		t.Fatalf("ringing: %+v", a)
	}
	must(t, s.Answered(ctx, "a", "c1"))
	must(t, s.Answered(ctx, "a", "c1")) // a repeated answer is harmless
	if a = get(t, s, "a"); a.State != presence.StateInCall || a.Expires.Sub(a.StateSince) != 2*hour || a.External {
		t.Fatalf("in call: %+v", a)
	}
	if !a.IdleSince.Equal(idle) {
		t.Errorf("idle since moved during the call: %v, was %v", a.IdleSince, idle)
	}
	must(t, s.Hangup(ctx, "a", "c1"))
	a = get(t, s, "a")
	if a.State != presence.StateWrapUp || a.Expires.Sub(a.StateSince) != wrap {
		t.Fatalf("wrap-up: %+v", a)
	}
	if _, err := s.ReserveAny(ctx, "c2", nil); !errors.Is(err, routing.ErrNoAgent) {
		t.Fatalf("reserve during wrap-up: %v", err)
	}
	checkIndexes(t, s)

	presencetest.WaitUntil(t, a.Expires)
	b := get(t, s, "a")
	if b.State != presence.StateIdle || !b.IdleSince.Equal(a.Expires) || !b.StateSince.Equal(a.Expires) || b.CallUUID != "" || !b.Offerable() {
		t.Fatalf("after wrap-up: %+v, wrap-up ended %v", b, a.Expires)
	}
	r, err := s.ReserveAny(ctx, "c2", nil)
	if err != nil || r.AgentID != "a" {
		t.Fatalf("reserve after wrap-up: %+v, %v", r, err)
	}
	checkIndexes(t, s)
}

func TestHangupWithoutWrapUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := presencetest.New(t)
	available(t, s, "a")
	reserve(t, s, "c1", "a")
	must(t, s.Answered(ctx, "a", "c1"))
	must(t, s.Hangup(ctx, "a", "c1"))
	a := get(t, s, "a")
	if a.State != presence.StateIdle || !a.IdleSince.Equal(a.StateSince) || !a.Offerable() {
		t.Fatalf("after hang-up: %+v", a)
	}
	checkIndexes(t, s)
}

// TestCompareAndSet: a transition for a call the agent is not held by, or
// in a state it does not apply to, changes nothing.
func TestCompareAndSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reserved := func(t *testing.T, s *presence.Store) { reserve(t, s, "c1", "a") }
	ringing := func(t *testing.T, s *presence.Store) { reserved(t, s); must(t, s.Ringing(ctx, "a", "c1")) }
	inCall := func(t *testing.T, s *presence.Store) { ringing(t, s); must(t, s.Answered(ctx, "a", "c1")) }
	wrapUp := func(t *testing.T, s *presence.Store) { inCall(t, s); must(t, s.Hangup(ctx, "a", "c1")) }
	released := func(t *testing.T, s *presence.Store) { reserved(t, s); must(t, s.Release(ctx, "a", "c1", "")) }
	outside := func(t *testing.T, s *presence.Store) { must(t, s.ExternalCall(ctx, "a", "c1", true)) }
	type op func(s *presence.Store, call string) error
	ringingOp := func(s *presence.Store, call string) error { return s.Ringing(ctx, "a", call) }
	answeredOp := func(s *presence.Store, call string) error { return s.Answered(ctx, "a", call) }
	releaseOp := func(s *presence.Store, call string) error { return s.Release(ctx, "a", call, routing.ResultNoAnswer) }
	hangupOp := func(s *presence.Store, call string) error { return s.Hangup(ctx, "a", call) }
	endOutsideOp := func(s *presence.Store, call string) error { return s.ExternalCall(ctx, "a", call, false) }
	startOutsideOp := func(s *presence.Store, call string) error { return s.ExternalCall(ctx, "a", call, true) }

	tests := []struct {
		name  string
		setup func(*testing.T, *presence.Store)
		op    op
		call  string
	}{
		{"ringing for another call", reserved, ringingOp, "c2"},
		{"answered for another call", ringing, answeredOp, "c2"},
		{"release for another call", ringing, releaseOp, "c2"},
		{"hang-up for another call", inCall, hangupOp, "c2"},
		{"ringing when idle", func(*testing.T, *presence.Store) {}, ringingOp, "c1"},
		{"ringing after release", released, ringingOp, "c1"},
		{"answered after release", released, answeredOp, "c1"},
		{"release twice", released, releaseOp, "c1"},
		{"ringing in the call", inCall, ringingOp, "c1"},
		{"release in the call", inCall, releaseOp, "c1"},
		{"hang-up while reserved", reserved, hangupOp, "c1"},
		{"hang-up twice", wrapUp, hangupOp, "c1"},
		{"answered after hang-up", wrapUp, answeredOp, "c1"},
		{"release after hang-up", wrapUp, releaseOp, "c1"},
		{"outside call takes a reserved agent", reserved, startOutsideOp, "chan"},
		{"outside call takes a ringing agent", ringing, startOutsideOp, "chan"},
		{"outside call takes an agent in our call", inCall, startOutsideOp, "chan"},
		{"outside call ends our call", inCall, endOutsideOp, "c1"},
		{"outside call ends another channel", outside, endOutsideOp, "chan"},
		{"second outside channel", outside, startOutsideOp, "chan"},
		{"hang-up of an outside call", outside, hangupOp, "c1"},
		{"release of an outside call", outside, releaseOp, "c1"},
		{"answered for an outside call", outside, answeredOp, "c1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := presencetest.New(t)
			available(t, s, "a")
			tt.setup(t, s)
			before := get(t, s, "a")
			if err := tt.op(s, tt.call); !errors.Is(err, presence.ErrNotOwner) {
				t.Fatalf("err %v, want ErrNotOwner", err)
			}
			if after := get(t, s, "a"); after != before {
				t.Errorf("agent changed:\n before %+v\n after  %+v", before, after)
			}
			checkIndexes(t, s)
		})
	}
}

func TestExpiries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		opts presence.Options
		// hold puts agent "a" in the state under test for call "c1".
		hold func(*testing.T, *presence.Store)
		// endsIdle says whether the expiry starts a new idle period (the end
		// of a call) or keeps the old one (an unused reservation).
		endsIdle bool
	}{
		{"reservation", presence.Options{ReserveTTL: short}, func(t *testing.T, s *presence.Store) {
			reserve(t, s, "c1", "a")
		}, false},
		{"ringing", presence.Options{ReserveTTL: short}, func(t *testing.T, s *presence.Store) {
			reserve(t, s, "c1", "a")
			must(t, s.Ringing(ctx, "a", "c1"))
		}, false},
		{"call backstop", presence.Options{MaxCallDuration: short}, func(t *testing.T, s *presence.Store) {
			reserve(t, s, "c1", "a")
			must(t, s.Answered(ctx, "a", "c1"))
		}, true},
		{"outside call backstop", presence.Options{MaxCallDuration: short}, func(t *testing.T, s *presence.Store) {
			must(t, s.ExternalCall(ctx, "a", "c1", true))
		}, true},
		{"wrap-up", presence.Options{WrapUp: short}, func(t *testing.T, s *presence.Store) {
			reserve(t, s, "c1", "a")
			must(t, s.Answered(ctx, "a", "c1"))
			must(t, s.Hangup(ctx, "a", "c1"))
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := presencetest.NewWithOptions(t, tt.opts)
			available(t, s, "a")
			idle := get(t, s, "a").IdleSince
			tt.hold(t, s)
			held := get(t, s, "a")
			if held.Offerable() || held.Expires.IsZero() {
				t.Fatalf("held: %+v", held)
			}
			if _, err := s.ReserveAny(ctx, "c2", nil); !errors.Is(err, routing.ErrNoAgent) {
				t.Fatalf("reserve while held: %v", err)
			}

			presencetest.WaitUntil(t, held.Expires)
			a := get(t, s, "a")
			wantIdle := idle
			if tt.endsIdle {
				wantIdle = held.Expires
			}
			if a.State != presence.StateIdle || !a.Offerable() || !a.StateSince.Equal(held.Expires) || !a.IdleSince.Equal(wantIdle) || !a.Expires.IsZero() {
				t.Fatalf("after expiry: %+v; held until %v, want idle since %v", a, held.Expires, wantIdle)
			}
			// A late event for the expired hold changes nothing.
			if err := s.Ringing(ctx, "a", "c1"); !errors.Is(err, presence.ErrNotOwner) {
				t.Errorf("late ringing: %v, want ErrNotOwner", err)
			}
			r, err := s.ReserveAny(ctx, "c2", nil)
			if err != nil || r.AgentID != "a" {
				t.Fatalf("reserve after expiry: %+v, %v", r, err)
			}
			checkIndexes(t, s)
		})
	}
}

func TestReleasePenalties(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		why           routing.Result
		wantNoAnswers int
		wantDelay     bool
	}{
		{routing.ResultNoAnswer, 1, true},
		{routing.ResultBusy, 0, true},
		{routing.ResultRejected, 0, true},
		{routing.ResultUnreachable, 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.why), func(t *testing.T) {
			t.Parallel()
			// Each reason gets its own length of delay, to tell them apart.
			delays := map[routing.Result]time.Duration{routing.ResultNoAnswer: hour, routing.ResultBusy: 2 * hour, routing.ResultRejected: 3 * hour}
			s := presencetest.NewWithOptions(t, presence.Options{MaxNoAnswer: 3,
				NoAnswerDelay: delays[routing.ResultNoAnswer], BusyDelay: delays[routing.ResultBusy], RejectDelay: delays[routing.ResultRejected]})
			available(t, s, "a")
			reserve(t, s, "c1", "a")
			must(t, s.Ringing(ctx, "a", "c1"))
			must(t, s.Release(ctx, "a", "c1", tt.why))
			a := get(t, s, "a")
			if a.State != presence.StateIdle || a.Status != presence.StatusAvailable || a.NoAnswers != tt.wantNoAnswers || a.CallUUID != "" {
				t.Fatalf("released: %+v", a)
			}
			if got := a.ReadyAt.Sub(a.StateSince); (tt.wantDelay && got != delays[tt.why]) || (!tt.wantDelay && !a.ReadyAt.IsZero()) {
				t.Errorf("ready at %v after release at %v", a.ReadyAt, a.StateSince)
			}
			if a.Offerable() == tt.wantDelay {
				t.Errorf("offerable=%t after %q", a.Offerable(), tt.why)
			}
			checkIndexes(t, s)
		})
	}

	t.Run("unknown reason", func(t *testing.T) {
		t.Parallel()
		s := presencetest.New(t)
		available(t, s, "a")
		reserve(t, s, "c1", "a")
		if err := s.Release(ctx, "a", "c1", routing.ResultAnswered); !errors.Is(err, presence.ErrInvalid) {
			t.Fatalf("err %v, want ErrInvalid", err)
		}
		if a := get(t, s, "a"); a.State != presence.StateReserved {
			t.Errorf("agent moved: %+v", a)
		}
	})
}

// TestTurnedDownOfferGoesToTheBack: a phone that turns a call down was
// offered it (mod_callcenter's last_offered_call), so it no longer heads the
// longest-idle order; a reservation released before any ringing was no offer.
func TestTurnedDownOfferGoesToTheBack(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for _, why := range []routing.Result{routing.ResultBusy, routing.ResultNoAnswer, routing.ResultRejected, routing.ResultUnreachable} {
		t.Run(string(why), func(t *testing.T) {
			t.Parallel()
			s := presencetest.NewWithOptions(t, presence.Options{})
			available(t, s, "a", "b")
			reserve(t, s, "c1", "a")
			must(t, s.Release(ctx, "a", "c1", why))
			if r, err := s.ReserveAny(ctx, "c2", nil); err != nil || r.AgentID != "b" {
				t.Fatalf("after a %s offer to a: reserved %+v, %v; want b, now the longest idle", why, r, err)
			}
			checkIndexes(t, s)
		})
	}
	t.Run("never rung", func(t *testing.T) {
		t.Parallel()
		s := presencetest.NewWithOptions(t, presence.Options{})
		available(t, s, "a", "b")
		reserve(t, s, "c1", "a")
		must(t, s.Release(ctx, "a", "c1", ""))
		if r, err := s.ReserveAny(ctx, "c2", nil); err != nil || r.AgentID != "a" {
			t.Fatalf("after an unused reservation of a: reserved %+v, %v; want a, still the longest idle", r, err)
		}
	})
}

func TestDelayExpires(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := presencetest.NewWithOptions(t, presence.Options{BusyDelay: short})
	available(t, s, "a")
	idle := get(t, s, "a").IdleSince
	reserve(t, s, "c1", "a")
	must(t, s.Release(ctx, "a", "c1", routing.ResultBusy))
	if _, err := s.ReserveAny(ctx, "c2", nil); !errors.Is(err, routing.ErrNoAgent) {
		t.Fatalf("reserve during the delay: %v", err)
	}
	released := get(t, s, "a")
	presencetest.WaitUntil(t, released.ReadyAt)
	a := get(t, s, "a")
	if !a.Offerable() || !a.IdleSince.Equal(released.StateSince) || !a.IdleSince.After(idle) {
		t.Fatalf("after the delay: %+v; want idle since the busy offer at %v (was %v)", a, released.StateSince, idle)
	}
	if r, err := s.ReserveAny(ctx, "c2", nil); err != nil || r.AgentID != "a" {
		t.Fatalf("reserve after the delay: %+v, %v", r, err)
	}
	checkIndexes(t, s)
}

func TestMaxNoAnswer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := presencetest.NewWithOptions(t, presence.Options{MaxNoAnswer: 2})
	available(t, s, "a")
	noAnswer := func(call string) {
		t.Helper()
		reserve(t, s, call, "a")
		must(t, s.Ringing(ctx, "a", call))
		must(t, s.Release(ctx, "a", call, routing.ResultNoAnswer))
	}

	noAnswer("c1")
	if a := get(t, s, "a"); a.NoAnswers != 1 || a.Status != presence.StatusAvailable {
		t.Fatalf("after one no-answer: %+v", a)
	}
	// An answer clears the count.
	reserve(t, s, "c2", "a")
	must(t, s.Answered(ctx, "a", "c2"))
	must(t, s.Hangup(ctx, "a", "c2"))
	if a := get(t, s, "a"); a.NoAnswers != 0 {
		t.Fatalf("after an answer: %+v", a)
	}
	// Unreachable is not the agent's fault.
	reserve(t, s, "c3", "a")
	must(t, s.Release(ctx, "a", "c3", routing.ResultUnreachable))
	noAnswer("c4")
	noAnswer("c5")
	a := get(t, s, "a")
	if a.Status != presence.StatusBreak || a.Reason != presence.ReasonMaxNoAnswer || a.NoAnswers != 2 || a.Online {
		t.Fatalf("at the cap: %+v", a)
	}
	checkIndexes(t, s)

	must(t, s.SetStatus(ctx, "a", presence.StatusAvailable, ""))
	if a := get(t, s, "a"); a.NoAnswers != 0 || a.Reason != "" || !a.Offerable() {
		t.Fatalf("back to available: %+v", a)
	}
	checkIndexes(t, s)
}

func TestStatus(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := presencetest.NewWithOptions(t, presence.Options{WrapUp: hour})
	available(t, s, "a", "b")

	// A break while in a call lets the call finish but stops new offers.
	reserve(t, s, "c1", "a")
	must(t, s.Answered(ctx, "a", "c1"))
	must(t, s.SetStatus(ctx, "a", presence.StatusBreak, "lunch"))
	if a := get(t, s, "a"); a.State != presence.StateInCall || a.Status != presence.StatusBreak || a.Reason != "lunch" || a.Online {
		t.Fatalf("break during a call: %+v", a)
	}
	must(t, s.Hangup(ctx, "a", "c1"))
	checkIndexes(t, s)
	r, err := s.Reserve(ctx, "c2", []routing.Group{group(routing.StepFirst, "a")})
	if !errors.Is(err, routing.ErrNoAgent) || len(r.Skipped) != 1 || r.Skipped[0].Result != routing.ResultBreak {
		t.Fatalf("reserve on break: %+v, %v", r, err)
	}

	// Coming back from a break starts a fresh idle period …
	b := get(t, s, "b")
	presencetest.WaitUntil(t, b.IdleSince.Add(time.Millisecond))
	must(t, s.SetStatus(ctx, "b", presence.StatusBreak, ""))
	must(t, s.SetStatus(ctx, "b", presence.StatusAvailable, ""))
	back := get(t, s, "b")
	if !back.IdleSince.After(b.IdleSince) || !back.Offerable() {
		t.Fatalf("back from break: %+v, idle since %v before", back, b.IdleSince)
	}
	// … but setting available again does not restart it.
	presencetest.WaitUntil(t, back.IdleSince.Add(time.Millisecond))
	must(t, s.SetStatus(ctx, "b", presence.StatusAvailable, ""))
	if again := get(t, s, "b"); !again.IdleSince.Equal(back.IdleSince) {
		t.Errorf("idle since moved from %v to %v", back.IdleSince, again.IdleSince)
	}

	must(t, s.SetStatus(ctx, "b", presence.StatusLoggedOut, ""))
	if b := get(t, s, "b"); b.Online || b.Status != presence.StatusLoggedOut {
		t.Fatalf("logged out: %+v", b)
	}
	checkIndexes(t, s)

	if err := s.SetStatus(ctx, "b", "dancing", ""); !errors.Is(err, presence.ErrInvalid) {
		t.Errorf("unknown status: %v, want ErrInvalid", err)
	}
}

func TestRegistration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("required", func(t *testing.T) {
		t.Parallel()
		s := presencetest.NewWithOptions(t, presence.Options{RequireRegistration: true})
		available(t, s, "a")
		if a := get(t, s, "a"); a.Online || a.Registered {
			t.Fatalf("unregistered: %+v", a)
		}
		must(t, s.SetRegistered(ctx, "a", true))
		if a := get(t, s, "a"); !a.Online || !a.Registered || !a.Offerable() {
			t.Fatalf("registered: %+v", a)
		}
		reserve(t, s, "c1", "a")
		// The phone dropping does not cancel the attempt under way …
		must(t, s.SetRegistered(ctx, "a", false))
		must(t, s.Ringing(ctx, "a", "c1"))
		must(t, s.Release(ctx, "a", "c1", routing.ResultUnreachable))
		// … but stops new offers.
		if _, err := s.ReserveAny(ctx, "c2", nil); !errors.Is(err, routing.ErrNoAgent) {
			t.Fatalf("reserve unregistered: %v", err)
		}
		checkIndexes(t, s)
	})
	t.Run("waived", func(t *testing.T) {
		t.Parallel()
		s := presencetest.New(t)
		available(t, s, "a")
		must(t, s.SetRegistered(ctx, "a", false))
		if a := get(t, s, "a"); !a.Online || a.Registered {
			t.Fatalf("waived: %+v", a)
		}
		checkIndexes(t, s)
	})
}

func TestExternalCall(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := presencetest.NewWithOptions(t, presence.Options{WrapUp: hour})
	available(t, s, "a")

	must(t, s.ExternalCall(ctx, "a", "ch1", true))
	must(t, s.ExternalCall(ctx, "a", "ch1", true)) // repeated event
	a := get(t, s, "a")
	if a.State != presence.StateInCall || a.CallUUID != "ch1" || !a.External {
		t.Fatalf("outside call: %+v", a)
	}
	checkIndexes(t, s)
	must(t, s.ExternalCall(ctx, "a", "ch1", false))
	if a := get(t, s, "a"); a.State != presence.StateWrapUp || a.External {
		t.Fatalf("after the outside call: %+v", a)
	}
	// Calling out during wrap-up is the agent's business.
	must(t, s.ExternalCall(ctx, "a", "ch2", true))
	if a := get(t, s, "a"); a.State != presence.StateInCall || a.CallUUID != "ch2" {
		t.Fatalf("outside call from wrap-up: %+v", a)
	}
	checkIndexes(t, s)
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const grace = 30 * time.Millisecond
	s := presencetest.NewWithOptions(t, presence.Options{RequireRegistration: true, WrapUp: hour, ReconcileGrace: grace})
	ids := []string{"stale", "ringing", "talking", "dead-call", "out-gone", "out-new", "out-moved", "reg-on", "reg-off", "leg"}
	for _, id := range ids {
		must(t, s.SetRegistered(ctx, id, id != "reg-on"))
	}
	available(t, s, ids...)
	reserve(t, s, "dead1", "stale")
	reserve(t, s, "live1", "ringing")
	must(t, s.Ringing(ctx, "ringing", "live1"))
	reserve(t, s, "live2", "talking")
	must(t, s.Answered(ctx, "talking", "live2"))
	reserve(t, s, "dead2", "dead-call")
	must(t, s.Answered(ctx, "dead-call", "dead2"))
	must(t, s.ExternalCall(ctx, "out-gone", "ch-gone", true))
	must(t, s.ExternalCall(ctx, "out-moved", "ch-old", true))
	reserve(t, s, "live3", "leg")

	registered := map[string]bool{"reg-on": true, "newcomer": true}
	for _, id := range ids {
		if id != "reg-off" {
			registered[id] = true
		}
	}
	liveCalls := map[string]string{"out-new": "ch-new", "out-moved": "ch-moved", "leg": "agent-leg", "talking": "agent-leg2"}
	liveCallUUIDs := map[string]bool{"live1": true, "live2": true, "live3": true, "dead1": false}

	presencetest.WaitUntil(t, time.Now().Add(grace))
	ch, err := s.Reconcile(ctx, registered, liveCalls, liveCallUUIDs)
	if err != nil {
		t.Fatal(err)
	}
	want := presence.Changes{
		Registered:   []string{"newcomer", "reg-on"},
		Unregistered: []string{"reg-off"},
		Released:     []string{"dead-call", "stale"},
		CallsStarted: []string{"out-new"},
		CallsEnded:   []string{"out-gone"},
	}
	if !slices.Equal(ch.Registered, want.Registered) || !slices.Equal(ch.Unregistered, want.Unregistered) ||
		!slices.Equal(ch.Released, want.Released) || !slices.Equal(ch.CallsStarted, want.CallsStarted) ||
		!slices.Equal(ch.CallsEnded, want.CallsEnded) {
		t.Fatalf("changes %+v, want %+v", ch, want)
	}

	got, err := s.Snapshot(ctx, append(ids, "newcomer"))
	if err != nil {
		t.Fatal(err)
	}
	wantState := map[string]struct {
		state presence.State
		call  string
	}{
		"stale": {presence.StateIdle, ""}, "ringing": {presence.StateRinging, "live1"},
		"talking": {presence.StateInCall, "live2"}, "dead-call": {presence.StateWrapUp, "dead2"},
		"out-gone": {presence.StateWrapUp, "ch-gone"}, "out-new": {presence.StateInCall, "ch-new"},
		"out-moved": {presence.StateInCall, "ch-moved"}, "leg": {presence.StateReserved, "live3"},
		"reg-on": {presence.StateIdle, ""}, "reg-off": {presence.StateIdle, ""}, "newcomer": {presence.StateIdle, ""},
	}
	for id, w := range wantState {
		if a := got[id]; a.State != w.state || a.CallUUID != w.call {
			t.Errorf("%s: %+v, want %s %q", id, a, w.state, w.call)
		}
	}
	if a := got["newcomer"]; !a.Registered || a.Status != presence.StatusLoggedOut {
		t.Errorf("newcomer: %+v", a)
	}
	if !got["reg-on"].Online || got["reg-off"].Online {
		t.Errorf("registration not applied: %+v / %+v", got["reg-on"], got["reg-off"])
	}
	checkIndexes(t, s)

	// Nothing left to correct.
	ch, err = s.Reconcile(ctx, registered, liveCalls, liveCallUUIDs)
	if err != nil || !ch.Empty() {
		t.Fatalf("second reconcile: %+v, %v", ch, err)
	}
}

// TestReconcileGrace: FreeSWITCH's answers predate changes made within
// the grace period, so those are left alone.
func TestReconcileGrace(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := presencetest.NewWithOptions(t, presence.Options{RequireRegistration: true, ReconcileGrace: hour})
	must(t, s.SetRegistered(ctx, "a", true))
	must(t, s.SetRegistered(ctx, "b", true))
	available(t, s, "a", "b")
	reserve(t, s, "dead", "a")
	must(t, s.ExternalCall(ctx, "b", "ch", true))
	before, err := s.Snapshot(ctx, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}

	ch, err := s.Reconcile(ctx, map[string]bool{"newcomer": true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Only the agent we had never heard of is taken from FreeSWITCH.
	if !slices.Equal(ch.Registered, []string{"newcomer"}) || len(ch.Unregistered)+len(ch.Released)+len(ch.CallsStarted)+len(ch.CallsEnded) != 0 {
		t.Fatalf("changes %+v", ch)
	}
	after, err := s.Snapshot(ctx, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if after["a"] != before["a"] || after["b"] != before["b"] {
		t.Errorf("changed within the grace period:\n before %+v\n after  %+v", before, after)
	}
}

func TestReconcileRepairsIndexes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := presencetest.New(t)
	available(t, s, "a", "b")
	rdb := presencetest.Client(t)
	must(t, rdb.Del(ctx, "{"+s.Prefix()+"}:idle").Err())
	if _, err := s.Reconcile(ctx, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, s)
	if r, err := s.ReserveAny(ctx, "c1", nil); err != nil || r.AgentID != "a" {
		t.Fatalf("after repair: %+v, %v", r, err)
	}
}

func TestReadsAndForget(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := presencetest.New(t)
	available(t, s, "d", "a", "c", "b")
	reserve(t, s, "c1", "d")
	must(t, s.Answered(ctx, "d", "c1"))
	must(t, s.SetStatus(ctx, "c", presence.StatusBreak, ""))

	all, err := s.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range all {
		ids = append(ids, a.ID)
	}
	if !slices.Equal(ids, []string{"a", "b", "c", "d"}) {
		t.Fatalf("all: %v", ids)
	}

	snap, err := s.Snapshot(ctx, []string{"a", "ghost"})
	if err != nil {
		t.Fatal(err)
	}
	if g := snap["ghost"]; g != (presence.Agent{ID: "ghost", Status: presence.StatusLoggedOut, State: presence.StateIdle}) {
		t.Errorf("unknown agent: %+v", g)
	}
	if a := snap["a"]; !a.Offerable() || a.IdleSince.IsZero() {
		t.Errorf("a: %+v", a)
	}

	online, err := s.OnlineAmong(ctx, []string{"ghost", "c", "b", "a", "d", "a"})
	if err != nil {
		t.Fatal(err)
	}
	ids = ids[:0]
	for _, a := range online {
		ids = append(ids, a.ID)
	}
	// Offerable first, longest idle first; the busy one last.
	if !slices.Equal(ids, []string{"a", "b", "d"}) {
		t.Fatalf("online among: %v", ids)
	}

	must(t, s.Forget(ctx, "a"))
	if all, err = s.All(ctx); err != nil || len(all) != 3 {
		t.Fatalf("after forget: %+v, %v", all, err)
	}
	if r, err := s.ReserveAny(ctx, "c2", nil); err != nil || r.AgentID != "b" {
		t.Fatalf("reserve after forget: %+v, %v", r, err)
	}
	checkIndexes(t, s)
}

func TestScriptCacheFlushed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := presencetest.New(t)
	must(t, s.Load(ctx))
	available(t, s, "a")
	// Other tests share this Redis; they fall back to EVAL just the same.
	must(t, presencetest.Client(t).ScriptFlush(ctx).Err())
	reserve(t, s, "c1", "a")
}

func TestInvalidRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := presencetest.New(t)
	tests := map[string]error{
		"reserve without call":     second(s.Reserve(ctx, "", nil)),
		"reserve empty agent":      second(s.Reserve(ctx, "c", []routing.Group{group(routing.StepTeam, "a", "")})),
		"reserve any without call": second(s.ReserveAny(ctx, "", nil)),
		"ringing without agent":    s.Ringing(ctx, "", "c"),
		"answered without call":    s.Answered(ctx, "a", ""),
		"release without call":     s.Release(ctx, "a", "", ""),
		"hang-up without agent":    s.Hangup(ctx, "", "c"),
		"outside without channel":  s.ExternalCall(ctx, "a", "", true),
		"status without agent":     s.SetStatus(ctx, "", presence.StatusAvailable, ""),
		"registered without agent": s.SetRegistered(ctx, "", true),
		"forget without agent":     s.Forget(ctx, ""),
		"reconcile empty agent":    second(s.Reconcile(ctx, map[string]bool{"": true}, nil, nil)),
	}
	for name, err := range tests {
		if !errors.Is(err, presence.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestNew(t *testing.T) {
	t.Parallel()
	rdb := presencetest.Client(t)
	for name, o := range map[string]presence.Options{
		"brace in prefix":  {Prefix: "a{b"},
		"negative wrap-up": {WrapUp: -time.Second},
		"negative cap":     {MaxNoAnswer: -1},
	} {
		if _, err := presence.New(rdb, o); !errors.Is(err, presence.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := presence.New(nil, presence.Options{}); !errors.Is(err, presence.ErrInvalid) {
		t.Errorf("nil client: %v, want ErrInvalid", err)
	}
	s, err := presence.New(rdb, presence.Options{})
	if err != nil || s.Prefix() != "stickyacd" {
		t.Fatalf("defaults: %v, %v", s, err)
	}
}

func TestNewClient(t *testing.T) {
	t.Parallel()
	if _, err := presence.NewClient(presence.ClientOptions{}); err == nil {
		t.Error("no address: no error")
	}
	if _, err := presence.NewClient(presence.ClientOptions{Addrs: []string{"a:1", "b:1"}, DB: 2}); err == nil {
		t.Error("cluster with a db: no error")
	}
	rdb, err := presence.NewClient(presence.ClientOptions{Addrs: []string{presencetest.Addr()}, DB: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", presencetest.Addr(), err)
	}
}

// TestReserveLargeGroup: a group larger than one MGET slice.
func TestReserveLargeGroup(t *testing.T) {
	t.Parallel()
	s := presencetest.New(t)
	ids := make([]string, 2500)
	for i := range ids {
		ids[i] = fmt.Sprintf("agent-%04d", i)
	}
	available(t, s, ids[len(ids)-1])
	r, err := s.Reserve(t.Context(), "c1", []routing.Group{group(routing.StepTeam, ids...)})
	if err != nil || r.AgentID != ids[len(ids)-1] || len(r.Skipped) != len(ids)-1 {
		t.Fatalf("got %s with %d skipped, %v", r.AgentID, len(r.Skipped), err)
	}
	for _, c := range r.Skipped {
		if c.Result != routing.ResultOffline {
			t.Fatalf("skipped %+v", c)
		}
	}
}
