package presence

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stickyacd/stickyacd/routing"
)

// Sentinel errors of this package.
var (
	// ErrNotOwner: the agent is not held by this call (or channel) in a
	// state the transition applies to, so nothing changed. Late and repeated
	// events end this way; callers may ignore it.
	ErrNotOwner = errors.New("agent not held by this call")
	// ErrInvalid: a request with an empty ID, an unknown status or an
	// unknown release reason.
	ErrInvalid = errors.New("invalid presence request")
)

// Status is set by the agent (feature codes) or an admin (HTTP).
type Status string

const (
	StatusLoggedOut Status = "logged_out"
	StatusAvailable Status = "available"
	StatusBreak     Status = "break"
)

// State is set by calls.
type State string

const (
	StateIdle     State = "idle"
	StateReserved State = "reserved"
	StateRinging  State = "ringing"
	StateInCall   State = "in_call"
	StateWrapUp   State = "wrap_up"
)

// ReasonMaxNoAnswer is the reason of an agent put on break by
// Options.MaxNoAnswer.
const ReasonMaxNoAnswer = "max_no_answer"

// Agent is one agent's live presence. State is the effective state: an
// expired reservation, call or wrap-up reads as idle.
type Agent struct {
	ID         string
	Status     Status
	State      State
	Registered bool
	Online     bool // available, and registered unless that is waived
	StateSince time.Time
	IdleSince  time.Time // last became free for calls, or last turned one down
	CallUUID   string    // the call or outside channel holding the agent
	External   bool      // CallUUID is a call outside stickyacd
	NoAnswers  int       // consecutive
	Reason     string    // why on break or logged out, e.g. "max_no_answer"
	ReadyAt    time.Time // end of a post-failure delay; zero when none
	// Expires is when the reservation, ring, call backstop or wrap-up
	// ends by itself; zero when idle.
	Expires time.Time
}

// Offerable says whether Reserve would hand this agent to a call.
func (a Agent) Offerable() bool {
	return a.Online && a.State == StateIdle && a.ReadyAt.IsZero()
}

// Options tune a Store. Zero durations take the documented default where
// one is given, and mean "none" otherwise.
type Options struct {
	// Prefix names this deployment's keys and is their hash tag, so several
	// deployments (and tests) can share one Redis. Default "stickyacd".
	// It must not contain braces.
	Prefix string
	// RequireRegistration makes only agents whose phone is registered
	// online. The zero value waives registration; the configuration key
	// presence.require_registration (default true) is what sets it.
	RequireRegistration bool
	// ReserveTTL is how long a reservation or a ringing phone holds an
	// agent without news: the ring timeout plus a margin. Default 30s.
	ReserveTTL time.Duration
	// MaxCallDuration is the backstop after which an agent whose hang-up
	// was missed is free again. Default 4h.
	MaxCallDuration time.Duration
	// WrapUp is the time after each call before the agent is offered the
	// next one. Default none.
	WrapUp time.Duration
	// MaxNoAnswer consecutive no-answers put the agent on break with reason
	// "max_no_answer". Default 0: never.
	MaxNoAnswer int
	// NoAnswerDelay, BusyDelay and RejectDelay keep an agent from being
	// offered a call for a while after that kind of failed attempt. An
	// unreachable phone carries no penalty. Default none.
	NoAnswerDelay time.Duration
	BusyDelay     time.Duration
	RejectDelay   time.Duration
	// ReconcileGrace protects agents whose state changed this recently from
	// Reconcile, whose FreeSWITCH answers may predate the change. It must
	// exceed the time between asking FreeSWITCH and calling Reconcile.
	// Default 10s.
	ReconcileGrace time.Duration
	// Logger receives one line per agent put on break. Default: discard.
	Logger *slog.Logger
}

