package fstest

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAppendEncoded(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"Caller 1", "Caller%201"},
		{"+OK\n", "%2BOK%0A"},
		{"fd00::2", "fd00%3A%3A2"},
		{"tone_stream://%(200,0,440)", "tone_stream%3A//%25(200,0,440)"},
		{"PCMU,PCMA", "PCMU,PCMA"},
		{"SIP/2.0/UDP 127.0.0.1:5070;branch=z9", "SIP/2.0/UDP%20127.0.0.1%3A5070%3Bbranch%3Dz9"},
		{"already %2B encoded", "already%20%2B%20encoded"},
		{"lower %2b is not", "lower%20%252b%20is%20not"},
		{"trailing %2", "trailing%20%252"},
		{"100%% + \xc3\x9cmlaut", "100%25%25%20%2B%20%C3%9Cmlaut"},
		{`"a" <b>@{c}|d^e` + "`", "%22a%22%20%3Cb%3E%40%7Bc%7D%7Cd%5Ee%60"},
		{"\\d+", "%5Cd%2B"},
		{"", ""},
	}
	for _, tt := range tests {
		got := string(appendEncoded(nil, tt.in))
		if got != tt.want {
			t.Errorf("appendEncoded(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if n := encodedLen(tt.in); n != len(tt.want) {
			t.Errorf("encodedLen(%q) = %d, want %d", tt.in, n, len(tt.want))
		}
	}
	if got := string(appendHeader(nil, "Job-Owner-UUID", "")); got != "Job-Owner-UUID: _undef_\n" {
		t.Errorf("empty value: %q", got)
	}
}

func TestReadCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		line     string
		headers  []kv
		body     string
	}{
		{"bare", "connect\n\n", "connect", nil, ""},
		{"crlf", "connect\r\n\r\n", "connect", nil, ""},
		{"stray blank lines", "\n\r\n\nmyevents\n\n", "myevents", nil, ""},
		{"headers", "sendmsg\ncall-command: execute\nexecute-app-name: answer\nEvent-UUID: a1\n\n",
			"sendmsg", []kv{{"call-command", "execute"}, {"execute-app-name", "answer"}, {"Event-UUID", "a1"}}, ""},
		{"eslgo style", "sendmsg abc\r\nCall-Command: execute\r\nExecute-App-Arg: \r\nLoops: 1\r\n\r\n",
			"sendmsg abc", []kv{{"Call-Command", "execute"}, {"Execute-App-Arg", ""}, {"Loops", "1"}}, ""},
		{"leading blanks in value kept only after the first", "x\nname:    two  words \n\n", "x", []kv{{"name", "two  words "}}, ""},
		{"line without colon ignored", "x\nnocolon\na: b\n\n", "x", []kv{{"a", "b"}}, ""},
		{"body", "sendmsg\ncontent-type: text/plain\ncontent-length: 26\n\ntone_stream://%(100,0,700)",
			"sendmsg", []kv{{"content-type", "text/plain"}, {"content-length", "26"}}, "tone_stream://%(100,0,700)"},
		{"blank line made of CRs", "x\n\r\r\n", "x", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd, err := readCommand(bufio.NewReader(strings.NewReader(tt.in)))
			if err != nil {
				t.Fatalf("readCommand: %v", err)
			}
			if cmd.line != tt.line || !reflect.DeepEqual(cmd.headers, tt.headers) || cmd.body != tt.body {
				t.Errorf("got %q %q %q, want %q %q %q", cmd.line, cmd.headers, cmd.body, tt.line, tt.headers, tt.body)
			}
			if cmd.size != len(tt.in) {
				t.Errorf("size %d, want %d", cmd.size, len(tt.in))
			}
		})
	}
}

func TestReadCommandSequenceAndErrors(t *testing.T) {
	t.Parallel()
	r := bufio.NewReader(strings.NewReader("api status\n\n\nexit\n\nhalf"))
	for _, want := range []string{"api status", "exit"} {
		cmd, err := readCommand(r)
		if err != nil || cmd.line != want {
			t.Fatalf("got %v %v, want %q", cmd, err, want)
		}
	}
	if _, err := readCommand(r); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated packet: %v", err)
	}
	if _, err := readCommand(bufio.NewReader(strings.NewReader(""))); !errors.Is(err, io.EOF) {
		t.Errorf("empty stream: %v", err)
	}
	if _, err := readCommand(bufio.NewReader(strings.NewReader("x\ncontent-length: 10\n\nshort"))); err == nil {
		t.Error("short body accepted")
	}
}

func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{
		"connect\n\n", "myevents plain\r\n\r\n", "linger 3\n\n",
		"sendmsg\ncall-command: execute\nexecute-app-name: playback\nevent-lock: true\ncontent-type: text/plain\ncontent-length: 26\n\ntone_stream://%(100,0,700)\n\n",
		"filter Event-Name CHANNEL_EXECUTE_COMPLETE\n\n", "\n\n\nexit\n\n", "x\ncontent-length: -5\n\n",
		"a:b\n:\n\n", "auth ClueCon\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := bufio.NewReader(strings.NewReader(in))
		total := 0
		for {
			cmd, err := readCommand(r)
			if err != nil {
				break
			}
			if strings.ContainsAny(cmd.line, "\r\n") {
				t.Fatalf("command line %q holds a line break", cmd.line)
			}
			for _, h := range cmd.headers {
				if strings.ContainsAny(h.name+h.value, "\r\n") || strings.HasPrefix(h.value, " ") {
					t.Fatalf("bad header %q", h)
				}
			}
			total += cmd.size
			if cmd.size <= 0 || total > len(in) {
				t.Fatalf("consumed %d of %d bytes", total, len(in))
			}
		}
	})
}

func TestSeparateString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		delim byte
		max   int
		want  []string
	}{
		{"1 18 3 5000 # tone_stream://%(100,0,600) silence_stream://250 id_digits \\d+", ' ', 11,
			[]string{"1", "18", "3", "5000", "#", "tone_stream://%(100,0,600)", "silence_stream://250", "id_digits", `\d+`}},
		{"  a   b  ", ' ', 10, []string{"a", "b"}},
		{"a 'b c' d", ' ', 10, []string{"a", "b c", "d"}},
		{"a b c d", ' ', 2, []string{"a", "b c d"}},
		{`a\sb c`, ' ', 10, []string{"a b", "c"}},
		{"sip|1000@x|2001@y|hello there|text/plain", '|', 5, []string{"sip", "1000@x", "2001@y", "hello there", "text/plain"}},
		{"a|b|c|d|e|f", '|', 5, []string{"a", "b", "c", "d", "e|f"}},
		{"k='x,y',z=1", ',', 10, []string{"k=x,y", "z=1"}},
		{`a\,b,c`, ',', 10, []string{"a,b", "c"}},
		{"^^:a=1:b=2", ' ', 10, []string{"a=1", "b=2"}},
		{"a,", ',', 10, []string{"a"}},
		{"", ' ', 10, nil},
	}
	for _, tt := range tests {
		if got := separateString(tt.in, tt.delim, tt.max); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("separateString(%q, %q, %d) = %q, want %q", tt.in, tt.delim, tt.max, got, tt.want)
		}
	}
}

func TestParseDialString(t *testing.T) {
	t.Parallel()
	ds := parseDialString("{call_timeout=5,sip_h_X-Stickyacd-Customer=K01,stickyacd_call='a,b'}[leg_timeout=3]user/2001,user/2002|sofia/gateway/out/139")
	want := dialString{
		vars: []kv{{"call_timeout", "5"}, {"sip_h_X-Stickyacd-Customer", "K01"}, {"stickyacd_call", "a,b"}},
		groups: [][]dialLeg{
			{{target: "user/2001", vars: []kv{{"leg_timeout", "3"}}}, {target: "user/2002"}},
			{{target: "sofia/gateway/out/139"}},
		},
	}
	if !reflect.DeepEqual(ds, want) {
		t.Errorf("got %+v\nwant %+v", ds, want)
	}
	if got := stripDialVars(" {a=1}<b=2>user/2001 "); got != "user/2001" {
		t.Errorf("stripDialVars = %q", got)
	}
	if got := parseDialString("user/1:_:user/2"); len(got.groups) != 1 || len(got.groups[0]) != 2 {
		t.Errorf("enterprise separator: %+v", got)
	}
	noVar := func(string) string { return "" }
	tests := []struct {
		leg, global []kv
		channel     func(string) string
		want        time.Duration
	}{
		{nil, nil, noVar, 60 * time.Second},
		{nil, []kv{{"call_timeout", "5"}}, noVar, 5 * time.Second},
		{nil, []kv{{"call_timeout", "5"}, {"originate_timeout", "7"}}, noVar, 7 * time.Second},
		{[]kv{{"leg_timeout", "2"}}, []kv{{"originate_timeout", "7"}}, noVar, 2 * time.Second},
		{nil, nil, func(n string) string {
			if n == "call_timeout" {
				return "9"
			}
			return ""
		}, 9 * time.Second},
	}
	for i, tt := range tests {
		if got := ringTimeout(tt.leg, tt.global, tt.channel); got != tt.want {
			t.Errorf("ringTimeout #%d = %v, want %v", i, got, tt.want)
		}
	}
}

func FuzzParseDialString(f *testing.F) {
	for _, s := range []string{
		"user/2001", "{call_timeout=5,originate_timeout=5}sofia/internal/1002@127.0.0.1:5090",
		"{a='x,y'}[b=1]user/1,user/2|user/3", "<x=1>{y=2}[z=3]user/4:_:user/5",
		"{unterminated", "[", "|||,,,", "{^^:a=1:b=2}user/9",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ds := parseDialString(s)
		for _, g := range ds.groups {
			if len(g) == 0 {
				t.Fatal("empty group")
			}
			for _, leg := range g {
				if leg.target == "" {
					t.Fatal("empty target")
				}
			}
		}
		_ = stripDialVars(s)
	})
}

