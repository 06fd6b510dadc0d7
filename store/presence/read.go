package presence

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// batchSize bounds the agents one read or reconcile script handles, so a
// large directory never blocks Redis for long.
const batchSize = 500

// Snapshot returns the presence of each of ids, keyed by ID. Agents
// presence has never heard of come back logged out, idle and unregistered.
func (s *Store) Snapshot(ctx context.Context, ids []string) (map[string]Agent, error) {
	agents, err := s.agents(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Agent, len(agents))
	for _, a := range agents {
		out[a.ID] = a
	}
	return out, nil
}

// All returns every agent presence has heard of, by ID.
func (s *Store) All(ctx context.Context) ([]Agent, error) {
	ids, err := s.knownIDs(ctx)
	if err != nil {
		return nil, err
	}
	return s.agents(ctx, ids)
}

// OnlineAmong returns the online agents among ids: the offerable ones
// first, longest idle first, then the busy ones, also by idle-since; ties
// keep the order of ids. The callback worker combines this with open-task
// counts it computes in PostgreSQL (see the package doc).
func (s *Store) OnlineAmong(ctx context.Context, ids []string) ([]Agent, error) {
	agents, err := s.agents(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []Agent
	seen := make(map[string]bool, len(ids))
	for _, a := range agents {
		if a.Online && !seen[a.ID] {
			seen[a.ID] = true
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b Agent) int {
		if a.Offerable() != b.Offerable() {
			if a.Offerable() {
				return -1
			}
			return 1
		}
		return a.IdleSince.Compare(b.IdleSince)
	})
	return out, nil
}

func (s *Store) knownIDs(ctx context.Context) ([]string, error) {
	var ids []string
	var cursor uint64
	for {
		page, next, err := s.rdb.SScan(ctx, s.keys[0], cursor, "", batchSize).Result()
		if err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		ids = append(ids, page...)
		if next == 0 {
			break
		}
		cursor = next
	}
	// SSCAN may return a member twice.
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// agents reads the presence of ids, in their order, a batch per script call.
func (s *Store) agents(ctx context.Context, ids []string) ([]Agent, error) {
	out := make([]Agent, 0, len(ids))
	for batch := range slices.Chunk(ids, batchSize) {
		var err error
		if out, err = s.appendBatch(ctx, out, batch); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) appendBatch(ctx context.Context, out []Agent, ids []string) ([]Agent, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	v, err := s.run(ctx, allScripts.snapshot, args...).Result()
	if err != nil {
		return nil, fmt.Errorf("read presence of %d agents: %w", len(ids), err)
	}
	r := newReply(v)
	for _, id := range ids {
		known := r.num() == 1
		a := Agent{
			ID:         id,
			Status:     Status(r.str()),
			State:      State(r.str()),
			Registered: r.str() == "1",
			Online:     r.num() == 1,
			StateSince: fromMillis(r.num()),
			IdleSince:  fromMillis(r.num()),
			CallUUID:   r.str(),
			External:   r.str() == "1",
			NoAnswers:  int(r.num()),
			Reason:     r.str(),
			ReadyAt:    fromMillis(r.num()),
			Expires:    fromMillis(r.num()),
		}
		if !known {
			a.StateSince, a.IdleSince = time.Time{}, time.Time{}
		}
		out = append(out, a)
	}
	if r.err != nil {
		return nil, fmt.Errorf("read presence of %d agents: %w", len(ids), r.err)
	}
	return out, nil
}
