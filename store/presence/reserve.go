package presence

import (
	"context"
	"fmt"

	"github.com/stickyacd/stickyacd/routing"
)

// Reserve reserves for callUUID the first offerable agent of groups, in
// group order and longest idle first within a group (ties: the given
// order), in one script call. An agent listed in several groups is
// considered once, in the first. The reservation holds for
// Options.ReserveTTL unless Ringing or Answered follows. With nobody
// offerable it returns an error matching routing.ErrNoAgent, and the
// Reservation still lists why each candidate was passed over.
func (s *Store) Reserve(ctx context.Context, callUUID string, groups []routing.Group) (routing.Reservation, error) {
	if callUUID == "" {
		return routing.Reservation{}, fmt.Errorf("reserve: empty call UUID: %w", ErrInvalid)
	}
	args := []any{callUUID, millis(s.opts.ReserveTTL), len(groups)}
	for _, g := range groups {
		args = append(args, len(g.Agents))
		for _, id := range g.Agents {
			if id == "" {
				return routing.Reservation{}, fmt.Errorf("reserve for call %s, step %s: empty agent ID: %w", callUUID, g.Step, ErrInvalid)
			}
			args = append(args, id)
		}
	}
	v, err := s.run(ctx, allScripts.reserve, args...).Result()
	if err != nil {
		return routing.Reservation{}, fmt.Errorf("reserve for call %s: %w", callUUID, err)
	}
	r := newReply(v)
	var res routing.Reservation
	res.AgentID = r.str()
	matched := r.num()
	for r.more() {
		g := r.num()
		c := routing.Candidate{AgentID: r.str(), Result: routing.Result(r.str())}
		if g >= 1 && g <= int64(len(groups)) {
			c.Step = groups[g-1].Step
		}
		res.Skipped = append(res.Skipped, c)
	}
	if r.err != nil {
		return routing.Reservation{}, fmt.Errorf("reserve for call %s: %w", callUUID, r.err)
	}
	if res.AgentID == "" {
		return res, fmt.Errorf("reserve for call %s: %w", callUUID, routing.ErrNoAgent)
	}
	if matched < 1 || matched > int64(len(groups)) {
		return routing.Reservation{}, fmt.Errorf("reserve for call %s: script matched group %d of %d", callUUID, matched, len(groups))
	}
	res.Step = groups[matched-1].Step
	return res, nil
}

// ReserveAny reserves for callUUID the longest-idle offerable agent of all
// agents, leaving out exclude (step 021). It returns an error matching
// routing.ErrNoAgent when there is none.
func (s *Store) ReserveAny(ctx context.Context, callUUID string, exclude []string) (routing.Reservation, error) {
	if callUUID == "" {
		return routing.Reservation{}, fmt.Errorf("reserve any: empty call UUID: %w", ErrInvalid)
	}
	args := make([]any, 0, 2+len(exclude))
	args = append(args, callUUID, millis(s.opts.ReserveTTL))
	for _, id := range exclude {
		args = append(args, id)
	}
	id, err := s.run(ctx, allScripts.reserveAny, args...).Text()
	if err != nil {
		return routing.Reservation{}, fmt.Errorf("reserve any for call %s: %w", callUUID, err)
	}
	if id == "" {
		return routing.Reservation{}, fmt.Errorf("reserve any for call %s: %w", callUUID, routing.ErrNoAgent)
	}
	return routing.Reservation{AgentID: id, Step: routing.StepAnyAgent}, nil
}
