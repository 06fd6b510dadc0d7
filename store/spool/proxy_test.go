package spool_test

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// pgProxy sits between the store and PostgreSQL so a test can make the
// server unreachable at will: refuse connections (nothing listens on the
// port), reset them (accepted and closed at once), or hang (accepted and
// never answered).
type pgProxy struct {
	t      testing.TB
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	mode  proxyMode
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newPGProxy(t testing.TB, target string) *pgProxy {
	t.Helper()
	p := &pgProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		p.refuse()
		p.wg.Wait()
	})
	return p
}

// pgAddr is the host:port of a URL DSN.
func pgAddr(t testing.TB, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("test DSN must be a URL: %v", err)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "5432")
	}
	return u.Host
}

// proxied rewrites a URL DSN to go through the proxy.
func (p *pgProxy) proxied(dsn string) string {
	p.t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		p.t.Fatalf("test DSN must be a URL: %v", err)
	}
	u.Host = p.addr
	q := u.Query()
	q.Set("connect_timeout", "5")
	u.RawQuery = q.Encode()
	return u.String()
}

func (p *pgProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[c] = true
			mode := p.mode
			p.mu.Unlock()
			switch mode {
			case modeHang:
				// Held open, never answered, closed by the next mode change.
			case modeReset:
				p.drop(c)
			default:
				p.wg.Go(func() { p.pipe(c) })
			}
		}
	})
}

func (p *pgProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	p.conns[up] = true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	copyHalf := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go copyHalf(up, c)
	go copyHalf(c, up)
	<-done
	p.drop(c)
	p.drop(up)
	<-done
}

func (p *pgProxy) drop(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

// cut closes every connection in flight, as a server restart would.
func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// refuse closes the port: new connections are refused.
func (p *pgProxy) refuse() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	p.cut()
}

type proxyMode int

const (
	modeForward proxyMode = iota
	modeHang
	modeReset
)

// hangUp makes new connections hang.
func (p *pgProxy) hangUp() { p.switchTo(modeHang) }

// reset makes new connections close at once.
func (p *pgProxy) reset() { p.switchTo(modeReset) }

// restore forwards to PostgreSQL again.
func (p *pgProxy) restore() { p.switchTo(modeForward) }

func (p *pgProxy) switchTo(m proxyMode) {
	p.refuse()
	p.mu.Lock()
	p.mode = m
	p.mu.Unlock()
	p.listen()
}

func (p *pgProxy) listen() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}
