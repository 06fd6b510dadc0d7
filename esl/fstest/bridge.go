package fstest

import (
	"strconv"
	"strings"
	"time"
)

// bridgeState is the caller's bridge in progress.
type bridgeState struct {
	bridged bool
}

// sipFailure is how mod_sofia reports a failed INVITE for a hangup cause:
// the response code and phrase, and the sip_hangup_phrase it records.
var sipFailure = map[string]struct{ code, phrase string }{
	"USER_BUSY":                {"486", "Busy Here"},
	"CALL_REJECTED":            {"603", "Decline"},
	"NORMAL_TEMPORARY_FAILURE": {"503", "Service Unavailable"},
	"UNALLOCATED_NUMBER":       {"404", "Not Found"},
	"NO_ROUTE_DESTINATION":     {"404", "Not Found"},
	"SUBSCRIBER_ABSENT":        {"480", "Temporarily Unavailable"},
	"NO_USER_RESPONSE":         {"480", "Temporarily Unavailable"}, // sofia_glue_sip_cause_to_freeswitch: 480
	"INCOMPATIBLE_DESTINATION": {"488", "Not Acceptable Here"},
	"SERVICE_UNAVAILABLE":      {"503", "Service Unavailable"},
	"DESTINATION_OUT_OF_ORDER": {"502", "Bad Gateway"},
	"INVALID_NUMBER_FORMAT":    {"484", "Address Incomplete"},
	"NORMAL_UNSPECIFIED":       {"480", "Temporarily Unavailable"},
	"RECOVERY_ON_TIMER_EXPIRE": {"408", "Request Timeout"}, // …: 408 (Timer B)
}

// dialStatus is the DIALSTATUS switch_ivr_originate sets for a failure.
func dialStatus(cause string) string {
	switch cause {
	case "ORIGINATOR_CANCEL":
		return "CANCEL"
	case "USER_BUSY":
		return "BUSY"
	case "NO_ANSWER":
		return "NOANSWER"
	case "DESTINATION_OUT_OF_ORDER", "INVALID_PROFILE":
		return "INVALIDARGS"
	case "CALL_REJECTED":
		return "DONTCALL"
	}
	return cause
}

// ringLeg is one leg of an originate while it rings.
type ringLeg struct {
	leg      dialLeg
	ep       Endpoint
	b        *channel // nil when no channel could be created
	dest     string
	answerAt time.Time // zero: does not answer
	giveUpAt time.Time
	cause    string // final cause once failed
}

// originateOutcome is how one originate attempt ended.
type originateOutcome struct {
	winner *ringLeg
	failed *ringLeg // the leg whose failure is reported
	cause  string
	stop   bool // the caller went away (or the socket was cut) meanwhile
}

// appBridge is mod_dptools' bridge: originate the dial string, bridge the
// first leg that answers, and report the outcome in the caller's variables
// exactly where the captures show FreeSWITCH setting them.
func appBridge(k *Call, arg string) {
	if strings.TrimSpace(arg) == "" {
		// audio_bridge_function returns at once without a dial string.
		return
	}
	ds := parseDialString(arg)
	attempt := BridgeAttempt{Target: stripDialVars(arg), Vars: kvMap(ds.vars), Start: time.Now()}
	k.bridge = &bridgeState{}
	defer func() { k.bridge = nil }()

	var out originateOutcome
	for _, group := range ds.groups {
		out = k.originate(ds, group)
		if out.winner != nil || out.stop {
			break
		}
	}
	if len(ds.groups) == 0 {
		out.cause = "DESTINATION_OUT_OF_ORDER"
	}

	if out.winner != nil {
		attempt.Answered = true
		attempt.AnsweredAt = time.Now()
		attempt.Disposition = "SUCCESS"
		k.bridgeTalk(out.winner)
	} else {
		attempt.Disposition = k.reportFailure(out)
	}
	attempt.End = time.Now()
	k.mu.Lock()
	k.res.Bridges = append(k.res.Bridges, attempt)
	k.mu.Unlock()
}

