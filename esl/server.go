package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/percipia/eslgo"
)

// ServerOptions configures a Server. Zero values take the documented
// defaults.
type ServerOptions struct {
	// Listen is the TCP address FreeSWITCH's socket application dials,
	// e.g. "127.0.0.1:8084". Needed by ListenAndServe only.
	Listen string
	// Allow lists the peers served; anyone else is closed before
	// "connect" is sent, and logged with their address. Default loopback.
	Allow []netip.Prefix
	// MaxSessions caps concurrent calls; above it a new call is closed at
	// once and FreeSWITCH's socket_resume fallback takes it. Default 2000.
	MaxSessions int
	// DrainTimeout is how long calls in progress may go on after the
	// context of Serve ends; the rest are then closed. Default 30s.
	DrainTimeout time.Duration
	// MaxCallDuration is a backstop: a call older than this is hung up
	// (ALLOTTED_TIMEOUT) and its handler's context ends. Default 4h.
	MaxCallDuration time.Duration
	// CommandTimeout bounds FreeSWITCH's reply to each command; a command
	// without a reply poisons its session. Default 5s.
	CommandTimeout time.Duration
	// CallerVars are set on every call's channel when its session is set
	// up, in the same round trip as the event subscription (with
	// uuid_setvar: values are literal, not expanded), e.g. "ringback":
	// "%(2000,4000,440,480)".
	CallerVars map[string]string
	// Hangup, when set, hangs a call up over another connection (e.g. an
	// inbound Client's uuid_kill). It is used when a session is poisoned;
	// without it such a session is only closed, and with socket_resume the
	// dialplan's fallback takes the call.
	Hangup func(ctx context.Context, uuid, cause string) error
	// Logger receives the server's and sessions' logs. Default: discard.
	Logger *slog.Logger
}

// Defaults of ServerOptions.
const (
	DefaultMaxSessions     = 2000
	DefaultDrainTimeout    = 30 * time.Second
	DefaultMaxCallDuration = 4 * time.Hour
	DefaultCommandTimeout  = defaultCommandTimeout
)

// Handler serves one call. The session is closed when it returns, unless
// the call is already gone; FreeSWITCH then resumes the dialplan. ctx ends
// at MaxCallDuration, or when a drain times out.
type Handler func(ctx context.Context, s *Session)

// Server is the outbound ESL server: FreeSWITCH's socket application
// connects to it once per call.
type Server struct {
	opts ServerOptions
	h    Handler
	log  *slog.Logger

	ready chan struct{}

	mu       sync.Mutex
	addr     net.Addr
	serving  bool
	draining bool
	conns    map[*proxyConn]struct{}
	wg       sync.WaitGroup  // one per proxied connection
	hard     context.Context // parent of handler contexts; ends when a drain times out
}

var (
	errMaxCallDuration = errors.New("esl: maximum call duration reached")
	errDrainTimeout    = errors.New("esl: drain timed out")
)

// NewServer validates opts and returns a server for h.
func NewServer(opts ServerOptions, h Handler) (*Server, error) {
	if h == nil {
		return nil, fmt.Errorf("esl server: nil handler: %w", ErrInvalidArgument)
	}
	if opts.MaxSessions < 0 || opts.DrainTimeout < 0 || opts.MaxCallDuration < 0 || opts.CommandTimeout < 0 {
		return nil, fmt.Errorf("esl server: negative limit: %w", ErrInvalidArgument)
	}
	if opts.MaxSessions == 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.MaxCallDuration == 0 {
		opts.MaxCallDuration = DefaultMaxCallDuration
	}
	if opts.CommandTimeout == 0 {
		opts.CommandTimeout = DefaultCommandTimeout
	}
	for k, val := range opts.CallerVars {
		if !validName(k) || hasControl(val, "") {
			return nil, fmt.Errorf("esl server: caller variable %q: %w", k, ErrInvalidArgument)
		}
	}
	if opts.Allow == nil {
		opts.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		opts:  opts,
		h:     h,
		log:   opts.Logger,
		ready: make(chan struct{}),
		conns: make(map[*proxyConn]struct{}),
	}, nil
}

