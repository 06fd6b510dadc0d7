package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	eslcmd "github.com/percipia/eslgo/command"
)

// conn is what a Session needs from its outbound ESL connection. The
// eslgo-backed implementation is eslgoConn; tests use a fake.
type conn interface {
	// send writes one command and returns FreeSWITCH's reply text
	// (Reply-Text of a command/reply, the body of an api/response). It
	// returns ctx's error if the reply does not come before ctx ends.
	send(ctx context.Context, cmd command) (string, error)
	// close drops the connection to FreeSWITCH at once.
	close()
}

// sessionEvents are the only events a session asks FreeSWITCH for: each
// event carries every channel variable (2–20 KB), and FreeSWITCH's CPU is
// the scarce resource.
var sessionEvents = []string{"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_BRIDGE"}

// Defaults of the session's timings.
const (
	defaultCommandTimeout = 5 * time.Second
	// hangupGrace is how long a wait goes on after CHANNEL_HANGUP for the
	// running application's completion, which FreeSWITCH sends after the
	// hang-up while the socket lingers.
	defaultHangupGrace = 2 * time.Second
)

// sessionConfig is what the Server passes to each Session.
type sessionConfig struct {
	commandTimeout time.Duration
	hangupGrace    time.Duration
	// hangup, when set, hangs a call up over another connection; used when
	// this session's own connection is poisoned.
	hangup func(ctx context.Context, uuid, cause string) error
	log    *slog.Logger
}

// Session is one call handed to stickyacd by FreeSWITCH's socket
// application. Its methods may be called from several goroutines, but
// commands are sent one at a time.
type Session struct {
	c      conn
	data   Event
	uuid   string
	remote string
	cfg    sessionConfig
	log    *slog.Logger

	// life ends when the connection is closed or poisoned; every command
	// waits for its reply within it.
	life     context.Context
	lifeStop context.CancelFunc

	cmdMu sync.Mutex // one command on the wire at a time

	mu          sync.Mutex
	changed     chan struct{}     // closed and replaced whenever state below changes
	waiting     map[string]*Event // Application-UUID → its completion, nil until it comes
	completeSeq uint64            // highest Event-Sequence of any completion seen
	bridges     []Event           // CHANNEL_BRIDGE events
	bridgedLegs []string          // other legs of earlier answered attempts
	hungUp      bool
	hangupCause string
	closed      bool
	poisoned    bool
	done        chan struct{}
	ended       bool

	bridgeMu   sync.Mutex        // one bridge at a time
	callerVars map[string]string // variables already set on the caller's channel
}

