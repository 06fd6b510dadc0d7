//go:build !race

// Run without -race (eslgo v1.5.0 races internally):
//
//	go test -count=1 ./esl/internal/eslgotest/
package eslgotest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/esl"
	"github.com/stickyacd/stickyacd/esl/fstest"
)

func TestBridgeOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		endpoint    *fstest.Endpoint // nil: none set (user/ → USER_NOT_REGISTERED)
		spec        fstest.CallSpec
		want        esl.BridgeOutcome
		wantErr     error
		wantAnswers int32
	}{
		{"answered, agent hangs up", &fstest.Endpoint{Answer: true, RingFor: time.Second, TalkFor: 2 * time.Second}, fstest.CallSpec{}, esl.BridgeAnswered, nil, 1},
		{"no answer", ptr(fstest.NoAnswer()), fstest.CallSpec{}, esl.BridgeNoAnswer, nil, 0},
		{"busy", ptr(fstest.Busy()), fstest.CallSpec{}, esl.BridgeBusy, nil, 0},
		{"rejected", ptr(fstest.Rejects()), fstest.CallSpec{}, esl.BridgeRejected, nil, 0},
		{"unreachable", ptr(fstest.Unreachable()), fstest.CallSpec{}, esl.BridgeUnreachable, nil, 0},
		{"not registered", nil, fstest.CallSpec{}, esl.BridgeUnreachable, nil, 0},
		{"caller hangs up while ringing", ptr(fstest.NoAnswer()), fstest.CallSpec{HangupOnApp: "bridge"}, esl.BridgeCallerGone, esl.ErrHangup, 0},
		{"caller hangs up in the conversation", &fstest.Endpoint{Answer: true, RingFor: time.Second}, fstest.CallSpec{HangupAfter: 5 * time.Second}, esl.BridgeAnswered, nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var answers atomic.Int32
			got := make(chan esl.BridgeResult, 1)
			gotErr := make(chan error, 1)
			hs := start(t, esl.ServerOptions{}, func(ctx context.Context, s *esl.Session) {
				if err := s.Answer(ctx); err != nil {
					gotErr <- err
					return
				}
				res, err := s.Bridge(ctx, esl.BridgeOptions{
					Target:      "user/2001",
					Vars:        map[string]string{"sip_h_X-Stickyacd-Customer": "K01", "sip_h_X-Stickyacd-Step": "011"},
					RingTimeout: 5 * time.Second,
					CallerVars:  map[string]string{"ringback": "%(2000,4000,440,480)"},
					OnAnswer:    func() { answers.Add(1) },
				})
				got <- res
				gotErr <- err
				if err == nil {
					_ = s.Hangup(ctx, "")
				}
			}, fstest.Options{})
			if tc.endpoint != nil {
				hs.fs.SetEndpoint("user/2001", *tc.endpoint)
			}
			tc.spec.Caller = "2000"
			call := hs.call(t, tc.spec)
			res, err := <-got, <-gotErr
			if res.Outcome != tc.want || !errIs(err, tc.wantErr) {
				t.Fatalf("Bridge = %+v, %v; want %s, %v", res, err, tc.want, tc.wantErr)
			}
			if n := answers.Load(); n != tc.wantAnswers {
				t.Errorf("OnAnswer called %d times, want %d", n, tc.wantAnswers)
			}
			if tc.want == esl.BridgeAnswered && (res.AnsweredAt.IsZero() || res.OtherUUID == "" || res.EndedAt.Before(res.AnsweredAt)) {
				t.Errorf("answered result %+v", res)
			}
			if len(call.Bridges) != 1 {
				t.Fatalf("bridges = %+v", call.Bridges)
			}
			b := call.Bridges[0]
			if b.Vars["sip_h_X-Stickyacd-Customer"] != "K01" || b.Vars["call_timeout"] != "5" || b.Target != "user/2001" {
				t.Errorf("bridge attempt %+v", b)
			}
			if tc.want != esl.BridgeCallerGone && res.Disposition != b.Disposition {
				t.Errorf("disposition %q, emulator says %q", res.Disposition, b.Disposition)
			}
		})
	}
}

