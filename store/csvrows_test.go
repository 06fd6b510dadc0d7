package store

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/routing/callerid"
)

var fuzzPhones = callerid.Normalizer{CountryCode: "86", InternationalPrefix: "00", TrunkPrefix: "0"}

// addFileSeeds seeds f with the contract data file and hand-made variants.
func addFileSeeds(f *testing.F, contract string, extra ...string) {
	data, err := os.ReadFile(contract)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// checkRejection checks what every rejected file must give: an
// *ImportError naming the file and a line that exists.
func checkRejection(t *testing.T, data []byte, file string, err error) *ImportError {
	t.Helper()
	var ie *ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T) is not an *ImportError", err, err)
	}
	if ie.File != file || ie.Line < 1 || ie.Line > bytes.Count(data, []byte("\n"))+1 || ie.Reason == "" {
		t.Fatalf("error %q: bad file, line or reason", err)
	}
	if !strings.HasPrefix(err.Error(), file+":") {
		t.Fatalf("error %q does not start with %s:", err, file)
	}
	return ie
}

func FuzzAgentsCSV(f *testing.F) {
	header := strings.Join(agentColumns, ",") + "\n"
	addFileSeeds(f, "../test/contract/agents.csv",
		"",
		header,
		"\uFEFF"+header+"A1,One,3001,east,leader,,loan|card\n",
		"skills,role,team,extension,name,agent_id,backup_agent_id\nloan,leader,east,3001,One,A1,\n",
		header+"A1,\"One\nTwo\",3001,east,leader,A2,loan\n\nA2,Two,3002,east,agent,A1,\n",
		header+"A1,One,3001,east,boss,,loan\n",
		header+"A1,One,3001,east,agent,A1,loan\n",
		header+"A1,One,3001,east,agent,,loan||card\n",
		header+"A1,One,3001,east,agent,,loan|loan\n",
		header+"A1,One,\"30,01\",east,agent,,\n",
		header+"A1,\"One,3001,east,agent,,\n",
		header+"A1,One,3001\n",
		"agent_id,name\n",
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := parseAgents(bytes.NewReader(data), "agents.csv")
		if err != nil {
			checkRejection(t, data, "agents.csv", err)
			return
		}
		for _, a := range rows {
			if !validKey(a.id) || !validKey(a.extension) || !validKey(a.team) || a.name == "" ||
				a.backupID != "" && !validKey(a.backupID) || a.backupID == a.id {
				t.Fatalf("accepted bad row %+v", a)
			}
			if a.role != routing.RoleAgent && a.role != routing.RoleLeader {
				t.Fatalf("accepted role %q", a.role)
			}
			if !slices.IsSorted(a.skills) || len(slices.Compact(slices.Clone(a.skills))) != len(a.skills) {
				t.Fatalf("skills %q not sorted and unique", a.skills)
			}
			for _, s := range a.skills {
				if s == "" || strings.Contains(s, listSep) || strings.TrimSpace(s) != s {
					t.Fatalf("skill %q", s)
				}
			}
		}
	})
}

var (
	storedPhone = regexp.MustCompile(`^\+?[0-9]{1,15}$`)
	hexHash     = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// idNumberFields returns the id_number values of a customers file, as far
// as encoding/csv can read it.
func idNumberFields(data []byte) []string {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil
	}
	col := slices.Index(header, "id_number")
	var out []string
	for {
		rec, err := r.Read()
		if err != nil {
			return out
		}
		if col >= 0 && col < len(rec) {
			out = append(out, strings.TrimSpace(rec[col]))
		}
	}
}

func digits(s string) int {
	n := 0
	for _, c := range s {
		if c >= '0' && c <= '9' {
			n++
		}
	}
	return n
}

func FuzzCustomersCSV(f *testing.F) {
	header := strings.Join(customerColumns, ",") + "\n"
	addFileSeeds(f, "../test/contract/customers.csv",
		header,
		header+"K1,Kay,11010519491231002X,13900139001|+86 21 8888 0002,S1\n",
		header+"K1,Kay,11010519491231002*,,\n",
		header+"K1,Kay,110101199003070012,13900139001,\n", // bad check character
		header+"K1,Kay,,110101199003070011,\n",            // ID number in the phones column
		header+"K1,Kay,110101900307001,13900139001||13900139002,\n",
		header+"K1,Kay,,anonymous,\n",
		header+"K1,Kay,,,\n",
		header+"K1,,110101199003070011,13900139001,\n",
		header+"K1,Kay,110101199003070011\n",
		"phones,first_agent_id,customer_id,id_number,name\n13900139001,,K1,110101199003070011,Kay\n",
	)
	h, err := NewIDHasher([]byte("fuzz-key"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := parseCustomers(bytes.NewReader(data), "customers.csv", h, fuzzPhones)
		if err != nil {
			if checkRejection(t, data, "customers.csv", err).Line == 1 {
				return // the header: no data quoted
			}
			// An ID number is never quoted back, valid or not, unless the
			// same text also sits in a field that errors may name.
			for _, v := range idNumberFields(data) {
				if digits(v) >= 8 && bytes.Count(data, []byte(v)) == 1 && strings.Contains(err.Error(), v) {
					t.Fatalf("error %q quotes the id_number field", err)
				}
			}
			return
		}
		for _, c := range rows {
			if !validKey(c.id) || c.name == "" || c.firstAgentID != "" && !validKey(c.firstAgentID) {
				t.Fatalf("accepted bad row %+v", c)
			}
			if (c.idHash == "") != (c.idLast4 == "") || c.idHash != "" && !hexHash.MatchString(c.idHash) {
				t.Fatalf("hash %q, last 4 %q", c.idHash, c.idLast4)
			}
			if c.idHash == "" && len(c.phones) == 0 {
				t.Fatalf("accepted a customer with nothing to recognise: %+v", c)
			}
			for i, p := range c.phones {
				if !storedPhone.MatchString(p) || slices.Contains(c.phones[:i], p) {
					t.Fatalf("phones %q", c.phones)
				}
			}
		}
	})
}

func TestDSNParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dsn  string
		want map[string]string
	}{
		{"postgres://u:p@db.example:6543/x?sslmode=verify-full&search_path=s",
			map[string]string{"host": "db.example", "port": "6543", "sslmode": "verify-full", "search_path": "s"}},
		{"postgresql://127.0.0.1/x", map[string]string{"host": "127.0.0.1", "port": ""}},
		{"host=/tmp port=5433 sslmode=disable", map[string]string{"host": "/tmp", "port": "5433", "sslmode": "disable"}},
		{"password='it\\'s a secret' sslmode = require", map[string]string{"password": "it's a secret", "sslmode": "require"}},
		{"user='' sslmode=disable", map[string]string{"user": "", "sslmode": "disable"}},
	}
	for _, tt := range tests {
		got, err := dsnParams(tt.dsn)
		if err != nil {
			t.Errorf("dsnParams(%q): %v", tt.dsn, err)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("dsnParams(%q)[%s] = %q, want %q", tt.dsn, k, got[k], v)
			}
		}
	}
	for _, bad := range []string{"host", "host=x password='open", "postgres://%zz"} {
		if _, err := dsnParams(bad); err == nil {
			t.Errorf("dsnParams(%q) accepted", bad)
		}
	}
}
