package fstest

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestOutboundReplies(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{}, CallSpec{}, nil)
	c.reply("connect\n\n")
	uuid := c.k.UUID()
	tests := []struct{ cmd, want string }{
		{"myevents\n\n", "+OK Events Enabled"},
		{"myevents plain\n\n", "-ERR aready enabled."},
		{"linger\n\n", "+OK will linger"},
		{"linger 5\n\n", "+OK will linger 5 seconds"},
		{"nolinger\n\n", "+OK will not linger"},
		{"event plain CHANNEL_ANSWER\n\n", "+OK event listener enabled plain"},
		{"event plain\n\n", "-ERR no keywords supplied"},
		{"event plain NOT_AN_EVENT\n\n", "-ERR no keywords supplied"},
		{"nixevent CHANNEL_ANSWER\n\n", "+OK events nixed"},
		{"filter Event-Name CHANNEL_EXECUTE\n\n", "+OK filter added. [Event-Name]=[CHANNEL_EXECUTE]"},
		{"filter add Unique-ID " + uuid + "\n\n", "+OK filter added. [Unique-ID]=[" + uuid + "]"},
		{"filter delete Event-Name CHANNEL_EXECUTE\n\n", "+OK filter deleted. [Event-Name][CHANNEL_EXECUTE]"},
		{"filter delete all\n\n", "+OK filter deleted. [all][]"},
		{"filter Event-Name\n\n", "-ERR invalid syntax"},
		{"getvar socket_resume\n\n", "true"},
		{"getvar caller_id\n\n", "-ERR command not found"},
		{"bogus_command\n\n", "-ERR command not found"},
		{"divert_events on\n\n", "+OK events diverted"},
		{"divert_events\n\n", "-ERR missing value."},
		{"resume\n\n", "+OK"},
		{"log debug\n\n", "+OK log level debug [7]"},
		{"nolog\n\n", "+OK no longer logging"},
		{"nolog\n\n", "-ERR not loging"},
		{"sendmsg 00000000-0000-0000-0000-000000000000\ncall-command: hangup\n\n", "-ERR invalid session id [00000000-0000-0000-0000-000000000000]"},
		{"api uuid_exists " + uuid + "\n\n", "true"},
		{"api uuid_exists 00000000-0000-0000-0000-000000000000\n\n", "false"},
		{"api uuid_getvar " + uuid + " socket_resume\n\n", "true"},
		{"api uuid_getvar " + uuid + " no_such_var\n\n", "_undef_"},
		{"api uuid_getvar\n\n", "-USAGE: <uuid> <var>\n"},
		{"api uuid_getvar 00000000-0000-0000-0000-000000000000 x\n\n", "-ERR No such channel!\n"},
		{"api uuid_setvar " + uuid + " color blue\n\n", "+OK\n"},
		{"api uuid_getvar " + uuid + " color\n\n", "blue"},
		{"api nosuchcommand foo\n\n", "-ERR nosuchcommand Command not found!\n"},
		{"api uuid_kill\n\n", "-USAGE: <uuid> [cause]\n"},
		{"api uuid_break 00000000-0000-0000-0000-000000000000\n\n", "-ERR No such channel!\n"},
		{"noevents\n\n", "+OK no longer listening for events"},
		{"noevents\n\n", "-ERR not listening for events"},
	}
	for _, tt := range tests {
		if got := c.replyText(tt.cmd); got != tt.want {
			t.Errorf("%q → %q, want %q", firstLine(tt.cmd), got, tt.want)
		}
	}
	if got := c.replyText("exit\n\n"); got != "+OK bye" {
		t.Errorf("exit → %q", got)
	}
	f := c.app.next()
	if f.get("Content-Disposition") != "disconnect" || f.get("Controlled-Session-UUID") != uuid ||
		f.body != "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n" {
		t.Errorf("goodbye %v %q", f.headers, f.body)
	}
	c.app.expectEOF()
	if res := callResult(t, c.k); !res.Resumed || res.HungUpBy != "fs" {
		t.Errorf("exit with socket_resume: %+v", res)
	}
}

