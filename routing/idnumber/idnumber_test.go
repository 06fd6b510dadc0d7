package idnumber_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stickyacd/stickyacd/routing/idnumber"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		canonical string
		err       error
	}{
		{"110101199003070011", "110101199003070011", nil},
		{"11010519491231002X", "11010519491231002X", nil},
		{"11010519491231002x", "11010519491231002X", nil},
		{"11010519491231002*", "11010519491231002X", nil}, // keypad: * is X
		{"110101 19900307 0011", "110101199003070011", nil},
		{"110101900307001", "110101900307001", nil}, // legacy 15 digits
		{"110101199003070012", "", idnumber.ErrChecksum},
		{"110101199003070011X", "", idnumber.ErrFormat},
		{"11010119900307001", "", idnumber.ErrFormat},
		{"1101011990*3070011", "", idnumber.ErrFormat}, // * only last
		{"11010119900307001A", "", idnumber.ErrFormat},
		{"11010190030700*", "", idnumber.ErrFormat}, // no X in legacy numbers
		{"X10101199003070011", "", idnumber.ErrFormat},
		{"", "", idnumber.ErrFormat},
		{"１１０１０１１９９００３０７００１１", "", idnumber.ErrFormat}, // full-width digits
	}
	for _, tt := range tests {
		t.Run(idnumber.Mask(tt.in), func(t *testing.T) {
			t.Parallel()
			n, err := idnumber.Parse(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if n.Reveal() != tt.canonical || n.IsZero() != (tt.canonical == "") {
				t.Fatalf("canonical %s (zero %v), want %s", idnumber.Mask(n.Reveal()), n.IsZero(), idnumber.Mask(tt.canonical))
			}
		})
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	tests := map[string]string{"": "", "12": "**", "1234": "****", "110101199003070011": "**************0011"}
	for in, want := range tests {
		if got := idnumber.Mask(in); got != want {
			t.Errorf("Mask(%d chars) = %q, want %q", len(in), got, want)
		}
	}
}

// holder keeps a Number in an unexported field, where fmt cannot call its
// methods.
type holder struct {
	callUUID string
	id       idnumber.Number
}

// printed renders n every way a log line, error or trace could.
func printed(t *testing.T, n idnumber.Number) string {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%v %s %+v %#v %q %x %v %+v %#v\n", n, n, n, n, n, n, &n, holder{"c", n}, holder{"c", n})
	fmt.Fprint(&b, []idnumber.Number{n}, map[string]idnumber.Number{"k": n}, &holder{"c", n}, "\n")
	js, err := json.Marshal(struct{ ID idnumber.Number }{n})
	if err != nil {
		t.Fatal(err)
	}
	b.Write(js)
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "id", n, "held", holder{"c", n})
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "id", n, "held", &holder{"c", n})
	b.WriteString(fmt.Errorf("lookup %v: %w", n, errors.New("boom")).Error())
	return b.String()
}

func TestNumberNeverPrintsInFull(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"110101199003070011", "11010519491231002X", "110101900307001"} {
		n, err := idnumber.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		out := printed(t, n)
		if strings.Contains(out, raw) || strings.Contains(out, raw[:len(raw)-4]) {
			t.Fatalf("printed forms leak the number:\n%s", out)
		}
		if !strings.Contains(out, raw[len(raw)-4:]) {
			t.Fatalf("printed forms lack the last 4:\n%s", out)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"110101199003070011", "11010519491231002X", "11010519491231002*", "11010519491231002x",
		"110101900307001", "110101199003070012", "1101011990*3070011", "", "*", "x", " ",
		"110101 19900307 0011", "0000000000000000000", "１１０１０１１９９００３０７００１１",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := idnumber.Parse(in)
		if err != nil {
			if !errors.Is(err, idnumber.ErrFormat) && !errors.Is(err, idnumber.ErrChecksum) {
				t.Fatalf("unexpected error %v", err)
			}
			if !n.IsZero() {
				t.Fatal("a rejected input gave a non-zero Number")
			}
			return
		}
		c := n.Reveal()
		switch len(c) {
		case 15:
			if strings.Trim(c, "0123456789") != "" {
				t.Fatalf("15-character number %q is not all digits", c)
			}
		case 18:
			if strings.Trim(c[:17], "0123456789") != "" || !strings.Contains("0123456789X", c[17:]) {
				t.Fatalf("18-character number %q has bad characters", c)
			}
		default:
			t.Fatalf("canonical form %q has %d characters", c, len(c))
		}
		if again, err := idnumber.Parse(c); err != nil || again.Reveal() != c {
			t.Fatalf("canonical form %q does not parse to itself: %v", c, err)
		}
		if n.Last4() != c[len(c)-4:] {
			t.Fatalf("Last4 %q of %q", n.Last4(), c)
		}
		if out := printed(t, n); strings.Contains(out, c[:len(c)-4]) {
			t.Fatalf("printed forms leak %q:\n%s", c, out)
		}
	})
}
