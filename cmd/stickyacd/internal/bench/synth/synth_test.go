package synth

import (
	"testing"

	"github.com/stickyacd/stickyacd/routing/idnumber"
)

func TestIDNumberIsValid(t *testing.T) {
	t.Parallel()
	for _, first17 := range []string{"11010119900307001", "44030419770615123", "21000000000000000", "22000001000000001"} {
		id := IDNumber(first17)
		if _, err := idnumber.Parse(id); err != nil {
			t.Errorf("IDNumber(%s) = %s: %v", first17, id, err)
		}
	}
}

func TestKeyed(t *testing.T) {
	t.Parallel()
	tests := []struct{ id, want string }{
		{"110101199003070011", "110101199003070011#"},
		{"44030419770615001X", "44030419770615001*#"},
	}
	for _, tc := range tests {
		if got := Keyed(tc.id); got != tc.want {
			t.Errorf("Keyed(%s) = %s, want %s", tc.id, got, tc.want)
		}
	}
}
