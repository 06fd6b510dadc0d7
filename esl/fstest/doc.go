// Package fstest emulates FreeSWITCH 1.10.12 for tests and load benches:
// it dials an application's outbound event socket once per call, like the
// dialplan's "socket <addr> async full", and serves an inbound event socket
// (auth, events, api, bgapi) like mod_event_socket on port 8021.
//
// What it sends is modelled on byte-exact captures of a real FreeSWITCH
// (testdata/captures) and, where they are silent, on FreeSWITCH's source
// (mod_event_socket.c, mod_dptools.c, switch_ivr*.c, switch_channel.c,
// mod_sofia): the connect reply, reply texts, event framing, every header of
// every event in FreeSWITCH's order, channel variables in the order
// FreeSWITCH keeps them (setting one deletes it and appends it at the end),
// URL-encoded values. TestFidelity replays every capture against the
// emulator and fails on any difference other than per-call values.
//
// A call is scripted with a CallSpec: who calls, what the dialplan set,
// what the caller keys at each play_and_get_digits try (Input) and when the
// caller hangs up. Agents reached by bridge or originate are scripted with
// SetEndpoint (answer after a ring, no answer, busy, reject, unreachable,
// hang up after talking). Media does not exist; it only takes time: a
// tone_stream or silence_stream plays for its own length, any other file
// for Options.FileDuration, every wait divided by Options.Speed.
//
// A test starts the application's outbound server, an emulator pointing at
// it, places a call and checks what happened:
//
//	fs, err := fstest.New(fstest.Options{Outbound: srv.Addr().String(), Speed: 50})
//	if err != nil {
//		t.Fatal(err)
//	}
//	defer fs.Close()
//	fs.SetEndpoint("user/2001", fstest.Answers(2*time.Second))
//	call, err := fs.Call(ctx, fstest.CallSpec{Caller: "13800138000", Input: []string{"2#"}})
//	if err != nil {
//		t.Fatal(err)
//	}
//	res, err := call.Wait(ctx)
//	if err != nil {
//		t.Fatal(err)
//	}
//	if len(res.Bridges) != 1 || !res.Bridges[0].Answered {
//		t.Errorf("bridges: %+v", res.Bridges)
//	}
//
// The inbound side is at EventSocketAddr (password "ClueCon" unless
// Options.Password says otherwise). Register, Unregister and Expire fire
// sofia::register, sofia::unregister and sofia::expire; agent legs of
// bridges fire channel events carrying the dial string's {…} variables and
// Channel-Presence-ID user@realm; StartChannel makes a channel nobody
// bridged. InboundCommands lists what clients sent there.
//
// Two timing details of a real FreeSWITCH are fixed here so that runs are
// reproducible: the caller's ACK to the answer is processed right after
// the answer (its sip_to_tag … variables land before the answer's
// EXECUTE_COMPLETE), and the linger disconnect-notice follows
// CHANNEL_HANGUP_COMPLETE unless the caller hung up during a bridge (then it
// follows CHANNEL_HANGUP, as in the c_caller_hangs_up capture). Events
// requested in xml format are sent as plain text.
package fstest
