package fstest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// capture is one recorded FreeSWITCH 1.10.12 outbound-socket session.
type capture struct {
	name     string
	frames   []frame  // what FreeSWITCH sent
	outs     []capOut // what the application sent
	uuid     string   // the caller channel's UUID
	outbound string   // the socket application's host:port
	appClose bool     // the application closed the connection (else FreeSWITCH did)
	// beforeClose is how many frames arrived before the application closed
	// its side; the rest came after a half-close.
	beforeClose int
	ackAt       ackPoint // where the caller's ACK landed
	appUUIDs    map[string]bool
	dest        string
	vars        map[string]string
	caller      string
	callerNam   string
}

// capOut is one write of the application, sent once afterFrames frames
// have arrived.
type capOut struct {
	data        string
	afterBytes  int
	afterFrames int
}

type capRecord struct {
	Conn string  `json:"conn"`
	T    float64 `json:"t"`
	Dir  string  `json:"dir"`
	Data string  `json:"data"`
}

// latin1 turns the JSON string of a record back into the bytes on the wire.
func latin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func loadCapture(t *testing.T, name string) *capture {
	t.Helper()
	path := filepath.Join("testdata", "captures", name+".jsonl")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	c := &capture{name: name, appUUIDs: map[string]bool{}}
	var in bytes.Buffer
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var rec capRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("%s: bad record: %v", path, err)
		}
		data := latin1(rec.Data)
		if rec.Dir == "in" {
			in.WriteString(data)
			continue
		}
		c.outs = append(c.outs, capOut{data: data, afterBytes: in.Len()})
	}
	cr := &countingReader{r: bytes.NewReader(in.Bytes())}
	r := bufio.NewReader(cr)
	var ends []int
	for {
		f, err := readFrame(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: parse frames: %v", path, err)
		}
		c.frames = append(c.frames, f)
		ends = append(ends, cr.n-r.Buffered())
	}
	// When did each frame complete?
	var endTimes []float64
	{
		pos := 0
		var recs []capRecord
		for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
			var rec capRecord
			_ = json.Unmarshal(line, &rec)
			if rec.Dir == "in" {
				recs = append(recs, rec)
			}
		}
		ri := 0
		for _, e := range ends {
			for ri < len(recs) && pos+len(latin1(recs[ri].Data)) < e {
				pos += len(latin1(recs[ri].Data))
				ri++
			}
			endTimes = append(endTimes, recs[min(ri, len(recs)-1)].T)
		}
	}
	for i := range c.outs {
		for _, e := range ends {
			if e <= c.outs[i].afterBytes {
				c.outs[i].afterFrames++
			}
		}
	}
	first := c.frames[0]
	c.uuid = first.get("Unique-ID")
	c.outbound, _, _ = strings.Cut(urlDecode(first.get("variable_current_application_data")), " ")
	c.dest = urlDecode(first.get("Caller-Destination-Number"))
	c.caller = urlDecode(first.get("Caller-Caller-ID-Number"))
	c.callerNam = urlDecode(first.get("Caller-Caller-ID-Name"))
	c.vars = map[string]string{}
	if v := first.get("variable_socket_resume"); v != "" {
		c.vars["socket_resume"] = v
	} else {
		c.vars["socket_resume"] = ""
	}
	txt, err := os.ReadFile(filepath.Join("testdata", "captures", name+".txt"))
	if err != nil {
		t.Fatalf("read transcript: %v", err)
	}
	c.beforeClose = len(c.frames)
	if m := appCloseRe.FindSubmatch(txt); m != nil {
		c.appClose = true
		at, _ := strconv.ParseFloat(string(m[1]), 64)
		c.beforeClose = 0
		for _, et := range endTimes {
			if et < at {
				c.beforeClose++
			}
		}
	}
	c.ackAt = findAckPoint(c.frames)
	for _, o := range c.outs {
		for _, line := range strings.Split(o.data, "\n") {
			if n, v, ok := strings.Cut(strings.TrimRight(line, "\r"), ": "); ok && strings.EqualFold(n, "Event-UUID") {
				c.appUUIDs[v] = true
			}
		}
	}
	return c
}

var appCloseRe = regexp.MustCompile(`\[\+([0-9.]+)\] === (?:APP closes TCP connection|EOF from APP side)`)

