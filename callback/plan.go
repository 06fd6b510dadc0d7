package callback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stickyacd/stickyacd/routing"
)

// plan decides what happens to a batch of leased tasks (steps 05 and 06).
// It reads the agents, who is online and the open-task counts once for the
// whole batch, then keeps the counts current as it assigns, so one batch
// spreads its tasks instead of piling them on the agent that was least
// loaded when it started.
type plan struct {
	w   *Worker
	now time.Time

	// online lists, per business type, the online agents with that skill,
	// longest idle first.
	online map[string][]string
	// loadErr is why the online agents of a business type are unknown.
	loadErr map[string]error
	team    map[string]string // agent → team, for every agent seen
	counts  map[string]int    // agent → open tasks
}

// newPlan reads what deciding the tasks needs: the agents having the
// skills of tasks that may go to the least-loaded agent, which of them are
// online, and their open-task counts.
func (w *Worker) newPlan(ctx context.Context, now time.Time, tasks []Task) *plan {
	p := w.emptyPlan(now)
	var codes []string
	seen := map[string]bool{}
	for _, t := range tasks {
		if !p.mayGoToLeastLoaded(t) || seen[t.BusinessType] {
			continue
		}
		seen[t.BusinessType] = true
		codes = append(codes, t.BusinessType)
	}
	p.load(ctx, codes)
	return p
}

func (w *Worker) emptyPlan(now time.Time) *plan {
	return &plan{
		w: w, now: now,
		online:  map[string][]string{},
		loadErr: map[string]error{},
		team:    map[string]string{},
		counts:  map[string]int{},
	}
}

// mayGoToLeastLoaded: a pending task without a first agent (05), or an
// overdue one of an unknown customer that has reminders left (06).
func (p *plan) mayGoToLeastLoaded(t Task) bool {
	if t.sticky() {
		return false
	}
	if t.Status == StatusPending {
		return true
	}
	return !p.now.Before(t.DueAt) && !t.Escalated && t.Reminders < p.w.cfg.MaxReminders
}

func (p *plan) load(ctx context.Context, codes []string) {
	if len(codes) == 0 {
		return
	}
	skilled := map[string][]string{}
	var ids []string
	inIDs := map[string]bool{}
	for _, code := range codes {
		agents, err := p.w.dir.AgentsWithSkill(ctx, code)
		if err != nil {
			p.loadErr[code] = fmt.Errorf("agents with skill %s: %w", code, err)
			continue
		}
		for _, a := range agents {
			p.team[a.ID] = a.Team
			skilled[code] = append(skilled[code], a.ID)
			if !inIDs[a.ID] {
				inIDs[a.ID] = true
				ids = append(ids, a.ID)
			}
		}
	}
	if len(ids) == 0 {
		return
	}
	fail := func(err error) {
		for code := range skilled {
			p.loadErr[code] = err
		}
	}
	online, err := p.w.avail.OnlineAmong(ctx, ids)
	if err != nil {
		fail(fmt.Errorf("online agents: %w", err))
		return
	}
	if len(online) == 0 {
		return
	}
	counts, err := p.w.store.OpenCounts(ctx, online)
	if err != nil {
		fail(fmt.Errorf("open task counts: %w", err))
		return
	}
	p.counts = counts
	// online is in presence's longest-idle order: each skill's list keeps
	// it by filtering, in one pass (no sort: with tens of thousands of
	// agents a sort per skill and pass was most of the worker's CPU).
	for code, agents := range skilled {
		has := make(map[string]bool, len(agents))
		for _, id := range agents {
			has[id] = true
		}
		var on []string
		for _, id := range online {
			if has[id] {
				on = append(on, id)
			}
		}
		p.online[code] = on
	}
}

// pick returns the online agent with the skill having the fewest open
// tasks, ties to the longest idle, never exclude; with preferTeam set, an
// agent of that team wins over any other.
func (p *plan) pick(code, exclude, preferTeam string) (string, error) {
	if err := p.loadErr[code]; err != nil {
		return "", err
	}
	best, bestInTeam := "", false
	for _, id := range p.online[code] {
		if id == exclude {
			continue
		}
		inTeam := preferTeam != "" && p.team[id] == preferTeam
		switch {
		case best == "",
			inTeam && !bestInTeam,
			inTeam == bestInTeam && p.counts[id] < p.counts[best]:
			best, bestInTeam = id, inTeam
		}
	}
	if best == "" {
		return "", ErrNoAgent
	}
	return best, nil
}

