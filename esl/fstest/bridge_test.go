package fstest

import (
	"strings"
	"testing"
	"time"
)

func TestBridgeOutcomes(t *testing.T) {
	t.Parallel()
	const target = "user/2001"
	tests := []struct {
		name        string
		ep          *Endpoint // nil: no endpoint set
		arg         string
		cof         bool
		hab         bool
		hangAfter   time.Duration
		onApp       bool
		disposition string
		dialstatus  string
		answered    bool
		hungUpBy    string // "" = the caller stays with the application
		cause       string
	}{
		{name: "answered, agent hangs up", ep: &Endpoint{Answer: true, RingFor: time.Second, TalkFor: 2 * time.Second},
			disposition: "SUCCESS", dialstatus: "SUCCESS", answered: true},
		{name: "answered, hangup_after_bridge", ep: &Endpoint{Answer: true, RingFor: time.Second, TalkFor: 2 * time.Second}, hab: true,
			disposition: "SUCCESS", dialstatus: "SUCCESS", answered: true, hungUpBy: "agent", cause: "NORMAL_CLEARING"},
		{name: "answered, caller hangs up", ep: &Endpoint{Answer: true, RingFor: time.Second}, hangAfter: 12 * time.Second,
			disposition: "SUCCESS", dialstatus: "SUCCESS", answered: true, hungUpBy: "caller", cause: "NORMAL_CLEARING"},
		{name: "busy, continue_on_fail", ep: &Endpoint{Cause: "USER_BUSY"}, cof: true, disposition: "USER_BUSY", dialstatus: "BUSY"},
		{name: "busy", ep: &Endpoint{Cause: "USER_BUSY"}, disposition: "USER_BUSY", dialstatus: "BUSY", hungUpBy: "fs", cause: "USER_BUSY"},
		{name: "no answer", ep: &Endpoint{}, arg: "{originate_timeout=2}", disposition: "NO_ANSWER", dialstatus: "NOANSWER"},
		{name: "rings past its own timeout", ep: &Endpoint{Answer: true, RingFor: 5 * time.Second}, arg: "{call_timeout=2}", disposition: "NO_ANSWER", dialstatus: "NOANSWER"},
		{name: "rejected", ep: &Endpoint{Cause: "CALL_REJECTED"}, cof: true, disposition: "CALL_REJECTED", dialstatus: "DONTCALL"},
		{name: "unreachable", ep: &Endpoint{Cause: "NORMAL_TEMPORARY_FAILURE"}, cof: true, disposition: "NORMAL_TEMPORARY_FAILURE", dialstatus: "NORMAL_TEMPORARY_FAILURE"},
		{name: "not registered", cof: true, disposition: "USER_NOT_REGISTERED", dialstatus: "USER_NOT_REGISTERED"},
		{name: "caller leaves while it rings", ep: &Endpoint{}, onApp: true, disposition: "ORIGINATOR_CANCEL", dialstatus: "CANCEL", hungUpBy: "caller", cause: "NORMAL_CLEARING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := CallSpec{HangupAfter: tt.hangAfter}
			if tt.onApp {
				spec.HangupOnApp = "bridge"
			}
			opts := Options{Speed: 20}
			if tt.hangAfter > 0 {
				// The caller must hang up well after the answer, even on a
				// loaded machine.
				opts.Speed = 10
			}
			c := startCall(t, opts, spec, func(fs *FS) {
				if tt.ep != nil {
					fs.SetEndpoint(target, *tt.ep)
				}
			})
			c.start(true)
			c.answer()
			c.exec("set", "hangup_after_bridge="+map[bool]string{true: "true", false: "false"}[tt.hab], "", true)
			c.untilComplete("set")
			if tt.cof {
				c.exec("set", "continue_on_fail=true", "", true)
				c.untilComplete("set")
			}
			arg := strings.TrimSuffix(firstNonEmpty(tt.arg, "{}"), "}") + ",stickyacd_call=c-1}" + target
			arg = strings.Replace(arg, "{,", "{", 1)
			c.exec("bridge", arg, "br-1", true)
			var names []string
			var done frame
			for done.headers == nil {
				f := c.nextAsync()
				if f.get("Content-Type") == "text/disconnect-notice" {
					names = append(names, "notice")
					continue
				}
				names = append(names, f.event("Event-Name"))
				if f.event("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" && f.event("Application") == "bridge" {
					done = f
				}
			}
			if got := done.event("variable_originate_disposition"); got != tt.disposition {
				t.Errorf("originate_disposition %q, want %q (events %v)", got, tt.disposition, names)
			}
			if got := done.event("variable_DIALSTATUS"); got != tt.dialstatus {
				t.Errorf("DIALSTATUS %q, want %q", got, tt.dialstatus)
			}
			bridged := strings.Contains(strings.Join(names, " "), "CHANNEL_BRIDGE")
			if bridged != tt.answered {
				t.Errorf("events %v", names)
			}
			if tt.answered {
				if got := done.event("variable_bridge_hangup_cause"); got != "NORMAL_CLEARING" {
					t.Errorf("bridge_hangup_cause %q", got)
				}
				if done.event("Other-Type") != "originatee" || done.event("Other-Leg-Destination-Number") != "2001" {
					t.Errorf("other leg %q %q", done.event("Other-Type"), done.event("Other-Leg-Destination-Number"))
				}
			}
			if tt.hungUpBy == "caller" && tt.answered {
				want := "CHANNEL_BRIDGE CHANNEL_HANGUP notice CHANNEL_UNBRIDGE CHANNEL_EXECUTE_COMPLETE"
				if got := strings.Join(names[len(names)-5:], " "); got != want {
					t.Errorf("teardown %s, want %s", got, want)
				}
			}
			if tt.hungUpBy == "" {
				c.exec("playback", "silence_stream://100", "", true)
				c.untilComplete("playback")
				c.hangupAndWait("NORMAL_CLEARING")
			}
			res := c.result()
			if want := firstNonEmpty(tt.hungUpBy, "app"); res.HungUpBy != want {
				t.Errorf("hung up by %q, want %q", res.HungUpBy, want)
			}
			if tt.cause != "" && res.HangupCause != tt.cause {
				t.Errorf("cause %q, want %q", res.HangupCause, tt.cause)
			}
			if len(res.Bridges) != 1 {
				t.Fatalf("bridges %+v", res.Bridges)
			}
			b := res.Bridges[0]
			if b.Target != target || b.Vars["stickyacd_call"] != "c-1" || b.Disposition != tt.disposition || b.Answered != tt.answered ||
				b.AnsweredAt.IsZero() == tt.answered || b.End.Before(b.Start) {
				t.Errorf("attempt %+v", b)
			}
		})
	}
}

