package esl

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/percipia/eslgo"
)

func TestRegistrationFromEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ev   map[string]string
		want Registration
		ok   bool
	}{
		{"register", map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": "sofia::register", "from-user": "2001", "from-host": "pbx.local", "contact": "<sip:2001@10.0.0.5:5060>", "network-ip": "10.0.0.5", "realm": "auth"},
			Registration{User: "2001", Realm: "pbx.local", Contact: "<sip:2001@10.0.0.5:5060>", NetworkIP: "10.0.0.5", Registered: true, Kind: "register"}, true},
		{"unregister", map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": "sofia::unregister", "from-user": "2001", "from-host": "pbx.local"},
			Registration{User: "2001", Realm: "pbx.local", Kind: "unregister"}, true},
		{"expire", map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": "sofia::expire", "user": "2001", "host": "pbx.local", "network-ip": "10.0.0.5"},
			Registration{User: "2001", Realm: "pbx.local", NetworkIP: "10.0.0.5", Kind: "expire"}, true},
		{"other subclass", map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": "sofia::gateway_state"}, Registration{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := registrationFromEvent(eventFromMap(tc.ev))
			if ok != tc.ok || got != tc.want {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestChannelFromEvent(t *testing.T) {
	t.Parallel()
	got := channelFromEvent(eventFromMap(map[string]string{
		"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": "u1", "Call-Direction": "outbound",
		"Caller-Caller-ID-Number": "9000", "Caller-Destination-Number": "2001",
		"Channel-Presence-ID": "2001@pbx.local", "Hangup-Cause": "NORMAL_CLEARING",
		"variable_stickyacd_call": "c1", "variable_other": "x",
	}))
	want := ChannelEvent{
		Name: "CHANNEL_HANGUP_COMPLETE", UUID: "u1", Direction: "outbound", CallerNumber: "9000",
		DestinationNumber: "2001", PresenceUser: "2001", HangupCause: "NORMAL_CLEARING",
		Vars: map[string]string{"stickyacd_call": "c1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

const channelsJSON = `{"row_count":1,"rows":[{"uuid":"9c4ebbb0-9c5f-42e9-b61c-49c1084f494a","direction":"inbound","created":"2026-11-30 11:06:56","created_epoch":"1796036816","name":"sofia/internal/2000@127.0.0.1:5070","state":"CS_EXECUTE","cid_name":"Caller 1","cid_num":"2000","ip_addr":"127.0.0.1","dest":"9000","application":"answer","application_data":"","dialplan":"XML","context":"default","read_codec":"PCMU","read_rate":"8000","read_bit_rate":"64000","write_codec":"PCMU","write_rate":"8000","write_bit_rate":"64000","secure":"","hostname":"vm","presence_id":"","presence_data":"","accountcode":"","callstate":"ACTIVE","callee_name":"","callee_num":"","callee_direction":"","call_uuid":"","sent_callee_name":"","sent_callee_num":"","initial_cid_name":"Caller 1","initial_cid_num":"2000","initial_ip_addr":"127.0.0.1","initial_dest":"9000","initial_dialplan":"XML","initial_context":"default"}]}`

const registrationsJSON = `{"row_count":1,"rows":[{"reg_user":"2001","realm":"pbx.local","token":"abc","url":"sofia/internal/sip:2001@10.0.0.5:5060","expires":"1796037000","network_ip":"10.0.0.5","network_port":"5060","network_proto":"udp","hostname":"vm","metadata":""}]}`

func TestParseChannels(t *testing.T) {
	t.Parallel()
	got, err := parseChannels(channelsJSON)
	if err != nil {
		t.Fatal(err)
	}
	want := []ChannelInfo{{
		UUID: "9c4ebbb0-9c5f-42e9-b61c-49c1084f494a", Direction: "inbound", Name: "sofia/internal/2000@127.0.0.1:5070",
		State: "CS_EXECUTE", CallState: "ACTIVE", CallerNumber: "2000", CallerName: "Caller 1", Destination: "9000",
		Created: time.Unix(1796036816, 0),
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got, err := parseChannels(`{"row_count":0}` + "\n"); err != nil || len(got) != 0 {
		t.Errorf("no rows: %v, %v", got, err)
	}
	if _, err := parseChannels("-ERR x"); err == nil {
		t.Error("garbage accepted")
	}
}

func TestParseRegistrations(t *testing.T) {
	t.Parallel()
	before := time.Unix(1796037000-60, 0) // the row expires at 1796037000
	got, err := parseRegistrations(registrationsJSON, before)
	if err != nil {
		t.Fatal(err)
	}
	want := []Registration{{User: "2001", Realm: "pbx.local", Contact: "sofia/internal/sip:2001@10.0.0.5:5060", NetworkIP: "10.0.0.5", Registered: true, Kind: "register"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got, err := parseRegistrations(`{"row_count":0}`, before); err != nil || len(got) != 0 {
		t.Errorf("no rows: %v, %v", got, err)
	}
	// FreeSWITCH's core keeps an expired row a little while after
	// sofia::expire; it is no registration.
	if got, err := parseRegistrations(registrationsJSON, time.Unix(1796037000, 0)); err != nil || len(got) != 0 {
		t.Errorf("expired row: %v, %v", got, err)
	}
}

func FuzzParseShow(f *testing.F) {
	for _, s := range []string{channelsJSON, registrationsJSON, `{"row_count":0}`, "", "-ERR", `{"rows":[{}]}`, `{"rows":[{"created_epoch":"-5"}]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if rows, err := parseChannels(body); err == nil && rows == nil {
			t.Error("nil rows without error")
		}
		if rows, err := parseRegistrations(body, time.Unix(0, 0)); err == nil && rows == nil {
			t.Error("nil rows without error")
		}
	})
}

// recorder is an EventHandler that records what it gets.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.got = append(r.got, s)
	r.mu.Unlock()
}
func (r *recorder) Connected(context.Context) { r.add("connected") }
func (r *recorder) RegistrationChanged(_ context.Context, reg Registration) {
	r.add(reg.Kind + " " + reg.User)
}
func (r *recorder) ChannelChanged(_ context.Context, c ChannelEvent) { r.add(c.Name + " " + c.UUID) }

func TestDispatchDropsStaleEvents(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	c := NewClient(ClientOptions{Handler: rec})
	q := newEventQueue()
	reg := func(kind string, seq string) Event {
		return eventFromMap(map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": "sofia::" + kind, "from-user": "2001", "from-host": "h", "Event-Sequence": seq})
	}
	ch := func(name, seq string) Event {
		return eventFromMap(map[string]string{"Event-Name": name, "Unique-ID": "u1", "Event-Sequence": seq})
	}
	for _, it := range []queued{
		{gen: 1, connected: true},
		queuedEvent(1, reg("unregister", "20")),
		queuedEvent(1, reg("register", "10")), // older: handled after the unregister by eslgo
		queuedEvent(1, ch("CHANNEL_CREATE", "11")),
		queuedEvent(1, ch("CHANNEL_HANGUP_COMPLETE", "30")),
		queuedEvent(1, ch("CHANNEL_ANSWER", "12")),
		{gen: 2, connected: true},
		queuedEvent(2, reg("register", "5")), // a restarted FreeSWITCH counts again
	} {
		q.push(it)
	}
	done := make(chan struct{})
	go func() {
		c.dispatch(t.Context(), q)
		close(done)
	}()
	for deadline := time.Now().Add(5 * time.Second); ; {
		rec.mu.Lock()
		n := len(rec.got)
		rec.mu.Unlock()
		if n >= 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	q.close()
	<-done
	want := "connected|unregister 2001|CHANNEL_CREATE u1|CHANNEL_HANGUP_COMPLETE u1|connected|register 2001"
	if got := strings.Join(rec.got, "|"); got != want {
		t.Errorf("handled %q, want %q", got, want)
	}
}

// A full queue drops events rather than grow; once it has room again the
// handler is told to reconcile ("connected"), since what the dropped events
// said is lost.
func TestDispatchQueueIsBounded(t *testing.T) {
	t.Parallel()
	q := newEventQueue()
	ev := func(i int) queued {
		return queuedEvent(1, eventFromMap(map[string]string{"Event-Name": "CHANNEL_ANSWER", "Unique-ID": "u" + strconv.Itoa(i), "Event-Sequence": strconv.Itoa(i + 1)}))
	}
	for i := 0; i < maxQueued+5; i++ {
		q.push(ev(i))
	}
	if got := q.droppedEvents(); got != 5 {
		t.Fatalf("dropped %d, want 5", got)
	}
	for i := 0; i < maxQueued/2+1; i++ {
		if _, ok := q.pop(); !ok {
			t.Fatal("queue closed")
		}
	}
	q.push(ev(maxQueued + 5))
	var resync bool
	for {
		q.mu.Lock()
		n := len(q.items)
		q.mu.Unlock()
		if n == 0 {
			break
		}
		it, _ := q.pop()
		resync = resync || it.connected
	}
	if !resync {
		t.Error("no reconciliation queued after events were dropped")
	}
}

func TestEslgoLoggerOmitsFrames(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := &eslgoLogger{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	raw := &eslgo.RawResponse{Body: []byte("variable_id_digits: 110101199003074518")}
	l.Warn("No one to handle response\n%v\n", raw)
	l.Info("Disconnect outbound connection", "127.0.0.1:1")
	out := buf.String()
	if strings.Contains(out, "110101199003074518") {
		t.Errorf("frame logged: %s", out)
	}
	if !strings.Contains(out, "frame omitted") || !strings.Contains(out, "Disconnect outbound connection 127.0.0.1:1") {
		t.Errorf("log = %s", out)
	}
}

func TestForwardConnectReplyAddsProxyHeader(t *testing.T) {
	t.Parallel()
	fs, front := net.Pipe()
	eslgoSide, back := net.Pipe()
	defer fs.Close()
	defer eslgoSide.Close()
	pc := &proxyConn{id: "42", front: front}
	errc := make(chan error, 1)
	go func() { errc <- pc.forwardConnectReply(back) }()
	go func() {
		_, _ = fs.Write([]byte("Event-Name: CHANNEL_DATA\nUnique-ID: u1\nContent-Type: command/reply\nReply-Text: %2BOK%0A\n\n"))
	}()
	want := "Event-Name: CHANNEL_DATA\nUnique-ID: u1\nContent-Type: command/reply\nReply-Text: %2BOK%0A\nStickyacd-Proxy-Id: 42\n\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(eslgoSide, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("forwarded %q, want %q", got, want)
	}
}

// BenchmarkDispatchManyChannels is the event client's ordering check on a
// busy FreeSWITCH: every channel of the last trackedWindow events is
// remembered, tens of thousands of them at a thousand calls a second.
func BenchmarkDispatchManyChannels(b *testing.B) {
	h := &countingHandler{}
	c := NewClient(ClientOptions{Handler: h})
	q := newEventQueue()
	done := make(chan struct{})
	go func() {
		c.dispatch(context.Background(), q)
		close(done)
	}()
	b.ResetTimer()
	for seq := 1; seq <= b.N; seq++ {
		q.push(queuedEvent(1, eventFromMap(map[string]string{
			"Event-Name": "CHANNEL_CREATE", "Unique-ID": "u" + strconv.Itoa(seq%30_000), "Event-Sequence": strconv.Itoa(seq),
		})))
	}
	// The time is the dispatcher's: wait for it to handle every event.
	for h.n.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	q.close()
	<-done
}

// countingHandler counts channel events.
type countingHandler struct{ n atomic.Int64 }

func (h *countingHandler) Connected(context.Context)                         {}
func (h *countingHandler) RegistrationChanged(context.Context, Registration) {}
func (h *countingHandler) ChannelChanged(_ context.Context, _ ChannelEvent)  { h.n.Add(1) }

func TestEventOnlyKeepsTheNamedHeaders(t *testing.T) {
	t.Parallel()
	ev := eventFromMap(map[string]string{
		"Event-Name": "CHANNEL_BRIDGE", "Event-Sequence": "42", "Other-Leg-Unique-ID": "b-leg",
		"variable_bridge_uuid": "b-leg", "variable_sip_from_user": "13900000001",
	})
	got := ev.only(bridgeEventHeaders...)
	if got.Sequence() != 42 || otherLeg(got) != "b-leg" || got.Var("bridge_uuid") != "b-leg" {
		t.Errorf("kept headers lost: %v", got.h)
	}
	if got.Name() != "" || got.Var("sip_from_user") != "" || len(got.h) != 3 {
		t.Errorf("other headers kept: %v", got.h)
	}
}

// A compacted event reads like the original.
func TestEventCompact(t *testing.T) {
	t.Parallel()
	m := map[string]string{
		"Event-Name": "CHANNEL_DATA", "Unique-ID": "u1", "Event-Sequence": "7", "Event-Date-Timestamp": "1700000000000000",
		"variable_stickyacd_action": "next_callback", "variable_sip_from_user": "3001", "Caller-Caller-ID-Number": "+86 139",
		"variable_empty": "",
	}
	ev := eventFromMap(m)
	c := ev.compact()
	if c.h != nil || c.c == nil {
		t.Fatal("not compacted")
	}
	for k, want := range m {
		if got := c.Get(k); got != want || got != ev.Get(k) {
			t.Errorf("Get(%s) = %q, want %q", k, got, want)
		}
		if !c.Has(k) {
			t.Errorf("Has(%s) = false", k)
		}
	}
	if c.Var("stickyacd_action") != "next_callback" || c.Sequence() != 7 || !c.Time().Equal(ev.Time()) || c.Name() != "CHANNEL_DATA" {
		t.Errorf("accessors differ: %q %d %v", c.Var("stickyacd_action"), c.Sequence(), c.Time())
	}
	for _, absent := range []string{"variable_nope", "Aaa", "Zzz", ""} {
		if c.Has(absent) || c.Get(absent) != "" {
			t.Errorf("%q found", absent)
		}
	}
	if again := c.compact(); again.c != c.c {
		t.Error("compacting twice copied again")
	}
}
