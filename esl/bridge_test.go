package esl

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestOutcomeOf(t *testing.T) {
	t.Parallel()
	for disp, want := range map[string]BridgeOutcome{
		"SUCCESS":                  BridgeAnswered,
		"NO_ANSWER":                BridgeNoAnswer,
		"NO_USER_RESPONSE":         BridgeNoAnswer,
		"ALLOTTED_TIMEOUT":         BridgeNoAnswer,
		"USER_BUSY":                BridgeBusy,
		"CALL_REJECTED":            BridgeRejected,
		"USER_NOT_REGISTERED":      BridgeUnreachable,
		"SUBSCRIBER_ABSENT":        BridgeUnreachable,
		"NORMAL_TEMPORARY_FAILURE": BridgeUnreachable,
		"DESTINATION_OUT_OF_ORDER": BridgeUnreachable,
		"UNALLOCATED_NUMBER":       BridgeUnreachable,
		"NO_ROUTE_DESTINATION":     BridgeUnreachable,
		"RECOVERY_ON_TIMER_EXPIRE": BridgeUnreachable,
		"NETWORK_OUT_OF_ORDER":     BridgeUnreachable,
		"ORIGINATOR_CANCEL":        BridgeCallerGone,
		"":                         BridgeUnreachable,
	} {
		if got := outcomeOf(disp); got != want {
			t.Errorf("outcomeOf(%q) = %s, want %s", disp, got, want)
		}
	}
}

// bridgeScript says what FreeSWITCH does after a bridge is sent.
type bridgeScript struct {
	bridgeEvent bool     // a CHANNEL_BRIDGE for this attempt
	completion  []string // headers of the completion; nil: none
	hangup      bool     // CHANNEL_HANGUP of the caller
	reversed    bool     // deliver in reverse order
}