// findAckPoint tells where the caller's ACK (sip_to_tag …) first shows.
func findAckPoint(frames []frame) ackPoint {
	answered := false
	for _, f := range frames {
		if f.get("Content-Type") != "text/event-plain" {
			continue
		}
		name, app := f.event("Event-Name"), f.event("Application")
		if name == "CHANNEL_ANSWER" {
			answered = true
			continue
		}
		if !answered || f.event("variable_sip_to_tag") == "" {
			continue
		}
		switch {
		case name == "CHANNEL_EXECUTE_COMPLETE" && app == "answer":
			return ackOnAnswer
		case name == "CHANNEL_EXECUTE":
			return ackBeforeNextApp
		}
		return ackDuringNextApp
	}
	// The capture ends before the ACK shows: it must not show earlier.
	return ackBeforeNextApp
}

// fidelityScenario scripts the caller and agents to do what they did in
// a capture.
type fidelityScenario struct {
	name      string
	speed     float64
	input     []string
	hangAfter time.Duration
	hangOnApp string
	endpoints map[string]Endpoint
	check     func(t *testing.T, res *CallResult)
}

func wantResult(hungUpBy string, resumed bool) func(*testing.T, *CallResult) {
	return func(t *testing.T, res *CallResult) {
		t.Helper()
		if res.HungUpBy != hungUpBy || res.Resumed != resumed {
			t.Errorf("HungUpBy=%q Resumed=%v, want %q %v", res.HungUpBy, res.Resumed, hungUpBy, resumed)
		}
	}
}

var fidelityScenarios = []fidelityScenario{
	{name: "a_basic", speed: 20, check: wantResult("app", false)},
	{name: "a_linger3", speed: 20, check: wantResult("app", false)},
	{name: "a_queued", speed: 2, check: wantResult("app", false)},
	{name: "b_ok", speed: 20, input: []string{"123#"}},
	{name: "b_invalid", speed: 20, input: []string{"12", "3#"}},
	{name: "b_invalid_all", speed: 20, input: []string{"12#", ""}},
	{name: "b_timeout", speed: 20, input: []string{"", "", ""}},
	{name: "c_agent_hangs_up", speed: 20, endpoints: map[string]Endpoint{
		"sofia/internal/1001@127.0.0.1:5080": {Answer: true, RingFor: time.Second, TalkFor: 3 * time.Second}}},
	{name: "c_bridge_fail_503_no_continue_on_fail", speed: 20, check: wantResult("fs", false), endpoints: map[string]Endpoint{
		"sofia/internal/1001@127.0.0.1:5082": Unreachable()}},
	{name: "c_caller_hangs_up", speed: 4, hangAfter: 4 * time.Second, check: wantResult("caller", false), endpoints: map[string]Endpoint{
		"sofia/internal/1001@127.0.0.1:5082": Answers(time.Second)}},
	{name: "d_busy", speed: 20, endpoints: map[string]Endpoint{"sofia/internal/1003@127.0.0.1:5091": Busy()}},
	{name: "d_noanswer", speed: 20, endpoints: map[string]Endpoint{"sofia/internal/1002@127.0.0.1:5090": NoAnswer()}},
	{name: "d_noanswer_nocof", speed: 20, endpoints: map[string]Endpoint{"sofia/internal/1002@127.0.0.1:5090": NoAnswer()}},
	{name: "d_unreachable", speed: 20, endpoints: map[string]Endpoint{"sofia/internal/1002@127.0.0.1:5099": Unreachable()}},
	{name: "e_caller_hangup_during_playback", speed: 20, hangOnApp: "playback", check: wantResult("caller", false)},
	{name: "e_caller_hangup_nolinger", speed: 20, hangOnApp: "playback", check: wantResult("caller", false)},
	{name: "eslgo_v141_basic_wire", speed: 20},
	{name: "f_close_after_answer_noresume", speed: 20, check: wantResult("app", false)},
	{name: "f_close_after_answer_resume", speed: 20, check: wantResult("fs", true)},
	{name: "f_close_after_connect_noresume", speed: 20, check: wantResult("app", false)},
	{name: "f_close_after_connect_resume", speed: 20, check: wantResult("fs", true)},
	{name: "f_close_during_playback_noresume", speed: 20, check: wantResult("app", false)},
	{name: "f_close_during_playback_resume", speed: 20, check: wantResult("fs", true)},
	{name: "f_resume_cmd_9001", speed: 20, check: wantResult("fs", true)},
	{name: "g_api_and_errors", speed: 20, check: wantResult("fs", false)},
	{name: "h_hangup_during_pagd", speed: 20, input: []string{HangUp}, check: wantResult("caller", false)},
	{name: "h_uuid_break", speed: 20, check: wantResult("app", false)},
}

