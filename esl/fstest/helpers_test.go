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

// nextEvent skips frames until an event named name arrives.
func (a *appConn) nextEvent(name string) frame {
	a.t.Helper()
	for {
		f := a.next()
		if f.get("Content-Type") == "text/event-plain" && f.event("Event-Name") == name {
			return f
		}
	}
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