// bridgeSession answers each bridge with the next script, delivering its
// events concurrently.
func bridgeSession(t *testing.T, scripts ...bridgeScript) (*Session, *fakeConn, *sync.WaitGroup) {
	t.Helper()
	var s *Session
	var wg sync.WaitGroup
	seq := 100
	s, f := newTestSession(t, func(_ context.Context, c sent) (string, error) {
		if c.app() != "bridge" {
			return "+OK", nil
		}
		sc := scripts[0]
		scripts = scripts[1:]
		seq += 10
		var evs []Event
		if sc.bridgeEvent {
			evs = append(evs, ev("CHANNEL_BRIDGE", "Event-Sequence", itoa(seq+1), "Other-Leg-Unique-ID", "leg-"+itoa(seq),
				"Event-Date-Timestamp", "1796036648467929"))
		}
		if sc.hangup {
			evs = append(evs, ev("CHANNEL_HANGUP", "Event-Sequence", itoa(seq+2), "Hangup-Cause", "NORMAL_CLEARING"))
		}
		if sc.completion != nil {
			kv := append([]string{"Other-Leg-Unique-ID", "leg-" + itoa(seq)}, sc.completion...)
			evs = append(evs, complete(c, seq+3, kv...))
		}
		if sc.reversed {
			for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
				evs[i], evs[j] = evs[j], evs[i]
			}
			for _, e := range evs {
				s.deliver(e)
			}
			return "+OK", nil
		}
		for _, e := range evs {
			wg.Go(func() { s.deliver(e) })
		}
		return "+OK", nil
	})
	return s, f, &wg
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestBridgeOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		script      bridgeScript
		want        BridgeOutcome
		wantErr     error
		wantAnswers int
		wantCause   string
	}{
		{"answered", bridgeScript{bridgeEvent: true, completion: []string{"variable_originate_disposition", "SUCCESS", "variable_bridge_hangup_cause", "NORMAL_CLEARING"}}, BridgeAnswered, nil, 1, "NORMAL_CLEARING"},
		{"answered, completion first", bridgeScript{bridgeEvent: true, reversed: true, completion: []string{"variable_originate_disposition", "SUCCESS"}}, BridgeAnswered, nil, 1, ""},
		{"answered, no bridge event", bridgeScript{completion: []string{"variable_originate_disposition", "SUCCESS"}}, BridgeAnswered, nil, 1, ""},
		{"busy", bridgeScript{completion: []string{"variable_originate_disposition", "USER_BUSY", "variable_originate_failed_cause", "USER_BUSY"}}, BridgeBusy, nil, 0, "USER_BUSY"},
		{"no answer", bridgeScript{completion: []string{"variable_originate_disposition", "NO_ANSWER"}}, BridgeNoAnswer, nil, 0, ""},
		{"rejected", bridgeScript{completion: []string{"variable_originate_disposition", "CALL_REJECTED"}}, BridgeRejected, nil, 0, ""},
		{"unreachable", bridgeScript{completion: []string{"variable_originate_disposition", "NORMAL_TEMPORARY_FAILURE"}}, BridgeUnreachable, nil, 0, ""},
		{"not registered", bridgeScript{completion: []string{"variable_originate_disposition", "USER_NOT_REGISTERED"}}, BridgeUnreachable, nil, 0, ""},
		{"dialstatus only", bridgeScript{completion: []string{"variable_DIALSTATUS", "BUSY"}}, BridgeBusy, nil, 0, ""},
		{"caller cancels while ringing", bridgeScript{hangup: true, completion: []string{"variable_originate_disposition", "ORIGINATOR_CANCEL", "Answer-State", "hangup"}}, BridgeCallerGone, ErrHangup, 0, ""},
		{"the phone answers 487, the caller stays", bridgeScript{completion: []string{"variable_originate_disposition", "ORIGINATOR_CANCEL"}}, BridgeRejected, nil, 0, ""},
		{"caller hangs up, stale disposition", bridgeScript{hangup: true, completion: []string{"variable_originate_disposition", "NO_ANSWER", "Answer-State", "hangup"}}, BridgeCallerGone, ErrHangup, 0, ""},
		{"caller hangs up during the conversation", bridgeScript{bridgeEvent: true, hangup: true, completion: []string{"variable_originate_disposition", "SUCCESS", "Answer-State", "hangup", "variable_bridge_hangup_cause", "NORMAL_CLEARING"}}, BridgeAnswered, nil, 1, "NORMAL_CLEARING"},
		{"caller hangs up, no completion, answered", bridgeScript{bridgeEvent: true, hangup: true}, BridgeAnswered, nil, 1, ""},
		{"caller hangs up, no completion", bridgeScript{hangup: true}, BridgeCallerGone, ErrHangup, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s, _, wg := bridgeSession(t, tc.script)
				answers := 0
				res, err := s.Bridge(t.Context(), BridgeOptions{Target: "user/2001", RingTimeout: 15 * time.Second, OnAnswer: func() { answers++ }})
				wg.Wait()
				if res.Outcome != tc.want || !errors.Is(err, tc.wantErr) {
					t.Fatalf("Bridge = %+v, %v; want %s, %v", res, err, tc.want, tc.wantErr)
				}
				if answers != tc.wantAnswers {
					t.Errorf("OnAnswer called %d times, want %d", answers, tc.wantAnswers)
				}
				if tc.want == BridgeAnswered && (res.AnsweredAt.IsZero() || res.OtherUUID == "") {
					t.Errorf("answered result lacks details: %+v", res)
				}
				if res.HangupCause != tc.wantCause {
					t.Errorf("HangupCause = %q, want %q", res.HangupCause, tc.wantCause)
				}
				if res.EndedAt.IsZero() {
					t.Error("EndedAt not set")
				}
			})
		})
	}
}