func kvMap(list []kv) map[string]string {
	m := make(map[string]string, len(list))
	for _, p := range list {
		m[p.name] = p.value
	}
	return m
}

// originate rings the legs of one group at once.
func (k *Call) originate(ds dialString, group []dialLeg) originateOutcome {
	a := k.ch
	now := time.Now()
	var legs []*ringLeg
	var lastFailed *ringLeg
	for _, leg := range group {
		target := strings.TrimSpace(leg.target)
		rl := &ringLeg{leg: leg, ep: k.fs.endpoint(target), dest: dialDest(target)}
		timeout := ringTimeout(leg.vars, ds.vars, a.getVar)
		rl.giveUpAt = now.Add(k.fs.scale(timeout))
		if rl.ep.Cause == "USER_NOT_REGISTERED" && hasPrefixFold(target, "user/") {
			// mod_sofia's user endpoint fails before any channel exists.
			rl.cause = rl.ep.Cause
			lastFailed = rl
			continue
		}
		rl.b = k.fs.newOutboundLeg(legSpec{
			target: target, dest: rl.dest, from: a.profileSnapshot(), logicalDirection: "inbound",
			global: ds.vars, leg: leg.vars, originator: a,
			// The leg is driven by the caller's thread: a kill is noted and
			// that thread woken to act on it.
			onKill: func(b *channel, cause string) {
				b.mu.Lock()
				if b.pendingKill == "" {
					b.pendingKill = cause
				}
				b.mu.Unlock()
				k.wake()
			},
		})
		if rl.ep.Cause != "" {
			rl.cause = normalizeCause(rl.ep.Cause)
			rl.b.endAgentLeg(rl.cause)
			lastFailed = rl
			continue
		}
		rl.b.agentRinging()
		a.mu.Lock()
		a.prof.calleeName, a.prof.calleeNum = "Outbound Call", rl.dest
		if !a.answered {
			k.ringReadyLocked()
		}
		if a.prof.times.progress == 0 {
			a.prof.times.progress = micros(time.Now())
		}
		a.mu.Unlock()
		if rl.ep.Answer && k.fs.scale(rl.ep.RingFor) < rl.giveUpAt.Sub(now) {
			rl.answerAt = now.Add(k.fs.scale(rl.ep.RingFor))
		}
		legs = append(legs, rl)
	}

	for len(legs) > 0 {
		next := legs[0].giveUpAt
		for _, rl := range legs {
			if !rl.answerAt.IsZero() && rl.answerAt.Before(next) {
				next = rl.answerAt
			}
			if rl.giveUpAt.Before(next) {
				next = rl.giveUpAt
			}
		}
		r := k.sleep(max(time.Until(next), 0), false)
		switch r {
		case waitHangup, waitCut:
			for _, rl := range legs {
				rl.b.endAgentLeg("ORIGINATOR_CANCEL")
				rl.cause = "ORIGINATOR_CANCEL"
			}
			return originateOutcome{failed: legs[0], cause: "ORIGINATOR_CANCEL", stop: true}
		}
		now := time.Now()
		kept := legs[:0]
		for _, rl := range legs {
			if cause := rl.b.takeKill(); cause != "" {
				rl.cause = cause
				rl.b.endAgentLeg(cause)
				lastFailed = rl
				continue
			}
			kept = append(kept, rl)
		}
		legs = kept
		var winner *ringLeg
		for _, rl := range legs {
			if !rl.answerAt.IsZero() && !rl.answerAt.After(now) && (winner == nil || rl.answerAt.Before(winner.answerAt)) {
				winner = rl
			}
		}
		if winner != nil {
			for _, rl := range legs {
				if rl != winner {
					rl.b.endAgentLeg("LOSE_RACE")
				}
			}
			return originateOutcome{winner: winner}
		}
		kept = legs[:0]
		for _, rl := range legs {
			if !rl.giveUpAt.After(now) {
				rl.cause = "NO_ANSWER"
				rl.b.endAgentLeg("NO_ANSWER")
				lastFailed = rl
				continue
			}
			kept = append(kept, rl)
		}
		legs = kept
	}
	if lastFailed == nil {
		return originateOutcome{cause: "DESTINATION_OUT_OF_ORDER"}
	}
	return originateOutcome{failed: lastFailed, cause: lastFailed.cause}
}

