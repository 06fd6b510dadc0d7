package presence

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/stickyacd/stickyacd/routing"
)

// Results of the transition scripts.
const (
	notOwner    = 0
	doneOnBreak = 2 // released, and put on break for too many no-answers
)

// Ringing marks the agent reserved for callUUID as ringing and renews the
// hold for Options.ReserveTTL.
func (s *Store) Ringing(ctx context.Context, agentID, callUUID string) error {
	_, err := s.transition(ctx, "ringing", allScripts.ringing, agentID, callUUID, millis(s.opts.ReserveTTL))
	return err
}

// Answered puts the agent reserved or ringing for callUUID in that call and
// clears its no-answer count. Repeating it changes nothing.
func (s *Store) Answered(ctx context.Context, agentID, callUUID string) error {
	_, err := s.transition(ctx, "answered", allScripts.answered, agentID, callUUID, millis(s.opts.MaxCallDuration))
	return err
}

// Release gives back an agent reserved or ringing for callUUID. why is the
// failed attempt's result: no_answer counts towards Options.MaxNoAnswer and
// waits Options.NoAnswerDelay, busy waits Options.BusyDelay, rejected waits
// Options.RejectDelay; unreachable (the phone is not registered, not the
// agent's fault) and "" (reservation unused) carry no penalty. The agent
// keeps its idle-since: a failed offer is not work done.
func (s *Store) Release(ctx context.Context, agentID, callUUID string, why routing.Result) error {
	switch why {
	case "", routing.ResultNoAnswer, routing.ResultBusy, routing.ResultRejected, routing.ResultUnreachable:
	default:
		return fmt.Errorf("release agent %s from call %s: reason %q: %w", agentID, callUUID, why, ErrInvalid)
	}
	code, err := s.transition(ctx, "release", allScripts.release, agentID, callUUID, string(why),
		s.opts.MaxNoAnswer, millis(s.opts.NoAnswerDelay), millis(s.opts.BusyDelay), millis(s.opts.RejectDelay))
	if err != nil {
		return err
	}
	if code == doneOnBreak {
		s.log.InfoContext(ctx, "agent put on break after consecutive no-answers",
			"agent_id", agentID, "call_uuid", callUUID, "max_no_answer", s.opts.MaxNoAnswer)
	}
	return nil
}

// Hangup ends the agent's call with callUUID: wrap-up for Options.WrapUp,
// then idle.
func (s *Store) Hangup(ctx context.Context, agentID, callUUID string) error {
	_, err := s.transition(ctx, "hang up", allScripts.hangup, agentID, callUUID, millis(s.opts.WrapUp))
	return err
}

// ExternalCall records a call the agent takes or makes outside stickyacd,
// from the agent's channel events. A start moves an idle or wrapping-up
// agent to in_call, owned by channelUUID; the end of that channel moves it
// to wrap-up. An agent reserved, ringing or in a call for one of our calls
// (whose own agent leg raises these events too) is never taken: that, and
// an end for another channel, return ErrNotOwner.
func (s *Store) ExternalCall(ctx context.Context, agentID, channelUUID string, active bool) error {
	op := "outside call start"
	if !active {
		op = "outside call end"
	}
	_, err := s.transition(ctx, op, allScripts.external, agentID, channelUUID, flag(active),
		millis(s.opts.MaxCallDuration), millis(s.opts.WrapUp))
	return err
}

// SetStatus sets the agent's status, with a reason such as "lunch" or
// "admin" (may be empty). Going to available clears the no-answer count
// and, for an idle agent coming back, starts a fresh idle period. A call in
// progress is not affected: a status other than available only stops new
// offers.
func (s *Store) SetStatus(ctx context.Context, agentID string, st Status, reason string) error {
	if agentID == "" {
		return fmt.Errorf("set status %s: empty agent ID: %w", st, ErrInvalid)
	}
	switch st {
	case StatusLoggedOut, StatusAvailable, StatusBreak:
	default:
		return fmt.Errorf("set agent %s status %q: %w", agentID, st, ErrInvalid)
	}
	if err := s.run(ctx, allScripts.status, agentID, string(st), reason).Err(); err != nil {
		return fmt.Errorf("set agent %s status %s: %w", agentID, st, err)
	}
	return nil
}

// SetRegistered records whether the agent's phone is registered.
func (s *Store) SetRegistered(ctx context.Context, agentID string, registered bool) error {
	if agentID == "" {
		return fmt.Errorf("set registered: empty agent ID: %w", ErrInvalid)
	}
	if err := s.run(ctx, allScripts.registered, agentID, flag(registered)).Err(); err != nil {
		return fmt.Errorf("set agent %s registered=%t: %w", agentID, registered, err)
	}
	return nil
}

// transition runs a compare-and-set script for agentID and callUUID (or
// channel UUID) and maps its "not owner" reply to ErrNotOwner; errors say
// op, the agent and the call.
func (s *Store) transition(ctx context.Context, op string, sc *redis.Script, agentID, callUUID string, args ...any) (int64, error) {
	if agentID == "" || callUUID == "" {
		return 0, fmt.Errorf("%s agent %q, call %q: empty ID: %w", op, agentID, callUUID, ErrInvalid)
	}
	code, err := s.run(ctx, sc, append([]any{agentID, callUUID}, args...)...).Int64()
	if err == nil && code == notOwner {
		err = ErrNotOwner
	}
	if err != nil {
		return code, fmt.Errorf("%s agent %s, call %s: %w", op, agentID, callUUID, err)
	}
	return code, nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