func newSession(c conn, data Event, remote string, cfg sessionConfig) *Session {
	if cfg.commandTimeout <= 0 {
		cfg.commandTimeout = defaultCommandTimeout
	}
	if cfg.hangupGrace <= 0 {
		cfg.hangupGrace = defaultHangupGrace
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	id := data.Get("Unique-ID")
	if id == "" {
		id = data.Get("Channel-Unique-ID")
	}
	life, stop := context.WithCancel(context.Background())
	return &Session{
		c:        c,
		data:     data.compact(),
		uuid:     id,
		remote:   remote,
		cfg:      cfg,
		log:      cfg.log.With("call_uuid", id),
		life:     life,
		lifeStop: stop,
		changed:  make(chan struct{}),
		waiting:  make(map[string]*Event),
		done:     make(chan struct{}),
	}
}

// UUID is the caller's channel UUID.
func (s *Session) UUID() string { return s.uuid }

// CallerNumber is the caller ID number as FreeSWITCH has it.
func (s *Session) CallerNumber() string { return s.data.Get("Caller-Caller-ID-Number") }

// CallerName is the caller ID name.
func (s *Session) CallerName() string { return s.data.Get("Caller-Caller-ID-Name") }

// Destination is the number the caller dialled.
func (s *Session) Destination() string { return s.data.Get("Caller-Destination-Number") }

// Var returns a channel variable as it was when the call reached us
// (variable_<name> of the connect reply), e.g. "stickyacd_action".
func (s *Session) Var(name string) string { return s.data.Var(name) }

// RemoteAddr is the address FreeSWITCH connected from.
func (s *Session) RemoteAddr() string { return s.remote }

// Logger is the session's logger, carrying call_uuid.
func (s *Session) Logger() *slog.Logger { return s.log }

// Done is closed when the caller has hung up or the socket is closed.
func (s *Session) Done() <-chan struct{} { return s.done }

// Close closes our side of the socket now. With socket_resume=true in the
// dialplan, FreeSWITCH carries on with the actions after `socket`.
func (s *Session) Close() {
	s.mu.Lock()
	s.closed = true
	s.endLocked()
	s.mu.Unlock()
	s.lifeStop()
	s.c.close()
}

// connClosed records that FreeSWITCH closed the connection.
func (s *Session) connClosed() {
	s.mu.Lock()
	s.closed = true
	s.endLocked()
	s.mu.Unlock()
	s.lifeStop()
}

// endLocked closes done once and wakes every waiter. s.mu must be held.
func (s *Session) endLocked() {
	if !s.ended {
		s.ended = true
		close(s.done)
	}
	s.changedLocked()
}

func (s *Session) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// deliver takes one event from the connection. It never blocks: eslgo calls
// it in a goroutine per event, in no particular order.
func (s *Session) deliver(ev Event) {
	if id := ev.Get("Unique-ID"); id != "" && id != s.uuid {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch ev.Name() {
	case "CHANNEL_EXECUTE_COMPLETE":
		s.completeSeq = max(s.completeSeq, ev.Sequence())
		if w, ok := s.waiting[ev.Get("Application-UUID")]; ok && w == nil {
			s.waiting[ev.Get("Application-UUID")] = &ev
		}
	case "CHANNEL_HANGUP":
		s.hangupLocked(ev.Get("Hangup-Cause"))
	case "CHANNEL_BRIDGE":
		// Kept for the call's life: only what bridgeEvent reads, not the
		// channel's ~150 variables.
		s.bridges = append(s.bridges, ev.only(bridgeEventHeaders...))
	}
	// Any event raised after the hang-up says so; the CHANNEL_HANGUP
	// itself may be handled after it.
	if afterHangup(ev) {
		s.hangupLocked(ev.Get("Hangup-Cause"))
	}
	s.changedLocked()
}

func (s *Session) hangupLocked(cause string) {
	if s.hungUp {
		return
	}
	s.hungUp = true
	s.hangupCause = cause
	s.endLocked()
}

// afterHangup reports whether FreeSWITCH raised ev after the channel hung up.
func afterHangup(ev Event) bool {
	return ev.Get("Answer-State") == "hangup"
}

// HangupCause is the channel's hang-up cause, "" while it is up.
func (s *Session) HangupCause() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hangupCause
}

// state is a snapshot of what a wait looks at.
type state struct {
	hungUp, closed, poisoned bool
	changed                  <-chan struct{}
}

func (s *Session) snapshot() state {
	s.mu.Lock()
	defer s.mu.Unlock()
	return state{hungUp: s.hungUp, closed: s.closed, poisoned: s.poisoned, changed: s.changed}
}

// usable returns why no new work can start on the call, or nil.
func (st state) usable() error {
	switch {
	case st.poisoned:
		return ErrPoisoned
	case st.hungUp:
		return ErrHangup
	case st.closed:
		return ErrClosed
	}
	return nil
}

// send writes one command and waits for its reply. The wait ignores the
// caller's context on purpose: an abandoned reply would be matched to the
// next command. It is bounded by the command timeout instead, and a
// command that times out poisons the session.
func (s *Session) send(cmd command, what string) (string, error) {
	replies, err := s.sendAll(what, cmd)
	if err != nil {
		return "", err
	}
	return replies[0], nil
}

// sendAll writes commands that do not depend on one another all at once
// and waits for every reply: one round trip instead of one each. eslgo
// hands the replies, which come in order, to whichever sender takes one
// first, so the replies are returned in no particular order.
func (s *Session) sendAll(what string, cmds ...command) ([]string, error) {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	return s.sendAllLocked(what, cmds...)
}

// sendAllLocked is sendAll with cmdMu held.
func (s *Session) sendAllLocked(what string, cmds ...command) ([]string, error) {
	if st := s.snapshot(); st.poisoned || st.closed {
		return nil, fmt.Errorf("%s: %w", what, st.usable())
	}
	ctx, cancel := context.WithTimeout(s.life, s.cfg.commandTimeout)
	defer cancel()
	replies := make([]string, len(cmds))
	errs := make([]error, len(cmds))
	if len(cmds) == 1 {
		replies[0], errs[0] = s.c.send(ctx, cmds[0])
	} else {
		var wg sync.WaitGroup
		for i, cmd := range cmds {
			wg.Go(func() { replies[i], errs[i] = s.c.send(ctx, cmd) })
		}
		wg.Wait()
	}
	err := errors.Join(errs...)
	switch {
	case err == nil:
		return replies, nil
	case s.life.Err() != nil:
		if st := s.snapshot(); st.poisoned {
			return nil, fmt.Errorf("%s: %w", what, ErrPoisoned)
		}
		return nil, fmt.Errorf("%s: %w", what, ErrClosed)
	case errors.Is(err, context.DeadlineExceeded):
		s.poison(what)
		return nil, fmt.Errorf("%s: no reply within %s: %w", what, s.cfg.commandTimeout, ErrPoisoned)
	default:
		s.Close()
		return nil, fmt.Errorf("%s: %w: %w", what, ErrClosed, err)
	}
}

// poison gives the session up after a command got no reply: the call is
// hung up over another connection if one is configured, and the socket is
// closed (FreeSWITCH then resumes the dialplan if the call is still up).
func (s *Session) poison(what string) {
	s.mu.Lock()
	if s.poisoned {
		s.mu.Unlock()
		return
	}
	s.poisoned = true
	s.endLocked()
	s.mu.Unlock()
	s.log.Error("esl command got no reply; giving the session up", "command", what, "timeout", s.cfg.commandTimeout)
	if s.cfg.hangup != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.commandTimeout)
		if err := s.cfg.hangup(ctx, s.uuid, "NORMAL_TEMPORARY_FAILURE"); err != nil {
			s.log.Error("hang up poisoned session", "err", err)
		}
		cancel()
	}
	s.lifeStop()
	s.c.close()
}

