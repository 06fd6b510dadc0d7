package fstest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Call after Close.
var ErrClosed = errors.New("fstest: emulator closed")

// Options configure an emulator.
type Options struct {
	// Outbound is the address of the application's outbound ESL listener;
	// it is dialled once per call, like the dialplan's
	// "socket <Outbound> async full".
	Outbound string
	// Listen is the inbound event socket address; "" means "127.0.0.1:0".
	Listen string
	// Password is the inbound event socket password; "" means "ClueCon".
	Password string
	// Speed divides every media and scripted wait: 1 is real time, 100 a
	// hundred times faster. 0 means 1.
	Speed float64
	// FileDuration is how long a plain sound file plays before Speed
	// applies; 0 means 1 s.
	FileDuration time.Duration
	// SourceAddr is the local IP the outbound connections come from, e.g.
	// "127.0.0.2" for allow-list tests; "" lets the system choose.
	SourceAddr string
	// Logger receives the emulator's own diagnostics; nil discards them.
	Logger *slog.Logger
}

// FS is a FreeSWITCH 1.10.12 emulator: it places scripted calls onto an
// application's outbound event socket server and serves an inbound event
// socket.
type FS struct {
	opts         Options
	log          *slog.Logger
	speed        float64
	fileDuration time.Duration
	password     string

	coreUUID  string
	hostname  string
	baseLines []byte // Core-UUID … FreeSWITCH-IPv6 lines of every event
	started   time.Time

	seq      atomic.Uint64 // Event-Sequence
	sessions atomic.Uint64 // variable_session_id and "sessions since startup"
	peak     atomic.Int64

	bus bus

	mu          sync.Mutex
	channels    map[string]*channel
	order       []*channel // channels by creation, for show channels
	endpoints   map[string]Endpoint
	regs        map[string]*registration
	inboundCmds []string
	listeners   map[*listener]struct{} // every open event-socket connection
	closed      bool

	ln     net.Listener
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	done   <-chan struct{}
	wg     sync.WaitGroup
}

// New starts an emulator: its inbound event socket listens at once; calls
// are placed with Call.
func New(opts Options) (*FS, error) {
	fs := &FS{
		opts:         opts,
		log:          opts.Logger,
		speed:        opts.Speed,
		fileDuration: opts.FileDuration,
		password:     opts.Password,
		coreUUID:     newUUID(),
		hostname:     "fstest",
		started:      time.Now(),
		channels:     make(map[string]*channel),
		endpoints:    make(map[string]Endpoint),
		regs:         make(map[string]*registration),
		listeners:    make(map[*listener]struct{}),
	}
	fs.ctx, fs.cancel = context.WithCancel(context.Background())
	fs.done = fs.ctx.Done()
	if fs.log == nil {
		fs.log = slog.New(slog.DiscardHandler)
	}
	if fs.speed <= 0 {
		fs.speed = 1
	}
	if fs.fileDuration <= 0 {
		fs.fileDuration = time.Second
	}
	if fs.password == "" {
		fs.password = "ClueCon"
	}
	fs.baseLines = appendHeader(fs.baseLines, "Core-UUID", fs.coreUUID)
	fs.baseLines = appendHeader(fs.baseLines, "FreeSWITCH-Hostname", fs.hostname)
	fs.baseLines = appendHeader(fs.baseLines, "FreeSWITCH-Switchname", fs.hostname)
	fs.baseLines = appendHeader(fs.baseLines, "FreeSWITCH-IPv4", "127.0.0.1")
	fs.baseLines = appendHeader(fs.baseLines, "FreeSWITCH-IPv6", "::1")
	fs.bus.init()

	if opts.SourceAddr != "" && net.ParseIP(opts.SourceAddr) == nil {
		fs.cancel()
		return nil, fmt.Errorf("fstest: source address %q is not an IP address", opts.SourceAddr)
	}
	listen := opts.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fs.cancel()
		return nil, fmt.Errorf("listen for the inbound event socket on %s: %w", listen, err)
	}
	fs.ln = ln
	fs.wg.Add(1)
	go fs.acceptInbound()
	return fs, nil
}

// EventSocketAddr is the inbound event socket address ("host:port").
func (fs *FS) EventSocketAddr() string { return fs.ln.Addr().String() }

// Close hangs up every channel, closes every socket and waits for all of
// the emulator's goroutines to end.
func (fs *FS) Close() error {
	fs.mu.Lock()
	if fs.closed {
		fs.mu.Unlock()
		return nil
	}
	fs.closed = true
	chans := make([]*channel, 0, len(fs.channels))
	for _, c := range fs.channels {
		chans = append(chans, c)
	}
	fs.mu.Unlock()

	fs.cancel()
	err := fs.ln.Close()
	for _, c := range chans {
		c.kill("SYSTEM_SHUTDOWN", hungUpByFS)
	}
	// kill_all_listeners: every socket gets a goodbye and is closed.
	for _, l := range fs.openListeners() {
		l.shutdown("The system is being shut down.\n")
	}
	done := make(chan struct{})
	go func() {
		fs.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(closeGrace):
		// A peer that stopped reading keeps its writer blocked: cut it off.
		for _, l := range fs.openListeners() {
			l.conn.Close()
		}
		<-done
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close the inbound event socket: %w", err)
	}
	return nil
}

// closeGrace is how long Close lets sockets flush their goodbye.
const closeGrace = 2 * time.Second

func (fs *FS) openListeners() []*listener {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make([]*listener, 0, len(fs.listeners))
	for l := range fs.listeners {
		out = append(out, l)
	}
	return out
}

func (fs *FS) isClosed() bool {
	select {
	case <-fs.done:
		return true
	default:
		return false
	}
}

