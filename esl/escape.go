package esl

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FreeSWITCH reads an application argument in up to three passes, and each
// treats '\', '\'' and spaces its own way:
//
//  1. Variable expansion of the whole argument, which runs only when the
//     argument contains "${" or one of \\ \n \s \t \' (and then turns \\
//     into \, \$ into $ and drops \').
//  2. Splitting on a delimiter outside '…' quotes, then a clean-up of each
//     piece that strips quotes and unescapes \' \" \\ \<delim> \n \r \t \s
//     and trims unescaped spaces at both ends.
//  3. For {var=value} blocks, the same split and clean-up again on '='.
//
// The functions below escape for exactly the passes a value goes through,
// escaping only what a pass would change, so a plain value is sent as it is.

// needsExpansion reports whether pass 1 runs on s (FreeSWITCH's
// switch_string_var_check_const || switch_string_has_escaped_data).
func needsExpansion(s string) bool {
	dollar := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '$':
			dollar = true
		case dollar && c == '{':
			return true
		case c != '\\':
			dollar = false
		}
	}
	for i := strings.IndexByte(s, '\\'); i >= 0 && i+1 < len(s); {
		switch s[i+1] {
		case '\\', 'n', 's', 't', '\'':
			return true
		}
		next := strings.IndexByte(s[i+1:], '\\')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

// protectFromExpansion escapes s for pass 1: every '\' is doubled and, when
// literal is set, every '$' is escaped so nothing is expanded.
func protectFromExpansion(s string, literal bool) string {
	if !strings.ContainsRune(s, '\\') && !(literal && strings.ContainsRune(s, '$')) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '$' && literal:
			b.WriteString(`\$`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// escapeField escapes v for pass 2 with delimiter delim; delim ' ' is
// FreeSWITCH's blank-delimited split, where every space must be escaped. An
// empty field in a blank-delimited list is written as a pair of quotes.
func escapeField(v string, delim byte) string {
	if v == "" && delim == ' ' {
		return "''"
	}
	first := len(v) - len(strings.TrimLeft(v, " "))
	last := len(strings.TrimRight(v, " "))
	var b strings.Builder
	b.Grow(len(v) + 8)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\':
			if i+1 == len(v) || isCleanupEscape(v[i+1], delim) {
				b.WriteString(`\\`)
			} else {
				b.WriteByte(c)
			}
		case c == '\'' || (c == delim && delim != ' '):
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == ' ' && (delim == ' ' || i < first || i >= last):
			b.WriteString(`\s`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// isCleanupEscape reports whether "\c" would not reach pass 2 as a
// backslash followed by c: either pass 2 takes it as an escape, or c is
// itself written as an escape (space, line break, tab).
func isCleanupEscape(c, delim byte) bool {
	switch c {
	case '\'', '"', '\\', 'n', 'r', 't', 's', ' ', '\n', '\r', '\t':
		return true
	}
	return c == delim
}

// validName accepts channel variable names: letters, digits, '_' and '-'.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// hasControl reports a byte below 0x20 or DEL; allowed lists the exceptions.
func hasControl(s, allowed string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 || c == 0x7f) && strings.IndexByte(allowed, c) < 0 {
			return true
		}
	}
	return false
}

// dialString builds "{call_timeout=N,originate_timeout=N,k=v…}target" for
// one bridge attempt. Values are data, never expanded. Braces and control
// characters cannot be carried in a value (FreeSWITCH finds the end of the
// block by counting braces, escapes or not), nor can ":_:" (it splits the
// whole dial string first).
func dialString(target string, vars map[string]string, ringTimeout time.Duration) (string, error) {
	if target == "" || hasControl(target, "") || strings.ContainsAny(target, `\`) || strings.HasPrefix(strings.TrimLeft(target, " "), "{") {
		return "", fmt.Errorf("dial target %q: %w", target, ErrInvalidArgument)
	}
	pieces := make([]string, 0, len(vars)+2)
	if ringTimeout > 0 {
		secs := strconv.Itoa(int((ringTimeout + time.Second - 1) / time.Second))
		pieces = append(pieces, "call_timeout="+secs, "originate_timeout="+secs)
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		v := vars[k]
		if !validName(k) {
			return "", fmt.Errorf("dial variable name %q: %w", k, ErrInvalidArgument)
		}
		if v == "" {
			// FreeSWITCH has no empty variables, and skips "k=" in a block.
			continue
		}
		if hasControl(v, "") || strings.ContainsAny(v, "{}") || strings.Contains(v, ":_:") {
			return "", fmt.Errorf("dial variable %s: value cannot be carried in a dial string: %w", k, ErrInvalidArgument)
		}
		pieces = append(pieces, escapeField(k+"="+escapeField(v, '='), ','))
	}
	if len(pieces) == 0 {
		return target, nil
	}
	block := strings.Join(pieces, ",")
	if needsExpansion("{" + block + "}" + target) {
		block = protectFromExpansion(block, true)
	}
	return "{" + block + "}" + target, nil
}

// blankArgs joins positional arguments for applications that split their
// argument on spaces (play_and_get_digits). Unlike dial-string values the
// arguments keep dialplan semantics: ${var} in them is expanded.
func blankArgs(args ...string) (string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		if hasControl(a, "") {
			return "", fmt.Errorf("argument %q: %w", a, ErrInvalidArgument)
		}
		out[i] = escapeField(a, ' ')
	}
	s := strings.Join(out, " ")
	if needsExpansion(s) {
		for i := range out {
			out[i] = protectFromExpansion(out[i], false)
		}
		s = strings.Join(out, " ")
	}
	return s, nil
}

// multisetDelims are tried in turn as multiset's delimiter.
const multisetDelims = "|;~!#@"

// multisetArg builds one multiset argument setting every variable, or
// reports false when some value needs escaping that would also change how
// ${…} in it is expanded; the caller then sets those one by one.
func multisetArg(vars map[string]string) (string, bool) {
	keys := slices.Sorted(maps.Keys(vars))
	for _, d := range []byte(multisetDelims) {
		ok := true
		for _, k := range keys {
			v := vars[k]
			if !validName(k) || hasControl(v, "") || strings.ContainsAny(v, `'\`+string(d)) || strings.TrimSpace(v) != v {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		var b strings.Builder
		b.WriteString("^^")
		b.WriteByte(d)
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(d)
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(vars[k])
		}
		return b.String(), true
	}
	return "", false
}

// pipeArgs joins the '|'-separated arguments of api commands such as chat;
// api commands are not expanded, so only pass 2 applies. Line breaks and
// tabs travel as \n, \r and \t.
func pipeArgs(args ...string) (string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		if hasControl(a, "\n\r\t") {
			return "", fmt.Errorf("argument %q: %w", a, ErrInvalidArgument)
		}
		out[i] = escapeField(a, '|')
	}
	return strings.Join(out, "|"), nil
}
