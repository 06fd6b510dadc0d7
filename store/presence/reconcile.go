package presence

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Changes lists the agents Reconcile corrected, by kind.
type Changes struct {
	Registered   []string // FreeSWITCH has them registered; we did not
	Unregistered []string // we had them registered; FreeSWITCH does not
	Released     []string // held for one of our calls that no longer exists
	CallsStarted []string // in a call outside stickyacd that we had missed
	CallsEnded   []string // their outside call is gone: now wrapping up
}

// Empty says whether nothing was corrected.
func (c Changes) Empty() bool {
	return len(c.Registered)+len(c.Unregistered)+len(c.Released)+len(c.CallsStarted)+len(c.CallsEnded) == 0
}

// liveSetTTL outlives any Reconcile; it only matters if one dies midway.
const liveSetTTL = 5 * time.Minute

// Reconcile brings presence in line with what FreeSWITCH reports, rather
// than resetting everyone: registered says which agents' phones are
// registered (absent = not), liveCalls gives the live channel of agents on
// the phone, liveCallUUIDs every live call of ours. An agent reserved,
// ringing or in a call for one of our calls that no longer exists is
// released (from a call: to wrap-up); an agent found on the phone outside
// stickyacd is put in that call, and one whose outside call is gone goes to
// wrap-up. Agents whose state or registration changed within
// Options.ReconcileGrace are left alone, because FreeSWITCH answered before
// that change. It also repairs the offer indexes, so run it at start-up.
func (s *Store) Reconcile(ctx context.Context, registered map[string]bool, liveCalls map[string]string, liveCallUUIDs map[string]bool) (Changes, error) {
	ids, err := s.knownIDs(ctx)
	if err != nil {
		return Changes{}, fmt.Errorf("reconcile: %w", err)
	}
	for id := range registered {
		ids = append(ids, id)
	}
	for id := range liveCalls {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)

	liveKey := s.liveKey + uuid.NewString()
	if err := s.storeLiveCalls(ctx, liveKey, liveCallUUIDs); err != nil {
		return Changes{}, fmt.Errorf("reconcile: %w", err)
	}
	defer func() {
		// The set expires by itself should this fail.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := s.rdb.Del(ctx, liveKey).Err(); err != nil {
			s.log.WarnContext(ctx, "reconcile: drop live-call set", "err", err)
		}
	}()

	keys := append(slices.Clip(s.keys), liveKey)
	var ch Changes
	for batch := range slices.Chunk(ids, batchSize) {
		args := make([]any, 0, 3+3*len(batch))
		args = append(args, millis(s.opts.ReconcileGrace), millis(s.opts.WrapUp), millis(s.opts.MaxCallDuration))
		for _, id := range batch {
			if id == "" {
				return ch, fmt.Errorf("reconcile: empty agent ID: %w", ErrInvalid)
			}
			args = append(args, id, flag(registered[id]), liveCalls[id])
		}
		v, err := s.runKeys(ctx, allScripts.reconcile, keys, args...).Result()
		if err != nil {
			return ch, fmt.Errorf("reconcile %d agents: %w", len(batch), err)
		}
		r := newReply(v)
		for r.more() {
			id, kind := r.str(), r.str()
			switch kind {
			case "registered":
				ch.Registered = append(ch.Registered, id)
			case "unregistered":
				ch.Unregistered = append(ch.Unregistered, id)
			case "released":
				ch.Released = append(ch.Released, id)
			case "started":
				ch.CallsStarted = append(ch.CallsStarted, id)
			case "ended":
				ch.CallsEnded = append(ch.CallsEnded, id)
			default:
				r.err = fmt.Errorf("unknown change %q", kind)
			}
		}
		if r.err != nil {
			return ch, fmt.Errorf("reconcile %d agents: %w", len(batch), r.err)
		}
	}
	return ch, nil
}

func (s *Store) storeLiveCalls(ctx context.Context, key string, live map[string]bool) error {
	var uuids []any
	for u, ok := range live {
		if ok {
			uuids = append(uuids, u)
		}
	}
	if len(uuids) == 0 {
		return nil
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for batch := range slices.Chunk(uuids, 1000) {
			p.SAdd(ctx, key, batch...)
		}
		p.Expire(ctx, key, liveSetTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store %d live calls: %w", len(uuids), err)
	}
	return nil
}

// Forget drops everything presence holds about an agent deleted from the
// directory. A call holding the agent is not affected on FreeSWITCH's side.
func (s *Store) Forget(ctx context.Context, agentID string) error {
	if agentID == "" {
		return fmt.Errorf("forget agent: empty agent ID: %w", ErrInvalid)
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.agentKey+agentID)
		p.SRem(ctx, s.keys[0], agentID)
		p.ZRem(ctx, s.keys[1], agentID)
		p.ZRem(ctx, s.keys[2], agentID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget agent %s: %w", agentID, err)
	}
	return nil
}
