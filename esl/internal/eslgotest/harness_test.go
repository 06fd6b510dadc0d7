//go:build !race

// Run without -race (eslgo v1.5.0 races internally):
//
//	go test -count=1 ./esl/internal/eslgotest/
package eslgotest

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickyacd/stickyacd/esl"
	"github.com/stickyacd/stickyacd/esl/fstest"
	"github.com/stickyacd/stickyacd/internal/testlog"
)

func TestMain(m *testing.M) {
	// eslgo's listener cannot be closed: package esl starts it once per
	// process and it stays.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/stickyacd/stickyacd/esl.(*backend).run"))
}

// harness is a Server on 127.0.0.1:0 with an emulator dialling it.
type harness struct {
	srv    *esl.Server
	fs     *fstest.FS
	logs   *testlog.Buffer
	cancel context.CancelFunc
	served chan error
}

// speed is the emulator's media speed-up.
const speed = 100

func start(t testing.TB, opts esl.ServerOptions, h esl.Handler, fsOpts fstest.Options) *harness {
	t.Helper()
	logs := &testlog.Buffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	srv, err := esl.NewServer(opts, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hs := &harness{srv: srv, logs: logs, cancel: cancel, served: make(chan error, 1)}
	go func() { hs.served <- srv.ListenAndServe(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-hs.served:
		t.Fatalf("server: %v", err)
	}
	fsOpts.Outbound = srv.Addr().String()
	if fsOpts.Speed == 0 {
		fsOpts.Speed = speed
	}
	hs.fs, err = fstest.New(fsOpts)
	if err != nil {
		cancel()
		<-hs.served
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = hs.fs.Close()
		hs.stop(t)
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return hs
}

// stop shuts the server down (once) and checks it stopped cleanly.
func (hs *harness) stop(t testing.TB) {
	t.Helper()
	hs.cancel()
	if err, ok := <-hs.served; ok && err != nil {
		t.Errorf("ListenAndServe = %v", err)
	}
	close(hs.served)
}

// begin places a call without waiting for it.
func (hs *harness) begin(t testing.TB, spec fstest.CallSpec) *fstest.Call {
	t.Helper()
	c, err := hs.fs.Call(t.Context(), spec)
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	return c
}

// waitResult waits for a call begun with begin.
func waitResult(t testing.TB, c *fstest.Call) *fstest.CallResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	res, err := c.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return res
}

// served waits for ListenAndServe to return after hs.cancel, and checks it
// returned nil.
func (hs *harness) waitServed(t testing.TB) {
	t.Helper()
	if err := <-hs.served; err != nil {
		t.Errorf("Serve = %v", err)
	}
	hs.served <- nil // for the clean-up
}

// call places a call and waits for its result.
func (hs *harness) call(t testing.TB, spec fstest.CallSpec) *fstest.CallResult {
	t.Helper()
	return waitResult(t, hs.begin(t, spec))
}

// results collects what handlers saw, across goroutines.
type results struct {
	mu   sync.Mutex
	errs []error
	vals []string
}

func (r *results) add(v string, err error) {
	r.mu.Lock()
	r.vals = append(r.vals, v)
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *results) get() ([]string, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.vals...), append([]error(nil), r.errs...)
}

func errIs(err, target error) bool {
	if target == nil {
		return err == nil
	}
	return errors.Is(err, target)
}

func loopback() []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} }

func appNames(res *fstest.CallResult) string {
	var names []string
	for _, a := range res.Apps {
		names = append(names, a.Name)
	}
	return strings.Join(names, " ")
}
