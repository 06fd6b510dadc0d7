package fstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// HangUp as a CallSpec.Input entry makes the caller hang up during that
// digit-collection try.
const HangUp = "\x00hangup"

// CallSpec scripts a caller.
type CallSpec struct {
	Caller, CallerName string
	// Destination is the dialled number; "" means "9000".
	Destination string
	// Vars are dialplan variables set before the socket application;
	// socket_resume=true unless Vars sets socket_resume (to "" to leave
	// it out, like the captures' 9001 extension).
	Vars map[string]string
	// Input is what the caller keys at each successive digit-collection
	// try: "123#" presses 1, 2, 3, #; "" stays silent (the try times out);
	// HangUp hangs up during the try. Tries beyond Input are silent.
	Input []string
	// HangupAfter hangs the caller up this long (before Speed) after the
	// application's "connect"; 0 never.
	HangupAfter time.Duration
	// HangupOnApp hangs the caller up when the HangupOnAppN-th execution
	// (1 when 0) of this application starts.
	HangupOnApp  string
	HangupOnAppN int

	// ack places the caller's ACK to the 200 OK; tests use it to
	// reproduce the timing a capture shows.
	ack ackPoint
}

// ackPoint is when the caller's ACK to the answer's 200 OK is processed.
// It sets the sip_to_tag … sip_full_to variables, whose position among
// the channel variables depends on it.
type ackPoint int

const (
	ackOnAnswer      ackPoint = iota // right after the answer, before its EXECUTE_COMPLETE
	ackBeforeNextApp                 // before the next sendmsg after the answer is executed
	ackDuringNextApp                 // while the next application after the answer runs
)

// AppExec is one application execution on a call.
type AppExec struct {
	Name, Arg, Response string
	Start, End          time.Time
}

// BridgeAttempt is one execution of the bridge application.
type BridgeAttempt struct {
	Target      string // dial string without its {…} block
	Vars        map[string]string
	Disposition string // originate_disposition
	Answered    bool
	Start       time.Time
	AnsweredAt  time.Time
	End         time.Time
}

// CallResult is what happened on a call.
type CallResult struct {
	UUID, HangupCause string
	// HungUpBy is "caller", "app" (sendmsg hangup, uuid_kill, the socket
	// closed without socket_resume), "agent" (the agent's hang-up ended the
	// call) or "fs" (FreeSWITCH itself: a failed bridge, an unknown
	// application, the dialplan after socket_resume, shutdown).
	HungUpBy             string
	Answered, Resumed    bool
	ConnectedAt, EndedAt time.Time
	Apps                 []AppExec
	Bridges              []BridgeAttempt
	Commands             []string // first line of every command the application sent
	BytesToApp           int64
	BytesFromApp         int64
}

// Call is one scripted call in progress.
type Call struct {
	fs   *FS
	spec CallSpec
	ch   *channel

	socketAppUUID string
	socketData    string

	priv mailbox[*command]
	sig  mailbox[signal]

	// Owned by the session goroutine.
	lock          int // nesting depth of event-locked commands
	appCounts     map[string]int
	inputIdx      int
	pendingAck    bool
	ackArmed      bool
	ackApplied    bool
	nestedHangup  bool // the hang-up was executed by this session thread
	lingerOnHang  bool // the linger notice goes right after CHANNEL_HANGUP
	lingerSent    bool
	bridge        *bridgeState
	stopHangupArm func()

	mu          sync.Mutex
	lis         *listener
	res         CallResult
	socketGone  bool
	resumeClose bool
	chanGone    bool
	done        chan struct{}
}

type sigKind int

const (
	sigConnected sigKind = iota
	sigHangup
	sigSocketClosed
	sigBreak
	sigWake
)

type signal struct {
	kind  sigKind
	cause string
	by    string
	all   bool
}

// mailbox is an unbounded queue with a wake-up channel; pushing never
// blocks.
type mailbox[T any] struct {
	mu     sync.Mutex
	items  []T
	notify chan struct{}
}

