package bench

import (
	"errors"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/esl/fstest"
)

const promise = "ivr/promise.wav"

func TestDecisionTime(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }
	app := func(name, arg string, from, to float64) fstest.AppExec {
		return fstest.AppExec{Name: name, Arg: arg, Start: at(from), End: at(to)}
	}
	tests := []struct {
		name    string
		res     fstest.CallResult
		want    time.Duration
		outcome outcome
		err     error
	}{
		{
			name: "known caller bridged",
			res: fstest.CallResult{ConnectedAt: at(0),
				Apps:    []fstest.AppExec{app("multiset", "", 0.3, 0.31), app("bridge", "user/2001", 0.4, 900)},
				Bridges: []fstest.BridgeAttempt{{Target: "user/2001", Answered: true}}},
			want: 400 * time.Microsecond, outcome: outcomeBridged,
		},
		{
			name: "ID entry: digit collection is the caller's time",
			res: fstest.CallResult{ConnectedAt: at(0),
				Apps: []fstest.AppExec{app("answer", "", 0.2, 0.25), app("play_and_get_digits", "", 0.3, 2000.3),
					app("multiset", "", 2000.5, 2000.6), app("bridge", "user/2001", 2000.7, 3000)},
				Bridges: []fstest.BridgeAttempt{{Target: "user/2001", Answered: true}}},
			want: 700 * time.Microsecond, outcome: outcomeBridged,
		},
		{
			name: "chain exhausted: the promise",
			res: fstest.CallResult{ConnectedAt: at(0),
				Apps: []fstest.AppExec{app("answer", "", 0.5, 0.6), app("playback", promise, 0.9, 500)}},
			want: 900 * time.Microsecond, outcome: outcomeCallback,
		},
		{
			name: "the promise opens the business-type menu",
			res: fstest.CallResult{ConnectedAt: at(0),
				Apps: []fstest.AppExec{app("answer", "", 0.5, 0.6),
					app("play_and_get_digits", "1 1 3 5000 # file_string://"+promise+"!ivr/menu.wav silence_stream://250 stickyacd_digits ^[12]$ 5000", 0.8, 900)}},
			want: 800 * time.Microsecond, outcome: outcomeCallback,
		},
		{
			name: "bridges fail, then the promise: the first bridge decides",
			res: fstest.CallResult{ConnectedAt: at(0),
				Apps:    []fstest.AppExec{app("bridge", "user/2001", 0.5, 10), app("answer", "", 11, 12), app("playback", promise, 12, 100)},
				Bridges: []fstest.BridgeAttempt{{Target: "user/2001"}}},
			want: 500 * time.Microsecond, outcome: outcomeCallback,
		},
		{
			name: "neither",
			res:  fstest.CallResult{ConnectedAt: at(0), Apps: []fstest.AppExec{app("answer", "", 0.5, 0.6)}},
			err:  errNoDecision, outcome: outcomeFailed,
		},
		{
			name:    "never connected",
			res:     fstest.CallResult{},
			outcome: outcomeFailed, err: errNotConnected,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, out, err := decisionTime(&tc.res, promise)
			if !errors.Is(err, tc.err) || got != tc.want || out != tc.outcome {
				t.Errorf("decisionTime = %v, %s, %v; want %v, %s, %v", got, out, err, tc.want, tc.outcome, tc.err)
			}
		})
	}
}

func TestRecordFlagsFailures(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	tests := []struct {
		name string
		res  fstest.CallResult
		ok   bool
	}{
		{"bridged", fstest.CallResult{ConnectedAt: t0, Apps: []fstest.AppExec{{Name: "bridge", Start: t0}},
			Bridges: []fstest.BridgeAttempt{{Answered: true}}}, true},
		{"dialplan fallback", fstest.CallResult{Resumed: true}, false},
		{"dropped after connect", fstest.CallResult{ConnectedAt: t0}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := record(&tc.res, kindKnown, t0.Add(-time.Millisecond), promise)
			if (r.err == "") != tc.ok {
				t.Errorf("record error %q, want ok=%v", r.err, tc.ok)
			}
		})
	}
}

func TestDoubleBookings(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	span := func(target string, from, to int) bridgeSpan {
		return bridgeSpan{target: target, start: t0.Add(time.Duration(from) * time.Second), end: t0.Add(time.Duration(to) * time.Second)}
	}
	tests := []struct {
		name string
		recs []callRecord
		want int
	}{
		{"one after the other", []callRecord{{bridges: []bridgeSpan{span("user/1", 0, 5)}}, {bridges: []bridgeSpan{span("user/1", 5, 6)}}}, 0},
		{"different agents", []callRecord{{bridges: []bridgeSpan{span("user/1", 0, 5)}}, {bridges: []bridgeSpan{span("user/2", 1, 6)}}}, 0},
		{"overlap", []callRecord{{bridges: []bridgeSpan{span("user/1", 0, 5)}}, {bridges: []bridgeSpan{span("user/1", 4, 6)}}}, 1},
		{"inside a long one", []callRecord{
			{bridges: []bridgeSpan{span("user/1", 0, 10)}},
			{bridges: []bridgeSpan{span("user/1", 1, 2)}},
			{bridges: []bridgeSpan{span("user/1", 3, 4)}},
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, _ := doubleBookings(tc.recs); got != tc.want {
				t.Errorf("doubleBookings = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := percentiles(ds)
	want := Percentiles{P50: 50, P90: 90, P99: 99, Max: 100}
	if got != want {
		t.Errorf("percentiles = %+v, want %+v", got, want)
	}
	if got := percentiles(nil); got != (Percentiles{}) {
		t.Errorf("percentiles(nil) = %+v", got)
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("percentiles sorted its argument")
	}
}
