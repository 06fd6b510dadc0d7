package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/routing/idnumber"
	"github.com/stickyacd/stickyacd/store"
)

// westTeam adds a team large enough to show every part of a chain.
const westTeam = `agent_id,name,extension,team,role,backup_agent_id,skills
W1,Wen Lead,4001,west,leader,,loan|card
W2,Wen Two,4002,west,agent,W3,loan
W3,Wen Three,4003,west,agent,W2,card
W4,Wen Four,4004,west,agent,,loan
W5,Wen Five,4005,west,agent,S2001,
`

func repoFixture(t *testing.T) (*fixture, *store.Repo) {
	t.Helper()
	f := newFixture(t)
	f.importContract(t)
	if _, err := f.importString("agents", "west.csv", westTeam); err != nil {
		t.Fatal(err)
	}
	return f, f.repo(t)
}

func agentIDs(as []routing.Agent) []string {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	return ids
}

func ptrID(a *routing.Agent) string {
	if a == nil {
		return ""
	}
	return a.ID
}

func TestChain(t *testing.T) {
	t.Parallel()
	_, r := repoFixture(t)
	tests := []struct {
		first  string
		backup string
		team   []string
		leader string
	}{
		{first: "W2", backup: "W3", team: []string{"W4", "W5"}, leader: "W1"},
		// A backup in another team is still the backup; it is not in the team step.
		{first: "W5", backup: "S2001", team: []string{"W2", "W3", "W4"}, leader: "W1"},
		// The leader as first agent is not rung again at step 014.
		{first: "W1", team: []string{"W2", "W3", "W4", "W5"}},
		// Nor when the leader is the backup.
		{first: "S2004", backup: "S2005", team: []string{}},
		{first: "S2001", backup: "S2002", team: []string{}, leader: "S2003"},
	}
	for _, tt := range tests {
		t.Run(tt.first, func(t *testing.T) {
			t.Parallel()
			c, err := r.Chain(context.Background(), tt.first)
			if err != nil {
				t.Fatal(err)
			}
			if c.First.ID != tt.first || ptrID(c.Backup) != tt.backup || ptrID(c.Leader) != tt.leader ||
				!slices.Equal(agentIDs(c.Team), tt.team) {
				t.Fatalf("chain: first %s backup %q team %v leader %q; want %s %q %v %q",
					c.First.ID, ptrID(c.Backup), agentIDs(c.Team), ptrID(c.Leader), tt.first, tt.backup, tt.team, tt.leader)
			}
		})
	}
	t.Run("unknown first agent", func(t *testing.T) {
		t.Parallel()
		_, err := r.Chain(context.Background(), "nobody")
		if !errors.Is(err, routing.ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("error %v, want not found", err)
		}
	})
}

func TestAgentQueries(t *testing.T) {
	t.Parallel()
	_, r := repoFixture(t)
	ctx := context.Background()

	a, err := r.Agent(ctx, "S2001")
	want := routing.Agent{ID: "S2001", Name: "Ada Lin", Extension: "2001", Team: "north", Role: routing.RoleAgent,
		BackupID: "S2002", Skills: []string{"card", "loan"}}
	if err != nil || a.ID != want.ID || a.Name != want.Name || a.Extension != want.Extension || a.Team != want.Team ||
		a.Role != want.Role || a.BackupID != want.BackupID || !slices.Equal(a.Skills, want.Skills) {
		t.Fatalf("Agent(S2001) = %+v, %v; want %+v", a, err, want)
	}
	a.Skills[0] = "changed" // a copy: the snapshot must not change
	if again, _ := r.Agent(ctx, "S2001"); again.Skills[0] != "card" {
		t.Fatalf("changing a returned agent changed the snapshot: %v", again.Skills)
	}
	if _, err := r.Agent(ctx, "nobody"); !errors.Is(err, routing.ErrNotFound) {
		t.Fatalf("Agent(nobody): %v, want not found", err)
	}
	if a, err := r.AgentByExtension(ctx, "4003"); err != nil || a.ID != "W3" {
		t.Fatalf("AgentByExtension(4003) = %s, %v", a.ID, err)
	}
	if _, err := r.AgentByExtension(ctx, "9999"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AgentByExtension(9999): %v, want not found", err)
	}
	all, err := r.Agents(ctx)
	if err != nil || len(all) != 10 || all[0].ID != "S2001" || all[9].ID != "W5" {
		t.Fatalf("Agents: %v, %v", agentIDs(all), err)
	}
	card, err := r.AgentsWithSkill(ctx, "card")
	if wantIDs := []string{"S2001", "S2002", "S2003", "S2005", "W1", "W3"}; err != nil || !slices.Equal(agentIDs(card), wantIDs) {
		t.Fatalf("AgentsWithSkill(card) = %v, %v; want %v", agentIDs(card), err, wantIDs)
	}
	if none, err := r.AgentsWithSkill(ctx, "mortgage"); err != nil || len(none) != 0 {
		t.Fatalf("AgentsWithSkill(mortgage) = %v, %v; want none", agentIDs(none), err)
	}
	if l, err := r.TeamLeader(ctx, "south"); err != nil || l.ID != "S2005" {
		t.Fatalf("TeamLeader(south) = %s, %v", l.ID, err)
	}
	if _, err := r.TeamLeader(ctx, "nowhere"); !errors.Is(err, routing.ErrNotFound) {
		t.Fatalf("TeamLeader(nowhere): %v, want not found", err)
	}
}

