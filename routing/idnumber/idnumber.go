// Package idnumber validates resident ID-card numbers as callers key them in
// and keeps the raw number out of every printable form.
//
// Two forms are accepted: the 18-character number (17 digits and an ISO 7064
// MOD 11-2 check character, which may be X) and the legacy 15-digit number.
// On a phone keypad X is keyed as '*', accepted only as the last character.
package idnumber

import (
	"errors"
	"log/slog"
	"strings"
)

// ErrFormat means the input has the wrong length or characters.
var ErrFormat = errors.New("id number: wrong length or characters")

// ErrChecksum means an 18-character number whose check character is wrong.
var ErrChecksum = errors.New("id number: check character does not match")

// Number is a validated ID number. Its String, GoString and LogValue forms are
// masked to the last 4 characters so it can never leak through fmt or slog;
// only Reveal gives the full value, for keyed hashing. Compare Numbers by
// Reveal, not with ==.
type Number struct {
	// canonical sits behind a pointer because fmt cannot call String on a
	// Number held in another struct's unexported field: it prints the
	// fields instead, and a pointer prints as an address, not the number.
	canonical *string
}

func newNumber(canonical string) Number { return Number{canonical: &canonical} }

// weights of ISO 7064 MOD 11-2 for the first 17 digits.
var weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// checkChars maps sum mod 11 to the expected check character.
const checkChars = "10X98765432"

// Parse validates s, keyed digits or typed text. Spaces are ignored, a
// trailing '*' or 'x' means X. It returns ErrFormat or ErrChecksum.
func Parse(s string) (Number, error) {
	s = strings.ReplaceAll(s, " ", "")
	if n := len(s); n > 0 && (s[n-1] == '*' || s[n-1] == 'x') {
		s = s[:n-1] + "X"
	}
	switch len(s) {
	case 15:
		if !allDigits(s) {
			return Number{}, ErrFormat
		}
		return newNumber(s), nil
	case 18:
		if !allDigits(s[:17]) {
			return Number{}, ErrFormat
		}
		last := s[17]
		if last != 'X' && (last < '0' || last > '9') {
			return Number{}, ErrFormat
		}
		sum := 0
		for i := 0; i < 17; i++ {
			sum += int(s[i]-'0') * weights[i]
		}
		if checkChars[sum%11] != last {
			return Number{}, ErrChecksum
		}
		return newNumber(s), nil
	default:
		return Number{}, ErrFormat
	}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsZero reports whether n holds no number.
func (n Number) IsZero() bool { return n.canonical == nil }

// Reveal returns the full canonical number (X upper case). Call it only to
// compute the keyed hash; never log or store its result.
func (n Number) Reveal() string {
	if n.canonical == nil {
		return ""
	}
	return *n.canonical
}

// Last4 returns the last four characters, the only part that may be stored
// or shown.
func (n Number) Last4() string {
	c := n.Reveal()
	if len(c) < 4 {
		return c
	}
	return c[len(c)-4:]
}

// String masks all but the last four characters.
func (n Number) String() string { return Mask(n.Reveal()) }

// GoString masks like String so %#v cannot leak the number either.
func (n Number) GoString() string { return "idnumber.Number(" + n.String() + ")" }

// LogValue makes slog print the masked form.
func (n Number) LogValue() slog.Value { return slog.StringValue(n.String()) }

// MarshalText masks, so JSON and other encoders never see the number.
func (n Number) MarshalText() ([]byte, error) { return []byte(n.String()), nil }

// Mask replaces all but the last four characters of s with '*'.
func Mask(s string) string {
	if len(s) <= 4 {
		return strings.Repeat("*", len(s))
	}
	return strings.Repeat("*", len(s)-4) + s[len(s)-4:]
}
