package store

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/routing/callerid"
	"github.com/stickyacd/stickyacd/routing/idnumber"
)

// ImportError is a rejected data file: the base name of the file, the
// physical line (header = 1) and why. It never holds an ID number.
type ImportError struct {
	File   string
	Line   int
	Reason string
}

func (e *ImportError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// Columns of the data files (DESIGN.md §4.2). The header must name each
// exactly once, in any order, and nothing else.
var (
	agentColumns    = []string{"agent_id", "name", "extension", "team", "role", "backup_agent_id", "skills"}
	customerColumns = []string{"customer_id", "name", "id_number", "phones", "first_agent_id"}
)

// listSep joins several values in one field (skills, phones).
const listSep = "|"

// record is one data row, its fields in the order of the wanted columns.
type record struct {
	line   int
	fields []string
}

// readRecords reads a CSV data file with a header row naming want.
func readRecords(r io.Reader, file string, want []string) ([]record, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // counted here, to say which line is wrong
	fail := func(line int, format string, args ...any) error {
		return &ImportError{File: file, Line: line, Reason: fmt.Sprintf(format, args...)}
	}
	readErr := func(err error) error {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return fail(pe.StartLine, "malformed CSV: %v", pe.Err)
		}
		return fmt.Errorf("read %s: %w", file, err)
	}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fail(1, "empty file: want a header row %s", strings.Join(want, ","))
	}
	if err != nil {
		return nil, readErr(err)
	}
	header[0] = strings.TrimPrefix(header[0], "\uFEFF") // spreadsheet exports start with a BOM
	index := make([]int, len(want))                     // want[i] is column index[i]
	for i := range index {
		index[i] = -1
	}
	for col, h := range header {
		h = strings.TrimSpace(h)
		i := slices.Index(want, h)
		switch {
		case i < 0:
			// A file without its header row has data here, maybe an ID
			// number: show no more of it than a log may.
			return nil, fail(1, "unknown column %q (is the header row missing?): want %s", headerCell(h), strings.Join(want, ","))
		case index[i] >= 0:
			return nil, fail(1, "column %q appears twice", h)
		}
		index[i] = col
	}
	for i, col := range index {
		if col < 0 {
			return nil, fail(1, "missing column %q: want %s", want[i], strings.Join(want, ","))
		}
	}
	var recs []record
	for {
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return nil, readErr(err)
		}
		line, _ := cr.FieldPos(0)
		if len(fields) != len(header) {
			return nil, fail(line, "%d columns, want %d", len(fields), len(header))
		}
		rec := record{line: line, fields: make([]string, len(want))}
		for i, col := range index {
			rec.fields[i] = strings.TrimSpace(fields[col])
		}
		recs = append(recs, rec)
	}
}

// validKey reports whether s may be an agent, team or customer ID or an
// extension: these end up in dial strings, SIP headers and URLs, where
// spaces, commas, quotes or braces would change the meaning.
func validKey(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.' || c == '@' || c == '+'
		if !ok {
			return false
		}
	}
	return true
}

// checkKeys checks required and optional key fields: name, value pairs.
func checkKeys(required bool, pairs ...string) string {
	for i := 0; i < len(pairs); i += 2 {
		name, v := pairs[i], pairs[i+1]
		switch {
		case v == "" && required:
			return "empty " + name
		case v != "" && !validKey(v):
			return fmt.Sprintf("%s %q: use at most 64 letters, digits and _ - . @ +", name, v)
		}
	}
	return ""
}