func TestFilterNarrowsEvents(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{}, CallSpec{}, nil)
	c.start(true)
	c.replyText("filter Event-Name CHANNEL_EXECUTE_COMPLETE\n\n")
	c.replyText("filter Event-Name CHANNEL_HANGUP\n\n")
	c.exec("answer", "", "a1", false)
	c.hangup("NORMAL_CLEARING")
	var names []string
	for {
		f := c.nextAsync()
		if f.get("Content-Type") == "text/disconnect-notice" {
			break
		}
		names = append(names, f.event("Event-Name")+"/"+f.event("Application"))
	}
	if got := strings.Join(names, " "); got != "CHANNEL_EXECUTE_COMPLETE/answer CHANNEL_HANGUP/ CHANNEL_EXECUTE_COMPLETE/socket" {
		t.Errorf("events %s", got)
	}
	if res := c.result(); res.HungUpBy != "app" || res.HangupCause != "NORMAL_CLEARING" || !res.Answered {
		t.Errorf("result %+v", res)
	}
}

func TestJSONEvents(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{}, CallSpec{}, nil)
	c.reply("connect\n\n")
	if got := c.replyText("event json CHANNEL_ANSWER\n\n"); got != "+OK event listener enabled json" {
		t.Fatalf("event json: %q", got)
	}
	c.exec("answer", "", "", false)
	f := c.nextAsync()
	if f.get("Content-Type") != "text/event-json" || !strings.HasPrefix(f.body, `{"Event-Name":"CHANNEL_ANSWER","Core-UUID":`) ||
		!strings.Contains(f.body, `"variable_sip_from_display":"Caller`) && !strings.Contains(f.body, `"Unique-ID":"`+c.k.UUID()+`"`) {
		t.Errorf("json event %v %.200s", f.headers, f.body)
	}
	c.result()
}

func TestPlayback(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{FileDuration: 2 * time.Second, Speed: 200}, CallSpec{}, nil)
	c.start(true)
	c.answer()
	for _, file := range []string{"/sounds/welcome.wav", "silence_stream://300", "tone_stream://L=2;%(100,100,440)", "file_string://a.wav!b.wav"} {
		c.exec("playback", file, "", true)
		if f := c.event("CHANNEL_EXECUTE"); f.event("Application-Data") != file {
			t.Errorf("Application-Data %q", f.event("Application-Data"))
		}
		f := c.event("CHANNEL_EXECUTE_COMPLETE")
		if f.event("Application-Response") != "FILE PLAYED" || f.event("variable_current_application_response") != "FILE PLAYED" {
			t.Errorf("%s: %q", file, f.event("Application-Response"))
		}
	}
	c.hangup("NORMAL_CLEARING")
	res := c.result()
	if len(res.Apps) != 5 || res.Apps[1].Name != "playback" || res.Apps[1].Response != "FILE PLAYED" || res.Apps[1].End.Before(res.Apps[1].Start) {
		t.Errorf("apps %+v", res.Apps)
	}
}

