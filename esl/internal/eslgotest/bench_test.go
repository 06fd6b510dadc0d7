//go:build !race

// Run without -race (eslgo v1.5.0 races internally):
//
//	go test -run '^$' -bench . ./esl/internal/eslgotest/
package eslgotest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/esl"
	"github.com/stickyacd/stickyacd/esl/fstest"
)

// BenchmarkExecuteRoundTrip is one execute-and-wait (sendmsg, its reply,
// its CHANNEL_EXECUTE_COMPLETE) through the proxy, eslgo and the emulator.
func BenchmarkExecuteRoundTrip(b *testing.B) {
	ready := make(chan *esl.Session)
	done := make(chan struct{})
	hs := start(b, esl.ServerOptions{}, func(ctx context.Context, s *esl.Session) {
		ready <- s
		<-done
	}, fstest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	call, err := hs.fs.Call(ctx, fstest.CallSpec{Caller: "2000"})
	if err != nil {
		b.Fatal(err)
	}
	s := <-ready
	b.ResetTimer()
	for b.Loop() {
		if err := s.Set(ctx, "bench", "1"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(done)
	if _, err := call.Wait(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkConnectToBridge measures, per call, how long after FreeSWITCH's
// connect the session is ready (its handler starts) and the bridge starts
// when the handler bridges at once (the decision path without routing),
// and how many commands that took. The set-up
// commands go in one round trip, so the path is three: connect, set-up,
// bridge.
func BenchmarkConnectToBridge(b *testing.B) {
	var ready sync.Map // call UUID → when its handler started (session set up)
	hs := start(b, esl.ServerOptions{}, func(ctx context.Context, s *esl.Session) {
		ready.Store(s.UUID(), time.Now())
		_, _ = s.Bridge(ctx, esl.BridgeOptions{Target: "user/2001", RingTimeout: 5 * time.Second, Vars: map[string]string{"sip_h_X-Stickyacd-Customer": "K01"}})
	}, fstest.Options{})
	hs.fs.SetEndpoint("user/2001", fstest.Busy())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var lat, setup []time.Duration
	var cmds, bytes int
	for b.Loop() {
		call, err := hs.fs.Call(ctx, fstest.CallSpec{Caller: "2000"})
		if err != nil {
			b.Fatal(err)
		}
		res, err := call.Wait(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Bridges) != 1 {
			b.Fatalf("bridges %+v", res.Bridges)
		}
		lat = append(lat, res.Bridges[0].Start.Sub(res.ConnectedAt))
		if at, ok := ready.LoadAndDelete(res.UUID); ok {
			setup = append(setup, at.(time.Time).Sub(res.ConnectedAt))
		}
		cmds += slices.Index(res.Commands, "sendmsg") + 1 // up to the bridge
		bytes += int(res.BytesToApp)
	}
	slices.Sort(lat)
	slices.Sort(setup)
	b.ReportMetric(float64(setup[len(setup)/2].Microseconds()), "p50_connect_to_ready_µs")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50_connect_to_bridge_µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99_connect_to_bridge_µs")
	b.ReportMetric(float64(cmds)/float64(len(lat)), "commands_to_bridge/op")
	b.ReportMetric(float64(bytes)/float64(len(lat)), "esl_bytes_in/op")
}
