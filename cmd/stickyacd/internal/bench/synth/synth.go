// Package synth makes the synthetic ID numbers the bench and the demo load
// and key in.
package synth

import "strings"

// weights of ISO 7064 MOD 11-2 for the first 17 digits.
var weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// IDNumber completes 17 digits with their check character into a valid
// 18-character ID number.
func IDNumber(first17 string) string {
	sum := 0
	for i, w := range weights {
		sum += int(first17[i]-'0') * w
	}
	return first17 + string("10X98765432"[sum%11])
}

// Keyed is an ID number as a caller keys it on a phone: * for X, # to end.
func Keyed(id string) string { return strings.ReplaceAll(id, "X", "*") + "#" }
