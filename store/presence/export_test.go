package presence

import (
	"context"
	"fmt"
	"time"
)

// ReleaseWithEval releases a reservation through EVAL rather than EVALSHA,
// so a benchmark reading INFO commandstats counts only its reservations
// under evalsha.
func ReleaseWithEval(ctx context.Context, s *Store, agentID, callUUID string) error {
	return allScripts.release.Eval(ctx, s.rdb, s.keys, s.agentKey, s.requireReg,
		agentID, callUUID, "", 0, 0, 0, 0).Err()
}

// SetIdleSince overwrites an agent's idle-since, for tests that need two
// agents idle since the same millisecond. It does not touch the indexes.
func SetIdleSince(ctx context.Context, s *Store, agentID string, at time.Time) error {
	const script = `local v = cmsgpack.unpack(redis.call('GET', KEYS[1]))
v[8] = tonumber(ARGV[1])
redis.call('SET', KEYS[1], cmsgpack.pack(v))
return 1`
	return s.rdb.Eval(ctx, script, []string{s.agentKey + agentID}, at.UnixMilli()).Err()
}

// CheckIndexes verifies the offer indexes against the agents' presence:
// an agent in the idle index is offerable at its idle-since; an offerable
// agent is in the idle index or due in the pending one; an online agent
// that is not offerable is pending; an offline one is in neither. Call it
// while no expiry is due.
func CheckIndexes(ctx context.Context, s *Store) error {
	agents, err := s.All(ctx)
	if err != nil {
		return err
	}
	now, err := s.rdb.Time(ctx).Result()
	if err != nil {
		return err
	}
	idle, err := scores(ctx, s, s.keys[1])
	if err != nil {
		return err
	}
	pending, err := scores(ctx, s, s.keys[2])
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(agents))
	for _, a := range agents {
		known[a.ID] = true
		is, inIdle := idle[a.ID]
		due, inPending := pending[a.ID]
		switch {
		case inIdle && inPending:
			return fmt.Errorf("agent %s in both indexes", a.ID)
		case inIdle && !a.Offerable():
			return fmt.Errorf("agent %s in the idle index but %s/%s online=%t ready_at=%v", a.ID, a.Status, a.State, a.Online, a.ReadyAt)
		case inIdle && is != a.IdleSince.UnixMilli():
			return fmt.Errorf("agent %s idle index score %d, idle since %d", a.ID, is, a.IdleSince.UnixMilli())
		case a.Offerable() && !inIdle && !(inPending && due <= now.UnixMilli()):
			return fmt.Errorf("offerable agent %s missing from the idle index", a.ID)
		case a.Online && !a.Offerable() && !inPending:
			return fmt.Errorf("online busy agent %s (%s) not pending", a.ID, a.State)
		case !a.Online && (inIdle || inPending):
			return fmt.Errorf("offline agent %s indexed", a.ID)
		}
	}
	for id := range idle {
		if !known[id] {
			return fmt.Errorf("unknown agent %s in the idle index", id)
		}
	}
	for id := range pending {
		if !known[id] {
			return fmt.Errorf("unknown agent %s in the pending index", id)
		}
	}
	return nil
}

func scores(ctx context.Context, s *Store, key string) (map[string]int64, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(zs))
	for _, z := range zs {
		out[z.Member.(string)] = int64(z.Score)
	}
	return out, nil
}
