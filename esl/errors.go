package esl

import "errors"

// Sentinel errors; callers check them with errors.Is.
var (
	// ErrHangup: the caller's channel is gone.
	ErrHangup = errors.New("esl: channel hung up")
	// ErrPoisoned: a command got no reply in time; later replies would be
	// matched to the wrong commands, so the connection was given up.
	ErrPoisoned = errors.New("esl: session poisoned")
	// ErrClosed: the socket was closed by FreeSWITCH or by us.
	ErrClosed = errors.New("esl: connection closed")
	// ErrNoInput: play_and_get_digits ended with nothing keyed.
	ErrNoInput = errors.New("esl: no digits")
	// ErrInvalidInput: digits were keyed but never matched the pattern.
	ErrInvalidInput = errors.New("esl: invalid digits")
	// ErrFailed: FreeSWITCH answered a command or an application with a failure.
	ErrFailed = errors.New("esl: freeswitch reported a failure")
	// ErrInvalidArgument: a value cannot be carried in FreeSWITCH's syntax.
	ErrInvalidArgument = errors.New("esl: invalid argument")
	// ErrPromptNotPlayed: play_and_get_digits ended before collecting
	// because its prompt could not be played (a missing sound file).
	ErrPromptNotPlayed = errors.New("esl: prompt could not be played")
)
