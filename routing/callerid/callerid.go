// Package callerid normalises caller numbers so that the same subscriber
// written as +86 139…, 0086 139…, 0139… or 139… is one key for look-up and
// storage.
package callerid

import (
	"errors"
	"strings"
)

// ErrUnknown means the caller ID identifies nobody: empty, anonymous,
// withheld, or not a number.
var ErrUnknown = errors.New("caller id: unknown or anonymous")

// Normalizer turns raw caller IDs into the stored form: the national
// significant number for domestic numbers ("13900139001"), "+" and the full
// international number for foreign ones ("+14155550100").
type Normalizer struct {
	// CountryCode is this call center's country calling code, e.g. "86".
	CountryCode string
	// InternationalPrefix is dialled before a country code, e.g. "00".
	InternationalPrefix string
	// TrunkPrefix is dialled before a domestic number, e.g. "0".
	TrunkPrefix string
}

// anonymous lists caller ID values carriers and FreeSWITCH use for "no number".
var anonymous = map[string]bool{
	"": true, "anonymous": true, "unknown": true, "private": true,
	"restricted": true, "unavailable": true, "withheld": true, "0000000000": true,
}

// maxDigits is the longest E.164 number.
const maxDigits = 15

// Normalize returns the stored form of raw, or ErrUnknown.
func (n Normalizer) Normalize(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if anonymous[strings.ToLower(s)] {
		return "", ErrUnknown
	}
	// Dial-string and SIP URI decorations: "sip:", "tel:", "@host".
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	for _, p := range []string{"sip:", "sips:", "tel:"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			s = s[len(p):]
		}
	}
	plus := strings.HasPrefix(s, "+")
	if plus {
		s = s[1:]
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
			// Formatting people type into CSV files.
		default:
			return "", ErrUnknown
		}
	}
	d := b.String()
	if d == "" || strings.Trim(d, "0") == "" {
		return "", ErrUnknown
	}
	international := plus
	if !plus && n.InternationalPrefix != "" && strings.HasPrefix(d, n.InternationalPrefix) {
		d = d[len(n.InternationalPrefix):]
		international = true
	}
	if international {
		if n.CountryCode != "" && strings.HasPrefix(d, n.CountryCode) {
			return n.national(strings.TrimPrefix(d[len(n.CountryCode):], n.TrunkPrefix))
		}
		if _, err := check(d); err != nil {
			return "", err
		}
		return "+" + d, nil
	}
	if n.TrunkPrefix != "" && strings.HasPrefix(d, n.TrunkPrefix) {
		d = d[len(n.TrunkPrefix):]
	}
	return n.national(d)
}

// national checks a domestic number once its prefixes are gone. One that
// still starts with a prefix ("+86 00 1") is a number nobody has, and
// storing it would break look-ups: normalising it again strips the prefix.
func (n Normalizer) national(d string) (string, error) {
	if n.TrunkPrefix != "" && strings.HasPrefix(d, n.TrunkPrefix) ||
		n.InternationalPrefix != "" && strings.HasPrefix(d, n.InternationalPrefix) {
		return "", ErrUnknown
	}
	return check(d)
}

// check accepts what is left once prefixes are stripped; nothing but zeros
// ("+86 000") is no more a number than "0000000000".
func check(d string) (string, error) {
	if strings.Trim(d, "0") == "" || len(d) > maxDigits {
		return "", ErrUnknown
	}
	return d, nil
}
