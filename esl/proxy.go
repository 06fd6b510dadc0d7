package esl

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/percipia/eslgo"
)

// proxyHeader is added by the proxy to FreeSWITCH's connect reply so that
// the eslgo handler can find the front connection it came through.
const proxyHeader = "Stickyacd-Proxy-Id"

// Timings of the process-wide eslgo listener.
const (
	backendStartTimeout = 5 * time.Second
	// backendConnectTimeout bounds FreeSWITCH's reply to "connect"; it
	// replies in milliseconds, and until then the call hears nothing.
	backendConnectTimeout = 3 * time.Second
	backendExitTimeout    = 2 * time.Second
	maxConnectReply       = 1 << 20
)

// backend is the process's one eslgo outbound listener, on a private
// abstract unix socket. eslgo's listener cannot be closed, so it is started
// once and lives as long as the process; every Server proxies to it.
type backend struct {
	addr string
	log  *slog.Logger
	seq  atomic.Uint64

	mu    sync.Mutex
	conns map[string]*proxyConn // proxied connections not yet claimed by eslgo

	dead chan struct{} // closed if eslgo's listener stops
	err  error         // why, set before dead is closed
}

var shared struct {
	once sync.Once
	b    *backend
	err  error
}

// sharedBackend starts the eslgo listener on first use. Being the
// process's, it logs (eslgo's chatter at Debug) to slog.Default().
func sharedBackend() (*backend, error) {
	shared.once.Do(func() {
		shared.b, shared.err = startBackend(slog.Default())
	})
	return shared.b, shared.err
}

func startBackend(log *slog.Logger) (*backend, error) {
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("eslgo listener name: %w", err)
	}
	b := &backend{
		addr:  "@stickyacd-esl-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(nonce[:]),
		log:   log,
		conns: make(map[string]*proxyConn),
		dead:  make(chan struct{}),
	}
	listening := make(chan struct{})
	logger := &eslgoLogger{log: log, onListening: func() { close(listening) }}
	opts := eslgo.OutboundOptions{
		Options:        eslgo.Options{Context: context.Background(), Logger: logger, ExitTimeout: backendExitTimeout},
		Network:        "unix",
		ConnectTimeout: backendConnectTimeout,
		// eslgo sleeps this long after a handler returns; it worked around
		// a FreeSWITCH race fixed long before 1.10.
		ConnectionDelay: 0,
	}
	go b.run(opts)
	select {
	case <-listening:
		return b, nil
	case <-b.dead:
		return nil, b.err
	case <-time.After(backendStartTimeout):
		return nil, errors.New("eslgo listener did not start")
	}
}

// run is eslgo's accept loop; it returns only if the listener fails.
func (b *backend) run(opts eslgo.OutboundOptions) {
	err := opts.ListenAndServe(b.addr, b.handle)
	b.err = fmt.Errorf("eslgo listener stopped: %w", err)
	b.log.Error("eslgo listener stopped", "err", err)
	close(b.dead)
}

// handle is eslgo's handler: it finds the proxied connection named in the
// connect reply and serves the call on its Server.
func (b *backend) handle(_ context.Context, c *eslgo.Conn, resp *eslgo.RawResponse) {
	id := resp.Headers.Get(proxyHeader)
	b.mu.Lock()
	pc := b.conns[id]
	delete(b.conns, id)
	b.mu.Unlock()
	if pc == nil {
		b.log.Warn("eslgo connection not from our proxy")
		c.Close()
		return
	}
	pc.srv.serve(pc, c, Event{h: resp.Headers})
}

func (b *backend) register(pc *proxyConn) {
	b.mu.Lock()
	b.conns[pc.id] = pc
	b.mu.Unlock()
}

func (b *backend) unregister(pc *proxyConn) {
	b.mu.Lock()
	if b.conns[pc.id] == pc {
		delete(b.conns, pc.id)
	}
	b.mu.Unlock()
}

// proxyConn is one FreeSWITCH connection proxied to eslgo.
type proxyConn struct {
	id    string
	srv   *Server
	front net.Conn // FreeSWITCH

	mu        sync.Mutex
	frontGone bool
	session   *Session
	eslgo     *eslgo.Conn
}

