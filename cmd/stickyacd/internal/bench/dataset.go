package bench

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/bench/synth"
	"github.com/stickyacd/stickyacd/routing/idnumber"
	"github.com/stickyacd/stickyacd/store"
)

// Sizes are the generated data set's dimensions; a data set already in the
// schema is reused when they and the ID-hash key match.
type Sizes struct {
	Agents    int `json:"agents"`
	TeamSize  int `json:"team_size"`
	Customers int `json:"customers"`
}

// datasetVersion changes when the generator does, so an older data set is
// rebuilt instead of half-matching the calls generated against it.
const datasetVersion = 1

// The generated directory. Agent i (from 0) is in team i/TeamSize, whose
// first member is its leader; every other member backs up the next one.
// Customer k belongs to agent k mod Agents, has the phone 13 + k and an ID
// number built from k.

func agentID(i int) string   { return fmt.Sprintf("A%06d", i) }
func extension(i int) string { return strconv.Itoa(2_000_000 + i) }
func teamID(i, size int) string {
	return fmt.Sprintf("T%05d", i/size)
}

func customerID(k int) string { return fmt.Sprintf("C%07d", k) }

// customerPhone is customer k's number, already in normalised form.
func customerPhone(k int) string { return fmt.Sprintf("13%09d", k) }

// customerIDNumber is customer k's 18-character ID number.
func customerIDNumber(k int) string { return synth.IDNumber(fmt.Sprintf("21%015d", k)) }

// freshPhone and freshIDNumber are unknown to every data set: run and seq
// make them unique across runs, so a number a previous run bound (step 02)
// or a customer it created (step 021) is never met again.
func freshPhone(run, seq int) string { return fmt.Sprintf("15%04d%05d", run%10_000, seq%100_000) }

func freshIDNumber(run, seq int) string {
	return synth.IDNumber(fmt.Sprintf("22%06d%09d", run%1_000_000, seq%1_000_000_000))
}

// backupOf is the backup of agent i, -1 for none: the next non-leader of
// the team, wrapping round; leaders and one-member teams have none.
func backupOf(i int, s Sizes) int {
	first := i / s.TeamSize * s.TeamSize
	size := min(s.TeamSize, s.Agents-first)
	if i == first || size < 3 {
		return -1
	}
	next := i + 1
	if next >= first+size {
		next = first + 1
	}
	return next
}

// firstAgentOf is customer k's first agent.
func firstAgentOf(k int, s Sizes) int { return k % s.Agents }

// dataset is the bench's schema: created, migrated and filled by the bench,
// never shared with a production schema.
type dataset struct {
	db     *store.DB
	hasher store.IDHasher
	log    *slog.Logger
}

// keyFingerprint identifies the ID-hash key without revealing it, so a
// data set hashed under another key is rebuilt.
func keyFingerprint(key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte("stickyacd bench data set"))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

const sqlDatasetTable = `
CREATE TABLE IF NOT EXISTS bench_dataset (
    version         int NOT NULL,
    agents          int NOT NULL,
    team_size       int NOT NULL,
    customers       int NOT NULL,
    key_fingerprint text NOT NULL,
    loaded_at       timestamptz NOT NULL DEFAULT now(),
    load_seconds    double precision NOT NULL,
    runs            int NOT NULL DEFAULT 0
)`

// matches reports whether the schema holds a data set of these sizes.
func (d *dataset) matches(ctx context.Context, s Sizes, fingerprint string) (bool, error) {
	var n int
	err := d.db.SQL().GetContext(ctx, &n, `
SELECT count(*) FROM bench_dataset
 WHERE version = $1 AND agents = $2 AND team_size = $3 AND customers = $4 AND key_fingerprint = $5`,
		datasetVersion, s.Agents, s.TeamSize, s.Customers, fingerprint)
	if err != nil {
		return false, fmt.Errorf("read bench_dataset: %w", err)
	}
	return n == 1, nil
}

// nextRun counts runs on the data set; the count keeps fresh numbers fresh.
func (d *dataset) nextRun(ctx context.Context) (int, error) {
	var run int
	if err := d.db.SQL().GetContext(ctx, &run, `UPDATE bench_dataset SET runs = runs + 1 RETURNING runs`); err != nil {
		return 0, fmt.Errorf("count bench run: %w", err)
	}
	return run, nil
}