func TestCustomerLookups(t *testing.T) {
	t.Parallel()
	_, r := repoFixture(t)
	ctx := context.Background()
	tests := []struct {
		phone string
		want  routing.Customer
	}{
		{"13900139001", routing.Customer{ID: "K01", Name: "Gao Ming", FirstAgentID: "S2001", IDLast4: "0011"}},
		{"2188880002", routing.Customer{ID: "K02", Name: "Hu Lan", FirstAgentID: "S2002", IDLast4: "0020"}},
	}
	for _, tt := range tests {
		if got, err := r.CustomerByPhone(ctx, tt.phone); err != nil || got != tt.want {
			t.Errorf("CustomerByPhone(%s) = %+v, %v; want %+v", tt.phone, got, err, tt.want)
		}
	}
	if _, err := r.CustomerByPhone(ctx, "13999999999"); !errors.Is(err, routing.ErrNotFound) {
		t.Errorf("unknown phone: %v, want not found", err)
	}
	n, err := idnumber.Parse("440304197706150031")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.CustomerByIDNumber(ctx, n); err != nil || got.ID != "K03" {
		t.Errorf("CustomerByIDNumber = %+v, %v; want K03", got, err)
	}
	unknown, err := idnumber.Parse(newIDs[5])
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.CustomerByIDNumber(ctx, unknown)
	if !errors.Is(err, routing.ErrNotFound) {
		t.Fatalf("unknown ID number: %v, want not found", err)
	}
	if strings.Contains(err.Error(), newIDs[5]) || !strings.Contains(err.Error(), newIDs[5][14:]) {
		t.Fatalf("error %q: want the number masked to its last 4", err)
	}
}

type binding struct {
	Phone      string  `db:"phone"`
	CustomerID string  `db:"customer_id"`
	How        string  `db:"how"`
	CallUUID   *string `db:"call_uuid"`
}

