package fstest

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"
)

// inboundClient is a client of the emulator's inbound event socket.
type inboundClient struct {
	*appConn
	backlog []frame
}

func dialInbound(t *testing.T, fs *FS, password string) *inboundClient {
	t.Helper()
	conn, err := net.Dial("tcp", fs.EventSocketAddr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &inboundClient{appConn: &appConn{t: t, conn: conn, r: bufio.NewReader(conn)}}
	if f := c.next(); f.get("Content-Type") != "auth/request" {
		t.Fatalf("greeting %v", f.headers)
	}
	if password != "" {
		if got := c.cmd("auth " + password); got != "+OK accepted" {
			t.Fatalf("auth: %q", got)
		}
	}
	return c
}

// cmd sends a command and returns its reply text or api body.
func (c *inboundClient) cmd(s string) string {
	c.t.Helper()
	c.send(s + "\n\n")
	for {
		f := c.next()
		if isReply(f) {
			if f.get("Content-Type") == "api/response" {
				return f.body
			}
			return f.get("Reply-Text")
		}
		c.backlog = append(c.backlog, f)
	}
}

func (c *inboundClient) event() frame {
	c.t.Helper()
	if len(c.backlog) > 0 {
		f := c.backlog[0]
		c.backlog = c.backlog[1:]
		return f
	}
	return c.next()
}

func TestInboundAuth(t *testing.T) {
	t.Parallel()
	fs := newFS(t, nil, Options{Password: "secret"})
	c := dialInbound(t, fs, "")
	if got := c.cmd("api status"); got != "-ERR command not found" {
		t.Errorf("before auth: %q", got)
	}
	if got := c.cmd("auth wrong"); got != "-ERR invalid" {
		t.Errorf("bad password: %q", got)
	}
	if f := c.next(); f.get("Content-Type") != "text/disconnect-notice" || f.get("Controlled-Session-UUID") != "" {
		t.Errorf("goodbye %v", f.headers)
	}
	c.expectEOF()

	c = dialInbound(t, fs, "secret")
	if got := c.cmd("exit"); got != "+OK bye" {
		t.Errorf("exit: %q", got)
	}
	c.next()
	c.expectEOF()
	if cmds := fs.InboundCommands(); strings.Join(cmds, "|") != "api status|auth wrong|auth secret|exit" {
		t.Errorf("commands %q", cmds)
	}
}

func TestRegistrations(t *testing.T) {
	t.Parallel()
	fs := newFS(t, nil, Options{})
	c := dialInbound(t, fs, "ClueCon")
	if got := c.cmd("api show registrations as json"); got != "{\"row_count\": 0}\n" {
		t.Errorf("no registrations: %q", got)
	}
	if got := c.cmd("event plain CUSTOM sofia::register sofia::unregister sofia::expire"); got != "+OK event listener enabled plain" {
		t.Fatalf("subscribe: %q", got)
	}
	fs.Register("2001", "pbx.local")
	fs.Register("2002", "pbx.local")
	for _, user := range []string{"2001", "2002"} {
		f := c.event()
		if f.event("Event-Subclass") != "sofia::register" || f.event("from-user") != user || f.event("from-host") != "pbx.local" ||
			f.event("network-ip") != "127.0.0.1" || f.event("expires") != "3600" || !strings.Contains(f.event("contact"), "sip:"+user+"@") {
			t.Errorf("register %q", f.eventHeaders())
		}
	}
	var reg struct {
		RowCount int                 `json:"row_count"`
		Rows     []map[string]string `json:"rows"`
	}
	if err := json.Unmarshal([]byte(c.cmd("api show registrations as json")), &reg); err != nil || reg.RowCount != 2 ||
		reg.Rows[0]["reg_user"] != "2001" || reg.Rows[0]["realm"] != "pbx.local" || reg.Rows[0]["network_proto"] != "udp" {
		t.Errorf("registrations %+v %v", reg, err)
	}
	fs.Unregister("2001", "pbx.local")
	if f := c.event(); f.event("Event-Subclass") != "sofia::unregister" || f.event("from-user") != "2001" || f.event("expires") != "0" {
		t.Errorf("unregister %q", f.eventHeaders())
	}
	fs.Expire("2002", "pbx.local")
	if f := c.event(); f.event("Event-Subclass") != "sofia::expire" || f.event("user") != "2002" || f.event("host") != "pbx.local" {
		t.Errorf("expire %q", f.eventHeaders())
	}
	if got := c.cmd("api show registrations count"); got != "\n0 total.\n" {
		t.Errorf("count %q", got)
	}
	if got := c.cmd("nixevent CUSTOM sofia::register"); got != "+OK events nixed" {
		t.Errorf("nixevent %q", got)
	}
	fs.Register("2003", "pbx.local")
	fs.Unregister("2003", "pbx.local")
	if f := c.event(); f.event("Event-Subclass") != "sofia::unregister" {
		t.Errorf("after nixevent %q", f.event("Event-Subclass"))
	}
}

func TestChat(t *testing.T) {
	t.Parallel()
	fs := newFS(t, nil, Options{})
	fs.Register("2001", "pbx.local")
	c := dialInbound(t, fs, "ClueCon")
	tests := map[string]string{
		"api chat sip|stickyacd@pbx.local|2001@pbx.local|call customer K01|text/plain": "Sent",
		"api chat sip|stickyacd@pbx.local|2001|reminder":                               "Sent",
		"api chat sip|stickyacd@pbx.local|2009@pbx.local|reminder":                     "Error! Message Not Sent",
		"api chat sip|only|three":                                                      "Invalid",
	}
	for cmd, want := range tests {
		if got := c.cmd(cmd); got != want {
			t.Errorf("%s → %q, want %q", cmd, got, want)
		}
	}
	if cmds := fs.InboundCommands(); len(cmds) != 5 || !strings.HasPrefix(cmds[1], "api chat sip|") {
		t.Errorf("commands %q", cmds)
	}
}

func TestInboundChannelEvents(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{Speed: 20}, CallSpec{}, func(fs *FS) {
		fs.Register("2001", "pbx.local")
		fs.SetEndpoint("user/2001", Endpoint{Answer: true, RingFor: time.Second, TalkFor: time.Second})
	})
	in := dialInbound(t, c.fs, "ClueCon")
	in.cmd("event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE")
	in.cmd("filter Call-Direction outbound")
	c.start(true)
	c.answer()
	c.exec("bridge", "{sip_h_X-Stickyacd-Customer=K01,stickyacd_call=c-1}user/2001", "", true)
	c.untilComplete("bridge")
	var names []string
	for len(names) < 3 {
		f := in.event()
		names = append(names, f.event("Event-Name"))
		if f.event("Channel-Presence-ID") != "2001@pbx.local" || f.event("variable_stickyacd_call") != "c-1" ||
			f.event("variable_sip_h_X-Stickyacd-Customer") != "K01" || f.event("Caller-Destination-Number") != "2001" {
			t.Errorf("%s: %q", f.event("Event-Name"), f.eventHeaders())
		}
	}
	if got := strings.Join(names, " "); got != "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE" {
		t.Errorf("agent leg events %s", got)
	}
	c.hangup("NORMAL_CLEARING")
	c.result()
}

