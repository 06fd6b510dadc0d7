package esl

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Answer answers the call.
func (s *Session) Answer(ctx context.Context) error {
	if _, err := s.Execute(ctx, "answer", ""); err != nil {
		return err
	}
	return nil
}

// Playback plays a sound (a file path, tone_stream://, silence_stream://…)
// to the end, and fails with ErrFailed unless FreeSWITCH reports FILE PLAYED.
// ${var} in sound is expanded as in the dialplan.
func (s *Session) Playback(ctx context.Context, sound string) error {
	ev, err := s.Execute(ctx, "playback", sound)
	if err != nil {
		return err
	}
	if afterHangup(ev) {
		return fmt.Errorf("playback: %w", ErrHangup)
	}
	if resp := ev.Get("Application-Response"); resp != "FILE PLAYED" {
		return fmt.Errorf("playback %s: %q: %w", sound, resp, ErrFailed)
	}
	return nil
}

// PlayAndGetDigits describes one play_and_get_digits. Zero fields take
// FreeSWITCH-compatible defaults: Tries 1, Timeout 5s, Terminators "#",
// Invalid silence, Var "stickyacd_digits", Regexp ".+", DigitTimeout =
// Timeout.
type PlayAndGetDigits struct {
	Min, Max     int
	Tries        int
	Timeout      time.Duration // for the first digit, after the prompt
	Terminators  string
	Prompt       string // sound played before each try
	Invalid      string // sound played after a try that did not match
	Var          string // channel variable the digits are stored in
	Regexp       string // the input must match it
	DigitTimeout time.Duration
	// Sensitive input (an ID-card number) is removed from the channel once
	// read: channel variables end up in CDRs, uuid_dump and every later
	// event of the call.
	Sensitive bool
}

const (
	defaultDigitsVar    = "stickyacd_digits"
	defaultDigitsRegexp = ".+"
	silence             = "silence_stream://250"
)

// arg builds play_and_get_digits' argument:
// min max tries timeout terminators prompt invalid var regexp digit_timeout.
func (p PlayAndGetDigits) arg() (string, string, error) {
	tries := max(p.Tries, 1)
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	digitTimeout := p.DigitTimeout
	if digitTimeout <= 0 {
		digitTimeout = timeout
	}
	term := p.Terminators
	if term == "" {
		term = "#"
	}
	invalid := p.Invalid
	if invalid == "" {
		invalid = silence
	}
	prompt := p.Prompt
	if prompt == "" {
		prompt = silence
	}
	v := p.Var
	if v == "" {
		v = defaultDigitsVar
	}
	if !validName(v) {
		return "", "", fmt.Errorf("digits variable %q: %w", v, ErrInvalidArgument)
	}
	// Always give a regexp: only then does FreeSWITCH clear <var>_invalid
	// left over from an earlier collection into the same variable.
	re := p.Regexp
	if re == "" {
		re = defaultDigitsRegexp
	}
	maxDigits := max(p.Max, p.Min, 1)
	arg, err := blankArgs(
		strconv.Itoa(max(p.Min, 0)), strconv.Itoa(maxDigits), strconv.Itoa(tries),
		strconv.FormatInt(timeout.Milliseconds(), 10), term, prompt, invalid, v, re,
		strconv.FormatInt(digitTimeout.Milliseconds(), 10),
	)
	return arg, v, err
}

// PlayAndGetDigits plays the prompt and collects digits. It returns the
// digits, or ErrNoInput when nothing was keyed, ErrInvalidInput when every
// try was keyed but did not match, ErrHangup when the caller hung up.
func (s *Session) PlayAndGetDigits(ctx context.Context, p PlayAndGetDigits) (string, error) {
	arg, v, err := p.arg()
	if err != nil {
		return "", fmt.Errorf("play_and_get_digits: %w", err)
	}
	ev, err := s.Execute(ctx, "play_and_get_digits", arg)
	if err != nil {
		return "", err
	}
	digits, err := digitsResult(ev, v)
	if p.Sensitive && (ev.Var(v) != "" || ev.Var(v+"_invalid") != "") {
		s.unset(v, v+"_invalid")
	}
	return digits, err
}

// unset removes channel variables (uuid_setvar without a value), in one
// round trip. A failure is logged only: the call goes on.
func (s *Session) unset(names ...string) {
	cmds := make([]command, len(names))
	for i, n := range names {
		cmds[i] = rawCommand("api uuid_setvar " + s.uuid + " " + n)
	}
	if _, err := s.sendAll("unset", cmds...); err != nil {
		s.log.Warn("could not clear collected digits from the channel", "err", err)
	}
}

// digitsResult reads play_and_get_digits' outcome from its completion:
// FreeSWITCH clears <var> at each try and sets it only on a match; it sets
// <var>_invalid to input that did not match.
func digitsResult(ev Event, v string) (string, error) {
	// FreeSWITCH stores whatever was keyed even when the caller hung up
	// half-way: that is no answer.
	if afterHangup(ev) {
		return "", fmt.Errorf("play_and_get_digits: %w", ErrHangup)
	}
	if d := ev.Var(v); d != "" {
		return d, nil
	}
	// read_result is cleared when the collection starts and set when it
	// ends, except when the prompt could not be played (a missing sound
	// file): then nothing was asked, let alone collected.
	if !ev.Has("variable_read_result") || ev.Var("read_result") == "" {
		return "", fmt.Errorf("play_and_get_digits: %w", ErrPromptNotPlayed)
	}
	if ev.Var(v+"_invalid") != "" {
		return "", fmt.Errorf("play_and_get_digits: %w", ErrInvalidInput)
	}
	return "", fmt.Errorf("play_and_get_digits: %w", ErrNoInput)
}

// Set sets a channel variable as the dialplan's set application does
// (${…} in value is expanded).
func (s *Session) Set(ctx context.Context, name, value string) error {
	return s.setVar(ctx, "set", name, value)
}

// Export sets a channel variable that is also copied to legs bridged later.
func (s *Session) Export(ctx context.Context, name, value string) error {
	return s.setVar(ctx, "export", name, value)
}

func (s *Session) setVar(ctx context.Context, app, name, value string) error {
	if !validName(name) {
		return fmt.Errorf("%s: variable name %q: %w", app, name, ErrInvalidArgument)
	}
	_, err := s.Execute(ctx, app, name+"="+value)
	return err
}

// Hangup hangs the call up at once, even while an application holds the
// channel, with api uuid_kill on this connection. A call that is already
// gone is not an error. cause "" is NORMAL_CLEARING.
func (s *Session) Hangup(ctx context.Context, cause string) error {
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	if !validCause(cause) {
		return fmt.Errorf("hang up: cause %q: %w", cause, ErrInvalidArgument)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hang up: %w", err)
	}
	if s.snapshot().hungUp {
		return nil
	}
	reply, err := s.send(rawCommand("api uuid_kill "+s.uuid+" "+cause), "uuid_kill")
	if err != nil {
		return fmt.Errorf("hang up: %w", err)
	}
	if strings.HasPrefix(reply, "-ERR") {
		if strings.Contains(reply, "No such channel") {
			return nil
		}
		return fmt.Errorf("hang up: %q: %w", strings.TrimSpace(reply), ErrFailed)
	}
	return nil
}

// validCause accepts FreeSWITCH hang-up cause names.
func validCause(c string) bool {
	for i := 0; i < len(c); i++ {
		if b := c[i]; !(b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_') {
			return false
		}
	}
	return c != ""
}
