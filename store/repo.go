package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/routing/idnumber"
)

// Repo is the directory routing reads and writes (routing.Directory) and
// the call records (routing.CallRecords). Customers are read from
// PostgreSQL on every call; agents, read on every call but changed only by
// imports, from an in-memory snapshot that Run keeps fresh.
type Repo struct {
	db      *DB
	hasher  IDHasher
	log     *slog.Logger
	refresh time.Duration
	// schema tells this instance's agent notifications from those of other
	// schemas in the same database.
	schema string
	agents atomic.Pointer[agentSnapshot]
	// lastMiss is when a look-up of an unknown agent last reloaded the
	// snapshot (Unix nanoseconds).
	lastMiss atomic.Int64
	// The look-ups of steps 01 and 02, prepared: one round trip each
	// instead of lib/pq's two for a query with arguments.
	byPhone  *sqlx.Stmt
	byIDHash *sqlx.Stmt
	calls    *callWriter
}

// RepoOptions tunes a Repo. Zero fields take their defaults.
type RepoOptions struct {
	// Refresh is how often Run reloads the agents even without a
	// notification, covering edits made outside the import. Default 1m.
	Refresh time.Duration
	// Logger receives the refresher's warnings. Default: discard.
	Logger *slog.Logger
}

const defaultAgentRefresh = time.Minute

var (
	_ routing.Directory   = (*Repo)(nil)
	_ routing.CallRecords = (*Repo)(nil)

	_ routing.FirstAgentBinder = (*Repo)(nil)
)

// NewRepo loads the first agent snapshot and returns the repository.
func NewRepo(ctx context.Context, db *DB, h IDHasher, o RepoOptions) (*Repo, error) {
	if o.Refresh <= 0 {
		o.Refresh = defaultAgentRefresh
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &Repo{db: db, hasher: h, log: o.Logger, refresh: o.Refresh}
	if err := db.pool.GetContext(ctx, &r.schema, `SELECT current_schema()`); err != nil {
		return nil, fmt.Errorf("new repo: read current schema: %w", err)
	}
	var err error
	if r.calls, err = newCallWriter(db, o.Logger); err != nil {
		return nil, fmt.Errorf("new repo: %w", err)
	}
	if r.byPhone, err = db.pool.PreparexContext(ctx, sqlCustomerByPhone); err != nil {
		return nil, errors.Join(fmt.Errorf("new repo: prepare customer by phone: %w", err), r.calls.conn.Close())
	}
	if r.byIDHash, err = db.pool.PreparexContext(ctx, sqlCustomerByIDHash); err != nil {
		return nil, errors.Join(fmt.Errorf("new repo: prepare customer by id number: %w", err),
			r.byPhone.Close(), r.calls.conn.Close())
	}
	if err := r.Refresh(ctx); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// Close writes the call records still queued (for up to callWriteTimeout)
// and releases the prepared statements and the call records' connection;
// the DB stays open.
func (r *Repo) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), callWriteTimeout)
	defer cancel()
	return errors.Join(r.calls.close(ctx), r.byPhone.Close(), r.byIDHash.Close())
}

const (
	sqlCustomerColumns = `c.id, c.name, coalesce(c.first_agent_id, '') AS first_agent_id, coalesce(c.id_last4, '') AS id_last4`
	sqlCustomerByPhone = `
SELECT ` + sqlCustomerColumns + `
  FROM customer_phones p JOIN customers c ON c.id = p.customer_id
 WHERE p.phone = $1`
	sqlCustomerByIDHash = `SELECT ` + sqlCustomerColumns + ` FROM customers c WHERE c.id_hash = $1`
	sqlCustomerByCall   = `SELECT ` + sqlCustomerColumns + ` FROM customers c WHERE c.created_by_call = $1`

	// prev is read before the upsert changes the row, so the previous owner
	// of a moved phone can be logged. A phone already bound to this
	// customer returns no row and is not audited again.
	sqlBindPhone = `
WITH prev AS (SELECT customer_id FROM customer_phones WHERE phone = $1)
INSERT INTO customer_phones (phone, customer_id) VALUES ($1, $2)
ON CONFLICT (phone) DO UPDATE SET customer_id = EXCLUDED.customer_id, created_at = now()
 WHERE customer_phones.customer_id <> EXCLUDED.customer_id
RETURNING coalesce((SELECT customer_id FROM prev), '')`
	sqlAuditBinding = `INSERT INTO phone_bindings (phone, customer_id, how, call_uuid) VALUES ($1, $2, $3, $4)`

	sqlInsertCustomer = `
INSERT INTO customers (id, name, id_hash, id_last4, first_agent_id, created_by_call)
VALUES ($1, '', $2, $3, $4, $5)`
	sqlInsertPhone = `INSERT INTO customer_phones (phone, customer_id) VALUES ($1, $2)`

	sqlLockFirstAgent  = `SELECT coalesce(first_agent_id, '') FROM customers WHERE id = $1 FOR UPDATE`
	sqlSetFirstAgent   = `UPDATE customers SET first_agent_id = $2, updated_at = now() WHERE id = $1`
	sqlAuditFirstAgent = `
INSERT INTO first_agent_bindings (customer_id, agent_id, previous_agent_id, call_uuid)
VALUES ($1, $2, NULLIF($3, ''), $4)`
)

// How a phone came to belong to a customer (phone_bindings.how).
const (
	boundByImport      = "import"
	boundByIVRIDMatch  = "ivr_id_match"
	boundByNewCustomer = "new_customer"
)

