package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/stickyacd/stickyacd/esl"
	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/store/presence"
)

// fsEvents turns FreeSWITCH's events into presence: registrations, and calls
// agents take or make outside stickyacd. It also reconciles presence with
// what FreeSWITCH reports, after every (re)connect and periodically.
type fsEvents struct {
	a      *App
	kick   chan struct{}
	mu     sync.Mutex        // guards realms and regs
	realms map[string]string // extension → SIP realm it registered in
	regs   map[string]bool   // extension → registered, as last reported
}

var _ esl.EventHandler = (*fsEvents)(nil)

func newFSEvents(a *App) *fsEvents {
	return &fsEvents{a: a, kick: make(chan struct{}, 1), realms: map[string]string{}, regs: map[string]bool{}}
}

// Connected is called after every (re)connection: what happened while we
// were away is only known by asking.
func (e *fsEvents) Connected(context.Context) {
	e.a.metrics.EventClient.WithLabelValues("connected").Inc()
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

func (e *fsEvents) RegistrationChanged(ctx context.Context, r esl.Registration) {
	e.a.metrics.EventClient.WithLabelValues("registration").Inc()
	agent, err := e.a.repo.AgentByExtension(ctx, r.User)
	if err != nil {
		return // a phone that is no agent's
	}
	e.mu.Lock()
	if r.Registered && r.Realm != "" {
		e.realms[r.User] = r.Realm
	}
	was, seen := e.regs[r.User]
	e.regs[r.User] = r.Registered
	e.mu.Unlock()
	if err := e.a.pres.SetRegistered(ctx, agent.ID, r.Registered); err != nil {
		e.a.log.Error("presence: registration not recorded", "agent_id", agent.ID, "kind", r.Kind, "err", err)
		return
	}
	// Phones refresh their registration every few minutes: only a change
	// is news.
	level := slog.LevelDebug
	if !seen || was != r.Registered {
		level = slog.LevelInfo
	}
	e.a.log.Log(ctx, level, "agent phone registration", "agent_id", agent.ID, "extension", r.User, "registered", r.Registered, "kind", r.Kind)
	if r.Registered {
		e.a.worker.Kick()
	}
}

// ChannelChanged follows agents' phones in calls stickyacd did not place.
// Agent legs of our own bridges carry stickyacd_call and are followed by the
// call flow itself; the login/logout/break feature codes are not calls.
func (e *fsEvents) ChannelChanged(ctx context.Context, c esl.ChannelEvent) {
	e.a.metrics.EventClient.WithLabelValues("channel").Inc()
	if c.Vars["stickyacd_call"] != "" {
		return
	}
	switch c.Vars["stickyacd_action"] {
	case "login", "logout", "break":
		return
	}
	var active bool
	switch c.Name {
	case "CHANNEL_ANSWER":
		active = true
	case "CHANNEL_HANGUP_COMPLETE":
		active = false
	default:
		return
	}
	agent, err := e.a.repo.AgentByExtension(ctx, c.PresenceUser)
	if err != nil {
		return
	}
	err = e.a.pres.ExternalCall(ctx, agent.ID, c.UUID, active)
	switch {
	case errors.Is(err, presence.ErrNotOwner):
		// Busy with one of our calls, or a repeat: nothing to change.
	case err != nil:
		e.a.log.Error("presence: outside call not recorded", "agent_id", agent.ID, "channel_uuid", c.UUID, "err", err)
	default:
		e.a.log.Info("agent call outside stickyacd", "agent_id", agent.ID, "channel_uuid", c.UUID, "active", active)
	}
}

// reconcileLoop reconciles after each (re)connect and every
// freeswitch.reconcile_interval.
func (e *fsEvents) reconcileLoop(ctx context.Context) error {
	tick := time.NewTicker(e.a.cfg.FreeSWITCH.ReconcileInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.kick:
		case <-tick.C:
		}
		if err := e.reconcile(ctx); err != nil {
			if ctx.Err() == nil {
				e.a.log.Warn("reconcile with FreeSWITCH skipped", "err", err)
			}
		}
	}
}

// reconcile rebuilds registrations and in-call states from FreeSWITCH's own
// lists rather than resetting anyone.
func (e *fsEvents) reconcile(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	regs, err := e.a.fs.Registrations(ctx)
	if err != nil {
		return err
	}
	chans, err := e.a.fs.Channels(ctx)
	if err != nil {
		return err
	}
	agents, err := e.a.repo.Agents(ctx)
	if err != nil {
		return err
	}
	byExt := make(map[string]routing.Agent, len(agents))
	for _, ag := range agents {
		byExt[ag.Extension] = ag
	}
	registered := map[string]bool{}
	for _, r := range regs {
		if ag, ok := byExt[r.User]; ok && r.Registered {
			registered[ag.ID] = true
			if r.Realm != "" {
				e.mu.Lock()
				e.realms[r.User] = r.Realm
				e.mu.Unlock()
			}
		}
	}
	liveCalls := map[string]string{}
	liveUUIDs := map[string]bool{}
	for _, c := range chans {
		liveUUIDs[c.UUID] = true
		if c.CallUUID != "" {
			liveUUIDs[c.CallUUID] = true
		}
		if _, busy := e.a.featureCalls.Load(c.UUID); busy {
			continue // an agent dialling *21/*22/*23 is not in a call
		}
		user, _, _ := strings.Cut(c.PresenceID, "@")
		if ag, ok := byExt[user]; ok {
			liveCalls[ag.ID] = c.UUID
		}
	}
	changes, err := e.a.pres.Reconcile(ctx, registered, liveCalls, liveUUIDs)
	if err != nil {
		return err
	}
	if !changes.Empty() {
		e.a.log.Info("presence reconciled with FreeSWITCH",
			"registered", changes.Registered, "unregistered", changes.Unregistered,
			"released", changes.Released, "calls_started", changes.CallsStarted, "calls_ended", changes.CallsEnded)
		if len(changes.Registered) > 0 {
			e.a.worker.Kick()
		}
	}
	return nil
}

// domainOf is the SIP domain to reach an agent's phone in: the configured
// freeswitch.domain, or the realm the phone registered in.
func (e *fsEvents) domainOf(extension string) string {
	if d := e.a.cfg.FreeSWITCH.Domain; d != "" {
		return d
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.realms[extension]; r != "" {
		return r
	}
	host, _, _ := strings.Cut(e.a.cfg.FreeSWITCH.EventSocket, ":")
	return host
}
