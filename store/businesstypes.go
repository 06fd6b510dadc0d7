package store

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/stickyacd/stickyacd/routing"
)

const (
	// Digits are cleared first so types may swap digits; those still
	// configured get theirs back below, the rest are retired (off the menu).
	sqlClearDigits        = `UPDATE business_types SET digit = NULL WHERE digit IS NOT NULL`
	sqlUpsertBusinessType = `
INSERT INTO business_types (code, digit, name, callback_due, priority)
VALUES ($1, $2, $3, make_interval(secs => $4), $5)
ON CONFLICT (code) DO UPDATE
   SET digit = EXCLUDED.digit, name = EXCLUDED.name,
       callback_due = EXCLUDED.callback_due, priority = EXCLUDED.priority`
	// A retired type stays while tasks or skills name it: deleting it would
	// rewrite history or silently strip agents' skills.
	sqlDeleteRetiredBusinessTypes = `
DELETE FROM business_types b
 WHERE b.code <> ALL($1::text[])
   AND NOT EXISTS (SELECT 1 FROM callback_tasks t WHERE t.business_type = b.code)
   AND NOT EXISTS (SELECT 1 FROM agent_skills s WHERE s.business_type = b.code)`
)

// SyncBusinessTypes makes the business_types table match the configured
// menu. Types no longer configured lose their digit and are deleted unless
// tasks or agents' skills still name them. Run it before importing agents:
// the import accepts only configured codes as skills.
func (d *DB) SyncBusinessTypes(ctx context.Context, types []routing.BusinessType) error {
	tx, err := d.pool.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sync business types: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, sqlClearDigits); err != nil {
		return fmt.Errorf("sync business types: %w", err)
	}
	codes := make([]string, 0, len(types))
	for _, bt := range types {
		secs := float64(bt.CallbackDue) / float64(time.Second)
		if _, err := tx.ExecContext(ctx, sqlUpsertBusinessType, bt.Code, bt.Digit, bt.Name, secs, bt.Priority); err != nil {
			return fmt.Errorf("sync business type %s: %w", bt.Code, err)
		}
		codes = append(codes, bt.Code)
	}
	if _, err := tx.ExecContext(ctx, sqlDeleteRetiredBusinessTypes, pq.StringArray(codes)); err != nil {
		return fmt.Errorf("sync business types: delete retired: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sync business types: commit: %w", err)
	}
	return nil
}
