package esl

import (
	"errors"
	"strings"
)

// This file models how FreeSWITCH 1.10 reads application arguments
// (switch_channel_expand_variables, switch_separate_string and
// cleanup_separated_string in switch_utils.c, switch_event_create_brackets
// in switch_event.c), written from reading that C code. The escaping tests
// check that what we send comes out of it unchanged.

var errWouldExpand = errors.New("model: ${…} would be expanded")

// fsExpand is the escape handling of variable expansion (pass 1); it
// reports inputs in which a ${…} would be expanded.
func fsExpand(s string) (string, error) {
	if !needsExpansion(s) {
		return s, nil
	}
	var b strings.Builder
	for p := 0; p < len(s); p++ {
		next := byte(0)
		if p+1 < len(s) {
			next = s[p+1]
		}
		nv := false
		if s[p] == '\\' {
			switch next {
			case '$':
				nv = true
				p++
				if p+1 < len(s) && s[p+1] == '$' {
					p++
				}
			case '\'':
				p++
				continue
			case '\\':
				b.WriteByte('\\')
				p++
				continue
			}
		}
		if s[p] == '$' && !nv {
			if p+1 < len(s) && s[p+1] == '$' {
				p++
			}
			if p+1 < len(s) && s[p+1] == '{' {
				return "", errWouldExpand
			}
		}
		b.WriteByte(s[p])
	}
	return b.String(), nil
}

// fsSeparate is switch_separate_string with an array of max entries.
func fsSeparate(s string, delim byte, max int) []string {
	if strings.HasPrefix(s, "^^") && len(s) > 3 {
		delim = s[2]
		s = s[3:]
	}
	var pieces []string
	if delim == ' ' {
		pieces = fsSplitBlank(s, max)
	} else {
		pieces = fsSplitChar(s, delim, max)
	}
	cdelim := delim
	if delim == ' ' {
		cdelim = 0
	}
	for i, p := range pieces {
		pieces[i] = fsCleanup(p, cdelim)
	}
	return pieces
}

func fsSplitChar(s string, delim byte, max int) []string {
	var starts, ends []int
	inside, find := false, false
	// Like the C loop, stop as soon as max pieces have begun: the last one
	// keeps the rest of the string.
	for p := 0; p < len(s) && len(starts) < max; {
		if !find {
			starts = append(starts, p)
			ends = append(ends, len(s))
			find = true
			continue
		}
		switch {
		case s[p] == '\\':
			p++
		case s[p] == '\'' && (inside || strings.IndexByte(s[p+1:], '\'') >= 0):
			inside = !inside
		case s[p] == delim && !inside:
			ends[len(ends)-1] = p
			find = false
		}
		p++
	}
	out := make([]string, len(starts))
	for i := range starts {
		out[i] = s[starts[i]:ends[i]]
	}
	return out
}

func fsSplitBlank(s string, max int) []string {
	var out []string
	p, inside := 0, false
	for p < len(s) && len(out) < max {
		start := p
		if len(out) == max-1 {
			return append(out, s[start:])
		}
		for p < len(s) && s[p] == ' ' {
			p++
		}
		for p < len(s) {
			if s[p] == '\\' {
				p += 2
				continue
			}
			if s[p] == '\'' {
				inside = !inside
			} else if s[p] == ' ' && !inside {
				break
			}
			p++
		}
		out = append(out, s[start:min(p, len(s))])
		for p < len(s) && s[p] == ' ' {
			p++
		}
	}
	return out
}

func fsUnescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 's':
		return ' '
	}
	return c
}

func fsCleanup(s string, delim byte) string {
	p := 0
	for p < len(s) && s[p] == ' ' {
		p++
	}
	var dest []byte
	end, inside := 0, false
	for ; p < len(s); p++ {
		if s[p] == '\\' && p+1 < len(s) {
			e := s[p+1]
			if e == '\'' || e == '"' || (delim != 0 && e == delim) || e == '\\' || fsUnescape(e) != e {
				p++
				dest = append(dest, fsUnescape(e))
				end = len(dest)
				continue
			}
		}
		if s[p] == '\'' && (inside || strings.IndexByte(s[p+1:], '\'') >= 0) {
			if inside = !inside; inside {
				end = len(dest)
			}
			continue
		}
		dest = append(dest, s[p])
		if s[p] != ' ' || inside {
			end = len(dest)
		}
	}
	return string(dest[:end])
}

// fsBridgeArg reads a bridge argument: its {vars} and the rest.
func fsBridgeArg(arg string) (map[string]string, string, error) {
	s, err := fsExpand(arg)
	if err != nil {
		return nil, "", err
	}
	if strings.Contains(s, ":_:") {
		return nil, "", errors.New("model: enterprise originate")
	}
	if !strings.HasPrefix(s, "{") {
		return nil, s, nil
	}
	depth, end := 0, -1
	for i := 0; i < len(s); i++ {
		if s[i] == '{' {
			depth++
		} else if s[i] == '}' {
			if depth--; depth == 0 {
				end = i
				break
			}
		}
	}
	if end < 0 {
		return nil, "", errors.New("model: no end of {")
	}
	vars := map[string]string{}
	for _, piece := range fsSeparate(s[1:end], ',', 1024) {
		if kv := fsSeparate(piece, '=', 2); len(kv) == 2 {
			vars[kv[0]] = kv[1]
		}
	}
	return vars, s[end+1:], nil
}
