package callback

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stickyacd/stickyacd/routing"
)

// finishTimeout bounds recording an operation's outcome once the caller's
// context may be gone (the agent hung up).
const finishTimeout = 10 * time.Second

// Outcomes the worker writes itself; operators may write any other.
const (
	OutcomeAnswered    = "answered"    // next_callback: the customer answered long enough
	OutcomeUnreachable = "unreachable" // MaxAttempts unsuccessful calls
	OutcomeNoNumber    = "no_number"   // nothing to dial
	outcomeDone        = "done"        // Complete with no outcome given
)

// Complete closes a task by hand (HTTP API): status completed with the
// given outcome ("done" when empty), recorded as done by agentID ("" for
// an operator who is not an agent). It takes the task over from whoever
// holds it. It returns the task as changed, without its history;
// ErrNotFound, ErrClosed, ErrUnknownAgent.
func (w *Worker) Complete(ctx context.Context, id int64, outcome, agentID string) (Task, error) {
	if outcome == "" {
		outcome = outcomeDone
	}
	if agentID != "" {
		if _, err := w.dir.Agent(ctx, agentID); errors.Is(err, routing.ErrNotFound) {
			return Task{}, fmt.Errorf("complete task %d: agent %s: %w", id, agentID, ErrUnknownAgent)
		} else if err != nil {
			return Task{}, fmt.Errorf("complete task %d: agent %s: %w", id, agentID, err)
		}
	}
	owner := w.leaseOwner()
	now := w.clock.Now()
	t, err := w.store.Lease(ctx, id, owner, now.Add(w.cfg.Lease))
	if err != nil {
		return Task{}, fmt.Errorf("complete task %d: %w", id, err)
	}
	c := Change{Task: t}
	closeTask(&c, now, StatusCompleted, outcome)
	c.add(now, EventCompleted, agentID, "outcome "+outcome)
	done, err := w.applyOne(ctx, owner, c)
	if err != nil {
		return Task{}, fmt.Errorf("complete task %d: %w", id, err)
	}
	w.log.Info("callback task completed", "call_uuid", t.CallUUID, "task_id", id, "agent_id", agentID, "outcome", outcome)
	return done, nil
}

// Reassign gives a task to toAgent, or, when toAgent is "", to the
// least-loaded online agent with the skill other than its current agent
// (step 05's rule). It takes the task over from whoever holds it. It
// returns the task as changed, without its history; ErrNotFound, ErrClosed,
// ErrUnknownAgent, ErrNoAgent.
func (w *Worker) Reassign(ctx context.Context, id int64, toAgent string) (Task, error) {
	owner := w.leaseOwner()
	now := w.clock.Now()
	t, err := w.store.Lease(ctx, id, owner, now.Add(w.cfg.Lease))
	if err != nil {
		return Task{}, fmt.Errorf("reassign task %d: %w", id, err)
	}
	toAgent, team, why, err := w.reassignTarget(ctx, now, t, toAgent)
	if err != nil {
		return Task{}, errors.Join(fmt.Errorf("reassign task %d: %w", id, err), w.release(ctx, owner, t))
	}
	c := Change{Task: t}
	c.Task.AgentID, c.Task.TeamID, c.Task.Status = toAgent, team, StatusAssigned
	c.Task.NextCheckAt = w.firstCheck(now, t.DueAt)
	from := t.AgentID
	if from == "" {
		from = "pending"
	}
	c.add(now, EventReassigned, toAgent, fmt.Sprintf("by request, %s; from %s", why, from))
	done, err := w.applyOne(ctx, owner, c)
	if err != nil {
		return Task{}, fmt.Errorf("reassign task %d: %w", id, err)
	}
	w.log.Info("callback task reassigned", "call_uuid", t.CallUUID, "task_id", id, "agent_id", toAgent, "from", t.AgentID)
	return done, nil
}

