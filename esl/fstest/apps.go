package fstest

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// switchTrue is switch_true: yes/on/true/t/enabled/active/allow or a
// non-zero number.
func switchTrue(s string) bool {
	switch strings.ToLower(s) {
	case "yes", "on", "true", "t", "enabled", "active", "allow":
		return true
	}
	return atoi(s) != 0
}

// app is a dialplan application: it runs on the session thread between
// CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE.
type app struct {
	run func(k *Call, arg string)
	// needsMedia pre-answers an unanswered channel first, as
	// switch_core_session_execute_application does for applications
	// without SAF_SUPPORT_NOMEDIA.
	needsMedia bool
}

var apps map[string]app

func init() {
	apps = map[string]app{
		"answer":              {run: appAnswer},
		"pre_answer":          {run: appPreAnswer},
		"ring_ready":          {run: appRingReady},
		"playback":            {run: appPlayback, needsMedia: true},
		"play_and_get_digits": {run: appPlayAndGetDigits, needsMedia: true},
		"say":                 {run: appSay, needsMedia: true},
		"set":                 {run: appSet},
		"export":              {run: appExport},
		"multiset":            {run: appMultiset},
		"unset":               {run: appUnset},
		"bridge":              {run: appBridge},
		"hangup":              {run: appHangup},
		"sleep":               {run: appSleep},
		"park":                {run: appPark},
		"log":                 {run: func(*Call, string) {}},
	}
}

// parseEvent is switch_ivr_parse_event for one queued sendmsg.
func (k *Call) parseEvent(cmd *command) {
	if k.pendingAck && k.spec.ack == ackBeforeNextApp {
		k.ch.mu.Lock()
		k.applyAckLocked()
		k.ch.mu.Unlock()
	}
	callCmd := cmd.headerValue("call-command")
	if callCmd == "" {
		return
	}
	if switchTrue(cmd.headerValue("event-lock")) {
		k.lock++
		defer func() { k.lock-- }()
	}
	switch strings.ToLower(callCmd) {
	case "execute":
		k.executeCommand(cmd)
	case "hangup":
		k.ch.mu.Lock()
		k.hangupLocked(normalizeCause(cmd.headerValue("hangup-cause")), hungUpByApp, false)
		k.ch.mu.Unlock()
	default:
		// unicast, nomedia, xferext and unknown commands: the emulator has
		// no media to redirect, so the message is accepted and ignored,
		// which is what FreeSWITCH does with anything it cannot act on.
		k.fs.log.Debug("sendmsg call-command ignored", "call_uuid", k.ch.uuid, "call_command", callCmd)
	}
}

// executeCommand runs "call-command: execute" with its loops.
func (k *Call) executeCommand(cmd *command) {
	name := cmd.headerValue("execute-app-name")
	if name == "" {
		return
	}
	arg := cmd.headerValue("execute-app-arg")
	if arg == "" && strings.EqualFold(cmd.headerValue("content-type"), "text/plain") {
		arg = cmd.body
	}
	loops := 1
	if h, ok := cmd.header("loops"); ok {
		loops = atoi(h)
	}
	appUUID := cmd.headerValue("event-uuid")
	for x := 0; x < loops || loops < 0; x++ {
		start := time.Now()
		k.ch.mu.Lock()
		// The Event-UUID travels to the application as app_uuid, which
		// switch_core_session_exec consumes; an application that is never
		// found leaves it behind.
		k.ch.vars.set("app_uuid", appUUID)
		k.ch.vars.set("current_loop", strconv.Itoa(x+1))
		k.ch.vars.set("total_loops", strconv.Itoa(loops))
		k.ch.mu.Unlock()
		if !k.execute(name, arg) {
			break
		}
		if k.ch.isDown() || time.Since(start) < k.fs.scale(500*time.Millisecond) {
			break
		}
	}
	k.ch.mu.Lock()
	k.ch.vars.unset("current_loop")
	k.ch.vars.unset("total_loops")
	k.ch.mu.Unlock()
}

