package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/routing/callerid"
)

// Counts is what an import did, per row of the file.
type Counts struct {
	Inserted  int
	Updated   int
	Unchanged int
}

// Importer loads the agents and customers data files (DESIGN.md §4.2).
// Each file is one transaction: every row is checked, against the other
// rows and the database, before anything is written, and the first bad row
// (by line) rejects the whole file with an *ImportError. Importing the same
// file again changes nothing and counts every row unchanged.
type Importer struct {
	db     *DB
	hasher IDHasher
	phones callerid.Normalizer
}

// NewImporter returns an importer hashing ID numbers with h and normalising
// phones with phones (the same settings the call flow uses).
func NewImporter(db *DB, h IDHasher, phones callerid.Normalizer) *Importer {
	return &Importer{db: db, hasher: h, phones: phones}
}

// Imports of one schema take turns, so each validates against the rows the
// other wrote.
const sqlImportLock = `SELECT pg_advisory_xact_lock(hashtextextended('stickyacd_import:' || current_schema(), 0))`

const (
	sqlConfiguredCodes = `SELECT code FROM business_types WHERE digit IS NOT NULL`
	// Every stored agent a file's rows can collide with or refer to.
	sqlAgentsRelated = `
SELECT a.id, a.name, a.extension, a.team_id, a.role, coalesce(a.backup_agent_id, '') AS backup_agent_id,
       coalesce(array_agg(s.business_type ORDER BY s.business_type)
                FILTER (WHERE s.business_type IS NOT NULL), '{}') AS skills
  FROM agents a LEFT JOIN agent_skills s ON s.agent_id = a.id
 WHERE a.id = ANY($1) OR a.extension = ANY($2) OR (a.role = 'leader' AND a.team_id = ANY($3))
 GROUP BY a.id`
	sqlInsertTeams  = `INSERT INTO teams (id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`
	sqlUpsertAgents = `
INSERT INTO agents (id, name, extension, team_id, role, backup_agent_id)
SELECT id, name, ext, team, role, NULLIF(backup, '')
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
       AS u(id, name, ext, team, role, backup)
ON CONFLICT (id) DO UPDATE
   SET name = EXCLUDED.name, extension = EXCLUDED.extension, team_id = EXCLUDED.team_id,
       role = EXCLUDED.role, backup_agent_id = EXCLUDED.backup_agent_id, updated_at = now()`
	sqlDeleteSkills = `DELETE FROM agent_skills WHERE agent_id = ANY($1)`
	sqlInsertSkills = `INSERT INTO agent_skills (agent_id, business_type) SELECT * FROM unnest($1::text[], $2::text[])`
)

// ImportAgents upserts the agents of an agents file; name is the file's
// path or name, reported as its base name. Agents not in the file are left
// alone. An agent may name as backup one defined further down. A team
// exists once a leader row names it, in this file or in the database, which
// catches misspelt teams. After the commit a NOTIFY tells running
// instances to reload their agents.
func (im *Importer) ImportAgents(ctx context.Context, r io.Reader, name string) (Counts, error) {
	file := filepath.Base(name)
	rows, err := parseAgents(r, file)
	if err != nil {
		return Counts{}, err
	}
	var counts Counts
	err = im.inImportTx(ctx, file, func(tx *sqlx.Tx) error {
		var codes []string
		if err := tx.SelectContext(ctx, &codes, sqlConfiguredCodes); err != nil {
			return fmt.Errorf("read business types: %w", err)
		}
		var ids, exts, teams []string
		for _, a := range rows {
			ids = append(ids, a.id)
			if a.backupID != "" {
				ids = append(ids, a.backupID)
			}
			exts = append(exts, a.extension)
			teams = append(teams, a.team)
		}
		var stored []agentRow
		if err := tx.SelectContext(ctx, &stored, sqlAgentsRelated,
			pq.StringArray(ids), pq.StringArray(exts), pq.StringArray(teams)); err != nil {
			return fmt.Errorf("read stored agents: %w", err)
		}
		changed, c, err := checkAgents(file, rows, stored, codes)
		if err != nil {
			return err
		}
		counts = c
		return writeAgents(ctx, tx, rows, changed)
	})
	if err != nil {
		return Counts{}, err
	}
	return counts, nil
}