// TestFidelity replays every capture against the emulator: the caller and
// agents are scripted to do what they did, the application's writes are
// sent in order, each once the frames that preceded it in the capture have
// arrived, and everything the emulator sends is compared with what
// FreeSWITCH sent. Replies (command/reply, api/response) and asynchronous
// frames (events, notices) are compared as two ordered streams: how the two
// interleave depends on thread timing inside FreeSWITCH.
func TestFidelity(t *testing.T) {
	covered := map[string]bool{}
	for _, sc := range fidelityScenarios {
		covered[sc.name] = true
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			runFidelity(t, sc)
		})
	}
	files, err := filepath.Glob(filepath.Join("testdata", "captures", "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		if !covered[name] {
			t.Errorf("capture %s has no fidelity scenario", name)
		}
	}
}

func runFidelity(t *testing.T, sc fidelityScenario) {
	c := loadCapture(t, sc.name)
	srv := newAppServer(t)
	fs := newFS(t, srv, Options{Speed: sc.speed})
	for target, ep := range sc.endpoints {
		fs.SetEndpoint(target, ep)
	}
	spec := CallSpec{Caller: c.caller, CallerName: c.callerNam, Destination: c.dest, Vars: c.vars,
		Input: sc.input, HangupAfter: sc.hangAfter, HangupOnApp: sc.hangOnApp, ack: c.ackAt}
	k, err := fs.Call(context.Background(), spec)
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	app := srv.accept()
	ourOutbound := srv.ln.Addr().String()

	var got []frame
	readUpTo := func(n int) {
		for len(got) < n {
			_ = app.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			f, err := readFrame(app.r)
			if err != nil {
				reportStreams(t, c, got, ourOutbound, k.UUID())
				t.Fatalf("after %d of %d frames: %v", len(got), n, err)
			}
			got = append(got, f)
		}
	}
	for _, o := range c.outs {
		readUpTo(o.afterFrames)
		app.send(strings.ReplaceAll(o.data, c.uuid, k.UUID()))
	}
	readUpTo(c.beforeClose)
	switch {
	case c.appClose && c.beforeClose == len(c.frames):
		// Nothing more may come before the application closes.
		_ = app.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if f, err := readFrame(app.r); err == nil {
			got = append(got, f)
		}
		app.conn.Close()
	default:
		if c.appClose {
			// The application shut its side down and still read what
			// FreeSWITCH said before closing.
			if err := app.conn.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatalf("half-close: %v", err)
			}
		}
		_ = app.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			f, err := readFrame(app.r)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Errorf("FreeSWITCH closed the connection, the emulator did not")
				}
				break
			}
			got = append(got, f)
		}
	}
	compareCapture(t, c, got, ourOutbound, k.UUID())
	res := callResult(t, k)
	if sc.check != nil {
		sc.check(t, res)
	}
}

// splitStreams separates replies from asynchronous frames.
func splitStreams(frames []frame) (replies, async []frame) {
	for _, f := range frames {
		switch f.get("Content-Type") {
		case "command/reply", "api/response":
			replies = append(replies, f)
		default:
			async = append(async, f)
		}
	}
	return replies, async
}

var uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// normalizer maps per-call values to placeholders so that what stays can
// be compared exactly.
type normalizer struct {
	capOutbound, ourOutbound string
	appUUIDs                 map[string]bool
}

func (n normalizer) value(s string, ours bool) string {
	if ours {
		s = strings.ReplaceAll(s, n.ourOutbound, "<outbound>")
		s = strings.ReplaceAll(s, strings.ReplaceAll(n.ourOutbound, ":", "%3A"), "<outbound>")
	} else {
		s = strings.ReplaceAll(s, n.capOutbound, "<outbound>")
		s = strings.ReplaceAll(s, strings.ReplaceAll(n.capOutbound, ":", "%3A"), "<outbound>")
	}
	return uuidRe.ReplaceAllString(s, "<uuid>")
}

