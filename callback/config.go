package callback

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Prompts are the sounds of the next_callback feature code.
type Prompts struct {
	// Announce is played before the customer's number is read out and
	// dialled. Default "ivr/ivr-hold_connect_call.wav".
	Announce string
	// None is played when the agent has no task ready. Default
	// "voicemail/vm-no_more_messages.wav".
	None string
}

// Config is the callback policy. A zero field takes its default (the
// configuration refuses zeros that would be taken for one).
type Config struct {
	// Interval is how often the worker assigns and checks tasks (pending
	// tasks are retried each time). Default 5s.
	Interval time.Duration
	// Lease is how long a claimed task stays with a worker before the
	// rescuer hands it back. Default 30s.
	Lease time.Duration
	// RescueEvery is how often expired leases are returned. Default Lease.
	RescueEvery time.Duration
	// BatchSize is how many tasks one claim takes. Default 200.
	BatchSize int

	// RemindEvery is how often an overdue task is chased (a reminder, or a
	// reassignment for an unknown customer). Default 10m.
	RemindEvery time.Duration
	// MaxReminders is how many times an overdue task is chased before it is
	// escalated to the team leader. Default 3.
	MaxReminders int
	// PriorityStep is added to the priority at each reminder, reassignment
	// and escalation. Default 1.
	PriorityStep int

	// DialString is how next_callback dials the customer; "{number}" is
	// replaced by the stored number. Default "sofia/gateway/outbound/{number}".
	DialString string
	// CallerID is shown to the customer; "" leaves the gateway's. Default "".
	CallerID string
	// RingTimeout is how long the customer's phone rings. Default 30s.
	RingTimeout time.Duration
	// CompleteAfter: an answered callback lasting at least this long
	// completes the task by itself. Default 20s.
	CompleteAfter time.Duration
	// MaxCallDuration bounds a next_callback call: if its outcome never
	// comes back (crash), the task returns to its agent after this long.
	// Default 4h.
	MaxCallDuration time.Duration
	// MaxAttempts is how many unsuccessful calls a task gets; after the last
	// one it is cancelled with outcome "unreachable". Default 5.
	MaxAttempts int
	// RetryBackoff is the wait after the first unsuccessful call; it doubles
	// with each further attempt and the retry is moved into business hours.
	// Default 15m.
	RetryBackoff time.Duration
	// BusinessHours are when retries may be made. Default 09:00-18:00,
	// Monday to Friday.
	BusinessHours BusinessHours
	// Location is the time zone of BusinessHours. Default time.Local.
	Location *time.Location
	Prompts  Prompts

	// Owner names this worker on the leases it takes; it must differ between
	// instances. Default host name, process ID and a random suffix.
	Owner string
}

// Defaults, as documented on Config.
const (
	DefaultInterval        = 5 * time.Second
	DefaultLease           = 30 * time.Second
	DefaultBatchSize       = 200
	DefaultRemindEvery     = 10 * time.Minute
	DefaultMaxReminders    = 3
	DefaultPriorityStep    = 1
	DefaultDialString      = "sofia/gateway/outbound/{number}"
	DefaultRingTimeout     = 30 * time.Second
	DefaultCompleteAfter   = 20 * time.Second
	DefaultMaxCallDuration = 4 * time.Hour
	DefaultMaxAttempts     = 5
	DefaultRetryBackoff    = 15 * time.Minute
	DefaultAnnounce        = "ivr/ivr-hold_connect_call.wav"
	DefaultNone            = "voicemail/vm-no_more_messages.wav"
)

// DefaultBusinessHours is 09:00-18:00, Monday to Friday.
var DefaultBusinessHours = BusinessHours{
	Open: 9 * 60, Close: 18 * 60,
	Days: [7]bool{time.Monday: true, time.Tuesday: true, time.Wednesday: true, time.Thursday: true, time.Friday: true},
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	setDuration(&c.Interval, DefaultInterval)
	setDuration(&c.Lease, DefaultLease)
	setDuration(&c.RescueEvery, c.Lease)
	setInt(&c.BatchSize, DefaultBatchSize)
	setDuration(&c.RemindEvery, DefaultRemindEvery)
	setInt(&c.MaxReminders, DefaultMaxReminders)
	setInt(&c.PriorityStep, DefaultPriorityStep)
	setString(&c.DialString, DefaultDialString)
	setDuration(&c.RingTimeout, DefaultRingTimeout)
	setDuration(&c.CompleteAfter, DefaultCompleteAfter)
	setDuration(&c.MaxCallDuration, DefaultMaxCallDuration)
	setInt(&c.MaxAttempts, DefaultMaxAttempts)
	setDuration(&c.RetryBackoff, DefaultRetryBackoff)
	if c.BusinessHours == (BusinessHours{}) {
		c.BusinessHours = DefaultBusinessHours
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	setString(&c.Prompts.Announce, DefaultAnnounce)
	setString(&c.Prompts.None, DefaultNone)
	return c
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

func setInt(n *int, def int) {
	if *n == 0 {
		*n = def
	}
}

func setString(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

// validate checks a config with its defaults filled in; errors name the
// field.
func (c Config) validate() error {
	var errs []error
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("callback: %s must be positive, got %s", name, d))
		}
	}
	positive("Interval", c.Interval)
	positive("Lease", c.Lease)
	positive("RescueEvery", c.RescueEvery)
	positive("RemindEvery", c.RemindEvery)
	positive("RingTimeout", c.RingTimeout)
	positive("CompleteAfter", c.CompleteAfter)
	positive("MaxCallDuration", c.MaxCallDuration)
	positive("RetryBackoff", c.RetryBackoff)
	atLeastOne := func(name string, n int) {
		if n < 1 {
			errs = append(errs, fmt.Errorf("callback: %s must be at least 1, got %d", name, n))
		}
	}
	atLeastOne("BatchSize", c.BatchSize)
	atLeastOne("MaxReminders", c.MaxReminders)
	atLeastOne("MaxAttempts", c.MaxAttempts)
	if c.PriorityStep < 0 {
		errs = append(errs, fmt.Errorf("callback: PriorityStep must not be negative, got %d", c.PriorityStep))
	}
	if !strings.Contains(c.DialString, "{number}") {
		errs = append(errs, fmt.Errorf("callback: DialString %q must contain {number}", c.DialString))
	}
	h := c.BusinessHours
	if h.Open < 0 || h.Open >= h.Close || h.Close > 24*60 || h.Days == [7]bool{} {
		errs = append(errs, fmt.Errorf("callback: BusinessHours %s: need opening before closing and at least one day", h))
	}
	return errors.Join(errs...)
}