// reassignTarget checks the agent named for Reassign, or chooses one, and
// returns it with its team and how it was chosen.
func (w *Worker) reassignTarget(ctx context.Context, now time.Time, t Task, named string) (agentID, team, why string, err error) {
	if named != "" {
		a, err := w.dir.Agent(ctx, named)
		if errors.Is(err, routing.ErrNotFound) {
			return "", "", "", fmt.Errorf("agent %s: %w", named, ErrUnknownAgent)
		}
		if err != nil {
			return "", "", "", fmt.Errorf("agent %s: %w", named, err)
		}
		return named, a.Team, "named agent", nil
	}
	p := w.emptyPlan(now)
	p.load(ctx, []string{t.BusinessType})
	id, err := p.pick(t.BusinessType, t.AgentID, "")
	if err != nil {
		return "", "", "", fmt.Errorf("business type %s: %w", t.BusinessType, err)
	}
	return id, p.team[id], fmt.Sprintf("least loaded online with skill %s (%d open)", t.BusinessType, p.counts[id]), nil
}

// NextCallback serves the next_callback feature code on the agent's own
// channel: it answers, takes the agent's top task, announces it (the
// Announce prompt, then the number's digits), bridges the agent to the
// customer and records the attempt. An answered call lasting CompleteAfter
// completes the task; otherwise the task is retried after a business-hours
// backoff, and cancelled (outcome "unreachable") after MaxAttempts. With no
// task ready it plays the None prompt and returns nil, nil. The channel is
// hung up at the end.
func (w *Worker) NextCallback(ctx context.Context, agentID string, cc CallControl) (*Task, error) {
	defer w.hangup(ctx, cc, agentID)
	if err := cc.Answer(ctx); err != nil {
		return nil, fmt.Errorf("next_callback for agent %s: answer: %w", agentID, err)
	}
	owner := w.leaseOwner()
	now := w.clock.Now()
	t, err := w.store.TakeTop(ctx, agentID, owner, now, now.Add(w.cfg.MaxCallDuration))
	if errors.Is(err, ErrNoTask) {
		w.log.Info("next_callback: no task ready", "agent_id", agentID)
		if err := cc.Playback(ctx, w.cfg.Prompts.None); err != nil {
			return nil, fmt.Errorf("next_callback for agent %s: play %s: %w", agentID, w.cfg.Prompts.None, err)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("next_callback for agent %s: take task: %w", agentID, err)
	}
	log := w.log.With("call_uuid", t.CallUUID, "task_id", t.ID, "agent_id", agentID)
	log.Info("next_callback: calling the customer back", "attempt", t.Attempts+1)
	res, callErr := w.callCustomer(ctx, cc, t)
	// The outcome is recorded even when the agent has hung up meanwhile.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	c := w.attemptChange(t, agentID, res, callErr)
	done, err := w.applyOne(fctx, owner, c)
	if err != nil {
		return nil, errors.Join(callErr, fmt.Errorf("next_callback task %d: record outcome: %w", t.ID, err))
	}
	log.Info("next_callback: done", "status", done.Status, "result", res.Result, "attempts", done.Attempts)
	if callErr != nil && !errors.Is(callErr, errNoNumber) {
		return &done, fmt.Errorf("next_callback task %d: %w", t.ID, callErr)
	}
	return &done, nil
}

var errNoNumber = errors.New("no number to call back")

func (w *Worker) callCustomer(ctx context.Context, cc CallControl, t Task) (routing.BridgeResult, error) {
	if t.Caller == "" {
		return routing.BridgeResult{}, errNoNumber
	}
	if err := cc.Playback(ctx, w.cfg.Prompts.Announce); err != nil {
		return routing.BridgeResult{}, fmt.Errorf("play %s: %w", w.cfg.Prompts.Announce, err)
	}
	if err := cc.Say(ctx, strings.TrimPrefix(t.Caller, "+")); err != nil {
		return routing.BridgeResult{}, fmt.Errorf("say the number: %w", err)
	}
	res, err := cc.Bridge(ctx, Dial{
		Target:      strings.ReplaceAll(w.cfg.DialString, "{number}", t.Caller),
		CallerID:    w.cfg.CallerID,
		RingTimeout: w.cfg.RingTimeout,
		TaskID:      t.ID,
	})
	if err != nil {
		return routing.BridgeResult{}, fmt.Errorf("bridge to the customer: %w", err)
	}
	return res, nil
}

// attemptChange turns the result of one next_callback call into the task's
// change.
func (w *Worker) attemptChange(t Task, agentID string, res routing.BridgeResult, callErr error) Change {
	now := w.clock.Now()
	c := Change{Task: t}
	switch {
	case errors.Is(callErr, errNoNumber):
		closeTask(&c, now, StatusCancelled, OutcomeNoNumber)
		c.add(now, EventCancelled, agentID, "no number to call back")
		return c
	case callErr != nil:
		// The agent left before the customer could be called: not an attempt.
		c.Task.Status = StatusAssigned
		return c
	}
	c.Task.Attempts++
	talk := time.Duration(0)
	if res.Result == routing.ResultAnswered {
		talk = res.EndedAt.Sub(res.AnsweredAt)
		if talk >= w.cfg.CompleteAfter {
			c.add(now, EventAttempted, agentID, fmt.Sprintf("answered, talked %s", talk.Round(time.Second)))
			closeTask(&c, now, StatusCompleted, OutcomeAnswered)
			c.add(now, EventCompleted, agentID, fmt.Sprintf("outcome %s", OutcomeAnswered))
			return c
		}
	}
	what := string(res.Result)
	if res.Result == routing.ResultAnswered {
		what = fmt.Sprintf("answered, talked only %s", talk.Round(time.Second))
	} else if res.Cause != "" {
		what += " (" + res.Cause + ")"
	}
	if c.Task.Attempts >= w.cfg.MaxAttempts {
		c.add(now, EventAttempted, agentID, fmt.Sprintf("attempt %d: %s", c.Task.Attempts, what))
		closeTask(&c, now, StatusCancelled, OutcomeUnreachable)
		c.add(now, EventCancelled, agentID, fmt.Sprintf("%s after %d attempts", OutcomeUnreachable, c.Task.Attempts))
		return c
	}
	retry := w.retryAt(now, c.Task.Attempts)
	c.Task.Status = StatusAssigned
	c.Task.RetryAt = &retry
	if retry.After(c.Task.NextCheckAt) {
		// Not chased while it cannot be called anyway.
		c.Task.NextCheckAt = retry
	}
	c.add(now, EventAttempted, agentID, fmt.Sprintf("attempt %d: %s; retry at %s", c.Task.Attempts, what, retry.Format(time.RFC3339)))
	return c
}

// maxBackoff caps the doubling of RetryBackoff.
const maxBackoff = 7 * 24 * time.Hour

// retryAt is the business-hours backoff after the n-th unsuccessful attempt:
// RetryBackoff doubled per earlier attempt, moved to the next opening time.
func (w *Worker) retryAt(now time.Time, n int) time.Time {
	d := w.cfg.RetryBackoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return w.cfg.BusinessHours.Next(now.Add(d).In(w.cfg.Location))
}

func closeTask(c *Change, now time.Time, s Status, outcome string) {
	c.Task.Status = s
	c.Task.Outcome = outcome
	c.Task.CompletedAt = &now
	c.Task.RetryAt = nil
}

// applyOne applies a single change made under owner's lease and pushes its
// notices. It returns the task as changed.
func (w *Worker) applyOne(ctx context.Context, owner string, c Change) (Task, error) {
	c.seal(w.cfg.Location)
	applied, err := w.store.Apply(ctx, owner, []Change{c})
	if err != nil {
		return Task{}, err
	}
	w.notify([]Change{c}, applied)
	t := c.Task
	t.Events = nil
	return t, nil
}

// release gives a leased task back unchanged, except that a task taken over
// during its next_callback call goes back to assigned: that call has lost
// its lease and will not report back, and nothing else picks up an
// in_progress task.
func (w *Worker) release(ctx context.Context, owner string, t Task) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if t.Status == StatusInProgress {
		t.Status = StatusAssigned
	}
	if _, err := w.store.Apply(ctx, owner, []Change{{Task: t}}); err != nil {
		return fmt.Errorf("release task %d: %w", t.ID, err)
	}
	return nil
}

func (w *Worker) hangup(ctx context.Context, cc CallControl, agentID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := cc.Hangup(ctx, "NORMAL_CLEARING"); err != nil {
		// Usually the agent hung up first.
		w.log.Debug("next_callback: hang up the agent's channel", "agent_id", agentID, "err", err)
	}
}
