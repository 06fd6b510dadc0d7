package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/esl"
	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/store/presence"
)

// silence is played where FreeSWITCH needs a sound but the flow wants none.
const silence = "silence_stream://250"

func (a *App) buildFlow() error {
	cfg := a.cfg
	chain, err := routing.ParseChain(cfg.Routing.Chain)
	if err != nil {
		return err
	}
	a.router, err = routing.New(routing.Config{
		Chain:               chain,
		RingTimeout:         cfg.Routing.RingTimeout,
		IDTries:             cfg.Routing.IDTries,
		IDTimeout:           cfg.Routing.IDTimeout,
		IDDigitTimeout:      cfg.Routing.IDDigitTimeout,
		BindAnsweringAgent:  cfg.Routing.BindAnsweringAgent,
		AnyAgentTries:       cfg.Routing.AnyAgentTries,
		BusinessTypes:       businessTypes(cfg),
		DefaultBusinessType: cfg.DefaultBusinessType(),
		MenuTimeout:         cfg.Routing.MenuTimeout,
		MenuTries:           cfg.Routing.MenuTries,
		HangupGrace:         cfg.Routing.HangupGrace,
		AbandonedTasks:      cfg.Routing.AbandonedTasks,
		Prompts: routing.Prompts{
			EnterID:         cfg.Prompts.EnterID,
			InvalidID:       cfg.Prompts.InvalidID,
			CallbackPromise: cfg.Prompts.CallbackPromise,
			BusinessMenu:    cfg.Prompts.BusinessMenu,
			Ringback:        cfg.Prompts.Ringback,
			Goodbye:         cfg.Prompts.Goodbye,
		},
	}, routing.Deps{
		Directory: a.repo,
		Presence:  flowPresence{a.pres},
		Tasks:     a.spool,
		Records:   a.repo,
		Notifier:  screenPops{a},
		Clock:     a.clock,
		Numbers:   normalizer(cfg),
		Logger:    a.log.With("component", "routing"),
	})
	return err
}

// flowPresence is presence as the call flow uses it: a transition refused
// because the agent has already moved on (a late or repeated one, e.g. after
// reconciliation freed the agent) changed nothing and is no failure.
type flowPresence struct{ *presence.Store }

func notOwnerIsNil(err error) error {
	if errors.Is(err, presence.ErrNotOwner) {
		return nil
	}
	return err
}

func (p flowPresence) Ringing(ctx context.Context, agentID, callUUID string) error {
	return notOwnerIsNil(p.Store.Ringing(ctx, agentID, callUUID))
}

func (p flowPresence) Answered(ctx context.Context, agentID, callUUID string) error {
	return notOwnerIsNil(p.Store.Answered(ctx, agentID, callUUID))
}

func (p flowPresence) Release(ctx context.Context, agentID, callUUID string, why routing.Result) error {
	return notOwnerIsNil(p.Store.Release(ctx, agentID, callUUID, why))
}

func (p flowPresence) Hangup(ctx context.Context, agentID, callUUID string) error {
	return notOwnerIsNil(p.Store.Hangup(ctx, agentID, callUUID))
}

// handle serves one call FreeSWITCH hands to the outbound socket: an inbound
// customer call, or an agent's feature code (stickyacd_action).
func (a *App) handle(ctx context.Context, s *esl.Session) {
	switch action := s.Var("stickyacd_action"); action {
	case "":
		a.route(ctx, s)
	case "login", "logout", "break":
		a.feature(ctx, s, action)
	case "next_callback":
		a.nextCallback(ctx, s)
	default:
		s.Logger().Warn("unknown stickyacd_action set by the dialplan", "action", action)
		a.metrics.FeatureCodes.WithLabelValues(action, "unknown_action").Inc()
		a.featureTone(ctx, s, false)
	}
}

func (a *App) route(ctx context.Context, s *esl.Session) {
	leg := &callerLeg{a: a, s: s, live: a.live.start(s.UUID(), s.CallerNumber(), a.clock)}
	defer a.live.end(s.UUID())
	trace := a.router.Handle(ctx, routing.Call{UUID: s.UUID(), CallerNumber: s.CallerNumber(), CallerName: s.CallerName()}, leg)
	a.metrics.ObserveCall(trace)
}

// callerLeg is the caller's channel as the flow sees it.
type callerLeg struct {
	a    *App
	s    *esl.Session
	live *liveCall
}