// execute is switch_core_session_execute_application + switch_core_session_exec.
func (k *Call) execute(name, arg string) bool {
	c := k.ch
	c.mu.Lock()
	if c.down {
		// Hung up: applications without SAF_ZOMBIE_EXEC are skipped.
		c.mu.Unlock()
		return false
	}
	a, ok := apps[name]
	if !ok {
		k.hangupLocked("DESTINATION_OUT_OF_ORDER", hungUpByFS, false)
		c.mu.Unlock()
		return false
	}
	if a.needsMedia && !c.answered && !c.early {
		k.preAnswerLocked()
	}
	appUUID, ok := c.vars.get("app_uuid")
	if ok {
		c.vars.unset("app_uuid")
	} else {
		appUUID = newUUID()
	}
	expanded := c.expandLocked(arg)
	c.lastApp, c.lastArg = name, expanded
	c.vars.set("current_application", name)
	c.vars.set("current_application_data", expanded)
	c.vars.unset("current_application_response")
	post := []kv{{"Application", name}}
	if expanded != "" {
		post = append(post, kv{"Application-Data", expanded})
	}
	post = append(post, kv{"Application-UUID", appUUID})
	c.fireLocked(eventOpts{name: "CHANNEL_EXECUTE", site: siteExecute, post: post})
	c.vars.set("current_application", name)
	k.appCounts[name]++
	if k.spec.HangupOnApp == name && k.appCounts[name] == max(k.spec.HangupOnAppN, 1) {
		k.sig.push(signal{kind: sigHangup, cause: "NORMAL_CLEARING", by: hungUpByCaller})
	}
	if k.pendingAck && k.spec.ack == ackDuringNextApp {
		k.ackArmed = true
	}
	c.mu.Unlock()

	start := time.Now()
	a.run(k, expanded)

	c.mu.Lock()
	resp := c.vars.value("current_application_response")
	if resp == "" {
		resp = "_none_"
	}
	post = []kv{{"Application", name}}
	if expanded != "" {
		post = append(post, kv{"Application-Data", expanded})
	}
	post = append(post, kv{"Application-Response", resp}, kv{"Application-UUID", appUUID})
	c.fireLocked(eventOpts{name: "CHANNEL_EXECUTE_COMPLETE", site: siteExecuteComplete, post: post})
	c.mu.Unlock()

	k.mu.Lock()
	k.res.Apps = append(k.res.Apps, AppExec{Name: name, Arg: expanded, Response: resp, Start: start, End: time.Now()})
	k.mu.Unlock()
	return true
}

// expandLocked replaces ${name} with channel variables, as
// switch_channel_expand_variables does for the common case.
func (c *channel) expandLocked(s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		v, _ := c.lookupLocked(s[i+2 : i+end])
		b.WriteString(v)
		s = s[i+end+1:]
	}
}

// waitResult tells why sleep returned.
type waitResult int

const (
	waitElapsed waitResult = iota
	waitHangup             // the channel is down
	waitBreak              // uuid_break
	waitCut                // the socket closed: the application is cut short
	waitWake               // a bridge leg changed (it was killed)
)

// sleep waits d (emulator time) or, when forever, until something else
// happens. Like FreeSWITCH's media loops, which call
// switch_ivr_parse_all_events every frame, it executes queued messages
// nested unless an event-locked command is running; the wait's own clock
// stands still meanwhile, as the outer application's frames do.
func (k *Call) sleep(d time.Duration, forever bool) waitResult {
	var tc <-chan time.Time
	var timer *time.Timer
	deadline := time.Now().Add(d)
	if !forever {
		timer = time.NewTimer(d)
		defer timer.Stop()
		tc = timer.C
	}
	if k.ackArmed {
		k.ch.mu.Lock()
		k.applyAckLocked()
		k.ch.mu.Unlock()
	}
	for {
		brk, wake := k.handleSignals()
		if k.ch.isDown() {
			return waitHangup
		}
		if brk {
			return waitBreak
		}
		if wake && k.bridge != nil {
			return waitWake
		}
		if k.isSocketGone() {
			return waitCut
		}
		if k.lock == 0 {
			if cmd, ok := k.priv.pop(); ok {
				remaining := time.Until(deadline)
				if timer != nil {
					timer.Stop()
				}
				k.parseEvent(cmd)
				if timer != nil {
					remaining = max(remaining, 0)
					deadline = time.Now().Add(remaining)
					timer.Reset(remaining)
				}
				continue
			}
		}
		select {
		case <-tc:
			return waitElapsed
		case <-k.priv.notify:
		case <-k.sig.notify:
		case <-k.fs.done:
			k.shutdown()
		}
	}
}

