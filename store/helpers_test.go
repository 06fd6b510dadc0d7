package store_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/routing/callerid"
	"github.com/stickyacd/stickyacd/store"
	"github.com/stickyacd/stickyacd/store/storetest"
)

// contractDir holds the data files the contract check imports.
const contractDir = "../test/contract"

// contractIDs are the raw ID numbers in contractDir/customers.csv.
var contractIDs = []string{"110101199003070011", "310115198511200020", "440304197706150031"}

var testBusinessTypes = []routing.BusinessType{
	{Digit: 1, Code: "loan", Name: "Loans", CallbackDue: 30 * time.Minute, Priority: 10},
	{Digit: 2, Code: "card", Name: "Credit cards", CallbackDue: 45 * time.Minute, Priority: 5},
}

var testPhones = callerid.Normalizer{CountryCode: "86", InternationalPrefix: "00", TrunkPrefix: "0"}

// fixture is a migrated schema with the business types configured.
type fixture struct {
	db     *store.DB
	hasher store.IDHasher
	im     *store.Importer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db := storetest.PG(t)
	if err := db.SyncBusinessTypes(context.Background(), testBusinessTypes); err != nil {
		t.Fatal(err)
	}
	h, err := store.NewIDHasher([]byte("test-key"))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, hasher: h, im: store.NewImporter(db, h, testPhones)}
}

// importContract imports the contract agents and customers files.
func (f *fixture) importContract(t testing.TB) {
	t.Helper()
	f.importFile(t, "agents", filepath.Join(contractDir, "agents.csv"))
	f.importFile(t, "customers", filepath.Join(contractDir, "customers.csv"))
}

func (f *fixture) importFile(t testing.TB, kind, path string) store.Counts {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	counts, err := f.importReader(kind, path, file)
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	return counts
}

func (f *fixture) importString(kind, name, data string) (store.Counts, error) {
	return f.importReader(kind, name, strings.NewReader(data))
}

func (f *fixture) importReader(kind, name string, r io.Reader) (store.Counts, error) {
	ctx := context.Background()
	if kind == "agents" {
		return f.im.ImportAgents(ctx, r, name)
	}
	return f.im.ImportCustomers(ctx, r, name)
}

func (f *fixture) repo(t testing.TB) *store.Repo {
	t.Helper()
	r, err := store.NewRepo(context.Background(), f.db, f.hasher, store.RepoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close repo: %v", err)
		}
	})
	return r
}

// tables lists the current schema's tables.
func tables(t testing.TB, db *store.DB) []string {
	t.Helper()
	var names []string
	err := db.SQL().SelectContext(context.Background(), &names, `
SELECT table_name FROM information_schema.tables
 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// dumpRows returns every row of every table, sorted, as one string.
func dumpRows(t testing.TB, db *store.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range tables(t, db) {
		var rows string
		q := fmt.Sprintf(`SELECT coalesce(string_agg(t::text, E'\n' ORDER BY t::text), '') FROM %q t`, table)
		if err := db.SQL().GetContext(context.Background(), &rows, q); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		fmt.Fprintf(&b, "== %s\n%s\n", table, rows)
	}
	return b.String()
}

// dumpSchema describes the current schema's tables, columns, constraints and
// indexes in one comparable string.
func dumpSchema(t testing.TB, db *store.DB) string {
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

// withCheckChar completes 17 digits into a valid 18-character ID number.
func withCheckChar(d17 string) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(d17[i]-'0') * w
	}
	return d17 + string("10X98765432"[sum%11])
}
