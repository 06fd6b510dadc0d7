package fstest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxPacket is read_packet's max_len: a header block this long is cut off.
const maxPacket = 10485760

var errPacketTooLong = errors.New("fstest: command header block over 10 MiB")

// kv is one header in order of appearance.
type kv struct{ name, value string }

// command is one packet read from an event-socket client, parsed the way
// mod_event_socket's read_packet does it.
type command struct {
	line    string // the first line, without CR/LF
	headers []kv
	body    string
	size    int // bytes consumed from the connection
}

// header returns the first header with that name, compared without case, as
// switch_event_get_header does.
func (c *command) header(name string) (string, bool) {
	for _, h := range c.headers {
		if strings.EqualFold(h.name, name) {
			return h.value, true
		}
	}
	return "", false
}

func (c *command) headerValue(name string) string {
	v, _ := c.header(name)
	return v
}

// readCommand reads one packet. It follows read_packet in mod_event_socket.c:
// CR bytes are ignored when looking for the blank line, a CR or LF at the
// start of a packet is dropped (stray blank lines between commands), header
// names keep their case, values lose their leading blanks, lines without a
// colon are ignored, and a Content-Length header makes the next N bytes the
// body.
func readCommand(r *bufio.Reader) (*command, error) {
	var block []byte
	size := 0
	lineContent := false // the line being read has a byte other than CR
	for {
		chunk, err := r.ReadSlice('\n')
		size += len(chunk)
		complete := err == nil
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) && len(block)+len(strings.TrimLeft(string(chunk), "\r\n")) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if len(block) == 0 {
			// read_packet resets its buffer whenever the first byte is CR
			// or LF: blank lines between commands vanish.
			trimmed := strings.TrimLeft(string(chunk), "\r\n")
			chunk = chunk[len(chunk)-len(trimmed):]
		}
		block = append(block, chunk...)
		content := chunk
		if complete && len(content) > 0 {
			content = content[:len(content)-1]
		}
		if !onlyCR(content) {
			lineContent = true
		}
		if complete {
			if len(block) > 0 && !lineContent {
				break
			}
			lineContent = false
		}
		if len(block) >= maxPacket {
			return nil, errPacketTooLong
		}
	}
	cmd := parseBlock(string(block))
	if n, ok := cmd.header("content-length"); ok {
		clen := atoi(n)
		if clen > maxPacket {
			return nil, errPacketTooLong
		}
		if clen > 0 {
			body := make([]byte, clen)
			if _, err := io.ReadFull(r, body); err != nil {
				return nil, fmt.Errorf("read %d-byte command body: %w", clen, err)
			}
			size += clen
			cmd.body = cutAtNUL(string(body))
		}
	}
	cmd.size = size
	return cmd, nil
}

func onlyCR(b []byte) bool {
	for _, c := range b {
		if c != '\r' {
			return false
		}
	}
	return true
}

// parseBlock splits a header block into the command line and headers.
func parseBlock(block string) *command {
	cmd := &command{}
	first := true
	for len(block) > 0 {
		i := strings.IndexAny(block, "\r\n")
		var line string
		if i < 0 {
			line, block = block, ""
		} else {
			line = block[:i]
			block = strings.TrimLeft(block[i:], "\r\n")
		}
		if first {
			cmd.line = line
			first = false
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			continue
		}
		cmd.headers = append(cmd.headers, kv{name: name, value: strings.TrimLeft(value, " ")})
	}
	return cmd
}

func cutAtNUL(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// atoi is C's atoi: optional blanks and sign, then digits up to the first
// other byte; anything unparsable is 0.
func atoi(s string) int {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	n := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<31 {
			n = 1 << 31
		}
	}
	if neg {
		return -n
	}
	return n
}

// hasPrefixFold is strncasecmp(s, prefix, len(prefix)) == 0.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
