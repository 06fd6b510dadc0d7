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
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/esl"
	"github.com/stickyacd/stickyacd/esl/fstest"
)

func TestHelpers(t *testing.T) {
	t.Parallel()
	got := &results{}
	hs := start(t, esl.ServerOptions{}, func(ctx context.Context, s *esl.Session) {
		got.add("caller "+s.CallerNumber()+" "+s.CallerName()+" "+s.Destination()+" "+s.Var("stickyacd_action"), nil)
		got.add("answer", s.Answer(ctx))
		got.add("playback", s.Playback(ctx, "tone_stream://%(200,0,440)"))
		got.add("set", s.Set(ctx, "my_var", "hello world & 100%"))
		got.add("export", s.Export(ctx, "sip_h_X-Test", "a b"))
		ev, err := s.Execute(ctx, "playback", "welcome.wav")
		got.add("execute "+ev.Get("Application-Response"), err)
		d, err := s.PlayAndGetDigits(ctx, esl.PlayAndGetDigits{Min: 1, Max: 18, Tries: 3, Timeout: 5 * time.Second, Prompt: "enter.wav", Var: "id_digits", Regexp: `^\d+$`})
		got.add("digits "+d, err)
		got.add("hangup", s.Hangup(ctx, "NORMAL_CLEARING"))
		select {
		case <-s.Done():
			got.add("done", nil)
		case <-time.After(5 * time.Second):
			got.add("done", errors.New("Done not closed after Hangup"))
		}
		got.add("after hangup", s.Answer(ctx))
	}, fstest.Options{})
	res := hs.call(t, fstest.CallSpec{Caller: "13800138000", CallerName: "Wang", Input: []string{"123#"}, Vars: map[string]string{"stickyacd_action": "login"}})

	vals, errs := got.get()
	want := []struct {
		val string
		err error
	}{
		{"caller 13800138000 Wang 9000 login", nil},
		{"answer", nil}, {"playback", nil}, {"set", nil}, {"export", nil},
		{"execute FILE PLAYED", nil}, {"digits 123", nil}, {"hangup", nil}, {"done", nil},
		{"after hangup", esl.ErrHangup},
	}
	if len(vals) != len(want) {
		t.Fatalf("handler saw %q %v", vals, errs)
	}
	for i, w := range want {
		if vals[i] != w.val || !errIs(errs[i], w.err) {
			t.Errorf("step %d: %q, %v; want %q, %v", i, vals[i], errs[i], w.val, w.err)
		}
	}
	if res.HungUpBy != "app" || res.HangupCause != "NORMAL_CLEARING" || !res.Answered {
		t.Errorf("call result %+v", res)
	}
	if got := appNames(res); got != "answer playback set export playback play_and_get_digits" {
		t.Errorf("apps = %s", got)
	}
	// The set-up is one batch: its commands come in any order.
	setup := slices.Clone(res.Commands[:min(len(res.Commands), 9)])
	slices.Sort(setup)
	want0 := []string{
		"api uuid_setvar " + res.UUID + " continue_on_fail true", "api uuid_setvar " + res.UUID + " hangup_after_bridge false",
		"connect", "filter Event-Name CHANNEL_BRIDGE", "filter Event-Name CHANNEL_EXECUTE_COMPLETE", "filter Event-Name CHANNEL_HANGUP",
		"linger", "myevents plain", "sendmsg",
	}
	if strings.Join(setup, "|") != strings.Join(want0, "|") {
		t.Errorf("commands = %q", res.Commands)
	}
	for _, a := range res.Apps {
		if a.Name == "set" && a.Arg != "my_var=hello world & 100%" {
			t.Errorf("set arg = %q", a.Arg)
		}
	}
}

func TestPlayAndGetDigitsOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		input   []string
		want    string
		wantErr error
	}{
		{"success", []string{"3456#"}, "3456", nil},
		{"no input", nil, "", esl.ErrNoInput},
		{"invalid then valid", []string{"12#", "345#"}, "345", nil},
		{"all invalid", []string{"12#", "12#", "12#"}, "", esl.ErrInvalidInput},
		{"invalid then silence", []string{"12#", "", ""}, "", esl.ErrInvalidInput},
		{"caller hangs up mid-prompt", []string{fstest.HangUp}, "", esl.ErrHangup},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := &results{}
			hs := start(t, esl.ServerOptions{}, func(ctx context.Context, s *esl.Session) {
				if err := s.Answer(ctx); err != nil {
					got.add("answer", err)
					return
				}
				d, err := s.PlayAndGetDigits(ctx, esl.PlayAndGetDigits{Min: 1, Max: 18, Tries: 3, Timeout: 5 * time.Second, Prompt: "tone_stream://%(100,0,600)", Var: "id_digits", Regexp: `^3\d*$`})
				got.add(d, err)
				// A second collection into the same variable must not see
				// the first one's leftovers.
				if errors.Is(err, esl.ErrInvalidInput) {
					d, err = s.PlayAndGetDigits(ctx, esl.PlayAndGetDigits{Min: 1, Max: 18, Tries: 1, Timeout: time.Second, Prompt: "x.wav", Var: "id_digits", Regexp: `^3\d*$`})
					got.add(d, err)
				}
			}, fstest.Options{})
			hs.call(t, fstest.CallSpec{Caller: "2000", Input: tc.input})
			vals, errs := got.get()
			if len(vals) == 0 || vals[0] != tc.want || !errIs(errs[0], tc.wantErr) {
				t.Fatalf("PlayAndGetDigits = %q, %v; want %q, %v", vals, errs, tc.want, tc.wantErr)
			}
			if errors.Is(tc.wantErr, esl.ErrInvalidInput) && (len(errs) < 2 || !errors.Is(errs[1], esl.ErrNoInput)) {
				t.Errorf("silent second collection = %v, want ErrNoInput", errs)
			}
		})
	}
}

func TestCallerHangsUpMidPrompt(t *testing.T) {
	t.Parallel()
	got := &results{}
	hs := start(t, esl.ServerOptions{}, func(ctx context.Context, s *esl.Session) {
		got.add("answer", s.Answer(ctx))
		got.add("playback", s.Playback(ctx, "tone_stream://%(100000,0,440)"))
		select {
		case <-s.Done():
			got.add("done "+s.HangupCause(), nil)
		default:
			got.add("done", errors.New("Done not closed"))
		}
	}, fstest.Options{})
	res := hs.call(t, fstest.CallSpec{Caller: "2000", HangupAfter: 2 * time.Second})
	vals, errs := got.get()
	if len(vals) != 3 || errs[0] != nil || !errors.Is(errs[1], esl.ErrHangup) || vals[2] != "done NORMAL_CLEARING" || errs[2] != nil {
		t.Fatalf("handler saw %q %v", vals, errs)
	}
	if res.HungUpBy != "caller" {
		t.Errorf("hung up by %s", res.HungUpBy)
	}
}

func TestHandlerReturnResumesDialplan(t *testing.T) {
	t.Parallel()
	hs := start(t, esl.ServerOptions{}, func(ctx context.Context, s *esl.Session) {
		_ = s.Answer(ctx)
	}, fstest.Options{})
	res := hs.call(t, fstest.CallSpec{Caller: "2000"})
	if !res.Resumed {
		t.Errorf("dialplan not resumed: %+v", res)
	}
}

func TestCloseResumesDialplan(t *testing.T) {
	t.Parallel()
	hs := start(t, esl.ServerOptions{}, func(ctx context.Context, s *esl.Session) {
		s.Close()
		if _, err := s.Execute(ctx, "answer", ""); !errors.Is(err, esl.ErrClosed) {
			s.Logger().Error("execute after close", "err", err)
		}
	}, fstest.Options{})
	res := hs.call(t, fstest.CallSpec{Caller: "2000"})
	if !res.Resumed || res.Answered {
		t.Errorf("result %+v", res)
	}
	if strings.Contains(hs.logs.String(), "execute after close") {
		t.Error("Execute after Close did not return ErrClosed")
	}
}

func TestHangupWhileAppRuns(t *testing.T) {
	t.Parallel()
	got := &results{}
	hs := start(t, esl.ServerOptions{}, func(ctx context.Context, s *esl.Session) {
		_ = s.Answer(ctx)
		hungUp := make(chan struct{})
		go func() {
			defer close(hungUp)
			time.Sleep(50 * time.Millisecond)
			got.add("hangup", s.Hangup(context.Background(), "CALL_REJECTED"))
		}()
		got.add("playback", s.Playback(ctx, "tone_stream://%(1000000,0,440)"))
		// The playback may learn of the hang-up before uuid_kill's reply is
		// read; returning closes the session and would cut that reply off.
		<-hungUp
	}, fstest.Options{})
	res := hs.call(t, fstest.CallSpec{Caller: "2000"})
	vals, errs := got.get()
	seen := map[string]error{}
	for i, v := range vals {
		seen[v] = errs[i]
	}
	if len(seen) != 2 || seen["hangup"] != nil || !errors.Is(seen["playback"], esl.ErrHangup) {
		t.Fatalf("handler saw %q %v", vals, errs)
	}
	if res.HangupCause != "CALL_REJECTED" || res.HungUpBy != "app" {
		t.Errorf("result %+v", res)
	}
}
