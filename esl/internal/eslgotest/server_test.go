//go:build !race

// Run without -race (eslgo v1.5.0 races internally):
//
//	go test -count=1 ./esl/internal/eslgotest/
package eslgotest

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/esl"
	"github.com/stickyacd/stickyacd/esl/fstest"
)

func TestPeerOutsideAllowlistRefused(t *testing.T) {
	t.Parallel()
	called := make(chan struct{}, 1)
	hs := start(t, esl.ServerOptions{Allow: loopback()}, func(ctx context.Context, s *esl.Session) {
		called <- struct{}{}
	}, fstest.Options{SourceAddr: "127.0.0.2"})
	res := hs.call(t, fstest.CallSpec{Caller: "2000"})
	if !res.Resumed {
		t.Errorf("dialplan fallback did not run: %+v", res)
	}
	if len(res.Commands) != 0 {
		t.Errorf("commands sent to a refused peer: %q", res.Commands)
	}
	select {
	case <-called:
		t.Error("handler called for a refused peer")
	default:
	}
	if !strings.Contains(hs.logs.String(), "127.0.0.2") {
		t.Errorf("refusal not logged with the address:\n%s", hs.logs.String())
	}
}

func TestSessionCap(t *testing.T) {
	t.Parallel()
	inCall := make(chan struct{})
	release := make(chan struct{})
	hs := start(t, esl.ServerOptions{MaxSessions: 1}, func(ctx context.Context, s *esl.Session) {
		close(inCall)
		<-release
	}, fstest.Options{})
	first := hs.begin(t, fstest.CallSpec{Caller: "2000"})
	<-inCall
	if n := hs.srv.Active(); n != 1 {
		t.Errorf("Active = %d, want 1", n)
	}
	second := hs.call(t, fstest.CallSpec{Caller: "2001"})
	if !second.Resumed || len(second.Commands) != 0 {
		t.Errorf("over-cap call not handed back at once: %+v", second)
	}
	close(release)
	if res := waitResult(t, first); !res.Resumed {
		t.Errorf("first call: %+v", res)
	}
	waitIdle(t, hs.srv)
	third := hs.call(t, fstest.CallSpec{Caller: "2002"})
	if len(third.Commands) == 0 {
		t.Error("a call after the cap freed up was not served")
	}
}

func TestDrainLetsCallsFinish(t *testing.T) {
	t.Parallel()
	inCall := make(chan struct{})
	release := make(chan struct{})
	finished := make(chan error, 1)
	hs := start(t, esl.ServerOptions{DrainTimeout: time.Minute}, func(ctx context.Context, s *esl.Session) {
		close(inCall)
		<-release
		finished <- s.Answer(ctx)
	}, fstest.Options{})
	first := hs.begin(t, fstest.CallSpec{Caller: "2000"})
	<-inCall
	hs.cancel()
	// The drain starts when Serve sees its context end: from then on new
	// calls are refused at once while the first one goes on.
	addr := hs.srv.Addr().String()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still taking connections 5 s after the drain began")
		}
		time.Sleep(5 * time.Millisecond)
	}
	late := hs.call(t, fstest.CallSpec{Caller: "2001"})
	if !late.Resumed || len(late.Commands) != 0 {
		t.Errorf("call during drain: %+v", late)
	}
	select {
	case err := <-hs.served:
		t.Fatalf("Serve returned %v with a call in progress", err)
	default:
	}
	close(release)
	if err := <-finished; err != nil {
		t.Errorf("call in progress during drain: %v", err)
	}
	if res := waitResult(t, first); !res.Answered {
		t.Errorf("first call: %+v", res)
	}
	hs.waitServed(t)
}

func TestDrainTimeoutClosesCalls(t *testing.T) {
	t.Parallel()
	inCall := make(chan struct{})
	hs := start(t, esl.ServerOptions{DrainTimeout: 200 * time.Millisecond}, func(ctx context.Context, s *esl.Session) {
		close(inCall)
		<-ctx.Done()
		<-s.Done()
	}, fstest.Options{})
	call := hs.begin(t, fstest.CallSpec{Caller: "2000"})
	<-inCall
	hs.cancel()
	hs.waitServed(t)
	if res := waitResult(t, call); !res.Resumed {
		t.Errorf("call left at drain timeout: %+v", res)
	}
	if !strings.Contains(hs.logs.String(), "drain timed out") {
		t.Error("drain timeout not logged")
	}
}

