package store

import (
	"context"
	"fmt"
	"time"

	"github.com/stickyacd/stickyacd/callback/webhook"
)

// Outbox is the webhook outbox (callback_outbox) that Tasks fills when
// TasksOptions.WebhookOutbox is set: webhook.Outbox for the deliverer.
type Outbox struct{ db *DB }

var _ webhook.Outbox = (*Outbox)(nil)

// NewOutbox returns the outbox on db.
func NewOutbox(db *DB) *Outbox { return &Outbox{db: db} }

const (
	// A delivery is leased by pushing its next attempt past the lease, so
	// another deliverer leaves it alone while it is being sent and takes it
	// up if this one dies.
	sqlOutboxDue = `
WITH due AS (
    SELECT id FROM callback_outbox
     WHERE delivered_at IS NULL AND next_attempt_at <= $1
     ORDER BY next_attempt_at, id
     LIMIT $3
     FOR UPDATE SKIP LOCKED
)
UPDATE callback_outbox o SET next_attempt_at = $2
  FROM due WHERE o.id = due.id
RETURNING o.id, o.idempotency_key, o.body::text AS body, o.attempts`

	sqlOutboxDelivered = `
UPDATE callback_outbox SET delivered_at = $2, attempts = attempts + 1, last_error = ''
 WHERE id = $1 AND delivered_at IS NULL`

	sqlOutboxRetry = `
UPDATE callback_outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3
 WHERE id = $1 AND delivered_at IS NULL`

	sqlOutboxPrune = `DELETE FROM callback_outbox WHERE delivered_at < $1`
)

// Due leases up to limit deliveries due at now until until.
func (o *Outbox) Due(ctx context.Context, now, until time.Time, limit int) ([]webhook.Delivery, error) {
	var rows []struct {
		ID       int64  `db:"id"`
		Key      string `db:"idempotency_key"`
		Body     string `db:"body"`
		Attempts int    `db:"attempts"`
	}
	if err := o.db.pool.SelectContext(ctx, &rows, sqlOutboxDue, now, until, limit); err != nil {
		return nil, fmt.Errorf("take due webhook deliveries: %w", err)
	}
	out := make([]webhook.Delivery, len(rows))
	for i, r := range rows {
		out[i] = webhook.Delivery{ID: r.ID, Key: r.Key, Body: []byte(r.Body), Attempts: r.Attempts}
	}
	return out, nil
}

// Delivered records a successful delivery.
func (o *Outbox) Delivered(ctx context.Context, id int64, at time.Time) error {
	if _, err := o.db.pool.ExecContext(ctx, sqlOutboxDelivered, id, at); err != nil {
		return fmt.Errorf("record webhook delivery %d: %w", id, err)
	}
	return nil
}

// Retry records a failed delivery and when to try again.
func (o *Outbox) Retry(ctx context.Context, id int64, next time.Time, reason string) error {
	if _, err := o.db.pool.ExecContext(ctx, sqlOutboxRetry, id, next, reason); err != nil {
		return fmt.Errorf("record failed webhook delivery %d: %w", id, err)
	}
	return nil
}

// Prune deletes deliveries that succeeded before before.
func (o *Outbox) Prune(ctx context.Context, before time.Time) (int, error) {
	return o.db.rowsChanged(ctx, "prune webhook deliveries", sqlOutboxPrune, before)
}