// splitList splits a "|"-joined field, refusing empty entries and dropping
// repeated ones.
func splitList(field string) ([]string, bool) {
	if field == "" {
		return nil, true
	}
	var out []string
	for _, v := range strings.Split(field, listSep) {
		v = strings.TrimSpace(v)
		if v == "" {
			return nil, false
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, true
}

// agentLine is one valid row of an agents file.
type agentLine struct {
	line      int
	id        string
	name      string
	extension string
	team      string
	role      routing.Role
	backupID  string   // "" for none
	skills    []string // sorted
}

// parseAgents reads an agents file and checks each row on its own; checks
// against other rows and the database come later.
func parseAgents(r io.Reader, file string) ([]agentLine, error) {
	recs, err := readRecords(r, file, agentColumns)
	if err != nil {
		return nil, err
	}
	out := make([]agentLine, 0, len(recs))
	for _, rec := range recs {
		a, reason := parseAgentRecord(rec)
		if reason != "" {
			return nil, &ImportError{File: file, Line: rec.line, Reason: reason}
		}
		out = append(out, a)
	}
	return out, nil
}

func parseAgentRecord(rec record) (agentLine, string) {
	f := rec.fields
	a := agentLine{line: rec.line, id: f[0], name: f[1], extension: f[2], team: f[3],
		role: routing.Role(f[4]), backupID: f[5]}
	if reason := checkKeys(true, "agent_id", a.id, "extension", a.extension, "team", a.team); reason != "" {
		return a, reason
	}
	if reason := checkKeys(false, "backup_agent_id", a.backupID); reason != "" {
		return a, reason
	}
	if a.name == "" {
		return a, "empty name"
	}
	if a.role != routing.RoleAgent && a.role != routing.RoleLeader {
		return a, fmt.Sprintf("role %q: want agent or leader", f[4])
	}
	if a.backupID == a.id {
		return a, fmt.Sprintf("agent %s is named as its own backup", a.id)
	}
	skills, ok := splitList(f[6])
	if !ok {
		return a, "skills: empty code between separators"
	}
	slices.Sort(skills)
	a.skills = skills
	return a, ""
}

// customerLine is one valid row of a customers file, the ID number already
// reduced to its keyed hash and last 4.
type customerLine struct {
	line         int
	id           string
	name         string
	idHash       string // "" when the row has no ID number
	idLast4      string
	phones       []string // normalised, in file order
	firstAgentID string   // "" for none
}

// parseCustomers reads a customers file and checks each row on its own.
// Reasons never quote the id_number field, valid or not, nor a phone that
// could not be normalised (it might be an ID number in the wrong column).
func parseCustomers(r io.Reader, file string, h IDHasher, phones callerid.Normalizer) ([]customerLine, error) {
	recs, err := readRecords(r, file, customerColumns)
	if err != nil {
		return nil, err
	}
	out := make([]customerLine, 0, len(recs))
	for _, rec := range recs {
		c, reason := parseCustomerRecord(rec, h, phones)
		if reason != "" {
			return nil, &ImportError{File: file, Line: rec.line, Reason: reason}
		}
		out = append(out, c)
	}
	return out, nil
}

func parseCustomerRecord(rec record, h IDHasher, phones callerid.Normalizer) (customerLine, string) {
	f := rec.fields
	c := customerLine{line: rec.line, id: f[0], name: f[1], firstAgentID: f[4]}
	if reason := checkKeys(true, "customer_id", c.id); reason != "" {
		return c, reason
	}
	if reason := checkKeys(false, "first_agent_id", c.firstAgentID); reason != "" {
		return c, reason
	}
	if c.name == "" {
		return c, "empty name"
	}
	if f[2] != "" {
		n, err := idnumber.Parse(f[2])
		switch {
		case errors.Is(err, idnumber.ErrChecksum):
			return c, "id_number: check character does not match"
		case err != nil:
			return c, "id_number: want 18 characters (17 digits and a check digit or X) or 15 digits"
		}
		c.idHash, c.idLast4 = h.Hash(n), n.Last4()
	}
	raw, ok := splitList(f[3])
	if !ok {
		return c, "phones: empty number between separators"
	}
	for i, p := range raw {
		norm, err := phones.Normalize(p)
		if err != nil {
			return c, fmt.Sprintf("phones: number %d of %d is not a usable phone number", i+1, len(raw))
		}
		if !slices.Contains(c.phones, norm) {
			c.phones = append(c.phones, norm)
		}
	}
	if c.idHash == "" && len(c.phones) == 0 {
		return c, "no phones and no id_number: the customer could never be recognised"
	}
	return c, ""
}

// headerCell is an unexpected header cell as an error may quote it: a run
// of digits (an ID number or a phone where the header should be) is masked
// to its last 4 characters.
func headerCell(h string) string {
	if len(h) > 6 && strings.Trim(strings.ToUpper(h), "0123456789X*") == "" {
		return idnumber.Mask(h)
	}
	return h
}
