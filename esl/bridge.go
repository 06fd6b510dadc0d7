package esl

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// BridgeOptions is one attempt to connect the caller to another party.
type BridgeOptions struct {
	// Target is the dial string without {vars}, e.g. "user/2001" or
	// "sofia/gateway/out/139…".
	Target string
	// Vars are set on the new leg ({vars}), e.g.
	// "sip_h_X-Stickyacd-Customer": "K01". Values are sent literally.
	Vars map[string]string
	// RingTimeout bounds ringing (call_timeout and originate_timeout);
	// 0 leaves FreeSWITCH's default.
	RingTimeout time.Duration
	// CallerVars are set on the caller's channel before the attempt (one
	// multiset execution, one more round trip), e.g. "ringback":
	// "${us-ring}"; ${…} in values is expanded. A variable is sent again
	// only when its value changes. Constant ones are better given once in
	// ServerOptions.CallerVars, which costs no round trip.
	CallerVars map[string]string
	// OnAnswer is called once when the other party answers, before the
	// conversation ends. It runs on the goroutine that called Bridge.
	OnAnswer func()
}

// BridgeOutcome is how an attempt ended.
type BridgeOutcome string

// Bridge outcomes.
const (
	BridgeAnswered    BridgeOutcome = "answered"
	BridgeNoAnswer    BridgeOutcome = "no_answer"
	BridgeBusy        BridgeOutcome = "busy"
	BridgeRejected    BridgeOutcome = "rejected"
	BridgeUnreachable BridgeOutcome = "unreachable"
	BridgeCallerGone  BridgeOutcome = "caller_gone"
)

// BridgeResult describes an attempt. An answered attempt returns when the
// conversation is over.
type BridgeResult struct {
	Outcome     BridgeOutcome
	Disposition string // originate_disposition, e.g. SUCCESS, USER_BUSY
	HangupCause string // why the other leg ended or failed
	OtherUUID   string // the other leg, when it answered
	AnsweredAt  time.Time
	EndedAt     time.Time
}

// outcomeOf maps FreeSWITCH's originate disposition to an outcome.
func outcomeOf(disposition string) BridgeOutcome {
	switch disposition {
	case "SUCCESS":
		return BridgeAnswered
	case "NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "NOANSWER":
		return BridgeNoAnswer
	case "USER_BUSY", "BUSY":
		return BridgeBusy
	case "CALL_REJECTED":
		return BridgeRejected
	case "ORIGINATOR_CANCEL":
		return BridgeCallerGone
	}
	// USER_NOT_REGISTERED, SUBSCRIBER_ABSENT, NORMAL_TEMPORARY_FAILURE,
	// DESTINATION_OUT_OF_ORDER, UNALLOCATED_NUMBER, NO_ROUTE_DESTINATION,
	// RECOVERY_ON_TIMER_EXPIRE, NETWORK_OUT_OF_ORDER and anything unknown.
	return BridgeUnreachable
}

// bridgeCallerVars are set on the caller's channel when the session is set
// up: without continue_on_fail most bridge failures hang the caller up, and
// without hangup_after_bridge=false the caller leaves with the agent.
var bridgeCallerVars = map[string]string{"continue_on_fail": "true", "hangup_after_bridge": "false"}