func (m *mailbox[T]) init() { m.notify = make(chan struct{}, 1) }

func (m *mailbox[T]) push(v T) {
	m.mu.Lock()
	m.items = append(m.items, v)
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

func (m *mailbox[T]) pop() (T, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var zero T
	if len(m.items) == 0 {
		return zero, false
	}
	v := m.items[0]
	m.items[0] = zero
	m.items = m.items[1:]
	return v, true
}

func (m *mailbox[T]) clear() {
	m.mu.Lock()
	m.items = nil
	m.mu.Unlock()
}

// Call places a call: it creates the caller's channel and dials the
// application's outbound socket like the socket application; ctx bounds
// that dialling only. If the application cannot be reached the dialplan
// fallback runs and the result shows Resumed. The call then runs by
// itself; Wait returns its result.
func (fs *FS) Call(ctx context.Context, spec CallSpec) (*Call, error) {
	if fs.isClosed() {
		return nil, ErrClosed
	}
	if spec.Destination == "" {
		spec.Destination = "9000"
	}
	if spec.Caller == "" {
		return nil, errors.New("fstest: CallSpec.Caller is empty")
	}
	k := &Call{fs: fs, spec: spec, appCounts: make(map[string]int), done: make(chan struct{})}
	k.priv.init()
	k.sig.init()
	k.ch = fs.newCallerChannel(k)
	k.ch.killFn = func(cause, by string) { k.sig.push(signal{kind: sigHangup, cause: cause, by: by}) }
	k.res.UUID = k.ch.uuid
	if err := fs.addChannel(k.ch); err != nil {
		return nil, err
	}
	fs.sessions.Add(1)
	k.ch.mu.Lock()
	k.ch.fireLocked(eventOpts{name: "CHANNEL_CREATE", site: siteCreate})
	k.ch.mu.Unlock()
	fs.goroutine(func() { k.run(ctx) })
	return k, nil
}

// UUID is the caller channel's UUID.
func (k *Call) UUID() string { return k.ch.uuid }

// Wait blocks until the channel is gone and its socket closed, then returns
// the call's result.
func (k *Call) Wait(ctx context.Context) (*CallResult, error) {
	select {
	case <-k.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for call %s: %w", k.ch.uuid, ctx.Err())
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	res := k.res
	res.Apps = append([]AppExec(nil), k.res.Apps...)
	res.Bridges = append([]BridgeAttempt(nil), k.res.Bridges...)
	res.Commands = append([]string(nil), k.res.Commands...)
	if k.lis != nil {
		res.BytesToApp = k.lis.bytesOut.Load()
		res.BytesFromApp = k.lis.bytesIn.Load()
	}
	return &res, nil
}

func (k *Call) recordCommand(line string) {
	k.mu.Lock()
	k.res.Commands = append(k.res.Commands, line)
	k.mu.Unlock()
}

func (k *Call) connected() {
	k.mu.Lock()
	k.res.ConnectedAt = time.Now()
	k.mu.Unlock()
	k.sig.push(signal{kind: sigConnected})
}

func (k *Call) queueMessage(cmd *command) { k.priv.push(cmd) }

// wake makes a bridge in progress look at its legs again.
func (k *Call) wake() { k.sig.push(signal{kind: sigWake}) }

func (k *Call) socketClosed(resume bool) {
	k.mu.Lock()
	k.socketGone = true
	k.resumeClose = resume
	k.maybeDoneLocked()
	k.mu.Unlock()
	k.sig.push(signal{kind: sigSocketClosed})
}

func (k *Call) isSocketGone() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.socketGone
}

func (k *Call) maybeDoneLocked() {
	if k.chanGone && (k.socketGone || k.lis == nil) {
		select {
		case <-k.done:
		default:
			close(k.done)
		}
	}
}

// run is the caller channel's session thread: the socket application
// connecting, parking, executing what the application sends, and the end
// of the channel.
func (k *Call) run(ctx context.Context) {
	fs := k.fs
	conn, err := fs.dial(ctx)
	if err != nil {
		fs.log.Debug("outbound socket unreachable, dialplan fallback runs", "call_uuid", k.ch.uuid, "err", err)
		k.fallback()
		return
	}
	l := newListener(fs, conn)
	l.outbound = true
	l.authed = true
	l.call = k
	l.session = k.ch
	k.mu.Lock()
	k.lis = l
	k.mu.Unlock()
	if !l.start() {
		k.mu.Lock()
		k.socketGone = true
		k.mu.Unlock()
	}

	if k.waitConnected() {
		k.armCallerScript()
		k.park()
	}
	k.finish()
}

// fallback ends a call whose application could not be reached: the
// dialplan continues after the socket application and hangs up.
func (k *Call) fallback() {
	k.mu.Lock()
	k.res.Resumed = true
	k.mu.Unlock()
	k.ch.mu.Lock()
	k.hangupLocked("NORMAL_CLEARING", hungUpByFS, false)
	k.ch.reportLocked(time.Now())
	k.ch.mu.Unlock()
	k.destroy()
}

// connectTimeout is how long the socket application waits for "connect"
// (read_packet's 25 s in mod_event_socket's listener_run).
const connectTimeout = 25 * time.Second

// waitConnected waits for the application's "connect"; false if the
// socket or the channel went away first, or the application never said it.
func (k *Call) waitConnected() bool {
	timeout := time.NewTimer(connectTimeout)
	defer timeout.Stop()
	for {
		for {
			s, ok := k.sig.pop()
			if !ok {
				break
			}
			switch s.kind {
			case sigConnected:
				return true
			case sigSocketClosed:
				return false
			case sigHangup:
				k.ch.mu.Lock()
				k.hangupLocked(normalizeCause(s.cause), s.by, true)
				k.ch.mu.Unlock()
				return false
			}
		}
		select {
		case <-k.sig.notify:
		case <-timeout.C:
			k.mu.Lock()
			l := k.lis
			k.mu.Unlock()
			l.shutdown("Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")
			return false
		case <-k.fs.done:
			return false
		}
	}
}

// armCallerScript starts the caller's own hang-up timer.
func (k *Call) armCallerScript() {
	if k.spec.HangupAfter > 0 {
		k.stopHangupArm = k.fs.afterFunc(k.fs.scale(k.spec.HangupAfter), func() {
			k.sig.push(signal{kind: sigHangup, cause: "NORMAL_CLEARING", by: hungUpByCaller})
		})
	}
}

// park is switch_ivr_park under the async socket application: it executes
// queued messages until the channel is down or the socket is gone.
func (k *Call) park() {
	for {
		k.handleSignals()
		if k.ch.isDown() {
			return
		}
		// Messages queued before the socket closed still run: the
		// application sent them first.
		if cmd, ok := k.priv.pop(); ok {
			k.parseEvent(cmd)
			continue
		}
		if k.isSocketGone() {
			return
		}
		select {
		case <-k.priv.notify:
		case <-k.sig.notify:
		case <-k.fs.done:
			k.shutdown()
		}
	}
}

// shutdown hangs the caller up because the emulator is closing.
func (k *Call) shutdown() {
	k.ch.mu.Lock()
	k.hangupLocked("SYSTEM_SHUTDOWN", hungUpByFS, true)
	k.ch.mu.Unlock()
}

func (c *channel) isDown() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.down
}