// inImportTx runs fn in one transaction holding the import lock.
func (im *Importer) inImportTx(ctx context.Context, file string, fn func(tx *sqlx.Tx) error) error {
	err := im.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, sqlImportLock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		return fn(tx)
	})
	if err != nil {
		return importFailed(file, err)
	}
	return nil
}

// importFailed keeps a rejected row's error as it is ("agents.csv:7: …")
// and says which import any other failure stopped.
func importFailed(file string, err error) error {
	var rowErr *ImportError
	if errors.As(err, &rowErr) {
		return err
	}
	return fmt.Errorf("import %s: %w", file, err)
}

// agentState is an agent as it will be once the file is applied; line is 0
// for one only in the database.
type agentState struct {
	line      int
	extension string
	team      string
	role      routing.Role
}

// checkAgents validates the file's rows against each other and the stored
// agents, reporting the first bad line, and returns the rows that change
// something with the counts.
func checkAgents(file string, rows []agentLine, stored []agentRow, codes []string) ([]agentLine, Counts, error) {
	fail := func(line int, format string, args ...any) error {
		return &ImportError{File: file, Line: line, Reason: fmt.Sprintf(format, args...)}
	}
	before := make(map[string]agentRow, len(stored))
	after := make(map[string]agentState, len(stored)+len(rows))
	for _, s := range stored {
		before[s.ID] = s
		after[s.ID] = agentState{extension: s.Extension, team: s.Team, role: routing.Role(s.Role)}
	}
	firstLine := map[string]int{}
	for _, a := range rows {
		if _, dup := firstLine[a.id]; !dup {
			firstLine[a.id] = a.line
		}
		after[a.id] = agentState{line: a.line, extension: a.extension, team: a.team, role: a.role}
	}
	byExtension := map[string][]string{}
	leaders := map[string][]string{}
	for id, s := range after {
		byExtension[s.extension] = append(byExtension[s.extension], id)
		if s.role == routing.RoleLeader {
			leaders[s.team] = append(leaders[s.team], id)
		}
	}
	// clash finds another agent holding what the row at line holds. A clash
	// with a later line is reported at that line, so each is reported once.
	clash := func(self string, line int, holders []string) (string, agentState, bool) {
		for _, id := range holders {
			if other := after[id]; id != self && other.line < line {
				return id, other, true
			}
		}
		return "", agentState{}, false
	}
	where := func(s agentState) string {
		if s.line == 0 {
			return "in the database"
		}
		return fmt.Sprintf("at line %d", s.line)
	}
	var changed []agentLine
	var counts Counts
	for _, a := range rows {
		if l := firstLine[a.id]; l != a.line {
			return nil, Counts{}, fail(a.line, "agent %s is already defined at line %d", a.id, l)
		}
		for _, code := range a.skills {
			if !slices.Contains(codes, code) {
				return nil, Counts{}, fail(a.line, "skill %q is not a configured business type (configured: %v)", code, codes)
			}
		}
		if id, other, ok := clash(a.id, a.line, byExtension[a.extension]); ok {
			return nil, Counts{}, fail(a.line, "extension %s is already agent %s's %s", a.extension, id, where(other))
		}
		if len(leaders[a.team]) == 0 {
			return nil, Counts{}, fail(a.line, "unknown team %q (no leader row in this file or the database)", a.team)
		}
		if a.role == routing.RoleLeader {
			if id, other, ok := clash(a.id, a.line, leaders[a.team]); ok {
				return nil, Counts{}, fail(a.line, "team %s already has leader %s %s", a.team, id, where(other))
			}
		}
		if a.backupID != "" {
			if _, ok := after[a.backupID]; !ok {
				return nil, Counts{}, fail(a.line, "unknown backup agent %s (not in this file or the database)", a.backupID)
			}
		}
		old, exists := before[a.id]
		switch {
		case !exists:
			counts.Inserted++
			changed = append(changed, a)
		case old.Name != a.name || old.Extension != a.extension || old.Team != a.team ||
			old.Role != string(a.role) || old.BackupID != a.backupID || !slices.Equal([]string(old.Skills), a.skills):
			counts.Updated++
			changed = append(changed, a)
		default:
			counts.Unchanged++
		}
	}
	return changed, counts, nil
}