// exemptHeaders carry per-call or per-host values; only their presence and
// position are compared.
var exemptHeaders = map[string]bool{
	"Core-UUID": true, "FreeSWITCH-Hostname": true, "FreeSWITCH-Switchname": true,
	"FreeSWITCH-IPv4": true, "FreeSWITCH-IPv6": true, "Event-Date-Local": true,
	"Event-Date-GMT": true, "Event-Date-Timestamp": true, "Event-Sequence": true,
	"Content-Length": true, "Job-UUID": true,
}

// exemptVars are channel variables with per-call values: SIP identifiers,
// SDP and RTP details, timestamps, durations and statistics.
var exemptVars = regexp.MustCompile(`^variable_(session_id|sip_call_id|sip_invite_stamp|sip_from_tag|sip_to_tag|sip_full_via|sip_full_from|sip_full_to|switch_r_sdp|switch_m_sdp|rtp_local_sdp_str|local_media_port|rtp_use_ssrc|sip_user_agent|playback_.*|.*_stamp|.*_epoch|.*_uepoch|.*sec|duration|mduration|uduration|hold_accum_.*|rtp_audio_.*)$`)

func isTimeHeader(name string) bool {
	return strings.HasSuffix(name, "-Time") || strings.HasSuffix(name, "-Last-Hold") || strings.HasSuffix(name, "-Hold-Accum")
}

