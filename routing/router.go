package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/stickyacd/stickyacd/routing/callerid"
	"github.com/stickyacd/stickyacd/routing/idnumber"
)

// Deps are the outside world of the flow. All but Logger are required.
type Deps struct {
	Directory Directory
	Presence  Presence
	Tasks     TaskSink
	Records   CallRecords
	Notifier  Notifier
	Clock     Clock
	Numbers   callerid.Normalizer
	Logger    *slog.Logger // nil discards
}

// Call is an inbound call as the caller's leg presents it.
type Call struct {
	UUID         string
	CallerNumber string // raw caller ID, normalised by the router
	CallerName   string
}

// Router runs steps 01–04 for inbound calls. It holds no per-call state, so
// one Router serves any number of concurrent calls.
//
// Decisions beyond the flow table, in one place:
//   - A known customer without a first agent has no related agent, so the
//     rule "never an unrelated agent" cannot apply: the call is routed as
//     021, and with Config.BindAnsweringAgent the answering agent becomes
//     the first agent when the Directory implements FirstAgentBinder. Their
//     screen pop has New: false. A first agent the directory does not know
//     is still theirs: such a call goes to 03.
//   - A caller who hangs up before 03 is abandoned: with
//     Config.AbandonedTasks, and a number or customer to call back, one task
//     (Abandoned, default business type) is created; the outcome is
//     "abandoned" either way.
//   - A caller leg that fails before 03 (an error other than ErrHangup from
//     CallControl, or the call's context ending) cannot hear a promise, so a
//     task is created whenever there is someone to call back, whatever
//     Config.AbandonedTasks says: the failure was ours, not the caller's
//     choice. The outcome is "failed".
//   - Reaching 03 is the promise: a caller who hangs up during the promise
//     or the menu gets a normal task with the type chosen so far (the
//     default if none).
//   - An unknown caller with neither a usable number nor an ID number is put
//     through at 021 without creating a customer: there is nothing to
//     record them by.
//   - A 021 customer whose creation fails while the caller talks is tried
//     once more when the call ends (idempotent by call UUID); the pop has
//     already gone out without a customer ID.
//   - Collect.Invalid is always empty: the router opens the next try with
//     Prompts.InvalidID as its Preamble, so the caller hears it once
//     whatever rejected the input, and keys pressed during it count.
//   - The HangupGrace wait at the end of 03 is a real timer; the Clock only
//     stamps and measures.
type Router struct {
	cfg          Config
	d            Deps
	log          *slog.Logger
	byDigit      map[byte]BusinessType
	byCode       map[string]BusinessType
	menuPattern  string
	storeTimeout time.Duration
}

