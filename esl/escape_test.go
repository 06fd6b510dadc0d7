package esl

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

func TestFSModelAgainstCaptures(t *testing.T) {
	t.Parallel()
	// play_and_get_digits as captured: FreeSWITCH read "\\d+" as \d+.
	got := fsSeparate(`1 18 3 5000 # tone_stream://%(100,0,600) silence_stream://250 id_digits \\d+`, ' ', 11)
	if len(got) != 9 || got[8] != `\d+` || got[5] != "tone_stream://%(100,0,600)" {
		t.Errorf("pagd = %q", got)
	}
	vars, rest, err := fsBridgeArg("{call_timeout=5,originate_timeout=5}sofia/internal/1003@127.0.0.1:5091")
	if err != nil || rest != "sofia/internal/1003@127.0.0.1:5091" || vars["call_timeout"] != "5" || vars["originate_timeout"] != "5" {
		t.Errorf("bridge = %v, %q, %v", vars, rest, err)
	}
	if got := fsSeparate("a=b=c", '=', 2); len(got) != 2 || got[1] != "b=c" {
		t.Errorf("a=b=c = %q", got)
	}
}

func TestDialString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		target  string
		vars    map[string]string
		ring    time.Duration
		want    string
		wantErr bool
	}{
		{"plain", "user/2001", nil, 0, "user/2001", false},
		{"ring timeout rounds up", "user/2001", nil, 14500 * time.Millisecond, "{call_timeout=15,originate_timeout=15}user/2001", false},
		{"header", "user/2001", map[string]string{"sip_h_X-Stickyacd-Customer": "K01"}, 15 * time.Second,
			"{call_timeout=15,originate_timeout=15,sip_h_X-Stickyacd-Customer=K01}user/2001", false},
		{"comma and spaces", "user/2001", map[string]string{"a": "x, y"}, 0, `{a=x\, y}user/2001`, false},
		{"edge spaces", "user/2001", map[string]string{"a": " x "}, 0, `{a=\\\\sx\\\\s}user/2001`, false},
		{"quote", "user/2001", map[string]string{"a": "O'Brien"}, 0, `{a=O\\\\\\'Brien}user/2001`, false},
		{"dollar", "user/2001", map[string]string{"a": "$5"}, 0, `{a=$5}user/2001`, false},
		{"expanded target protects values", "user/${ext}", map[string]string{"a": "$5"}, 0, `{a=\$5}user/${ext}`, false},
		{"utf-8", "user/2001", map[string]string{"a": "张三"}, 0, "{a=张三}user/2001", false},
		{"brace", "user/2001", map[string]string{"a": "{"}, 0, "", true},
		{"newline", "user/2001", map[string]string{"a": "x\ny"}, 0, "", true},
		{"bad name", "user/2001", map[string]string{"a b": "x"}, 0, "", true},
		{"enterprise", "user/2001", map[string]string{"a": "x:_:y"}, 0, "", true},
		{"empty target", "", nil, 0, "", true},
		{"target with vars", "{a=b}user/2001", nil, 0, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := dialString(tc.target, tc.vars, tc.ring)
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrInvalidArgument)) {
				t.Fatalf("dialString = %q, %v; want error %v", got, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("dialString = %q, want %q", got, tc.want)
			}
		})
	}
}

// checkDialString fails unless FreeSWITCH would read the dial string for
// vars and target back as vars and target.
func checkDialString(t *testing.T, target string, vars map[string]string) {
	t.Helper()
	dial, err := dialString(target, vars, 0)
	if err != nil {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("dialString: %v", err)
		}
		for k, v := range vars {
			if !validName(k) || hasControl(v, "") || strings.ContainsAny(v, "{}") || strings.Contains(v, ":_:") {
				return
			}
		}
		t.Fatalf("dialString(%q, %q) refused: %v", target, vars, err)
	}
	got, rest, err := fsBridgeArg(dial)
	if err != nil {
		t.Fatalf("%q: %v", dial, err)
	}
	if len(vars) == 0 {
		got = map[string]string{}
	}
	want := map[string]string{}
	for k, v := range vars {
		if v != "" {
			want[k] = v
		}
	}
	if !maps.Equal(got, want) || rest != target {
		t.Fatalf("dial string %q read back as %q, %q; want %q, %q", dial, got, rest, want, target)
	}
}

func FuzzDialString(f *testing.F) {
	for _, seed := range []struct{ name, value string }{
		{"sip_h_X-Stickyacd-Customer", "K01"},
		{"a", "x, y"},
		{"a", " x "},
		{"a", `O'Brien`},
		{"a", `\`},
		{"a", `\\n`},
		{"a", `'quoted'`},
		{"a", `$$x`},
		{"a", `\$`},
		{"a", `"`},
		{"a", "=="},
		{"a", "张三"},
		{"a", `a\ b`},
		{"a", `\'`},
	} {
		f.Add(seed.name, seed.value)
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		checkDialString(t, "user/2001", map[string]string{name: value, "b": value + "x"})
	})
}

func TestDialStringRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"plain", "x, y", " x ", "O'Brien", `\`, `\\n`, `'q'`, "$$x", `\$`, `a\ b`, "\\'", "a'b'c", `\s`} {
		checkDialString(t, "user/2001", map[string]string{"a": v})
		checkDialString(t, "sofia/gateway/out/139", map[string]string{"a": v, "b": "x"})
	}
	// With a target that FreeSWITCH expands, values must stay literal.
	dial, err := dialString("user/${ext}", map[string]string{"a": "$$x", "b": `\'`}, 0)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.TrimSuffix(dial, "user/${ext}")
	vars, _, err := fsBridgeArg(protectedTarget(body))
	if err != nil || vars["a"] != "$$x" || vars["b"] != `\'` {
		t.Errorf("%q read back as %q, %v", dial, vars, err)
	}
}

// protectedTarget replaces an expanded target by one that triggers the
// expansion pass without being expanded itself, for the model.
func protectedTarget(block string) string { return block + `user/\\x` }

func TestBlankArgs(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"1", "18", "3", "5000", "#", "tone_stream://%(100,0,600)", "silence_stream://250", "id_digits", `\d+`, "5000"},
		{"1", "1", "1", "5000", "", "a b.wav", "x", "v", `^[\s\d]+$`, "1"},
		{"1", "1", "1", "5000", "#", `it's`, `\`, "v", `\\n`, "1"},
		{"x", `'`, `\'`, " ", "  a  "},
	} {
		got, err := blankArgs(args...)
		if err != nil {
			t.Fatal(err)
		}
		checkBlankArgs(t, got, args)
	}
	if got, _ := blankArgs("1", `\d+`); got != `1 \d+` {
		t.Errorf("a regexp without escapes changed: %q", got)
	}
	if _, err := blankArgs("a\nb"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("newline: %v", err)
	}
}

func checkBlankArgs(t *testing.T, arg string, want []string) {
	t.Helper()
	s, err := fsExpand(arg)
	if err != nil {
		t.Fatalf("%q: %v", arg, err)
	}
	got := fsSeparate(s, ' ', len(want)+1)
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
		t.Fatalf("%q read back as %q, want %q", arg, got, want)
	}
}

func FuzzBlankArgs(f *testing.F) {
	for _, seed := range []string{`\d+`, "a b", "it's", `\`, `\\`, `\n`, "", " ", "'", `\'`, "%(100,0,600)", `^\d{17}[\dX*]$`} {
		f.Add(seed, "next")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		arg, err := blankArgs("1", a, b, "x")
		if err != nil {
			if !hasControl(a+b, "") {
				t.Fatalf("blankArgs refused %q %q: %v", a, b, err)
			}
			return
		}
		if strings.Contains(a+b, "$") {
			// $ keeps its dialplan meaning in these arguments, so they do
			// not read back literally; every $ must still reach FreeSWITCH.
			if got, want := strings.Count(arg, "$"), strings.Count(a+b, "$"); got != want {
				t.Fatalf("%q %q sent as %q: %d $, want %d", a, b, arg, got, want)
			}
			return
		}
		checkBlankArgs(t, arg, []string{"1", a, b, "x"})
	})
}

func TestPipeArgs(t *testing.T) {
	t.Parallel()
	args := []string{"sip", "stickyacd@example", "2001@example", "Call back 139…|urgent\nline 2 it's \\n", "text/plain"}
	got, err := pipeArgs(args...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(got, "\n\r") {
		t.Fatalf("line break sent: %q", got)
	}
	if back := fsSeparate(got, '|', 5); strings.Join(back, "\x00") != strings.Join(args, "\x00") {
		t.Errorf("%q read back as %q", got, back)
	}
	if _, err := pipeArgs("a\x01"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("control character: %v", err)
	}
}

func FuzzPipeArgs(f *testing.F) {
	for _, seed := range []string{"hello", "a|b", " x ", "it's", `\`, "line\nbreak", "\t", `\|`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		args := []string{"sip", "from", "to", body, "text/plain"}
		got, err := pipeArgs(args...)
		if err != nil {
			if !hasControl(body, "\n\r\t") {
				t.Fatalf("pipeArgs refused %q: %v", body, err)
			}
			return
		}
		if back := fsSeparate(got, '|', 5); strings.Join(back, "\x00") != strings.Join(args, "\x00") {
			t.Fatalf("%q read back as %q", got, back)
		}
	})
}

func TestMultisetArg(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		vars map[string]string
		ok   bool
	}{
		{map[string]string{"continue_on_fail": "true", "hangup_after_bridge": "false"}, true},
		{map[string]string{"ringback": "%(2000,4000,440,480)", "a": "x y"}, true},
		{map[string]string{"a": "x|y;z~q!w#e@r"}, false},
		{map[string]string{"a": "it's"}, false},
		{map[string]string{"a": " x"}, false},
	} {
		arg, ok := multisetArg(tc.vars)
		if ok != tc.ok {
			t.Errorf("multisetArg(%q) ok = %v", tc.vars, ok)
			continue
		}
		if !ok {
			continue
		}
		got := map[string]string{}
		for _, piece := range fsSeparate(arg, ' ', 256) {
			k, v, _ := strings.Cut(piece, "=")
			got[k] = v
		}
		if !maps.Equal(got, tc.vars) {
			t.Errorf("%q read back as %q", arg, got)
		}
	}
}

func TestNeedsExpansion(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"plain": false, "${x}": true, `$\{x}`: true, "$x{": false, `\d`: false, `\\`: true,
		`\n`: true, `\s`: true, `\t`: true, `\'`: true, `a\`: false, `\$`: false, `x\d\s`: true,
	} {
		if got := needsExpansion(s); got != want {
			t.Errorf("needsExpansion(%q) = %v, want %v", s, got, want)
		}
	}
}