func TestShowChannelsAndStartChannel(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{}, CallSpec{}, func(fs *FS) { fs.Register("3001", "pbx.local") })
	c.start(true)
	c.answer()
	in := dialInbound(t, c.fs, "ClueCon")
	in.cmd("event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE")
	ch := c.fs.StartChannel("3001", "inbound", "13800138000")
	for _, want := range []string{"CHANNEL_CREATE", "CHANNEL_ANSWER"} {
		if f := in.event(); f.event("Event-Name") != want || f.event("Channel-Presence-ID") != "3001@pbx.local" ||
			f.event("Caller-Destination-Number") != "13800138000" || f.event("Unique-ID") != ch.UUID() {
			t.Errorf("%s: %q", want, f.eventHeaders())
		}
	}
	var show struct {
		RowCount int                 `json:"row_count"`
		Rows     []map[string]string `json:"rows"`
	}
	if err := json.Unmarshal([]byte(in.cmd("api show channels as json")), &show); err != nil || show.RowCount != 2 {
		t.Fatalf("show channels %+v %v", show, err)
	}
	if r := show.Rows[0]; r["uuid"] != c.k.UUID() || r["application"] != "answer" || r["callstate"] != "ACTIVE" || r["cid_num"] != "2000" {
		t.Errorf("caller row %v", r)
	}
	if r := show.Rows[1]; r["presence_id"] != "3001@pbx.local" || r["dest"] != "13800138000" {
		t.Errorf("agent row %v", r)
	}
	if got := in.cmd("api show channels"); !strings.HasPrefix(got, "uuid,direction,created,") || !strings.HasSuffix(got, "\n\n2 total.\n") {
		t.Errorf("csv %q", got)
	}
	if got := in.cmd("api show channels count"); got != "\n2 total.\n" {
		t.Errorf("count %q", got)
	}
	ch.Hangup()
	if f := in.event(); f.event("Event-Name") != "CHANNEL_HANGUP_COMPLETE" || f.event("Unique-ID") != ch.UUID() {
		t.Errorf("hangup %q", f.eventHeaders())
	}
	if got := in.cmd("api uuid_exists " + ch.UUID()); got != "false" {
		t.Errorf("gone channel exists: %q", got)
	}
	if got := in.cmd("api status"); !strings.HasPrefix(got, "UP 0 years, 0 days") || !strings.Contains(got, "1.10.12") {
		t.Errorf("status %q", got)
	}
	// Killing the caller from the inbound socket.
	if got := in.cmd("api uuid_kill " + c.k.UUID()); got != "+OK\n" {
		t.Errorf("uuid_kill %q", got)
	}
	c.until("CHANNEL_HANGUP_COMPLETE")
	if res := c.result(); res.HungUpBy != "app" {
		t.Errorf("result %+v", res)
	}
}

