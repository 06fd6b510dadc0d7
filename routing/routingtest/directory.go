package routingtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/routing/idnumber"
)

// Directory is an in-memory routing.Directory and routing.FirstAgentBinder.
// Method names for Fail are the interface's: "CustomerByPhone",
// "CustomerByIDNumber", "BindPhone", "CreateCustomer", "Chain", "Agent",
// "BindFirstAgent".
type Directory struct {
	faults
	// Clock, when set, advances by Latency on every call.
	Clock   *Clock
	Latency time.Duration

	mu          sync.Mutex
	agents      map[string]routing.Agent
	customers   map[string]routing.Customer
	byPhone     map[string]string // phone → customer ID
	byID        map[string]string // canonical ID number → customer ID
	bindings    []routing.Binding
	created     []routing.NewCustomer
	firstAgents []routing.FirstAgentBinding
	calls       []string
}

var (
	_ routing.Directory        = (*Directory)(nil)
	_ routing.FirstAgentBinder = (*Directory)(nil)
)

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{
		agents:    map[string]routing.Agent{},
		customers: map[string]routing.Customer{},
		byPhone:   map[string]string{},
		byID:      map[string]string{},
	}
}

// AddAgent adds or replaces an agent.
func (d *Directory) AddAgent(a routing.Agent) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.agents[a.ID] = a
}

// AddCustomer adds a customer owning phones (normalised) and, unless
// idNumber is "", that ID number, which must be valid.
func (d *Directory) AddCustomer(c routing.Customer, phones []string, idNumber string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if idNumber != "" {
		n, err := idnumber.Parse(idNumber)
		if err != nil {
			panic(fmt.Sprintf("routingtest: customer %s: %v", c.ID, err))
		}
		d.byID[n.Reveal()] = c.ID
		c.IDLast4 = n.Last4()
	}
	d.customers[c.ID] = c
	for _, p := range phones {
		d.byPhone[p] = c.ID
	}
}

// Customer returns a customer as stored now.
func (d *Directory) Customer(id string) (routing.Customer, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.customers[id]
	return c, ok
}

// Bindings returns the BindPhone calls that succeeded.
func (d *Directory) Bindings() []routing.Binding {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.bindings)
}

// Created returns the CreateCustomer calls that succeeded.
func (d *Directory) Created() []routing.NewCustomer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.created)
}

// FirstAgents returns the BindFirstAgent calls that succeeded.
func (d *Directory) FirstAgents() []routing.FirstAgentBinding {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.firstAgents)
}

// Calls returns the names of the methods called, in order.
func (d *Directory) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

func (d *Directory) enter(ctx context.Context, method string) error {
	d.Clock.Advance(d.Latency)
	d.mu.Lock()
	d.calls = append(d.calls, method)
	d.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	return d.failure(method)
}

// CustomerByPhone implements routing.Directory.
func (d *Directory) CustomerByPhone(ctx context.Context, phone string) (routing.Customer, error) {
	if err := d.enter(ctx, "CustomerByPhone"); err != nil {
		return routing.Customer{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	id, ok := d.byPhone[phone]
	if !ok {
		return routing.Customer{}, fmt.Errorf("customer by phone %s: %w", phone, routing.ErrNotFound)
	}
	return d.customers[id], nil
}

// CustomerByIDNumber implements routing.Directory.
func (d *Directory) CustomerByIDNumber(ctx context.Context, n idnumber.Number) (routing.Customer, error) {
	if err := d.enter(ctx, "CustomerByIDNumber"); err != nil {
		return routing.Customer{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	id, ok := d.byID[n.Reveal()]
	if !ok {
		return routing.Customer{}, fmt.Errorf("customer by id number %s: %w", n, routing.ErrNotFound)
	}
	return d.customers[id], nil
}

// BindPhone implements routing.Directory.
func (d *Directory) BindPhone(ctx context.Context, b routing.Binding) error {
	if err := d.enter(ctx, "BindPhone"); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.customers[b.CustomerID]; !ok {
		return fmt.Errorf("bind phone to %s: %w", b.CustomerID, routing.ErrNotFound)
	}
	d.byPhone[b.Phone] = b.CustomerID
	d.bindings = append(d.bindings, b)
	return nil
}

// CreateCustomer implements routing.Directory; new customers get IDs
// "new-1", "new-2", …
func (d *Directory) CreateCustomer(ctx context.Context, nc routing.NewCustomer) (routing.Customer, error) {
	if err := d.enter(ctx, "CreateCustomer"); err != nil {
		return routing.Customer{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := routing.Customer{ID: fmt.Sprintf("new-%d", len(d.created)+1), FirstAgentID: nc.FirstAgentID}
	if !nc.IDNumber.IsZero() {
		d.byID[nc.IDNumber.Reveal()] = c.ID
		c.IDLast4 = nc.IDNumber.Last4()
	}
	if nc.Phone != "" {
		d.byPhone[nc.Phone] = c.ID
	}
	d.customers[c.ID] = c
	d.created = append(d.created, nc)
	return c, nil
}

// BindFirstAgent implements routing.FirstAgentBinder.
func (d *Directory) BindFirstAgent(ctx context.Context, b routing.FirstAgentBinding) error {
	if err := d.enter(ctx, "BindFirstAgent"); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.customers[b.CustomerID]
	if !ok {
		return fmt.Errorf("bind first agent of %s: %w", b.CustomerID, routing.ErrNotFound)
	}
	c.FirstAgentID = b.AgentID
	d.customers[c.ID] = c
	d.firstAgents = append(d.firstAgents, b)
	return nil
}

// Chain implements routing.Directory: the first agent, their backup, the
// other agents of their team (by ID) and the team's leader.
func (d *Directory) Chain(ctx context.Context, firstAgentID string) (routing.Chain, error) {
	if err := d.enter(ctx, "Chain"); err != nil {
		return routing.Chain{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	first, ok := d.agents[firstAgentID]
	if !ok {
		return routing.Chain{}, fmt.Errorf("chain of %s: %w", firstAgentID, routing.ErrNotFound)
	}
	ch := routing.Chain{First: first}
	if b, ok := d.agents[first.BackupID]; ok && b.ID != first.ID {
		ch.Backup = &b
	}
	ids := make([]string, 0, len(d.agents))
	for id := range d.agents {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		a := d.agents[id]
		if a.Team != first.Team || a.ID == first.ID || (ch.Backup != nil && a.ID == ch.Backup.ID) {
			continue
		}
		if a.Role == routing.RoleLeader {
			ch.Leader = &a
			continue
		}
		ch.Team = append(ch.Team, a)
	}
	return ch, nil
}

// Agent implements routing.Directory.
func (d *Directory) Agent(ctx context.Context, id string) (routing.Agent, error) {
	if err := d.enter(ctx, "Agent"); err != nil {
		return routing.Agent{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.agents[id]
	if !ok {
		return routing.Agent{}, fmt.Errorf("agent %s: %w", id, routing.ErrNotFound)
	}
	return a, nil
}