// TestBridgeChain tries several agents in one call, as routing does: the
// variables of earlier attempts stay on the channel and must not leak into
// later results.
func TestBridgeChain(t *testing.T) {
	t.Parallel()
	var outcomes []esl.BridgeOutcome
	done := make(chan error, 1)
	hs := start(t, esl.ServerOptions{}, func(ctx context.Context, s *esl.Session) {
		if err := s.Answer(ctx); err != nil {
			done <- err
			return
		}
		for _, target := range []string{"user/2001", "user/2002", "user/2003", "user/2004", "user/2005"} {
			res, err := s.Bridge(ctx, esl.BridgeOptions{Target: target, RingTimeout: 2 * time.Second})
			if err != nil {
				done <- err
				return
			}
			outcomes = append(outcomes, res.Outcome)
		}
		done <- nil
	}, fstest.Options{})
	hs.fs.SetEndpoint("user/2001", fstest.Busy())
	hs.fs.SetEndpoint("user/2002", fstest.Answers(time.Second))
	hs.fs.SetEndpoint("user/2002", fstest.Endpoint{Answer: true, RingFor: time.Second, TalkFor: time.Second})
	hs.fs.SetEndpoint("user/2003", fstest.NoAnswer())
	hs.fs.SetEndpoint("user/2004", fstest.Rejects())
	hs.call(t, fstest.CallSpec{Caller: "2000"})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []esl.BridgeOutcome{esl.BridgeBusy, esl.BridgeAnswered, esl.BridgeNoAnswer, esl.BridgeRejected, esl.BridgeUnreachable}
	if len(outcomes) != len(want) {
		t.Fatalf("outcomes %v, want %v", outcomes, want)
	}
	for i := range want {
		if outcomes[i] != want[i] {
			t.Errorf("attempt %d: %s, want %s", i+1, outcomes[i], want[i])
		}
	}
}

func TestBridgeInvalidTarget(t *testing.T) {
	t.Parallel()
	done := make(chan error, 1)
	hs := start(t, esl.ServerOptions{}, func(ctx context.Context, s *esl.Session) {
		_, err := s.Bridge(ctx, esl.BridgeOptions{Target: "user/2001", Vars: map[string]string{"a": "{"}})
		done <- err
	}, fstest.Options{})
	hs.call(t, fstest.CallSpec{Caller: "2000"})
	if err := <-done; !errors.Is(err, esl.ErrInvalidArgument) {
		t.Fatalf("Bridge = %v, want ErrInvalidArgument", err)
	}
}

func ptr[T any](v T) *T { return &v }

// The session is set up while the handler already runs: a handler that
// bridges at once waits for the set-up on the wire, and neither blocks the
// other (a Bridge holds its own lock while it waits for the set-up's).
func TestBridgeAtOnceOverlapsSetUp(t *testing.T) {
	t.Parallel()
	hs := start(t, esl.ServerOptions{}, func(ctx context.Context, s *esl.Session) {
		res, err := s.Bridge(ctx, esl.BridgeOptions{Target: "user/2001", RingTimeout: 5 * time.Second, CallerVars: map[string]string{"ringback": "%(2000,4000,440,480)"}})
		if err != nil || res.Outcome != esl.BridgeBusy {
			s.Logger().Error("bridge at once", "outcome", res.Outcome, "err", err)
		}
		_ = s.Hangup(ctx, "NORMAL_CLEARING")
	}, fstest.Options{})
	hs.fs.SetEndpoint("user/2001", fstest.Busy())
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Go(func() {
			res := hs.call(t, fstest.CallSpec{Caller: "2000"})
			first := slices.Index(res.Commands, "sendmsg")
			for i, c := range res.Commands {
				setUp := c == "myevents plain" || c == "linger" || strings.HasPrefix(c, "filter ") || strings.HasPrefix(c, "api uuid_setvar")
				if setUp && (first < 0 || i > first) {
					t.Errorf("commands %q: the set-up must come before the first execution", res.Commands)
					break
				}
			}
		})
	}
	wg.Wait()
	if strings.Contains(hs.logs.String(), "bridge at once") {
		t.Errorf("a bridge failed:\n%s", hs.logs.String())
	}
}