func TestPlayAndGetDigits(t *testing.T) {
	t.Parallel()
	const prompt = "tone_stream://%(100,0,600)"
	tests := []struct {
		name     string
		arg      string
		input    []string
		result   string // read_result
		value    string // variable_id
		invalid  string // variable_id_invalid
		dtmf     string
		hungUpBy string
	}{
		{"terminated", "1 18 3 5000 # " + prompt + " silence_stream://250 id \\d+", []string{"123#"}, "success", "123", "", "123#", ""},
		{"silence every try", "1 18 3 5000 # " + prompt + " silence_stream://250 id \\d+", nil, "failure", "", "", "", ""},
		{"invalid then valid", "1 18 3 5000 # " + prompt + " silence_stream://250 id ^3\\d*$", []string{"12", "3#"}, "success", "3", "12", "123#", ""},
		{"all invalid", "1 18 2 3000 # " + prompt + " silence_stream://250 id ^9\\d*$", []string{"12#", ""}, "failure", "", "12", "12#", ""},
		{"max digits ends the try", "1 4 1 3000 # " + prompt + " silence_stream://250 id", []string{"12345"}, "success", "1234", "", "1234", ""},
		{"digit timeout keeps the digits", "1 4 1 3000 # " + prompt + " silence_stream://250 id", []string{"55"}, "timeout", "55", "", "55", ""},
		{"terminator alone with min 0", "0 4 1 3000 # " + prompt + " silence_stream://250 id", []string{"#"}, "success", "", "", "#", ""},
		// switch_ivr_read stores the digits even when they are too few.
		{"too short", "3 4 1 3000 # " + prompt + " silence_stream://250 id", []string{"1#"}, "failure", "1", "", "1#", ""},
		{"star as a digit", "1 18 1 3000 # " + prompt + " silence_stream://250 id", []string{"11*#"}, "success", "11*", "", "11*#", ""},
		{"caller hangs up", "1 18 3 5000 # " + prompt + " silence_stream://250 id \\d+", []string{HangUp}, "failure", "", "", "", "caller"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := startCall(t, Options{}, CallSpec{Input: tt.input}, nil)
			c.start(true)
			c.answer()
			c.exec("play_and_get_digits", tt.arg, "pagd", true)
			var dtmf []string
			var done frame
			sawHangup := false
			for done.headers == nil {
				f := c.nextAsync()
				switch f.event("Event-Name") {
				case "DTMF":
					dtmf = append(dtmf, f.event("DTMF-Digit"))
				case "CHANNEL_HANGUP":
					sawHangup = true
				case "CHANNEL_EXECUTE_COMPLETE":
					done = f
				}
			}
			if done.event("Application-UUID") != "pagd" || done.event("Application-Response") != "_none_" {
				t.Errorf("complete %q %q", done.event("Application-UUID"), done.event("Application-Response"))
			}
			hdrs := done.eventHeaders()
			has := func(name string) bool {
				for _, h := range hdrs {
					if h.name == name {
						return true
					}
				}
				return false
			}
			if got := done.event("variable_read_result"); got != tt.result {
				t.Errorf("read_result %q, want %q", got, tt.result)
			}
			if got := done.event("variable_id"); got != tt.value || has("variable_id") != (tt.value != "") {
				t.Errorf("id %q, want %q", got, tt.value)
			}
			if got := done.event("variable_id_invalid"); got != tt.invalid {
				t.Errorf("id_invalid %q, want %q", got, tt.invalid)
			}
			if strings.Join(dtmf, "") != tt.dtmf {
				t.Errorf("DTMF %q, want %q", strings.Join(dtmf, ""), tt.dtmf)
			}
			if sawHangup != (tt.hungUpBy == "caller") {
				t.Errorf("CHANNEL_HANGUP before completion: %v", sawHangup)
			}
			if tt.hungUpBy == "" {
				c.hangupAndWait("NORMAL_CLEARING")
			}
			res := c.result()
			if want := firstNonEmpty(tt.hungUpBy, "app"); res.HungUpBy != want {
				t.Errorf("hung up by %q, want %q", res.HungUpBy, want)
			}
		})
	}
}

func TestVariableApps(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{}, CallSpec{Vars: map[string]string{"stickyacd_action": "login"}}, nil)
	c.start(true)
	if got := c.replyText("getvar stickyacd_action\n\n"); got != "login" {
		t.Errorf("dialplan variable %q", got)
	}
	steps := []struct{ app, arg string }{
		{"set", "a=1"}, {"export", "b=2"}, {"export", "c=3"}, {"multiset", "d=4 e=5"},
		{"set", "who=${caller_id_number}"}, {"unset", "a"}, {"set", "d="},
	}
	var last frame
	for _, s := range steps {
		c.exec(s.app, s.arg, "", true)
		last = c.untilComplete(s.app)
	}
	for name, want := range map[string]string{"a": "", "b": "2", "c": "3", "export_vars": "b,c", "d": "", "e": "5", "who": "2000"} {
		if got := last.event("variable_" + name); got != want {
			t.Errorf("%s=%q, want %q", name, got, want)
		}
	}
	c.hangup("NORMAL_CLEARING")
	c.result()
}