func writeAgents(ctx context.Context, tx *sqlx.Tx, rows, changed []agentLine) error {
	var teams []string
	for _, a := range rows {
		if !slices.Contains(teams, a.team) {
			teams = append(teams, a.team)
		}
	}
	if _, err := tx.ExecContext(ctx, sqlInsertTeams, pq.StringArray(teams)); err != nil {
		return fmt.Errorf("write teams: %w", err)
	}
	if len(changed) > 0 {
		var ids, names, exts, agentTeams, roles, backups, skillAgents, skills []string
		for _, a := range changed {
			ids = append(ids, a.id)
			names = append(names, a.name)
			exts = append(exts, a.extension)
			agentTeams = append(agentTeams, a.team)
			roles = append(roles, string(a.role))
			backups = append(backups, a.backupID)
			for _, s := range a.skills {
				skillAgents = append(skillAgents, a.id)
				skills = append(skills, s)
			}
		}
		if _, err := tx.ExecContext(ctx, sqlUpsertAgents, pq.StringArray(ids), pq.StringArray(names),
			pq.StringArray(exts), pq.StringArray(agentTeams), pq.StringArray(roles), pq.StringArray(backups)); err != nil {
			return fmt.Errorf("write agents: %w", err)
		}
		if _, err := tx.ExecContext(ctx, sqlDeleteSkills, pq.StringArray(ids)); err != nil {
			return fmt.Errorf("write skills: %w", err)
		}
		if _, err := tx.ExecContext(ctx, sqlInsertSkills, pq.StringArray(skillAgents), pq.StringArray(skills)); err != nil {
			return fmt.Errorf("write skills: %w", err)
		}
	}
	// Delivered at commit, and only if the commit succeeds.
	if _, err := tx.ExecContext(ctx, sqlNotifyAgents); err != nil {
		return fmt.Errorf("notify agents changed: %w", err)
	}
	return nil
}

const (
	sqlCustomersRelated = `
SELECT id, name, coalesce(id_hash, '') AS id_hash, coalesce(id_last4, '') AS id_last4,
       coalesce(first_agent_id, '') AS first_agent_id
  FROM customers WHERE id = ANY($1) OR id_hash = ANY($2)`
	sqlPhoneOwners     = `SELECT phone, customer_id FROM customer_phones WHERE phone = ANY($1)`
	sqlExistingAgents  = `SELECT id FROM agents WHERE id = ANY($1)`
	sqlUpsertCustomers = `
INSERT INTO customers (id, name, id_hash, id_last4, first_agent_id)
SELECT id, name, NULLIF(hash, ''), NULLIF(last4, ''), NULLIF(agent, '')
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(id, name, hash, last4, agent)
ON CONFLICT (id) DO UPDATE
   SET name = EXCLUDED.name,
       id_hash = coalesce(EXCLUDED.id_hash, customers.id_hash),
       id_last4 = coalesce(EXCLUDED.id_last4, customers.id_last4),
       first_agent_id = coalesce(EXCLUDED.first_agent_id, customers.first_agent_id),
       updated_at = now()`
	sqlInsertPhones = `INSERT INTO customer_phones (phone, customer_id) SELECT * FROM unnest($1::text[], $2::text[])`
	sqlAuditImport  = `
INSERT INTO phone_bindings (phone, customer_id, how)
SELECT phone, customer, '` + boundByImport + `' FROM unnest($1::text[], $2::text[]) AS u(phone, customer)`
)

