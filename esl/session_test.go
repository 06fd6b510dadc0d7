package esl

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestSessionChannelData(t *testing.T) {
	t.Parallel()
	s, _ := newTestSession(t, nil)
	for _, tc := range []struct{ name, got, want string }{
		{"uuid", s.UUID(), testUUID},
		{"caller number", s.CallerNumber(), "13800138000"},
		{"caller name", s.CallerName(), "Caller 1"},
		{"destination", s.Destination(), "9000"},
		{"var", s.Var("stickyacd_action"), "login"},
		{"missing var", s.Var("nope"), ""},
		{"remote", s.RemoteAddr(), "127.0.0.1:5000"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestSubscribeIsOneBatch(t *testing.T) {
	t.Parallel()
	s, f := newTestSession(t, nil)
	if err := s.subscribe(map[string]string{"ringback": "%(2000,4000,440,480)", "a": "x y"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range f.sent() {
		got = append(got, c.line)
	}
	slices.Sort(got)
	want := []string{
		"api uuid_setvar " + testUUID + ` a x\sy`,
		"api uuid_setvar " + testUUID + " continue_on_fail true",
		"api uuid_setvar " + testUUID + " hangup_after_bridge false",
		"api uuid_setvar " + testUUID + " ringback %(2000,4000,440,480)",
		"filter Event-Name CHANNEL_BRIDGE",
		"filter Event-Name CHANNEL_EXECUTE_COMPLETE",
		"filter Event-Name CHANNEL_HANGUP",
		"linger",
		"myevents plain",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSubscribeFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		reply   string
		wantErr error
	}{
		{"error reply", nil, "-ERR invalid", ErrFailed},
		{"bad variable", map[string]string{"a b": "x"}, "+OK", ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newTestSession(t, func(_ context.Context, c sent) (string, error) {
				if strings.HasPrefix(c.line, "filter") {
					return tc.reply, nil
				}
				return "+OK", nil
			})
			if err := s.subscribe(tc.vars); !errors.Is(err, tc.wantErr) {
				t.Fatalf("subscribe = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestExecuteMatchesItsCompletion delivers, in parallel and so in any order,
// completions of other executions and other events around the right one.
func TestExecuteMatchesItsCompletion(t *testing.T) {
	t.Parallel()
	var s *Session
	var wg sync.WaitGroup
	s, f := newTestSession(t, func(_ context.Context, c sent) (string, error) {
		for _, e := range []Event{
			ev("CHANNEL_EXECUTE_COMPLETE", "Application-UUID", "someone-else", "Application-Response", "wrong"),
			ev("CHANNEL_EXECUTE_COMPLETE", "Application", "socket", "Application-UUID", "socket-app"),
			ev("CHANNEL_BRIDGE", "Unique-ID", "other-channel"),
			complete(c, 10, "Application-Response", "right"),
			ev("CHANNEL_ANSWER"),
		} {
			wg.Go(func() { s.deliver(e) })
		}
		return "+OK", nil
	})
	got, err := s.Execute(t.Context(), "answer", "")
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if r := got.Get("Application-Response"); r != "right" {
		t.Errorf("Application-Response = %q, want right", r)
	}
	cmds := f.sent()
	if len(cmds) != 1 || cmds[0].app() != "answer" || cmds[0].headers["event-lock"] != "true" || cmds[0].eventUUID == "" {
		t.Errorf("sent %+v", cmds)
	}
}

func TestExecuteHangup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		completion bool // the completion comes after CHANNEL_HANGUP
		wantErr    error
	}{
		{"completion within grace", true, nil},
		{"no completion", false, ErrHangup},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var s *Session
				s, _ = newTestSession(t, func(_ context.Context, c sent) (string, error) {
					go func() {
						s.deliver(ev("CHANNEL_HANGUP", "Hangup-Cause", "NORMAL_CLEARING"))
						if tc.completion {
							time.Sleep(100 * time.Millisecond)
							s.deliver(complete(c, 20, "Answer-State", "hangup", "Hangup-Cause", "NORMAL_CLEARING"))
						}
					}()
					return "+OK", nil
				})
				_, err := s.Execute(t.Context(), "playback", "tone_stream://%(200,0,440)")
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Execute = %v, want %v", err, tc.wantErr)
				}
				select {
				case <-s.Done():
				default:
					t.Error("Done not closed after hang-up")
				}
				if c := s.HangupCause(); c != "NORMAL_CLEARING" {
					t.Errorf("HangupCause = %q", c)
				}
				if _, err := s.Execute(t.Context(), "answer", ""); !errors.Is(err, ErrHangup) {
					t.Errorf("Execute after hang-up = %v, want ErrHangup", err)
				}
				synctest.Wait()
			})
		})
	}
}

func TestExecuteHangupSeenOnlyInCompletion(t *testing.T) {
	t.Parallel()
	var s *Session
	s, _ = newTestSession(t, func(_ context.Context, c sent) (string, error) {
		s.deliver(complete(c, 5, "Answer-State", "hangup", "Application-Response", "FILE PLAYED"))
		return "+OK", nil
	})
	if err := s.Playback(t.Context(), "x.wav"); !errors.Is(err, ErrHangup) {
		t.Fatalf("Playback = %v, want ErrHangup", err)
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done not closed")
	}
}

func TestExecuteCompletionAfterContextCancel(t *testing.T) {
	t.Parallel()
	var s *Session
	var first sent
	ctx, cancel := context.WithCancel(t.Context())
	s, _ = newTestSession(t, func(_ context.Context, c sent) (string, error) {
		if first.eventUUID == "" {
			first = c
			cancel()
			return "+OK", nil
		}
		s.deliver(complete(c, 3))
		return "+OK", nil
	})
	if _, err := s.Execute(ctx, "playback", "a.wav"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute = %v, want context.Canceled", err)
	}
	// The completion of the abandoned execution comes late: nobody waits.
	s.deliver(complete(first, 2))
	if _, err := s.Execute(t.Context(), "playback", "b.wav"); err != nil {
		t.Fatalf("next Execute = %v", err)
	}
	s.mu.Lock()
	n := len(s.waiting)
	s.mu.Unlock()
	if n != 0 {
		t.Errorf("%d completions still awaited", n)
	}
}

func TestCommandTimeoutPoisonsSession(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := &fakeConn{respond: func(ctx context.Context, c sent) (string, error) {
			<-ctx.Done() // FreeSWITCH never replies
			return "", ctx.Err()
		}}
		var killed atomic.Value
		s := newSession(f, eventFromMap(map[string]string{"Unique-ID": testUUID}), "", sessionConfig{
			hangup: func(_ context.Context, uuid, cause string) error {
				killed.Store(uuid + " " + cause)
				return nil
			},
		})
		_, err := s.Execute(t.Context(), "answer", "")
		if !errors.Is(err, ErrPoisoned) {
			t.Fatalf("Execute = %v, want ErrPoisoned", err)
		}
		if !f.isClosed() {
			t.Error("connection not closed")
		}
		if k, _ := killed.Load().(string); k != testUUID+" NORMAL_TEMPORARY_FAILURE" {
			t.Errorf("hung up over the fresh path with %q", k)
		}
		select {
		case <-s.Done():
		default:
			t.Error("Done not closed")
		}
		n := len(f.sent())
		if _, err := s.Execute(t.Context(), "answer", ""); !errors.Is(err, ErrPoisoned) {
			t.Errorf("Execute after poison = %v, want ErrPoisoned", err)
		}
		if err := s.Hangup(t.Context(), ""); !errors.Is(err, ErrPoisoned) {
			t.Errorf("Hangup after poison = %v, want ErrPoisoned", err)
		}
		if len(f.sent()) != n {
			t.Error("commands sent on a poisoned session")
		}
	})
}

func TestCommandWaitIgnoresCallerContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var s *Session
		s, _ = newTestSession(t, func(replyCtx context.Context, c sent) (string, error) {
			cancel()
			time.Sleep(time.Second) // the reply is slow but within the command timeout
			if replyCtx.Err() != nil {
				return "", replyCtx.Err()
			}
			return "+OK", nil
		})
		_, err := s.Execute(ctx, "answer", "")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Execute = %v, want context.Canceled", err)
		}
		if st := s.snapshot(); st.poisoned || st.closed {
			t.Error("a cancelled caller poisoned the session")
		}
	})
}