// teamOf returns an agent's team, "" when the directory does not know it.
func (p *plan) teamOf(ctx context.Context, agentID string) (string, error) {
	if team, ok := p.team[agentID]; ok {
		return team, nil
	}
	a, err := p.w.dir.Agent(ctx, agentID)
	if err != nil {
		return "", fmt.Errorf("agent %s: %w", agentID, err)
	}
	p.team[agentID] = a.Team
	return a.Team, nil
}

// decide returns the change for one leased task. Every outcome moves the
// task's next check past now or closes it, so a pass that claims until
// nothing is due ends.
func (p *plan) decide(ctx context.Context, t Task) Change {
	c := Change{Task: t}
	switch {
	case t.Status == StatusPending:
		p.assign(ctx, &c)
	case p.now.Before(t.DueAt):
		// Not overdue: someone moved the task by hand; watch its due time.
		c.Task.NextCheckAt = t.DueAt
	default:
		p.chase(ctx, &c)
	}
	c.seal(p.w.cfg.Location)
	return c
}

// assign is step 05.
func (p *plan) assign(ctx context.Context, c *Change) {
	t := &c.Task
	if t.sticky() {
		team, err := p.teamOf(ctx, t.FirstAgentID)
		if err != nil {
			// The task is that agent's whatever the snapshot says.
			p.w.log.Warn("callback: first agent not in the directory", "call_uuid", t.CallUUID, "task_id", t.ID, "agent_id", t.FirstAgentID, "err", err)
		}
		p.give(c, EventAssigned, t.FirstAgentID, team, "first agent of customer "+t.CustomerID)
		return
	}
	id, err := p.pick(t.BusinessType, "", "")
	if err != nil {
		if !errors.Is(err, ErrNoAgent) {
			p.w.log.Warn("callback: cannot choose an agent", "call_uuid", t.CallUUID, "task_id", t.ID, "err", err)
		}
		// Stays pending, looked at again after half its age so far
		// (between Interval and RemindEvery): a night without agents does
		// not rewrite every pending task every few seconds. An agent
		// coming online wakes them all at once (Kick).
		var age time.Duration
		if !t.CreatedAt.IsZero() {
			age = p.now.Sub(t.CreatedAt)
		}
		wait := min(max(age/2, p.w.cfg.Interval), p.w.cfg.RemindEvery)
		t.NextCheckAt = p.now.Add(wait)
		return
	}
	p.give(c, EventAssigned, id, p.team[id], fmt.Sprintf("least loaded online with skill %s (%d open)", t.BusinessType, p.counts[id]))
}

// chase is step 06 for an overdue task.
func (p *plan) chase(ctx context.Context, c *Change) {
	t := &c.Task
	late := fmt.Sprintf("overdue by %s", p.now.Sub(t.DueAt).Round(time.Second))
	switch {
	case t.Escalated:
		p.remind(c, late+"; escalated")
	case t.Reminders >= p.w.cfg.MaxReminders:
		p.escalate(ctx, c, late)
	case t.sticky():
		p.remind(c, late)
	default:
		p.reassignOverdue(c, late)
	}
}

func (p *plan) remind(c *Change, why string) {
	t := &c.Task
	p.raise(t)
	t.Reminders++
	t.NextCheckAt = p.now.Add(p.w.cfg.RemindEvery)
	p.event(c, EventReminded, t.AgentID, fmt.Sprintf("%s; reminder %d; priority %d", why, t.Reminders, t.Priority))
}

// reassignOverdue hands an unknown customer's overdue task to another
// least-loaded online agent with the skill, of the same team if possible;
// with nobody else online the current agent is reminded instead.
func (p *plan) reassignOverdue(c *Change, late string) {
	t := &c.Task
	id, err := p.pick(t.BusinessType, t.AgentID, t.TeamID)
	switch {
	case errors.Is(err, ErrNoAgent):
		p.remind(c, late+"; no other agent with the skill online")
	case err != nil:
		p.w.log.Warn("callback: cannot choose an agent", "call_uuid", t.CallUUID, "task_id", t.ID, "err", err)
		t.NextCheckAt = p.now.Add(p.w.cfg.Interval)
	default:
		from := t.AgentID
		p.raise(t)
		t.Reminders++
		p.counts[from]--
		p.give(c, EventReassigned, id, p.team[id], fmt.Sprintf("%s; from %s; reassignment %d; priority %d", late, from, t.Reminders, t.Priority))
	}
}