// New checks cfg (errors are *ConfigError naming the key) and deps.
func New(cfg Config, d Deps) (*Router, error) {
	menu, err := validate(cfg)
	if err != nil {
		return nil, fmt.Errorf("routing config: %w", err)
	}
	missing := []struct {
		name   string
		absent bool
	}{
		{"Directory", d.Directory == nil},
		{"Presence", d.Presence == nil},
		{"Tasks", d.Tasks == nil},
		{"Records", d.Records == nil},
		{"Notifier", d.Notifier == nil},
		{"Clock", d.Clock == nil},
	}
	for _, m := range missing {
		if m.absent {
			return nil, fmt.Errorf("routing deps: %s is nil", m.name)
		}
	}
	r := &Router{
		cfg:          cfg,
		d:            d,
		log:          d.Logger,
		byDigit:      map[byte]BusinessType{},
		byCode:       map[string]BusinessType{},
		menuPattern:  menu,
		storeTimeout: cfg.StoreTimeout,
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.storeTimeout == 0 {
		r.storeTimeout = DefaultStoreTimeout
	}
	for _, bt := range cfg.BusinessTypes {
		r.byDigit[byte('0'+bt.Digit)] = bt
		r.byCode[bt.Code] = bt
	}
	return r, nil
}

// end is how the part of the flow before 03 finished.
type end int

const (
	endBridged  end = iota // an agent answered and the conversation is over
	endCallback            // go to 03
	endGone                // the caller hung up before 03
	endBroken              // the caller's leg failed before 03
)

// call is the state of one Handle.
type call struct {
	r     *Router
	cc    CallControl
	log   *slog.Logger
	trace *Trace
	start time.Time

	phone    string // normalised caller number, "" when unusable
	customer *Customer
	idNumber idnumber.Number // a valid number keyed at 02, zero otherwise
	answered bool
	step     Step // the step in progress, for logs and panics

	ivr      time.Duration // time spent in Collect and Playback before the decision
	decided  bool
	promised bool // step 03 was reached
	tasked   bool // CreateTask was called
	chosen   BusinessType
	brokeErr error // why the caller's leg failed
	steps    map[Step]int
	// lateCustomer is step 021's customer whose creation failed while the
	// caller talked; Handle tries it once more before saving the record.
	lateCustomer *NewCustomer
}

// Handle runs the flow for one call and returns its trace, which is also
// saved through CallRecords. It never panics and never returns nil.
func (r *Router) Handle(ctx context.Context, c Call, cc CallControl) *Trace {
	now := r.d.Clock.Now()
	k := &call{
		r:     r,
		cc:    cc,
		log:   r.log.With("call_uuid", c.UUID),
		start: now,
		trace: &Trace{
			UUID:      c.UUID,
			Caller:    strings.TrimSpace(c.CallerNumber),
			Entry:     EntryUnknown,
			Steps:     []StepTrace{},
			StartedAt: now,
		},
		steps: map[Step]int{},
	}
	k.run(ctx, c)
	k.createCustomerLate(ctx)
	k.finish(ctx)
	return k.trace
}

// run is the flow proper; a panic anywhere in it ends the call as failed,
// still keeping a promise already made.
func (k *call) run(ctx context.Context, c Call) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		k.log.Error("panic in call flow", "step", k.step, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		k.trace.Outcome = OutcomeFailed
		k.fallback(fmt.Sprintf("internal error at step %s", k.step))
		if k.promised && !k.tasked {
			k.createTaskSafely(ctx, false)
		}
	}()
	switch k.lookup(ctx, c) {
	case endBridged:
		k.trace.Outcome = OutcomeBridged
		k.hangup(ctx)
	case endCallback:
		k.callback(ctx)
	case endGone:
		k.abandoned(ctx)
	case endBroken:
		k.broken(ctx)
	}
}

// createTaskSafely runs step 04 after a panic, which must not escape either.
func (k *call) createTaskSafely(ctx context.Context, abandoned bool) {
	defer func() {
		if p := recover(); p != nil {
			k.log.Error("panic creating callback task", "step", StepTask, "panic", fmt.Sprint(p))
		}
	}()
	k.createTask(ctx, abandoned)
}

// finish stamps the trace and saves it.
func (k *call) finish(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			k.log.Error("panic saving call record", "step", k.step, "panic", fmt.Sprint(p))
		}
	}()
	k.trace.EndedAt = k.r.d.Clock.Now()
	var taskID any
	if k.trace.TaskID != nil {
		taskID = *k.trace.TaskID
	}
	k.log.Info("call ended", "step", k.step, "entry", k.trace.Entry, "outcome", k.trace.Outcome,
		"agent_id", k.trace.AgentID, "customer_id", k.trace.CustomerID, "task_id", taskID,
		"decision_ms", k.trace.DecisionMS)
	sctx, cancel := k.detached(ctx)
	defer cancel()
	if err := k.r.d.Records.SaveCall(sctx, k.trace); err != nil {
		k.log.Error("save call record", "step", k.step, "err", err)
	}
}

// detached is a context for writes that must happen even when the call's
// context ends with the caller's hang-up.
func (k *call) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), k.r.storeTimeout)
}

// gone reports whether the caller has hung up.
func (k *call) gone() bool {
	select {
	case <-k.cc.Done():
		return true
	default:
		return false
	}
}

// legEnd classifies a CallControl error before 03.
func (k *call) legEnd(err error) end {
	if errors.Is(err, ErrHangup) {
		return endGone
	}
	k.brokeErr = err
	return endBroken
}

