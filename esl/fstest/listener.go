package fstest

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// listener is one event-socket connection, either the outbound socket of a
// call (session set at creation) or a client of the inbound socket. Its
// command handling ports parse_command from mod_event_socket.c.
type listener struct {
	fs       *FS
	conn     net.Conn
	br       *bufio.Reader
	out      *outQueue
	outbound bool
	call     *Call // the call of an outbound socket

	// owned by bus.mu
	placedGlobal bool
	placedUUID   string

	mu         sync.Mutex
	session    *channel
	authed     bool
	closed     bool
	events     bool
	myevents   bool
	allEvents  bool
	allCustoms bool
	eventTypes map[string]bool
	customs    map[string]bool
	filters    []filter
	format     string
	linger     bool
	lingerSecs int
	resume     bool
	connected  bool
	logging    bool

	bytesIn  atomic.Int64
	bytesOut atomic.Int64
}

func newListener(fs *FS, conn net.Conn) *listener {
	return &listener{
		fs:         fs,
		conn:       conn,
		br:         bufio.NewReader(conn),
		out:        newOutQueue(),
		eventTypes: make(map[string]bool),
		customs:    make(map[string]bool),
		format:     "plain",
		lingerSecs: -1,
	}
}

// start registers the connection and runs its writer and command reader;
// false (and the connection closed) when the emulator is closing.
func (l *listener) start() bool {
	l.fs.mu.Lock()
	if l.fs.closed {
		l.fs.mu.Unlock()
		l.conn.Close()
		return false
	}
	l.fs.listeners[l] = struct{}{}
	l.fs.mu.Unlock()
	if !l.fs.goroutine(func() { l.out.run(l.conn, func(n int64) { l.bytesOut.Add(n) }) }) {
		l.conn.Close()
		return false
	}
	if !l.fs.goroutine(l.serve) {
		l.out.kill()
		return false
	}
	return true
}

func (l *listener) serve() {
	for {
		cmd, err := readCommand(l.br)
		if err != nil {
			break
		}
		l.bytesIn.Add(int64(cmd.size))
		if l.outbound {
			l.call.recordCommand(cmd.line)
		} else {
			l.fs.recordInbound(cmd.line)
		}
		if !l.handle(cmd) {
			break
		}
	}
	l.finish()
}

// reply queues a command/reply frame. A reply starting with '~' carries its
// own headers, as parse_command's replies do.
func (l *listener) reply(text string) {
	if strings.HasPrefix(text, "~") {
		l.out.push([]byte("Content-Type: command/reply\n" + text[1:]))
		return
	}
	l.out.push([]byte("Content-Type: command/reply\nReply-Text: " + text + "\n\n"))
}

func (l *listener) eventFormat() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.format
}

// finish runs when the peer closed the connection or a command ended it:
// the listener leaves the bus, the controlled channel learns its socket is
// gone, and FreeSWITCH's goodbye notice is sent.
func (l *listener) finish() {
	l.mu.Lock()
	already := l.closed
	l.closed = true
	resume := l.resume
	session := l.session
	l.mu.Unlock()
	l.fs.bus.remove(l)
	l.fs.mu.Lock()
	delete(l.fs.listeners, l)
	l.fs.mu.Unlock()
	if !already {
		l.out.pushAndClose(l.disconnectNotice("Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"))
	}
	if l.outbound && session != nil {
		session.socketClosed(resume)
	}
}

// shutdown closes the connection from FreeSWITCH's side with a goodbye
// notice carrying message (kill_listener).
func (l *listener) shutdown(message string) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.mu.Unlock()
	l.fs.bus.remove(l)
	l.out.pushAndClose(l.disconnectNotice(message))
}

// disconnectNotice is send_disconnect's frame.
func (l *listener) disconnectNotice(message string) []byte {
	l.mu.Lock()
	session := l.session
	l.mu.Unlock()
	if session != nil {
		return []byte(fmt.Sprintf("Content-Type: text/disconnect-notice\nControlled-Session-UUID: %s\nContent-Disposition: disconnect\nContent-Length: %d\n\n%s",
			session.uuid, len(message), message))
	}
	return []byte(fmt.Sprintf("Content-Type: text/disconnect-notice\nContent-Length: %d\n\n%s", len(message), message))
}

