package esl

import (
	"net/textproto"
	"net/url"
	"strconv"
	"time"
)

// Event is a FreeSWITCH event (or the connect reply): its headers as
// received. Values are URL-decoded when read.
type Event struct {
	h    textproto.MIMEHeader
	body []byte
}

// eventFromMap builds an Event from plain header names and decoded values.
func eventFromMap(m map[string]string) Event {
	h := make(textproto.MIMEHeader, len(m))
	for k, v := range m {
		h.Set(k, url.PathEscape(v))
	}
	return Event{h: h}
}

// Get returns the decoded value of a header ("" when absent).
func (e Event) Get(name string) string {
	raw := e.h.Get(name)
	if raw == "" {
		return ""
	}
	v, err := url.PathUnescape(raw)
	if err != nil {
		// FreeSWITCH encodes every '%'; a value that does not decode was
		// not encoded, so it is taken as it is.
		return raw
	}
	return v
}

// Has reports whether the header is present, even if empty.
func (e Event) Has(name string) bool {
	_, ok := e.h[textproto.CanonicalMIMEHeaderKey(name)]
	return ok
}

// Name is the Event-Name header.
func (e Event) Name() string { return e.Get("Event-Name") }

// Body is the event's body, e.g. a BACKGROUND_JOB's output.
func (e Event) Body() string { return string(e.body) }

// Var returns the channel variable name (the variable_<name> header).
func (e Event) Var(name string) string { return e.Get("variable_" + name) }

// Sequence is FreeSWITCH's Event-Sequence, which grows across the whole
// switch; 0 when absent.
func (e Event) Sequence() uint64 {
	n, err := strconv.ParseUint(e.h.Get("Event-Sequence"), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// Time is when FreeSWITCH raised the event (Event-Date-Timestamp), or the
// zero time when absent.
func (e Event) Time() time.Time {
	us, err := strconv.ParseInt(e.h.Get("Event-Date-Timestamp"), 10, 64)
	if err != nil || us <= 0 {
		return time.Time{}
	}
	return time.UnixMicro(us)
}

// eventTimeOr is e.Time(), or fallback when the event carries no time.
func eventTimeOr(e Event, fallback time.Time) time.Time {
	if t := e.Time(); !t.IsZero() {
		return t
	}
	return fallback
}