// dialDest is the number or user a dial target reaches.
func dialDest(target string) string {
	t := target
	if i := strings.LastIndexByte(t, '/'); i >= 0 {
		t = t[i+1:]
	}
	if i := strings.IndexByte(t, '@'); i >= 0 {
		t = t[:i]
	}
	return t
}

// reportFailure sets the caller's variables of a failed bridge and, unless
// continue_on_fail allows the cause, hangs the caller up
// (switch_channel_handle_cause). It returns originate_disposition.
func (k *Call) reportFailure(out originateOutcome) string {
	a := k.ch
	a.mu.Lock()
	defer a.mu.Unlock()
	cause := out.cause
	v := &a.vars
	if rl := out.failed; rl != nil && rl.b != nil {
		v.set("originate_signal_bond", rl.b.uuid)
		v.set("originated_legs", rl.b.uuid+";Outbound Call;"+rl.dest)
		if f, ok := sipFailure[cause]; ok {
			v.set("sip_invite_failure_status", f.code)
			v.set("sip_invite_failure_phrase", f.phrase)
			v.set("sip_hangup_phrase", f.phrase)
		}
		v.set("last_bridge_hangup_cause", cause)
		if f, ok := sipFailure[cause]; ok {
			v.set("last_bridge_proto_specific_hangup_cause", "sip:"+f.code)
		}
	}
	v.set("originate_disposition", cause)
	v.set("DIALSTATUS", dialStatus(cause))
	if rl := out.failed; rl != nil && rl.b != nil {
		v.set("originate_causes", rl.b.uuid+";"+cause)
	}
	v.set("originate_failed_cause", cause)
	if !a.down && failureHangsUp(v, cause) {
		k.hangupLocked(cause, hungUpByFS, false)
	}
	return cause
}

// failureHangsUp is switch_channel_handle_cause's decision.
func failureHangsUp(v *varList, cause string) bool {
	cof, hasCOF := v.get("continue_on_fail")
	fc, hasFC := v.get("failure_causes")
	code := strconv.Itoa(causeCodes[cause])
	inList := func(list string) bool {
		for _, s := range strings.Split(list, ",") {
			s = strings.TrimSpace(s)
			if strings.EqualFold(s, cause) || s == code {
				return true
			}
		}
		return false
	}
	if hasCOF || hasFC {
		if hasFC && !inList(fc) {
			return false
		}
		if hasCOF && (switchTrue(cof) || inList(cof)) {
			return false
		}
		return true
	}
	return cause != "NO_ANSWER" && cause != "NO_USER_RESPONSE" && cause != "ORIGINATOR_CANCEL"
}

