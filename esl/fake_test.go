package esl

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sent is a command as the fake connection received it.
type sent struct {
	line      string            // first line
	headers   map[string]string // sendmsg headers
	body      string
	eventUUID string
}

func (c sent) app() string { return c.headers["execute-app-name"] }

func (c sent) arg() string {
	if a, ok := c.headers["execute-app-arg"]; ok {
		return a
	}
	return c.body
}

func parseSent(msg string) sent {
	head, body, _ := strings.Cut(msg, "\n\n")
	lines := strings.Split(head, "\n")
	c := sent{line: lines[0], headers: map[string]string{}, body: body}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ": ")
		c.headers[k] = v
	}
	c.eventUUID = c.headers["Event-UUID"]
	return c
}

// fakeConn is a conn whose replies and events the test scripts.
type fakeConn struct {
	mu     sync.Mutex
	cmds   []sent
	closed bool
	// respond is called for each command and returns the reply; it may
	// deliver events. nil answers +OK.
	respond func(ctx context.Context, c sent) (string, error)
}

func (f *fakeConn) send(ctx context.Context, cmd command) (string, error) {
	c := parseSent(cmd.BuildMessage())
	f.mu.Lock()
	f.cmds = append(f.cmds, c)
	respond := f.respond
	f.mu.Unlock()
	if respond == nil {
		return "+OK", nil
	}
	return respond(ctx, c)
}

func (f *fakeConn) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
}

func (f *fakeConn) sent() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.cmds...)
}

func (f *fakeConn) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

const testUUID = "b4bf56b4-b04e-4468-8e20-1840ebde88f4"

// newTestSession returns a session on a fake connection.
func newTestSession(t *testing.T, respond func(ctx context.Context, c sent) (string, error)) (*Session, *fakeConn) {
	t.Helper()
	f := &fakeConn{respond: respond}
	data := eventFromMap(map[string]string{
		"Event-Name":                "CHANNEL_DATA",
		"Unique-ID":                 testUUID,
		"Caller-Caller-ID-Number":   "13800138000",
		"Caller-Caller-ID-Name":     "Caller 1",
		"Caller-Destination-Number": "9000",
		"variable_stickyacd_action": "login",
	})
	s := newSession(f, data, "127.0.0.1:5000", sessionConfig{})
	t.Cleanup(s.lifeStop)
	return s, f
}

// ev builds an event of the test call.
func ev(name string, kv ...string) Event {
	m := map[string]string{"Event-Name": name, "Unique-ID": testUUID}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return eventFromMap(m)
}

// complete is the completion of an execution.
func complete(c sent, seq int, kv ...string) Event {
	return ev("CHANNEL_EXECUTE_COMPLETE", append([]string{
		"Application", c.app(), "Application-UUID", c.eventUUID,
		"Application-Response", "_none_", "Event-Sequence", fmt.Sprint(seq),
	}, kv...)...)
}