// handleSignals applies pending signals; it reports a uuid_break and a
// wake-up for the bridge.
func (k *Call) handleSignals() (brk, wake bool) {
	for {
		s, ok := k.sig.pop()
		if !ok {
			return brk, wake
		}
		switch s.kind {
		case sigHangup:
			k.ch.mu.Lock()
			if s.by == hungUpByCaller {
				k.callerHangupLocked()
			} else {
				k.hangupLocked(normalizeCause(s.cause), s.by, true)
			}
			k.ch.mu.Unlock()
		case sigBreak:
			brk = true
			if s.all {
				k.priv.clear()
			}
		case sigWake:
			wake = true
		}
	}
}

// callerHangupLocked is the caller's BYE: mod_sofia records the SIP
// termination, the channel hangs up, then the BYE's disposition is set.
func (k *Call) callerHangupLocked() {
	c := k.ch
	if c.down {
		return
	}
	c.vars.set("sip_term_status", "200")
	c.vars.set("proto_specific_hangup_cause", "sip:200")
	c.vars.set("sip_term_cause", "16")
	if k.bridge != nil && k.bridge.bridged {
		c.vars.set("last_bridge_role", "originator")
	}
	k.hangupLocked("NORMAL_CLEARING", hungUpByCaller, true)
	if c.answered {
		c.vars.set("sip_hangup_disposition", "recv_bye")
	} else {
		c.vars.set("sip_hangup_disposition", "recv_cancel")
	}
}

