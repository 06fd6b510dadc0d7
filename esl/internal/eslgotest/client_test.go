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
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/esl"
	"github.com/stickyacd/stickyacd/esl/fstest"
)

// recorder is an EventHandler that records what it gets.
type recorder struct {
	mu        sync.Mutex
	connected int
	regs      []esl.Registration
	chans     []esl.ChannelEvent
	changed   chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) Connected(context.Context) {
	r.mu.Lock()
	r.connected++
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) RegistrationChanged(_ context.Context, reg esl.Registration) {
	r.mu.Lock()
	r.regs = append(r.regs, reg)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) ChannelChanged(_ context.Context, c esl.ChannelEvent) {
	r.mu.Lock()
	r.chans = append(r.chans, c)
	r.mu.Unlock()
	r.poke()
}

// waitFor waits until cond holds over the recorder.
func (r *recorder) waitFor(t *testing.T, what string, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// runClient runs a client against fs until the test ends.
func runClient(t *testing.T, addr string, h esl.EventHandler) *esl.Client {
	t.Helper()
	c := esl.NewClient(esl.ClientOptions{Addr: addr, Handler: h, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond, CommandTimeout: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return c
}

func newFS(t *testing.T, opts fstest.Options) *fstest.FS {
	t.Helper()
	if opts.Speed == 0 {
		opts.Speed = speed
	}
	if opts.Outbound == "" {
		opts.Outbound = "127.0.0.1:1"
	}
	fs, err := fstest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	return fs
}

// connectedClient runs a client against a new emulator and waits until it
// is connected.
func connectedClient(t *testing.T) (*fstest.FS, *recorder, *esl.Client) {
	t.Helper()
	fs := newFS(t, fstest.Options{})
	rec := newRecorder()
	c := runClient(t, fs.EventSocketAddr(), rec)
	rec.waitFor(t, "connection", func(r *recorder) bool { return r.connected == 1 })
	return fs, rec, c
}

func TestClientRegistrationsAndChannels(t *testing.T) {
	t.Parallel()
	fs, rec, c := connectedClient(t)

	fs.Register("2001", "pbx.local")
	fs.Register("2002", "pbx.local")
	fs.Unregister("2002", "pbx.local")
	fs.Expire("2001", "pbx.local")
	// eslgo may hand events over out of order; the client drops one older
	// than what it already delivered for the same user, so only the last
	// state per user is certain.
	last := func(r *recorder) map[string]esl.Registration {
		m := map[string]esl.Registration{}
		for _, reg := range r.regs {
			m[reg.User+"@"+reg.Realm] = reg
		}
		return m
	}
	rec.waitFor(t, "registration events", func(r *recorder) bool {
		m := last(r)
		return m["2001@pbx.local"].Kind == "expire" && m["2002@pbx.local"].Kind == "unregister"
	})
	rec.mu.Lock()
	for _, reg := range rec.regs {
		if reg.Registered != (reg.Kind == "register") {
			t.Errorf("%+v", reg)
		}
	}
	rec.mu.Unlock()

	fs.Register("2003", "pbx.local")
	regs, err := c.Registrations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 1 || regs[0].User != "2003" || regs[0].Realm != "pbx.local" {
		t.Errorf("Registrations = %+v", regs)
	}

	ch := fs.StartChannel("2003", "inbound", "13800138000")
	rec.waitFor(t, "channel answer", func(r *recorder) bool {
		return slices.ContainsFunc(r.chans, func(c esl.ChannelEvent) bool { return c.Name == "CHANNEL_ANSWER" && c.UUID == ch.UUID() })
	})
	chans, err := c.Channels(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(chans, func(ci esl.ChannelInfo) bool { return ci.UUID == ch.UUID() }) {
		t.Errorf("Channels = %+v, want %s", chans, ch.UUID())
	}
	ch.Hangup()
	rec.waitFor(t, "channel hang-up", func(r *recorder) bool {
		return slices.ContainsFunc(r.chans, func(c esl.ChannelEvent) bool {
			return c.Name == "CHANNEL_HANGUP_COMPLETE" && c.UUID == ch.UUID() && c.PresenceUser == "2003"
		})
	})
}

func TestClientAPIAndChat(t *testing.T) {
	t.Parallel()
	fs, _, c := connectedClient(t)
	fs.Register("2001", "pbx.local")

	err := c.Chat(t.Context(), esl.ChatMessage{From: "stickyacd@pbx.local", To: "2001@pbx.local", Body: "Call back 139…|now\nplease"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(fs.InboundCommands(), func(s string) bool { return strings.HasPrefix(s, "bgapi chat sip|stickyacd@pbx.local|2001@pbx.local|") }) {
		t.Errorf("inbound commands %q", fs.InboundCommands())
	}
	if _, err := c.API(t.Context(), "nosuchcommand foo"); !errors.Is(err, esl.ErrFailed) {
		t.Errorf("unknown api = %v, want ErrFailed", err)
	}
	if out, err := c.API(t.Context(), "uuid_exists 00000000-0000-0000-0000-000000000000"); err != nil || out != "false" {
		t.Errorf("uuid_exists = %q, %v", out, err)
	}
	job, err := c.BgAPI(t.Context(), "uuid_exists 00000000-0000-0000-0000-000000000000")
	if err != nil || job == "" {
		t.Errorf("BgAPI = %q, %v", job, err)
	}
}

func TestClientOriginate(t *testing.T) {
	t.Parallel()
	fs, _, c := connectedClient(t)
	fs.SetEndpoint("user/2001", fstest.Answers(time.Second))
	fs.SetEndpoint("user/2002", fstest.Busy())

	id, err := c.Originate(t.Context(), esl.Originate{Target: "user/2001", App: "park", Timeout: 10 * time.Second, Vars: map[string]string{"stickyacd_call": "c1"}})
	if err != nil || id == "" {
		t.Fatalf("Originate = %q, %v", id, err)
	}
	if _, err := c.Originate(t.Context(), esl.Originate{Target: "user/2002", App: "park"}); !errors.Is(err, esl.ErrFailed) || !strings.Contains(err.Error(), "USER_BUSY") {
		t.Errorf("busy originate = %v", err)
	}
}

func TestClientReconnects(t *testing.T) {
	t.Parallel()
	fs1 := newFS(t, fstest.Options{})
	addr := fs1.EventSocketAddr()
	rec := newRecorder()
	c := runClient(t, addr, rec)
	rec.waitFor(t, "connection", func(r *recorder) bool { return r.connected == 1 })
	_ = fs1.Close()
	fs2 := newFS(t, fstest.Options{Listen: addr})
	rec.waitFor(t, "reconnection", func(r *recorder) bool { return r.connected == 2 })
	fs2.Register("2001", "pbx.local")
	rec.waitFor(t, "registration after reconnection", func(r *recorder) bool {
		return slices.ContainsFunc(r.regs, func(reg esl.Registration) bool { return reg.User == "2001" })
	})
	if regs, err := c.Registrations(t.Context()); err != nil || len(regs) != 1 {
		t.Errorf("Registrations after reconnection = %+v, %v", regs, err)
	}
}

func TestClientNotConnected(t *testing.T) {
	t.Parallel()
	c := esl.NewClient(esl.ClientOptions{Addr: "127.0.0.1:1"})
	if _, err := c.API(t.Context(), "status"); !errors.Is(err, esl.ErrClosed) {
		t.Errorf("API before Run = %v, want ErrClosed", err)
	}
}

// FreeSWITCH shutting down sends a disconnect notice and closes the event
// socket. eslgo closes its connection on the notice while its reader may be
// reporting the close, which used to crash the process ("send on closed
// channel"); the client must just reconnect later.
func TestClientSurvivesFreeSWITCHShutdown(t *testing.T) {
	t.Parallel()
	for i := 0; i < 40; i++ {
		fs, err := fstest.New(fstest.Options{Outbound: "127.0.0.1:1", Speed: speed})
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder()
		c := esl.NewClient(esl.ClientOptions{Addr: fs.EventSocketAddr(), Handler: rec, ReconnectMin: time.Hour, ReconnectMax: time.Hour, CommandTimeout: 2 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		rec.waitFor(t, "connection", func(r *recorder) bool { return r.connected == 1 })
		_ = fs.Close()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