// Bridge connects the caller to b.Target and returns how the attempt
// ended. When the caller hangs up before anyone answers it returns
// ErrHangup with Outcome caller_gone. On any error the result still holds
// what was known, e.g. Outcome answered if the other party had answered.
func (s *Session) Bridge(ctx context.Context, b BridgeOptions) (BridgeResult, error) {
	s.bridgeMu.Lock()
	defer s.bridgeMu.Unlock()
	dial, err := dialString(b.Target, b.Vars, b.RingTimeout)
	if err != nil {
		return BridgeResult{}, fmt.Errorf("bridge: %w", err)
	}
	if err := s.snapshot().usable(); err != nil {
		return BridgeResult{Outcome: BridgeCallerGone, EndedAt: time.Now()}, fmt.Errorf("bridge: %w", err)
	}
	if err := s.setCallerVars(b.CallerVars); err != nil {
		return BridgeResult{}, fmt.Errorf("bridge: %w", err)
	}

	s.mu.Lock()
	floor, seen := s.completeSeq, len(s.bridges)
	s.mu.Unlock()
	var res BridgeResult
	answered := false
	answer := func(at time.Time, other string) {
		if answered {
			return
		}
		answered = true
		res.AnsweredAt, res.OtherUUID = at, other
		s.log.Debug("bridge answered", "other_uuid", other)
		if b.OnAnswer != nil {
			b.OnAnswer()
		}
	}
	watch := func() {
		if answered {
			return
		}
		if ev, ok := s.bridgeEvent(floor, seen); ok {
			answer(eventTimeOr(ev, time.Now()), otherLeg(ev))
		}
	}

	ev, err := s.execute(ctx, "bridge", dial, watch)
	now := time.Now()
	if err != nil {
		res.EndedAt = now
		switch {
		case answered:
			res.Outcome = BridgeAnswered
			if errors.Is(err, ErrHangup) {
				return res, nil
			}
		case errors.Is(err, ErrHangup):
			res.Outcome = BridgeCallerGone
		}
		return res, fmt.Errorf("bridge: %w", err)
	}

	res.EndedAt = eventTimeOr(ev, now)
	res.Disposition = disposition(ev)
	res.Outcome = outcomeOf(res.Disposition)
	if res.Outcome == BridgeAnswered {
		answer(res.EndedAt, otherLeg(ev))
		res.HangupCause = ev.Var("bridge_hangup_cause")
	} else {
		res.HangupCause = ev.Var("originate_failed_cause")
		switch {
		case afterHangup(ev):
			res.Outcome = BridgeCallerGone
		case res.Outcome == BridgeCallerGone:
			// ORIGINATOR_CANCEL with the caller still here: the phone
			// answered the INVITE with 487, i.e. it declined the call.
			res.Outcome = BridgeRejected
		}
	}
	if res.OtherUUID != "" {
		s.mu.Lock()
		s.bridgedLegs = append(s.bridgedLegs, res.OtherUUID)
		s.mu.Unlock()
	}
	if res.Outcome == BridgeCallerGone {
		return res, fmt.Errorf("bridge: %w", ErrHangup)
	}
	return res, nil
}

// disposition is this attempt's originate disposition from its completion;
// the variables of earlier attempts persist on the channel, but a bridge
// always sets these afresh.
func disposition(ev Event) string {
	for _, name := range []string{"originate_disposition", "originate_failed_cause", "DIALSTATUS"} {
		if v := ev.Var(name); v != "" {
			return v
		}
	}
	return ""
}

// bridgeEventHeaders are what bridgeEvent, otherLeg and eventTimeOr read
// of a CHANNEL_BRIDGE.
var bridgeEventHeaders = []string{
	"Event-Sequence", "Event-Date-Timestamp", "Other-Leg-Unique-ID", "Bridge-B-Unique-ID", "variable_bridge_uuid",
}

// otherLeg is the UUID of the leg an event says the caller is bridged to.
func otherLeg(ev Event) string {
	if id := ev.Get("Other-Leg-Unique-ID"); id != "" {
		return id
	}
	if id := ev.Get("Bridge-B-Unique-ID"); id != "" {
		return id
	}
	return ev.Var("bridge_uuid")
}

// bridgeEvent finds a CHANNEL_BRIDGE of the current attempt: delivered
// after the attempt began (index ≥ seen), raised after every completion
// seen before it (Event-Sequence > floor), and not to a leg of an earlier
// attempt. Event order is not to be trusted, hence all three.
func (s *Session) bridgeEvent(floor uint64, seen int) (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.bridges[seen:] {
		if seq := ev.Sequence(); seq != 0 && floor != 0 && seq <= floor {
			continue
		}
		if slices.Contains(s.bridgedLegs, otherLeg(ev)) {
			continue
		}
		return ev, true
	}
	return Event{}, false
}

// setCallerVars sets the caller's variables that are not set yet to these
// values, without waiting for the execution to complete: FreeSWITCH runs
// event-locked executions in order, so they are in place before the bridge
// starts.
func (s *Session) setCallerVars(want map[string]string) error {
	pending := make(map[string]string)
	for k, v := range want {
		if old, ok := s.callerVars[k]; !ok || old != v {
			pending[k] = v
		}
	}
	if len(pending) == 0 {
		return nil
	}
	for k := range pending {
		if !validName(k) {
			return fmt.Errorf("caller variable name %q: %w", k, ErrInvalidArgument)
		}
	}
	if arg, ok := multisetArg(pending); ok {
		if err := s.command(executeCommand{App: "multiset", Arg: arg}, "sendmsg multiset"); err != nil {
			return err
		}
	} else {
		for _, k := range slices.Sorted(maps.Keys(pending)) {
			if err := s.command(executeCommand{App: "set", Arg: k + "=" + pending[k]}, "sendmsg set"); err != nil {
				return err
			}
		}
	}
	if s.callerVars == nil {
		s.callerVars = make(map[string]string, len(pending))
	}
	maps.Copy(s.callerVars, pending)
	return nil
}