// mediaUpLocked sets what mod_sofia sets when the channel's media starts
// (the first answer or pre-answer): the local SDP and the RTP session.
func (k *Call) mediaUpLocked() {
	v := &k.ch.vars
	sess := strconv.FormatInt(time.Now().Unix(), 10)
	port := strconv.Itoa(16384 + 2*rand.IntN(8192))
	v.unset("remote_media_ip")
	v.unset("remote_media_port")
	v.set("rtp_local_sdp_str", "v=0\r\no=FreeSWITCH "+sess+" "+sess+"1 IN IP4 127.0.0.1\r\ns=FreeSWITCH\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio "+port+" RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n")
	v.set("local_media_ip", "127.0.0.1")
	v.set("local_media_port", port)
	v.set("advertised_media_ip", "127.0.0.1")
	v.set("rtp_use_timer_name", "soft")
	v.set("rtp_use_pt", "0")
	v.set("rtp_use_ssrc", strconv.FormatUint(uint64(rand.Uint32()), 10))
	v.set("rtp_2833_send_payload", "101")
	v.set("rtp_2833_recv_payload", "101")
	v.set("remote_media_ip", "127.0.0.1")
	v.set("remote_media_port", "6000")
}

// answerLocked answers the caller (switch_channel_perform_mark_answered).
func (k *Call) answerLocked() {
	c := k.ch
	if c.answered || c.down {
		return
	}
	if !c.early {
		k.mediaUpLocked()
	}
	c.answered = true
	c.prof.times.answered = micros(time.Now())
	c.fireLocked(eventOpts{name: "CHANNEL_ANSWER", site: siteAnswer})
	c.vars.set("endpoint_disposition", "ANSWER")
	if k.spec.ack == ackOnAnswer {
		k.applyAckLocked()
	} else {
		k.pendingAck = true
	}
	c.callState = "ACTIVE"
}

// preAnswerLocked sends early media (switch_channel_perform_mark_pre_answered).
func (k *Call) preAnswerLocked() {
	c := k.ch
	if c.answered || c.early || c.down {
		return
	}
	k.mediaUpLocked()
	c.early = true
	c.prof.times.progressMedia = micros(time.Now())
	c.fireLocked(eventOpts{name: "CHANNEL_PROGRESS_MEDIA", site: siteProgressMedia})
	c.vars.set("endpoint_disposition", "EARLY MEDIA")
	c.callState = "EARLY"
}

// ringReadyLocked signals ringing (switch_channel_perform_mark_ring_ready_value).
func (k *Call) ringReadyLocked() {
	c := k.ch
	if c.answered || c.early || c.down || c.prof.times.progress != 0 {
		return
	}
	c.prof.times.progress = micros(time.Now())
	c.fireLocked(eventOpts{name: "CHANNEL_PROGRESS", site: siteProgress})
}

// applyAckLocked processes the caller's ACK to the 200 OK.
func (k *Call) applyAckLocked() {
	if k.ackApplied {
		return
	}
	k.ackApplied = true
	k.pendingAck = false
	k.ackArmed = false
	v := &k.ch.vars
	toTag := randomTag()
	fromTag := v.value("sip_from_tag")
	v.set("sip_to_tag", toTag)
	v.set("sip_from_tag", fromTag)
	v.set("sip_cseq", "1")
	v.set("sip_call_id", v.value("sip_call_id"))
	via := v.value("sip_full_via")
	v.set("sip_full_via", strings.TrimSuffix(via, "-0")+"-5")
	v.set("sip_from_display", v.value("sip_from_display"))
	v.set("sip_full_from", v.value("sip_full_from"))
	v.set("sip_full_to", v.value("sip_full_to")+";tag="+toTag)
}

func appAnswer(k *Call, _ string) {
	k.ch.mu.Lock()
	k.answerLocked()
	k.ch.mu.Unlock()
}

func appPreAnswer(k *Call, _ string) {
	k.ch.mu.Lock()
	k.preAnswerLocked()
	k.ch.mu.Unlock()
}

func appRingReady(k *Call, _ string) {
	k.ch.mu.Lock()
	k.ringReadyLocked()
	k.ch.mu.Unlock()
}