type storedCustomer struct {
	ID           string `db:"id"`
	Name         string `db:"name"`
	IDHash       string `db:"id_hash"`
	IDLast4      string `db:"id_last4"`
	FirstAgentID string `db:"first_agent_id"`
}

type phoneOwner struct {
	Phone      string `db:"phone"`
	CustomerID string `db:"customer_id"`
}

// ImportCustomers upserts the customers of a customers file; name is the
// file's path or name, reported as its base name. ID numbers are stored
// only as the keyed hash and last 4. Empty optional fields (id_number,
// first_agent_id) leave stored values alone, so a re-import does not undo
// what calls learnt, and phones are only ever added, never removed: the IVR
// binds numbers the file does not know of (DESIGN.md §1 step 02).
func (im *Importer) ImportCustomers(ctx context.Context, r io.Reader, name string) (Counts, error) {
	file := filepath.Base(name)
	rows, err := parseCustomers(r, file, im.hasher, im.phones)
	if err != nil {
		return Counts{}, err
	}
	var counts Counts
	err = im.inImportTx(ctx, file, func(tx *sqlx.Tx) error {
		var ids, hashes, phones, agents []string
		for _, c := range rows {
			ids = append(ids, c.id)
			if c.idHash != "" {
				hashes = append(hashes, c.idHash)
			}
			phones = append(phones, c.phones...)
			if c.firstAgentID != "" {
				agents = append(agents, c.firstAgentID)
			}
		}
		var stored []storedCustomer
		if err := tx.SelectContext(ctx, &stored, sqlCustomersRelated, pq.StringArray(ids), pq.StringArray(hashes)); err != nil {
			return fmt.Errorf("read stored customers: %w", err)
		}
		var owners []phoneOwner
		if err := tx.SelectContext(ctx, &owners, sqlPhoneOwners, pq.StringArray(phones)); err != nil {
			return fmt.Errorf("read stored phones: %w", err)
		}
		var knownAgents []string
		if err := tx.SelectContext(ctx, &knownAgents, sqlExistingAgents, pq.StringArray(agents)); err != nil {
			return fmt.Errorf("read stored agents: %w", err)
		}
		plan, err := checkCustomers(file, rows, stored, owners, knownAgents)
		if err != nil {
			return err
		}
		counts = plan.counts
		return writeCustomers(ctx, tx, plan)
	})
	if err != nil {
		return Counts{}, err
	}
	return counts, nil
}

// customerPlan is what a valid customers file writes.
type customerPlan struct {
	upsert    []customerLine
	newPhones []phoneOwner
	counts    Counts
}