func TestUnknownApplicationHangsUp(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{}, CallSpec{}, nil)
	c.start(true)
	c.answer()
	c.exec("nosuchapp", "x", "bad-1", true)
	f := c.event("CHANNEL_HANGUP")
	if f.event("Hangup-Cause") != "DESTINATION_OUT_OF_ORDER" || f.event("variable_app_uuid") != "bad-1" {
		t.Errorf("hangup %q app_uuid %q", f.event("Hangup-Cause"), f.event("variable_app_uuid"))
	}
	c.until("CHANNEL_HANGUP_COMPLETE")
	// After the hang-up, sendmsg is still +OK and does nothing.
	c.exec("playback", "silence_stream://100", "", true)
	if n := c.nextAsync(); n.get("Content-Disposition") != "linger" {
		t.Errorf("after hangup: %v", n.headers)
	}
	res := c.result()
	if res.HungUpBy != "fs" || res.HangupCause != "DESTINATION_OUT_OF_ORDER" {
		t.Errorf("result %+v", res)
	}
}

func TestHangupWithoutLinger(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{}, CallSpec{}, nil)
	c.start(false)
	c.answer()
	c.hangup("USER_BUSY")
	if f := c.event("CHANNEL_HANGUP"); f.event("Hangup-Cause") != "USER_BUSY" {
		t.Errorf("cause %q", f.event("Hangup-Cause"))
	}
	f := c.nextAsync()
	if f.get("Content-Disposition") != "disconnect" || !strings.HasPrefix(f.body, "Disconnected, goodbye.") {
		t.Errorf("notice %v %q", f.headers, f.body)
	}
	c.app.expectEOF()
	if res := callResult(t, c.k); res.HangupCause != "USER_BUSY" || res.HungUpBy != "app" {
		t.Errorf("result %+v", res)
	}
}

func TestLingerTimeCloses(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{Speed: 50}, CallSpec{}, nil)
	c.reply("connect\n\n")
	c.replyText("myevents\n\n")
	if got := c.replyText("linger 1\n\n"); got != "+OK will linger 1 seconds" {
		t.Fatalf("linger 1: %q", got)
	}
	c.answer()
	c.hangup("NORMAL_CLEARING")
	c.until("CHANNEL_HANGUP_COMPLETE")
	if f := c.nextAsync(); f.get("Content-Disposition") != "linger" || f.get("Linger-Time") != "1" {
		t.Errorf("linger notice %v", f.headers)
	}
	if f := c.nextAsync(); f.get("Content-Disposition") != "disconnect" || !strings.HasSuffix(f.body, "cluecon.com/\n") {
		t.Errorf("disconnect %v %q", f.headers, f.body)
	}
	c.app.expectEOF()
	callResult(t, c.k)
}

func TestApplicationClosesSocket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		vars     map[string]string
		resume   bool // send "resume"
		answer   bool
		play     bool
		resumed  bool
		hungUpBy string
	}{
		{"after connect, socket_resume", nil, false, false, false, true, "fs"},
		{"after connect, no socket_resume", map[string]string{"socket_resume": ""}, false, false, false, false, "app"},
		{"after answer, socket_resume", nil, false, true, false, true, "fs"},
		{"during playback, socket_resume", nil, false, true, true, true, "fs"},
		{"during playback, no socket_resume", map[string]string{"socket_resume": ""}, false, true, true, false, "app"},
		{"resume command", map[string]string{"socket_resume": ""}, true, true, false, true, "fs"},
		{"socket_resume=false", map[string]string{"socket_resume": "false"}, false, true, false, false, "app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := startCall(t, Options{}, CallSpec{Vars: tt.vars}, nil)
			c.start(true)
			if tt.resume {
				c.replyText("resume\n\n")
			}
			if tt.answer {
				c.answer()
			}
			if tt.play {
				c.exec("playback", "tone_stream://%(100000,0,440)", "", true)
				c.event("CHANNEL_EXECUTE")
			}
			res := c.result()
			if res.Resumed != tt.resumed || res.HungUpBy != tt.hungUpBy || res.Answered != tt.answer {
				t.Errorf("result %+v", res)
			}
		})
	}
}

