package fstest

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// callsite is the Event-Calling-File/Function/Line-Number triple FreeSWITCH
// stamps on an event: the place in its source that created it. The values
// are the ones the captures show (FreeSWITCH 1.10.12) or, for events the
// captures do not contain, the line of the switch_event_create call in the
// v1.10.12 source.
type callsite struct {
	lines []byte // pre-rendered header lines
	file  string
	fn    string
	line  string
}

func newCallsite(file, fn string, line int) *callsite {
	cs := &callsite{file: file, fn: fn, line: strconv.Itoa(line)}
	cs.lines = appendHeader(cs.lines, "Event-Calling-File", file)
	cs.lines = appendHeader(cs.lines, "Event-Calling-Function", fn)
	cs.lines = appendHeader(cs.lines, "Event-Calling-Line-Number", cs.line)
	return cs
}

var (
	siteChannelData     = newCallsite("mod_event_socket.c", "parse_command", 2021)
	siteExecute         = newCallsite("switch_core_session.c", "switch_core_session_exec", 2944)
	siteExecuteComplete = newCallsite("switch_core_session.c", "switch_core_session_exec", 2967)
	siteAnswer          = newCallsite("switch_channel.c", "switch_channel_perform_mark_answered", 3846)
	siteProgress        = newCallsite("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3505)
	siteProgressMedia   = newCallsite("switch_channel.c", "switch_channel_perform_mark_pre_answered", 3560)
	siteHangup          = newCallsite("switch_channel.c", "switch_channel_perform_hangup", 3445)
	siteState           = newCallsite("switch_channel.c", "switch_channel_perform_set_running_state", 2408)
	siteHangupComplete  = newCallsite("switch_core_state_machine.c", "switch_core_session_reporting_state", 943)
	siteCreate          = newCallsite("switch_core_state_machine.c", "switch_core_session_run", 626)
	siteUnpark          = newCallsite("switch_ivr.c", "switch_ivr_park", 1213)
	siteBridge          = newCallsite("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689)
	siteUnbridge        = newCallsite("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879)
	siteDTMF            = newCallsite("switch_channel.c", "switch_channel_dequeue_dtmf", 677)
	siteBackgroundJob   = newCallsite("mod_event_socket.c", "api_exec", 1572)
	siteRegister        = newCallsite("sofia_reg.c", "sofia_reg_handle_register_token", 2059)
	siteUnregister      = newCallsite("sofia_reg.c", "sofia_reg_handle_register_token", 2213)
	siteExpire          = newCallsite("sofia_reg.c", "sofia_reg_del_callback", 726)
)

// event is one FreeSWITCH event about to be delivered. Variables are read
// from the channel at serialization time, which happens synchronously while
// the channel's lock is held, so they are not copied.
type event struct {
	name     string // Event-Name
	subclass string // Event-Subclass of a CUSTOM event
	site     *callsite
	uuid     string // Unique-ID, for myevents routing
	jobOwner string // Job-Owner-UUID, for myevents routing of BACKGROUND_JOB
	head     []kv   // headers after the base block, before the variables
	vars     *varList
	tail     []kv // headers after the variables
	body     string
	hasBody  bool
}

// get looks a header up without case, as switch_event_get_header does;
// filters use it.
func (e *event) get(fs *FS, name string) (string, bool) {
	switch {
	case strings.EqualFold(name, "Event-Name"):
		return e.name, true
	case strings.EqualFold(name, "Event-Subclass"):
		return e.subclass, e.subclass != ""
	case strings.EqualFold(name, "Core-UUID"):
		return fs.coreUUID, true
	case strings.EqualFold(name, "FreeSWITCH-Hostname"), strings.EqualFold(name, "FreeSWITCH-Switchname"):
		return fs.hostname, true
	case strings.EqualFold(name, "Event-Calling-File"):
		return e.site.file, true
	case strings.EqualFold(name, "Event-Calling-Function"):
		return e.site.fn, true
	}
	for _, h := range e.head {
		if strings.EqualFold(h.name, name) {
			return h.value, true
		}
	}
	if e.vars != nil && len(name) > len("variable_") && strings.EqualFold(name[:len("variable_")], "variable_") {
		if v, ok := e.vars.get(name[len("variable_"):]); ok {
			return v, true
		}
	}
	for _, h := range e.tail {
		if strings.EqualFold(h.name, name) {
			return h.value, true
		}
	}
	return "", false
}

// dateCache renders the Event-Date-* lines once per second.
type dateCache struct {
	sec   int64
	lines []byte
}

var currentDates atomic.Pointer[dateCache]

func dateLines(now time.Time) []byte {
	sec := now.Unix()
	if d := currentDates.Load(); d != nil && d.sec == sec {
		return d.lines
	}
	d := &dateCache{sec: sec}
	d.lines = appendHeader(d.lines, "Event-Date-Local", now.Local().Format("2006-01-02 15:04:05"))
	d.lines = appendHeader(d.lines, "Event-Date-GMT", now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	currentDates.Store(d)
	return d.lines
}

// serializeEvent renders e as switch_event_serialize does: every value
// URL-encoded, the body behind its own Content-Length, and a final blank
// line. With frame set, the result is prefixed by the Content-Length and
// Content-Type: text/event-plain lines of an event-socket event frame.
func (fs *FS) serializeEvent(e *event, seq uint64, now time.Time, frame bool) []byte {
	var num [20]byte
	seqStr := strconv.AppendUint(num[:0], seq, 10)
	var tsBuf [20]byte
	ts := strconv.AppendInt(tsBuf[:0], now.UnixMicro(), 10)
	dates := dateLines(now)

	n := len("Event-Name: ") + encodedLen(e.name) + 1 + len(fs.baseLines) + len(dates) +
		len("Event-Date-Timestamp: ") + len(ts) + 1 + len(e.site.lines) +
		len("Event-Sequence: ") + len(seqStr) + 1
	if e.subclass != "" {
		n += headerLen("Event-Subclass", e.subclass)
	}
	for _, h := range e.head {
		n += headerLen(h.name, h.value)
	}
	if e.vars != nil {
		n += e.vars.size
	}
	for _, h := range e.tail {
		n += headerLen(h.name, h.value)
	}
	var blen []byte
	if e.hasBody && e.body != "" {
		blen = strconv.AppendInt(nil, int64(len(e.body)), 10)
		n += len("Content-Length: ") + len(blen) + 2 + len(e.body)
	} else {
		n++
	}

	var prefix []byte
	if frame {
		prefix = append(prefix, "Content-Length: "...)
		prefix = strconv.AppendInt(prefix, int64(n), 10)
		prefix = append(prefix, "\nContent-Type: text/event-plain\n\n"...)
	}
	buf := make([]byte, 0, len(prefix)+n)
	buf = append(buf, prefix...)
	buf = appendHeader(buf, "Event-Name", e.name)
	buf = append(buf, fs.baseLines...)
	buf = append(buf, dates...)
	buf = append(buf, "Event-Date-Timestamp: "...)
	buf = append(buf, ts...)
	buf = append(buf, '\n')
	buf = append(buf, e.site.lines...)
	buf = append(buf, "Event-Sequence: "...)
	buf = append(buf, seqStr...)
	buf = append(buf, '\n')
	if e.subclass != "" {
		buf = appendHeader(buf, "Event-Subclass", e.subclass)
	}
	for _, h := range e.head {
		buf = appendHeader(buf, h.name, h.value)
	}
	if e.vars != nil {
		buf = e.vars.appendLines(buf)
	}
	for _, h := range e.tail {
		buf = appendHeader(buf, h.name, h.value)
	}
	if blen != nil {
		buf = append(buf, "Content-Length: "...)
		buf = append(buf, blen...)
		buf = append(buf, '\n', '\n')
		buf = append(buf, e.body...)
	} else {
		buf = append(buf, '\n')
	}
	return buf
}

// fire stamps e with the next Event-Sequence and hands it to every
// listener that wants it. It serializes only if someone does, once per
// format, and shares the bytes among them.
func (fs *FS) fire(e *event) {
	seq := fs.seq.Add(1)
	targets := fs.bus.targets(fs, e)
	if len(targets) == 0 {
		return
	}
	now := time.Now()
	var plain, js []byte
	for _, l := range targets {
		if l.eventFormat() == "json" {
			if js == nil {
				js = fs.serializeEventJSON(e, seq, now)
			}
			l.out.push(js)
			continue
		}
		// xml is answered like FreeSWITCH but delivered as plain text.
		if plain == nil {
			plain = fs.serializeEvent(e, seq, now, true)
		}
		l.out.push(plain)
	}
}

// serializeEventJSON renders e as switch_event_serialize_json does: one
// object, headers in order with raw values, the body as "_body" after its
// Content-Length; framed as text/event-json.
func (fs *FS) serializeEventJSON(e *event, seq uint64, now time.Time) []byte {
	var b strings.Builder
	b.WriteByte('{')
	first := true
	field := func(name, value string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeJSONString(&b, name)
		b.WriteByte(':')
		writeJSONString(&b, value)
	}
	field("Event-Name", e.name)
	field("Core-UUID", fs.coreUUID)
	field("FreeSWITCH-Hostname", fs.hostname)
	field("FreeSWITCH-Switchname", fs.hostname)
	field("FreeSWITCH-IPv4", "127.0.0.1")
	field("FreeSWITCH-IPv6", "::1")
	field("Event-Date-Local", now.Local().Format("2006-01-02 15:04:05"))
	field("Event-Date-GMT", now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	field("Event-Date-Timestamp", strconv.FormatInt(now.UnixMicro(), 10))
	field("Event-Calling-File", e.site.file)
	field("Event-Calling-Function", e.site.fn)
	field("Event-Calling-Line-Number", e.site.line)
	field("Event-Sequence", strconv.FormatUint(seq, 10))
	if e.subclass != "" {
		field("Event-Subclass", e.subclass)
	}
	for _, h := range e.head {
		field(h.name, h.value)
	}
	if e.vars != nil {
		for _, v := range e.vars.vars {
			field("variable_"+v.name, v.value)
		}
	}
	for _, h := range e.tail {
		field(h.name, h.value)
	}
	if e.hasBody {
		field("Content-Length", strconv.Itoa(len(e.body)))
		field("_body", e.body)
	}
	b.WriteByte('}')
	body := b.String()
	return []byte("Content-Length: " + strconv.Itoa(len(body)) + "\nContent-Type: text/event-json\n\n" + body)
}