// attach gives the connection its session and eslgo connection; if
// FreeSWITCH has already gone, both learn it at once.
func (pc *proxyConn) attach(s *Session, c *eslgo.Conn) {
	pc.mu.Lock()
	pc.session, pc.eslgo = s, c
	gone := pc.frontGone
	pc.mu.Unlock()
	if gone {
		s.connClosed()
		c.Close()
	}
}

// markFrontGone records that FreeSWITCH's side has ended, which eslgo may
// never notice once linger is on: the session is told, and eslgo's
// connection closed (which also spares eslgo waiting for a reply to its
// "exit" that cannot come).
func (pc *proxyConn) markFrontGone() {
	pc.mu.Lock()
	pc.frontGone = true
	s, c := pc.session, pc.eslgo
	pc.mu.Unlock()
	if s != nil {
		s.connClosed()
		c.Close()
	}
}

func (pc *proxyConn) closeFront() {
	_ = pc.front.Close()
}

// proxy copies between FreeSWITCH and eslgo until both sides are done.
func (pc *proxyConn) proxy(b *backend, log *slog.Logger) {
	back, err := net.DialTimeout("unix", b.addr, time.Second)
	if err != nil {
		log.Error("connect to eslgo listener", "err", err)
		pc.closeFront()
		return
	}
	b.register(pc)
	defer b.unregister(pc)
	toFS := make(chan struct{})
	go func() {
		defer close(toFS)
		// eslgo → FreeSWITCH, in LF line endings. When eslgo is done,
		// FreeSWITCH sees the close and, with socket_resume, goes on
		// with the dialplan.
		copyFrames(&lfWriter{w: pc.front}, back, commandBuffers)
		pc.closeFront()
	}()
	// FreeSWITCH → eslgo: the connect reply gets our header, then the
	// rest is copied as it comes.
	if err := pc.forwardConnectReply(back); err == nil {
		copyFrames(back, pc.front, eventBuffers)
	}
	pc.markFrontGone()
	// eslgo must not see EOF here: its receive loop then sends on a channel
	// that a concurrent Close may be closing, and panics. The session learns
	// that FreeSWITCH left from markFrontGone and closes eslgo's side; that
	// ends the copy above.
	<-toFS
	_ = back.Close()
}

// Buffer pools for copyFrames: eventBuffers for what FreeSWITCH sends (ESL
// frames are 45 bytes to ~20 KB), commandBuffers for what stickyacd sends
// (a sendmsg with a dial string at most: a few hundred bytes), where a call
// holds its buffer for its whole life.
var (
	eventBuffers   = bufferPool(16 << 10)
	commandBuffers = bufferPool(2 << 10)
)

func bufferPool(size int) *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, size); return &b }}
}

// copyFrames copies until src or dst fails, with read and write: for
// frames this small, splice(2) (what io.Copy would use between TCP and
// unix sockets) measured slower, each frame costing a pipe round.
func copyFrames(dst io.Writer, src io.Reader, buffers *sync.Pool) {
	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	_, _ = io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *buf)
}

// forwardConnectReply reads FreeSWITCH's first frame, the reply to eslgo's
// "connect" (a header block without Content-Length), and forwards it with
// proxyHeader added.
func (pc *proxyConn) forwardConnectReply(back net.Conn) error {
	br := bufio.NewReaderSize(pc.front, 16<<10)
	var frame []byte
	for {
		line, err := br.ReadSlice('\n')
		frame = append(frame, line...)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("read connect reply: %w", err)
		}
		if len(frame) > maxConnectReply {
			return errors.New("connect reply too long")
		}
		if err == nil && (bytes.Equal(line, []byte("\n")) || bytes.Equal(line, []byte("\r\n"))) && len(frame) > len(line) {
			break
		}
	}
	end := len(frame) - 1
	if frame[end-1] == '\r' {
		end--
	}
	out := make([]byte, 0, len(frame)+64)
	out = append(out, frame[:end]...)
	out = append(out, proxyHeader+": "+pc.id+"\n"...)
	out = append(out, frame[end:]...)
	if n := br.Buffered(); n > 0 {
		rest, _ := br.Peek(n)
		out = append(out, rest...)
	}
	if _, err := back.Write(out); err != nil {
		return fmt.Errorf("forward connect reply: %w", err)
	}
	return nil
}