func TestQueuedExecutesNest(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{Speed: 10}, CallSpec{}, nil)
	c.start(true)
	c.answer()
	// Without event-lock, each execute starts inside the one before it.
	c.exec("playback", "tone_stream://%(3000,0,440)", "q1", false)
	c.exec("playback", "tone_stream://%(3000,0,550)", "q2", false)
	c.exec("playback", "tone_stream://%(3000,0,660)", "q3", true)
	var order []string
	for len(order) < 4 {
		f := c.nextAsync()
		order = append(order, strings.TrimPrefix(f.event("Event-Name"), "CHANNEL_")+"/"+f.event("Application-UUID"))
	}
	// A hangup message runs inside q2, which then completes, then q1.
	c.hangup("NORMAL_CLEARING")
	for len(order) < 7 {
		f := c.nextAsync()
		order = append(order, strings.TrimPrefix(f.event("Event-Name"), "CHANNEL_")+"/"+f.event("Application-UUID"))
	}
	want := "EXECUTE/q1 EXECUTE/q2 EXECUTE/q3 EXECUTE_COMPLETE/q3 HANGUP/ EXECUTE_COMPLETE/q2 EXECUTE_COMPLETE/q1"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("order %s\nwant  %s", got, want)
	}
	c.result()
}

func TestEventLockDefersHangupMessage(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{Speed: 10}, CallSpec{}, nil)
	c.start(true)
	c.answer()
	c.exec("playback", "tone_stream://%(2000,0,440)", "locked", true)
	c.event("CHANNEL_EXECUTE")
	c.hangup("NORMAL_CLEARING")
	// The hangup message waits for the event-locked playback to end.
	if f := c.nextAsync(); f.event("Event-Name") != "CHANNEL_EXECUTE_COMPLETE" || f.event("Application-Response") != "FILE PLAYED" {
		t.Errorf("first %s %q", f.event("Event-Name"), f.event("Application-Response"))
	}
	c.event("CHANNEL_HANGUP")
	c.result()
}

func TestUUIDKillAndBreak(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{Speed: 10}, CallSpec{}, nil)
	c.start(true)
	c.answer()
	uuid := c.k.UUID()
	c.exec("playback", "tone_stream://%(100000,0,440)", "long-1", true)
	c.event("CHANNEL_EXECUTE")
	if got := c.replyText("api uuid_break " + uuid + " all\n\n"); got != "+OK\n" {
		t.Errorf("uuid_break %q", got)
	}
	if f := c.event("CHANNEL_EXECUTE_COMPLETE"); f.event("Application-Response") != "FILE PLAYED" {
		t.Errorf("broken playback %q", f.event("Application-Response"))
	}
	c.exec("playback", "tone_stream://%(100000,0,440)", "long-2", true)
	c.event("CHANNEL_EXECUTE")
	if got := c.replyText("api uuid_kill " + uuid + " CALL_REJECTED\n\n"); got != "+OK\n" {
		t.Errorf("uuid_kill %q", got)
	}
	if f := c.event("CHANNEL_HANGUP"); f.event("Hangup-Cause") != "CALL_REJECTED" {
		t.Errorf("cause %q", f.event("Hangup-Cause"))
	}
	if f := c.event("CHANNEL_EXECUTE_COMPLETE"); f.event("Application-Response") != "PLAYBACK ERROR" {
		t.Errorf("killed playback %q", f.event("Application-Response"))
	}
	res := c.result()
	if res.HungUpBy != "app" || res.HangupCause != "CALL_REJECTED" {
		t.Errorf("result %+v", res)
	}
}

func TestBackgroundJob(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{}, CallSpec{}, nil)
	c.start(true)
	c.replyText("event plain BACKGROUND_JOB\n\n")
	f := c.reply("bgapi uuid_exists " + c.k.UUID() + "\nJob-UUID: job-1\n\n")
	if f.get("Reply-Text") != "+OK Job-UUID: job-1" || f.get("Job-UUID") != "job-1" {
		t.Errorf("reply %v", f.headers)
	}
	ev := c.event("BACKGROUND_JOB")
	if ev.event("Job-UUID") != "job-1" || ev.event("Job-Owner-UUID") != c.k.UUID() || ev.event("Job-Command") != "uuid_exists" {
		t.Errorf("job %q", ev.eventHeaders())
	}
	if _, body, _ := strings.Cut(ev.body, "\n\n"); body != "true" {
		t.Errorf("job body %q", body)
	}
	c.hangup("NORMAL_CLEARING")
	c.result()
}

