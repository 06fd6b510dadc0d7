package fstest

import (
	"strings"
	"time"
)

// dialLeg is one destination of a dial string with its [per-leg] variables.
type dialLeg struct {
	target string
	vars   []kv
}

// dialString is a parsed bridge/originate argument: {global vars}, then
// groups separated by '|' that are tried one after another, each holding
// legs separated by ',' (or the enterprise ":_:") that ring at once.
type dialString struct {
	vars   []kv
	groups [][]dialLeg
}

// parseDialString follows the shape switch_ivr_originate accepts. Delimiters
// inside quotes or brackets do not split.
func parseDialString(s string) dialString {
	var ds dialString
	ds.vars, s = splitDialVars(s)
	s = strings.ReplaceAll(s, ":_:", ",")
	for _, group := range splitTop(s, '|') {
		var legs []dialLeg
		for _, leg := range splitTop(group, ',') {
			leg = strings.TrimSpace(leg)
			var vars []kv
			for len(leg) > 0 && leg[0] == '[' {
				end := matchBracket(leg, '[', ']')
				if end < 0 {
					break
				}
				vars = append(vars, parseVarList(leg[1:end])...)
				leg = strings.TrimSpace(leg[end+1:])
			}
			if leg == "" {
				continue
			}
			legs = append(legs, dialLeg{target: leg, vars: vars})
		}
		if len(legs) > 0 {
			ds.groups = append(ds.groups, legs)
		}
	}
	return ds
}

// splitDialVars takes the leading {…} and <…> blocks off a dial string.
func splitDialVars(s string) ([]kv, string) {
	var vars []kv
	s = strings.TrimSpace(s)
	for len(s) > 0 && (s[0] == '{' || s[0] == '<') {
		closer := byte('}')
		if s[0] == '<' {
			closer = '>'
		}
		end := matchBracket(s, s[0], closer)
		if end < 0 {
			break
		}
		vars = append(vars, parseVarList(s[1:end])...)
		s = strings.TrimSpace(s[end+1:])
	}
	return vars, s
}

// matchBracket returns the index of the bracket closing s[0], honouring
// nesting and single quotes, or -1.
func matchBracket(s string, open, closer byte) int {
	depth := 0
	inQuotes := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
		case c == '\'':
			inQuotes = !inQuotes
		case inQuotes:
		case c == open:
			depth++
		case c == closer:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitTop splits on sep outside brackets and quotes.
func splitTop(s string, sep byte) []string {
	var out []string
	depth := 0
	inQuotes := false
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
		case c == '\'':
			inQuotes = !inQuotes
		case inQuotes:
		case c == '[' || c == '{' || c == '<':
			depth++
		case c == ']' || c == '}' || c == '>':
			if depth > 0 {
				depth--
			}
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// parseVarList reads "k=v,k2=v2" the way switch_event_create_brackets does,
// with switch_separate_string's quoting and ^^ delimiter rules.
func parseVarList(s string) []kv {
	var out []kv
	for _, f := range separateString(s, ',', 1024) {
		name, value, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			continue
		}
		out = append(out, kv{name: strings.TrimSpace(name), value: value})
	}
	return out
}

func lookupKV(vars []kv, name string) (string, bool) {
	for i := len(vars) - 1; i >= 0; i-- {
		if strings.EqualFold(vars[i].name, name) {
			return vars[i].value, true
		}
	}
	return "", false
}

// stripDialVars returns the dial string without its leading {…}/<…> block,
// the form endpoints are registered under.
func stripDialVars(s string) string {
	_, rest := splitDialVars(s)
	return rest
}

// ringTimeout picks the attempt's timeout the way switch_ivr_originate does:
// leg_timeout on the leg, then originate_timeout, then call_timeout (from
// the {} block or the caller's channel), else 60 s.
func ringTimeout(leg []kv, global []kv, channelVar func(string) string) time.Duration {
	if v, ok := lookupKV(leg, "leg_timeout"); ok && atoi(v) > 0 {
		return time.Duration(atoi(v)) * time.Second
	}
	for _, name := range []string{"originate_timeout", "call_timeout"} {
		if v, ok := lookupKV(global, name); ok && atoi(v) > 0 {
			return time.Duration(atoi(v)) * time.Second
		}
	}
	for _, name := range []string{"originate_timeout", "call_timeout"} {
		if v := channelVar(name); atoi(v) > 0 {
			return time.Duration(atoi(v)) * time.Second
		}
	}
	return 60 * time.Second
}