// command sends a command whose reply must start with +OK.
func (s *Session) command(cmd command, what string) error {
	reply, err := s.send(cmd, what)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(reply, "+OK") {
		return fmt.Errorf("%s: %q: %w", what, reply, ErrFailed)
	}
	return nil
}

// subscribe sets the session up in one round trip: it asks for this call's
// events (only those the session uses), for linger (so that completions
// raised after a hang-up still arrive), and sets the caller's variables
// every bridge needs, plus vars, with uuid_setvar (an api command: no
// execution, no event).
func (s *Session) subscribe(vars map[string]string) error {
	cmds, err := s.prepareSetup(vars)
	if err != nil {
		return err
	}
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	return s.setupLocked(cmds)
}

// prepareSetup builds the set-up commands and records the caller's
// variables as set. Recording them first keeps the set-up from needing
// bridgeMu while it holds cmdMu: a Bridge holds bridgeMu while it waits for
// cmdMu. Should the set-up fail, the session is closed and no bridge runs.
func (s *Session) prepareSetup(vars map[string]string) ([]command, error) {
	cmds := []command{rawCommand("myevents plain")}
	for _, name := range sessionEvents {
		cmds = append(cmds, rawCommand("filter Event-Name "+name))
	}
	// eslgo must see its own Linger type: it then does not close the
	// connection on the linger disconnect notice.
	cmds = append(cmds, eslcmd.Linger{Enabled: true})
	set := maps.Clone(bridgeCallerVars)
	maps.Copy(set, vars)
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if !validName(k) || hasControl(set[k], "") {
			return nil, fmt.Errorf("session variable %q: %w", k, ErrInvalidArgument)
		}
		cmds = append(cmds, rawCommand("api uuid_setvar "+s.uuid+" "+k+" "+escapeField(set[k], ' ')))
	}
	s.bridgeMu.Lock()
	s.callerVars = set
	s.bridgeMu.Unlock()
	return cmds, nil
}

