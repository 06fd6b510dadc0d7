package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/lib/pq"

	"github.com/stickyacd/stickyacd/routing"
)

// agentsChannel is the NOTIFY channel an agents import signals on; the
// payload is the schema, so instances on other schemas ignore it.
const agentsChannel = "stickyacd_agents"

const (
	sqlNotifyAgents = `SELECT pg_notify('` + agentsChannel + `', current_schema())`
	sqlLoadAgents   = `
SELECT a.id, a.name, a.extension, a.team_id, a.role, coalesce(a.backup_agent_id, '') AS backup_agent_id,
       coalesce(array_agg(s.business_type ORDER BY s.business_type)
                FILTER (WHERE s.business_type IS NOT NULL), '{}') AS skills
  FROM agents a LEFT JOIN agent_skills s ON s.agent_id = a.id
 GROUP BY a.id
 ORDER BY a.id`
)

// Reconnect back-off of the LISTEN connection.
const (
	listenMinReconnect = 100 * time.Millisecond
	listenMaxReconnect = 5 * time.Second
)

type agentRow struct {
	ID        string         `db:"id"`
	Name      string         `db:"name"`
	Extension string         `db:"extension"`
	Team      string         `db:"team_id"`
	Role      string         `db:"role"`
	BackupID  string         `db:"backup_agent_id"`
	Skills    pq.StringArray `db:"skills"`
}

// agentSnapshot is an immutable view of all agents; a refresh swaps in a
// new one. Lists of IDs are sorted for stable output.
type agentSnapshot struct {
	byID      map[string]*routing.Agent
	byExt     map[string]string
	teams     map[string][]string // team → member IDs, leader included
	leaders   map[string]string   // team → leader ID
	withSkill map[string][]string // business-type code → agent IDs
	ids       []string
}

func newAgentSnapshot(rows []agentRow) *agentSnapshot {
	s := &agentSnapshot{
		byID:      make(map[string]*routing.Agent, len(rows)),
		byExt:     make(map[string]string, len(rows)),
		teams:     map[string][]string{},
		leaders:   map[string]string{},
		withSkill: map[string][]string{},
		ids:       make([]string, 0, len(rows)),
	}
	// rows come ordered by ID, so every list built here is sorted.
	for _, row := range rows {
		a := &routing.Agent{
			ID: row.ID, Name: row.Name, Extension: row.Extension, Team: row.Team,
			Role: routing.Role(row.Role), BackupID: row.BackupID, Skills: []string(row.Skills),
		}
		s.byID[a.ID] = a
		s.byExt[a.Extension] = a.ID
		s.teams[a.Team] = append(s.teams[a.Team], a.ID)
		if a.Role == routing.RoleLeader {
			s.leaders[a.Team] = a.ID
		}
		for _, code := range a.Skills {
			s.withSkill[code] = append(s.withSkill[code], a.ID)
		}
		s.ids = append(s.ids, a.ID)
	}
	return s
}

// agent returns a copy the caller may change.
func (s *agentSnapshot) agent(id string) (routing.Agent, bool) {
	a, ok := s.byID[id]
	if !ok {
		return routing.Agent{}, false
	}
	c := *a
	c.Skills = slices.Clone(a.Skills)
	return c, true
}

func (s *agentSnapshot) list(ids []string) []routing.Agent {
	out := make([]routing.Agent, 0, len(ids))
	for _, id := range ids {
		a, _ := s.agent(id)
		out = append(out, a)
	}
	return out
}

// Refresh reloads the agent snapshot now. Run calls it; tests and the
// import command may too.
func (r *Repo) Refresh(ctx context.Context) error {
	var rows []agentRow
	if err := r.db.pool.SelectContext(ctx, &rows, sqlLoadAgents); err != nil {
		return fmt.Errorf("load agents: %w", err)
	}
	r.agents.Store(newAgentSnapshot(rows))
	return nil
}

// Run keeps the agent snapshot fresh until ctx ends: at once on the NOTIFY an
// agents import sends, after the LISTEN connection comes back, and every
// Refresh period. A failed reload keeps the previous snapshot and is logged;
// Run returns nil when ctx ends and an error only if it cannot listen.
func (r *Repo) Run(ctx context.Context) error {
	l := pq.NewListener(r.db.dsn, listenMinReconnect, listenMaxReconnect, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			r.log.Warn("agent notifications: connection", "event", ev.String(), "err", err)
		}
	})
	stopClosing := context.AfterFunc(ctx, func() { _ = l.Close() })
	defer func() {
		stopClosing()
		_ = l.Close()
		// Notify closes once the listener's goroutine has ended.
		for range l.Notify {
		}
	}()
	if err := l.Listen(agentsChannel); err != nil {
		if ctx.Err() != nil && errors.Is(err, net.ErrClosed) {
			return nil
		}
		return fmt.Errorf("listen %s: %w", agentsChannel, err)
	}
	// Changes made between NewRepo's load and the LISTEN sent no
	// notification this listener could see.
	r.refreshLogged(ctx, "listening")
	tick := time.NewTicker(r.refresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case n, ok := <-l.Notify:
			switch {
			case !ok && ctx.Err() != nil: // closed by ctx ending
				return nil
			case !ok:
				return errors.New("agent notifications: listener stopped")
			case n == nil: // reconnected: notifications may have been missed
				r.refreshLogged(ctx, "reconnected")
			case n.Extra == r.schema:
				r.refreshLogged(ctx, "notified")
			}
		case <-tick.C:
			r.refreshLogged(ctx, "periodic")
		}
	}
}

