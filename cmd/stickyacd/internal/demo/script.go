package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/bench/synth"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/httpapi"
	"github.com/stickyacd/stickyacd/esl/fstest"
	"github.com/stickyacd/stickyacd/routing"
)

// Phone behaviours, in emulated time.
var (
	answers  = fstest.Endpoint{Answer: true, RingFor: 2 * time.Second, TalkFor: 20 * time.Second}
	ringsOut = fstest.NoAnswer()
	busy     = fstest.Busy()
)

// waitTimeout bounds every wait for the worker or presence.
const waitTimeout = 30 * time.Second

// scene is one scripted situation: the agents' statuses and phones, then
// the call(s).
type scene struct {
	title string
	// away are the agents not available, with their status.
	away map[string]string
	// phones that do not simply answer, by agent.
	phones map[string]fstest.Endpoint
	play   func(ctx context.Context, d *demo) error
}

func (d *demo) play(ctx context.Context) error {
	if err := d.register(ctx); err != nil {
		return err
	}
	var knownTask, unknownTask callback.Task
	scenes := []scene{
		{
			title: "1. A known customer reaches their own agent (01 → 011)",
			play: func(ctx context.Context, d *demo) error {
				_, err := d.call(ctx, "Gao (K1) calls from 13900000001", fstest.CallSpec{Caller: phoneK1})
				return err
			},
		},
		{
			title:  "2. Their agent does not answer: the backup does (011 → 012)",
			phones: map[string]fstest.Endpoint{"A1": ringsOut},
			play: func(ctx context.Context, d *demo) error {
				_, err := d.call(ctx, "Gao (K1) calls again", fstest.CallSpec{Caller: phoneK1})
				return err
			},
		},
		{
			title:  "3. Agent and backup unavailable: the rest of the team (013)",
			away:   map[string]string{"A2": "logged_out", "A3": "break"},
			phones: map[string]fstest.Endpoint{"A1": busy},
			play: func(ctx context.Context, d *demo) error {
				_, err := d.call(ctx, "Gao (K1) calls again", fstest.CallSpec{Caller: phoneK1})
				return err
			},
		},
		{
			title: "4. Nobody of the team but its leader (014)",
			away:  map[string]string{"A1": "logged_out", "A2": "logged_out", "A3": "break", "A4": "logged_out"},
			play: func(ctx context.Context, d *demo) error {
				_, err := d.call(ctx, "Gao (K1) calls again", fstest.CallSpec{Caller: phoneK1})
				return err
			},
		},
		{
			title: "5. An unknown number keys a customer's ID number: bound, then routed (02 → 011)",
			play: func(ctx context.Context, d *demo) error {
				if _, err := d.call(ctx, "Hu (K2) calls from a new number, 13700000000, mistypes the ID number, then keys it",
					fstest.CallSpec{Caller: "13700000000", Input: []string{"12345#", synth.Keyed(idK2)}}); err != nil {
					return err
				}
				_, err := d.call(ctx, "Hu calls again from 13700000000: now known by caller ID",
					fstest.CallSpec{Caller: "13700000000"})
				return err
			},
		},
		{
			title: "6. An unknown caller goes to any free agent, who becomes their agent (02 → 021)",
			away:  map[string]string{"A1": "logged_out", "A2": "logged_out", "A3": "logged_out", "A4": "logged_out", "L1": "logged_out", "B1": "logged_out", "L2": "logged_out"},
			play: func(ctx context.Context, d *demo) error {
				if _, err := d.call(ctx, "A new caller, 13600000000, keys an ID number nobody has",
					fstest.CallSpec{Caller: "13600000000", Input: []string{synth.Keyed(synth.IDNumber("44030419770615123"))}}); err != nil {
					return err
				}
				if err := d.statuses(ctx, nil); err != nil {
					return err
				}
				_, err := d.call(ctx, "The same caller calls again, everyone available: their own agent first",
					fstest.CallSpec{Caller: "13600000000"})
				return err
			},
		},
		{
			title: "7. A known customer's whole chain is busy: a callback promise, never a stranger (03 → 04 → 05)",
			away:  map[string]string{"B1": "logged_out", "B2": "break", "L2": "logged_out"},
			play: func(ctx context.Context, d *demo) error {
				uuid, err := d.call(ctx, "Jin (K3, Bob's customer) calls; the north team is free but not theirs; Jin keys 2 (credit cards)",
					fstest.CallSpec{Caller: phoneK3, Input: []string{"2"}})
				if err != nil {
					return err
				}
				knownTask, err = d.task(ctx, uuid, func(t callback.Task) bool { return t.Status == callback.StatusAssigned })
				if err != nil {
					return err
				}
				d.printTask("the callback worker assigns the task to the customer's own agent (05)", knownTask)
				return nil
			},
		},
		{
			title: "8. An unknown caller finds nobody: the task goes to the least-loaded agent with the skill (021 → 03 → 04 → 05)",
			away:  allAway(),
			play: func(ctx context.Context, d *demo) error {
				uuid, err := d.call(ctx, "A new caller, 13500000000, keys nothing at the ID prompt, then 1 (loans)",
					fstest.CallSpec{Caller: "13500000000", Input: []string{"", "", "", "1"}})
				if err != nil {
					return err
				}
				d.say("   Bea, then Bob, come back; Bob has Jin's task, Bea none.")
				for _, id := range []string{"B2", "B1"} {
					if err := d.api.do(ctx, "PUT", "/api/v1/agents/"+id+"/status", map[string]string{"status": "available"}, nil); err != nil {
						return err
					}
				}
				unknownTask, err = d.task(ctx, uuid, func(t callback.Task) bool { return t.Status == callback.StatusAssigned })
				if err != nil {
					return err
				}
				d.printTask("the callback worker assigns the task (05)", unknownTask)
				return nil
			},
		},
		{
			title: "9. 31 minutes later, both tasks are overdue: a reminder and a reassignment (06)",
			away:  map[string]string{"A1": "logged_out", "A2": "logged_out", "A3": "logged_out", "A4": "logged_out", "L1": "logged_out", "L2": "logged_out"},
			play: func(ctx context.Context, d *demo) error {
				chats := len(d.fs.InboundCommands())
				d.clock.Advance(31 * time.Minute)
				d.say("   (the worker's clock moves on 31 minutes; the business types are due in 30)")
				var err error
				if knownTask, err = d.task(ctx, knownTask.CallUUID, hasEvent(callback.EventReminded)); err != nil {
					return err
				}
				d.printTask("Jin's task: a known customer's task stays with their agent, who is reminded (priority up)", knownTask)
				if unknownTask, err = d.task(ctx, unknownTask.CallUUID, hasEvent(callback.EventReassigned)); err != nil {
					return err
				}
				d.printTask("the new caller's task: reassigned to another least-loaded agent, same team first (priority up)", unknownTask)
				d.printChats(chats)
				return nil
			},
		},
		{
			title: "10. Bob dials the next_callback code: stickyacd calls his top task's customer (next_callback)",
			away:  map[string]string{"A1": "logged_out", "A2": "logged_out", "A3": "logged_out", "A4": "logged_out", "L1": "logged_out", "L2": "logged_out"},
			play: func(ctx context.Context, d *demo) error {
				d.fs.SetEndpoint(strings.ReplaceAll(d.cfg.Callback.DialString, "{number}", phoneK3), answers)
				res, err := d.place(ctx, fstest.CallSpec{Caller: extensions["B1"], Destination: "*24", Vars: map[string]string{"stickyacd_action": "next_callback"}})
				if err != nil {
					return err
				}
				d.say("   Bob (3101) dials *24 [call %s]", res.UUID)
				for _, b := range res.Bridges {
					d.say("     stickyacd dials %s: %s", b.Target, answeredText(b.Answered))
				}
				task, err := d.task(ctx, knownTask.CallUUID, func(t callback.Task) bool { return t.Status == callback.StatusCompleted })
				if err != nil {
					return err
				}
				d.printTask("Jin's task, after the call", task)
				return nil
			},
		},
	}
	for _, s := range scenes {
		d.say("")
		d.say("%s", s.title)
		if err := d.statuses(ctx, s.away); err != nil {
			return err
		}
		d.setPhones(s.phones)
		d.describe(s)
		if err := s.play(ctx, d); err != nil {
			return fmt.Errorf("%s: %w", s.title, err)
		}
	}
	d.say("")
	d.say("Every branch has been taken: 01, 02, 011, 012, 013, 014, 021, 03, 04, 05, 06 (reminder and reassignment), next_callback.")
	return nil
}

