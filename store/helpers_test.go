package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stickyacd/stickyacd/store"
)

// dumpSchema describes the current schema's tables, columns, constraints and
// indexes in one comparable string.
func dumpSchema(t *testing.T, db *store.DB) string {
	t.Helper()
	var lines []string
	err := db.SQL().SelectContext(context.Background(), &lines, `
SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
  FROM information_schema.columns WHERE table_schema = current_schema()
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()
ORDER BY 1`)
	if err != nil {
		t.Fatalf("dump schema: %v", err)
	}
	return strings.Join(lines, "\n")
}
