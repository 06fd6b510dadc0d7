package bench

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stickyacd/stickyacd/esl/fstest"
	"github.com/stickyacd/stickyacd/store/presence"
)

// HeapFigures is the heap each connected call holds: live heap after a
// garbage collection with Held calls bridged and talking, minus the same
// with half of them, per added call. Taking the difference between two
// loads, not between a load and none, leaves out what grows once (pools of
// connections to Redis and PostgreSQL, buffers reused across calls).
// In-process the difference holds the emulator's share of each call too; it
// is measured the same way with the emulator bridging calls for an
// application that does nothing, and taken off. With --addr the figure is
// stickyacd's heap in use from its /metrics, without a collection, so it
// includes garbage (Approx).
type HeapFigures struct {
	Held         int     `json:"calls_held"`
	StickyacdKiB float64 `json:"stickyacd_kib"`
	TotalKiB     float64 `json:"total_kib,omitempty"`
	EmulatorKiB  float64 `json:"emulator_kib,omitempty"`
	// StackKiB is goroutine stack per call (stickyacd and emulator
	// in-process): not heap, but memory each call holds too.
	StackKiB float64 `json:"stack_kib,omitempty"`
	Approx   bool    `json:"approximate,omitempty"`
}

// defaultHoldSettle lets held calls settle once their sessions are up: the
// agents answer and what the set-up left behind (events in flight, one
// goroutine per event in eslgo) is gone, which takes well over a second at
// a thousand calls; defaultHoldQuiet lets the connections of earlier calls
// go. Options.holdSettle and holdQuiet override them (tests).
const (
	defaultHoldSettle = 2500 * time.Millisecond
	defaultHoldQuiet  = 3 * time.Second
)

// heapPerCall holds calls connected and measures the heap they take.
func (b *bencher) heapPerCall(ctx context.Context) (*HeapFigures, error) {
	n := min(b.o.Hold, b.o.Agents) / 2 * 2
	if n < 2 {
		return nil, errors.New("hold: at least two calls, on as many agents")
	}
	// The held calls' customers 0…n-1 belong to agents 0…n-1, one each;
	// they answer and talk until the caller hangs up.
	for i := 0; i < n; i++ {
		b.fs.SetEndpoint(target(b.base, i), fstest.Answers(b.o.RingFor))
		if err := b.pres.SetStatus(ctx, agentID(i), presence.StatusAvailable, "bench hold"); err != nil {
			return nil, fmt.Errorf("hold: make agent available: %w", err)
		}
	}
	if err := b.waitSessions(ctx, func(s int) bool { return s == 0 }); err != nil {
		return nil, err
	}
	// eslgo lets a finished session's connection go only after its "exit"
	// is answered or times out.
	time.Sleep(cmp.Or(b.o.holdQuiet, defaultHoldQuiet))
	spec := func(i int) fstest.CallSpec { return fstest.CallSpec{Caller: customerPhone(i)} }
	var readings [2]heapReading
	var remote [2]float64
	for half := range 2 {
		held := b.hold(ctx, b.fs, b.base.FreeSWITCH.Password, half*n/2, n/2, spec)
		defer held.end()
		if err := b.waitSessions(ctx, func(s int) bool { return s >= (half+1)*n/2 }); err != nil {
			return nil, err
		}
		time.Sleep(cmp.Or(b.o.holdSettle, defaultHoldSettle))
		if b.remote() {
			remote[half] = b.remoteHeap()
		} else {
			readings[half] = b.steadyHeap(ctx)
			b.log.Debug("bench: heap with held calls", "calls", (half+1)*n/2, "heap", readings[half].heap, "stack", readings[half].stack)
		}
	}
	h := &HeapFigures{Held: n}
	per := func(from, to int64) float64 { return round(float64(to-from)/float64(n/2)/1024, 1) }
	if b.remote() {
		h.StickyacdKiB = per(int64(remote[0]), int64(remote[1]))
		h.Approx = true
		return h, nil
	}
	h.TotalKiB = per(readings[0].heap, readings[1].heap)
	h.StackKiB = per(readings[0].stack, readings[1].stack)
	emu, err := b.emulatorHeapPerCall(ctx, n)
	if err != nil {
		return nil, err
	}
	h.EmulatorKiB = emu
	h.StickyacdKiB = round(h.TotalKiB-emu, 1)
	return h, nil
}