// load fills an empty, migrated schema with COPY, one table at a time in
// one transaction, then records the sizes.
func (d *dataset) load(ctx context.Context, s Sizes, skills []string, fingerprint string) error {
	start := time.Now()
	tx, err := d.db.SQL().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("load data set: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// The backup and leader constraints are deferred: checked once, at commit.
	teams := (s.Agents + s.TeamSize - 1) / s.TeamSize
	steps := []struct {
		table string
		cols  []string
		rows  int
		row   func(i int) []any
	}{
		{"teams", []string{"id"}, teams, func(t int) []any { return []any{teamID(t*s.TeamSize, s.TeamSize)} }},
		{"agents", []string{"id", "name", "extension", "team_id", "role", "backup_agent_id"}, s.Agents, func(i int) []any {
			role := "agent"
			if i%s.TeamSize == 0 {
				role = "leader"
			}
			var backup any
			if b := backupOf(i, s); b >= 0 {
				backup = agentID(b)
			}
			return []any{agentID(i), "Agent " + strconv.Itoa(i), extension(i), teamID(i, s.TeamSize), role, backup}
		}},
		{"agent_skills", []string{"agent_id", "business_type"}, s.Agents * len(skills), func(j int) []any {
			return []any{agentID(j / len(skills)), skills[j%len(skills)]}
		}},
		{"customers", []string{"id", "name", "id_hash", "id_last4", "first_agent_id"}, s.Customers, func(k int) []any {
			n, err := idnumber.Parse(customerIDNumber(k))
			if err != nil {
				panic(err) // withCheck makes valid numbers
			}
			return []any{customerID(k), "Customer " + strconv.Itoa(k), d.hasher.Hash(n), n.Last4(), agentID(firstAgentOf(k, s))}
		}},
		{"customer_phones", []string{"phone", "customer_id"}, s.Customers, func(k int) []any {
			return []any{customerPhone(k), customerID(k)}
		}},
	}
	for _, st := range steps {
		t0 := time.Now()
		if err := copyRows(ctx, tx, st.table, st.cols, st.rows, st.row); err != nil {
			return err
		}
		d.log.Info("bench data set: table loaded", "table", st.table, "rows", st.rows, "seconds", time.Since(t0).Seconds())
	}
	if _, err := tx.ExecContext(ctx, sqlDatasetTable); err != nil {
		return fmt.Errorf("load data set: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM bench_dataset`); err != nil {
		return fmt.Errorf("load data set: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `
INSERT INTO bench_dataset (version, agents, team_size, customers, key_fingerprint, load_seconds)
VALUES ($1, $2, $3, $4, $5, $6)`, datasetVersion, s.Agents, s.TeamSize, s.Customers, fingerprint, time.Since(start).Seconds()); err != nil {
		return fmt.Errorf("load data set: %w", err)
	}
	// A running stickyacd on this schema (--addr) reloads its agents on the
	// notification an agents import sends (store's agents channel).
	if _, err := tx.ExecContext(ctx, `SELECT pg_notify('stickyacd_agents', current_schema())`); err != nil {
		return fmt.Errorf("load data set: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("load data set: commit: %w", err)
	}
	if _, err := d.db.SQL().ExecContext(ctx, `ANALYZE teams, agents, agent_skills, customers, customer_phones`); err != nil {
		return fmt.Errorf("analyze data set: %w", err)
	}
	return nil
}

// copyRows streams n rows into table with COPY FROM STDIN.
func copyRows(ctx context.Context, tx *sql.Tx, table string, cols []string, n int, row func(int) []any) error {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pq.QuoteIdentifier(c)
	}
	copyIn := "COPY " + pq.QuoteIdentifier(table) + " (" + strings.Join(quoted, ", ") + ") FROM STDIN"
	stmt, err := tx.PrepareContext(ctx, copyIn)
	if err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	for i := 0; i < n; i++ {
		if _, err := stmt.ExecContext(ctx, row(i)...); err != nil {
			_ = stmt.Close()
			return fmt.Errorf("copy into %s, row %d: %w", table, i, err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		_ = stmt.Close()
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	return nil
}

// closeLeftovers cancels the open tasks earlier runs left, so the callback
// worker starts each run with an empty backlog (callback_events is
// append-only, so tasks are closed rather than deleted).
func (d *dataset) closeLeftovers(ctx context.Context) (int64, error) {
	res, err := d.db.SQL().ExecContext(ctx, `
UPDATE callback_tasks SET status = 'cancelled', completed_at = now(), updated_at = now(),
       lease_owner = NULL, lease_until = NULL
 WHERE status IN ('pending', 'assigned', 'in_progress')`)
	if err != nil {
		return 0, fmt.Errorf("close earlier runs' tasks: %w", err)
	}
	return res.RowsAffected()
}
