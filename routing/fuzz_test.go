package routing_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/routing/idnumber"
	rt "github.com/stickyacd/stickyacd/routing/routingtest"
)

// FuzzCallerKeys drives whole calls with arbitrary keyed input at step 02
// and the step 03 menu: whatever is keyed, the call ends in a contract
// outcome, holds no agent, creates at most one task, and no valid ID number
// keyed reaches the trace or the logs.
func FuzzCallerKeys(f *testing.F) {
	f.Add(idK1, "", "", "1", uint8(0))
	f.Add(idK3Keyed, "", "", "2", uint8(1))
	f.Add(idBadSum, idBadSum, idNobody, "3", uint8(2))
	f.Add("12345", "", "*#", "12", uint8(3))
	f.Add("", "", "", "", uint8(4))
	f.Add("110101900307001", "9", "0", "", uint8(5))
	f.Fuzz(func(t *testing.T, try1, try2, try3, menu string, mode uint8) {
		h := newHarness(t, func(c *routing.Config) { c.AbandonedTasks = mode&8 != 0 })
		if mode&1 != 0 {
			everyoneAway(h, routing.ResultBusy)
		}
		caller := phoneNew
		if mode&2 != 0 {
			caller = "anonymous"
		}
		inputs := []rt.Input{{Digits: try1}, {Digits: try2}, {Digits: try3}, {Digits: menu}}
		if mode&4 != 0 {
			inputs[int(mode>>4)%len(inputs)] = rt.HangUp
		}
		tr, _ := h.handle(t, "call-f", caller, rt.Script{Inputs: inputs})
		if h.env.Tasks.Calls() > 1 {
			t.Fatalf("CreateTask called %d times", h.env.Tasks.Calls())
		}
		js, err := json.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		logs := h.logs.String()
		for _, keyed := range []string{try1, try2, try3, menu} {
			n, err := idnumber.Parse(keyed)
			if err != nil {
				continue
			}
			if strings.Contains(string(js), n.Reveal()) || strings.Contains(logs, n.Reveal()) ||
				strings.Contains(string(js), keyed) || strings.Contains(logs, keyed) {
				t.Fatalf("a keyed ID number leaked into the trace or logs")
			}
		}
	})
}