// setupLocked sends the set-up commands with cmdMu held. The server takes
// the lock before the handler starts and sets the session up meanwhile, so
// the handler's first command follows the set-up on the wire while its own
// work before that (look-ups, reservations) overlaps the round trip.
func (s *Session) setupLocked(cmds []command) error {
	replies, err := s.sendAllLocked("set-up", cmds...)
	if err != nil {
		return err
	}
	for _, r := range replies {
		if !strings.HasPrefix(r, "+OK") {
			return fmt.Errorf("set-up: %q: %w", strings.TrimSpace(r), ErrFailed)
		}
	}
	return nil
}

// expect registers a completion to wait for, before the command is sent.
func (s *Session) expect(id string) {
	s.mu.Lock()
	s.waiting[id] = nil
	s.mu.Unlock()
}

func (s *Session) forget(id string) {
	s.mu.Lock()
	delete(s.waiting, id)
	s.mu.Unlock()
}

// completion returns the completion of id if it has come.
func (s *Session) completion(id string) (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev := s.waiting[id]; ev != nil {
		return *ev, true
	}
	return Event{}, false
}

// Execute runs an application on the call and waits for its
// CHANNEL_EXECUTE_COMPLETE, matched by the Event-UUID we send. If the
// channel hangs up first it waits a short grace for the completion (which
// FreeSWITCH sends after the hang-up) and returns ErrHangup without it.
// It also returns ErrClosed, ErrPoisoned or ctx's error; on ctx's error
// the application goes on running in FreeSWITCH.
func (s *Session) Execute(ctx context.Context, app, arg string) (Event, error) {
	ev, err := s.execute(ctx, app, arg, nil)
	if err != nil {
		return Event{}, fmt.Errorf("execute %s: %w", app, err)
	}
	return ev, nil
}

// execute is Execute; watch, when set, is called on every state change
// while waiting (Bridge uses it to see the agent answer).
func (s *Session) execute(ctx context.Context, app, arg string, watch func()) (Event, error) {
	if !validName(app) {
		return Event{}, fmt.Errorf("application name %q: %w", app, ErrInvalidArgument)
	}
	if err := ctx.Err(); err != nil {
		return Event{}, err
	}
	if err := s.snapshot().usable(); err != nil {
		return Event{}, err
	}
	id := uuid.NewString()
	s.expect(id)
	defer s.forget(id)
	if err := s.command(executeCommand{App: app, Arg: arg, EventUUID: id}, "sendmsg "+app); err != nil {
		return Event{}, err
	}
	return s.await(ctx, id, watch)
}

// await waits for the completion of id.
func (s *Session) await(ctx context.Context, id string, watch func()) (Event, error) {
	var grace <-chan time.Time
	for {
		st := s.snapshot()
		if watch != nil {
			watch()
		}
		if ev, ok := s.completion(id); ok {
			return ev, nil
		}
		switch {
		case st.poisoned:
			return Event{}, ErrPoisoned
		case st.closed && st.hungUp:
			return Event{}, ErrHangup
		case st.closed:
			return Event{}, ErrClosed
		case st.hungUp && grace == nil:
			t := time.NewTimer(s.cfg.hangupGrace)
			defer t.Stop()
			grace = t.C
		}
		select {
		case <-st.changed:
		case <-grace:
			return Event{}, ErrHangup
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}
