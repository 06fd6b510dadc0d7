package esl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// gate stands between eslgo's inbound connection and FreeSWITCH's event
// socket, for the reason the outbound proxy exists too: eslgo must never
// read end-of-file while it may be closing. When FreeSWITCH shuts down it
// sends a disconnect notice, on which eslgo closes its connection, and then
// closes the socket; eslgo's reader reporting that EOF races with the close
// and crashes the process ("send on closed channel", or a concurrent map
// access). Through the gate eslgo sees FreeSWITCH's bytes, but an EOF only
// until it has authenticated; after that FreeSWITCH leaving is reported to
// the client (gone), which closes eslgo's side itself.
type gate struct {
	fs   net.Conn // FreeSWITCH
	back net.Conn // our end of eslgo's unix connection
	ln   net.Listener
	addr string

	mu     sync.Mutex
	authed bool
	gone   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

// openGate dials FreeSWITCH and listens on a private abstract unix socket
// for eslgo to dial (Network "unix", address gate.addr).
func openGate(ctx context.Context, addr string, timeout time.Duration) (*gate, error) {
	d := net.Dialer{Timeout: timeout}
	fs, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	ln, err := net.Listen("unix", "@stickyacd-esl-in-"+hex.EncodeToString(nonce[:]))
	if err != nil {
		fs.Close()
		return nil, fmt.Errorf("event socket gate: %w", err)
	}
	g := &gate{fs: fs, ln: ln, addr: ln.Addr().String(), gone: make(chan struct{})}
	g.wg.Add(1)
	go g.accept()
	return g, nil
}

// accept takes eslgo's one connection and starts copying.
func (g *gate) accept() {
	defer g.wg.Done()
	back, err := g.ln.Accept()
	g.ln.Close()
	if err != nil {
		g.fs.Close()
		g.leave()
		return
	}
	g.mu.Lock()
	g.back = back
	g.mu.Unlock()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		// eslgo → FreeSWITCH: ends when eslgo closes its side.
		_, _ = io.Copy(g.fs, back)
		g.fs.Close()
		back.Close()
	}()
	// FreeSWITCH → eslgo.
	_, _ = io.Copy(back, g.fs)
	g.mu.Lock()
	authed := g.authed
	g.mu.Unlock()
	if !authed {
		// eslgo is still in Dial, waiting for auth: an EOF now cannot
		// race with a close, and ends its wait.
		back.Close()
	}
	g.leave()
}

func (g *gate) leave() { g.once.Do(func() { close(g.gone) }) }

// authenticated marks the point after which eslgo is never given an EOF.
func (g *gate) authenticated() {
	g.mu.Lock()
	g.authed = true
	g.mu.Unlock()
}

// close ends both sides; eslgo's connection must have been closed first
// (or never made).
func (g *gate) close() {
	g.ln.Close()
	g.fs.Close()
	g.mu.Lock()
	back := g.back
	g.mu.Unlock()
	if back != nil {
		back.Close()
	}
	g.leave()
}

// wait returns once every copy has ended.
func (g *gate) wait() { g.wg.Wait() }