func (p *plan) escalate(ctx context.Context, c *Change, late string) {
	t := &c.Task
	team := t.TeamID
	if team == "" {
		var err error
		if team, err = p.teamOf(ctx, t.AgentID); err != nil {
			p.w.log.Warn("callback: agent not in the directory", "call_uuid", t.CallUUID, "task_id", t.ID, "agent_id", t.AgentID, "err", err)
		}
	}
	leader, err := p.w.dir.TeamLeader(ctx, team)
	if err != nil && !errors.Is(err, routing.ErrNotFound) {
		p.w.log.Warn("callback: cannot find the team leader", "call_uuid", t.CallUUID, "task_id", t.ID, "team", team, "err", err)
		t.NextCheckAt = p.now.Add(p.w.cfg.Interval)
		return
	}
	p.raise(t)
	t.Escalated = true
	t.NextCheckAt = p.now.Add(p.w.cfg.RemindEvery)
	after := fmt.Sprintf("%s after %d reminders; priority %d", late, t.Reminders, t.Priority)
	switch {
	case err != nil:
		p.event(c, EventEscalated, t.AgentID, fmt.Sprintf("%s; team %q has no leader, stays with %s", after, team, t.AgentID))
	case leader.ID == t.AgentID:
		p.event(c, EventEscalated, t.AgentID, after+"; the agent leads the team")
	default:
		from := t.AgentID
		p.counts[from]--
		p.give(c, EventEscalated, leader.ID, team, fmt.Sprintf("%s; from %s", after, from))
	}
}

func (p *plan) raise(t *Task) { t.Priority += p.w.cfg.PriorityStep }

// give assigns the task to agentID and records why.
func (p *plan) give(c *Change, kind EventKind, agentID, team, note string) {
	t := &c.Task
	t.AgentID, t.TeamID, t.Status = agentID, team, StatusAssigned
	t.NextCheckAt = p.w.firstCheck(p.now, t.DueAt)
	p.counts[agentID]++
	p.event(c, kind, agentID, note)
}

func (p *plan) event(c *Change, kind EventKind, agentID, note string) {
	c.add(p.now, kind, agentID, note)
	l := p.w.log.With("call_uuid", c.Task.CallUUID, "task_id", c.Task.ID, "agent_id", agentID, "kind", kind, "note", note)
	if kind == EventAssigned {
		l.Debug("callback task assigned")
		return
	}
	l.Info("callback task chased")
}

// firstCheck is when a newly assigned task is first checked: its due time,
// or one reminder period from now when it is already overdue, so an agent
// is not reminded of a task in the same breath as being given it.
func (w *Worker) firstCheck(now, due time.Time) time.Time {
	if due.After(now) {
		return due
	}
	return now.Add(w.cfg.RemindEvery)
}

// add appends an event and, for the kinds that concern an agent, a notice.
func (c *Change) add(at time.Time, kind EventKind, agentID, note string) {
	c.Events = append(c.Events, Event{At: at, Kind: kind, AgentID: agentID, Note: note})
	if notifies[kind] && agentID != "" {
		c.Notices = append(c.Notices, Notice{Key: uuid.NewString(), Kind: kind, At: at, AgentID: agentID, Note: note})
	}
}

// seal copies the final state of the task into the notices and writes
// their text, with times in loc.
func (c *Change) seal(loc *time.Location) {
	t := c.Task
	t.Events = []Event{}
	for i := range c.Notices {
		n := &c.Notices[i]
		n.Task = t
		n.Text = noticeText(*n, loc)
	}
}

var noticeTitles = map[EventKind]string{
	EventAssigned:   "New callback",
	EventReminded:   "Callback reminder",
	EventReassigned: "Callback handed over to you",
	EventEscalated:  "Escalated callback",
}

// noticeText is the one-line message an agent reads on a phone or screen.
func noticeText(n Notice, loc *time.Location) string {
	t := n.Task
	who := "unknown caller"
	if t.CustomerID != "" {
		who = "customer " + t.CustomerID
	}
	number := t.Caller
	if number == "" {
		number = "the customer"
	}
	return fmt.Sprintf("%s: call %s back (%s, %s, priority %d, due %s). %s",
		noticeTitles[n.Kind], number, who, t.BusinessType, t.Priority, t.DueAt.In(loc).Format("Mon 15:04"), n.Note)
}
