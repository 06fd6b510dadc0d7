package bench

import (
	"math/rand/v2"
	"time"

	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/bench/synth"
	"github.com/stickyacd/stickyacd/esl/fstest"
)

// callerKind is which part of step 01/02 a call takes.
type callerKind string

const (
	kindKnown   callerKind = "known"   // caller ID of a customer: 01 → 011…
	kindIDEntry callerKind = "id"      // unknown number, keys a customer's ID: 02 → 011…
	kindUnknown callerKind = "unknown" // unknown number, keys an unknown ID: 02 → 021
)

// Mix is the share of each kind of caller; the rest of 1 is unknown.
type Mix struct {
	Known   float64 `json:"known"`
	IDEntry float64 `json:"id_entry"`
}

// planner makes the calls of a run, reproducibly from a seed.
type planner struct {
	rng   *rand.Rand
	sizes Sizes
	mix   Mix
	run   int
	seq   int
}

func newPlanner(seed uint64, sizes Sizes, mix Mix, run int) *planner {
	return &planner{rng: rand.New(rand.NewPCG(seed, uint64(run))), sizes: sizes, mix: mix, run: run}
}

// next is the next call: its kind and what the caller does. Every caller
// chooses business type 1 if they reach the step 03 menu.
func (p *planner) next() (callerKind, fstest.CallSpec) {
	p.seq++
	x := p.rng.Float64()
	k := p.rng.IntN(p.sizes.Customers)
	switch {
	case x < p.mix.Known:
		return kindKnown, fstest.CallSpec{Caller: customerPhone(k), Input: []string{"1"}}
	case x < p.mix.Known+p.mix.IDEntry:
		return kindIDEntry, fstest.CallSpec{
			Caller: freshPhone(p.run, p.seq),
			Input:  []string{synth.Keyed(customerIDNumber(k)), "1"},
		}
	}
	return kindUnknown, fstest.CallSpec{
		Caller: freshPhone(p.run, p.seq),
		Input:  []string{synth.Keyed(freshIDNumber(p.run, p.seq)), "1"},
	}
}

// Phones scripts the agents' phones.
type Phones struct {
	// Busy and NoAnswer are the shares of agents whose phone returns busy
	// or rings out; the others answer.
	Busy, NoAnswer float64
	RingFor        time.Duration // before answering (emulated time)
	TalkFor        time.Duration // then the agent hangs up (emulated time)
}

// endpoint is what agent i's phone does: the same agents every run.
func (ph Phones) endpoint(i int) fstest.Endpoint {
	// A fixed hash spreads the busy and unanswering phones over the teams.
	x := float64(uint32(i)*2654435761%1_000_000) / 1_000_000
	switch {
	case x < ph.Busy:
		return fstest.Busy()
	case x < ph.Busy+ph.NoAnswer:
		return fstest.NoAnswer()
	}
	return fstest.Endpoint{Answer: true, RingFor: ph.RingFor, TalkFor: ph.TalkFor}
}
