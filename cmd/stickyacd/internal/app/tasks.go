package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/httpapi"
	"github.com/stickyacd/stickyacd/esl"
	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/store"
	"github.com/stickyacd/stickyacd/store/presence"
)

func (a *App) buildWorker() error {
	c := a.cfg.Callback
	hours, err := callback.ParseBusinessHours(c.BusinessHours, c.BusinessDays)
	if err != nil {
		return fmt.Errorf("callback.business_hours: %w", err)
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return fmt.Errorf("callback.timezone: %w", err)
	}
	a.worker, err = callback.NewWorker(callback.Config{
		Interval:        c.Interval,
		Lease:           c.Lease,
		BatchSize:       c.BatchSize,
		RemindEvery:     c.RemindEvery,
		MaxReminders:    c.MaxReminders,
		PriorityStep:    c.PriorityStep,
		DialString:      c.DialString,
		CallerID:        c.CallerID,
		RingTimeout:     c.RingTimeout,
		CompleteAfter:   c.CompleteAfter,
		MaxCallDuration: a.cfg.ESL.MaxCallDuration,
		MaxAttempts:     c.MaxAttempts,
		RetryBackoff:    c.RetryBackoff,
		BusinessHours:   hours,
		Location:        loc,
		Prompts:         callback.Prompts{Announce: a.cfg.Prompts.CallbackAnnounce, None: a.cfg.Prompts.CallbackNone},
	}, callback.Deps{
		Store:        a.tasks,
		Directory:    a.repo,
		Availability: availability{a.pres},
		Notifier:     notices{a},
		Clock:        a.clock,
		Logger:       a.log.With("component", "callback"),
	})
	return err
}

// availability adapts presence to the worker.
type availability struct{ p *presence.Store }

func (v availability) OnlineAmong(ctx context.Context, ids []string) ([]string, error) {
	agents, err := v.p.OnlineAmong(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(agents))
	for i, ag := range agents {
		out[i] = ag.ID
	}
	return out, nil
}

// feedEvent names the agent-feed event of each notice kind.
var feedEvent = map[callback.EventKind]string{
	callback.EventAssigned:   "assignment",
	callback.EventReminded:   "reminder",
	callback.EventReassigned: "reassignment",
	callback.EventEscalated:  "escalation",
}

// notices pushes the worker's notices to the agent's feed and, for those
// that ask the agent to act now, to the agent's phone as a SIP MESSAGE.
type notices struct{ a *App }

func (n notices) Notify(no callback.Notice) {
	typ := feedEvent[no.Kind]
	if typ == "" {
		typ = string(no.Kind)
	}
	a := n.a
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		log := a.log.With("task_id", no.Task.ID, "agent_id", no.AgentID, "kind", no.Kind)
		if err := a.hub.Publish(ctx, no.AgentID, typ, no); err != nil {
			a.metrics.Reminders.WithLabelValues("sse", "error").Inc()
			log.Warn("notice not relayed to other instances", "err", err)
		} else {
			a.metrics.Reminders.WithLabelValues("sse", "ok").Inc()
		}
		a.metrics.CallbackActions.WithLabelValues(string(no.Kind)).Inc()
		if no.Kind != callback.EventReminded && no.Kind != callback.EventEscalated && no.Kind != callback.EventAssigned {
			return
		}
		if err := a.chat(ctx, no); err != nil {
			a.metrics.Reminders.WithLabelValues("chat", "error").Inc()
			log.Warn("SIP MESSAGE to the agent failed", "err", err)
			return
		}
		a.metrics.Reminders.WithLabelValues("chat", "ok").Inc()
	}()
}

// chat sends a notice to the agent's phone through FreeSWITCH's chat api.
func (a *App) chat(ctx context.Context, no callback.Notice) error {
	agent, err := a.repo.Agent(ctx, no.AgentID)
	if err != nil {
		return err
	}
	domain := a.events.domainOf(agent.Extension)
	fill := strings.NewReplacer("{extension}", agent.Extension, "{agent_id}", agent.ID, "{domain}", domain)
	return a.fs.Chat(ctx, esl.ChatMessage{
		Proto:       "sip",
		From:        fill.Replace(a.cfg.Agents.ChatFrom),
		To:          fill.Replace(a.cfg.Agents.ChatTo),
		Body:        no.Text,
		ContentType: "text/plain",
	})
}

// agentsAPI serves /api/v1/agents from the directory, presence and tasks.
type agentsAPI struct{ a *App }

func (api agentsAPI) List(ctx context.Context) ([]httpapi.Agent, error) {
	agents, err := api.a.repo.Agents(ctx)
	if err != nil {
		return nil, err
	}
	return api.views(ctx, agents)
}

func (api agentsAPI) Get(ctx context.Context, id string) (httpapi.Agent, error) {
	agent, err := api.a.repo.Agent(ctx, id)
	if err != nil {
		return httpapi.Agent{}, fmt.Errorf("agent %q: %w", id, err)
	}
	views, err := api.views(ctx, []routing.Agent{agent})
	if err != nil {
		return httpapi.Agent{}, err
	}
	return views[0], nil
}

