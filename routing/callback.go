package routing

import (
	"context"
	"errors"
	"time"
)

// callback is step 03, then 04: promise a call back, ask for the business
// type, say goodbye, and once the caller is gone record the task.
func (k *call) callback(ctx context.Context) {
	k.open(StepCallback)
	k.chosen = k.r.byCode[k.r.cfg.DefaultBusinessType]
	if !k.callbackable() {
		k.decide()
		k.trace.Outcome = OutcomeFailed
		k.fallback("no callback number")
		k.note(StepCallback, "no callback number: no promise")
		k.log.Warn("no callback number, no promise made", "step", StepCallback)
		err := k.answer(ctx)
		if err == nil {
			err = k.play(ctx, k.r.cfg.Prompts.Goodbye)
		}
		if err != nil {
			k.note(StepCallback, "goodbye not heard")
			k.log.Info("goodbye not heard", "step", StepCallback, "err", err)
		}
		k.hangup(ctx)
		return
	}
	k.promised = true
	k.trace.Outcome = OutcomeCallback
	k.promise(ctx)
	k.hangup(ctx)
	k.createTask(ctx, false)
}

// promise plays the promise, the menu and goodbye, then waits for the
// caller to hang up. The caller may leave at any point: the task is owed
// from the first word of the promise on, so errors only end the dialogue.
func (k *call) promise(ctx context.Context) {
	if err := k.answer(ctx); err != nil {
		k.dialogueEnded(err)
		return
	}
	k.decide()
	if err := k.menu(ctx); err != nil {
		k.dialogueEnded(err)
		return
	}
	if err := k.play(ctx, k.r.cfg.Prompts.Goodbye); err != nil {
		k.dialogueEnded(err)
		return
	}
	k.waitHangup(ctx)
}

// dialogueEnded notes why step 03 stopped talking early.
func (k *call) dialogueEnded(err error) {
	if errors.Is(err, ErrHangup) {
		k.note(StepCallback, "caller hung up")
		k.log.Info("caller hung up during callback promise", "step", StepCallback)
		return
	}
	k.note(StepCallback, "caller leg failed")
	k.fallback("callback dialogue: " + err.Error())
	k.log.Error("callback dialogue failed", "step", StepCallback, "err", err)
}

// menu plays the promise and asks for the business type: a configured
// digit chooses, silence takes the default, anything else is asked again up
// to MenuTries. The promise opens the first try, so a caller who keys the
// type while it plays is heard.
func (k *call) menu(ctx context.Context) error {
	preamble := k.r.cfg.Prompts.CallbackPromise
	for try := 1; try <= k.r.cfg.MenuTries; try++ {
		digits, err := k.collect(ctx, Collect{
			Preamble:     preamble,
			Prompt:       k.r.cfg.Prompts.BusinessMenu,
			Min:          1,
			Max:          1,
			Timeout:      k.r.cfg.MenuTimeout,
			DigitTimeout: k.r.cfg.MenuTimeout,
			Terminators:  "#",
			Pattern:      k.r.menuPattern,
		})
		switch {
		case errors.Is(err, ErrNoInput):
			k.result(StepCallback, k.chosen.Code)
			k.note(StepCallback, "menu: no input, default type")
			k.log.Info("business type defaulted", "step", StepCallback, "business_type", k.chosen.Code, "try", try)
			return nil
		case errors.Is(err, ErrInvalidInput):
			preamble = ""
		case err != nil:
			k.result(StepCallback, k.chosen.Code)
			return err
		default:
			if bt, ok := menuChoice(digits, k.r.byDigit); ok {
				k.chosen = bt
				k.result(StepCallback, bt.Code)
				k.log.Info("business type chosen", "step", StepCallback, "business_type", bt.Code, "try", try)
				return nil
			}
		}
		k.log.Info("business type input invalid", "step", StepCallback, "try", try)
	}
	k.result(StepCallback, k.chosen.Code)
	k.note(StepCallback, "menu: no valid choice, default type")
	k.log.Info("business type defaulted", "step", StepCallback, "business_type", k.chosen.Code, "tries", k.r.cfg.MenuTries)
	return nil
}

// waitHangup gives the caller HangupGrace to hang up first.
func (k *call) waitHangup(ctx context.Context) {
	if k.r.cfg.HangupGrace <= 0 {
		return
	}
	t := time.NewTimer(k.r.cfg.HangupGrace)
	defer t.Stop()
	select {
	case <-k.cc.Done():
	case <-t.C:
		k.note(StepCallback, "hung up after grace")
	case <-ctx.Done():
	}
}

// abandoned ends a call whose caller hung up before 03.
func (k *call) abandoned(ctx context.Context) {
	k.trace.Outcome = OutcomeAbandoned
	k.log.Info("caller hung up before callback promise", "step", k.step)
	if k.r.cfg.AbandonedTasks && k.callbackable() {
		k.createTask(ctx, true)
	}
}

// broken ends a call whose leg failed before 03; see Router for why a
// task is created regardless of AbandonedTasks.
func (k *call) broken(ctx context.Context) {
	k.trace.Outcome = OutcomeFailed
	k.fallback("caller leg: " + k.brokeErr.Error())
	k.log.Error("caller leg failed", "step", k.step, "err", k.brokeErr)
	k.hangup(ctx)
	if k.callbackable() {
		k.createTask(ctx, true)
	}
}

// createTask is step 04: exactly one task per call, written with a context
// that survives the caller's hang-up.
func (k *call) createTask(ctx context.Context, abandoned bool) {
	k.tasked = true
	k.open(StepTask)
	bt := k.chosen
	if abandoned {
		bt = k.r.byCode[k.r.cfg.DefaultBusinessType]
	}
	now := k.r.d.Clock.Now()
	t := NewTask{
		CallUUID:     k.trace.UUID,
		Caller:       k.phone,
		BusinessType: bt.Code,
		Priority:     bt.Priority,
		DueAt:        now.Add(bt.CallbackDue),
		Abandoned:    abandoned,
	}
	if k.customer != nil {
		t.CustomerID = k.customer.ID
	}
	sctx, cancel := k.detached(ctx)
	defer cancel()
	id, err := k.r.d.Tasks.CreateTask(sctx, t)
	switch {
	case err != nil:
		k.result(StepTask, "error")
		k.fallback("create callback task: " + err.Error())
		k.log.Error("create callback task", "step", StepTask, "business_type", bt.Code, "abandoned", abandoned, "err", err)
		if !abandoned {
			k.trace.Outcome = OutcomeFailed
		}
		return
	case id == 0:
		// Accepted durably (spooled) before its ID is known.
		k.result(StepTask, "spooled")
	default:
		k.trace.TaskID = &id
		k.result(StepTask, "created")
	}
	k.note(StepTask, "business type "+bt.Code)
	k.log.Info("callback task created", "step", StepTask, "task_id", id, "business_type", bt.Code,
		"priority", bt.Priority, "due_at", t.DueAt, "abandoned", abandoned)
}