func TestConnClosedEndsWaits(t *testing.T) {
	t.Parallel()
	var s *Session
	s, _ = newTestSession(t, func(_ context.Context, c sent) (string, error) {
		go s.connClosed()
		return "+OK", nil
	})
	if _, err := s.Execute(t.Context(), "answer", ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("Execute = %v, want ErrClosed", err)
	}
	if _, err := s.Execute(t.Context(), "answer", ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Execute = %v, want ErrClosed", err)
	}
}

func TestCloseClosesConnection(t *testing.T) {
	t.Parallel()
	s, f := newTestSession(t, nil)
	s.Close()
	if !f.isClosed() {
		t.Error("connection not closed")
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done not closed")
	}
}

func TestHangup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, cause, reply string
		wantCmd            string
		wantErr            error
	}{
		{"default cause", "", "+OK", "api uuid_kill " + testUUID + " NORMAL_CLEARING", nil},
		{"cause", "CALL_REJECTED", "+OK", "api uuid_kill " + testUUID + " CALL_REJECTED", nil},
		{"already gone", "", "-ERR No such channel!", "api uuid_kill " + testUUID + " NORMAL_CLEARING", nil},
		{"failure", "", "-ERR something", "api uuid_kill " + testUUID + " NORMAL_CLEARING", ErrFailed},
		{"bad cause", "x y", "", "", ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, f := newTestSession(t, func(context.Context, sent) (string, error) { return tc.reply, nil })
			err := s.Hangup(t.Context(), tc.cause)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Hangup = %v, want %v", err, tc.wantErr)
			}
			var got string
			if cmds := f.sent(); len(cmds) > 0 {
				got = cmds[0].line
			}
			if got != tc.wantCmd {
				t.Errorf("sent %q, want %q", got, tc.wantCmd)
			}
		})
	}
}

