package bench

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stickyacd/stickyacd/esl/fstest"
)

// Outcome is how a call ended as the emulator saw it.
type outcome string

const (
	outcomeBridged  outcome = "bridged"  // an agent answered
	outcomeCallback outcome = "callback" // the step 03 promise was played
	outcomeFailed   outcome = "failed"   // neither: counted as an error
)

// callRecord is what the bench keeps of one call.
type callRecord struct {
	uuid        string
	kind        callerKind
	outcome     outcome
	err         string
	setup       time.Duration // dial to stickyacd's "connect"
	connectedAt time.Time
	bytesIn     int64         // ESL bytes FreeSWITCH sent stickyacd on the call's socket
	bytesOut    int64         // and stickyacd sent back
	decision    time.Duration // see decisionTime
	decided     bool
	bridges     []bridgeSpan
}

// bridgeSpan is one agent offered the call, from the emulator's records.
type bridgeSpan struct {
	target     string
	start, end time.Time
}

// mediaApps are the applications whose time is the caller listening or
// keying, not stickyacd deciding.
var mediaApps = map[string]bool{"play_and_get_digits": true, "playback": true}

// Why a call has no decision time.
var (
	errNoDecision   = errors.New("neither a bridge nor the callback promise was issued")
	errNotConnected = errors.New("stickyacd never sent connect")
)

// decisionTime is the emulator's view of the routing decision: from the
// moment FreeSWITCH received stickyacd's "connect" (ConnectedAt) to the
// start of the first bridge or of the step 03 promise (see isPromise),
// minus the time the caller spent in prompts and digit collection
// (play_and_get_digits, playback) before that point. It therefore includes
// the session set-up commands, the look-ups in PostgreSQL and Redis, the
// answer of IVR and callback calls, and every ESL round trip on the way.
func decisionTime(res *fstest.CallResult, promise string) (time.Duration, outcome, error) {
	if res.ConnectedAt.IsZero() {
		return 0, outcomeFailed, errNotConnected
	}
	var media time.Duration
	for _, a := range res.Apps {
		switch {
		case a.Name == "bridge":
			return a.Start.Sub(res.ConnectedAt) - media, outcomeOf(res), nil
		case isPromise(a, promise):
			return a.Start.Sub(res.ConnectedAt) - media, outcomeCallback, nil
		case mediaApps[a.Name]:
			media += a.End.Sub(a.Start)
		}
	}
	return 0, outcomeFailed, errNoDecision
}

// isPromise reports whether an application plays the step 03 promise: a
// playback of it, or the business-type menu's digit collection that opens
// with it (file_string://promise!menu), so keys pressed during the promise
// count.
func isPromise(a fstest.AppExec, promise string) bool {
	switch a.Name {
	case "playback":
		return a.Arg == promise
	case "play_and_get_digits":
		return strings.Contains(a.Arg, "file_string://"+promise+"!")
	}
	return false
}

// outcomeOf tells a bridged call from one that went on to the promise
// after its bridges failed.
func outcomeOf(res *fstest.CallResult) outcome {
	for _, b := range res.Bridges {
		if b.Answered {
			return outcomeBridged
		}
	}
	for _, a := range res.Apps {
		if a.Name == "playback" {
			return outcomeCallback
		}
	}
	return outcomeFailed
}

// record turns an emulator result into a callRecord; dialled is when the
// emulator was asked to place the call.
func record(res *fstest.CallResult, kind callerKind, dialled time.Time, promise string) callRecord {
	r := callRecord{uuid: res.UUID, kind: kind, bytesIn: res.BytesToApp, bytesOut: res.BytesFromApp}
	if !res.ConnectedAt.IsZero() {
		r.setup, r.connectedAt = res.ConnectedAt.Sub(dialled), res.ConnectedAt
	}
	for _, b := range res.Bridges {
		r.bridges = append(r.bridges, bridgeSpan{target: b.Target, start: b.Start, end: b.End})
	}
	d, out, err := decisionTime(res, promise)
	r.decision, r.outcome, r.decided = d, out, err == nil
	switch {
	case res.Resumed:
		r.outcome, r.err = outcomeFailed, "stickyacd refused or dropped the call (dialplan fallback ran)"
	case err != nil:
		r.err = err.Error()
	case out == outcomeFailed:
		r.err = "no agent answered and no promise was played"
	}
	return r
}

// doubleBookings counts agents offered a call while still offered another:
// two bridge spans to the same target that overlap.
func doubleBookings(recs []callRecord) (int, []string) {
	byTarget := map[string][]bridgeSpan{}
	for i := range recs {
		for j := range recs[i].bridges {
			b := recs[i].bridges[j]
			byTarget[b.target] = append(byTarget[b.target], b)
		}
	}
	n := 0
	var examples []string
	for target, spans := range byTarget {
		sort.Slice(spans, func(i, j int) bool { return spans[i].start.Before(spans[j].start) })
		end := spans[0].end
		for _, s := range spans[1:] {
			if s.start.Before(end) {
				n++
				if len(examples) < 5 {
					examples = append(examples, fmt.Sprintf("%s at %s", target, s.start.Format(time.RFC3339Nano)))
				}
			}
			if s.end.After(end) {
				end = s.end
			}
		}
	}
	slices.Sort(examples)
	return n, examples
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// percentiles uses the nearest-rank method on a sorted copy.
func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return ms(s[max(i, 0)])
	}
	return Percentiles{P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }
