package demo

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/esl/fstest"
	"github.com/stickyacd/stickyacd/routing"
)

func (d *demo) say(format string, a ...any) { fmt.Fprintf(d.out, format+"\n", a...) }

func (d *demo) header(schema string) {
	d.say("stickyacd demo: the call flow against the built-in FreeSWITCH emulator")
	d.say("PostgreSQL schema %s and Redis prefix %s (both reset); emulated time runs ×%g", schema, d.o.RedisPrefix, d.o.Speed)
	d.say("")
	d.say("Agents (phones registered at %s)", Domain)
	d.say("  north: A1 Ann 3001 (backup A2), A2 Ben 3002 (backup A1), A3 Cat 3003, A4 Dan 3004, leader L1 Lea 3009")
	d.say("  south: B1 Bob 3101, B2 Bea 3102, leader L2 Lou 3109")
	d.say("Customers")
	d.say("  K1 Gao %s, agent A1", phoneK1)
	d.say("  K2 Hu  %s, agent A1, ID number %s", phoneK2, maskID(idK2))
	d.say("  K3 Jin %s, agent B1", phoneK3)
}

func maskID(id string) string { return strings.Repeat("*", len(id)-4) + id[len(id)-4:] }

// describe prints a scene's set-up.
func (d *demo) describe(s scene) {
	var parts []string
	for _, id := range agentIDs {
		if st, ok := s.away[id]; ok {
			parts = append(parts, id+" "+strings.ReplaceAll(st, "_", " "))
		}
	}
	for _, id := range agentIDs {
		if ep, ok := s.phones[id]; ok {
			parts = append(parts, id+"'s phone "+phoneText(ep))
		}
	}
	switch {
	case len(parts) == 0:
		d.say("   set-up: every agent available, every phone answers")
		return
	case len(s.away) == len(agentIDs) && len(s.phones) == 0:
		d.say("   set-up: every agent away (%s)", strings.Join(parts, ", "))
		return
	}
	d.say("   set-up: %s; the others available, their phones answer", strings.Join(parts, ", "))
}

func phoneText(ep fstest.Endpoint) string {
	switch {
	case ep.Cause == "USER_BUSY":
		return "returns busy"
	case ep.Cause != "":
		return "fails " + ep.Cause
	case !ep.Answer:
		return "rings out"
	}
	return "answers"
}

// stepNames are the rows of the call-flow table.
var stepNames = map[routing.Step]string{
	routing.StepLookup:   "caller ID look-up",
	routing.StepIDEntry:  "ID-number entry",
	routing.StepFirst:    "first agent",
	routing.StepBackup:   "backup agent",
	routing.StepTeam:     "team",
	routing.StepLeader:   "team leader",
	routing.StepAnyAgent: "any agent",
	routing.StepCallback: "callback promise, business-type menu",
	routing.StepTask:     "callback task",
}

// resultTexts say why a candidate was passed over, or that they answered.
var resultTexts = map[routing.Result]string{
	routing.ResultAnswered:    "answered",
	routing.ResultOffline:     "passed over: offline (logged out or phone not registered)",
	routing.ResultBreak:       "passed over: on break",
	routing.ResultBusy:        "passed over: busy",
	routing.ResultWrapUp:      "passed over: in wrap-up",
	routing.ResultReserved:    "passed over: held for another call",
	routing.ResultNoAnswer:    "rung, did not answer",
	routing.ResultRejected:    "rung, rejected the call",
	routing.ResultUnreachable: "rung, unreachable",
}

// printTrace prints a decision trace step by step.
func (d *demo) printTrace(tr routing.Trace) {
	writeTrace(d.out, tr)
}

func writeTrace(w io.Writer, tr routing.Trace) {
	for _, s := range tr.Steps {
		line := fmt.Sprintf("     %-4s %s", s.Step, stepNames[s.Step])
		if s.Result != "" {
			line += ": " + s.Result
		}
		if s.Note != "" {
			line += " (" + s.Note + ")"
		}
		fmt.Fprintln(w, line)
		for _, c := range s.Candidates {
			text := resultTexts[c.Result]
			if text == "" {
				text = string(c.Result)
			}
			if c.Cause != "" && c.Result != routing.ResultAnswered {
				text += " [" + c.Cause + "]"
			}
			fmt.Fprintf(w, "            %-3s %s\n", c.AgentID, text)
		}
	}
	out := "     → " + string(tr.Outcome)
	switch {
	case tr.AgentID != "":
		out += " to " + tr.AgentID
	case tr.TaskID != nil:
		out += fmt.Sprintf(", task %d", *tr.TaskID)
	}
	if tr.CustomerID != "" {
		out += ", customer " + tr.CustomerID
	}
	out += fmt.Sprintf(" (%s caller; decision %.2f ms)", tr.Entry, tr.DecisionMS)
	fmt.Fprintln(w, out)
	if tr.Error != "" {
		fmt.Fprintln(w, "     ! "+tr.Error)
	}
}

// printTask prints a callback task and its history.
func (d *demo) printTask(what string, t callback.Task) {
	writeTask(d.out, what, t)
}

func writeTask(w io.Writer, what string, t callback.Task) {
	who := t.CustomerID
	if who == "" {
		who = "new caller " + t.Caller
	}
	fmt.Fprintf(w, "   task %d, %s: %s\n", t.ID, who, what)
	fmt.Fprintf(w, "     %s, business type %s, agent %s, priority %d\n", t.Status, t.BusinessType, t.AgentID, t.Priority)
	for _, e := range t.Events {
		line := fmt.Sprintf("       %-10s %s", e.Kind, e.AgentID)
		if e.Note != "" {
			line += "  " + e.Note
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

// printChats prints the SIP MESSAGEs sent since the n-th event-socket
// command.
func (d *demo) printChats(n int) {
	cmds := d.fs.InboundCommands()
	var chats []string
	for _, c := range cmds[min(n, len(cmds)):] {
		if rest, ok := strings.CutPrefix(c, "bgapi chat "); ok {
			// sip|from|to|body|type
			f := strings.SplitN(rest, "|", 5)
			if len(f) >= 4 {
				chats = append(chats, fmt.Sprintf("SIP MESSAGE to %s: %q", f[2], f[3]))
			}
		}
	}
	slices.Sort(chats)
	for _, c := range chats {
		d.say("   %s", c)
	}
}