type customerRow struct {
	ID           string `db:"id"`
	Name         string `db:"name"`
	FirstAgentID string `db:"first_agent_id"`
	IDLast4      string `db:"id_last4"`
}

func (c customerRow) customer() routing.Customer {
	return routing.Customer{ID: c.ID, Name: c.Name, FirstAgentID: c.FirstAgentID, IDLast4: c.IDLast4}
}

// CustomerByPhone finds the customer owning a normalised number.
func (r *Repo) CustomerByPhone(ctx context.Context, phone string) (routing.Customer, error) {
	var c customerRow
	if err := r.byPhone.GetContext(ctx, &c, phone); err != nil {
		return routing.Customer{}, fmt.Errorf("customer by phone %s: %w", phone, notFound(err))
	}
	return c.customer(), nil
}

// CustomerByIDNumber finds the customer with this ID number by its keyed
// hash; errors name the number masked.
func (r *Repo) CustomerByIDNumber(ctx context.Context, id idnumber.Number) (routing.Customer, error) {
	if id.IsZero() {
		return routing.Customer{}, fmt.Errorf("customer by id number: no number: %w", ErrNotFound)
	}
	var c customerRow
	if err := r.byIDHash.GetContext(ctx, &c, r.hasher.Hash(id)); err != nil {
		return routing.Customer{}, fmt.Errorf("customer by id number %s: %w", id, notFound(err))
	}
	return c.customer(), nil
}

// BindPhone makes the phone belong to the customer and audits it with the
// call. The caller proved who they are with the ID number, so a phone bound
// to someone else moves (numbers get reassigned); the move is logged.
func (r *Repo) BindPhone(ctx context.Context, b routing.Binding) error {
	if b.CallUUID == "" {
		return fmt.Errorf("bind phone %s: call uuid missing", b.Phone)
	}
	err := r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var prev string
		err := tx.GetContext(ctx, &prev, sqlBindPhone, b.Phone, b.CustomerID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // already this customer's
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlAuditBinding, b.Phone, b.CustomerID, boundByIVRIDMatch, b.CallUUID); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		if prev != "" {
			r.log.InfoContext(ctx, "phone moved to another customer",
				"call_uuid", b.CallUUID, "phone", b.Phone, "customer_id", b.CustomerID, "previous_customer_id", prev)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bind phone %s to customer %s: %w", b.Phone, b.CustomerID, classify(err))
	}
	return nil
}

// CreateCustomer records the customer step 021 found: the phone (when the
// caller ID was usable), the ID number's hash and last 4 (when one was
// keyed in), the first agent (when binding is on). Calling it again for the
// same call returns the customer created the first time.
func (r *Repo) CreateCustomer(ctx context.Context, nc routing.NewCustomer) (routing.Customer, error) {
	if nc.CallUUID == "" {
		return routing.Customer{}, errors.New("create customer: call uuid missing")
	}
	var out customerRow
	err := r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		err := tx.GetContext(ctx, &out, sqlCustomerByCall, nc.CallUUID)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("new customer id: %w", err)
		}
		out = customerRow{ID: id.String(), FirstAgentID: nc.FirstAgentID}
		var hash, last4 sql.NullString
		if !nc.IDNumber.IsZero() {
			hash = sql.NullString{String: r.hasher.Hash(nc.IDNumber), Valid: true}
			last4 = sql.NullString{String: nc.IDNumber.Last4(), Valid: true}
			out.IDLast4 = last4.String
		}
		if _, err := tx.ExecContext(ctx, sqlInsertCustomer, out.ID, hash, last4, nullable(nc.FirstAgentID), nc.CallUUID); err != nil {
			return err
		}
		if nc.Phone == "" {
			return nil
		}
		if _, err := tx.ExecContext(ctx, sqlInsertPhone, nc.Phone, out.ID); err != nil {
			return fmt.Errorf("phone %s: %w", nc.Phone, err)
		}
		if _, err := tx.ExecContext(ctx, sqlAuditBinding, nc.Phone, out.ID, boundByNewCustomer, nc.CallUUID); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		return nil
	})
	if err != nil {
		return routing.Customer{}, fmt.Errorf("create customer for call %s: %w", nc.CallUUID, classify(err))
	}
	return out.customer(), nil
}

// BindFirstAgent makes the agent the customer's first agent, audited with
// the call in first_agent_bindings. Binding the agent already bound changes
// nothing and adds no audit row.
func (r *Repo) BindFirstAgent(ctx context.Context, b routing.FirstAgentBinding) error {
	if b.CallUUID == "" {
		return fmt.Errorf("bind first agent of customer %s: call uuid missing", b.CustomerID)
	}
	err := r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var prev string
		if err := tx.GetContext(ctx, &prev, sqlLockFirstAgent, b.CustomerID); err != nil {
			return notFound(err)
		}
		if prev == b.AgentID {
			return nil
		}
		if _, err := tx.ExecContext(ctx, sqlSetFirstAgent, b.CustomerID, b.AgentID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlAuditFirstAgent, b.CustomerID, b.AgentID, prev, b.CallUUID); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bind agent %s as first agent of customer %s: %w", b.AgentID, b.CustomerID, classify(err))
	}
	return nil
}

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// notFound turns "no rows" into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// classify maps constraint violations to this package's sentinels so callers
// can tell "that data already belongs to someone" from an outage.
func classify(err error) error {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return err
	}
	switch pqErr.Code {
	case "23505": // unique_violation
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case "23503": // foreign_key_violation
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