// scale turns a real-time duration into emulator time.
func (fs *FS) scale(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(float64(d) / fs.speed)
}

// Endpoint is what a dial target does when a bridge or originate rings it.
type Endpoint struct {
	// Answer answers after RingFor. If false and Cause is "", the target
	// rings until the attempt's timeout and the attempt ends NO_ANSWER.
	Answer  bool
	RingFor time.Duration
	// Cause fails the attempt at once with this hangup cause: USER_BUSY,
	// CALL_REJECTED, NORMAL_TEMPORARY_FAILURE, USER_NOT_REGISTERED …
	Cause string
	// TalkFor hangs the answered target up after this long; 0 keeps it
	// until the other side ends the call.
	TalkFor time.Duration
}

// Answers answers after ringing for d.
func Answers(after time.Duration) Endpoint { return Endpoint{Answer: true, RingFor: after} }

// NoAnswer rings until the attempt times out (NO_ANSWER).
func NoAnswer() Endpoint { return Endpoint{} }

// Busy fails at once with USER_BUSY (SIP 486).
func Busy() Endpoint { return Endpoint{Cause: "USER_BUSY"} }

// Rejects fails at once with CALL_REJECTED (SIP 603).
func Rejects() Endpoint { return Endpoint{Cause: "CALL_REJECTED"} }

// Unreachable fails at once with NORMAL_TEMPORARY_FAILURE (SIP 503, as a
// phone that does not answer the INVITE at all).
func Unreachable() Endpoint { return Endpoint{Cause: "NORMAL_TEMPORARY_FAILURE"} }

// SetEndpoint tells what the dial target does, target being the dial
// string without {…}/[…] prefixes, e.g. "user/2001" (which also serves
// "user/2001@domain"). A user/ target with no endpoint fails
// USER_NOT_REGISTERED; any other unknown target fails
// NORMAL_TEMPORARY_FAILURE. Registration is not required to answer: it only
// gives the agent leg its presence realm.
func (fs *FS) SetEndpoint(target string, e Endpoint) {
	fs.mu.Lock()
	fs.endpoints[strings.TrimSpace(target)] = e
	fs.mu.Unlock()
}

func (fs *FS) endpoint(target string) Endpoint {
	fs.mu.Lock()
	e, ok := fs.endpoints[target]
	if !ok && hasPrefixFold(target, "user/") {
		// user/2001@pbx.local falls back to an endpoint set for user/2001.
		if user, _, found := strings.Cut(target, "@"); found {
			e, ok = fs.endpoints[user]
		}
	}
	fs.mu.Unlock()
	if ok {
		return e
	}
	if hasPrefixFold(target, "user/") {
		return Endpoint{Cause: "USER_NOT_REGISTERED"}
	}
	return Unreachable()
}

// InboundCommands returns the first line of every command received on the
// inbound event socket, in order (e.g. "api chat sip|…").
func (fs *FS) InboundCommands() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string(nil), fs.inboundCmds...)
}

func (fs *FS) recordInbound(line string) {
	fs.mu.Lock()
	fs.inboundCmds = append(fs.inboundCmds, line)
	fs.mu.Unlock()
}

func (fs *FS) addChannel(c *channel) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closed {
		return ErrClosed
	}
	fs.channels[c.uuid] = c
	fs.order = append(fs.order, c)
	if n := int64(len(fs.channels)); n > fs.peak.Load() {
		fs.peak.Store(n)
	}
	return nil
}

func (fs *FS) removeChannel(c *channel) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	delete(fs.channels, c.uuid)
	for i, o := range fs.order {
		if o == c {
			fs.order = append(fs.order[:i], fs.order[i+1:]...)
			break
		}
	}
}

func (fs *FS) lookup(uuid string) *channel {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.channels[uuid]
}

func (fs *FS) channelList() []*channel {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]*channel(nil), fs.order...)
}

// goroutine runs f as an emulator goroutine that Close waits for; once
// Close has begun it starts nothing and returns false.
func (fs *FS) goroutine(f func()) bool {
	fs.mu.Lock()
	if fs.closed {
		fs.mu.Unlock()
		return false
	}
	fs.wg.Add(1)
	fs.mu.Unlock()
	go func() {
		defer fs.wg.Done()
		f()
	}()
	return true
}

// afterFunc runs f after d unless stopped or the emulator closes first;
// Close waits for a running f.
func (fs *FS) afterFunc(d time.Duration, f func()) (stop func()) {
	t := time.NewTimer(d)
	cancel := make(chan struct{})
	var once sync.Once
	started := fs.goroutine(func() {
		select {
		case <-t.C:
			f()
		case <-cancel:
			t.Stop()
		case <-fs.done:
			t.Stop()
		}
	})
	if !started {
		t.Stop()
	}
	return func() { once.Do(func() { close(cancel) }) }
}

var regexCache sync.Map // string -> *regexp.Regexp (nil when invalid)

// regexMatch is switch_regex_match: an unanchored PCRE search.
func regexMatch(expr, s string) bool {
	v, ok := regexCache.Load(expr)
	if !ok {
		re, err := regexp.Compile(expr)
		if err != nil {
			re = nil
		}
		v, _ = regexCache.LoadOrStore(expr, re)
	}
	re, _ := v.(*regexp.Regexp)
	return re != nil && re.MatchString(s)
}

// dial dials the application's outbound listener like the socket
// application does.
func (fs *FS) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if fs.opts.SourceAddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(fs.opts.SourceAddr)}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(fs.ctx, cancel)
	defer stop()
	conn, err := d.DialContext(ctx, "tcp", fs.opts.Outbound)
	if err != nil {
		return nil, fmt.Errorf("dial the outbound socket %s: %w", fs.opts.Outbound, err)
	}
	return conn, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