func TestBridgeFailover(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{Speed: 20}, CallSpec{}, func(fs *FS) {
		fs.SetEndpoint("user/2001", Busy())
		fs.SetEndpoint("user/2002", NoAnswer())
		fs.SetEndpoint("user/2003", Answers(time.Second))
	})
	c.start(true)
	c.answer()
	c.exec("set", "continue_on_fail=true", "", true)
	c.untilComplete("set")
	c.exec("bridge", "{originate_timeout=3}user/2001|user/2002,user/2003", "", true)
	f := c.until("CHANNEL_BRIDGE")
	if f.event("Other-Leg-Destination-Number") != "2003" {
		t.Errorf("bridged to %q", f.event("Other-Leg-Destination-Number"))
	}
	if got := c.replyText("api uuid_kill " + f.event("Other-Leg-Unique-ID") + "\n\n"); got != "+OK\n" {
		t.Errorf("kill agent: %q", got)
	}
	if f := c.event("CHANNEL_UNBRIDGE"); f.event("variable_last_bridge_hangup_cause") != "NORMAL_CLEARING" {
		t.Errorf("unbridge %q", f.event("variable_last_bridge_hangup_cause"))
	}
	c.untilComplete("bridge")
	c.hangup("NORMAL_CLEARING")
	if res := c.result(); len(res.Bridges) != 1 || !res.Bridges[0].Answered {
		t.Errorf("bridges %+v", res.Bridges)
	}
}
