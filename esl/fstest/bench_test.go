package fstest

import (
	"bufio"
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// benchChannel is a caller channel as it is after an answer and a prompt.
func benchChannel(b *testing.B) (*FS, *channel) {
	b.Helper()
	fs, err := New(Options{Outbound: "127.0.0.1:1"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fs.Close() })
	k := &Call{fs: fs, spec: CallSpec{Caller: "13800138000", CallerName: "Caller 1", Destination: "9000"}}
	c := fs.newCallerChannel(k)
	k.ch = c
	k.answerLocked()
	for _, v := range []kv{{"current_application", "playback"}, {"current_application_data", "tone_stream://%(200,0,440)"},
		{"playback_ms", "200"}, {"current_application_response", "FILE PLAYED"}} {
		c.vars.set(v.name, v.value)
	}
	return fs, c
}

// BenchmarkEventSerialize measures rendering one CHANNEL_EXECUTE_COMPLETE
// (about 150 variables, 6 KB) for a listener: the per-event cost of the
// emulator.
func BenchmarkEventSerialize(b *testing.B) {
	fs, c := benchChannel(b)
	post := []kv{{"Application", "playback"}, {"Application-Data", "tone_stream://%(200,0,440)"},
		{"Application-Response", "FILE PLAYED"}, {"Application-UUID", "app-playback-1"}}
	b.ReportAllocs()
	var size int
	for b.Loop() {
		head := c.basicData(c.scratch[:0])
		c.scratch = head
		e := &event{name: "CHANNEL_EXECUTE_COMPLETE", site: siteExecuteComplete, uuid: c.uuid, head: head, vars: &c.vars, tail: post}
		size = len(fs.serializeEvent(e, 1, time.Now(), true))
	}
	b.SetBytes(int64(size))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCalls runs whole calls through a trivial outbound application
// over TCP: connect, myevents with filters, answer, a 100 ms prompt (at
// Speed 1000), hangup. calls/s is the set-up rate one emulator sustains
// together with its application in the same process.
func BenchmarkCalls(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				trivialApp(conn)
			}()
		}
	}()
	fs, err := New(Options{Outbound: ln.Addr().String(), Speed: 1000})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(8) // many calls in flight, as under load
	b.ResetTimer()
	var mu sync.Mutex
	var bytes int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k, err := fs.Call(ctx, CallSpec{Caller: "13800138000"})
			if err != nil {
				b.Error(err)
				return
			}
			res, err := k.Wait(ctx)
			if err != nil || res.HungUpBy != "app" {
				b.Errorf("call: %v %+v", err, res)
				return
			}
			mu.Lock()
			bytes += res.BytesToApp
			mu.Unlock()
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes-to-app/call")
	fs.Close()
	ln.Close()
	wg.Wait()
}

// trivialApp answers, plays a prompt and hangs up, subscribed only to the
// events it needs.
func trivialApp(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	send := func(s string) bool {
		_, err := conn.Write([]byte(s))
		return err == nil
	}
	next := func() (frame, bool) {
		f, err := readFrame(r)
		return f, err == nil
	}
	steps := []string{"connect\n\n", "myevents plain\n\n", "linger\n\n",
		"filter Event-Name CHANNEL_EXECUTE_COMPLETE\n\n", "filter Event-Name CHANNEL_HANGUP\n\n"}
	for _, s := range steps {
		if !send(s) {
			return
		}
		if _, ok := next(); !ok {
			return
		}
	}
	for _, app := range []string{execMsg("answer", "", "a", true), execMsg("playback", "tone_stream://%(100,0,440)", "p", true)} {
		if !send(app) {
			return
		}
		for {
			f, ok := next()
			if !ok {
				return
			}
			if f.event("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" {
				break
			}
		}
	}
	if !send("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n") {
		return
	}
	for {
		f, ok := next()
		if !ok || f.get("Content-Disposition") == "linger" {
			return
		}
	}
}