func TestBridgeCommands(t *testing.T) {
	t.Parallel()
	s, f, wg := bridgeSession(t,
		bridgeScript{completion: []string{"variable_originate_disposition", "USER_BUSY"}},
		bridgeScript{completion: []string{"variable_originate_disposition", "NO_ANSWER"}},
		bridgeScript{completion: []string{"variable_originate_disposition", "NO_ANSWER"}},
	)
	opts := BridgeOptions{
		Target:      "user/2001",
		Vars:        map[string]string{"sip_h_X-Stickyacd-Customer": "K01", "sip_h_X-Stickyacd-Step": "011"},
		RingTimeout: 15 * time.Second,
		CallerVars:  map[string]string{"ringback": "%(2000,4000,440,480)"},
	}
	if err := s.subscribe(nil); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.cmds = nil
	f.mu.Unlock()
	for range 2 {
		if _, err := s.Bridge(t.Context(), opts); err != nil {
			t.Fatal(err)
		}
	}
	opts.CallerVars = map[string]string{"ringback": "it's ringing"}
	if _, err := s.Bridge(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	var got []string
	for _, c := range f.sent() {
		got = append(got, c.app()+" "+c.arg())
	}
	dial := "bridge {call_timeout=15,originate_timeout=15,sip_h_X-Stickyacd-Customer=K01,sip_h_X-Stickyacd-Step=011}user/2001"
	want := []string{
		"multiset ^^|ringback=%(2000,4000,440,480)",
		dial,
		dial,
		"set ringback=it's ringing",
		dial,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestBridgeIgnoresStaleBridgeEvent: the CHANNEL_BRIDGE of an earlier,
// answered attempt is handled late, during the next attempt.
func TestBridgeIgnoresStaleBridgeEvent(t *testing.T) {
	t.Parallel()
	var s *Session
	attempt := 0
	stale := make(chan Event, 1)
	s, _ = newTestSession(t, func(_ context.Context, c sent) (string, error) {
		if c.app() != "bridge" {
			return "+OK", nil
		}
		attempt++
		switch attempt {
		case 1:
			stale <- ev("CHANNEL_BRIDGE", "Event-Sequence", "11", "Other-Leg-Unique-ID", "leg-1")
			s.deliver(complete(c, 13, "variable_originate_disposition", "SUCCESS", "Other-Leg-Unique-ID", "leg-1"))
		case 2:
			s.deliver(<-stale)
			s.deliver(complete(c, 23, "variable_originate_disposition", "NO_ANSWER"))
		}
		return "+OK", nil
	})
	first, err := s.Bridge(t.Context(), BridgeOptions{Target: "user/2001"})
	if err != nil || first.Outcome != BridgeAnswered {
		t.Fatalf("first = %+v, %v", first, err)
	}
	answers := 0
	second, err := s.Bridge(t.Context(), BridgeOptions{Target: "user/2002", OnAnswer: func() { answers++ }})
	if err != nil || second.Outcome != BridgeNoAnswer || answers != 0 || !second.AnsweredAt.IsZero() {
		t.Fatalf("second = %+v, %v, %d answers", second, err, answers)
	}
}

func TestBridgeInvalidOptions(t *testing.T) {
	t.Parallel()
	s, f := newTestSession(t, nil)
	for _, o := range []BridgeOptions{
		{Target: ""},
		{Target: `user\2001`},
		{Target: "{a=b}user/2001"},
		{Target: "user/2001", Vars: map[string]string{"bad name": "x"}},
		{Target: "user/2001", Vars: map[string]string{"a": "x}y"}},
		{Target: "user/2001", Vars: map[string]string{"a": "x\ny"}},
		{Target: "user/2001", Vars: map[string]string{"a": "x:_:y"}},
		{Target: "user/2001", CallerVars: map[string]string{"bad name": "x"}},
	} {
		if _, err := s.Bridge(t.Context(), o); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Bridge(%+v) = %v, want ErrInvalidArgument", o, err)
		}
	}
	if n := len(f.sent()); n != 0 {
		t.Errorf("%d commands sent for invalid options", n)
	}
}

func TestBridgeAfterHangup(t *testing.T) {
	t.Parallel()
	s, f := newTestSession(t, nil)
	s.deliver(ev("CHANNEL_HANGUP", "Hangup-Cause", "NORMAL_CLEARING"))
	res, err := s.Bridge(t.Context(), BridgeOptions{Target: "user/2001"})
	if !errors.Is(err, ErrHangup) || res.Outcome != BridgeCallerGone {
		t.Fatalf("Bridge = %+v, %v", res, err)
	}
	if len(f.sent()) != 0 {
		t.Error("commands sent after hang-up")
	}
}
