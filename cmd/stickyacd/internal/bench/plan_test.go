package bench

import (
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/routing/callerid"
	"github.com/stickyacd/stickyacd/routing/idnumber"
)

func TestBackupOf(t *testing.T) {
	t.Parallel()
	s := Sizes{Agents: 25, TeamSize: 10}
	tests := []struct{ agent, want int }{
		{0, -1}, // leader
		{1, 2},
		{9, 1}, // wraps round, skipping the leader
		{10, -1},
		{21, 22},
		{24, 21}, // the last team has 5 members
	}
	for _, tc := range tests {
		if got := backupOf(tc.agent, s); got != tc.want {
			t.Errorf("backupOf(%d) = %d, want %d", tc.agent, got, tc.want)
		}
	}
	if got := backupOf(1, Sizes{Agents: 2, TeamSize: 2}); got != -1 {
		t.Errorf("a team of two has no backup: %d", got)
	}
}

// Generated numbers are already normalised, ID numbers valid, and fresh
// ones never meet the data set's.
func TestGeneratedNumbers(t *testing.T) {
	t.Parallel()
	norm := callerid.Normalizer{CountryCode: "86", InternationalPrefix: "00", TrunkPrefix: "0"}
	for _, phone := range []string{customerPhone(0), customerPhone(999_999), freshPhone(7, 12)} {
		if got, err := norm.Normalize(phone); err != nil || got != phone {
			t.Errorf("Normalize(%s) = %s, %v", phone, got, err)
		}
	}
	for _, id := range []string{customerIDNumber(0), customerIDNumber(999_999), freshIDNumber(7, 12)} {
		if _, err := idnumber.Parse(id); err != nil {
			t.Errorf("Parse(%s): %v", id, err)
		}
	}
	if customerPhone(1)[:2] == freshPhone(1, 1)[:2] || customerIDNumber(1)[:2] == freshIDNumber(1, 1)[:2] {
		t.Error("fresh numbers share the data set's prefix")
	}
}

// The planner follows the mix and gives the same calls for the same seed.
func TestPlannerMix(t *testing.T) {
	t.Parallel()
	sizes := Sizes{Agents: 10, TeamSize: 5, Customers: 100}
	p := newPlanner(1, sizes, Mix{Known: 0.6, IDEntry: 0.3}, 5)
	q := newPlanner(1, sizes, Mix{Known: 0.6, IDEntry: 0.3}, 5)
	counts := map[callerKind]int{}
	const n = 10_000
	for range n {
		k, spec := p.next()
		k2, spec2 := q.next()
		if k != k2 || spec.Caller != spec2.Caller {
			t.Fatal("the same seed gave different calls")
		}
		counts[k]++
	}
	for k, want := range map[callerKind]float64{kindKnown: 0.6, kindIDEntry: 0.3, kindUnknown: 0.1} {
		if got := float64(counts[k]) / n; got < want-0.03 || got > want+0.03 {
			t.Errorf("%s share %.3f, want %.2f", k, got, want)
		}
	}
}

func TestPhonesShares(t *testing.T) {
	t.Parallel()
	ph := Phones{Busy: 0.1, NoAnswer: 0.2, RingFor: time.Second, TalkFor: time.Minute}
	var busy, silent, answer int
	const n = 10_000
	for i := range n {
		ep := ph.endpoint(i)
		switch {
		case ep.Cause == "USER_BUSY":
			busy++
		case !ep.Answer:
			silent++
		case ep.RingFor == time.Second && ep.TalkFor == time.Minute:
			answer++
		}
	}
	if busy < 900 || busy > 1100 || silent < 1850 || silent > 2150 || busy+silent+answer != n {
		t.Errorf("busy %d, no answer %d, answer %d of %d", busy, silent, answer, n)
	}
}