var _ routing.CallControl = (*callerLeg)(nil)

// legErr turns esl's errors into the flow's.
func legErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, esl.ErrHangup), errors.Is(err, esl.ErrClosed):
		return fmt.Errorf("%w: %w", routing.ErrHangup, err)
	case errors.Is(err, esl.ErrNoInput):
		return fmt.Errorf("%w: %w", routing.ErrNoInput, err)
	case errors.Is(err, esl.ErrInvalidInput):
		return fmt.Errorf("%w: %w", routing.ErrInvalidInput, err)
	}
	return err
}

func (l *callerLeg) Answer(ctx context.Context) error { return legErr(l.s.Answer(ctx)) }

func (l *callerLeg) Playback(ctx context.Context, sound string) error {
	return legErr(l.s.Playback(ctx, sound))
}

func (l *callerLeg) Collect(ctx context.Context, c routing.Collect) (string, error) {
	invalid := c.Invalid
	if invalid == "" {
		invalid = silence
	}
	prompt := c.Prompt
	if c.Preamble != "" {
		// One prompt for FreeSWITCH: keys pressed during the preamble are
		// collected, where a playback of its own would discard them.
		prompt = "file_string://" + c.Preamble + "!" + c.Prompt
	}
	p := esl.PlayAndGetDigits{
		Min: c.Min, Max: c.Max, Tries: 1,
		Timeout: c.Timeout, DigitTimeout: c.DigitTimeout,
		Terminators: c.Terminators, Prompt: prompt, Invalid: invalid,
		Var: "stickyacd_digits", Regexp: c.Pattern, Sensitive: c.Sensitive,
	}
	digits, err := l.s.PlayAndGetDigits(ctx, p)
	if errors.Is(err, esl.ErrPromptNotPlayed) {
		// A prompt FreeSWITCH cannot play ends the collection before any
		// key is taken; ask in silence rather than lose the caller's input.
		l.s.Logger().Error("prompt could not be played; collecting without it (check the prompts.* sound paths)", "prompt", prompt)
		p.Prompt = silence
		digits, err = l.s.PlayAndGetDigits(ctx, p)
	}
	return digits, legErr(err)
}

func (l *callerLeg) Bridge(ctx context.Context, r routing.BridgeRequest) (routing.BridgeResult, error) {
	cfg := l.a.cfg
	customer := r.Customer.ID
	if customer == "" {
		customer = "new"
	}
	target := strings.NewReplacer("{extension}", r.Agent.Extension, "{agent_id}", r.Agent.ID).Replace(cfg.Agents.DialString)
	l.live.attempt(r.Step, r.Agent.ID)
	var callerVars map[string]string
	if l.a.ringbackPerBridge() {
		callerVars = map[string]string{"ringback": cfg.Prompts.Ringback, "transfer_ringback": cfg.Prompts.Ringback}
	}
	res, err := l.s.Bridge(ctx, esl.BridgeOptions{
		Target: target,
		Vars: map[string]string{
			"sip_h_X-Stickyacd-Customer": customer,
			"sip_h_X-Stickyacd-Step":     string(r.Step),
			"sip_h_X-Stickyacd-Call":     l.s.UUID(),
			// Marks the agent's leg as ours for the event client.
			"stickyacd_call":  l.s.UUID(),
			"stickyacd_agent": r.Agent.ID,
		},
		RingTimeout: r.RingTimeout,
		CallerVars:  callerVars,
		OnAnswer: func() {
			l.live.answered(r.Agent.ID)
			if r.OnAnswer != nil {
				r.OnAnswer()
			}
		},
	})
	out, err := bridgeResult(res, err)
	l.live.result(r.Agent.ID, out.Result, out.Cause)
	return out, legErr(err)
}

// bridgeResult maps an attempt's outcome; a caller who left before anyone
// answered is an ErrHangup.
func bridgeResult(res esl.BridgeResult, err error) (routing.BridgeResult, error) {
	out := routing.BridgeResult{Cause: res.Disposition, AnsweredAt: res.AnsweredAt, EndedAt: res.EndedAt}
	if out.Cause == "" {
		out.Cause = res.HangupCause
	}
	switch res.Outcome {
	case esl.BridgeAnswered:
		out.Result = routing.ResultAnswered
	case esl.BridgeNoAnswer:
		out.Result = routing.ResultNoAnswer
	case esl.BridgeBusy:
		out.Result = routing.ResultBusy
	case esl.BridgeRejected:
		out.Result = routing.ResultRejected
	case esl.BridgeUnreachable:
		out.Result = routing.ResultUnreachable
	case esl.BridgeCallerGone:
		if err == nil {
			err = esl.ErrHangup
		}
	}
	return out, err
}

