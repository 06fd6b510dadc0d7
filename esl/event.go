package esl

import (
	"net/textproto"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Event is a FreeSWITCH event (or the connect reply): its headers as
// received. Values are URL-decoded when read.
type Event struct {
	h    textproto.MIMEHeader
	body []byte
	// c replaces h in an event kept for a whole call (see compact).
	c *headerBlock
}

// headerBlock is a read-only copy of headers in one string, entries
// "Key\x00value" sorted by key: a third of a MIMEHeader's memory, for the
// connect reply each call keeps (~150 headers) and reads a few times.
type headerBlock struct {
	data string
	offs []uint32 // start of each entry in data; the next start ends it
}

// compact is a copy of the event that keeps its headers in a headerBlock.
func (e Event) compact() Event {
	if e.c != nil {
		return e
	}
	keys := make([]string, 0, len(e.h))
	size := 0
	for k, v := range e.h {
		if len(v) > 0 {
			keys = append(keys, k)
			size += len(k) + 1 + len(v[0])
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(size)
	blk := &headerBlock{offs: make([]uint32, 0, len(keys))}
	for _, k := range keys {
		blk.offs = append(blk.offs, uint32(b.Len()))
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(e.h[k][0])
	}
	blk.data = b.String()
	return Event{body: e.body, c: blk}
}

// entry is the i-th key and value.
func (b *headerBlock) entry(i int) (string, string) {
	end := len(b.data)
	if i+1 < len(b.offs) {
		end = int(b.offs[i+1])
	}
	k, v, _ := strings.Cut(b.data[b.offs[i]:end], "\x00")
	return k, v
}

// lookup finds a canonical key by binary search.
func (b *headerBlock) lookup(key string) (string, bool) {
	i, found := sort.Find(len(b.offs), func(i int) int {
		k, _ := b.entry(i)
		return strings.Compare(key, k)
	})
	if !found {
		return "", false
	}
	_, v := b.entry(i)
	return v, true
}

// raw is a header's value as received, and whether it is present.
func (e Event) raw(name string) (string, bool) {
	k := textproto.CanonicalMIMEHeaderKey(name)
	if e.c != nil {
		return e.c.lookup(k)
	}
	v, ok := e.h[k]
	if !ok || len(v) == 0 {
		return "", ok
	}
	return v[0], true
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
	raw, _ := e.raw(name)
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
	_, ok := e.raw(name)
	return ok
}

// only is a copy of the event with just the named headers.
func (e Event) only(names ...string) Event {
	h := make(textproto.MIMEHeader, len(names))
	for _, n := range names {
		if v, ok := e.raw(n); ok {
			h[textproto.CanonicalMIMEHeaderKey(n)] = []string{v}
		}
	}
	return Event{h: h}
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
	seq, _ := e.raw("Event-Sequence")
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// Time is when FreeSWITCH raised the event (Event-Date-Timestamp), or the
// zero time when absent.
func (e Event) Time() time.Time {
	ts, _ := e.raw("Event-Date-Timestamp")
	us, err := strconv.ParseInt(ts, 10, 64)
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