func allAway() map[string]string {
	m := map[string]string{}
	for _, id := range agentIDs {
		m[id] = "logged_out"
	}
	return m
}

func answeredText(ok bool) string {
	if ok {
		return "answered"
	}
	return "not answered"
}

func hasEvent(kind callback.EventKind) func(callback.Task) bool {
	return func(t callback.Task) bool {
		return slices.ContainsFunc(t.Events, func(e callback.Event) bool { return e.Kind == kind })
	}
}

// register registers every agent's phone and waits until presence has
// heard of it.
func (d *demo) register(ctx context.Context) error {
	for _, id := range agentIDs {
		d.fs.Register(extensions[id], Domain)
	}
	return d.until(ctx, "every phone registered", func() (bool, error) {
		var list struct{ Items []httpapi.Agent }
		if err := d.api.do(ctx, "GET", "/api/v1/agents", nil, &list); err != nil {
			return false, err
		}
		n := 0
		for _, a := range list.Items {
			if a.Registered {
				n++
			}
		}
		return n == len(agentIDs), nil
	})
}

// statuses makes every agent available but those in away. A short pause
// between agents keeps their idle order, which breaks ties in a team,
// the order they are listed in.
func (d *demo) statuses(ctx context.Context, away map[string]string) error {
	for _, id := range agentIDs {
		st := "available"
		if s, ok := away[id]; ok {
			st = s
		}
		if err := d.api.do(ctx, "PUT", "/api/v1/agents/"+id+"/status", map[string]string{"status": st}, nil); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// setPhones makes every phone answer but those in odd.
func (d *demo) setPhones(odd map[string]fstest.Endpoint) {
	for _, id := range agentIDs {
		ep, ok := odd[id]
		if !ok {
			ep = answers
		}
		d.fs.SetEndpoint("user/"+extensions[id], ep)
	}
}

// until polls check until it holds, up to waitTimeout.
func (d *demo) until(ctx context.Context, what string, check func() (bool, error)) error {
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, err := check()
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for %s: not after %s", what, waitTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// place runs one call to its end.
func (d *demo) place(ctx context.Context, spec fstest.CallSpec) (*fstest.CallResult, error) {
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	c, err := d.fs.Call(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("place call: %w", err)
	}
	res, err := c.Wait(ctx)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", c.UUID(), err)
	}
	return res, nil
}

// call places a call, then prints its decision trace; it returns the call's
// UUID.
func (d *demo) call(ctx context.Context, what string, spec fstest.CallSpec) (string, error) {
	res, err := d.place(ctx, spec)
	if err != nil {
		return "", err
	}
	var tr routing.Trace
	if err := d.api.do(ctx, "GET", "/api/v1/calls/"+res.UUID, nil, &tr); err != nil {
		return "", err
	}
	d.say("   %s [call %s]", what, res.UUID)
	d.printTrace(tr)
	return res.UUID, nil
}

// task waits for the task of a call to satisfy ok and returns it.
func (d *demo) task(ctx context.Context, callUUID string, ok func(callback.Task) bool) (callback.Task, error) {
	var found callback.Task
	err := d.until(ctx, "the task of call "+callUUID, func() (bool, error) {
		var list struct{ Items []callback.Task }
		if err := d.api.do(ctx, "GET", "/api/v1/callbacks?limit=1000", nil, &list); err != nil {
			return false, err
		}
		for _, t := range list.Items {
			if t.CallUUID == callUUID {
				found = t
				return ok(t), nil
			}
		}
		return false, nil
	})
	return found, err
}
