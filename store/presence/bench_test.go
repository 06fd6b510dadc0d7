package presence_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/store/presence"
	"github.com/stickyacd/stickyacd/store/presence/presencetest"
)

// The reservation benchmarks compare one reservation at 50 and at 50 000
// agents; the two must stay within 20 % of each other. Each iteration makes
// one reservation at each size, in blocks that alternate between the two
// sizes, so load from other processes on this shared machine falls on both
// alike. Reported per size: the client round trip (µs/op@N) and the
// script's time inside Redis from INFO commandstats (server-µs/op@N), and
// the change from 50 to 50 000 agents (Δclient-%, Δserver-%). Releases go
// through EVAL, so evalsha counts only reservations; other clients running
// evalsha at the same time would blur the server figure, and the benchmark
// says so when it sees them.
//
//	go test -run '^$' -bench Reserve -benchtime 20000x ./store/presence/

const (
	smallSize = 50
	largeSize = 50_000
	blockSize = 50
)

func BenchmarkReserve(b *testing.B) {
	benchReservations(b, func(ctx context.Context, s *presence.Store, call string, chain []routing.Group) (routing.Reservation, error) {
		return s.Reserve(ctx, call, chain)
	})
}

func BenchmarkReserveAny(b *testing.B) {
	benchReservations(b, func(ctx context.Context, s *presence.Store, call string, chain []routing.Group) (routing.Reservation, error) {
		// Step 021 after a chain failed: leave out the first agent.
		return s.ReserveAny(ctx, call, chain[0].Agents)
	})
}

type reserveFunc func(ctx context.Context, s *presence.Store, call string, chain []routing.Group) (routing.Reservation, error)

type benchSide struct {
	size   int
	store  *presence.Store
	chain  []routing.Group
	client time.Duration
	server cmdStats
	done   int
}

func benchReservations(b *testing.B, reserve reserveFunc) {
	ctx := context.Background()
	rdb := presencetest.Client(b)
	sides := []*benchSide{{size: smallSize}, {size: largeSize}}
	for _, sd := range sides {
		sd.store = presencetest.NewWithOptions(b, presence.Options{ReserveTTL: time.Hour})
		sd.chain = populate(b, sd.store, sd.size)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i += blockSize {
		n := min(blockSize, b.N-i)
		for _, sd := range sides {
			before := evalshaStats(b, rdb)
			for j := range n {
				call := fmt.Sprintf("bench-%d", i+j)
				start := time.Now()
				r, err := reserve(ctx, sd.store, call, sd.chain)
				sd.client += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if err := presence.ReleaseWithEval(ctx, sd.store, r.AgentID, call); err != nil {
					b.Fatal(err)
				}
			}
			after := evalshaStats(b, rdb)
			sd.server.calls += after.calls - before.calls
			sd.server.usec += after.usec - before.usec
			sd.done += n
		}
	}
	b.StopTimer()
	var client, server [2]float64
	for k, sd := range sides {
		client[k] = float64(sd.client.Microseconds()) / float64(sd.done)
		server[k] = float64(sd.server.usec) / float64(max(sd.server.calls, 1))
		b.ReportMetric(client[k], fmt.Sprintf("µs/op@%d", sd.size))
		b.ReportMetric(server[k], fmt.Sprintf("server-µs/op@%d", sd.size))
		if sd.server.calls != int64(sd.done) {
			b.Logf("Redis ran %d evalsha for %d reservations at %d agents: other clients blur the server figure", sd.server.calls, sd.done, sd.size)
		}
	}
	b.ReportMetric(change(client[0], client[1]), "Δclient-%")
	b.ReportMetric(change(server[0], server[1]), "Δserver-%")
}

func change(from, to float64) float64 { return (to - from) / from * 100 }

// populate makes n agents available, a tenth of them in calls, and
// returns a typical chain over them: first agent busy, backup on break,
// a team of ten (the first four busy), a leader.
func populate(b *testing.B, s *presence.Store, n int) []routing.Group {
	b.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("agent-%05d", i)
	}
	var g errgroup.Group
	g.SetLimit(16)
	var mu sync.Mutex
	var busy []string
	for i, id := range ids {
		g.Go(func() error {
			if err := s.SetStatus(ctx, id, presence.StatusAvailable, ""); err != nil {
				return err
			}
			if i%10 != 0 {
				return nil
			}
			mu.Lock()
			busy = append(busy, id)
			mu.Unlock()
			call := "busy-" + id
			if _, err := s.Reserve(ctx, call, []routing.Group{{Step: routing.StepFirst, Agents: []string{id}}}); err != nil {
				return err
			}
			return s.Answered(ctx, id, call)
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	must(b, s.SetStatus(ctx, ids[1], presence.StatusBreak, ""))
	team := []string{ids[10], ids[20], ids[30], ids[40]} // busy
	team = append(team, ids[2:8]...)
	return []routing.Group{
		{Step: routing.StepFirst, Agents: []string{ids[0]}},
		{Step: routing.StepBackup, Agents: []string{ids[1]}},
		{Step: routing.StepTeam, Agents: team},
		{Step: routing.StepLeader, Agents: []string{ids[8]}},
	}
}

type cmdStats struct{ calls, usec int64 }

// evalshaStats reads the evalsha line of INFO commandstats:
// cmdstat_evalsha:calls=N,usec=U,usec_per_call=…
func evalshaStats(b *testing.B, rdb redis.UniversalClient) cmdStats {
	b.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatalf("INFO commandstats from Redis at %s: %v", presencetest.Addr(), err)
	}
	var st cmdStats
	for line := range strings.SplitSeq(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:")
		if !ok {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(field, "=")
			switch k {
			case "calls":
				st.calls, _ = strconv.ParseInt(v, 10, 64)
			case "usec":
				st.usec, _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return st
}