// handle processes one command; false ends the connection.
func (l *listener) handle(cmd *command) bool {
	c := cmd.line
	if hasPrefixFold(c, "exit") || hasPrefixFold(c, "...") {
		l.reply("+OK bye")
		return false
	}
	l.mu.Lock()
	authed := l.authed
	l.mu.Unlock()
	if !authed {
		switch {
		case hasPrefixFold(c, "auth "):
			if c[5:] == l.fs.password {
				l.mu.Lock()
				l.authed = true
				l.mu.Unlock()
				l.reply("+OK accepted")
				return true
			}
			l.reply("-ERR invalid")
			return false
		case hasPrefixFold(c, "userauth "):
			// There is no user directory to check esl-password against.
			l.reply("-ERR invalid")
			return false
		}
		l.reply("-ERR command not found")
		return true
	}

	l.mu.Lock()
	session := l.session
	l.mu.Unlock()

	switch {
	case hasPrefixFold(c, "filter "):
		l.reply(l.filterCommand(c[len("filter "):]))
		return true
	case session != nil && l.outbound && hasPrefixFold(c, "resume"):
		l.mu.Lock()
		l.resume = true
		l.mu.Unlock()
		session.setVar("socket_resume", "true")
		l.reply("+OK")
		return true
	}

	if session != nil || hasPrefixFold(c, "myevents ") {
		switch {
		case hasPrefixFold(c, "connect"):
			l.connect()
			return true
		case hasPrefixFold(c, "getvar"):
			val := ""
			if _, name, ok := strings.Cut(c, " "); ok && session != nil {
				val = session.getVar(name)
			}
			l.replyOrNotFound(val)
			return true
		case hasPrefixFold(c, "myevents"):
			l.reply(l.myeventsCommand(c))
			return true
		}
	}

	switch {
	case hasPrefixFold(c, "divert_events"):
		l.reply(l.divertCommand(c[len("divert_events"):], session))
	case hasPrefixFold(c, "sendmsg"):
		l.sendmsg(cmd, session)
	case hasPrefixFold(c, "sendevent"):
		l.sendevent(cmd)
	case hasPrefixFold(c, "api "):
		l.api(c[len("api "):])
	case hasPrefixFold(c, "bgapi "):
		l.bgapi(cmd, c[len("bgapi "):], session)
	case hasPrefixFold(c, "log"):
		l.reply(l.logCommand(c[len("log"):]))
	case hasPrefixFold(c, "linger"):
		l.reply(l.lingerCommand(c, session))
	case hasPrefixFold(c, "nolinger"):
		if session == nil {
			l.reply("-ERR not controlling a session")
		} else {
			l.mu.Lock()
			l.linger = false
			l.mu.Unlock()
			l.reply("+OK will not linger")
		}
	case hasPrefixFold(c, "nolog"):
		l.mu.Lock()
		was := l.logging
		l.logging = false
		l.mu.Unlock()
		if was {
			l.reply("+OK no longer logging")
		} else {
			l.reply("-ERR not loging")
		}
	case hasPrefixFold(c, "event"):
		l.reply(l.eventCommand(c))
	case hasPrefixFold(c, "nixevent"):
		l.reply(l.nixeventCommand(c))
	case hasPrefixFold(c, "noevents"):
		l.reply(l.noeventsCommand())
	default:
		l.reply("-ERR command not found")
	}
	return true
}

// replyOrNotFound mirrors parse_command's "done:" label: an empty reply
// becomes "-ERR command not found".
func (l *listener) replyOrNotFound(text string) {
	if text == "" {
		text = "-ERR command not found"
	}
	l.reply(text)
}

func (l *listener) filterCommand(rest string) string {
	reply := l.applyFilter(rest)
	l.fs.bus.place(l)
	return reply
}