func bindings(t *testing.T, f *fixture, phone string) []binding {
	t.Helper()
	var bs []binding
	err := f.db.SQL().SelectContext(context.Background(), &bs,
		`SELECT phone, customer_id, how, call_uuid FROM phone_bindings WHERE phone = $1 ORDER BY id`, phone)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func TestBindPhone(t *testing.T) {
	t.Parallel()
	f, r := repoFixture(t)
	ctx := context.Background()
	const phone = "13700000001"

	if err := r.BindPhone(ctx, routing.Binding{CallUUID: "call-1", CustomerID: "K01", Phone: phone}); err != nil {
		t.Fatal(err)
	}
	if c, err := r.CustomerByPhone(ctx, phone); err != nil || c.ID != "K01" {
		t.Fatalf("after binding: %+v, %v", c, err)
	}
	// Again for the same customer: nothing new to audit.
	if err := r.BindPhone(ctx, routing.Binding{CallUUID: "call-2", CustomerID: "K01", Phone: phone}); err != nil {
		t.Fatal(err)
	}
	// The number now proves to be K03's: it moves.
	if err := r.BindPhone(ctx, routing.Binding{CallUUID: "call-3", CustomerID: "K03", Phone: phone}); err != nil {
		t.Fatal(err)
	}
	if c, err := r.CustomerByPhone(ctx, phone); err != nil || c.ID != "K03" {
		t.Fatalf("after moving: %+v, %v", c, err)
	}
	bs := bindings(t, f, phone)
	if len(bs) != 2 || bs[0].CustomerID != "K01" || *bs[0].CallUUID != "call-1" || bs[0].How != "ivr_id_match" ||
		bs[1].CustomerID != "K03" || *bs[1].CallUUID != "call-3" {
		t.Fatalf("audit rows: %+v", bs)
	}
	err := r.BindPhone(ctx, routing.Binding{CallUUID: "call-4", CustomerID: "K99", Phone: "13700000002"})
	if !errors.Is(err, routing.ErrNotFound) {
		t.Fatalf("binding to an unknown customer: %v, want not found", err)
	}
}

func TestCreateCustomer(t *testing.T) {
	t.Parallel()
	f, r := repoFixture(t)
	ctx := context.Background()
	n, err := idnumber.Parse(newIDs[4])
	if err != nil {
		t.Fatal(err)
	}
	nc := routing.NewCustomer{CallUUID: "call-new-1", Phone: "13600000001", IDNumber: n, FirstAgentID: "W4"}
	c, err := r.CreateCustomer(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == "" || c.FirstAgentID != "W4" || c.IDLast4 != newIDs[4][14:] {
		t.Fatalf("created %+v", c)
	}
	if byPhone, err := r.CustomerByPhone(ctx, nc.Phone); err != nil || byPhone != c {
		t.Fatalf("by phone: %+v, %v; want %+v", byPhone, err, c)
	}
	if byID, err := r.CustomerByIDNumber(ctx, n); err != nil || byID != c {
		t.Fatalf("by ID number: %+v, %v; want %+v", byID, err, c)
	}
	if bs := bindings(t, f, nc.Phone); len(bs) != 1 || bs[0].How != "new_customer" || *bs[0].CallUUID != nc.CallUUID {
		t.Fatalf("audit rows: %+v", bs)
	}
	// The same call again (a retry) returns the same customer.
	again, err := r.CreateCustomer(ctx, nc)
	if err != nil || again != c {
		t.Fatalf("retry: %+v, %v; want %+v", again, err, c)
	}

	// An anonymous caller who keyed nothing usable, with binding off.
	bare, err := r.CreateCustomer(ctx, routing.NewCustomer{CallUUID: "call-new-2"})
	if err != nil || bare.ID == "" || bare.ID == c.ID || bare.FirstAgentID != "" || bare.IDLast4 != "" {
		t.Fatalf("bare customer: %+v, %v", bare, err)
	}

	_, err = r.CreateCustomer(ctx, routing.NewCustomer{CallUUID: "call-new-3", Phone: "13900139001"})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("phone owned by K01: %v, want ErrConflict", err)
	}
	_, err = r.CreateCustomer(ctx, routing.NewCustomer{CallUUID: "call-new-4", Phone: "13600000004", IDNumber: n})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("ID number already known: %v, want ErrConflict", err)
	}
	if strings.Contains(err.Error(), newIDs[4]) {
		t.Fatalf("error %q holds the raw ID number", err)
	}
}

func TestSaveCallRoundTrip(t *testing.T) {
	t.Parallel()
	_, r := repoFixture(t)
	ctx := context.Background()
	start := time.Date(2026, 11, 30, 9, 15, 0, 123456000, time.UTC)
	task := int64(42)
	tr := &routing.Trace{
		UUID: "0b9e7f0e-call", Caller: "13900139001", CustomerID: "K01",
		Entry: routing.EntryKnown, Outcome: routing.OutcomeCallback, TaskID: &task,
		Steps: []routing.StepTrace{
			{Step: routing.StepLookup, StartedAt: start, MS: 0.4, Result: "match"},
			{Step: routing.StepFirst, StartedAt: start.Add(time.Millisecond), MS: 15000,
				Candidates: []routing.CandidateTrace{{AgentID: "S2001", Result: routing.ResultNoAnswer, Cause: "NO_ANSWER"}}},
			{Step: routing.StepBackup, StartedAt: start.Add(15 * time.Second), MS: 0.2,
				Candidates: []routing.CandidateTrace{{AgentID: "S2002", Result: routing.ResultBreak}}},
		},
		StartedAt: start, EndedAt: start.Add(40 * time.Second), DecisionMS: 15001.5,
	}
	if err := r.SaveCall(ctx, tr); err != nil {
		t.Fatal(err)
	}
	got, err := r.Call(ctx, tr.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if got.UUID != tr.UUID || got.Caller != tr.Caller || got.CustomerID != tr.CustomerID || got.Entry != tr.Entry ||
		got.Outcome != tr.Outcome || got.TaskID == nil || *got.TaskID != task || !got.StartedAt.Equal(tr.StartedAt) ||
		!got.EndedAt.Equal(tr.EndedAt) || got.DecisionMS != tr.DecisionMS || len(got.Steps) != 3 ||
		!got.Steps[1].StartedAt.Equal(tr.Steps[1].StartedAt) || got.Steps[1].Candidates[0] != tr.Steps[1].Candidates[0] ||
		got.Steps[2].Candidates[0] != tr.Steps[2].Candidates[0] || got.Steps[0].Result != "match" {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, tr)
	}

	// Saving the call again replaces the record.
	tr.Outcome, tr.AgentID, tr.TaskID = routing.OutcomeBridged, "S2003", nil
	if err := r.SaveCall(ctx, tr); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Call(ctx, tr.UUID); err != nil || got.Outcome != routing.OutcomeBridged || got.AgentID != "S2003" || got.TaskID != nil {
		t.Fatalf("after second save: %+v, %v", got, err)
	}
	if _, err := r.Call(ctx, "no-such-call"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown call: %v, want ErrNotFound", err)
	}
}