func (l *callerLeg) Hangup(ctx context.Context, cause string) error {
	return legErr(l.s.Hangup(ctx, cause))
}

func (l *callerLeg) Done() <-chan struct{} { return l.s.Done() }

// screenPops sends routing's screen pops to the agents' feeds.
type screenPops struct{ a *App }

func (p screenPops) ScreenPop(agentID string, pop routing.ScreenPop) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := p.a.hub.Publish(ctx, agentID, "screen_pop", pop); err != nil {
			p.a.log.Warn("screen pop not delivered to other instances", "call_uuid", pop.CallUUID, "agent_id", agentID, "err", err)
		}
	}()
}

// feature handles the login, logout and break feature codes: the agent is
// the calling extension.
func (a *App) feature(ctx context.Context, s *esl.Session, action string) {
	log := s.Logger().With("action", action)
	a.featureCalls.Store(s.UUID(), struct{}{})
	defer a.featureCalls.Delete(s.UUID())
	agent, err := a.agentOfSession(ctx, s)
	if err != nil {
		log.Warn("feature code from an extension that is no agent", "extension", s.CallerNumber(), "err", err)
		a.metrics.FeatureCodes.WithLabelValues(action, "unknown_agent").Inc()
		a.featureTone(ctx, s, false)
		return
	}
	status := map[string]presence.Status{
		"login": presence.StatusAvailable, "logout": presence.StatusLoggedOut, "break": presence.StatusBreak,
	}[action]
	if err := a.pres.SetStatus(ctx, agent.ID, status, "feature code"); err != nil {
		log.Error("feature code failed", "agent_id", agent.ID, "err", err)
		a.metrics.FeatureCodes.WithLabelValues(action, "error").Inc()
		a.featureTone(ctx, s, false)
		return
	}
	log.Info("agent status set by feature code", "agent_id", agent.ID, "status", status)
	a.metrics.FeatureCodes.WithLabelValues(action, "ok").Inc()
	if status == presence.StatusAvailable {
		a.worker.Kick()
	}
	a.featureTone(ctx, s, true)
}

// agentOfSession finds the agent calling from their own phone.
func (a *App) agentOfSession(ctx context.Context, s *esl.Session) (routing.Agent, error) {
	var last error
	for _, ext := range []string{s.CallerNumber(), s.Var("sip_from_user"), s.Var("user_name")} {
		if ext == "" {
			continue
		}
		agent, err := a.repo.AgentByExtension(ctx, ext)
		if err == nil {
			return agent, nil
		}
		last = err
	}
	if last == nil {
		last = routing.ErrNotFound
	}
	return routing.Agent{}, last
}

// featureTone answers, plays the confirmation or error tone, and hangs up
// (without the hang-up, socket_resume would run the dialplan's fallback).
func (a *App) featureTone(ctx context.Context, s *esl.Session, ok bool) {
	tone := a.cfg.Prompts.FeatureError
	if ok {
		tone = a.cfg.Prompts.FeatureOK
	}
	log := s.Logger()
	if err := s.Answer(ctx); err != nil {
		log.Debug("feature code: caller gone before the tone", "err", err)
		return
	}
	if err := s.Playback(ctx, tone); err != nil {
		log.Debug("feature code: tone cut short", "err", err)
	}
	if err := s.Hangup(ctx, "NORMAL_CLEARING"); err != nil && !errors.Is(err, esl.ErrHangup) {
		log.Warn("feature code: hang-up failed", "err", err)
	}
}

