package fstest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// frame is one frame FreeSWITCH (here: the emulator) sends on an event
// socket: the envelope headers, and the body (an event's own header block,
// an api response, a notice's text).
type frame struct {
	headers []kv
	body    string
}

func (f frame) get(name string) string {
	for _, h := range f.headers {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

// eventHeaders parses the body of a text/event-plain frame.
func (f frame) eventHeaders() []kv {
	block, _, _ := strings.Cut(f.body, "\n\n")
	var out []kv
	for _, line := range strings.Split(block, "\n") {
		if line == "" {
			continue
		}
		name, value, _ := strings.Cut(line, ": ")
		out = append(out, kv{name, value})
	}
	return out
}

func (f frame) event(name string) string {
	for _, h := range f.eventHeaders() {
		if h.name == name {
			return urlDecode(h.value)
		}
	}
	return ""
}

func urlDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readFrame reads one frame as an event-socket client does.
func readFrame(r *bufio.Reader) (frame, error) {
	var f frame
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if len(f.headers) > 0 || line != "" {
				return f, io.ErrUnexpectedEOF
			}
			return f, err
		}
		line = strings.TrimRight(line, "\n")
		if line == "" {
			if len(f.headers) == 0 {
				continue
			}
			break
		}
		name, value, _ := strings.Cut(line, ": ")
		f.headers = append(f.headers, kv{name, value})
	}
	if n := f.get("Content-Length"); n != "" {
		size, err := strconv.Atoi(n)
		if err != nil {
			return f, fmt.Errorf("bad Content-Length %q", n)
		}
		body := make([]byte, size)
		if _, err := io.ReadFull(r, body); err != nil {
			return f, err
		}
		f.body = string(body)
	}
	return f, nil
}

// appConn is the application side of one outbound socket connection.
type appConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func (a *appConn) send(s string) {
	a.t.Helper()
	if _, err := a.conn.Write([]byte(s)); err != nil {
		a.t.Fatalf("write %q: %v", s, err)
	}
}

func (a *appConn) next() frame {
	a.t.Helper()
	_ = a.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := readFrame(a.r)
	if err != nil {
		a.t.Fatalf("read frame: %v", err)
	}
	return f
}

func (a *appConn) expectEOF() {
	a.t.Helper()
	_ = a.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, err := readFrame(a.r)
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			return
		}
		a.t.Fatalf("want EOF, got %v", err)
	}
}

// appServer stands in for the application's outbound ESL listener.
type appServer struct {
	t     testing.TB
	ln    net.Listener
	conns chan net.Conn
}

func newAppServer(t testing.TB) *appServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &appServer{t: t, ln: ln, conns: make(chan net.Conn, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(s.conns)
		for c := range s.conns {
			c.Close()
		}
	})
	return s
}

func (s *appServer) accept() *appConn {
	s.t.Helper()
	select {
	case c := <-s.conns:
		s.t.Cleanup(func() { c.Close() })
		return &appConn{t: s.t, conn: c, r: bufio.NewReader(c)}
	case <-time.After(10 * time.Second):
		s.t.Fatal("no outbound connection")
		return nil
	}
}

// newFS starts an emulator dialling s.
func newFS(t testing.TB, s *appServer, opts Options) *FS {
	t.Helper()
	if s != nil {
		opts.Outbound = s.ln.Addr().String()
	}
	fs, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := fs.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return fs
}

func callResult(t testing.TB, k *Call) *CallResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := k.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return res
}