// hangupLocked hangs the caller channel up (switch_channel_perform_hangup)
// and does what the outbound socket does when it notices: without linger
// it sends the disconnect notice and closes right after CHANNEL_HANGUP.
// external is true when the hang-up comes from outside the session thread
// (the caller's BYE, uuid_kill): while bridged, the bridge then takes long
// enough to tear down that the listener sends its linger notice before
// CHANNEL_UNBRIDGE, as c_caller_hangs_up shows.
func (k *Call) hangupLocked(cause, by string, external bool) {
	c := k.ch
	if c.down {
		return
	}
	if k.pendingAck {
		k.applyAckLocked()
	}
	if by != hungUpByCaller {
		c.sentBye = true
	}
	if !external {
		k.nestedHangup = true
	}
	if external && k.bridge != nil && k.bridge.bridged {
		k.lingerOnHang = true
	}
	c.markHungUpLocked(cause)
	k.mu.Lock()
	k.res.HangupCause = cause
	k.res.HungUpBy = by
	l := k.lis
	k.mu.Unlock()
	if k.stopHangupArm != nil {
		k.stopHangupArm()
	}
	if l == nil {
		return
	}
	l.mu.Lock()
	linger, closed := l.linger, l.closed
	l.mu.Unlock()
	switch {
	case closed:
	case !linger:
		l.shutdown("Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")
	case k.lingerOnHang:
		k.sendLingerNotice()
	}
}

// sendLingerNotice sends the linger disconnect-notice and, with a linger
// time, schedules the close.
func (k *Call) sendLingerNotice() {
	if k.lingerSent {
		return
	}
	k.lingerSent = true
	k.mu.Lock()
	l := k.lis
	k.mu.Unlock()
	if l == nil {
		return
	}
	l.mu.Lock()
	secs, closed := l.lingerSecs, l.closed
	l.mu.Unlock()
	if closed {
		return
	}
	l.out.push([]byte("Content-Type: text/disconnect-notice\nControlled-Session-UUID: " + k.ch.uuid +
		"\nContent-Disposition: linger\nChannel-Name: " + k.ch.name + "\nLinger-Time: " + strconv.Itoa(secs) +
		"\nContent-Length: 0\n\n"))
	if secs >= 0 {
		k.fs.afterFunc(k.fs.scale(time.Duration(secs)*time.Second), func() {
			l.shutdown("Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")
		})
	}
}