func (r *Repo) refreshLogged(ctx context.Context, why string) {
	if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
		r.log.WarnContext(ctx, "agent snapshot not refreshed; keeping the previous one", "why", why, "err", err)
	}
}

// missRefreshEvery limits the reloads a snapshot miss causes.
const missRefreshEvery = time.Second

// fresh returns the snapshot, reloaded first if it lacks what has (an agent
// imported on another instance, whose notification has not arrived yet);
// at most once every missRefreshEvery. Only for look-ups by agent ID, which
// come from stored data and miss only when the snapshot lags.
func (r *Repo) fresh(ctx context.Context, has func(*agentSnapshot) bool) *agentSnapshot {
	s := r.agents.Load()
	if has(s) {
		return s
	}
	now := time.Now().UnixNano()
	last := r.lastMiss.Load()
	if now-last < int64(missRefreshEvery) || !r.lastMiss.CompareAndSwap(last, now) {
		return s
	}
	r.refreshLogged(ctx, "unknown agent looked up")
	return r.agents.Load()
}

func (r *Repo) hasAgent(ctx context.Context, id string) *agentSnapshot {
	return r.fresh(ctx, func(s *agentSnapshot) bool { _, ok := s.agent(id); return ok })
}

// Agent returns one agent from the snapshot.
func (r *Repo) Agent(ctx context.Context, id string) (routing.Agent, error) {
	a, ok := r.hasAgent(ctx, id).agent(id)
	if !ok {
		return routing.Agent{}, fmt.Errorf("agent %s: %w", id, ErrNotFound)
	}
	return a, nil
}

// AgentByExtension finds the agent using a phone extension (feature codes
// identify agents by the caller's extension).
// A miss is common (every caller's channel is looked up) and reloads
// nothing; the snapshot catches up with imports by notification.
func (r *Repo) AgentByExtension(_ context.Context, ext string) (routing.Agent, error) {
	s := r.agents.Load()
	a, ok := s.agent(s.byExt[ext])
	if !ok {
		return routing.Agent{}, fmt.Errorf("agent with extension %s: %w", ext, ErrNotFound)
	}
	return a, nil
}

// Agents lists every agent, ordered by ID.
func (r *Repo) Agents(_ context.Context) ([]routing.Agent, error) {
	s := r.agents.Load()
	return s.list(s.ids), nil
}

// AgentsWithSkill lists the agents having a business type's skill, ordered
// by ID; none is not an error.
func (r *Repo) AgentsWithSkill(_ context.Context, code string) ([]routing.Agent, error) {
	s := r.agents.Load()
	return s.list(s.withSkill[code]), nil
}

// TeamLeader returns the team's leader.
func (r *Repo) TeamLeader(_ context.Context, team string) (routing.Agent, error) {
	s := r.agents.Load()
	a, ok := s.agent(s.leaders[team])
	if !ok {
		return routing.Agent{}, fmt.Errorf("leader of team %s: %w", team, ErrNotFound)
	}
	return a, nil
}

// Chain returns the candidates of steps 011–014 for a first agent. Nobody
// appears twice: the team excludes the first agent, the backup and the
// leader, and the leader is left out when they are the first agent or the
// backup (an agent who already failed at an earlier step is not rung again).
func (r *Repo) Chain(ctx context.Context, firstAgentID string) (routing.Chain, error) {
	s := r.hasAgent(ctx, firstAgentID)
	first, ok := s.agent(firstAgentID)
	if !ok {
		return routing.Chain{}, fmt.Errorf("chain of agent %s: %w", firstAgentID, ErrNotFound)
	}
	c := routing.Chain{First: first}
	if b, ok := s.agent(first.BackupID); ok {
		c.Backup = &b
	}
	leaderID := s.leaders[first.Team]
	if leaderID != first.ID && leaderID != first.BackupID {
		if l, ok := s.agent(leaderID); ok {
			c.Leader = &l
		}
	}
	members := s.teams[first.Team]
	c.Team = make([]routing.Agent, 0, len(members))
	for _, id := range members {
		if id == first.ID || id == first.BackupID || id == leaderID {
			continue
		}
		a, _ := s.agent(id)
		c.Team = append(c.Team, a)
	}
	return c, nil
}
