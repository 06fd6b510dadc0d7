package callerid_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/stickyacd/stickyacd/routing/callerid"
)

var china = callerid.Normalizer{CountryCode: "86", InternationalPrefix: "00", TrunkPrefix: "0"}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    callerid.Normalizer
		in   string
		want string // "" means ErrUnknown
	}{
		{china, "13900139001", "13900139001"},
		{china, "+8613900139001", "13900139001"},
		{china, "008613900139001", "13900139001"},
		{china, "+86 139-0013-9001", "13900139001"},
		{china, "013900139001", "13900139001"},
		{china, "021 8888 0002", "2188880002"},
		{china, "+86 (21) 8888.0002", "2188880002"},
		{china, "+86 021 8888 0002", "2188880002"}, // trunk prefix written after the country code
		{china, "sip:13900139001@10.0.0.1", "13900139001"},
		{china, "tel:+8613900139001", "13900139001"},
		{china, "+14155550100", "+14155550100"},
		{china, "0014155550100", "+14155550100"},
		{china, " 2001 ", "2001"},
		{china, "", ""},
		{china, "anonymous", ""},
		{china, "Anonymous", ""},
		{china, "unknown", ""},
		{china, "private", ""},
		{china, "0000000000", ""},
		{china, "000", ""},
		{china, "0", ""},
		{china, "+", ""},
		{china, "+86", ""},
		{china, "0086", ""},
		{china, "+86 0", ""},
		{china, "+86000", ""},   // zeros after the country code
		{china, "+86 00 1", ""}, // a prefix left after the prefixes
		{china, "0 0 1", "+1"},  // 00 is the international prefix, spaced or not
		{china, "1390013900a", ""},
		{china, "139*001", ""},
		{china, "1234567890123456", ""}, // longer than E.164
		{china, "+1234567890123456", ""},
		{callerid.Normalizer{}, "013900139001", "013900139001"}, // no prefixes configured
		{callerid.Normalizer{}, "+8613900139001", "+8613900139001"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := tt.n.Normalize(tt.in)
			if tt.want == "" {
				if !errors.Is(err, callerid.ErrUnknown) {
					t.Fatalf("Normalize(%q) = %q, %v; want ErrUnknown", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// stored is the form customer_phones.phone accepts (store/migrations).
var stored = regexp.MustCompile(`^\+?[0-9]{1,15}$`)

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"13900139001", "+8613900139001", "008613900139001", "013900139001", "021 8888 0002",
		"+86 021 8888 0002", "sip:13900139001@10.0.0.1", "tel:+8613900139001", "SIPS:+14155550100@x",
		"+14155550100", "0014155550100", "", "anonymous", "0000000000", "+", "+86", "0086 0",
		"139*001", "1234567890123456", "(010) 6666-0012", "+-1", "00", "0 0 1", "sip:", "@",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := china.Normalize(raw)
		if err != nil {
			if !errors.Is(err, callerid.ErrUnknown) || got != "" {
				t.Fatalf("Normalize(%q) = %q, %v", raw, got, err)
			}
			return
		}
		if !stored.MatchString(got) {
			t.Fatalf("Normalize(%q) = %q: not a storable number", raw, got)
		}
		if strings.Trim(got, "+0") == "" {
			t.Fatalf("Normalize(%q) = %q: all zeros", raw, got)
		}
		// Stored numbers are looked up by normalising the caller ID again:
		// a second pass must not move the key.
		again, err := china.Normalize(got)
		if err != nil || again != got {
			t.Fatalf("Normalize(%q) = %q but Normalize(%q) = %q, %v", raw, got, got, again, err)
		}
	})
}