func (l *listener) applyFilter(rest string) string {
	rest = strings.TrimLeft(rest, " ")
	name, val, hasVal := strings.Cut(rest, " ")
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case strings.EqualFold(name, "delete") && hasVal:
		name, val, hasVal = strings.Cut(val, " ")
		if strings.EqualFold(name, "all") {
			l.filters = nil
		} else {
			kept := l.filters[:0]
			for _, f := range l.filters {
				if strings.EqualFold(f.header, name) && (!hasVal || f.value == val) {
					continue
				}
				kept = append(kept, f)
			}
			l.filters = kept
		}
		return fmt.Sprintf("+OK filter deleted. [%s][%s]", name, val)
	case hasVal:
		if strings.EqualFold(name, "add") {
			name, val, hasVal = strings.Cut(val, " ")
			if !hasVal {
				return fmt.Sprintf("+OK filter added. [%s]=[(null)]", name)
			}
		}
		l.filters = append(l.filters, filter{header: name, value: val})
		return fmt.Sprintf("+OK filter added. [%s]=[%s]", name, val)
	}
	return "-ERR invalid syntax"
}

// myeventsTypes is the event list myevents enables.
var myeventsTypes = []string{
	"CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE",
	"CHANNEL_DATA", "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE",
	"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID",
	"CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
	"CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK", "DETECTED_SPEECH", "DTMF",
	"NOTALK", "TALK",
}

func (l *listener) myeventsCommand(c string) string {
	l.mu.Lock()
	if l.myevents {
		l.mu.Unlock()
		return "-ERR aready enabled."
	}
	if l.session == nil {
		// "myevents <uuid> [format]" on the inbound socket.
		rest := strings.TrimSpace(c[len("myevents"):])
		uuid, format, hasFormat := strings.Cut(rest, " ")
		if ch := l.fs.lookup(uuid); ch != nil {
			l.session = ch
		} else if hasFormat {
			l.mu.Unlock()
			return "-ERR invalid uuid"
		}
		if hasFormat && isEventFormat(format) {
			l.format = strings.ToLower(format)
		}
	}
	for _, t := range myeventsTypes {
		l.eventTypes[t] = true
	}
	l.myevents = true
	l.events = true
	lower := strings.ToLower(c)
	if strings.Contains(lower, "xml") {
		l.format = "xml"
	}
	if strings.Contains(lower, "json") {
		l.format = "json"
	}
	l.mu.Unlock()
	l.fs.bus.place(l)
	return "+OK Events Enabled"
}

func isEventFormat(s string) bool {
	return strings.EqualFold(s, "plain") || strings.EqualFold(s, "xml") || strings.EqualFold(s, "json")
}

func (l *listener) divertCommand(rest string, session *channel) string {
	if session == nil {
		return "-ERR not controlling a session."
	}
	rest = strings.TrimLeft(rest, " ")
	if rest == "" {
		return "-ERR missing value."
	}
	if strings.EqualFold(rest, "on") {
		return "+OK events diverted"
	}
	return "+OK events not diverted"
}

func (l *listener) lingerCommand(c string, session *channel) string {
	if session == nil {
		return "-ERR not controlling a session"
	}
	secs := -1
	if len(c) > 7 && c[6] == ' ' {
		secs = atoi(c[7:])
	}
	l.mu.Lock()
	l.linger = true
	l.lingerSecs = secs
	l.mu.Unlock()
	if secs != -1 {
		return fmt.Sprintf("+OK will linger %d seconds", secs)
	}
	return "+OK will linger"
}

var logLevels = map[string]int{
	"console": 0, "alert": 1, "crit": 2, "err": 3, "error": 3, "warning": 4,
	"notice": 5, "info": 6, "debug": 7,
}

func (l *listener) logCommand(rest string) string {
	level := strings.TrimLeft(rest, " ")
	level, _, _ = strings.Cut(level, " ")
	n := 7
	if level != "" {
		v, ok := logLevels[strings.ToLower(level)]
		if !ok {
			if d, err := strconv.Atoi(level); err == nil && d >= 0 && d <= 7 {
				v, ok = d, true
			}
		}
		if !ok {
			return "-ERR invalid log level"
		}
		n = v
	}
	l.mu.Lock()
	l.logging = true
	l.mu.Unlock()
	return fmt.Sprintf("+OK log level %s [%d]", level, n)
}