// finish ends the socket application and the channel: CHANNEL_UNPARK,
// the socket application's EXECUTE_COMPLETE, then, if the application
// closed the socket with socket_resume, the dialplan fallback, and the
// state machine's last events.
func (k *Call) finish() {
	c := k.ch
	c.mu.Lock()
	c.fireLocked(eventOpts{name: "CHANNEL_UNPARK", site: siteUnpark})
	resp := c.vars.value("current_application_response")
	if resp == "" {
		resp = "_none_"
	}
	c.fireLocked(eventOpts{name: "CHANNEL_EXECUTE_COMPLETE", site: siteExecuteComplete, post: []kv{
		{"Application", "socket"}, {"Application-Data", k.socketData},
		{"Application-Response", resp}, {"Application-UUID", k.socketAppUUID},
	}})
	if !c.down {
		k.mu.Lock()
		resume := k.resumeClose || c.vars.value("socket_resume") == "true"
		k.res.Resumed = resume
		k.mu.Unlock()
		if resume {
			// The dialplan goes on with the fallback after the socket
			// application, which ends the call.
			k.hangupLocked("NORMAL_CLEARING", hungUpByFS, false)
		} else {
			k.hangupLocked("NORMAL_CLEARING", hungUpByApp, false)
		}
	}
	c.reportLocked(time.Now())
	c.mu.Unlock()
	k.sendLingerNotice()
	k.destroy()
}

// destroy removes the channel; the call is done once its socket is closed
// too.
func (k *Call) destroy() {
	k.fs.removeChannel(k.ch)
	k.ch.mu.Lock()
	k.ch.destroyed = true
	k.ch.mu.Unlock()
	k.mu.Lock()
	k.chanGone = true
	k.res.EndedAt = time.Now()
	k.res.Answered = k.ch.answeredOnce()
	k.maybeDoneLocked()
	k.mu.Unlock()
}

func (c *channel) answeredOnce() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.prof.times.answered != 0
}