func (b *bencher) remoteHeap() float64 {
	if !b.remote() {
		return 0
	}
	return b.metrics.scrape()[metricHeapInuse]
}

type heapReading struct{ heap, stack int64 }

// liveHeap collects until finalizers have had their turn (a connection is
// freed by the collection after its finalizer ran) and reads the live heap
// and the goroutine stacks.
func liveHeap() heapReading {
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return heapReading{heap: int64(m.HeapAlloc), stack: int64(m.StackInuse)}
}

// Steady-heap detection: readings heapStep apart within heapTolerance of
// each other, for at most defaultHeapWait (Options.heapWait in tests).
const (
	heapStep        = 500 * time.Millisecond
	heapTolerance   = 0.01
	defaultHeapWait = 15 * time.Second
)

// steadyHeap reads the live heap until two readings agree: after a load
// the bench itself caused, connections and buffers keep going for a while.
func (b *bencher) steadyHeap(ctx context.Context) heapReading {
	prev := liveHeap()
	for deadline := time.Now().Add(cmp.Or(b.o.heapWait, defaultHeapWait)); time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return prev
		case <-time.After(heapStep):
		}
		cur := liveHeap()
		if math.Abs(float64(cur.heap-prev.heap)) < heapTolerance*float64(prev.heap) {
			return cur
		}
		prev = cur
	}
	return prev
}

// holding is a set of held calls.
type holding struct {
	fs       *fstest.FS
	password string
	log      *slog.Logger
	calls    []*fstest.Call
	wg       sync.WaitGroup
	once     sync.Once
}

// end hangs the held calls up with uuid_kill on the emulator's event
// socket, as an operator would, and waits for them to finish.
func (h *holding) end() {
	h.once.Do(func() {
		ids := make([]string, len(h.calls))
		for i, c := range h.calls {
			ids[i] = c.UUID()
		}
		if err := killCalls(h.fs.EventSocketAddr(), h.password, ids); err != nil {
			h.log.Warn("bench: hang up held calls", "err", err)
		}
		h.wg.Wait()
	})
}

// hold places calls from..from+n-1 on fs at once.
func (b *bencher) hold(ctx context.Context, fs *fstest.FS, password string, from, n int, spec func(i int) fstest.CallSpec) *holding {
	h := &holding{fs: fs, password: password, log: b.log}
	pprof.Do(ctx, pprof.Labels(sideLabel, sideEmulator), func(ctx context.Context) {
		for i := from; i < from+n; i++ {
			c, err := fs.Call(ctx, spec(i))
			if err != nil {
				b.log.Warn("bench: held call not placed", "err", err)
				continue
			}
			h.calls = append(h.calls, c)
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				wctx, cancel := context.WithTimeout(ctx, callTimeout)
				defer cancel()
				if _, err := c.Wait(wctx); err != nil {
					b.log.Warn("bench: held call", "err", err)
				}
			}()
		}
	})
	return h
}

// sessionsTimeout bounds waiting for stickyacd's session count.
const sessionsTimeout = 30 * time.Second