func TestOriginate(t *testing.T) {
	t.Parallel()
	fs := newFS(t, nil, Options{Speed: 50})
	fs.SetEndpoint("user/2001", Answers(time.Second))
	fs.SetEndpoint("user/2002", Busy())
	fs.SetEndpoint("user/2003", NoAnswer())
	fs.SetEndpoint("user/2004", Endpoint{Answer: true, TalkFor: time.Second})
	c := dialInbound(t, fs, "ClueCon")
	c.cmd("event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE")
	got := c.cmd("api originate {origination_uuid=x}user/2001 &park()")
	uuid, ok := strings.CutPrefix(got, "+OK ")
	uuid = strings.TrimSuffix(uuid, "\n")
	if !ok || c.cmd("api uuid_exists "+uuid) != "true" {
		t.Fatalf("originate answered: %q", got)
	}
	if got := c.cmd("api uuid_kill " + uuid); got != "+OK\n" {
		t.Errorf("kill %q", got)
	}
	for _, tt := range []struct{ cmd, want string }{
		{"api originate user/2002 &park()", "-ERR USER_BUSY\n"},
		{"api originate {originate_timeout=1}user/2003 &park()", "-ERR NO_ANSWER\n"},
		{"api originate user/2999 &park()", "-ERR USER_NOT_REGISTERED\n"},
		{"api originate user/2001", "-USAGE: " + originateSyntax + "\n"},
	} {
		if got := c.cmd(tt.cmd); got != tt.want {
			t.Errorf("%s → %q, want %q", tt.cmd, got, tt.want)
		}
	}
	if got := c.cmd("api originate user/2004 9000 XML default Agent 2004 30"); !strings.HasPrefix(got, "+OK ") {
		t.Errorf("talk-for originate %q", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	var hangups int
	for hangups < 4 && time.Now().Before(deadline) {
		if c.event().event("Event-Name") == "CHANNEL_HANGUP_COMPLETE" {
			hangups++
		}
	}
	if hangups != 4 {
		t.Errorf("%d channels ended, want 4", hangups)
	}
}

func TestInboundBackgroundJobAndSendmsg(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{}, CallSpec{}, nil)
	c.start(true)
	in := dialInbound(t, c.fs, "ClueCon")
	in.cmd("event plain BACKGROUND_JOB CHANNEL_EXECUTE_COMPLETE")
	in.send("bgapi uuid_exists " + c.k.UUID() + "\n\n")
	reply := in.next()
	job := reply.get("Job-UUID")
	if !strings.HasPrefix(reply.get("Reply-Text"), "+OK Job-UUID: ") || job == "" {
		t.Fatalf("bgapi reply %v", reply.headers)
	}
	f := in.event()
	if f.event("Event-Name") != "BACKGROUND_JOB" || f.event("Job-UUID") != job || f.event("Job-Owner-UUID") != "_undef_" {
		t.Errorf("job %q", f.eventHeaders())
	}
	// A sendmsg from the inbound socket runs on the call like its own.
	if got := in.cmd("sendmsg " + c.k.UUID() + "\ncall-command: execute\nexecute-app-name: answer\n"); got != "+OK" {
		t.Errorf("sendmsg %q", got)
	}
	if f := in.event(); f.event("Application") != "answer" || f.event("Unique-ID") != c.k.UUID() {
		t.Errorf("complete %q", f.eventHeaders())
	}
	in.cmd("noevents")
	in.cmd("event plain ALL")
	c.hangup("NORMAL_CLEARING")
	if f := in.event(); f.event("Event-Name") != "CHANNEL_HANGUP" {
		t.Errorf("ALL: %q", f.event("Event-Name"))
	}
	c.result()
}

func TestInboundMyevents(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{}, CallSpec{}, func(fs *FS) { fs.SetEndpoint("user/2001", Busy()) })
	c.start(true)
	in := dialInbound(t, c.fs, "ClueCon")
	if got := in.cmd("myevents 00000000-0000-0000-0000-000000000000 plain"); got != "-ERR invalid uuid" {
		t.Errorf("unknown uuid: %q", got)
	}
	if got := in.cmd("myevents " + c.k.UUID() + " plain"); got != "+OK Events Enabled" {
		t.Errorf("myevents: %q", got)
	}
	c.answer()
	if f := in.event(); f.event("Event-Name") != "CHANNEL_EXECUTE" || f.event("Unique-ID") != c.k.UUID() {
		t.Errorf("first event %q", f.eventHeaders())
	}
	c.exec("set", "continue_on_fail=true", "", true)
	c.untilComplete("set")
	// The agent leg's events are not the caller's: myevents keeps them out.
	c.exec("bridge", "user/2001@pbx.local", "", true)
	if f := c.untilComplete("bridge"); f.event("variable_originate_disposition") != "USER_BUSY" {
		t.Errorf("endpoint for user/2001@pbx.local: %q", f.event("variable_originate_disposition"))
	}
	for {
		f := in.event()
		if f.event("Unique-ID") != c.k.UUID() {
			t.Fatalf("foreign event %s of %s", f.event("Event-Name"), f.event("Unique-ID"))
		}
		if f.event("Application") == "bridge" && f.event("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" {
			break
		}
	}
	c.hangup("NORMAL_CLEARING")
	c.result()
}