func TestPanicInHandlerIsContained(t *testing.T) {
	t.Parallel()
	hs := start(t, esl.ServerOptions{}, func(ctx context.Context, s *esl.Session) {
		if s.CallerNumber() == "666" {
			panic("boom")
		}
		_ = s.Answer(ctx)
	}, fstest.Options{})
	bad := hs.call(t, fstest.CallSpec{Caller: "666"})
	if !bad.Resumed {
		t.Errorf("panicked call not handed back to the dialplan: %+v", bad)
	}
	good := hs.call(t, fstest.CallSpec{Caller: "2000"})
	if !good.Answered {
		t.Errorf("server did not serve after a panic: %+v", good)
	}
	logs := hs.logs.String()
	if !strings.Contains(logs, "panic in call handler") || !strings.Contains(logs, "goroutine") {
		t.Errorf("panic not logged with its stack:\n%s", logs)
	}
}

func TestMaxCallDuration(t *testing.T) {
	t.Parallel()
	ended := make(chan error, 1)
	hs := start(t, esl.ServerOptions{MaxCallDuration: 300 * time.Millisecond}, func(ctx context.Context, s *esl.Session) {
		_ = s.Answer(ctx)
		<-ctx.Done()
		ended <- context.Cause(ctx)
	}, fstest.Options{})
	res := hs.call(t, fstest.CallSpec{Caller: "2000"})
	if res.HangupCause != "ALLOTTED_TIMEOUT" {
		t.Errorf("result %+v", res)
	}
	if err := <-ended; err == nil {
		t.Error("handler context did not end")
	}
}

// TestFreeSWITCHClosesWithoutNotice uses a scripted peer: it answers the
// session's set-up, then drops TCP while an application runs, without a
// disconnect notice. eslgo never reports that; the session must.
func TestFreeSWITCHClosesWithoutNotice(t *testing.T) {
	t.Parallel()
	got := make(chan error, 2)
	hs := start(t, esl.ServerOptions{}, func(ctx context.Context, s *esl.Session) {
		_, err := s.Execute(ctx, "playback", "long.wav")
		got <- err
		select {
		case <-s.Done():
			got <- nil
		case <-time.After(5 * time.Second):
			got <- errors.New("Done not closed")
		}
	}, fstest.Options{})
	c, err := net.Dial("tcp", hs.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	readCommand := func() string {
		var lines []string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read command: %v", err)
			}
			line = strings.TrimRight(line, "\r\n")
			if line == "" {
				if len(lines) == 0 {
					continue
				}
				return lines[0]
			}
			lines = append(lines, line)
		}
	}
	reply := func(text string) {
		if _, err := c.Write([]byte("Content-Type: command/reply\nReply-Text: " + text + "\n\n")); err != nil {
			t.Fatal(err)
		}
	}
	if cmd := readCommand(); cmd != "connect" {
		t.Fatalf("first command %q", cmd)
	}
	_, _ = c.Write([]byte("Event-Name: CHANNEL_DATA\nUnique-ID: 0b0e1d6c-0000-4000-8000-000000000001\nCaller-Caller-ID-Number: 2000\nContent-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n"))
	for {
		cmd := readCommand()
		reply("+OK")
		if cmd == "sendmsg" {
			break
		}
	}
	_ = c.Close()
	if err := <-got; !errors.Is(err, esl.ErrClosed) {
		t.Errorf("Execute = %v, want ErrClosed", err)
	}
	if err := <-got; err != nil {
		t.Error(err)
	}
	waitIdle(t, hs.srv)
}

// waitIdle waits until the server has no connection left: a slot is free
// only once both sides of its proxy are closed.
func waitIdle(t *testing.T, srv *esl.Server) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); srv.Active() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Active = %d, want 0", srv.Active())
		}
	}
}

func TestServeReturnsWhenListenerDies(t *testing.T) {
	t.Parallel()
	srv, err := esl.NewServer(esl.ServerOptions{}, func(context.Context, *esl.Session) {})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	<-srv.Ready()
	_ = ln.Close()
	select {
	case err := <-served:
		if err == nil {
			t.Error("Serve returned nil after its listener died")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its listener died")
	}
}

func TestNewServerValidates(t *testing.T) {
	t.Parallel()
	if _, err := esl.NewServer(esl.ServerOptions{}, nil); !errors.Is(err, esl.ErrInvalidArgument) {
		t.Errorf("nil handler: %v", err)
	}
	if _, err := esl.NewServer(esl.ServerOptions{MaxSessions: -1}, func(context.Context, *esl.Session) {}); !errors.Is(err, esl.ErrInvalidArgument) {
		t.Errorf("negative cap: %v", err)
	}
	if _, err := esl.NewServer(esl.ServerOptions{Allow: []netip.Prefix{}}, func(context.Context, *esl.Session) {}); err != nil {
		t.Errorf("empty allowlist: %v", err)
	}
}