func (api agentsAPI) SetStatus(ctx context.Context, id, status string) (httpapi.Agent, error) {
	if _, err := api.a.repo.Agent(ctx, id); err != nil {
		return httpapi.Agent{}, fmt.Errorf("agent %q: %w", id, err)
	}
	st := presence.Status(status)
	if err := api.a.pres.SetStatus(ctx, id, st, "api"); err != nil {
		if errors.Is(err, presence.ErrInvalid) {
			return httpapi.Agent{}, fmt.Errorf("%w: %w", httpapi.ErrInvalid, err)
		}
		return httpapi.Agent{}, err
	}
	api.a.log.Info("agent status set over HTTP", "agent_id", id, "status", status)
	if st == presence.StatusAvailable {
		api.a.worker.Kick()
	}
	return api.Get(ctx, id)
}

func (api agentsAPI) views(ctx context.Context, agents []routing.Agent) ([]httpapi.Agent, error) {
	ids := make([]string, len(agents))
	for i, ag := range agents {
		ids[i] = ag.ID
	}
	live, err := api.a.pres.Snapshot(ctx, ids)
	if err != nil {
		return nil, err
	}
	open, err := api.a.tasks.OpenCounts(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]httpapi.Agent, len(agents))
	for i, ag := range agents {
		p, known := live[ag.ID]
		v := httpapi.Agent{
			ID: ag.ID, Name: ag.Name, Extension: ag.Extension, Team: ag.Team, Role: string(ag.Role),
			Status: string(presence.StatusLoggedOut), State: string(presence.StateIdle),
			OpenTasks: open[ag.ID], Skills: ag.Skills,
		}
		if v.Skills == nil {
			v.Skills = []string{}
		}
		if known {
			v.Status, v.State, v.Registered, v.Online = string(p.Status), string(p.State), p.Registered, p.Online
			v.Reason, v.NoAnswers, v.CallUUID = p.Reason, p.NoAnswers, p.CallUUID
			v.StateSince = timeOrNil(p.StateSince)
			v.ReadyAt = timeOrNil(p.ReadyAt)
		}
		out[i] = v
	}
	return out, nil
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// callbacksAPI serves /api/v1/callbacks.
type callbacksAPI struct{ a *App }

func (api callbacksAPI) List(ctx context.Context, f httpapi.CallbackFilter) ([]any, error) {
	tasks, err := api.a.tasks.List(ctx, store.TaskFilter{Status: callback.Status(f.Status), AgentID: f.Agent, Limit: f.Limit})
	if errors.Is(err, store.ErrBadFilter) {
		return nil, fmt.Errorf("%w: status %q: must be pending, assigned, in_progress, completed, cancelled or open", httpapi.ErrInvalid, f.Status)
	}
	if err != nil {
		return nil, err
	}
	out := make([]any, len(tasks))
	for i := range tasks {
		out[i] = tasks[i]
	}
	return out, nil
}

func (api callbacksAPI) Get(ctx context.Context, id int64) (any, error) {
	t, err := api.a.tasks.Task(ctx, id)
	return t, taskErr(id, err)
}

func (api callbacksAPI) Complete(ctx context.Context, id int64, outcome, agentID string) (any, error) {
	t, err := api.a.worker.Complete(ctx, id, outcome, agentID)
	if err != nil {
		return nil, taskErr(id, err)
	}
	api.a.log.Info("callback completed over HTTP", "task_id", id, "outcome", outcome, "agent_id", agentID)
	return api.withEvents(ctx, t)
}

func (api callbacksAPI) Reassign(ctx context.Context, id int64, agentID string) (any, error) {
	t, err := api.a.worker.Reassign(ctx, id, agentID)
	if err != nil {
		return nil, taskErr(id, err)
	}
	api.a.log.Info("callback reassigned over HTTP", "task_id", id, "agent_id", t.AgentID)
	return api.withEvents(ctx, t)
}

// withEvents reads the task back with its whole history.
func (api callbacksAPI) withEvents(ctx context.Context, t callback.Task) (any, error) {
	full, err := api.a.tasks.Task(ctx, t.ID)
	if err != nil {
		return t, nil
	}
	return full, nil
}

func taskErr(id int64, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, callback.ErrNotFound):
		return fmt.Errorf("%w: callback %d", httpapi.ErrNotFound, id)
	case errors.Is(err, callback.ErrClosed):
		return fmt.Errorf("%w: callback %d is already completed or cancelled", httpapi.ErrConflict, id)
	case errors.Is(err, callback.ErrUnknownAgent):
		return fmt.Errorf("%w: %w", httpapi.ErrInvalid, err)
	case errors.Is(err, callback.ErrNoAgent):
		return fmt.Errorf("%w: %w", httpapi.ErrConflict, err)
	}
	return err
}

// callsAPI serves /api/v1/calls/{uuid}: a live call's partial trace, or the
// saved one.
type callsAPI struct{ a *App }

func (api callsAPI) Call(ctx context.Context, uuid string) (*routing.Trace, error) {
	if t, ok := api.a.live.get(uuid); ok {
		return t, nil
	}
	t, err := api.a.repo.Call(ctx, uuid)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", uuid, err)
	}
	return t, nil
}
