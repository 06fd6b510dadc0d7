package fstest

import "strings"

// separateString splits s like switch_separate_string (switch_utils.c): a
// leading "^^X" selects X as the delimiter, single quotes group, a backslash
// escapes the next byte, a blank delimiter collapses runs of blanks, and the
// last of max fields keeps the rest of the string unsplit.
func separateString(s string, delim byte, max int) []string {
	if s == "" || max <= 0 {
		return nil
	}
	if len(s) > 3 && s[0] == '^' && s[1] == '^' {
		delim = s[2]
		s = s[3:]
	}
	var fields []string
	if delim == ' ' {
		fields = splitBlank(s, max)
	} else {
		fields = splitChar(s, delim, max)
	}
	for i, f := range fields {
		fields[i] = cleanupField(f, delim)
	}
	return fields
}

func splitChar(s string, delim byte, max int) []string {
	var out []string
	inQuotes := false
	for i := 0; i < len(s); {
		if len(out) == max-1 {
			return append(out, s[i:])
		}
		start := i
		for ; i < len(s); i++ {
			c := s[i]
			if c == '\\' {
				i++
				continue
			}
			if c == '\'' && (inQuotes || strings.IndexByte(s[i+1:], '\'') >= 0) {
				inQuotes = !inQuotes
				continue
			}
			if c == delim && !inQuotes {
				break
			}
		}
		if i > len(s) {
			i = len(s)
		}
		out = append(out, s[start:i])
		// Skip the delimiter; one at the very end starts no new field, as
		// the C loop stops at the terminator.
		i++
	}
	return out
}

func splitBlank(s string, max int) []string {
	var out []string
	inQuotes := false
	i := 0
	for i < len(s) && len(out) < max {
		start := i
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if len(out) == max-1 {
			out = append(out, s[start:])
			return out
		}
		for i < len(s) {
			c := s[i]
			if c == '\\' {
				i += 2
				continue
			}
			if c == '\'' {
				inQuotes = !inQuotes
			} else if c == ' ' && !inQuotes {
				break
			}
			i++
		}
		if i > len(s) {
			i = len(s)
		}
		out = append(out, s[start:i])
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	return out
}

func unescapeByte(c byte) byte {
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

// cleanupField strips quotes, escapes and surrounding blanks like
// cleanup_separated_string.
func cleanupField(f string, delim byte) string {
	i := 0
	for i < len(f) && f[i] == ' ' {
		i++
	}
	var b strings.Builder
	b.Grow(len(f) - i)
	end := 0
	inQuotes := false
	for ; i < len(f); i++ {
		c := f[i]
		if c == '\\' && i+1 < len(f) {
			e := f[i+1]
			if e == '\'' || e == '"' || (delim != 0 && delim != ' ' && e == delim) || e == '\\' || unescapeByte(e) != e {
				i++
				b.WriteByte(unescapeByte(e))
				end = b.Len()
				continue
			}
		}
		if c == '\'' && (inQuotes || strings.IndexByte(f[i+1:], '\'') >= 0) {
			inQuotes = !inQuotes
			if inQuotes {
				end = b.Len()
			}
			continue
		}
		b.WriteByte(c)
		if c != ' ' || inQuotes {
			end = b.Len()
		}
	}
	return b.String()[:end]
}