// answer answers the caller's leg once.
func (k *call) answer(ctx context.Context) error {
	if k.answered {
		return nil
	}
	if err := k.cc.Answer(ctx); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	k.answered = true
	return nil
}

// play plays a prompt. A sound that cannot be played is logged and skipped,
// since the flow can go on without it; only the caller's departure or the
// end of the call's context stop the flow.
func (k *call) play(ctx context.Context, sound string) error {
	t0 := k.r.d.Clock.Now()
	err := k.cc.Playback(ctx, sound)
	k.ivrSince(t0)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrHangup):
		return err
	case ctx.Err() != nil:
		return fmt.Errorf("play %s: %w", sound, err)
	}
	k.log.Warn("prompt not played", "step", k.step, "sound", sound, "err", err)
	k.note(k.step, "prompt not played: "+sound)
	return nil
}

// collect runs a digit collection, counting its time as IVR time.
func (k *call) collect(ctx context.Context, c Collect) (string, error) {
	t0 := k.r.d.Clock.Now()
	digits, err := k.cc.Collect(ctx, c)
	k.ivrSince(t0)
	return digits, err
}

func (k *call) ivrSince(t0 time.Time) {
	if !k.decided {
		k.ivr += k.r.d.Clock.Now().Sub(t0)
	}
}

// decide stamps DecisionMS at the first bridge or the step 03 prompt.
func (k *call) decide() {
	if k.decided {
		return
	}
	k.decided = true
	k.trace.DecisionMS = ms(k.r.d.Clock.Now().Sub(k.start) - k.ivr)
}

// hangup hangs the caller's leg up unless the caller has gone already.
func (k *call) hangup(ctx context.Context) {
	if k.gone() {
		return
	}
	if err := k.cc.Hangup(ctx, "NORMAL_CLEARING"); err != nil && !errors.Is(err, ErrHangup) {
		k.log.Warn("hang up caller", "step", k.step, "err", err)
	}
}

// callbackable reports whether somebody can be called back.
func (k *call) callbackable() bool { return k.phone != "" || k.customer != nil }

// open makes step the current one and starts recording it.
func (k *call) open(step Step) {
	k.step = step
	k.index(step)
}

// index is the position of step in the trace, which records each step once.
func (k *call) index(step Step) int {
	if i, ok := k.steps[step]; ok {
		return i
	}
	k.trace.Steps = append(k.trace.Steps, StepTrace{
		Step:       step,
		StartedAt:  k.r.d.Clock.Now(),
		Candidates: []CandidateTrace{},
	})
	k.steps[step] = len(k.trace.Steps) - 1
	return k.steps[step]
}

// touch extends a step's duration to now.
func (k *call) touch(step Step) *StepTrace {
	st := &k.trace.Steps[k.index(step)]
	st.MS = ms(k.r.d.Clock.Now().Sub(st.StartedAt))
	return st
}

func (k *call) result(step Step, result string) {
	k.touch(step).Result = result
}

func (k *call) note(step Step, note string) {
	st := k.touch(step)
	if st.Note != "" {
		st.Note += "; "
	}
	st.Note += note
}

// candidate records what happened to an agent. Passed-over candidates seen
// again by a later reservation of the same call are recorded once.
func (k *call) candidate(step Step, agentID string, r Result, cause string) {
	st := k.touch(step)
	if r != ResultAnswered && cause == "" {
		for _, c := range st.Candidates {
			if c.AgentID == agentID && c.Result == r && c.Cause == "" {
				return
			}
		}
	}
	st.Candidates = append(st.Candidates, CandidateTrace{AgentID: agentID, Result: r, Cause: cause})
}

// fallback records why the flow left its normal path.
func (k *call) fallback(reason string) {
	if k.trace.Error != "" {
		k.trace.Error += "; "
	}
	k.trace.Error += reason
}

// storeFailed handles a Directory or Presence error mid-call: the caller
// must not be left in silence, so the flow goes on to 03.
func (k *call) storeFailed(step Step, what string, err error) end {
	k.log.Error("store failed, falling back to callback", "step", step, "what", what, "err", err)
	k.note(step, what+" failed")
	k.fallback(fmt.Sprintf("%s: %v", what, err))
	return endCallback
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