// checkCustomers validates the file's rows against each other and the
// stored customers, reporting the first bad line, and plans the writes.
func checkCustomers(file string, rows []customerLine, stored []storedCustomer, owners []phoneOwner, knownAgents []string) (customerPlan, error) {
	fail := func(line int, format string, args ...any) error {
		return &ImportError{File: file, Line: line, Reason: fmt.Sprintf(format, args...)}
	}
	before := make(map[string]storedCustomer, len(stored))
	// The ID number each customer will have, and who has it.
	hashOf := map[string]string{}
	for _, s := range stored {
		before[s.ID] = s
		hashOf[s.ID] = s.IDHash
	}
	firstLine := map[string]int{}
	lineOf := map[string]int{}
	for _, c := range rows {
		if _, dup := firstLine[c.id]; !dup {
			firstLine[c.id] = c.line
		}
		lineOf[c.id] = c.line
		if c.idHash != "" {
			hashOf[c.id] = c.idHash
		}
	}
	holders := map[string][]string{}
	for id, h := range hashOf {
		if h != "" {
			holders[h] = append(holders[h], id)
		}
	}
	slices.Sort(knownAgents)
	owner := make(map[string]string, len(owners))
	for _, o := range owners {
		owner[o.Phone] = o.CustomerID
	}
	listedAt := map[string]int{} // phone → line that listed it
	listedBy := map[string]string{}
	var plan customerPlan
	for _, c := range rows {
		if l := firstLine[c.id]; l != c.line {
			return plan, fail(c.line, "customer %s is already defined at line %d", c.id, l)
		}
		if c.firstAgentID != "" {
			if _, ok := slices.BinarySearch(knownAgents, c.firstAgentID); !ok {
				return plan, fail(c.line, "unknown first agent %s (import the agents first)", c.firstAgentID)
			}
		}
		if c.idHash != "" {
			for _, id := range holders[c.idHash] {
				if id == c.id {
					continue
				}
				if l, inFile := lineOf[id]; !inFile {
					return plan, fail(c.line, "id_number already belongs to customer %s in the database", id)
				} else if l < c.line {
					return plan, fail(c.line, "id_number is the same as customer %s's at line %d", id, l)
				}
			}
		}
		var added []string
		for _, p := range c.phones {
			if l, ok := listedAt[p]; ok && listedBy[p] != c.id {
				return plan, fail(c.line, "phone %s is already listed for customer %s at line %d", p, listedBy[p], l)
			}
			listedAt[p], listedBy[p] = c.line, c.id
			switch o, ok := owner[p]; {
			case !ok:
				added = append(added, p)
			case o != c.id:
				return plan, fail(c.line, "phone %s belongs to customer %s in the database", p, o)
			}
		}
		for _, p := range added {
			plan.newPhones = append(plan.newPhones, phoneOwner{Phone: p, CustomerID: c.id})
		}
		old, exists := before[c.id]
		rowChanged := !exists || old.Name != c.name ||
			c.idHash != "" && (old.IDHash != c.idHash || old.IDLast4 != c.idLast4) ||
			c.firstAgentID != "" && old.FirstAgentID != c.firstAgentID
		if rowChanged {
			plan.upsert = append(plan.upsert, c)
		}
		switch {
		case !exists:
			plan.counts.Inserted++
		case rowChanged || len(added) > 0:
			plan.counts.Updated++
		default:
			plan.counts.Unchanged++
		}
	}
	return plan, nil
}

func writeCustomers(ctx context.Context, tx *sqlx.Tx, plan customerPlan) error {
	if len(plan.upsert) > 0 {
		var ids, names, hashes, last4s, agents []string
		for _, c := range plan.upsert {
			ids = append(ids, c.id)
			names = append(names, c.name)
			hashes = append(hashes, c.idHash)
			last4s = append(last4s, c.idLast4)
			agents = append(agents, c.firstAgentID)
		}
		if _, err := tx.ExecContext(ctx, sqlUpsertCustomers, pq.StringArray(ids), pq.StringArray(names),
			pq.StringArray(hashes), pq.StringArray(last4s), pq.StringArray(agents)); err != nil {
			return fmt.Errorf("write customers: %w", err)
		}
	}
	if len(plan.newPhones) == 0 {
		return nil
	}
	phones := make([]string, len(plan.newPhones))
	customers := make([]string, len(plan.newPhones))
	for i, p := range plan.newPhones {
		phones[i], customers[i] = p.Phone, p.CustomerID
	}
	if _, err := tx.ExecContext(ctx, sqlInsertPhones, pq.StringArray(phones), pq.StringArray(customers)); err != nil {
		return fmt.Errorf("write phones: %w", err)
	}
	if _, err := tx.ExecContext(ctx, sqlAuditImport, pq.StringArray(phones), pq.StringArray(customers)); err != nil {
		return fmt.Errorf("audit phones: %w", err)
	}
	return nil
}