// Ready is closed once the server is listening.
func (srv *Server) Ready() <-chan struct{} { return srv.ready }

// Addr is the address listened on, nil before Ready.
func (srv *Server) Addr() net.Addr {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.addr
}

// Active is the number of calls connected now.
func (srv *Server) Active() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.conns)
}

// ListenAndServe listens on opts.Listen and serves until ctx ends; see Serve.
func (srv *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", srv.opts.Listen)
	if err != nil {
		return fmt.Errorf("esl listen %s: %w", srv.opts.Listen, err)
	}
	return srv.Serve(ctx, ln)
}

// Serve serves calls from ln until ctx ends, then drains: no new call is
// taken (ln is closed), calls in progress get DrainTimeout to finish, and
// the rest are closed. It returns nil after that, or an error if ln or
// eslgo's listener dies (after draining too). Serve closes ln.
func (srv *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer ln.Close()
	srv.mu.Lock()
	if srv.serving {
		srv.mu.Unlock()
		return errors.New("esl server: Serve called twice")
	}
	srv.serving = true
	hard, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stop(nil)
	srv.hard = hard
	srv.addr = ln.Addr()
	srv.mu.Unlock()

	b, err := sharedBackend()
	if err != nil {
		return fmt.Errorf("esl server: %w", err)
	}
	close(srv.ready)
	srv.log.Info("esl server listening", "addr", ln.Addr().String())

	accepted := make(chan error, 1)
	go func() { accepted <- srv.accept(ln, b) }()
	select {
	case <-ctx.Done():
		_ = ln.Close()
		<-accepted
	case err = <-accepted:
		err = fmt.Errorf("esl listener on %s died: %w", ln.Addr(), err)
		srv.log.Error("esl listener died", "err", err)
	case <-b.dead:
		_ = ln.Close()
		<-accepted
		err = fmt.Errorf("esl server: %w", b.err)
	}
	srv.drain(stop)
	return err
}

// accept takes connections until ln fails for good.
func (srv *Server) accept(ln net.Listener, b *backend) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if !retryableAccept(err) {
				return err
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			srv.log.Warn("esl accept failed; retrying", "err", err, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		srv.admit(c, b)
	}
}

// retryableAccept tells a passing accept failure (out of descriptors, an
// aborted handshake) from a dead listener.
func retryableAccept(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.ENOBUFS)
}

// admit applies the allowlist, drain and session cap to a new connection,
// and proxies it to eslgo if it passes. A refused connection is closed
// before anything is sent on it.
func (srv *Server) admit(c net.Conn, b *backend) {
	remote := c.RemoteAddr().String()
	if !srv.allowed(c.RemoteAddr()) {
		srv.log.Warn("esl connection refused: peer not allowed", "remote_addr", remote)
		_ = c.Close()
		return
	}
	srv.mu.Lock()
	switch {
	case srv.draining:
		srv.mu.Unlock()
		srv.log.Info("esl connection refused: draining", "remote_addr", remote)
		_ = c.Close()
		return
	case len(srv.conns) >= srv.opts.MaxSessions:
		srv.mu.Unlock()
		srv.log.Warn("esl connection refused: session cap reached", "remote_addr", remote, "max_sessions", srv.opts.MaxSessions)
		_ = c.Close()
		return
	}
	pc := &proxyConn{id: strconv.FormatUint(b.seq.Add(1), 10), srv: srv, front: c}
	srv.conns[pc] = struct{}{}
	srv.wg.Add(1)
	srv.mu.Unlock()
	go func() {
		defer srv.release(pc)
		pc.proxy(b, srv.log)
	}()
}

func (srv *Server) release(pc *proxyConn) {
	srv.mu.Lock()
	delete(srv.conns, pc)
	srv.mu.Unlock()
	srv.wg.Done()
}