// eventNames are EVENT_NAMES from switch_event.c.
var eventNames = func() map[string]string {
	names := []string{"CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE",
		"CHANNEL_CALLSTATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE",
		"CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD",
		"CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
		"CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION",
		"CHANNEL_ORIGINATE", "CHANNEL_UUID", "API", "LOG", "INBOUND_CHAN", "OUTBOUND_CHAN",
		"STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH", "TALK", "NOTALK", "SESSION_CRASH",
		"MODULE_LOAD", "MODULE_UNLOAD", "DTMF", "MESSAGE", "PRESENCE_IN", "NOTIFY_IN",
		"PRESENCE_OUT", "PRESENCE_PROBE", "MESSAGE_WAITING", "MESSAGE_QUERY", "ROSTER", "CODEC",
		"BACKGROUND_JOB", "DETECTED_SPEECH", "DETECTED_TONE", "PRIVATE_COMMAND", "HEARTBEAT",
		"TRAP", "ADD_SCHEDULE", "DEL_SCHEDULE", "EXE_SCHEDULE", "RE_SCHEDULE", "RELOADXML",
		"NOTIFY", "PHONE_FEATURE", "PHONE_FEATURE_SUBSCRIBE", "SEND_MESSAGE", "RECV_MESSAGE",
		"REQUEST_PARAMS", "CHANNEL_DATA", "GENERAL", "COMMAND", "SESSION_HEARTBEAT",
		"CLIENT_DISCONNECTED", "SERVER_DISCONNECTED", "SEND_INFO", "RECV_INFO",
		"RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT", "RECORD_START",
		"RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE",
		"SOCKET_DATA", "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY",
		"CONFERENCE_DATA", "CALL_SETUP_REQ", "CALL_SETUP_RESULT", "CALL_DETAIL",
		"DEVICE_STATE", "TEXT", "SHUTDOWN_REQUESTED", "ALL"}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = n
	}
	return m
}()

// eventName is switch_name_event: case-insensitive, "SWITCH_EVENT_" prefix
// allowed.
func eventName(s string) (string, bool) {
	u := strings.ToUpper(s)
	if n, ok := eventNames[u]; ok {
		return n, true
	}
	if len(u) > 13 {
		if n, ok := eventNames[u[13:]]; ok {
			return n, true
		}
	}
	return "", false
}

func (l *listener) eventCommand(c string) string {
	_, rest, ok := strings.Cut(c, " ")
	if !ok {
		return "-ERR no keywords supplied"
	}
	l.mu.Lock()
	keys := 0
	custom := false
	for i, tok := range strings.Split(rest, " ") {
		if i == 0 && isEventFormat(tok) {
			l.format = strings.ToLower(tok)
			continue
		}
		if custom {
			l.customs[strings.ToLower(tok)] = true
			continue
		}
		name, ok := eventName(tok)
		if !ok {
			continue
		}
		keys++
		if name == "ALL" {
			l.allEvents = true
			l.allCustoms = true
		}
		l.eventTypes[name] = true
		if name == "CUSTOM" {
			custom = true
		}
	}
	if keys == 0 {
		l.mu.Unlock()
		return "-ERR no keywords supplied"
	}
	l.events = true
	format := l.format
	l.mu.Unlock()
	l.fs.bus.place(l)
	return "+OK event listener enabled " + format
}

func (l *listener) nixeventCommand(c string) string {
	_, rest, ok := strings.Cut(c, " ")
	if !ok {
		return "-ERR no keywords supplied"
	}
	l.mu.Lock()
	keys := 0
	custom := false
	for _, tok := range strings.Split(rest, " ") {
		if custom {
			delete(l.customs, strings.ToLower(tok))
			continue
		}
		name, ok := eventName(tok)
		if !ok {
			continue
		}
		keys++
		switch {
		case name == "CUSTOM":
			custom = true
		case name == "ALL":
			l.allEvents = false
			l.allCustoms = false
			clear(l.eventTypes)
		default:
			if l.allEvents {
				l.allEvents = false
				for n := range eventNames {
					if n != "ALL" {
						l.eventTypes[n] = true
					}
				}
			}
			delete(l.eventTypes, name)
		}
	}
	if keys == 0 {
		l.mu.Unlock()
		return "-ERR no keywords supplied"
	}
	l.events = true
	l.mu.Unlock()
	l.fs.bus.place(l)
	return "+OK events nixed"
}

