package bench

// TestRunInProcess drives eslgo, which has a data race of its own, so the
// Makefile runs this package without -race.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/bench/sandbox"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/bench/sandbox/sandboxtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// eslgo's one listener lives as long as the process (esl's design).
		goleak.IgnoreAnyFunction("github.com/stickyacd/stickyacd/esl.(*backend).run"),
		// lib/pq's listener connections end asynchronously after Close.
		goleak.IgnoreAnyFunction("github.com/lib/pq.(*ListenerConn).listenerConnLoop"),
		goleak.IgnoreAnyFunction("github.com/lib/pq.(*ListenerConn).listenerConnMain"),
	)
}

// testOptions is a small bench on a schema and prefix of the test's own.
func testOptions(t *testing.T) Options {
	t.Helper()
	sb := sandboxtest.New(t, sandboxOwner)
	sb.Set("log.level", "error")
	o := Defaults()
	o.Schema, o.RedisPrefix, o.LookupEnv = sb.Schema, sb.Prefix, sb.LookupEnv
	o.Sizes = Sizes{Agents: 40, TeamSize: 5, Customers: 400}
	o.Calls, o.Rate, o.Warmup, o.Hold = 120, 200, 20, 10
	o.Speed = 50
	o.holdSettle, o.holdQuiet, o.heapWait = 200*time.Millisecond, 200*time.Millisecond, time.Second
	return o
}

// A small bench runs end to end in-process, loads its data set once and
// reuses it, and reports every figure.
func TestRunInProcess(t *testing.T) {
	o := testOptions(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Dataset.Reused {
		t.Error("the first run reused a data set")
	}
	if res.Calls != o.Calls || res.Errors != 0 || res.DoubleBookings != 0 {
		t.Errorf("calls %d errors %d double bookings %d: %v", res.Calls, res.Errors, res.DoubleBookings, res.ErrorSamples)
	}
	if res.DecisionMS.P50 <= 0 || res.SetupMS.P50 <= 0 || res.CallsPerS <= 0 || res.Goroutines <= 0 || res.RSSMB <= 0 {
		t.Errorf("figures missing: %+v", res.Phase)
	}
	if res.Outcomes[string(outcomeBridged)] == 0 || res.TasksCreated != res.Outcomes[string(outcomeCallback)] {
		t.Errorf("outcomes %v, %d tasks", res.Outcomes, res.TasksCreated)
	}
	if res.Heap == nil || res.Heap.Held != o.Hold || res.Heap.TotalKiB <= 0 {
		t.Errorf("heap %+v", res.Heap)
	}
	if res.CPU.Process <= 0 || res.CPU.Split[sideStickyacd] <= 0 {
		t.Errorf("cpu %+v", res.CPU)
	}

	var out bytes.Buffer
	if err := res.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(out.Bytes(), &obj); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"calls", "errors", "duration_s", "calls_per_s", "decision_ms", "setup_ms", "double_bookings",
		"tasks_created", "rss_mb", "goroutines", "heap_per_call_kib"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("JSON lacks %s", k)
		}
	}
	out.Reset()
	if err := res.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "decision p50/p90/p99/max") || !strings.Contains(out.String(), "issue 7 targets") {
		t.Errorf("table:\n%s", out.String())
	}

	o.Calls, o.Warmup, o.Hold = 20, 0, 0
	again, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Dataset.Reused || again.Errors != 0 {
		t.Errorf("second run: reused %v, errors %d %v", again.Dataset.Reused, again.Errors, again.ErrorSamples)
	}
}

// Names outside the bench's sandbox are refused before anything is touched.
func TestRunRefusesForeignNames(t *testing.T) {
	t.Parallel()
	for name, mut := range map[string]func(*Options){
		"schema":       func(o *Options) { o.Schema = "public" },
		"redis prefix": func(o *Options) { o.RedisPrefix = "stickyacd" },
		"injection":    func(o *Options) { o.Schema = "stickyacd_bench; drop table x" },
	} {
		o := Defaults()
		o.LookupEnv = func(string) (string, bool) { return "", false }
		mut(&o)
		if _, err := Run(context.Background(), o); !errors.Is(err, sandbox.ErrName) {
			t.Errorf("%s: %v, want sandbox.ErrName", name, err)
		}
	}
}

func TestServerEnvUsesAThrowawayKey(t *testing.T) {
	t.Parallel()
	o := Defaults()
	var out bytes.Buffer
	if err := WriteServerEnv(&out, o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"STICKYACD_SECURITY_ID_HASH_KEY='" + ThrowawayKey + "'",
		"STICKYACD_PRESENCE_KEY_PREFIX='stickyacd_bench'\n",
		"search_path=stickyacd_bench",
		"STICKYACD_PRESENCE_REQUIRE_REGISTRATION='false'",
		"STICKYACD_ROUTING_WRAP_UP='500ms'",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("server env lacks %q:\n%s", want, out.String())
		}
	}
}