func (srv *Server) allowed(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip := ta.AddrPort().Addr().Unmap()
	for _, p := range srv.opts.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// drain waits for calls in progress, logging their number every second,
// and closes those left after DrainTimeout.
func (srv *Server) drain(stop context.CancelCauseFunc) {
	srv.mu.Lock()
	srv.draining = true
	n := len(srv.conns)
	srv.mu.Unlock()
	idle := make(chan struct{})
	go func() {
		srv.wg.Wait()
		close(idle)
	}()
	if n > 0 {
		srv.log.Info("esl server draining", "active_sessions", n, "drain_timeout", srv.opts.DrainTimeout)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.NewTimer(srv.opts.DrainTimeout)
	defer deadline.Stop()
	for {
		select {
		case <-idle:
			srv.log.Info("esl server stopped")
			return
		case <-tick.C:
			srv.log.Info("esl server draining", "active_sessions", srv.Active())
		case <-deadline.C:
			srv.log.Warn("esl drain timed out; closing the remaining calls", "active_sessions", srv.Active())
			stop(errDrainTimeout)
			srv.mu.Lock()
			for pc := range srv.conns {
				pc.closeFront()
			}
			srv.mu.Unlock()
			<-idle
			srv.log.Info("esl server stopped")
			return
		}
	}
}

// serve runs the handler for one call on eslgo's handler goroutine.
func (srv *Server) serve(pc *proxyConn, c *eslgo.Conn, data Event) {
	s := newSession(&eslgoConn{c: c, pc: pc}, data, pc.front.RemoteAddr().String(), sessionConfig{
		commandTimeout: srv.opts.CommandTimeout,
		hangup:         srv.opts.Hangup,
		log:            srv.log,
	})
	c.RegisterEventListener(eslgo.EventListenAll, func(ev *eslgo.Event) { s.deliver(Event{h: ev.Headers}) })
	pc.attach(s, c)
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in call handler", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			s.Close()
		}
		if st := s.snapshot(); st.closed || st.poisoned {
			// FreeSWITCH is gone or we dropped it: no "exit" to wait for.
			c.Close()
		}
		s.lifeStop()
	}()
	srv.mu.Lock()
	hard := srv.hard
	srv.mu.Unlock()
	ctx, cancel := context.WithTimeoutCause(hard, srv.opts.MaxCallDuration, errMaxCallDuration)
	defer cancel()
	backstopDone := make(chan struct{})
	backstop := context.AfterFunc(ctx, func() {
		defer close(backstopDone)
		if context.Cause(ctx) == errMaxCallDuration {
			s.log.Warn("maximum call duration reached; hanging up", "max_call_duration", srv.opts.MaxCallDuration)
			if err := s.Hangup(context.WithoutCancel(ctx), "ALLOTTED_TIMEOUT"); err != nil {
				s.log.Error("hang up at maximum call duration", "err", err)
			}
		}
		s.Close()
	})
	defer func() {
		// The handler may return as soon as its context ends: the backstop
		// finishes with the session before the session is torn down.
		if !backstop() {
			<-backstopDone
		}
	}()
	// The set-up round trip overlaps the handler's first work: the handler
	// starts at once, and its first command waits for the set-up (cmdMu,
	// taken here, before either runs). A failed set-up closes the session,
	// so the handler's commands fail with ErrClosed.
	cmds, err := s.prepareSetup(srv.opts.CallerVars)
	if err != nil {
		s.log.Error("esl session set-up refused", "err", err)
		s.Close()
		return
	}
	s.cmdMu.Lock()
	setup := make(chan struct{})
	go func() {
		defer close(setup)
		defer s.cmdMu.Unlock()
		if err := s.setupLocked(cmds); err != nil {
			s.log.Warn("esl session set-up failed", "err", err)
			s.Close()
		}
	}()
	defer func() { <-setup }()
	srv.h(ctx, s)
}
