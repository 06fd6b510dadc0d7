package routing

import (
	"regexp"

	"github.com/stickyacd/stickyacd/routing/idnumber"
)

// idPattern is what play_and_get_digits accepts for an ID number: 15 digits
// (legacy) or 17 digits and a check character, '*' standing for X. Length
// errors are thus caught by FreeSWITCH; the checksum by idnumber.Parse.
const idPattern = `^([0-9]{15}|[0-9]{17}[0-9*])$`

var idInput = regexp.MustCompile(idPattern)

// parseIDInput validates digits keyed at step 02. It checks the pattern
// itself too, so that a CallControl which does not enforce Collect.Pattern
// cannot smuggle typed text (spaces, a lower-case x) past it.
func parseIDInput(digits string) (idnumber.Number, error) {
	if !idInput.MatchString(digits) {
		return idnumber.Number{}, idnumber.ErrFormat
	}
	return idnumber.Parse(digits)
}

// menuChoice maps the digits keyed at step 03 to a business type.
func menuChoice(digits string, byDigit map[byte]BusinessType) (BusinessType, bool) {
	if len(digits) != 1 {
		return BusinessType{}, false
	}
	bt, ok := byDigit[digits[0]]
	return bt, ok
}
