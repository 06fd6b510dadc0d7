package routing

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/stickyacd/stickyacd/routing/idnumber"
)

func TestParseIDInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		wantErr error
		last4   string
	}{
		{"110101199003070011", nil, "0011"},
		{"11010519491231002*", nil, "002X"},
		{"110101900307001", nil, "7001"}, // legacy 15 digits
		{"110101199003070012", idnumber.ErrChecksum, ""},
		{"11010519491231002X", idnumber.ErrFormat, ""}, // keypads have no X
		{"11010519491231002x", idnumber.ErrFormat, ""},
		{"1101011990*3070011", idnumber.ErrFormat, ""},
		{"11010119900307001", idnumber.ErrFormat, ""},
		{"1101011990030700111", idnumber.ErrFormat, ""},
		{"", idnumber.ErrFormat, ""},
		{"110101 199003070011", idnumber.ErrFormat, ""},
	}
	for _, tc := range tests {
		n, err := parseIDInput(tc.in)
		if !errors.Is(err, tc.wantErr) || n.Last4() != tc.last4 {
			t.Errorf("parseIDInput(%s) = %s, %v; want last 4 %q, %v", idnumber.Mask(tc.in), n, err, tc.last4, tc.wantErr)
		}
	}
}

// FuzzParseIDInput checks that keyed input is accepted exactly when it
// matches the collection pattern and carries a valid check character, and
// that no form of the result but Reveal shows more than the last 4.
func FuzzParseIDInput(f *testing.F) {
	for _, s := range []string{"110101199003070011", "11010519491231002*", "110101900307001",
		"110101199003070012", "1101011990*3070011", "", "*", "#", "12345678901234567*#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := parseIDInput(in)
		if !idInput.MatchString(in) {
			if !errors.Is(err, idnumber.ErrFormat) {
				t.Fatalf("input off the pattern gave %v", err)
			}
			return
		}
		if errors.Is(err, idnumber.ErrFormat) {
			t.Fatalf("input on the pattern rejected as malformed")
		}
		if err != nil {
			return
		}
		want := strings.ReplaceAll(in, "*", "X")
		if n.Reveal() != want || n.Last4() != want[len(want)-4:] {
			t.Fatalf("canonical form differs from the input")
		}
		if strings.Contains(n.String(), want[:len(want)-4]) {
			t.Fatalf("String shows more than the last 4")
		}
	})
}

func TestMenuChoice(t *testing.T) {
	t.Parallel()
	by := map[byte]BusinessType{'1': {Code: "loan"}, '2': {Code: "card"}}
	for in, want := range map[string]string{"1": "loan", "2": "card", "3": "", "12": "", "": "", "*": "", "#": ""} {
		bt, ok := menuChoice(in, by)
		if bt.Code != want || ok != (want != "") {
			t.Errorf("menuChoice(%q) = %q, %v; want %q", in, bt.Code, ok, want)
		}
	}
}

// FuzzMenuChoice checks that a choice is made exactly for a single
// configured digit, and that the menu pattern the router sends agrees.
func FuzzMenuChoice(f *testing.F) {
	for _, s := range []string{"1", "2", "3", "12", "", "*", "#", "9", "0"} {
		f.Add(s)
	}
	cfg := Config{
		Chain:       []Step{StepFirst},
		RingTimeout: 1, IDTries: 1, AnyAgentTries: 1, IDTimeout: 1, IDDigitTimeout: 1, MenuTimeout: 1, MenuTries: 1,
		BusinessTypes: []BusinessType{
			{Digit: 1, Code: "loan", CallbackDue: 1}, {Digit: 2, Code: "card", CallbackDue: 1}, {Digit: 7, Code: "fx", CallbackDue: 1},
		},
		DefaultBusinessType: "loan",
		Prompts:             Prompts{EnterID: "e", InvalidID: "i", CallbackPromise: "p", BusinessMenu: "m", Goodbye: "g"},
	}
	pattern, err := validate(cfg)
	if err != nil {
		f.Fatal(err)
	}
	menu := regexp.MustCompile(pattern)
	by := map[byte]BusinessType{}
	for _, bt := range cfg.BusinessTypes {
		by[byte('0'+bt.Digit)] = bt
	}
	f.Fuzz(func(t *testing.T, in string) {
		bt, ok := menuChoice(in, by)
		single := len(in) == 1 && strings.Contains("127", in)
		if ok != single || ok && bt.Digit != int(in[0]-'0') {
			t.Fatalf("menuChoice(%q) = %+v, %v", in, bt, ok)
		}
		if menu.MatchString(in) != ok {
			t.Fatalf("pattern %s and menuChoice disagree on %q", pattern, in)
		}
	})
}
