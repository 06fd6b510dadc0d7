package esl

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/percipia/eslgo"
)

// eslgoConn is a Session's connection: eslgo on our end of the proxy.
type eslgoConn struct {
	c  *eslgo.Conn
	pc *proxyConn
}

func (e *eslgoConn) send(ctx context.Context, cmd command) (string, error) {
	raw, err := e.c.SendCommand(ctx, cmd)
	if err != nil {
		return "", err
	}
	return replyText(raw), nil
}

// close drops FreeSWITCH's TCP connection first, so that it resumes the
// dialplan at once, then eslgo's.
func (e *eslgoConn) close() {
	e.pc.closeFront()
	e.c.Close()
}

// replyText is the Reply-Text of a command/reply, or the body of an
// api/response. eslgo's own GetReply loses a Reply-Text holding a '%' that
// is not an escape.
func replyText(raw *eslgo.RawResponse) string {
	if raw.HasHeader("Reply-Text") {
		return Event{h: raw.Headers}.Get("Reply-Text")
	}
	return string(raw.Body)
}

// eslgoLogger adapts eslgo's printf-style Logger to slog at Debug. eslgo
// prints whole frames in some messages; frames carry channel variables,
// which may hold digits a caller keyed, so they are left out.
type eslgoLogger struct {
	log *slog.Logger
	// onListening is called once when eslgo's outbound listener is up; its
	// log line is the only sign of that eslgo gives.
	onListening func()
	once        sync.Once
}

func (l *eslgoLogger) Debug(format string, args ...any) { l.print(format, args) }
func (l *eslgoLogger) Info(format string, args ...any)  { l.print(format, args) }
func (l *eslgoLogger) Warn(format string, args ...any)  { l.print(format, args) }
func (l *eslgoLogger) Error(format string, args ...any) { l.print(format, args) }

func (l *eslgoLogger) print(format string, args []any) {
	if l.onListening != nil && strings.HasPrefix(format, "Listening for new ESL connections") {
		l.once.Do(l.onListening)
	}
	if !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	clean := make([]any, len(args))
	for i, a := range args {
		switch a.(type) {
		case *eslgo.RawResponse, eslgo.RawResponse, *eslgo.Event, eslgo.Event:
			clean[i] = "[frame omitted]"
		default:
			clean[i] = a
		}
	}
	var msg string
	if strings.Contains(format, "%") {
		msg = fmt.Sprintf(format, clean...)
	} else {
		msg = strings.TrimSpace(fmt.Sprintln(append([]any{format}, clean...)...))
	}
	l.log.Debug("eslgo: " + strings.Join(strings.Fields(msg), " "))
}
