package dialplan

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type include struct {
	Extensions []extension `xml:"extension"`
	Users      []struct {
		ID string `xml:"id,attr"`
	} `xml:"user"`
}

type extension struct {
	Name      string `xml:"name,attr"`
	Condition struct {
		Field      string   `xml:"field,attr"`
		Expression string   `xml:"expression,attr"`
		Actions    []action `xml:"action"`
	} `xml:"condition"`
}

type action struct {
	App  string `xml:"application,attr"`
	Data string `xml:"data,attr"`
}

func load(t *testing.T, path string) include {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var inc include
	if err := xml.Unmarshal(raw, &inc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return inc
}

// socketAt returns the index of the socket action, checking that
// socket_resume=true is set before it and that it runs async full.
func socketAt(t *testing.T, ext extension) int {
	t.Helper()
	resume := false
	for i, a := range ext.Condition.Actions {
		if a.App == "set" && a.Data == "socket_resume=true" {
			resume = true
		}
		if a.App == "socket" {
			if !resume {
				t.Errorf("%s: socket_resume=true is not set before socket", ext.Name)
			}
			if !strings.HasSuffix(a.Data, " async full") {
				t.Errorf("%s: socket %q does not run async full", ext.Name, a.Data)
			}
			return i
		}
	}
	t.Fatalf("%s: no socket action", ext.Name)
	return -1
}

func TestInboundExtensionHasFallback(t *testing.T) {
	for _, f := range []string{"public/00_stickyacd_inbound.xml", "default/00_stickyacd_test_number.xml"} {
		inc := load(t, f)
		if len(inc.Extensions) != 1 {
			t.Fatalf("%s: extensions: %d", f, len(inc.Extensions))
		}
		ext := inc.Extensions[0]
		i := socketAt(t, ext)
		liberal := false
		for _, a := range ext.Condition.Actions[:i] {
			liberal = liberal || a.Data == "rtp_liberal_dtmf=true"
		}
		if !liberal {
			t.Errorf("%s: SIP INFO DTMF would be ignored (rtp_liberal_dtmf)", f)
		}
		rest := ext.Condition.Actions[i+1:]
		if len(rest) == 0 {
			t.Fatalf("%s: no fallback after socket", f)
		}
		if last := rest[len(rest)-1]; last.App != "hangup" {
			t.Errorf("%s: fallback does not end with hangup: %+v", f, last)
		}
	}
}

func TestFeatureCodesSetTheirAction(t *testing.T) {
	inc := load(t, "default/00_stickyacd_features.xml")
	want := map[string]bool{"login": false, "logout": false, "break": false, "next_callback": false}
	for _, ext := range inc.Extensions {
		i := socketAt(t, ext)
		for _, a := range ext.Condition.Actions[:i] {
			if v, ok := strings.CutPrefix(a.Data, "stickyacd_action="); ok && a.App == "set" {
				if _, known := want[v]; !known {
					t.Errorf("%s: unknown action %q", ext.Name, v)
				}
				want[v] = true
			}
		}
	}
	for action, seen := range want {
		if !seen {
			t.Errorf("no feature code sets stickyacd_action=%s", action)
		}
	}
}

func TestSampleDirectoryUsers(t *testing.T) {
	files, err := filepath.Glob("directory/default/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample users: %v", err)
	}
	for _, f := range files {
		inc := load(t, f)
		if len(inc.Users) != 1 || inc.Users[0].ID+".xml" != filepath.Base(f) {
			t.Errorf("%s: users %+v", f, inc.Users)
		}
	}
}