func TestPlayback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		response string
		wantErr  error
	}{
		{"FILE PLAYED", nil},
		{"FILE NOT FOUND", ErrFailed},
	} {
		t.Run(tc.response, func(t *testing.T) {
			t.Parallel()
			var s *Session
			s, f := newTestSession(t, func(_ context.Context, c sent) (string, error) {
				s.deliver(complete(c, 1, "Application-Response", tc.response))
				return "+OK", nil
			})
			err := s.Playback(t.Context(), "tone_stream://%(200,0,440)")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Playback = %v, want %v", err, tc.wantErr)
			}
			if c := f.sent()[0]; c.app() != "playback" || c.arg() != "tone_stream://%(200,0,440)" {
				t.Errorf("sent %+v", c)
			}
		})
	}
}

func TestPlayAndGetDigits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		vars    []string
		want    string
		wantErr error
	}{
		{"success", []string{"variable_id_digits", "123", "variable_read_result", "success"}, "123", nil},
		{"invalid then valid", []string{"variable_id_digits", "3", "variable_id_digits_invalid", "12", "variable_read_result", "success"}, "3", nil},
		{"timeout", []string{"variable_read_result", "failure"}, "", ErrNoInput},
		{"all invalid", []string{"variable_id_digits_invalid", "12", "variable_read_result", "failure"}, "", ErrInvalidInput},
		{"hang-up", []string{"variable_read_result", "failure", "Answer-State", "hangup", "Hangup-Cause", "NORMAL_CLEARING"}, "", ErrHangup},
		{"hang-up half-way through the digits", []string{"variable_id_digits", "110101", "variable_read_result", "failure", "Answer-State", "hangup", "Hangup-Cause", "NORMAL_CLEARING"}, "", ErrHangup},
		{"prompt file missing", []string{}, "", ErrPromptNotPlayed},
		{"hang-up after invalid", []string{"variable_id_digits_invalid", "12", "Answer-State", "hangup"}, "", ErrHangup},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s *Session
			s, f := newTestSession(t, func(_ context.Context, c sent) (string, error) {
				s.deliver(complete(c, 1, tc.vars...))
				return "+OK", nil
			})
			got, err := s.PlayAndGetDigits(t.Context(), PlayAndGetDigits{
				Min: 1, Max: 18, Tries: 3, Timeout: 5 * time.Second, Terminators: "#",
				Prompt: "tone_stream://%(100,0,600)", Var: "id_digits", Regexp: `\d+`,
			})
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Fatalf("PlayAndGetDigits = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
			want := `1 18 3 5000 # tone_stream://%(100,0,600) silence_stream://250 id_digits \d+ 5000`
			if c := f.sent()[0]; c.app() != "play_and_get_digits" || c.arg() != want {
				t.Errorf("sent %s %q, want %q", c.app(), c.arg(), want)
			}
		})
	}
}