func compareCapture(t *testing.T, c *capture, got []frame, ourOutbound, ourUUID string) {
	t.Helper()
	n := normalizer{capOutbound: c.outbound, ourOutbound: ourOutbound, appUUIDs: c.appUUIDs}
	wantR, wantA := splitStreams(c.frames)
	gotR, gotA := splitStreams(got)
	var diffs []string
	cmds := replyCommands(c)
	for i := 0; i < max(len(wantR), len(gotR)); i++ {
		if i >= len(wantR) {
			diffs = append(diffs, fmt.Sprintf("reply %d: unexpected %v %q", i, got[i].headers, gotR[i].body))
			continue
		}
		if i >= len(gotR) {
			diffs = append(diffs, fmt.Sprintf("reply %d: missing %v", i, wantR[i].headers))
			continue
		}
		cmd := ""
		if i < len(cmds) {
			cmd = cmds[i]
		}
		diffs = append(diffs, compareFrame(fmt.Sprintf("reply %d (%s)", i, firstLine(cmd)), wantR[i], gotR[i], n, cmd)...)
	}
	for i := 0; i < max(len(wantA), len(gotA)); i++ {
		if i >= len(wantA) {
			diffs = append(diffs, fmt.Sprintf("async %d: unexpected %s %v", i, gotA[i].event("Event-Name"), gotA[i].headers))
			continue
		}
		if i >= len(gotA) {
			diffs = append(diffs, fmt.Sprintf("async %d: missing %s %v", i, wantA[i].event("Event-Name"), wantA[i].headers))
			continue
		}
		diffs = append(diffs, compareFrame(fmt.Sprintf("async %d (%s %s)", i, wantA[i].event("Event-Name"), wantA[i].event("Application")), wantA[i], gotA[i], n, "")...)
	}
	if len(diffs) > 0 {
		if len(diffs) > 40 {
			diffs = append(diffs[:40], fmt.Sprintf("… %d more", len(diffs)-40))
		}
		t.Errorf("%s differs from FreeSWITCH:\n%s", c.name, strings.Join(diffs, "\n"))
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return strings.TrimRight(l, "\r")
}

// replyCommands lists the application's commands in order; each gets one
// reply frame.
func replyCommands(c *capture) []string {
	var all bytes.Buffer
	for _, o := range c.outs {
		all.WriteString(o.data)
	}
	r := bufio.NewReader(&all)
	var cmds []string
	for {
		cmd, err := readCommand(r)
		if err != nil {
			return cmds
		}
		cmds = append(cmds, cmd.line)
	}
}

func headerNames(h []kv) []string {
	out := make([]string, len(h))
	for i, x := range h {
		out[i] = x.name
	}
	return out
}

// compareFrame compares one frame: envelope, then body.
func compareFrame(where string, want, got frame, n normalizer, cmd string) []string {
	var diffs []string
	if len(want.headers) > 2 && want.get("Content-Type") == "command/reply" {
		// The CHANNEL_DATA reply to connect: compare it like an event.
		return compareHeaders(where, want.headers, got.headers, n)
	}
	if w, g := strings.Join(headerNames(want.headers), ","), strings.Join(headerNames(got.headers), ","); w != g {
		return []string{fmt.Sprintf("%s: envelope %s, want %s", where, g, w)}
	}
	for i := range want.headers {
		name := want.headers[i].name
		if name == "Content-Length" {
			if got.headers[i].value != strconv.Itoa(len(got.body)) {
				diffs = append(diffs, fmt.Sprintf("%s: Content-Length %s for a %d-byte body", where, got.headers[i].value, len(got.body)))
			}
			continue
		}
		if exemptHeaders[name] || name == "Controlled-Session-UUID" {
			continue
		}
		if w, g := n.value(want.headers[i].value, false), n.value(got.headers[i].value, true); w != g {
			diffs = append(diffs, fmt.Sprintf("%s: %s=%q, want %q", where, name, g, w))
		}
	}
	switch want.get("Content-Type") {
	case "text/event-plain":
		wh, gh := want.eventHeaders(), got.eventHeaders()
		diffs = append(diffs, compareHeaders(where, wh, gh, n)...)
		_, wb, _ := strings.Cut(want.body, "\n\n")
		_, gb, _ := strings.Cut(got.body, "\n\n")
		if wb != gb {
			diffs = append(diffs, fmt.Sprintf("%s: event body %q, want %q", where, gb, wb))
		}
	case "api/response":
		diffs = append(diffs, compareAPI(where, cmd, want.body, got.body, n)...)
	default:
		if want.body != got.body {
			diffs = append(diffs, fmt.Sprintf("%s: body %q, want %q", where, got.body, want.body))
		}
	}
	return diffs
}

// compareHeaders requires the same header names in the same order and the
// same values except for per-call ones.
func compareHeaders(where string, want, got []kv, n normalizer) []string {
	wn, gn := headerNames(want), headerNames(got)
	if strings.Join(wn, ",") != strings.Join(gn, ",") {
		return []string{fmt.Sprintf("%s: headers differ:\n%s", where, nameDiff(wn, gn))}
	}
	var diffs []string
	for i := range want {
		name := want[i].name
		w, g := want[i].value, got[i].value
		switch {
		case exemptHeaders[name], exemptVars.MatchString(name):
		case isTimeHeader(name):
			if (w == "0") != (g == "0") {
				diffs = append(diffs, fmt.Sprintf("%s: %s=%s, want %s (zero or not)", where, name, g, w))
			}
		case name == "Application-UUID" && !n.appUUIDs[w]:
			if !uuidRe.MatchString(g) {
				diffs = append(diffs, fmt.Sprintf("%s: Application-UUID %q is not a UUID", where, g))
			}
		default:
			if n.value(w, false) != n.value(g, true) {
				diffs = append(diffs, fmt.Sprintf("%s: %s=%q, want %q", where, name, urlDecode(g), urlDecode(w)))
			}
		}
	}
	return diffs
}

// nameDiff shows where two header-name lists part.
func nameDiff(want, got []string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	lo := max(i-3, 0)
	wEnd, gEnd := min(i+8, len(want)), min(i+8, len(got))
	return fmt.Sprintf("  at %d\n  want …%s\n  got  …%s", i, strings.Join(want[lo:wEnd], " "), strings.Join(got[lo:gEnd], " "))
}

var digitRun = regexp.MustCompile(`[0-9]+`)

// compareAPI compares an api/response body. Bodies that report live state
// (status, show channels) are compared by shape and by their stable values.
func compareAPI(where, cmd, want, got string, n normalizer) []string {
	line := firstLine(cmd)
	switch {
	case strings.HasPrefix(line, "api status"):
		if w, g := digitRun.ReplaceAllString(want, "#"), digitRun.ReplaceAllString(got, "#"); w != g {
			return []string{fmt.Sprintf("%s: status %q, want shape %q", where, g, w)}
		}
		return nil
	case strings.HasPrefix(line, "api show channels as json"):
		return compareShowJSON(where, want, got, n)
	case strings.HasPrefix(line, "api show channels"):
		return compareShowCSV(where, want, got, n)
	}
	if n.value(want, false) != n.value(got, true) {
		return []string{fmt.Sprintf("%s: api body %q, want %q", where, got, want)}
	}
	return nil
}

// liveColumns change from run to run.
var liveColumns = map[string]bool{"uuid": true, "created": true, "created_epoch": true, "hostname": true}

func compareShowCSV(where, want, got string, n normalizer) []string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	if len(wl) != len(gl) {
		return []string{fmt.Sprintf("%s: %d lines, want %d: %q", where, len(gl), len(wl), got)}
	}
	cols := strings.Split(wl[0], ",")
	var diffs []string
	for i := range wl {
		if i == 0 || !strings.Contains(wl[i], ",") {
			if wl[i] != gl[i] {
				diffs = append(diffs, fmt.Sprintf("%s: line %d %q, want %q", where, i, gl[i], wl[i]))
			}
			continue
		}
		wf, gf := strings.Split(wl[i], ","), strings.Split(gl[i], ",")
		if len(wf) != len(gf) {
			diffs = append(diffs, fmt.Sprintf("%s: line %d has %d fields, want %d", where, i, len(gf), len(wf)))
			continue
		}
		for j := range wf {
			if !liveColumns[cols[j]] && n.value(wf[j], false) != n.value(gf[j], true) {
				diffs = append(diffs, fmt.Sprintf("%s: %s=%q, want %q", where, cols[j], gf[j], wf[j]))
			}
		}
	}
	return diffs
}

