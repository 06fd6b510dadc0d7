package routingtest

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/stickyacd/stickyacd/routing"
)

// Input is what the caller does at one digit collection.
type Input struct {
	Digits string // keyed, without the terminator; "" is a timeout (ErrNoInput)
	Hangup bool   // the caller hangs up during this collection
	Err    error  // the collection fails with this error (a broken leg)
}

// HangUp is an Input where the caller hangs up.
var HangUp = Input{Hangup: true}

// Outcome is what happens when the caller is bridged to an agent.
type Outcome struct {
	Result routing.Result // "" or answered: the agent answers
	Cause  string         // FreeSWITCH disposition of a failure
	// CallerHangsUp: the caller hangs up while this agent rings.
	CallerHangsUp bool
	// EndsWithHangup: the agent answers and the caller ends the
	// conversation; Bridge then reports ErrHangup, as a leg that is gone does.
	EndsWithHangup bool
	Err            error // Bridge fails with this error (a broken leg)
}

// Point names the N-th call (from 1) of a CallControl method: "Answer",
// "Playback", "Collect" or "Bridge".
type Point struct {
	Method string
	N      int
}

// Script is how a fake caller behaves.
type Script struct {
	Inputs []Input            // successive Collect calls; past the end: no input
	Agents map[string]Outcome // by agent ID; agents not listed answer
	// HangupAt: the caller hangs up as this call starts, which returns ErrHangup.
	HangupAt Point
	// HangupAfter: the caller hangs up right after this sound has played.
	HangupAfter string
	// Clock, when set, advances by PromptTime per Playback and Collect, by
	// RingTime per Bridge and by TalkTime per answered Bridge.
	Clock                          *Clock
	PromptTime, RingTime, TalkTime time.Duration
}

// Call is a fake routing.CallControl driven by a Script. It records every
// call as an event: "answer", "playback SOUND", "collect PROMPT",
// "bridge AGENT STEP", "hangup CAUSE".
type Call struct {
	s    Script
	done chan struct{}

	mu       sync.Mutex
	hungUpBy string
	counts   map[string]int
	inputs   int
	events   []string
	collects []routing.Collect
	bridges  []routing.BridgeRequest
}

var _ routing.CallControl = (*Call)(nil)

// NewCall returns a caller on the line.
func NewCall(s Script) *Call {
	return &Call{s: s, done: make(chan struct{}), counts: map[string]int{}}
}

// Events returns what the router did on the caller's leg, in order.
func (c *Call) Events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}

// Collects returns every digit collection asked for.
func (c *Call) Collects() []routing.Collect {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.collects)
}

// Bridges returns every bridge attempt.
func (c *Call) Bridges() []routing.BridgeRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.bridges)
}

// HungUpBy says who ended the call: "caller", "app" or "" (still up).
func (c *Call) HungUpBy() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hungUpBy
}

// begin records a call and reports whether the caller is (now) gone.
func (c *Call) begin(method, event string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, event)
	c.counts[method]++
	if c.hungUpBy == "" && c.s.HangupAt.Method == method && c.s.HangupAt.N == c.counts[method] {
		c.hangUpLocked("caller")
	}
	return c.hungUpBy != ""
}

func (c *Call) hangUpLocked(by string) {
	if c.hungUpBy == "" {
		c.hungUpBy = by
		close(c.done)
	}
}

func (c *Call) callerHangsUp() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hangUpLocked("caller")
}

func hangupErr(what string) error { return fmt.Errorf("%s: %w", what, routing.ErrHangup) }

// Answer implements routing.CallControl.
func (c *Call) Answer(context.Context) error {
	if c.begin("Answer", "answer") {
		return hangupErr("answer")
	}
	return nil
}

// Playback implements routing.CallControl.
func (c *Call) Playback(_ context.Context, sound string) error {
	if c.begin("Playback", "playback "+sound) {
		return hangupErr("playback")
	}
	c.s.Clock.Advance(c.s.PromptTime)
	if sound == c.s.HangupAfter {
		c.callerHangsUp()
	}
	return nil
}

// Collect implements routing.CallControl, enforcing Pattern as
// play_and_get_digits does.
func (c *Call) Collect(_ context.Context, col routing.Collect) (string, error) {
	// A preamble is part of the collection (keys pressed during it count);
	// it is recorded as its own event so flows read as they sound.
	if col.Preamble != "" {
		if c.begin("Preamble", "preamble "+col.Preamble) {
			return "", hangupErr("collect")
		}
		c.s.Clock.Advance(c.s.PromptTime)
		if col.Preamble == c.s.HangupAfter {
			c.callerHangsUp()
			return "", hangupErr("collect")
		}
	}
	if c.begin("Collect", "collect "+col.Prompt) {
		return "", hangupErr("collect")
	}
	c.mu.Lock()
	c.collects = append(c.collects, col)
	var in Input
	if c.inputs < len(c.s.Inputs) {
		in = c.s.Inputs[c.inputs]
	}
	c.inputs++
	c.mu.Unlock()
	c.s.Clock.Advance(c.s.PromptTime)
	switch {
	case in.Hangup:
		c.callerHangsUp()
		return "", hangupErr("collect")
	case in.Err != nil:
		return "", in.Err
	case in.Digits == "":
		return "", routing.ErrNoInput
	}
	if col.Pattern != "" {
		ok, err := regexp.MatchString(col.Pattern, in.Digits)
		if err != nil {
			return "", fmt.Errorf("collect pattern %q: %w", col.Pattern, err)
		}
		if !ok {
			return "", routing.ErrInvalidInput
		}
	}
	return in.Digits, nil
}

// Bridge implements routing.CallControl; OnAnswer is called on the
// caller's goroutine, before Bridge returns.
func (c *Call) Bridge(_ context.Context, r routing.BridgeRequest) (routing.BridgeResult, error) {
	if c.begin("Bridge", fmt.Sprintf("bridge %s %s", r.Agent.ID, r.Step)) {
		return routing.BridgeResult{}, hangupErr("bridge")
	}
	c.mu.Lock()
	c.bridges = append(c.bridges, r)
	c.mu.Unlock()
	o := c.s.Agents[r.Agent.ID]
	c.s.Clock.Advance(c.s.RingTime)
	switch {
	case o.CallerHangsUp:
		c.callerHangsUp()
		return routing.BridgeResult{}, hangupErr("bridge")
	case o.Err != nil:
		return routing.BridgeResult{}, o.Err
	case o.Result != "" && o.Result != routing.ResultAnswered:
		return routing.BridgeResult{Result: o.Result, Cause: o.Cause}, nil
	}
	var answeredAt time.Time
	if c.s.Clock != nil {
		answeredAt = c.s.Clock.Now()
	}
	if r.OnAnswer != nil {
		r.OnAnswer()
	}
	c.s.Clock.Advance(c.s.TalkTime)
	if o.EndsWithHangup {
		c.callerHangsUp()
		return routing.BridgeResult{}, hangupErr("bridge")
	}
	res := routing.BridgeResult{Result: routing.ResultAnswered, Cause: "SUCCESS", AnsweredAt: answeredAt}
	if c.s.Clock != nil {
		res.EndedAt = c.s.Clock.Now()
	}
	return res, nil
}

// Hangup implements routing.CallControl.
func (c *Call) Hangup(_ context.Context, cause string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, "hangup "+cause)
	if c.hungUpBy != "" {
		return hangupErr("hangup")
	}
	c.hangUpLocked("app")
	return nil
}

// Done implements routing.CallControl.
func (c *Call) Done() <-chan struct{} { return c.done }