func TestRunReloadsAgentsOnImport(t *testing.T) {
	t.Parallel()
	f, r := repoFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	// The import may commit before Run listens; Run's reload after LISTEN
	// covers that, the notification covers the rest.
	if _, err := f.importString("agents", "agents.csv", `agent_id,name,extension,team,role,backup_agent_id,skills
W6,Wen Six,4006,west,agent,W2,loan
`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := r.Chain(context.Background(), "W2")
		if err == nil && slices.Contains(agentIDs(c.Team), "W6") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the snapshot never showed the imported agent W6: %v, %v", agentIDs(c.Team), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBindFirstAgent(t *testing.T) {
	t.Parallel()
	f, r := repoFixture(t)
	ctx := context.Background()
	bare, err := r.CreateCustomer(ctx, routing.NewCustomer{CallUUID: "call-a", Phone: "13600000009"})
	if err != nil {
		t.Fatal(err)
	}
	bind := func(call, agent string) error {
		return r.BindFirstAgent(ctx, routing.FirstAgentBinding{CallUUID: call, CustomerID: bare.ID, AgentID: agent})
	}
	if err := bind("call-b", "W4"); err != nil {
		t.Fatal(err)
	}
	if c, err := r.CustomerByPhone(ctx, "13600000009"); err != nil || c.FirstAgentID != "W4" {
		t.Fatalf("after binding: %+v, %v", c, err)
	}
	if err := bind("call-c", "W4"); err != nil { // already so: no audit row
		t.Fatal(err)
	}
	if err := bind("call-d", "W5"); err != nil {
		t.Fatal(err)
	}
	var audit []string
	err = f.db.SQL().SelectContext(ctx, &audit, `
SELECT call_uuid || ':' || agent_id || ':' || coalesce(previous_agent_id, '-')
  FROM first_agent_bindings WHERE customer_id = $1 ORDER BY id`, bare.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"call-b:W4:-", "call-d:W5:W4"}; !slices.Equal(audit, want) {
		t.Fatalf("audit %v, want %v", audit, want)
	}
	if err := bind("call-e", "nobody"); !errors.Is(err, routing.ErrNotFound) {
		t.Fatalf("unknown agent: %v, want not found", err)
	}
	err = r.BindFirstAgent(ctx, routing.FirstAgentBinding{CallUUID: "call-f", CustomerID: "K99", AgentID: "W4"})
	if !errors.Is(err, routing.ErrNotFound) {
		t.Fatalf("unknown customer: %v, want not found", err)
	}
}

// An agent imported after the snapshot was taken (on another instance, its
// notification not in yet) is found by a look-up all the same: a miss
// reloads the snapshot.
func TestUnknownAgentReloadsSnapshot(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.repo(t) // empty directory, no Run to hear the import's NOTIFY
	f.importContract(t)
	ctx := context.Background()
	if _, err := r.Chain(ctx, "S2001"); err != nil {
		t.Fatalf("chain of an agent imported after the snapshot: %v", err)
	}
	if a, err := r.AgentByExtension(ctx, "2004"); err != nil || a.ID != "S2004" {
		t.Fatalf("agent by extension after the reload: %+v, %v", a, err)
	}
	if _, err := r.Agent(ctx, "NOBODY"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown agent: %v", err)
	}
}