func TestMediaLength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path    string
		want    time.Duration
		forever bool
	}{
		{"tone_stream://%(200,0,440)", 200 * time.Millisecond, false},
		{"tone_stream://%(100,100,350,440);%(300,0,600)", 500 * time.Millisecond, false},
		{"tone_stream://L=3;%(100,100,350,440)", 600 * time.Millisecond, false},
		{"tone_stream://L=-1;%(100,100,350,440)", 0, true},
		{"{loops=2}tone_stream://%(100,0,440)", 100 * time.Millisecond, false},
		{"silence_stream://250", 250 * time.Millisecond, false},
		{"silence_stream://-1", 0, true},
		{"file_string://silence_stream://100!/x.wav", 1100 * time.Millisecond, false},
		{"/usr/share/sounds/en/ivr/welcome.wav", time.Second, false},
		{"local_stream://moh", 0, true},
		{"", 0, false},
	}
	for _, tt := range tests {
		d, forever := mediaLength(tt.path, time.Second)
		if d != tt.want || forever != tt.forever {
			t.Errorf("mediaLength(%q) = %v %v, want %v %v", tt.path, d, forever, tt.want, tt.forever)
		}
	}
}

func TestVarListOrder(t *testing.T) {
	t.Parallel()
	var l varList
	l.set("a", "1")
	l.set("b", "2")
	l.set("c", "3")
	l.set("a", "1") // setting again moves it to the bottom
	l.set("b", "")  // an empty value deletes
	l.unset("missing")
	var names []string
	for _, v := range l.vars {
		names = append(names, v.name)
	}
	if strings.Join(names, ",") != "c,a" {
		t.Errorf("order %v", names)
	}
	if got := string(l.appendLines(nil)); got != "variable_c: 3\nvariable_a: 1\n" || l.size != len(got) {
		t.Errorf("lines %q size %d", got, l.size)
	}
	if v, ok := l.get("b"); ok || v != "" {
		t.Errorf("b still set: %q", v)
	}
}

func TestCauses(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"user_busy": "USER_BUSY", "17": "USER_BUSY", "": "NORMAL_CLEARING", "bogus": "NORMAL_CLEARING",
		"CALL_REJECTED": "CALL_REJECTED",
	} {
		if got := normalizeCause(in); got != want {
			t.Errorf("normalizeCause(%q) = %q, want %q", in, got, want)
		}
	}
	if q850("USER_NOT_REGISTERED") != 16 || q850("NORMAL_TEMPORARY_FAILURE") != 41 {
		t.Error("q850")
	}
	for cause, want := range map[string]string{"USER_BUSY": "BUSY", "NO_ANSWER": "NOANSWER", "CALL_REJECTED": "DONTCALL",
		"ORIGINATOR_CANCEL": "CANCEL", "NORMAL_TEMPORARY_FAILURE": "NORMAL_TEMPORARY_FAILURE"} {
		if got := dialStatus(cause); got != want {
			t.Errorf("dialStatus(%s) = %s", cause, got)
		}
	}
}

func FuzzSeparateString(f *testing.F) {
	for _, s := range []string{"a b 'c d' \\s", "^^:a:b", "x|y|'z|w'", "\\", "'", "  "} {
		f.Add(s, byte(' '), 5)
		f.Add(s, byte('|'), 3)
	}
	f.Fuzz(func(t *testing.T, s string, delim byte, max int) {
		max = max%20 + 1
		if max < 1 {
			max = 1
		}
		if got := separateString(s, delim, max); len(got) > max {
			t.Fatalf("%d fields for max %d", len(got), max)
		}
	})
}

func FuzzMediaLength(f *testing.F) {
	for _, s := range []string{"tone_stream://L=2;%(100,50,440)", "silence_stream://10,1400", "file_string://a!b!silence_stream://5", "{x}tone_stream://%(", "tone_stream://%(,)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, _ := mediaLength(s, time.Second); d < 0 && !strings.Contains(s, "-") {
			t.Fatalf("negative length %v", d)
		}
	})
}

func TestParsePAGD(t *testing.T) {
	t.Parallel()
	a, ok := parsePAGD("1 18 3 5000 # tone_stream://%(100,0,600) silence_stream://250 id_digits \\d+ 2000")
	want := pagdArgs{min: 1, max: 18, tries: 3, timeout: 5000, digitTimeout: 2000, terminators: "#",
		prompt: "tone_stream://%(100,0,600)", invalid: "silence_stream://250", varNam: "id_digits", regex: `\d+`}
	if !ok || a != want {
		t.Errorf("got %+v", a)
	}
	a, _ = parsePAGD("4 2 1 10")
	if a.max != 4 || a.timeout != 1000 || a.terminators != "#" {
		t.Errorf("defaults: %+v", a)
	}
	if _, ok := parsePAGD(""); ok {
		t.Error("empty argument accepted")
	}
}
