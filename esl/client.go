package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/percipia/eslgo"
)

// ClientOptions configures an inbound event-socket Client. Zero values
// take the documented defaults.
type ClientOptions struct {
	// Addr is FreeSWITCH's event socket, e.g. "127.0.0.1:8021".
	Addr string
	// Password is the event socket's password. Default "ClueCon".
	Password string
	Logger   *slog.Logger // default: discard
	// Handler receives events; nil ignores them.
	Handler EventHandler
	// ReconnectMin and ReconnectMax bound the exponential back-off between
	// connection attempts. Defaults 100ms and 10s.
	ReconnectMin, ReconnectMax time.Duration
	// CommandTimeout bounds each command's reply when the caller's context
	// has no earlier deadline; a command without a reply drops the
	// connection, which is then made again. Default 5s.
	CommandTimeout time.Duration
}

// EventHandler consumes the client's events. Its methods are called one at
// a time, on one goroutine, and should not block for long.
type EventHandler interface {
	// Connected is called after every (re)connection, once subscribed:
	// events may have been missed, so reconcile here.
	Connected(ctx context.Context)
	RegistrationChanged(ctx context.Context, r Registration)
	ChannelChanged(ctx context.Context, c ChannelEvent)
}

// ChatMessage is a message sent with FreeSWITCH's chat api (a SIP MESSAGE
// for proto "sip"). Proto defaults to "sip", ContentType to "text/plain".
type ChatMessage struct {
	Proto, From, To, Body, ContentType string
}

// Originate describes a call placed by FreeSWITCH. The answered leg runs
// App(AppArg) if App is set, else it is sent to Extension in Dialplan
// (default "XML") and Context (default "default").
type Originate struct {
	Target       string            // dial string without {vars}, e.g. "user/2001"
	Vars         map[string]string // {vars} of the new leg, sent literally
	Timeout      time.Duration     // originate_timeout; 0: FreeSWITCH's default
	CallerNumber string            // origination_caller_id_number
	CallerName   string            // origination_caller_id_name
	App, AppArg  string
	Extension    string
	Dialplan     string
	Context      string
}

// Client is an inbound event-socket client: events about registrations and
// channels, and api commands.
type Client struct {
	opts    ClientOptions
	log     *slog.Logger
	running atomic.Bool

	cmdMu sync.Mutex // one command on the wire at a time

	mu    sync.Mutex
	cur   *inboundConn
	queue *eventQueue           // of the current Run
	jobs  map[string]chan Event // Job-UUID → its BACKGROUND_JOB

}

// inboundConn is one connection of the client.
type inboundConn struct {
	c    *eslgo.Conn
	gate *gate
	gen  uint64
	lost chan struct{}
	once sync.Once
}

// drop closes eslgo's connection, then the gate behind it (in that order,
// so eslgo never reads an EOF).
func (ic *inboundConn) drop() {
	ic.once.Do(func() { close(ic.lost) })
	ic.c.Close()
	ic.gate.close()
	ic.gate.wait()
}

// Defaults of ClientOptions.
const (
	DefaultReconnectMin = 100 * time.Millisecond
	DefaultReconnectMax = 10 * time.Second
)

// NewClient returns a client; Run connects it.
func NewClient(opts ClientOptions) *Client {
	if opts.Password == "" {
		opts.Password = "ClueCon"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = DefaultReconnectMin
	}
	if opts.ReconnectMax < opts.ReconnectMin {
		opts.ReconnectMax = max(DefaultReconnectMax, opts.ReconnectMin)
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = defaultCommandTimeout
	}
	return &Client{opts: opts, log: opts.Logger, jobs: make(map[string]chan Event)}
}