func (l *listener) noeventsCommand() string {
	l.mu.Lock()
	was := l.events
	l.events = false
	l.allEvents = false
	l.allCustoms = false
	l.myevents = false
	clear(l.eventTypes)
	clear(l.customs)
	l.mu.Unlock()
	l.fs.bus.place(l)
	if was {
		return "+OK no longer listening for events"
	}
	return "-ERR not listening for events"
}

// sendmsg queues the message on a channel like parse_command's sendmsg
// branch: the reply is always +OK once a channel is found; what the message
// does is the channel thread's business.
func (l *listener) sendmsg(cmd *command, session *channel) {
	uuid := strings.TrimLeft(cmd.line[len("sendmsg"):], " ")
	if uuid == "" {
		uuid = cmd.headerValue("session-id")
	}
	if session != nil && uuid == session.uuid {
		uuid = ""
	}
	target := session
	if uuid != "" {
		target = l.fs.lookup(uuid)
		if target == nil {
			l.reply(fmt.Sprintf("-ERR invalid session id [%s]", uuid))
			return
		}
	}
	if target == nil {
		l.reply("-ERR invalid session id []")
		return
	}
	l.reply("+OK")
	target.queueMessage(cmd)
}

func (l *listener) sendevent(cmd *command) {
	uuid := newUUID()
	name := strings.TrimSpace(cmd.line[len("sendevent"):])
	evName, ok := eventName(name)
	if !ok {
		evName = "CLONE"
	}
	e := &event{name: evName, site: siteSendEvent, uuid: cmd.headerValue("unique-id")}
	if evName == "CUSTOM" {
		e.subclass = cmd.headerValue("Event-Subclass")
	}
	e.head = append(e.head, kv{"Command", cmd.line})
	e.head = append(e.head, cmd.headers...)
	e.head = append(e.head, kv{"Event-UUID", uuid})
	if cmd.body != "" {
		e.body, e.hasBody = cmd.body, true
	}
	l.reply("+OK " + uuid)
	l.fs.fire(e)
}

var siteSendEvent = newCallsite("mod_event_socket.c", "parse_command", 1927)

func (l *listener) api(rest string) {
	name, arg, _ := strings.Cut(rest, " ")
	out := l.fs.api(name, arg, strings.Contains(rest, " "), l)
	if out == "" {
		out = "-ERR no reply\n"
	}
	l.out.push([]byte(fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(out), out)))
}

func (l *listener) bgapi(cmd *command, rest string, session *channel) {
	name, arg, hasArg := strings.Cut(rest, " ")
	job := cmd.headerValue("job-uuid")
	if job == "" {
		job = newUUID()
	}
	owner := ""
	if session != nil {
		owner = session.uuid
	}
	l.reply(fmt.Sprintf("~Reply-Text: +OK Job-UUID: %s\nJob-UUID: %s\n\n", job, job))
	l.fs.goroutine(func() {
		out := l.fs.api(name, arg, hasArg, l)
		if out == "" {
			out = "Command returned no output!"
		}
		e := &event{name: "BACKGROUND_JOB", site: siteBackgroundJob, jobOwner: owner, body: out, hasBody: true}
		e.head = []kv{{"Job-UUID", job}, {"Job-Owner-UUID", owner}, {"Job-Command", name}}
		if hasArg {
			e.head = append(e.head, kv{"Job-Command-Arg", arg})
		}
		l.fs.fire(e)
	})
}

// connect answers the outbound socket's "connect" with the CHANNEL_DATA
// header block: no Content-Length, every channel header and variable, then
// the command/reply lines (parse_command's connect branch).
func (l *listener) connect() {
	l.mu.Lock()
	session := l.session
	first := !l.connected
	l.connected = true
	l.mu.Unlock()
	if session == nil {
		return
	}
	l.out.push(session.channelData())
	if first && l.call != nil {
		l.call.connected()
	}
}