// bridgeTalk bridges the caller to the answered leg until one side hangs
// up (switch_ivr_multi_threaded_bridge).
func (k *Call) bridgeTalk(rl *ringLeg) {
	a, b := k.ch, rl.b
	b.agentAnswered()

	a.mu.Lock()
	if !a.answered {
		k.answerLocked()
	}
	v := &a.vars
	v.set("originated_legs", b.uuid+";Outbound Call;"+rl.dest)
	v.set("switch_m_sdp", "v=0\r\no=agent 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6002 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n")
	v.set("video_media_flow", "inactive")
	v.set("text_media_flow", "inactive")
	v.set("audio_media_flow", "sendrecv")
	v.set("originate_disposition", "SUCCESS")
	v.set("DIALSTATUS", "SUCCESS")
	v.set("originate_causes", b.uuid+";NONE")
	v.set("signal_bond", b.uuid)
	bprof := b.profileSnapshot()
	a.other, a.otherType = &bprof, "originatee"
	a.prof.times.bridged = micros(time.Now())
	bridgeHeads := []kv{{"Bridge-A-Unique-ID", a.uuid}, {"Bridge-B-Unique-ID", b.uuid}}
	a.fireLocked(eventOpts{name: "CHANNEL_BRIDGE", site: siteBridge, pre: bridgeHeads})
	v.set("bridge_to", b.uuid)
	v.set("last_bridge_to", b.uuid)
	v.set("bridge_channel", b.name)
	v.set("bridge_uuid", b.uuid)
	v.set("signal_bond", b.uuid)
	v.set("last_sent_callee_id_name", "Outbound Call")
	v.set("last_sent_callee_id_number", rl.dest)
	k.bridge.bridged = true
	aprof := a.prof
	a.mu.Unlock()
	b.agentBridged(a, aprof)

	var talkUntil time.Time
	if rl.ep.TalkFor > 0 {
		talkUntil = time.Now().Add(k.fs.scale(rl.ep.TalkFor))
	}
	agentCause := ""
	for agentCause == "" {
		d, forever := time.Duration(0), talkUntil.IsZero()
		if !forever {
			d = max(time.Until(talkUntil), 0)
		}
		r := k.sleep(d, forever)
		if cause := b.takeKill(); cause != "" {
			agentCause = cause
			continue
		}
		if r == waitBreak || r == waitWake {
			continue
		}
		if r == waitElapsed {
			agentCause = "NORMAL_CLEARING"
			continue
		}
		break
	}

	a.mu.Lock()
	k.bridge.bridged = false
	v.unset("bridge_to")
	if agentCause != "" {
		v.set("sip_hangup_phrase", "OK")
		v.set("last_bridge_hangup_cause", agentCause)
		v.set("last_bridge_proto_specific_hangup_cause", "sip:200")
	}
	v.set("bridge_hangup_cause", firstNonEmpty(agentCause, "NORMAL_CLEARING"))
	a.mu.Unlock()
	if agentCause != "" {
		b.endAgentLeg(agentCause)
	} else {
		b.endAgentLeg("NORMAL_CLEARING")
	}
	a.mu.Lock()
	a.fireLocked(eventOpts{name: "CHANNEL_UNBRIDGE", site: siteUnbridge, pre: bridgeHeads})
	if agentCause != "" && !a.down && switchTrue(v.value("hangup_after_bridge")) {
		k.hangupLocked(agentCause, hungUpByAgent, false)
	}
	a.mu.Unlock()
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func (c *channel) profileSnapshot() profile {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.prof
}

// legSpec describes a channel FreeSWITCH places for a bridge or an
// originate.
type legSpec struct {
	target, dest string
	// from is the caller profile the leg shows: the bridging caller's, or
	// the caller ID an originate asked for.
	from             profile
	logicalDirection string
	global, leg      []kv
	originator       *channel // the bridging caller; nil for originate
	// onKill acts on a uuid_kill of the leg.
	onKill func(leg *channel, cause string)
}

// newOutboundLeg creates such a channel: a sofia channel carrying the dial
// string's {…} and […] variables and, for user/ targets, the directory
// user's presence_id, so that inbound-socket clients see who the call is
// for. It fires CHANNEL_CREATE.
func (fs *FS) newOutboundLeg(s legSpec) *channel {
	now := time.Now()
	uuid := newUUID()
	n := fs.sessions.Add(1)
	realm := ""
	if hasPrefixFold(s.target, "user/") {
		if _, d, ok := strings.Cut(s.target[len("user/"):], "@"); ok {
			realm = d
		} else {
			realm = fs.realmOf(s.dest)
		}
	}
	name := s.target
	if !hasPrefixFold(s.target, "sofia/") {
		name = "sofia/internal/" + s.dest + "@127.0.0.1:" + strconv.Itoa(5080+int(n%100))
	}
	c := &channel{
		fs: fs, uuid: uuid, name: name, direction: "outbound",
		runState: csExecute, stateNum: stateNumExecute, callState: "DOWN",
	}
	c.prof = profile{
		direction: "outbound", logicalDirection: s.logicalDirection,
		username: s.from.username, dialplan: "XML",
		cidName: s.from.cidName, cidNum: s.from.cidNum, origCidName: s.from.origCidName, origCidNum: s.from.origCidNum,
		calleeName: "Outbound Call", calleeNum: s.dest,
		networkAddr: "127.0.0.1", ani: s.from.ani, dest: s.dest, uuid: uuid,
		source: "mod_sofia", context: "default", chanName: name,
		times: times{profileCreated: micros(now), created: micros(now)},
	}
	v := &c.vars
	v.set("direction", "outbound")
	v.set("is_outbound", "true")
	v.set("uuid", uuid)
	v.set("session_id", strconv.FormatUint(n, 10))
	v.set("sip_profile_name", "internal")
	v.set("video_media_flow", "disabled")
	v.set("text_media_flow", "disabled")
	v.set("channel_name", name)
	for _, p := range s.global {
		v.set(p.name, p.value)
	}
	for _, p := range s.leg {
		v.set(p.name, p.value)
	}
	callUUID := uuid
	if s.originator != nil {
		v.set("originator_codec", "PCMU@8000h@20i@64000b")
		v.set("originator", s.originator.uuid)
		v.set("originate_early_media", "true")
		callUUID = s.originator.uuid
	}
	if realm != "" {
		v.set("dialed_user", s.dest)
		v.set("dialed_domain", realm)
		v.set("presence_id", s.dest+"@"+realm)
	}
	v.set("sip_destination_url", "sip:"+s.dest+"@127.0.0.1")
	v.set("sofia_profile_name", "internal")
	v.set("recovery_profile_name", "internal")
	v.set("sip_local_network_addr", "127.0.0.1")
	v.set("sip_outgoing_call_id", newUUID())
	v.set("call_uuid", callUUID)
	c.killFn = func(cause, _ string) { s.onKill(c, normalizeCause(cause)) }
	if err := fs.addChannel(c); err == nil {
		c.mu.Lock()
		c.fireLocked(eventOpts{name: "CHANNEL_CREATE", site: siteCreate})
		c.mu.Unlock()
	}
	return c
}

// agentRinging marks the leg ringing (180 Ringing).
func (c *channel) agentRinging() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.callState = "RINGING"
	c.prof.times.progress = micros(time.Now())
	c.vars.set("sip_invite_stamp", itoa(c.prof.times.created))
	c.fireLocked(eventOpts{name: "CHANNEL_PROGRESS", site: siteProgress})
}