// Run connects, subscribes, hands events to the handler and reconnects
// with exponential back-off, until ctx ends; it then returns nil.
func (c *Client) Run(ctx context.Context) error {
	if c.running.Swap(true) {
		return errors.New("esl client: Run called twice")
	}
	defer c.running.Store(false)
	q := newEventQueue()
	c.mu.Lock()
	c.queue = q
	c.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { c.dispatch(ctx, q) })
	defer wg.Wait()
	defer q.close()

	backoff := c.opts.ReconnectMin
	var gen uint64
	for {
		gen++
		ic, err := c.connect(ctx, gen, q)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.log.Warn("esl event socket connect failed", "addr", c.opts.Addr, "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, c.opts.ReconnectMax)
			continue
		}
		c.log.Info("esl event socket connected", "addr", c.opts.Addr)
		up := time.Now()
		q.push(queued{gen: gen, connected: true})
		select {
		case <-ctx.Done():
			c.setCurrent(nil)
			ic.drop()
			return nil
		case <-ic.lost:
			c.setCurrent(nil)
			ic.drop()
		}
		// A connection that lasted is a fresh start; one dropped at once
		// (a FreeSWITCH closing every session) backs off like a failed
		// connect, rather than reconnecting in a tight loop.
		if time.Since(up) > c.opts.ReconnectMax {
			backoff = c.opts.ReconnectMin
		}
		c.log.Warn("esl event socket disconnected", "addr", c.opts.Addr, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, c.opts.ReconnectMax)
	}
}

// connect dials, authenticates and subscribes.
func (c *Client) connect(ctx context.Context, gen uint64, q *eventQueue) (*inboundConn, error) {
	ic := &inboundConn{gen: gen, lost: make(chan struct{})}
	g, err := openGate(ctx, c.opts.Addr, c.opts.CommandTimeout)
	if err != nil {
		return nil, err
	}
	lose := func() { ic.once.Do(func() { close(ic.lost) }) }
	opts := eslgo.InboundOptions{
		Options:      eslgo.Options{Context: context.Background(), Logger: &eslgoLogger{log: c.log}, ExitTimeout: time.Second},
		Network:      "unix",
		Password:     c.opts.Password,
		OnDisconnect: lose,
		AuthTimeout:  c.opts.CommandTimeout,
	}
	// eslgo waits for auth/request without a deadline; the attempt is
	// abandoned (and its connection closed when it ends) rather than
	// waited for.
	ch := make(chan dialResult, 1)
	go func() {
		conn, err := opts.Dial(g.addr)
		ch <- dialResult{conn, err}
	}()
	timer := time.NewTimer(2 * c.opts.CommandTimeout)
	defer timer.Stop()
	select {
	case d := <-ch:
		if d.err != nil {
			g.close()
			return nil, fmt.Errorf("dial %s: %w", c.opts.Addr, d.err)
		}
		g.authenticated()
		ic.c, ic.gate = d.conn, g
	case <-ctx.Done():
		go closeWhenDialed(ch, g)
		return nil, ctx.Err()
	case <-timer.C:
		go closeWhenDialed(ch, g)
		return nil, fmt.Errorf("dial %s: no answer within %s", c.opts.Addr, 2*c.opts.CommandTimeout)
	}
	// FreeSWITCH leaving is learnt from the gate, eslgo being kept from it.
	go func() {
		<-g.gone
		lose()
	}()
	ic.c.RegisterEventListener(eslgo.EventListenAll, func(ev *eslgo.Event) {
		c.onEvent(q, gen, Event{h: ev.Headers, body: ev.Body})
	})
	c.setCurrent(ic)
	reply, err := c.send(ctx, ic, rawCommand(inboundSubscription), "event")
	if err == nil && !strings.HasPrefix(reply, "+OK") {
		err = fmt.Errorf("subscribe: %q: %w", reply, ErrFailed)
	}
	if err != nil {
		c.setCurrent(nil)
		ic.drop()
		return nil, err
	}
	return ic, nil
}

// dialResult is the outcome of eslgo's Dial.
type dialResult struct {
	conn *eslgo.Conn
	err  error
}

// closeWhenDialed closes the connection of an abandoned dial attempt, then
// its gate.
func closeWhenDialed(ch <-chan dialResult, g *gate) {
	g.fs.Close() // ends eslgo's wait for auth/request
	if d := <-ch; d.conn != nil {
		d.conn.Close()
	}
	g.close()
}

// Connected reports whether the client is connected and subscribed now.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil
}

// DroppedEvents is how many events were dropped because the handler fell
// too far behind (each drop is followed by a reconciliation).
func (c *Client) DroppedEvents() uint64 {
	c.mu.Lock()
	q := c.queue
	c.mu.Unlock()
	if q == nil {
		return 0
	}
	return q.droppedEvents()
}

func (c *Client) setCurrent(ic *inboundConn) {
	c.mu.Lock()
	c.cur = ic
	c.mu.Unlock()
}

func (c *Client) current() (*inboundConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return nil, fmt.Errorf("event socket %s not connected: %w", c.opts.Addr, ErrClosed)
	}
	return c.cur, nil
}