func TestPlayAndGetDigitsDefaults(t *testing.T) {
	t.Parallel()
	arg, v, err := PlayAndGetDigits{Prompt: "menu.wav"}.arg()
	if err != nil {
		t.Fatal(err)
	}
	if want := "0 1 1 5000 # menu.wav silence_stream://250 stickyacd_digits .+ 5000"; arg != want || v != defaultDigitsVar {
		t.Errorf("arg = %q, %q; want %q", arg, v, want)
	}
	if _, _, err := (PlayAndGetDigits{Var: "bad var"}).arg(); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad var: %v", err)
	}
}

func TestSetAndExport(t *testing.T) {
	t.Parallel()
	var s *Session
	s, f := newTestSession(t, func(_ context.Context, c sent) (string, error) {
		s.deliver(complete(c, 1))
		return "+OK", nil
	})
	if err := s.Set(t.Context(), "my_var", "hello world & 100%"); err != nil {
		t.Fatal(err)
	}
	if err := s.Export(t.Context(), "sip_h_X-Test", "line1\nline2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(t.Context(), "bad=name", "x"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad name: %v", err)
	}
	cmds := f.sent()
	if cmds[0].app() != "set" || cmds[0].arg() != "my_var=hello world & 100%" {
		t.Errorf("set sent %+v", cmds[0])
	}
	if cmds[1].app() != "export" || cmds[1].body != "sip_h_X-Test=line1\nline2" || cmds[1].headers["content-type"] != "text/plain" {
		t.Errorf("export sent %+v", cmds[1])
	}
}

func TestExecuteCommandWire(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cmd  executeCommand
		want string
	}{
		{
			"captured dialect",
			executeCommand{App: "playback", Arg: "tone_stream://%(200,0,440)", EventUUID: "app-playback-1"},
			"sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: tone_stream://%(200,0,440)\nevent-lock: true\nEvent-UUID: app-playback-1",
		},
		{
			"no argument",
			executeCommand{App: "answer", EventUUID: "u"},
			"sendmsg\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true\nEvent-UUID: u",
		},
		{
			"body",
			executeCommand{App: "set", Arg: "a=1\n2", EventUUID: "u"},
			"sendmsg\ncall-command: execute\nexecute-app-name: set\nevent-lock: true\nEvent-UUID: u\ncontent-type: text/plain\ncontent-length: 5\n\na=1\n2",
		},
	} {
		if got := tc.cmd.BuildMessage(); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
	long := executeCommand{App: "set", Arg: strings.Repeat("x", maxHeaderArg+1)}.BuildMessage()
	if !strings.Contains(long, "content-length: 4097\n\n") {
		t.Error("a long argument is not sent as a body")
	}
}