// agentAnswered marks the leg answered (200 OK).
func (c *channel) agentAnswered() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answered = true
	c.callState = "ACTIVE"
	c.prof.times.answered = micros(time.Now())
	c.vars.set("endpoint_disposition", "ANSWER")
	c.fireLocked(eventOpts{name: "CHANNEL_ANSWER", site: siteAnswer})
}

// agentBridged records the bridge on the agent leg, which sees the caller
// as its originator.
func (c *channel) agentBridged(a *channel, aprof profile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.other, c.otherType = &aprof, "originator"
	c.prof.times.bridged = micros(time.Now())
	c.vars.set("bridge_to", a.uuid)
	c.vars.set("last_bridge_to", a.uuid)
	c.vars.set("bridge_channel", a.name)
	c.vars.set("bridge_uuid", a.uuid)
	c.vars.set("signal_bond", a.uuid)
}

// endAgentLeg hangs the agent leg up and runs its state machine to the
// end (CHANNEL_HANGUP … CHANNEL_HANGUP_COMPLETE), then removes it.
func (c *channel) endAgentLeg(cause string) {
	c.mu.Lock()
	if c.destroyed {
		c.mu.Unlock()
		return
	}
	if !c.down {
		c.sentBye = cause != "NORMAL_CLEARING" || !c.answered
		c.vars.unset("bridge_to")
		c.markHungUpLocked(cause)
	}
	c.reportLocked(time.Now())
	c.destroyed = true
	c.mu.Unlock()
	c.fs.removeChannel(c)
}

// takeKill returns and clears a pending uuid_kill of the leg.
func (c *channel) takeKill() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	cause := c.pendingKill
	c.pendingKill = ""
	return cause
}
