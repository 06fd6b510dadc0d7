package esl

import (
	"bytes"
	"io"
	"strconv"
)

// lfWriter passes eslgo's commands on to FreeSWITCH in the dialect real
// clients speak and the captures show: lines end in LF, and a command ends
// with one blank line ("connect\n\n"). eslgo ends every line it writes with
// CRLF and every command with an extra CRLF pair, even after a body.
// Bodies (after a Content-Length header) pass through byte for byte.
type lfWriter struct {
	w     io.Writer
	line  []byte // a header line not yet complete
	lines int    // header lines of the command so far
	clen  int    // its Content-Length
	body  int    // body bytes still to pass through
	out   []byte
}

func (l *lfWriter) Write(p []byte) (int, error) {
	n := len(p)
	l.out = l.out[:0]
	for len(p) > 0 {
		if l.body > 0 {
			k := min(l.body, len(p))
			l.out = append(l.out, p[:k]...)
			l.body -= k
			p = p[k:]
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.line = append(l.line, p...)
			break
		}
		l.line = append(l.line, p[:i]...)
		p = p[i+1:]
		l.endLine()
	}
	if len(l.out) == 0 {
		return n, nil
	}
	if _, err := l.w.Write(l.out); err != nil {
		return 0, err
	}
	return n, nil
}

// endLine handles one complete line (without its LF).
func (l *lfWriter) endLine() {
	line := bytes.TrimSuffix(l.line, []byte("\r"))
	l.line = l.line[:0]
	if len(line) == 0 {
		if l.lines == 0 {
			return // eslgo's extra CRLFs between commands
		}
		l.out = append(l.out, '\n')
		l.body, l.lines, l.clen = l.clen, 0, 0
		return
	}
	l.out = append(l.out, line...)
	l.out = append(l.out, '\n')
	l.lines++
	if name, value, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("content-length")) {
		if v, err := strconv.Atoi(string(bytes.TrimSpace(value))); err == nil && v > 0 {
			l.clen = v
		}
	}
}
