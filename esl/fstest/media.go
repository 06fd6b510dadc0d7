package fstest

import (
	"strings"
	"time"
)

// mediaLength tells how long a playback argument plays at real-time speed.
// forever is true for streams that never end by themselves
// (silence_stream://-1, tone_stream with L=-1, local_stream://).
func mediaLength(path string, fileDuration time.Duration) (d time.Duration, forever bool) {
	path = strings.TrimSpace(path)
	for len(path) > 0 && path[0] == '{' {
		end := matchBracket(path, '{', '}')
		if end < 0 {
			break
		}
		path = path[end+1:]
	}
	switch {
	case path == "":
		return 0, false
	case hasPrefixFold(path, "file_string://"):
		var total time.Duration
		for _, p := range strings.Split(path[len("file_string://"):], "!") {
			pd, inf := mediaLength(p, fileDuration)
			if inf {
				return 0, true
			}
			total += pd
		}
		return total, false
	case hasPrefixFold(path, "silence_stream://"):
		arg, _, _ := strings.Cut(path[len("silence_stream://"):], ",")
		ms := atoi(arg)
		if ms <= 0 {
			return 0, true
		}
		return time.Duration(ms) * time.Millisecond, false
	case hasPrefixFold(path, "tone_stream://"):
		return toneLength(path[len("tone_stream://"):])
	case hasPrefixFold(path, "local_stream://"):
		return 0, true
	}
	return fileDuration, false
}

// toneLength sums a teletone script: every %(on,off,freq…) tone lasts on+off
// milliseconds and L=N repeats the whole script N times (-1: forever).
func toneLength(script string) (time.Duration, bool) {
	loops := 1
	var once time.Duration
	for _, part := range strings.Split(script, ";") {
		part = strings.TrimSpace(part)
		switch {
		case hasPrefixFold(part, "l="):
			loops = atoi(part[2:])
		case strings.HasPrefix(part, "%("):
			inner := strings.TrimSuffix(part[2:], ")")
			fields := strings.Split(inner, ",")
			if len(fields) >= 2 {
				once += time.Duration(atoi(fields[0])+atoi(fields[1])) * time.Millisecond
			}
		}
	}
	if loops < 0 {
		return 0, true
	}
	if loops == 0 {
		loops = 1
	}
	return once * time.Duration(loops), false
}
