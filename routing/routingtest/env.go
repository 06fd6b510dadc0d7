package routingtest

import (
	"time"

	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/routing/callerid"
)

// Epoch is where an Env's clock starts.
var Epoch = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// Env is a full set of fakes sharing one clock.
type Env struct {
	Clock     *Clock
	Directory *Directory
	Presence  *Presence
	Tasks     *Tasks
	Records   *Records
	Notifier  *Notifier
}

// NewEnv returns empty fakes with a clock at Epoch (not yet wired to
// advance: set Directory.Clock/Latency etc. for that).
func NewEnv() *Env {
	return &Env{
		Clock:     NewClock(Epoch),
		Directory: NewDirectory(),
		Presence:  NewPresence(),
		Tasks:     NewTasks(),
		Records:   NewRecords(),
		Notifier:  &Notifier{},
	}
}

// Numbers is the caller-number normaliser the fakes' data assumes (China:
// +86, 00, trunk prefix 0).
var Numbers = callerid.Normalizer{CountryCode: "86", InternationalPrefix: "00", TrunkPrefix: "0"}

// Deps wires the fakes into routing.Deps, without a logger.
func (e *Env) Deps() routing.Deps {
	return routing.Deps{
		Directory: e.Directory,
		Presence:  e.Presence,
		Tasks:     e.Tasks,
		Records:   e.Records,
		Notifier:  e.Notifier,
		Clock:     e.Clock,
		Numbers:   Numbers,
	}
}