// playResult is how a file played.
type playResult int

const (
	playDone   playResult = iota // played to the end or broken by uuid_break
	playError                    // hung up from outside the session thread
	playNested                   // hung up by a message this thread executed
)

// playFile is switch_ivr_play_file without digit collection: it plays for
// the file's length and records playback_* like FreeSWITCH does at the end.
func (k *Call) playFile(path string) (playResult, waitResult) {
	if path == "" {
		return playDone, waitElapsed
	}
	length, forever := mediaLength(path, k.fs.fileDuration)
	start := time.Now()
	r := k.sleep(k.fs.scale(length), forever)
	played := length
	if r != waitElapsed {
		played = time.Duration(float64(time.Since(start)) * k.fs.speed)
		if !forever && played > length {
			played = length
		}
	}
	ms := played.Milliseconds()
	k.ch.mu.Lock()
	v := &k.ch.vars
	v.set("playback_last_offset_pos", itoa(ms*8))
	v.set("playback_seconds", itoa(ms/1000))
	v.set("playback_ms", itoa(ms))
	v.set("playback_samples", itoa(ms*8))
	k.ch.mu.Unlock()
	switch {
	case r == waitHangup && k.nestedHangup:
		return playNested, r
	case r == waitHangup:
		return playError, r
	}
	return playDone, r
}

func appPlayback(k *Call, arg string) {
	res, _ := k.playFile(arg)
	resp := "FILE PLAYED"
	if res == playError {
		resp = "PLAYBACK ERROR"
	}
	k.ch.setVar("current_application_response", resp)
}

func appSay(k *Call, _ string) {
	k.playFile("say")
}

// appSet is base_set: "name=value"; no value (or an empty one) unsets.
func appSet(k *Call, arg string) {
	name, value := splitAssign(arg)
	if name == "" {
		return
	}
	k.ch.mu.Lock()
	k.ch.vars.set(name, k.ch.expandLocked(value))
	k.ch.mu.Unlock()
}

func splitAssign(arg string) (string, string) {
	if name, value, ok := strings.Cut(arg, "="); ok {
		return name, value
	}
	if name, value, ok := strings.Cut(arg, ","); ok {
		return name, value
	}
	return arg, ""
}

// appExport is switch_channel_export_variable_var_check: the variable,
// then export_vars listing it.
func appExport(k *Call, arg string) {
	name, value, _ := strings.Cut(arg, "=")
	if name == "" {
		return
	}
	c := k.ch
	c.mu.Lock()
	defer c.mu.Unlock()
	exports := c.vars.value("export_vars")
	c.vars.set(name, value)
	if value == "" {
		return
	}
	if exports != "" {
		exports += "," + name
	} else {
		exports = name
	}
	c.vars.set("export_vars", exports)
}

// appMultiset sets "a=1 b=2" (or "^^:a=1:b=2").
func appMultiset(k *Call, arg string) {
	for _, f := range separateString(arg, ' ', 256) {
		appSet(k, f)
	}
}

func appUnset(k *Call, arg string) {
	if arg == "" {
		return
	}
	k.ch.mu.Lock()
	k.ch.vars.unset(arg)
	k.ch.mu.Unlock()
}

func appHangup(k *Call, arg string) {
	k.ch.mu.Lock()
	k.hangupLocked(normalizeCause(arg), hungUpByApp, false)
	k.ch.mu.Unlock()
}

func appSleep(k *Call, arg string) {
	k.sleep(k.fs.scale(time.Duration(atoi(arg))*time.Millisecond), false)
}

// appPark holds the channel until it hangs up or the socket goes away;
// uuid_break does not end a park.
func appPark(k *Call, _ string) {
	for k.sleep(0, true) == waitBreak {
	}
}

func randomTag() string {
	const letters = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 13)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return string(b)
}

// newUUID returns a random version-4 UUID string.
func newUUID() string {
	const hexd = "0123456789abcdef"
	a, b := rand.Uint64(), rand.Uint64()
	var u [16]byte
	for i := 0; i < 8; i++ {
		u[i] = byte(a >> (8 * i))
		u[8+i] = byte(b >> (8 * i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var s [36]byte
	j := 0
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hexd[x>>4], hexd[x&0x0f]
		j += 2
	}
	return string(s[:])
}
