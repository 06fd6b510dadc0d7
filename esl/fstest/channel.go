package fstest

import (
	"strconv"
	"sync"
	"time"
)

// times is switch_channel_timetable_t, in microseconds since the epoch.
type times struct {
	profileCreated, created, answered, progress, progressMedia,
	hungup, transferred, resurrected, bridged, lastHold, holdAccum int64
}

// profile is a switch_caller_profile_t as switch_caller_profile_event_set_data
// renders it.
type profile struct {
	direction, logicalDirection string
	username, dialplan          string
	cidName, cidNum             string
	origCidName, origCidNum     string
	calleeName, calleeNum       string
	networkAddr, ani            string
	dest, uuid, source, context string
	chanName, profileIndex      string
	times                       times

	// timeStrs caches the rendered times, which change a few times per call
	// while events render them every time.
	timeStrs    [11]string
	timeStrsFor times
	timeStrsOK  bool
}

func (p *profile) timeStrings() *[11]string {
	if !p.timeStrsOK || p.timeStrsFor != p.times {
		t := &p.times
		for i, v := range [11]int64{t.profileCreated, t.created, t.answered, t.progress, t.progressMedia,
			t.hungup, t.transferred, t.resurrected, t.bridged, t.lastHold, t.holdAccum} {
			p.timeStrs[i] = itoa(v)
		}
		p.timeStrsFor, p.timeStrsOK = p.times, true
	}
	return &p.timeStrs
}

// profileHeaderNames holds "<prefix>-<field>" for the three prefixes in
// use, so rendering a profile allocates no header names.
type profileHeaderNames struct {
	direction, logicalDirection, username, dialplan, cidName, cidNum,
	origCidName, origCidNum, calleeName, calleeNum, networkAddr, ani,
	dest, uuid, source, context, chanName, profileIndex,
	profileCreated, created, answered, progress, progressMedia, hungup,
	transferred, resurrected, bridged, lastHold, holdAccum,
	screenBit, hideName, hideNumber string
}

func newProfileHeaderNames(p string) *profileHeaderNames {
	return &profileHeaderNames{
		direction: p + "-Direction", logicalDirection: p + "-Logical-Direction",
		username: p + "-Username", dialplan: p + "-Dialplan",
		cidName: p + "-Caller-ID-Name", cidNum: p + "-Caller-ID-Number",
		origCidName: p + "-Orig-Caller-ID-Name", origCidNum: p + "-Orig-Caller-ID-Number",
		calleeName: p + "-Callee-ID-Name", calleeNum: p + "-Callee-ID-Number",
		networkAddr: p + "-Network-Addr", ani: p + "-ANI",
		dest: p + "-Destination-Number", uuid: p + "-Unique-ID", source: p + "-Source",
		context: p + "-Context", chanName: p + "-Channel-Name", profileIndex: p + "-Profile-Index",
		profileCreated: p + "-Profile-Created-Time", created: p + "-Channel-Created-Time",
		answered: p + "-Channel-Answered-Time", progress: p + "-Channel-Progress-Time",
		progressMedia: p + "-Channel-Progress-Media-Time", hungup: p + "-Channel-Hangup-Time",
		transferred: p + "-Channel-Transfer-Time", resurrected: p + "-Channel-Resurrect-Time",
		bridged: p + "-Channel-Bridged-Time", lastHold: p + "-Channel-Last-Hold",
		holdAccum: p + "-Channel-Hold-Accum", screenBit: p + "-Screen-Bit",
		hideName: p + "-Privacy-Hide-Name", hideNumber: p + "-Privacy-Hide-Number",
	}
}

