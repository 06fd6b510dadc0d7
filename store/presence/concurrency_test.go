package presence_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/store/presence"
	"github.com/stickyacd/stickyacd/store/presence/presencetest"
)

// holders is the test's own record of which call holds which agent, kept
// independently of Redis. A call records its hold only after Reserve
// returned and drops it before asking Redis to let go, so a recorded hold
// always lies inside the real one: finding an agent already recorded
// means two calls really held it at the same moment.
type holders struct {
	mu     sync.Mutex
	byID   map[string]string
	double atomic.Int64
}

func (h *holders) take(t *testing.T, agent, call string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if other, ok := h.byID[agent]; ok {
		h.double.Add(1)
		t.Errorf("agent %s reserved for %s while held by %s", agent, call, other)
	}
	h.byID[agent] = call
}

func (h *holders) drop(agent string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.byID, agent)
}

// TestConcurrentReservations: 64 goroutines make 100 000 reservations over
// random chains of 300 agents, with random releases, answers and hang-ups;
// no agent may ever be held by two calls. Nothing expires during the test
// (long TTLs), so every compare-and-set must also succeed.
func TestConcurrentReservations(t *testing.T) {
	t.Parallel()
	const (
		agents       = 300
		workers      = 64
		reservations = 100_000
	)
	s := presencetest.NewWithOptions(t, presence.Options{ReserveTTL: time.Hour})
	ctx := t.Context()
	ids := make([]string, agents)
	for i := range ids {
		ids[i] = fmt.Sprintf("agent-%03d", i)
		must(t, s.SetStatus(ctx, ids[i], presence.StatusAvailable, ""))
	}

	h := &holders{byID: make(map[string]string)}
	var reserved, none, calls atomic.Int64
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := w; i < reservations; i += workers {
				call := fmt.Sprintf("call-%d", calls.Add(1))
				var r routing.Reservation
				var err error
				if rng.IntN(10) == 0 {
					r, err = s.ReserveAny(ctx, call, pick(rng, ids, 3))
				} else {
					r, err = s.Reserve(ctx, call, randomChain(rng, ids))
				}
				if errors.Is(err, routing.ErrNoAgent) {
					none.Add(1)
					continue
				}
				if err != nil {
					return err
				}
				reserved.Add(1)
				h.take(t, r.AgentID, call)
				if err := attempt(ctx, s, rng, h, r.AgentID, call); err != nil {
					return fmt.Errorf("agent %s, call %s: %w", r.AgentID, call, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d reservations granted, %d found nobody", reserved.Load(), none.Load())
	if n := h.double.Load(); n != 0 {
		t.Fatalf("%d agents held by two calls at once", n)
	}
	if reserved.Load() < reservations/2 {
		t.Errorf("only %d of %d reservations granted", reserved.Load(), reservations)
	}
	all, err := s.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		if !a.Offerable() {
			t.Errorf("agent left held: %+v", a)
		}
	}
	checkIndexes(t, s)
}

// attempt plays one bridge attempt to the reserved agent and lets it go:
// most are released at once (no Ringing, to keep the test quick), the
// rest ring and fail, or are answered and hung up.
func attempt(ctx context.Context, s *presence.Store, rng *rand.Rand, h *holders, agent, call string) error {
	why := []routing.Result{"", routing.ResultNoAnswer, routing.ResultBusy, routing.ResultRejected, routing.ResultUnreachable}[rng.IntN(5)]
	switch rng.IntN(10) {
	case 0:
		if err := s.Ringing(ctx, agent, call); err != nil {
			return err
		}
		h.drop(agent)
		return s.Release(ctx, agent, call, why)
	case 1:
		if err := s.Answered(ctx, agent, call); err != nil {
			return err
		}
		h.drop(agent)
		return s.Hangup(ctx, agent, call)
	default:
		h.drop(agent)
		return s.Release(ctx, agent, call, why)
	}
}

// randomChain is [first] [backup] [a team of 3–10] [leader], drawn at
// random, duplicates allowed as a real directory may produce them.
func randomChain(rng *rand.Rand, ids []string) []routing.Group {
	return []routing.Group{
		{Step: routing.StepFirst, Agents: pick(rng, ids, 1)},
		{Step: routing.StepBackup, Agents: pick(rng, ids, 1)},
		{Step: routing.StepTeam, Agents: pick(rng, ids, 3+rng.IntN(8))},
		{Step: routing.StepLeader, Agents: pick(rng, ids, 1)},
	}
}

func pick(rng *rand.Rand, ids []string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = ids[rng.IntN(len(ids))]
	}
	return out
}
