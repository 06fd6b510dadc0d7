package routing

import "time"

// BusinessType is one entry of the step 03 menu; agents' skills use Code.
type BusinessType struct {
	Digit       int
	Code        string
	Name        string
	CallbackDue time.Duration // how soon the callback is due
	Priority    int           // base priority of its tasks
}

// Prompts are the sound paths played to callers; tone_stream:// and
// silence_stream:// are valid.
type Prompts struct {
	EnterID         string
	InvalidID       string
	CallbackPromise string
	BusinessMenu    string
	Ringback        string
	Goodbye         string
}

// Config is the routing policy. The zero value is not usable; the wiring
// fills every field from the configuration file.
type Config struct {
	// Chain is the order of steps tried for a known customer, a subset of
	// StepFirst, StepBackup, StepTeam, StepLeader.
	Chain       []Step
	RingTimeout time.Duration
	// IDTries is how many times the ID number is asked for (step 02).
	IDTries        int
	IDTimeout      time.Duration // wait for the first digit
	IDDigitTimeout time.Duration // wait between digits
	// BindAnsweringAgent makes the agent who answers an unknown caller that
	// customer's first agent (step 021).
	BindAnsweringAgent bool
	// AnyAgentTries is how many agents step 021 rings at most before the
	// caller is promised a callback.
	AnyAgentTries int
	BusinessTypes []BusinessType
	// DefaultBusinessType is the code used when the caller keys nothing at 03.
	DefaultBusinessType string
	MenuTimeout         time.Duration
	MenuTries           int
	// HangupGrace is how long stickyacd waits at the end of 03 for the
	// caller to hang up before hanging up itself.
	HangupGrace time.Duration
	// AbandonedTasks makes a caller who hangs up before 03 still get a
	// callback task (when the number is known, not anonymous).
	AbandonedTasks bool
	Prompts        Prompts
	// StoreTimeout bounds each write that must outlive the caller's hang-up:
	// the step 04 task, the call record, presence releases, the customer
	// created at 021. Zero means DefaultStoreTimeout.
	StoreTimeout time.Duration
}

// DefaultStoreTimeout bounds each write made after the caller may be gone
// (Config.StoreTimeout left at zero).
const DefaultStoreTimeout = 5 * time.Second