// newCallerChannel builds the caller's channel as it is when the socket
// application runs: the variables mod_sofia set from the INVITE (shaped
// like the captures: a SIPp caller on 127.0.0.1:5070), then the dialplan's.
func (fs *FS) newCallerChannel(k *Call) *channel {
	spec := k.spec
	now := time.Now()
	uuid := newUUID()
	n := fs.sessions.Load() + 1
	name := "sofia/internal/" + spec.Caller + "@127.0.0.1:5070"
	c := &channel{
		fs: fs, uuid: uuid, name: name, direction: "inbound", call: k,
		runState: csExecute, stateNum: stateNumExecute, callState: "RINGING",
		lastApp: "socket",
	}
	cidName := spec.CallerName
	if cidName == "" {
		cidName = spec.Caller
	}
	c.prof = profile{
		direction: "inbound", logicalDirection: "inbound",
		username: spec.Caller, dialplan: "XML",
		cidName: cidName, cidNum: spec.Caller, origCidName: cidName, origCidNum: spec.Caller,
		networkAddr: "127.0.0.1", ani: spec.Caller, dest: spec.Destination,
		uuid: uuid, source: "mod_sofia", context: "default", chanName: name, profileIndex: "1",
		times: times{profileCreated: micros(now), created: micros(now)},
	}
	host, _, err := net.SplitHostPort(fs.opts.Outbound)
	if err != nil {
		host = fs.opts.Outbound
	}
	k.socketData = fs.opts.Outbound + " async full"
	k.socketAppUUID = newUUID()
	c.lastArg = k.socketData

	pid := strconv.FormatUint(20000+n%40000, 10)
	seq := strconv.FormatUint(n, 10)
	fromTag := pid + "SIPpTag00" + seq
	callID := seq + "-" + pid + "@127.0.0.1"
	fullFrom := "<sip:" + spec.Caller + "@127.0.0.1:5070>;tag=" + fromTag
	if spec.CallerName != "" {
		fullFrom = `"` + spec.CallerName + `" ` + fullFrom
	}
	v := &c.vars
	for _, p := range []kv{
		{"direction", "inbound"},
		{"uuid", uuid},
		{"session_id", strconv.FormatUint(n, 10)},
		{"sip_from_user", spec.Caller},
		{"sip_from_port", "5070"},
		{"sip_from_uri", spec.Caller + "@127.0.0.1:5070"},
		{"sip_from_host", "127.0.0.1"},
		{"video_media_flow", "disabled"},
		{"text_media_flow", "disabled"},
		{"channel_name", name},
		{"sip_call_id", callID},
		{"sip_local_network_addr", "127.0.0.1"},
		{"sip_network_ip", "127.0.0.1"},
		{"sip_network_port", "5070"},
		{"sip_invite_stamp", itoa(micros(now))},
		{"sip_received_ip", "127.0.0.1"},
		{"sip_received_port", "5070"},
		{"sip_via_protocol", "udp"},
		{"sip_from_user_stripped", spec.Caller},
		{"sip_from_tag", fromTag},
		{"sofia_profile_name", "internal"},
		{"sofia_profile_url", "sip:mod_sofia@127.0.0.1:5060"},
		{"recovery_profile_name", "internal"},
		{"sip_full_via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-" + pid + "-" + seq + "-0"},
		{"sip_from_display", spec.CallerName},
		{"sip_full_from", fullFrom},
		{"sip_full_to", "<sip:" + spec.Destination + "@127.0.0.1:5060>"},
		{"sip_req_user", spec.Destination},
		{"sip_req_port", "5060"},
		{"sip_req_uri", spec.Destination + "@127.0.0.1:5060"},
		{"sip_req_host", "127.0.0.1"},
		{"sip_to_user", spec.Destination},
		{"sip_to_port", "5060"},
		{"sip_to_uri", spec.Destination + "@127.0.0.1:5060"},
		{"sip_to_host", "127.0.0.1"},
		{"sip_contact_user", spec.Caller},
		{"sip_contact_port", "5070"},
		{"sip_contact_uri", spec.Caller + "@127.0.0.1:5070"},
		{"sip_contact_host", "127.0.0.1"},
		{"sip_user_agent", "fstest-caller"},
		{"sip_via_host", "127.0.0.1"},
		{"sip_via_port", "5070"},
		{"max_forwards", "70"},
		{"switch_r_sdp", "v=0\r\no=user1 53655765 " + strconv.FormatUint(2353687637+n, 10) + " IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"},
		{"ep_codec_string", "CORE_PCM_MODULE.PCMU@8000h@20i@64000b"},
		{"rtp_use_codec_string", "PCMU,PCMA"},
		{"remote_video_media_flow", "inactive"},
		{"remote_text_media_flow", "inactive"},
		{"remote_audio_media_flow", "sendrecv"},
		{"audio_media_flow", "sendrecv"},
		{"remote_media_ip", "127.0.0.1"},
		{"remote_media_port", "6000"},
		{"rtp_audio_recv_pt", "0"},
		{"rtp_use_codec_name", "PCMU"},
		{"rtp_use_codec_rate", "8000"},
		{"rtp_use_codec_ptime", "20"},
		{"rtp_use_codec_channels", "1"},
		{"rtp_last_audio_codec_string", "PCMU@8000h@20i@1c"},
		{"read_codec", "PCMU"},
		{"original_read_codec", "PCMU"},
		{"read_rate", "8000"},
		{"original_read_rate", "8000"},
		{"write_codec", "PCMU"},
		{"write_rate", "8000"},
		{"dtmf_type", "rfc2833"},
		{"endpoint_disposition", "RECEIVED"},
		{"call_uuid", uuid},
	} {
		v.set(p.name, p.value)
	}
	// The dialplan: "set socket_resume=true" (unless the spec says
	// otherwise), the spec's other variables, then the socket application.
	resume, ok := spec.Vars["socket_resume"]
	if !ok {
		resume = "true"
	}
	v.set("socket_resume", resume)
	for _, name := range sortedKeys(spec.Vars) {
		if name != "socket_resume" {
			v.set(name, spec.Vars[name])
		}
	}
	v.set("current_application", "socket")
	v.set("current_application_data", k.socketData)
	v.set("current_application", "socket")
	v.set("socket_host", host)
	return c
}