// send writes one command and waits for its reply until ctx's deadline or
// CommandTimeout, whichever is sooner, but not for ctx's cancellation: an
// abandoned reply would be matched to the next command. A command without
// a reply drops the connection (Run connects again).
func (c *Client) send(ctx context.Context, ic *inboundConn, cmd command, what string) (string, error) {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	deadline := time.Now().Add(c.opts.CommandTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	rctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	raw, err := ic.c.SendCommand(rctx, cmd)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			c.log.Error("esl event socket command got no reply; reconnecting", "command", what)
			ic.drop()
			return "", fmt.Errorf("%s: no reply in time: %w", what, ErrPoisoned)
		}
		// Anything else means the connection is broken. eslgo reports a
		// clean EOF itself, but stops reading silently after any other
		// read error (a reset), so the client would stay on a dead
		// connection. Closing it at once could race with eslgo's own
		// handling of EOF, which may then panic; a second later that is
		// over, and closing an already closed connection is a no-op.
		time.AfterFunc(time.Second, ic.drop)
		return "", fmt.Errorf("%s: %w: %w", what, ErrClosed, err)
	}
	return replyText(raw), nil
}

// API runs an api command and returns its output; output starting with
// -ERR is returned as an error wrapping ErrFailed.
func (c *Client) API(ctx context.Context, cmd string) (string, error) {
	if strings.ContainsAny(cmd, "\r\n") {
		return "", fmt.Errorf("api: line break in command: %w", ErrInvalidArgument)
	}
	ic, err := c.current()
	if err != nil {
		return "", fmt.Errorf("api %s: %w", apiName(cmd), err)
	}
	out, err := c.send(ctx, ic, rawCommand("api "+cmd), "api "+apiName(cmd))
	if err != nil {
		return "", err
	}
	return out, refusal("api", cmd, out)
}

// refusal is the error an api command's output reports ("-ERR …"), or nil.
func refusal(how, cmd, out string) error {
	if strings.HasPrefix(out, "-ERR") {
		return fmt.Errorf("%s %s: %s: %w", how, apiName(cmd), strings.TrimSpace(out), ErrFailed)
	}
	return nil
}

// apiName is the command word, for errors and logs (arguments may carry
// numbers that must not be logged).
func apiName(cmd string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(cmd), " ")
	return name
}

// BgAPI starts an api command in the background and returns its Job-UUID.
func (c *Client) BgAPI(ctx context.Context, cmd string) (string, error) {
	job := uuid.NewString()
	if err := c.bgapi(ctx, cmd, job); err != nil {
		return "", err
	}
	return job, nil
}

func (c *Client) bgapi(ctx context.Context, cmd, job string) error {
	if strings.ContainsAny(cmd, "\r\n") {
		return fmt.Errorf("bgapi: line break in command: %w", ErrInvalidArgument)
	}
	ic, err := c.current()
	if err != nil {
		return fmt.Errorf("bgapi %s: %w", apiName(cmd), err)
	}
	reply, err := c.send(ctx, ic, bgapiCommand{Cmd: cmd, JobUUID: job}, "bgapi "+apiName(cmd))
	if err != nil {
		return err
	}
	if !strings.HasPrefix(reply, "+OK") {
		return fmt.Errorf("bgapi %s: %q: %w", apiName(cmd), reply, ErrFailed)
	}
	return nil
}

// Chat sends a message with FreeSWITCH's chat api (a SIP MESSAGE for
// "sip"). It runs as a background job: chat waits for the phone's answer to
// the MESSAGE (up to 20 s), and an api command would hold the event socket,
// and every event on it, that long.
func (c *Client) Chat(ctx context.Context, m ChatMessage) error {
	if m.Proto == "" {
		m.Proto = "sip"
	}
	if m.ContentType == "" {
		m.ContentType = "text/plain"
	}
	arg, err := pipeArgs(m.Proto, m.From, m.To, m.Body, m.ContentType)
	if err != nil {
		return fmt.Errorf("chat: %w", err)
	}
	out, err := c.job(ctx, "chat "+arg)
	if err != nil {
		return fmt.Errorf("chat to %s: %w", m.To, err)
	}
	if strings.TrimSpace(out) != "Sent" {
		return fmt.Errorf("chat to %s: %q: %w", m.To, strings.TrimSpace(out), ErrFailed)
	}
	return nil
}

