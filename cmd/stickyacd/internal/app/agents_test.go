package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/config"
	"github.com/stickyacd/stickyacd/esl/fstest"
	"github.com/stickyacd/stickyacd/routing"
)

// Feature codes: the dialplan sets stickyacd_action, the agent is the
// calling extension, a tone confirms, and the call is hung up (not handed
// back to the dialplan's fallback).
func TestFeatureCodes(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	cases := []struct {
		caller, action, status string
		ok                     bool
	}{
		{"3001", "login", "available", true},
		{"3001", "break", "break", true},
		{"3001", "login", "available", true},
		{"3001", "logout", "logged_out", true},
		{"3002", "login", "available", true},
		{"9999", "login", "", false},
		{"3002", "dance", "available", false},
	}
	for _, tc := range cases {
		res := e.call(fstest.CallSpec{Caller: tc.caller, Destination: "*21", Vars: map[string]string{"stickyacd_action": tc.action}})
		tone := e.cfg.Prompts.FeatureError
		if tc.ok {
			tone = e.cfg.Prompts.FeatureOK
		}
		played := false
		for _, a := range res.Apps {
			played = played || (a.Name == "playback" && a.Arg == tone)
		}
		if !played || res.HungUpBy != "app" || res.Resumed {
			t.Fatalf("%s %s: apps %s, hung up by %s, resumed %v", tc.caller, tc.action, appNames(res), res.HungUpBy, res.Resumed)
		}
		if tc.status != "" {
			agent := map[string]string{"3001": "A1", "3002": "A2"}[tc.caller]
			if got := e.agent(agent).Status; got != tc.status {
				t.Fatalf("%s after %s: status %s, want %s", agent, tc.action, got, tc.status)
			}
		}
	}
}

// Registrations from FreeSWITCH's event socket decide who is online when
// presence.require_registration is on.
func TestRegistrationsDecideWhoIsOnline(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *config.Config) { c.Presence.RequireRegistration = true })
	e.available("A1", "A2")
	e.phones(map[string]fstest.Endpoint{"3001": answers, "3002": answers})
	e.fs.Register("3002", "10.0.0.1")
	e.eventually("A2 registered", func() bool { return e.agent("A2").Registered })
	if a := e.agent("A1"); a.Registered || a.Online {
		t.Fatalf("A1 = %+v", a)
	}
	res := e.call(fstest.CallSpec{Caller: "13900000001"})
	tr := e.trace(res.UUID)
	wantOutcome(t, tr, routing.EntryKnown, routing.OutcomeBridged, "A2")
	wantSteps(t, tr, "01 011:A1=offline 012:A2=answered")

	e.fs.Register("3001", "10.0.0.1")
	e.eventually("A1 registered", func() bool { return e.agent("A1").Online })
	res = e.call(fstest.CallSpec{Caller: "13900000001"})
	wantOutcome(t, e.trace(res.UUID), routing.EntryKnown, routing.OutcomeBridged, "A1")

	e.fs.Unregister("3001", "10.0.0.1")
	e.eventually("A1 unregistered", func() bool { return !e.agent("A1").Registered })
	e.fs.Expire("3002", "10.0.0.1")
	e.eventually("A2 expired", func() bool { return !e.agent("A2").Registered })
}

// An agent who takes or makes a call outside stickyacd is busy until it
// ends (then wraps up).
func TestOutsideCallMakesAgentBusy(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *config.Config) { c.Routing.WrapUp = time.Minute })
	e.available("A1", "A2")
	e.phones(map[string]fstest.Endpoint{"3001": answers, "3002": answers})
	ch := e.fs.StartChannel("3001", "inbound", "88886666")
	e.eventually("A1 in a call", func() bool { return e.agent("A1").State == "in_call" })
	res := e.call(fstest.CallSpec{Caller: "13900000001"})
	tr := e.trace(res.UUID)
	wantSteps(t, tr, "01 011:A1=busy 012:A2=answered")
	ch.Hangup()
	e.eventually("A1 wrapping up", func() bool { return e.agent("A1").State == "wrap_up" })
}

// Reconciliation rebuilds presence from FreeSWITCH's registrations and
// channels, and frees an agent held for a call that no longer exists.
func TestReconcileWithFreeSWITCH(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *config.Config) { c.Presence.RequireRegistration = true })
	ctx := context.Background()
	e.fs.Register("3001", "10.0.0.1")
	e.eventually("A1 registered", func() bool { return e.agent("A1").Registered })
	e.available("A1", "A2")
	// Presence drifts: a missed registration, and a reservation for a call
	// that FreeSWITCH no longer has.
	if err := e.app.pres.SetRegistered(ctx, "A1", false); err != nil {
		t.Fatal(err)
	}
	if err := e.app.pres.SetRegistered(ctx, "A2", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.pres.Reserve(ctx, "00000000-dead-call-0000-000000000000", []routing.Group{{Step: routing.StepFirst, Agents: []string{"A2"}}}); err != nil {
		t.Fatal(err)
	}
	if a := e.agent("A2"); a.State != "reserved" {
		t.Fatalf("A2 = %s", a.State)
	}
	time.Sleep(100 * time.Millisecond) // past the reconcile grace
	if err := e.app.events.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	a1, a2 := e.agent("A1"), e.agent("A2")
	if !a1.Registered || a2.Registered || a2.State != "idle" {
		t.Fatalf("after reconcile A1 %+v, A2 %+v", a1, a2)
	}
	if !strings.Contains(e.logs.String(), "presence reconciled with FreeSWITCH") {
		t.Fatal("reconciliation not logged")
	}
}

// Without a registration event, the reconciliation at connect still finds
// a phone registered before stickyacd started.
func TestReconcileAtConnect(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *config.Config) { c.Presence.RequireRegistration = true })
	e.fs.Register("3004", "10.0.0.1")
	e.eventually("A4 registered", func() bool { return e.agent("A4").Registered })
	// A second instance connecting now sees the registration through
	// `show registrations` only.
	if err := e.app.pres.SetRegistered(context.Background(), "A4", false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	e.app.events.Connected(context.Background())
	e.eventually("A4 registered again by reconciliation", func() bool { return e.agent("A4").Registered })
}

// SIGTERM drains and stops cleanly even while an agent's event stream (the
// wallboard, a softphone plug-in) is open: the stream is ended, not waited for.
func TestStopWithEventStreamOpen(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	req, err := http.NewRequest("GET", e.base+"/api/v1/agents/A1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	e.eventually("the stream registered", func() bool { return e.app.hub.Subscribers() == 1 })
	if err := e.stop(); err != nil {
		t.Fatalf("Run = %v, want nil after a drain", err)
	}
	if strings.Contains(e.logs.String(), "http requests cut off at shutdown") {
		t.Error("the open stream held the HTTP server's shutdown up until it was cut off")
	}
}