func (o *Options) setDefaults() error {
	if o.Prefix == "" {
		o.Prefix = "stickyacd"
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return fmt.Errorf("presence prefix %q: braces are not allowed: %w", o.Prefix, ErrInvalid)
	}
	if o.ReserveTTL == 0 {
		o.ReserveTTL = 30 * time.Second
	}
	if o.MaxCallDuration == 0 {
		o.MaxCallDuration = 4 * time.Hour
	}
	if o.ReconcileGrace == 0 {
		o.ReconcileGrace = 10 * time.Second
	}
	for name, d := range map[string]time.Duration{
		"reserve TTL": o.ReserveTTL, "max call duration": o.MaxCallDuration,
		"wrap-up": o.WrapUp, "no-answer delay": o.NoAnswerDelay,
		"busy delay": o.BusyDelay, "reject delay": o.RejectDelay,
		"reconcile grace": o.ReconcileGrace,
	} {
		if d < 0 {
			return fmt.Errorf("presence %s %s: negative: %w", name, d, ErrInvalid)
		}
	}
	if o.MaxNoAnswer < 0 {
		return fmt.Errorf("presence max no-answer %d: negative: %w", o.MaxNoAnswer, ErrInvalid)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

//go:embed lua/*.lua
var luaFiles embed.FS

type scripts struct {
	reserve, reserveAny, ringing, answered, release, hangup,
	external, status, registered, snapshot, reconcile *redis.Script
}

func loadScripts() scripts {
	lib := mustRead("lib")
	s := func(name string) *redis.Script { return redis.NewScript(lib + mustRead(name)) }
	return scripts{
		reserve: s("reserve"), reserveAny: s("reserve_any"), ringing: s("ringing"),
		answered: s("answered"), release: s("release"), hangup: s("hangup"),
		external: s("external"), status: s("status"), registered: s("registered"),
		snapshot: s("snapshot"), reconcile: s("reconcile"),
	}
}

func mustRead(name string) string {
	b, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic(fmt.Sprintf("presence: embedded script %s: %v", name, err))
	}
	return string(b) + "\n"
}

var allScripts = loadScripts()

// Store is agent presence in Redis. It is safe for concurrent use, also
// by several stickyacd instances sharing one Redis.
type Store struct {
	rdb  redis.UniversalClient
	opts Options
	log  *slog.Logger

	keys       []string // agents set, idle index, pending index
	liveKey    string   // prefix of Reconcile's live-call sets
	agentKey   string   // prefix of agent keys
	requireReg string   // "1" or "0", passed to every script
}

var _ routing.Presence = (*Store)(nil)

// New returns a Store over rdb with o's settings; it does not touch Redis.
func New(rdb redis.UniversalClient, o Options) (*Store, error) {
	if rdb == nil {
		return nil, fmt.Errorf("presence: nil redis client: %w", ErrInvalid)
	}
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	tag := "{" + o.Prefix + "}:"
	s := &Store{
		rdb:        rdb,
		opts:       o,
		log:        o.Logger,
		keys:       []string{tag + "agents", tag + "idle", tag + "pending"},
		liveKey:    tag + "live:",
		agentKey:   tag + "agent:",
		requireReg: "0",
	}
	if o.RequireRegistration {
		s.requireReg = "1"
	}
	return s, nil
}

// Load puts the scripts into Redis's script cache, so the first calls do
// not pay for sending them; it also tells whether Redis is reachable.
func (s *Store) Load(ctx context.Context) error {
	for _, sc := range []*redis.Script{
		allScripts.reserve, allScripts.reserveAny, allScripts.ringing,
		allScripts.answered, allScripts.release, allScripts.hangup,
		allScripts.external, allScripts.status, allScripts.registered,
		allScripts.snapshot, allScripts.reconcile,
	} {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("load presence scripts: %w", err)
		}
	}
	return nil
}

// Prefix is the key prefix in use (the hash tag of every key).
func (s *Store) Prefix() string { return s.opts.Prefix }

func (s *Store) run(ctx context.Context, sc *redis.Script, args ...any) *redis.Cmd {
	return s.runKeys(ctx, sc, s.keys, args...)
}

func (s *Store) runKeys(ctx context.Context, sc *redis.Script, keys []string, args ...any) *redis.Cmd {
	all := make([]any, 0, len(args)+2)
	all = append(all, s.agentKey, s.requireReg)
	all = append(all, args...)
	return sc.Run(ctx, s.rdb, keys, all...)
}

// millis rounds up, so a tiny positive duration never becomes "none".
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

func fromMillis(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