func compareShowJSON(where, want, got string, n normalizer) []string {
	type row = []kv
	parse := func(s string) (int, []row, error) {
		dec := json.NewDecoder(strings.NewReader(s))
		var count int
		var rows []row
		var walk func(depth int, key string) error
		walk = func(depth int, key string) error {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			switch v := tok.(type) {
			case json.Delim:
				if v == '{' && depth == 2 {
					rows = append(rows, row{})
				}
				if v == '{' || v == '[' {
					for dec.More() {
						k := ""
						if v == '{' {
							kt, err := dec.Token()
							if err != nil {
								return err
							}
							k, _ = kt.(string)
						}
						if err := walk(depth+1, k); err != nil {
							return err
						}
					}
					_, err := dec.Token()
					return err
				}
			case float64:
				if key == "row_count" {
					count = int(v)
				}
			case string:
				if depth == 3 {
					rows[len(rows)-1] = append(rows[len(rows)-1], kv{key, v})
				}
			}
			return nil
		}
		err := walk(0, "")
		return count, rows, err
	}
	wc, wr, err := parse(want)
	if err != nil {
		return []string{fmt.Sprintf("%s: capture json: %v", where, err)}
	}
	gc, gr, err := parse(got)
	if err != nil {
		return []string{fmt.Sprintf("%s: json %q: %v", where, got, err)}
	}
	if wc != gc || len(wr) != len(gr) {
		return []string{fmt.Sprintf("%s: row_count %d (%d rows), want %d (%d rows)", where, gc, len(gr), wc, len(wr))}
	}
	var diffs []string
	for i := range wr {
		if strings.Join(headerNames(wr[i]), ",") != strings.Join(headerNames(gr[i]), ",") {
			diffs = append(diffs, fmt.Sprintf("%s: row %d keys differ:\n%s", where, i, nameDiff(headerNames(wr[i]), headerNames(gr[i]))))
			continue
		}
		for j := range wr[i] {
			k := wr[i][j].name
			if !liveColumns[k] && n.value(wr[i][j].value, false) != n.value(gr[i][j].value, true) {
				diffs = append(diffs, fmt.Sprintf("%s: %s=%q, want %q", where, k, gr[i][j].value, wr[i][j].value))
			}
		}
	}
	return diffs
}

// reportStreams logs what arrived when a replay stalls.
func reportStreams(t *testing.T, c *capture, got []frame, ourOutbound, ourUUID string) {
	t.Helper()
	for i, f := range got {
		t.Logf("got %d: %v %s %s", i, f.headers, f.event("Event-Name"), f.event("Application"))
	}
	compareCapture(t, c, got, ourOutbound, ourUUID)
}