// nextCallback connects the calling agent with the customer of their top
// callback task.
func (a *App) nextCallback(ctx context.Context, s *esl.Session) {
	log := s.Logger().With("action", "next_callback")
	agent, err := a.agentOfSession(ctx, s)
	if err != nil {
		log.Warn("next_callback from an extension that is no agent", "extension", s.CallerNumber(), "err", err)
		a.metrics.FeatureCodes.WithLabelValues("next_callback", "unknown_agent").Inc()
		a.featureTone(ctx, s, false)
		return
	}
	task, err := a.worker.NextCallback(ctx, agent.ID, agentLeg{s: s})
	result := "ok"
	switch {
	case err == nil && task == nil:
		result = "no_task"
	case err != nil:
		result = "error"
		log.Error("next_callback failed", "agent_id", agent.ID, "err", err)
	}
	a.metrics.FeatureCodes.WithLabelValues("next_callback", result).Inc()
	if task != nil {
		log.Info("next_callback done", "agent_id", agent.ID, "task_id", task.ID, "status", task.Status, "attempts", task.Attempts)
	}
	if err := s.Hangup(ctx, "NORMAL_CLEARING"); err != nil && !errors.Is(err, esl.ErrHangup) && !errors.Is(err, esl.ErrClosed) {
		log.Debug("next_callback: hang-up after the call", "err", err)
	}
}

// agentLeg is the agent's own channel during next_callback.
type agentLeg struct{ s *esl.Session }

var _ callback.CallControl = agentLeg{}

func (l agentLeg) Answer(ctx context.Context) error { return l.s.Answer(ctx) }

func (l agentLeg) Playback(ctx context.Context, sound string) error {
	return l.s.Playback(ctx, sound)
}

func (l agentLeg) Say(ctx context.Context, digits string) error {
	_, err := l.s.Execute(ctx, "say", "en number iterated "+digits)
	return err
}

func (l agentLeg) Bridge(ctx context.Context, d callback.Dial) (routing.BridgeResult, error) {
	vars := map[string]string{
		"stickyacd_task":         fmt.Sprint(d.TaskID),
		"sip_h_X-Stickyacd-Task": fmt.Sprint(d.TaskID),
	}
	if d.CallerID != "" {
		vars["origination_caller_id_number"] = d.CallerID
	}
	return bridgeResult(l.s.Bridge(ctx, esl.BridgeOptions{Target: d.Target, Vars: vars, RingTimeout: d.RingTimeout}))
}

func (l agentLeg) Hangup(ctx context.Context, cause string) error { return l.s.Hangup(ctx, cause) }

// liveCalls are the calls in progress, for GET /api/v1/calls/{uuid} before
// the flow's trace is saved.
type liveCalls struct {
	mu    sync.Mutex
	calls map[string]*liveCall
}

type liveCall struct {
	mu    sync.Mutex
	clock Clock
	trace routing.Trace
}

func newLiveCalls() *liveCalls { return &liveCalls{calls: map[string]*liveCall{}} }

func (l *liveCalls) start(uuid, caller string, clock Clock) *liveCall {
	c := &liveCall{clock: clock, trace: routing.Trace{UUID: uuid, Caller: caller, StartedAt: clock.Now(), Steps: []routing.StepTrace{}}}
	l.mu.Lock()
	l.calls[uuid] = c
	l.mu.Unlock()
	return c
}

func (l *liveCalls) end(uuid string) {
	l.mu.Lock()
	delete(l.calls, uuid)
	l.mu.Unlock()
}

// get returns a copy of a live call's trace.
func (l *liveCalls) get(uuid string) (*routing.Trace, bool) {
	l.mu.Lock()
	c, ok := l.calls[uuid]
	l.mu.Unlock()
	if !ok {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.trace
	t.Steps = make([]routing.StepTrace, len(c.trace.Steps))
	for i, s := range c.trace.Steps {
		s.Candidates = append([]routing.CandidateTrace(nil), s.Candidates...)
		t.Steps[i] = s
	}
	return &t, true
}

func (c *liveCall) attempt(step routing.Step, agentID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trace.Steps = append(c.trace.Steps, routing.StepTrace{
		Step: step, StartedAt: c.clock.Now(), Candidates: []routing.CandidateTrace{{AgentID: agentID}},
	})
}

func (c *liveCall) answered(agentID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trace.AgentID = agentID
	c.trace.Outcome = routing.OutcomeBridged
	c.setResult(agentID, routing.ResultAnswered, "")
}

func (c *liveCall) result(agentID string, r routing.Result, cause string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setResult(agentID, r, cause)
}

func (c *liveCall) setResult(agentID string, r routing.Result, cause string) {
	for i := len(c.trace.Steps) - 1; i >= 0; i-- {
		s := &c.trace.Steps[i]
		if len(s.Candidates) == 1 && s.Candidates[0].AgentID == agentID {
			s.Candidates[0].Result, s.Candidates[0].Cause = r, cause
			s.MS = float64(c.clock.Now().Sub(s.StartedAt).Microseconds()) / 1000
			return
		}
	}
}