func TestSendmsgForms(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{}, CallSpec{}, nil)
	c.start(true)
	uuid := c.k.UUID()
	// eslgo: canonical header names, CRLF, an empty Execute-App-Arg.
	c.replyText("sendmsg " + uuid + "\r\nCall-Command: execute\r\nEvent-Lock: true\r\nExecute-App-Arg: \r\nExecute-App-Name: answer\r\nLoops: 1\r\n\r\n")
	if f := c.event("CHANNEL_EXECUTE"); f.event("Application") != "answer" || strings.Contains(f.body, "Application-Data") {
		t.Errorf("answer execute %q", f.eventHeaders())
	}
	c.untilComplete("answer")
	// The argument in a text/plain body.
	c.replyText("sendmsg\ncall-command: execute\nexecute-app-name: set\ncontent-type: text/plain\ncontent-length: 7\n\ncolor=7\n\n")
	if f := c.untilComplete("set"); f.event("variable_color") != "7" {
		t.Errorf("body argument: color=%q", f.event("variable_color"))
	}
	// unicast and unknown call-commands are accepted and ignored.
	for _, cmd := range []string{"unicast", "nomedia", "bogus"} {
		if got := c.replyText("sendmsg\ncall-command: " + cmd + "\n\n"); got != "+OK" {
			t.Errorf("%s: %q", cmd, got)
		}
	}
	// loops repeats an application that runs at least half a second.
	c.replyText("sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: silence_stream://600\nloops: 2\nevent-lock: true\n\n")
	c.untilComplete("playback")
	c.untilComplete("playback")
	c.hangup("NORMAL_CLEARING")
	res := c.result()
	if strings.Join(appNamesOf(res), " ") != "answer set playback playback" {
		t.Errorf("apps %v", appNamesOf(res))
	}
}

func appNamesOf(res *CallResult) []string {
	var out []string
	for _, a := range res.Apps {
		out = append(out, a.Name)
	}
	return out
}

