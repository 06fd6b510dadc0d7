package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stickyacd/stickyacd/store"
)

func TestImportContractFilesTwice(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	agents := filepath.Join(contractDir, "agents.csv")
	customers := filepath.Join(contractDir, "customers.csv")

	if got, want := f.importFile(t, "agents", agents), (store.Counts{Inserted: 5}); got != want {
		t.Fatalf("first agents import: %+v, want %+v", got, want)
	}
	if got, want := f.importFile(t, "customers", customers), (store.Counts{Inserted: 3}); got != want {
		t.Fatalf("first customers import: %+v, want %+v", got, want)
	}
	first := dumpRows(t, f.db)

	if got, want := f.importFile(t, "agents", agents), (store.Counts{Unchanged: 5}); got != want {
		t.Fatalf("second agents import: %+v, want %+v", got, want)
	}
	if got, want := f.importFile(t, "customers", customers), (store.Counts{Unchanged: 3}); got != want {
		t.Fatalf("second customers import: %+v, want %+v", got, want)
	}
	if second := dumpRows(t, f.db); second != first {
		t.Fatalf("second import changed rows:\nfirst:\n%s\nsecond:\n%s", first, second)
	}
}

func TestImportCountsUpdates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.importContract(t)
	// Renamed, new skill, swapped extensions (checked at commit), one new.
	agents := `agent_id,name,extension,team,role,backup_agent_id,skills
S2001,Ada Lin-Wu,2002,north,agent,S2002,loan|card
S2002,Bo Chen,2001,north,agent,S2001,card
S2003,Cai Yu,2003,north,leader,,card|loan
S2006,Fay Ma,2006,north,agent,S2007,loan
S2007,Gu Li,2007,north,agent,,card
`
	got, err := f.importString("agents", "agents.csv", agents)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Counts{Inserted: 2, Updated: 2, Unchanged: 1}); got != want {
		t.Fatalf("agents: %+v, want %+v", got, want)
	}
	// A new phone for K01 (an update), K02 as it was, K04 new.
	customers := `customer_id,name,id_number,phones,first_agent_id
K01,Gao Ming,,13900139001|+86 139 0013 9011,
K02,Hu Lan,310115198511200020,13900139002|021-8888-0002,S2002
K04,Ma Yi,` + withCheckChar("11010519800101001") + `,13900139004,S2006
`
	got, err = f.importString("customers", "customers.csv", customers)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Counts{Inserted: 1, Updated: 1, Unchanged: 1}); got != want {
		t.Fatalf("customers: %+v, want %+v", got, want)
	}
	r := f.repo(t)
	ctx := context.Background()
	c, err := r.CustomerByPhone(ctx, "13900139011")
	if err != nil || c.ID != "K01" || c.FirstAgentID != "S2001" || c.IDLast4 != "0011" {
		t.Fatalf("K01 after re-import with empty optional fields: %+v, %v (want phone added, first agent and ID kept)", c, err)
	}
	a, err := r.AgentByExtension(ctx, "2001")
	if err != nil || a.ID != "S2002" {
		t.Fatalf("extension 2001 after swap: %+v, %v", a, err)
	}
}

func TestImportNeverRemovesPhones(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.importContract(t)
	// K02 without its landline: the landline stays, as an IVR binding would.
	_, err := f.importString("customers", "customers.csv", `customer_id,name,id_number,phones,first_agent_id
K02,Hu Lan,,13900139002,
`)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.repo(t).CustomerByPhone(context.Background(), "2188880002")
	if err != nil || c.ID != "K02" {
		t.Fatalf("landline after re-import without it: %+v, %v", c, err)
	}
}

func TestImportAgentsBackupDefinedLater(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	got, err := f.importString("agents", "/some/dir/agents.csv", `agent_id,name,extension,team,role,backup_agent_id,skills
A1,One,3001,east,agent,A3,loan
A2,Two,3002,east,agent,A1,
A3,Three,3003,east,leader,A1,card
`)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Counts{Inserted: 3}); got != want {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
}

func TestImportColumnsInAnyOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.importString("agents", "agents.csv", "\uFEFFskills,role,team,extension,name,agent_id,backup_agent_id\n"+
		"loan,leader,east,3001,One,A1,\n")
	if err != nil {
		t.Fatal(err)
	}
}

// agentsPrefix is lines 1–6 of the agents files with a bad line 7: a new
// team whose rows would change the database if the file were accepted.
const agentsPrefix = `agent_id,name,extension,team,role,backup_agent_id,skills
S3001,Hao Ren,3001,east,leader,,loan|card
S3002,Ivy Qin,3002,east,agent,S3003,loan
S3003,Jun Wu,3003,east,agent,S3002,card
S2001,Ada Lin (renamed),2001,north,agent,S2002,loan|card
S3004,Kai Xu,3004,east,agent,S2001,loan
`

// expectRejected imports a file whose line 7 is bad and checks the error
// names that line of the file's base name and the database is unchanged.
func (f *fixture) expectRejected(t *testing.T, kind, path, data, reason string) error {
	t.Helper()
	before := dumpRows(t, f.db)
	_, err := f.importString(kind, path, data)
	file := filepath.Base(path)
	if want := file + ":7: " + reason; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %v, want prefix %q", err, want)
	}
	var ie *store.ImportError
	if !errors.As(err, &ie) || ie.File != file || ie.Line != 7 {
		t.Fatalf("error %#v, want *store.ImportError at %s:7", err, file)
	}
	if after := dumpRows(t, f.db); after != before {
		t.Fatalf("rejected file changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	return err
}

func TestImportAgentsRejectsBadRow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line string // line 7; "" ends the file early
		want string // the reason after "agents.csv:7: "
	}{
		{"unknown team", "S3005,Lu Pan,3005,nroth,agent,,loan", `unknown team "nroth" (no leader row in this file or the database)`},
		{"bad role", "S3005,Lu Pan,3005,east,boss,,loan", `role "boss": want agent or leader`},
		{"unknown backup", "S3005,Lu Pan,3005,east,agent,S9999,loan", "unknown backup agent S9999 (not in this file or the database)"},
		{"backup is self", "S3005,Lu Pan,3005,east,agent,S3005,loan", "agent S3005 is named as its own backup"},
		{"unconfigured skill", "S3005,Lu Pan,3005,east,agent,,loan|mortgage", `skill "mortgage" is not a configured business type`},
		{"empty skill", "S3005,Lu Pan,3005,east,agent,,loan||card", "skills: empty code between separators"},
		{"extension of a stored agent", "S3005,Lu Pan,2002,east,agent,,loan", "extension 2002 is already agent S2002's in the database"},
		{"extension earlier in the file", "S3005,Lu Pan,3002,east,agent,,loan", "extension 3002 is already agent S3002's at line 3"},
		{"agent twice", "S3002,Ivy Qin,3009,east,agent,,loan", "agent S3002 is already defined at line 3"},
		{"second leader, stored", "S3005,Lu Pan,3005,north,leader,,", "team north already has leader S2003 in the database"},
		{"second leader, in file", "S3005,Lu Pan,3005,east,leader,,", "team east already has leader S3001 at line 2"},
		{"too few columns", "S3005,Lu Pan,3005,east,agent", "5 columns, want 7"},
		{"too many columns", "S3005,Lu Pan,3005,east,agent,,loan,extra", "8 columns, want 7"},
		{"empty agent_id", ",Lu Pan,3005,east,agent,,loan", "empty agent_id"},
		{"empty name", "S3005,,3005,east,agent,,loan", "empty name"},
		{"empty extension", "S3005,Lu Pan,,east,agent,,loan", "empty extension"},
		{"empty team", "S3005,Lu Pan,3005,,agent,,loan", "empty team"},
		{"empty role", "S3005,Lu Pan,3005,east,,,loan", `role "": want agent or leader`},
		{"extension with a comma", `S3005,Lu Pan,"3005,sofia/gateway/x/1",east,agent,,loan`, `extension "3005,sofia/gateway/x/1": use at most 64 letters, digits and _ - . @ +`},
		{"malformed CSV", `S3005,"Lu Pan,3005,east,agent,,loan`, "malformed CSV: extraneous or missing \" in quoted-field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.importContract(t)
			f.expectRejected(t, "agents", "/data/in/agents.csv", agentsPrefix+tt.line+"\n", tt.want)
		})
	}
}

func TestImportHeaderAndLineNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data, want string
	}{
		{"empty file", "", "agents.csv:1: empty file"},
		{"unknown column", "agent_id,name,extension,team,role,backup,skills\n", `agents.csv:1: unknown column "backup"`},
		{"missing column", "agent_id,name,extension,team,role,backup_agent_id\n", `agents.csv:1: missing column "skills"`},
		{"column twice", "agent_id,name,extension,team,role,backup_agent_id,skills,name\n", `agents.csv:1: column "name" appears twice`},
		{
			// A quoted name spanning two lines and a blank line shift the
			// physical line of the bad row to 7.
			"physical lines",
			"agent_id,name,extension,team,role,backup_agent_id,skills\n" +
				"S3001,\"Hao\nRen\",3001,east,leader,,loan\n" +
				"\n" +
				"S3002,Ivy Qin,3002,east,agent,,loan\n" +
				"S3003,Jun Wu,3003,east,agent,,card\n" +
				"S3004,Kai Xu,3004,west,agent,,loan\n",
			`agents.csv:7: unknown team "west"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			_, err := f.importString("agents", "agents.csv", tt.data)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want prefix %q", err, tt.want)
			}
		})
	}
}

// A customers file without its header row must not print the first
// customer's ID number as an "unknown column".
func TestImportMissingHeaderHidesIDNumber(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.importString("customers", "customers.csv", newIDs[5]+",K1,Gao,13800138001,\n")
	if err == nil || !strings.HasPrefix(err.Error(), "customers.csv:1: unknown column") {
		t.Fatalf("error %v", err)
	}
	if strings.Contains(err.Error(), newIDs[5]) {
		t.Fatalf("the raw ID number is in the error: %v", err)
	}
}

// newIDs are valid ID numbers used only by the customers fixtures below.
var newIDs = []string{
	withCheckChar("11010519800101001"),
	withCheckChar("11010519800101002"),
	withCheckChar("11010519800101003"),
	withCheckChar("11010519800101004"),
	withCheckChar("11010519800101005"),
	withCheckChar("11010519800101006"),
}

// customersPrefix is lines 1–6 of the customers files with a bad line 7.
var customersPrefix = `customer_id,name,id_number,phones,first_agent_id
K11,Na Qiu,` + newIDs[0] + `,13800138011,S2001
K12,Ou Yang,` + newIDs[1] + `,13800138012|010-6666-0012,S2002
K13,Pei Lu,,13800138013,
K01,Gao Ming (renamed),110101199003070011,13900139001,S2001
K14,Qi An,` + newIDs[2] + `,,S2004
`

func TestImportCustomersRejectsBadRow(t *testing.T) {
	t.Parallel()
	badChecksum := newIDs[3][:17] + string("0123456789X"[(strings.IndexByte("0123456789X", newIDs[3][17])+1)%11])
	tests := []struct {
		name string
		line string
		want string
	}{
		{"bad check character", "K15,Ren Fu," + badChecksum + ",13800138015,", "id_number: check character does not match"},
		{"id number too short", "K15,Ren Fu,11010519800101,13800138015,", "id_number: want 18 characters"},
		{"id number with letters", "K15,Ren Fu,1101051980010100AB,13800138015,", "id_number: want 18 characters"},
		{"id number of a stored customer", "K15,Ren Fu,310115198511200020,13800138015,", "id_number already belongs to customer K02 in the database"},
		{"id number earlier in the file", "K15,Ren Fu," + newIDs[1] + ",13800138015,", "id_number is the same as customer K12's at line 3"},
		{"unknown first agent", "K15,Ren Fu," + newIDs[4] + ",13800138015,S9999", "unknown first agent S9999 (import the agents first)"},
		{"phone of a stored customer", "K15,Ren Fu," + newIDs[4] + ",+86 139 0013 9002,", "phone 13900139002 belongs to customer K02 in the database"},
		{"phone earlier in the file", "K15,Ren Fu," + newIDs[4] + ",13800138015|01066660012,", "phone 1066660012 is already listed for customer K12 at line 3"},
		{"phone not a number", "K15,Ren Fu," + newIDs[4] + ",13800138015|call me,", "phones: number 2 of 2 is not a usable phone number"},
		{"ID number in the phones column", "K15,Ren Fu,," + newIDs[4] + ",", "phones: number 1 of 1 is not a usable phone number"},
		{"empty phone", "K15,Ren Fu," + newIDs[4] + ",13800138015||13800138016,", "phones: empty number between separators"},
		{"nothing to recognise", "K15,Ren Fu,,,S2001", "no phones and no id_number"},
		{"customer twice", "K12,Ou Yang," + newIDs[4] + ",13800138015,", "customer K12 is already defined at line 3"},
		{"empty customer_id", ",Ren Fu," + newIDs[4] + ",13800138015,", "empty customer_id"},
		{"empty name", "K15,," + newIDs[4] + ",13800138015,", "empty name"},
		{"too few columns", "K15,Ren Fu," + newIDs[4] + ",13800138015", "4 columns, want 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.importContract(t)
			err := f.expectRejected(t, "customers", "customers.csv", customersPrefix+tt.line+"\n", tt.want)
			for _, raw := range append(append([]string{badChecksum}, newIDs...), contractIDs...) {
				if strings.Contains(err.Error(), raw) {
					t.Fatalf("error %q contains a raw ID number", err)
				}
			}
		})
	}
}

func TestImportCustomersAcceptsPrefix(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.importContract(t)
	got, err := f.importString("customers", "customers.csv", customersPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Counts{Inserted: 4, Updated: 1}); got != want {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
}

func TestNoRawIDNumberStored(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.importContract(t)
	if _, err := f.importString("customers", "customers.csv", customersPrefix); err != nil {
		t.Fatal(err)
	}
	raws := append(append([]string{}, contractIDs...), newIDs[:3]...)
	ctx := context.Background()
	var cols []struct {
		Table  string `db:"table_name"`
		Column string `db:"column_name"`
	}
	err := f.db.SQL().SelectContext(ctx, &cols, `
SELECT table_name, column_name FROM information_schema.columns
 WHERE table_schema = current_schema()
   AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')`)
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) < 10 {
		t.Fatalf("found only %d text columns to scan: %v", len(cols), cols)
	}
	for _, c := range cols {
		for _, raw := range raws {
			// The first 17 characters: an ID number stored without its check
			// character, or with x for X, is still a leak.
			q := fmt.Sprintf(`SELECT count(*) FROM %q WHERE %q::text LIKE '%%' || $1 || '%%'`, c.Table, c.Column)
			var n int
			if err := f.db.SQL().GetContext(ctx, &n, q, raw[:17]); err != nil {
				t.Fatalf("scan %s.%s: %v", c.Table, c.Column, err)
			}
			if n > 0 {
				t.Errorf("%s.%s holds a raw ID number (%d rows)", c.Table, c.Column, n)
			}
		}
	}
	var stored int
	if err := f.db.SQL().GetContext(ctx, &stored, `SELECT count(*) FROM customers WHERE id_hash IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if stored != len(raws) {
		t.Fatalf("%d customers have an ID hash, want %d", stored, len(raws))
	}
}
