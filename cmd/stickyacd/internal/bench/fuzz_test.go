package bench

import (
	"bufio"
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// cpuProfile is a small real CPU profile with side labels, the seed of
// FuzzCPUBySide.
func cpuProfile(f *testing.F) []byte {
	f.Helper()
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		f.Fatal(err)
	}
	pprof.Do(context.Background(), pprof.Labels(sideLabel, sideStickyacd), func(context.Context) { spun += spin(50 * time.Millisecond) })
	pprof.StopCPUProfile()
	return buf.Bytes()
}

// The profile reader never panics, whatever the bytes.
func FuzzCPUBySide(f *testing.F) {
	f.Add(cpuProfile(f))
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = cpuBySide(data)
		_, _ = parseProfile(data)
	})
}

// The event-socket header reader returns headers or an error, never panics,
// and keeps every "Name: value" line of a block.
func FuzzReadHeaders(f *testing.F) {
	f.Add("Content-Type: auth/request\n\n")
	f.Add("Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
	f.Add("\n\nEvent-Name: CHANNEL_DATA\r\nvariable_bench_target: user/hold1\r\n\r\n")
	f.Add("no colon here\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := readHeaders(bufio.NewReader(strings.NewReader(s)))
		if err != nil {
			return
		}
		for k := range h {
			if strings.ContainsAny(k, "\n") {
				t.Errorf("header name %q spans lines", k)
			}
		}
	})
}

// The metrics reader takes only the samples it knows, as numbers.
func FuzzParseMetrics(f *testing.F) {
	f.Add("# HELP go_goroutines Number of goroutines.\n# TYPE go_goroutines gauge\ngo_goroutines 42\nprocess_cpu_seconds_total 1.5e+01\n")
	f.Add("stickyacd_esl_sessions_active NaN\ngo_memstats_heap_inuse_bytes 1.2345e+07\n")
	f.Add("go_goroutines{x=\"y\"} 3\n")
	f.Fuzz(func(t *testing.T, s string) {
		for name := range parseMetrics(strings.NewReader(s)) {
			switch name {
			case metricCPU, metricRSS, metricGoroutines, metricHeapInuse, metricSessions:
			default:
				t.Errorf("unexpected metric %q", name)
			}
		}
	})
}

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	got := parseMetrics(strings.NewReader("# TYPE go_goroutines gauge\ngo_goroutines 42\nprocess_resident_memory_bytes 1.048576e+06\nother 1\nstickyacd_esl_sessions_active 7\n"))
	if got[metricGoroutines] != 42 || got[metricRSS] != 1<<20 || got[metricSessions] != 7 || len(got) != 3 {
		t.Errorf("parseMetrics = %v", got)
	}
}