// job runs cmd as a background job and returns its output (the body of its
// BACKGROUND_JOB), waiting until ctx ends.
func (c *Client) job(ctx context.Context, cmd string) (string, error) {
	job := uuid.NewString()
	result := make(chan Event, 1)
	c.mu.Lock()
	c.jobs[job] = result
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.jobs, job)
		c.mu.Unlock()
	}()
	if err := c.bgapi(ctx, cmd, job); err != nil {
		return "", err
	}
	select {
	case ev := <-result:
		return ev.Body(), nil
	case <-ctx.Done():
		return "", fmt.Errorf("%s: %w", apiName(cmd), ctx.Err())
	}
}

// Originate places a call and returns its UUID once it is answered, or an
// error wrapping ErrFailed with FreeSWITCH's cause. It runs as a
// background job, so other commands are not held up meanwhile.
func (c *Client) Originate(ctx context.Context, o Originate) (string, error) {
	id := uuid.NewString()
	vars := map[string]string{"origination_uuid": id}
	for k, v := range o.Vars {
		vars[k] = v
	}
	if o.CallerNumber != "" {
		vars["origination_caller_id_number"] = o.CallerNumber
	}
	if o.CallerName != "" {
		vars["origination_caller_id_name"] = o.CallerName
	}
	if o.Timeout > 0 {
		vars["originate_timeout"] = fmt.Sprint(int((o.Timeout + time.Second - 1) / time.Second))
	}
	dial, err := dialString(o.Target, vars, 0)
	if err != nil {
		return "", fmt.Errorf("originate: %w", err)
	}
	cmd := "originate " + dial + " "
	switch {
	case o.App != "":
		if !validName(o.App) || strings.ContainsAny(o.AppArg, ")\r\n") {
			return "", fmt.Errorf("originate: application %q: %w", o.App, ErrInvalidArgument)
		}
		cmd += "&" + o.App + "(" + o.AppArg + ")"
	case o.Extension != "":
		dp, cx := o.Dialplan, o.Context
		if dp == "" {
			dp = "XML"
		}
		if cx == "" {
			cx = "default"
		}
		if strings.ContainsAny(o.Extension+dp+cx, " \r\n") {
			return "", fmt.Errorf("originate: extension: %w", ErrInvalidArgument)
		}
		cmd += o.Extension + " " + dp + " " + cx
	default:
		return "", fmt.Errorf("originate: no application or extension: %w", ErrInvalidArgument)
	}

	out, err := c.job(ctx, cmd)
	if err != nil {
		return "", fmt.Errorf("originate to %s: %w", o.Target, err)
	}
	out = strings.TrimSpace(out)
	if !strings.HasPrefix(out, "+OK") {
		return "", fmt.Errorf("originate to %s: %s: %w", o.Target, out, ErrFailed)
	}
	if got := strings.TrimSpace(strings.TrimPrefix(out, "+OK")); got != "" {
		return got, nil
	}
	return id, nil
}

// Registrations lists the registrations FreeSWITCH holds.
func (c *Client) Registrations(ctx context.Context) ([]Registration, error) {
	out, err := c.show(ctx, "show registrations as json")
	if err != nil {
		return nil, err
	}
	return parseRegistrations(out, time.Now())
}

// Channels lists FreeSWITCH's channels.
func (c *Client) Channels(ctx context.Context) ([]ChannelInfo, error) {
	out, err := c.show(ctx, "show channels as json")
	if err != nil {
		return nil, err
	}
	return parseChannels(out)
}

// show runs a listing as a background job. With thousands of channels a
// busy FreeSWITCH can take seconds over one; as an api command it held up
// every other command meanwhile, and past the command timeout the event
// socket was dropped and reconnected (seen in the bench at saturation). A
// job that outlasts ctx only skips this listing.
func (c *Client) show(ctx context.Context, cmd string) (string, error) {
	out, err := c.job(ctx, cmd)
	if err != nil {
		return "", err
	}
	if err := refusal("bgapi", cmd, out); err != nil {
		return "", err
	}
	return out, nil
}

// onEvent takes an event from eslgo (a goroutine per event) without
// blocking.
func (c *Client) onEvent(q *eventQueue, gen uint64, ev Event) {
	if ev.Name() == "BACKGROUND_JOB" {
		c.mu.Lock()
		ch := c.jobs[ev.Get("Job-UUID")]
		c.mu.Unlock()
		if ch != nil {
			select {
			case ch <- ev:
			default:
			}
		}
		return
	}
	q.push(queuedEvent(gen, ev))
}

