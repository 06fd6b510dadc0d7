package store_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/store"
)

// seedScale fills the schema with agents in teams of 10 (one leader, eight
// with a backup) and two customers per agent, each with one phone.
func seedScale(b *testing.B, db *store.DB, agents int) {
	b.Helper()
	for _, stmt := range []string{
		`INSERT INTO teams (id) SELECT 'T' || g FROM generate_series(0, ($1::int - 1) / 10) g`,
		`INSERT INTO agents (id, name, extension, team_id, role)
		 SELECT 'A' || g, 'Agent ' || g, (100000 + g)::text, 'T' || (g / 10),
		        CASE WHEN g % 10 = 0 THEN 'leader' ELSE 'agent' END
		   FROM generate_series(0, $1::int - 1) g`,
		`UPDATE agents SET backup_agent_id = 'A' || (substr(id, 2)::int + 1)
		  WHERE substr(id, 2)::int % 10 BETWEEN 1 AND 8 AND substr(id, 2)::int + 1 < $1::int`,
		`INSERT INTO customers (id, name, first_agent_id)
		 SELECT 'C' || g, 'Customer ' || g, 'A' || (g % $1::int) FROM generate_series(0, 2 * $1::int - 1) g`,
		`INSERT INTO customer_phones (phone, customer_id)
		 SELECT (13000000000 + g)::text, 'C' || g FROM generate_series(0, 2 * $1::int - 1) g`,
	} {
		if _, err := db.SQL().ExecContext(context.Background(), stmt, agents); err != nil {
			b.Fatalf("seed %d agents: %v", agents, err)
		}
	}
	_, err := db.SQL().ExecContext(context.Background(),
		`INSERT INTO agent_skills (agent_id, business_type) SELECT id, 'loan' FROM agents; ANALYZE`)
	if err != nil {
		b.Fatalf("seed %d agents: %v", agents, err)
	}
}

// scaleRepo is a Repo over a schema seeded with that many agents.
func scaleRepo(b *testing.B, agents int) *store.Repo {
	b.Helper()
	f := newFixture(b)
	seedScale(b, f.db, agents)
	return f.repo(b)
}

// BenchmarkDecision is the directory's share of a known caller's routing
// decision: the customer by caller ID, then the chain of their first agent.
// p50-ms and p99-ms are per decision; compare them across agent counts.
func BenchmarkDecision(b *testing.B) {
	benchLatency(b, func(ctx context.Context, r *store.Repo, phone string) error {
		c, err := r.CustomerByPhone(ctx, phone)
		if err != nil {
			return err
		}
		chain, err := r.Chain(ctx, c.FirstAgentID)
		if err != nil {
			return err
		}
		if chain.First.ID != c.FirstAgentID {
			return fmt.Errorf("chain of %s starts with %s", c.FirstAgentID, chain.First.ID)
		}
		return nil
	})
}

// BenchmarkCustomerByPhone is step 01's look-up alone: one prepared
// statement, one round trip.
func BenchmarkCustomerByPhone(b *testing.B) {
	benchLatency(b, func(ctx context.Context, r *store.Repo, phone string) error {
		_, err := r.CustomerByPhone(ctx, phone)
		return err
	})
}

// benchLatency runs op with known callers' phones at 50 and 50 000 agents
// (twice as many customers) and reports its p50 and p99.
func benchLatency(b *testing.B, op func(ctx context.Context, r *store.Repo, phone string) error) {
	for _, agents := range []int{50, 50_000} {
		b.Run(fmt.Sprintf("agents=%d", agents), func(b *testing.B) {
			r := scaleRepo(b, agents)
			ctx := context.Background()
			customers := 2 * agents
			took := make([]time.Duration, 0, 100_000)
			i := 0
			for b.Loop() {
				// A stride through the customers so look-ups do not repeat.
				phone := strconv.Itoa(13000000000 + (i*7919)%customers)
				i++
				start := time.Now()
				if err := op(ctx, r, phone); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2])/float64(time.Millisecond), "p50-ms")
			b.ReportMetric(float64(took[len(took)*99/100])/float64(time.Millisecond), "p99-ms")
		})
	}
}

// BenchmarkChain is the in-memory part alone.
func BenchmarkChain(b *testing.B) {
	for _, agents := range []int{50, 50_000} {
		b.Run(fmt.Sprintf("agents=%d", agents), func(b *testing.B) {
			r := scaleRepo(b, agents)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if _, err := r.Chain(ctx, "A"+strconv.Itoa(i%agents)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