var (
	namesCaller  = newProfileHeaderNames("Caller")
	namesChannel = newProfileHeaderNames("Channel")
	namesOther   = newProfileHeaderNames("Other-Leg")
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// appendProfile renders p like switch_caller_profile_event_set_data:
// optional fields only when set.
func appendProfile(dst []kv, n *profileHeaderNames, p *profile) []kv {
	dst = append(dst, kv{n.direction, p.direction}, kv{n.logicalDirection, p.logicalDirection})
	opt := func(name, value string) {
		if value != "" {
			dst = append(dst, kv{name, value})
		}
	}
	opt(n.username, p.username)
	opt(n.dialplan, p.dialplan)
	opt(n.cidName, p.cidName)
	opt(n.cidNum, p.cidNum)
	if p.cidName != "" {
		dst = append(dst, kv{n.origCidName, p.origCidName})
	}
	if p.cidNum != "" {
		dst = append(dst, kv{n.origCidNum, p.origCidNum})
	}
	opt(n.calleeName, p.calleeName)
	opt(n.calleeNum, p.calleeNum)
	opt(n.networkAddr, p.networkAddr)
	opt(n.ani, p.ani)
	opt(n.dest, p.dest)
	opt(n.uuid, p.uuid)
	opt(n.source, p.source)
	opt(n.context, p.context)
	opt(n.chanName, p.chanName)
	opt(n.profileIndex, p.profileIndex)
	ts := p.timeStrings()
	dst = append(dst,
		kv{n.profileCreated, ts[0]},
		kv{n.created, ts[1]},
		kv{n.answered, ts[2]},
		kv{n.progress, ts[3]},
		kv{n.progressMedia, ts[4]},
		kv{n.hungup, ts[5]},
		kv{n.transferred, ts[6]},
		kv{n.resurrected, ts[7]},
		kv{n.bridged, ts[8]},
		kv{n.lastHold, ts[9]},
		kv{n.holdAccum, ts[10]},
		kv{n.screenBit, "true"},
		kv{n.hideName, "false"},
		kv{n.hideNumber, "false"},
	)
	return dst
}

// Channel states as switch_channel_state_name and the numbers
// Channel-State-Number shows.
const (
	csExecute   = "CS_EXECUTE"
	csHangup    = "CS_HANGUP"
	csReporting = "CS_REPORTING"
	csDestroy   = "CS_DESTROY"

	stateNumExecute   = 4
	stateNumHangup    = 10
	stateNumReporting = 11
)

// Who ended a call, for CallResult.HungUpBy.
const (
	hungUpByCaller = "caller"
	hungUpByApp    = "app"
	hungUpByAgent  = "agent"
	hungUpByFS     = "fs"
)

// channel is one FreeSWITCH channel: the caller leg of a Call, the agent leg
// of a bridge, or a channel of StartChannel/originate. mu guards every
// field that changes after creation; events of the channel are fired with
// mu held so that their variables are read consistently and in order.
type channel struct {
	fs   *FS
	uuid string

	mu        sync.Mutex
	name      string
	direction string // Call-Direction
	prof      profile
	other     *profile // originatee (or originator) profile of the bridge peer
	otherType string
	vars      varList
	runState  string
	stateNum  int
	callState string
	answered  bool
	early     bool
	down      bool // channel->state >= CS_HANGUP
	cause     string
	lastApp   string
	lastArg   string
	dtmfLog   []byte
	sentBye   bool // FreeSWITCH sent the BYE (sip_hangup_disposition=send_bye)
	destroyed bool
	// pendingKill is a uuid_kill of an agent leg waiting for the caller's
	// thread, which drives the leg.
	pendingKill string
	scratch     []kv

	// call is set on a caller leg driven by an outbound socket.
	call *Call
	// kill hangs the channel up from outside its own thread (uuid_kill,
	// emulator shutdown); set by whoever drives the channel.
	killFn func(cause, by string)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// basicData appends switch_channel_event_set_basic_data's headers.
func (c *channel) basicData(dst []kv) []kv {
	answerState := "ringing"
	switch {
	case c.down:
		answerState = "hangup"
	case c.answered:
		answerState = "answered"
	case c.early:
		answerState = "early"
	}
	dst = append(dst,
		kv{"Channel-State", c.runState},
		kv{"Channel-Call-State", c.callState},
		kv{"Channel-State-Number", stateNumbers[c.stateNum]},
		kv{"Channel-Name", c.name},
		kv{"Unique-ID", c.uuid},
		kv{"Call-Direction", c.direction},
		kv{"Presence-Call-Direction", c.direction},
		kv{"Channel-HIT-Dialplan", hitDialplan(c.direction)},
	)
	if v, ok := c.vars.get("presence_id"); ok {
		dst = append(dst, kv{"Channel-Presence-ID", v})
	}
	if v, ok := c.vars.get("presence_data"); ok {
		dst = append(dst, kv{"Channel-Presence-Data", v})
	}
	callUUID := c.uuid
	if v, ok := c.vars.get("call_uuid"); ok {
		callUUID = v
	}
	dst = append(dst, kv{"Channel-Call-UUID", callUUID}, kv{"Answer-State", answerState})
	if c.cause != "" {
		dst = append(dst, kv{"Hangup-Cause", c.cause})
	}
	dst = append(dst,
		kv{"Channel-Read-Codec-Name", "PCMU"},
		kv{"Channel-Read-Codec-Rate", "8000"},
		kv{"Channel-Read-Codec-Bit-Rate", "64000"},
		kv{"Channel-Write-Codec-Name", "PCMU"},
		kv{"Channel-Write-Codec-Rate", "8000"},
		kv{"Channel-Write-Codec-Bit-Rate", "64000"},
	)
	dst = appendProfile(dst, namesCaller, &c.prof)
	if c.other != nil {
		dst = append(dst, kv{"Other-Type", c.otherType})
		dst = appendProfile(dst, namesOther, c.other)
	}
	return dst
}

var stateNumbers = func() (s [16]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func hitDialplan(direction string) string {
	if direction == "inbound" {
		return "true"
	}
	return "false"
}

// eventOpts describes one channel event.
type eventOpts struct {
	name string
	site *callsite
	pre  []kv // event headers before the channel data (Bridge-A-Unique-ID …)
	post []kv // event headers after the variables (Application …)
	// noVars leaves the variables out, as switch_channel_event_set_extended_data
	// does for events outside its list (CHANNEL_STATE, DTMF, …).
	noVars bool
}

// fireLocked fires a channel event; c.mu must be held.
func (c *channel) fireLocked(o eventOpts) {
	head := append(c.scratch[:0], o.pre...)
	head = c.basicData(head)
	c.scratch = head
	e := &event{name: o.name, site: o.site, uuid: c.uuid, head: head, tail: o.post}
	if !o.noVars {
		e.vars = &c.vars
	}
	c.fs.fire(e)
}

func (c *channel) setVar(name, value string) {
	c.mu.Lock()
	c.vars.set(name, value)
	c.mu.Unlock()
}

func (c *channel) getVar(name string) string {
	v, _ := c.varOK(name)
	return v
}

func (c *channel) varOK(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lookupLocked(name)
}

// lookupLocked is switch_channel_get_variable: a channel variable, else a
// caller profile field of that name (switch_caller_get_field_by_name).
func (c *channel) lookupLocked(name string) (string, bool) {
	if v, ok := c.vars.get(name); ok {
		return v, true
	}
	p := &c.prof
	var v string
	switch name {
	case "dialplan":
		v = p.dialplan
	case "username":
		v = p.username
	case "caller_id_name":
		v = p.cidName
	case "caller_id_number":
		v = p.cidNum
	case "orig_caller_id_name":
		v = p.origCidName
	case "orig_caller_id_number":
		v = p.origCidNum
	case "callee_id_name":
		v = p.calleeName
	case "callee_id_number":
		v = p.calleeNum
	case "network_addr":
		v = p.networkAddr
	case "ani":
		v = p.ani
	case "destination_number":
		v = p.dest
	case "uuid":
		v = p.uuid
	case "source":
		v = p.source
	case "context":
		v = p.context
	case "chan_name":
		v = p.chanName
	}
	return v, v != ""
}

// kill hangs the channel up from another thread (uuid_kill, shutdown).
func (c *channel) kill(cause, by string) bool {
	c.mu.Lock()
	fn := c.killFn
	down := c.down
	c.mu.Unlock()
	if fn == nil || down {
		return fn != nil
	}
	fn(cause, by)
	return true
}

// queueMessage hands a sendmsg to the channel's thread. Channels without
// one (agent legs, StartChannel) only act on hangup.
func (c *channel) queueMessage(cmd *command) {
	if c.call != nil {
		c.call.queueMessage(cmd)
		return
	}
	if v, _ := cmd.header("call-command"); hasPrefixFold(v, "hangup") {
		cause := cmd.headerValue("hangup-cause")
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		c.kill(cause, hungUpByApp)
	}
}

// socketClosed is called when the controlling outbound socket went away.
func (c *channel) socketClosed(resume bool) {
	if c.call != nil {
		c.call.socketClosed(resume)
	}
}

// channelData renders the reply to "connect".
func (c *channel) channelData() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	head := appendProfile(c.scratch[:0], namesChannel, &c.prof)
	head = c.basicData(head)
	c.scratch = head
	e := &event{name: "CHANNEL_DATA", site: siteChannelData, uuid: c.uuid, head: head, vars: &c.vars,
		tail: []kv{{"Content-Type", "command/reply"}, {"Reply-Text", "+OK\n"}, {"Socket-Mode", "async"}, {"Control", "full"}}}
	return c.fs.serializeEvent(e, c.fs.seq.Add(1), time.Now(), false)
}

// markHungUp moves the channel to CS_HANGUP and fires CHANNEL_HANGUP, as
// switch_channel_perform_hangup does; c.mu must be held.
func (c *channel) markHungUpLocked(cause string) bool {
	if c.down {
		return false
	}
	c.down = true
	c.cause = cause
	c.stateNum = stateNumHangup
	c.fireLocked(eventOpts{name: "CHANNEL_HANGUP", site: siteHangup})
	return true
}

// reportLocked runs the end of the state machine: CHANNEL_STATE for
// CS_HANGUP and CS_REPORTING, the CDR variables, CHANNEL_HANGUP_COMPLETE.
func (c *channel) reportLocked(now time.Time) {
	c.runState = csHangup
	c.fireLocked(eventOpts{name: "CHANNEL_STATE", site: siteState, noVars: true})
	c.runState = csReporting
	c.stateNum = stateNumReporting
	c.callState = "HANGUP"
	c.prof.times.hungup = micros(now)
	c.fireLocked(eventOpts{name: "CHANNEL_STATE", site: siteState, noVars: true})
	c.setCDRVarsLocked()
	// switch_core_session_reporting_state adds Hangup-Cause before the
	// channel data, which repeats it.
	c.fireLocked(eventOpts{name: "CHANNEL_HANGUP_COMPLETE", site: siteHangupComplete, pre: []kv{{"Hangup-Cause", c.cause}}})
}