// dispatch hands queued events to the handler in one goroutine. eslgo
// loses their order, so an event older (by Event-Sequence) than one
// already handled for the same registration or channel is dropped.
func (c *Client) dispatch(ctx context.Context, q *eventQueue) {
	h := c.opts.Handler
	var gen uint64
	newest := map[string]uint64{}
	sincePrune := 0
	for {
		item, ok := q.pop()
		if !ok {
			return
		}
		if item.gen != gen {
			// A new connection, perhaps to a restarted FreeSWITCH whose
			// sequence numbers start again.
			gen = item.gen
			clear(newest)
		}
		if h == nil {
			continue
		}
		if item.connected {
			// Also queued after events were dropped: what they said is
			// only known again by asking FreeSWITCH.
			h.Connected(ctx)
			continue
		}
		key := item.key
		deliver := func() { h.ChannelChanged(ctx, *item.ch) }
		if item.reg != nil {
			deliver = func() { h.RegistrationChanged(ctx, *item.reg) }
		}
		if seq := item.seq; seq != 0 {
			if seq < newest[key] {
				continue
			}
			newest[key] = seq
			// Pruning walks the whole map: at most once every
			// maxTrackedEntities events, or a busy FreeSWITCH, whose
			// window holds tens of thousands of channels, would have
			// every event pay for all of them.
			sincePrune++
			if len(newest) > maxTrackedEntities && sincePrune >= maxTrackedEntities {
				sincePrune = 0
				for k, s := range newest {
					if s+trackedWindow < seq {
						delete(newest, k)
					}
				}
			}
		}
		deliver()
	}
}

// Reordering by eslgo spans a few events; entities not heard of for
// trackedWindow events are forgotten once more than maxTrackedEntities are
// tracked.
const (
	maxTrackedEntities = 4096
	trackedWindow      = 100000
)

// queued is one item of the dispatch queue: a connection, or an event
// already reduced to what the handler is given (events are 5–20 KB).
type queued struct {
	gen       uint64
	connected bool
	seq       uint64
	key       string // the registration or channel the event is about
	reg       *Registration
	ch        *ChannelEvent
}

// queuedEvent reduces an event to its queue item.
func queuedEvent(gen uint64, ev Event) queued {
	it := queued{gen: gen, seq: ev.Sequence()}
	if r, ok := registrationFromEvent(ev); ok {
		it.key, it.reg = "reg "+r.User+"@"+r.Realm, &r
	} else {
		ch := channelFromEvent(ev)
		it.key, it.ch = "chan "+ch.UUID, &ch
	}
	return it
}

// maxQueued bounds the dispatch queue: a handler stuck on a slow Redis
// must not let a busy switch's events pile up without end.
const maxQueued = 10000

// eventQueue is a bounded FIFO: pushing never blocks eslgo. When it is
// full, events are dropped (and counted); once there is room again a
// "connected" item is queued, so the handler reconciles with FreeSWITCH.
type eventQueue struct {
	mu      sync.Mutex
	items   []queued
	signal  chan struct{}
	closed  bool
	dropped uint64 // in total
	lost    bool   // events were dropped since the last resync
}

func newEventQueue() *eventQueue { return &eventQueue{signal: make(chan struct{}, 1)} }

func (q *eventQueue) push(it queued) {
	q.mu.Lock()
	switch {
	case q.closed:
	case len(q.items) >= maxQueued && !it.connected:
		q.dropped++
		q.lost = true
	default:
		if q.lost && len(q.items) < maxQueued/2 {
			q.lost = false
			q.items = append(q.items, queued{gen: it.gen, connected: true})
		}
		q.items = append(q.items, it)
	}
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// droppedEvents is how many events were dropped because the queue was full.
func (q *eventQueue) droppedEvents() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.items = nil
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// pop waits for the next item; false once the queue is closed.
func (q *eventQueue) pop() (queued, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return queued{}, false
		}
		if len(q.items) > 0 {
			it := q.items[0]
			q.items[0] = queued{}
			q.items = q.items[1:]
			q.mu.Unlock()
			return it, true
		}
		q.mu.Unlock()
		<-q.signal
	}
}