// waitSessions waits until stickyacd's count of connected calls (its
// /metrics) satisfies ok.
func (b *bencher) waitSessions(ctx context.Context, ok func(int) bool) error {
	deadline := time.Now().Add(sessionsTimeout)
	for {
		s := int(b.metrics.scrape()[metricSessions])
		if ok(s) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("hold: stickyacd has %d calls connected after %s", s, sessionsTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// emulatorHeapPerCall is the emulator's own heap per bridged call: the
// same two loads against an application that only says "connect" and
// "bridge" and drains what it is sent.
func (b *bencher) emulatorHeapPerCall(ctx context.Context, n int) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("emulator heap: %w", err)
	}
	app := &nullApp{ln: ln, bridged: make(chan struct{}, n)}
	go app.serve()
	defer app.close()
	fs, err := fstest.New(fstest.Options{Outbound: ln.Addr().String(), Speed: b.o.Speed})
	if err != nil {
		return 0, fmt.Errorf("emulator heap: %w", err)
	}
	defer fs.Close()
	for i := 0; i < n; i++ {
		fs.SetEndpoint(nullTarget(i), fstest.Answers(b.o.RingFor))
	}
	spec := func(i int) fstest.CallSpec {
		return fstest.CallSpec{Caller: customerPhone(i), Vars: map[string]string{nullTargetVar: nullTarget(i)}}
	}
	var readings [2]heapReading
	for half := range 2 {
		held := b.hold(ctx, fs, "", half*n/2, n/2, spec)
		defer held.end()
		for range n / 2 {
			select {
			case <-app.bridged:
			case <-time.After(sessionsTimeout):
				return 0, errors.New("emulator heap: calls did not connect")
			}
		}
		time.Sleep(cmp.Or(b.o.holdSettle, defaultHoldSettle))
		readings[half] = b.steadyHeap(ctx)
	}
	return round(float64(readings[1].heap-readings[0].heap)/float64(n/2)/1024, 1), nil
}

// nullTargetVar is the dialplan variable telling the null application
// whom to bridge.
const nullTargetVar = "bench_target"

func nullTarget(i int) string { return "user/hold" + strconv.Itoa(i) }

// nullApp is the least an outbound-socket application can do: connect,
// bridge the caller to the target the dialplan named, drain the rest.
type nullApp struct {
	ln      net.Listener
	bridged chan struct{}
	wg      sync.WaitGroup
}

func (a *nullApp) serve() {
	for {
		c, err := a.ln.Accept()
		if err != nil {
			return
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer c.Close()
			a.session(c)
		}()
	}
}

func (a *nullApp) session(c net.Conn) {
	if _, err := io.WriteString(c, "connect\n\n"); err != nil {
		return
	}
	r := bufio.NewReaderSize(c, 4096)
	head, err := readHeaders(r)
	if err != nil {
		return
	}
	cmd := "sendmsg\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: " + head["variable_"+nullTargetVar] + "\n\n"
	if _, err := io.WriteString(c, cmd); err != nil {
		return
	}
	a.bridged <- struct{}{}
	_, _ = io.Copy(io.Discard, r)
}

func (a *nullApp) close() {
	_ = a.ln.Close()
	a.wg.Wait()
}

// readHeaders reads one header block of an event-socket frame.
func readHeaders(r *bufio.Reader) (map[string]string, error) {
	h := map[string]string{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if len(h) == 0 {
				continue
			}
			return h, nil
		}
		if k, v, ok := strings.Cut(line, ": "); ok {
			h[k] = v
		}
	}
}

// killCalls hangs calls up with "api uuid_kill" on an event socket.
func killCalls(addr, password string, uuids []string) error {
	if password == "" {
		password = "ClueCon"
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("event socket %s: %w", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	frame := func() (map[string]string, error) {
		h, err := readHeaders(r)
		if err != nil {
			return nil, err
		}
		if n, _ := strconv.Atoi(h["Content-Length"]); n > 0 {
			if _, err := r.Discard(n); err != nil {
				return nil, err
			}
		}
		return h, nil
	}
	if _, err := frame(); err != nil { // auth/request
		return fmt.Errorf("event socket %s: %w", addr, err)
	}
	if _, err := io.WriteString(c, "auth "+password+"\n\n"); err != nil {
		return fmt.Errorf("event socket %s: %w", addr, err)
	}
	h, err := frame()
	if err != nil {
		return fmt.Errorf("event socket %s: %w", addr, err)
	}
	if !strings.HasPrefix(h["Reply-Text"], "+OK") {
		return fmt.Errorf("event socket %s: auth refused", addr)
	}
	for _, id := range uuids {
		if _, err := io.WriteString(c, "api uuid_kill "+id+"\n\n"); err != nil {
			return fmt.Errorf("uuid_kill: %w", err)
		}
		if _, err := frame(); err != nil {
			return fmt.Errorf("uuid_kill: %w", err)
		}
	}
	return nil
}