// sendmsg renders an execute message like the captures' application.
func execMsg(app, arg, uuid string, lock bool) string {
	var b strings.Builder
	b.WriteString("sendmsg\ncall-command: execute\nexecute-app-name: " + app + "\n")
	if arg != "" {
		b.WriteString("execute-app-arg: " + arg + "\n")
	}
	if lock {
		b.WriteString("event-lock: true\n")
	}
	if uuid != "" {
		b.WriteString("Event-UUID: " + uuid + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

// testCall is a call whose application side the test plays by hand.
type testCall struct {
	t       *testing.T
	fs      *FS
	app     *appConn
	k       *Call
	backlog []frame // asynchronous frames read while looking for a reply
}

// startCall places a call and accepts its outbound connection; setup runs
// before the call is placed.
func startCall(t *testing.T, opts Options, spec CallSpec, setup func(*FS)) *testCall {
	t.Helper()
	srv := newAppServer(t)
	if opts.Speed == 0 {
		opts.Speed = 100
	}
	fs := newFS(t, srv, opts)
	if setup != nil {
		setup(fs)
	}
	if spec.Caller == "" {
		spec.Caller = "2000"
	}
	k, err := fs.Call(context.Background(), spec)
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	return &testCall{t: t, fs: fs, app: srv.accept(), k: k}
}

func isReply(f frame) bool {
	ct := f.get("Content-Type")
	return ct == "command/reply" || ct == "api/response"
}

// reply sends a command and returns its reply frame.
func (c *testCall) reply(cmd string) frame {
	c.t.Helper()
	c.app.send(cmd)
	for {
		f := c.app.next()
		if isReply(f) {
			return f
		}
		c.backlog = append(c.backlog, f)
	}
}

// replyText sends a command and returns its Reply-Text (or api body).
func (c *testCall) replyText(cmd string) string {
	c.t.Helper()
	f := c.reply(cmd)
	if f.get("Content-Type") == "api/response" {
		return f.body
	}
	return f.get("Reply-Text")
}

// nextAsync returns the next event or notice.
func (c *testCall) nextAsync() frame {
	c.t.Helper()
	if len(c.backlog) > 0 {
		f := c.backlog[0]
		c.backlog = c.backlog[1:]
		return f
	}
	for {
		f := c.app.next()
		if !isReply(f) {
			return f
		}
		c.t.Fatalf("unexpected reply %v %q", f.headers, f.body)
	}
}

// event returns the next asynchronous frame and checks it is the event name.
func (c *testCall) event(name string) frame {
	c.t.Helper()
	f := c.nextAsync()
	if got := f.event("Event-Name"); got != name {
		c.t.Fatalf("got %s (%v), want %s", got, f.headers, name)
	}
	return f
}

// until skips asynchronous frames up to the event named name.
func (c *testCall) until(name string) frame {
	c.t.Helper()
	for {
		f := c.nextAsync()
		if f.event("Event-Name") == name {
			return f
		}
	}
}

// untilComplete skips to the EXECUTE_COMPLETE of app.
func (c *testCall) untilComplete(app string) frame {
	c.t.Helper()
	for {
		f := c.until("CHANNEL_EXECUTE_COMPLETE")
		if f.event("Application") == app {
			return f
		}
	}
}

// start does what the captures' application does first.
func (c *testCall) start(linger bool) {
	c.t.Helper()
	c.reply("connect\n\n")
	if got := c.replyText("myevents\n\n"); got != "+OK Events Enabled" {
		c.t.Fatalf("myevents: %q", got)
	}
	if linger {
		c.replyText("linger\n\n")
	}
}

// exec sends an execute and returns its +OK.
func (c *testCall) exec(app, arg, uuid string, lock bool) {
	c.t.Helper()
	if got := c.replyText(execMsg(app, arg, uuid, lock)); got != "+OK" {
		c.t.Fatalf("sendmsg %s: %q", app, got)
	}
}

// answer executes answer and consumes its events.
func (c *testCall) answer() {
	c.t.Helper()
	c.exec("answer", "", "", true)
	c.untilComplete("answer")
}

func (c *testCall) hangup(cause string) {
	c.t.Helper()
	c.replyText("sendmsg\ncall-command: hangup\nhangup-cause: " + cause + "\n\n")
}

// hangupAndWait hangs up and waits for the channel to go down. The +OK only
// says the message was queued to the channel, as in FreeSWITCH: closing
// the socket before the channel acted on it lets the socket application
// end first, and the dialplan then hangs up instead.
func (c *testCall) hangupAndWait(cause string) {
	c.t.Helper()
	c.hangup(cause)
	c.until("CHANNEL_HANGUP")
}

func (c *testCall) result() *CallResult {
	c.t.Helper()
	c.app.conn.Close()
	return callResult(c.t, c.k)
}
