package routing

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ConfigError names the configuration key that is wrong and why, so that
// start-up can stop with one clear line.
type ConfigError struct {
	Key     string // e.g. "routing.chain[1]", "business_types[0].digit"
	Problem string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Problem }

// chainNames maps the configuration names of routing.chain to their steps.
var chainNames = map[string]Step{
	"first":  StepFirst,
	"backup": StepBackup,
	"team":   StepTeam,
	"leader": StepLeader,
}

// ParseChain turns the configuration form of routing.chain ("first",
// "backup", "team", "leader") into steps; it does not check uniqueness, which
// New does.
func ParseChain(names []string) ([]Step, error) {
	steps := make([]Step, 0, len(names))
	for i, n := range names {
		s, ok := chainNames[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			return nil, &ConfigError{
				Key:     fmt.Sprintf("routing.chain[%d]", i),
				Problem: fmt.Sprintf("unknown step %q (want first, backup, team or leader)", n),
			}
		}
		steps = append(steps, s)
	}
	return steps, nil
}

// validate checks cfg and returns the step 03 menu pattern built from it.
func validate(cfg Config) (menuPattern string, err error) {
	if len(cfg.Chain) == 0 {
		return "", &ConfigError{Key: "routing.chain", Problem: "empty; list at least one of first, backup, team, leader"}
	}
	seen := map[Step]bool{}
	for i, s := range cfg.Chain {
		key := fmt.Sprintf("routing.chain[%d]", i)
		switch s {
		case StepFirst, StepBackup, StepTeam, StepLeader:
		default:
			return "", &ConfigError{Key: key, Problem: fmt.Sprintf("step %q is not one of 011, 012, 013, 014", s)}
		}
		if seen[s] {
			return "", &ConfigError{Key: key, Problem: fmt.Sprintf("step %s listed twice", s)}
		}
		seen[s] = true
	}
	const positive, notNegative = "must be positive", "must not be negative"
	bounds := []struct {
		key, problem string
		ok           bool
	}{
		{"routing.ring_timeout", positive, cfg.RingTimeout > 0},
		{"routing.id_tries", positive, cfg.IDTries >= 1},
		{"routing.any_agent_tries", positive, cfg.AnyAgentTries >= 1},
		{"routing.id_timeout", positive, cfg.IDTimeout > 0},
		{"routing.id_digit_timeout", positive, cfg.IDDigitTimeout > 0},
		{"routing.menu_timeout", positive, cfg.MenuTimeout > 0},
		{"routing.menu_tries", positive, cfg.MenuTries >= 1},
		{"routing.hangup_grace", notNegative, cfg.HangupGrace >= 0},
		{"routing.store_timeout", notNegative, cfg.StoreTimeout >= 0},
	}
	for _, b := range bounds {
		if !b.ok {
			return "", &ConfigError{Key: b.key, Problem: b.problem}
		}
	}
	if len(cfg.BusinessTypes) == 0 {
		return "", &ConfigError{Key: "business_types", Problem: "empty; the step 03 menu needs at least one type"}
	}
	digits := map[int]int{}
	codes := map[string]int{}
	var menu strings.Builder
	for i, bt := range cfg.BusinessTypes {
		key := fmt.Sprintf("business_types[%d]", i)
		if bt.Digit < 1 || bt.Digit > 9 {
			return "", &ConfigError{Key: key + ".digit", Problem: fmt.Sprintf("%d is not a keypad digit 1–9", bt.Digit)}
		}
		if j, dup := digits[bt.Digit]; dup {
			return "", &ConfigError{Key: key + ".digit", Problem: fmt.Sprintf("%d already used by business_types[%d]", bt.Digit, j)}
		}
		digits[bt.Digit] = i
		if strings.TrimSpace(bt.Code) == "" {
			return "", &ConfigError{Key: key + ".code", Problem: "empty"}
		}
		if j, dup := codes[bt.Code]; dup {
			return "", &ConfigError{Key: key + ".code", Problem: fmt.Sprintf("%q already used by business_types[%d]", bt.Code, j)}
		}
		codes[bt.Code] = i
		if bt.CallbackDue <= 0 {
			return "", &ConfigError{Key: key + ".callback_due", Problem: positive}
		}
		menu.WriteString(strconv.Itoa(bt.Digit))
	}
	if _, ok := codes[cfg.DefaultBusinessType]; !ok {
		return "", &ConfigError{
			Key:     "routing.default_business_type",
			Problem: fmt.Sprintf("%q is not the code of a configured business type", cfg.DefaultBusinessType),
		}
	}
	prompts := []struct{ key, sound string }{
		{"prompts.enter_id", cfg.Prompts.EnterID},
		{"prompts.invalid_id", cfg.Prompts.InvalidID},
		{"prompts.callback_promise", cfg.Prompts.CallbackPromise},
		{"prompts.business_menu", cfg.Prompts.BusinessMenu},
		{"prompts.goodbye", cfg.Prompts.Goodbye},
	}
	for _, p := range prompts {
		if strings.TrimSpace(p.sound) == "" {
			return "", &ConfigError{Key: p.key, Problem: "empty; give a sound path, tone_stream:// or silence_stream://"}
		}
	}
	return "^[" + regexp.QuoteMeta(menu.String()) + "]$", nil
}