func TestCallerScriptHangups(t *testing.T) {
	t.Parallel()
	t.Run("on the second playback", func(t *testing.T) {
		t.Parallel()
		c := startCall(t, Options{}, CallSpec{HangupOnApp: "playback", HangupOnAppN: 2}, nil)
		c.start(true)
		c.answer()
		c.exec("playback", "silence_stream://100", "", true)
		c.untilComplete("playback")
		c.exec("playback", "silence_stream://100000", "", true)
		c.event("CHANNEL_EXECUTE")
		if f := c.event("CHANNEL_HANGUP"); f.event("variable_sip_term_status") != "200" {
			t.Errorf("BYE variables missing: %q", f.event("variable_sip_term_status"))
		}
		if f := c.event("CHANNEL_EXECUTE_COMPLETE"); f.event("Application-Response") != "PLAYBACK ERROR" ||
			f.event("variable_sip_hangup_disposition") != "recv_bye" {
			t.Errorf("cut playback %q %q", f.event("Application-Response"), f.event("variable_sip_hangup_disposition"))
		}
		if res := c.result(); res.HungUpBy != "caller" {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("after a while", func(t *testing.T) {
		t.Parallel()
		c := startCall(t, Options{}, CallSpec{HangupAfter: 30 * time.Second}, nil)
		c.start(true)
		c.answer()
		c.until("CHANNEL_HANGUP")
		if res := c.result(); res.HungUpBy != "caller" || res.HangupCause != "NORMAL_CLEARING" {
			t.Errorf("result %+v", res)
		}
	})
}

func TestOutboundUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	fs := newFS(t, nil, Options{Outbound: addr})
	k, err := fs.Call(context.Background(), CallSpec{Caller: "2000"})
	if err != nil {
		t.Fatal(err)
	}
	res := callResult(t, k)
	if !res.Resumed || res.HungUpBy != "fs" || !res.ConnectedAt.IsZero() {
		t.Errorf("result %+v", res)
	}
	if _, err := fs.Call(context.Background(), CallSpec{}); err == nil {
		t.Error("a call without a caller was placed")
	}
}

func TestSourceAddr(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{SourceAddr: "127.0.0.2"}, CallSpec{}, nil)
	host, _, _ := net.SplitHostPort(c.app.conn.RemoteAddr().String())
	if host != "127.0.0.2" {
		t.Errorf("connection from %s", host)
	}
	c.result()
	if _, err := New(Options{Outbound: "127.0.0.1:1", SourceAddr: "not-an-ip"}); err == nil {
		t.Error("New accepted a source address that is not an IP")
	}
}

func TestCloseEndsLiveCalls(t *testing.T) {
	t.Parallel()
	srv := newAppServer(t)
	fs, err := New(Options{Outbound: srv.ln.Addr().String(), Speed: 100})
	if err != nil {
		t.Fatal(err)
	}
	k, err := fs.Call(context.Background(), CallSpec{Caller: "2000"})
	if err != nil {
		t.Fatal(err)
	}
	c := &testCall{t: t, fs: fs, app: srv.accept(), k: k}
	c.start(true)
	c.answer()
	c.exec("playback", "silence_stream://-1", "", true)
	c.event("CHANNEL_EXECUTE")
	if err := fs.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	res := callResult(t, k)
	if res.HangupCause != "SYSTEM_SHUTDOWN" || res.HungUpBy != "fs" {
		t.Errorf("result %+v", res)
	}
	if _, err := fs.Call(context.Background(), CallSpec{Caller: "2000"}); err == nil {
		t.Error("Call after Close succeeded")
	}
}

func TestMediaAndStateApps(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{}, CallSpec{}, nil)
	c.start(true)
	c.exec("ring_ready", "", "", true)
	c.event("CHANNEL_EXECUTE")
	if f := c.event("CHANNEL_PROGRESS"); f.event("Caller-Channel-Progress-Time") == "0" {
		t.Error("ring_ready left Progress-Time at 0")
	}
	c.event("CHANNEL_EXECUTE_COMPLETE")
	c.exec("pre_answer", "", "", true)
	c.event("CHANNEL_EXECUTE")
	if f := c.event("CHANNEL_PROGRESS_MEDIA"); f.event("Answer-State") != "early" || f.event("variable_rtp_use_pt") != "0" {
		t.Errorf("pre_answer: %q %q", f.event("Answer-State"), f.event("variable_rtp_use_pt"))
	}
	if f := c.event("CHANNEL_EXECUTE_COMPLETE"); f.event("Channel-Call-State") != "EARLY" || f.event("variable_endpoint_disposition") != "EARLY MEDIA" {
		t.Errorf("after pre_answer: %q %q", f.event("Channel-Call-State"), f.event("variable_endpoint_disposition"))
	}
	for _, app := range []struct{ name, arg string }{{"sleep", "300"}, {"say", "en number pronounced 12"}, {"log", "INFO hello"}} {
		c.exec(app.name, app.arg, "", true)
		c.untilComplete(app.name)
	}
	c.answer()
	// park holds the channel through uuid_break until it is killed.
	c.exec("park", "", "", true)
	c.event("CHANNEL_EXECUTE")
	c.replyText("api uuid_break " + c.k.UUID() + "\n\n")
	c.replyText("api uuid_kill " + c.k.UUID() + " USER_BUSY\n\n")
	c.event("CHANNEL_HANGUP")
	if f := c.event("CHANNEL_EXECUTE_COMPLETE"); f.event("Application") != "park" {
		t.Errorf("completed %q", f.event("Application"))
	}
	res := c.result()
	if res.HangupCause != "USER_BUSY" || strings.Join(appNamesOf(res), " ") != "ring_ready pre_answer sleep say log answer park" {
		t.Errorf("result %+v", res)
	}
}

func TestHangupApplication(t *testing.T) {
	t.Parallel()
	c := startCall(t, Options{}, CallSpec{}, nil)
	c.start(true)
	c.exec("hangup", "CALL_REJECTED", "", true)
	c.event("CHANNEL_EXECUTE")
	if f := c.event("CHANNEL_HANGUP"); f.event("Hangup-Cause") != "CALL_REJECTED" {
		t.Errorf("cause %q", f.event("Hangup-Cause"))
	}
	c.event("CHANNEL_EXECUTE_COMPLETE")
	c.until("CHANNEL_HANGUP_COMPLETE")
	if res := c.result(); res.HungUpBy != "app" || res.Answered {
		t.Errorf("result %+v", res)
	}
}
