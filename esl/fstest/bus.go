package fstest

import (
	"strings"
	"sync"
	"sync/atomic"
)

// bus routes events to event-socket listeners like event_handler in
// mod_event_socket.c. Listeners that set myevents only ever receive their
// own channel's events (and their background jobs), so they are indexed by
// that channel's UUID; every other subscribed listener sees every event.
type bus struct {
	mu      sync.Mutex // serializes changes
	global  atomic.Pointer[[]*listener]
	byUUIDm sync.RWMutex
	byUUID  map[string][]*listener
}

func (b *bus) init() {
	b.byUUID = make(map[string][]*listener)
	empty := []*listener{}
	b.global.Store(&empty)
}

// place puts l where its subscription says it belongs; it is idempotent.
func (b *bus) place(l *listener) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removeLocked(l)
	l.mu.Lock()
	closed, events, my := l.closed, l.events, l.myevents
	uuid := ""
	if l.session != nil {
		uuid = l.session.uuid
	}
	l.mu.Unlock()
	if closed || !events {
		return
	}
	if my && uuid != "" {
		b.byUUIDm.Lock()
		b.byUUID[uuid] = append(b.byUUID[uuid], l)
		b.byUUIDm.Unlock()
		l.placedUUID = uuid
		return
	}
	old := *b.global.Load()
	next := make([]*listener, len(old), len(old)+1)
	copy(next, old)
	next = append(next, l)
	b.global.Store(&next)
	l.placedGlobal = true
}

func (b *bus) remove(l *listener) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removeLocked(l)
}

func (b *bus) removeLocked(l *listener) {
	if l.placedGlobal {
		old := *b.global.Load()
		next := make([]*listener, 0, len(old))
		for _, o := range old {
			if o != l {
				next = append(next, o)
			}
		}
		b.global.Store(&next)
		l.placedGlobal = false
	}
	if l.placedUUID != "" {
		b.byUUIDm.Lock()
		list := b.byUUID[l.placedUUID]
		next := make([]*listener, 0, len(list))
		for _, o := range list {
			if o != l {
				next = append(next, o)
			}
		}
		if len(next) == 0 {
			delete(b.byUUID, l.placedUUID)
		} else {
			b.byUUID[l.placedUUID] = next
		}
		b.byUUIDm.Unlock()
		l.placedUUID = ""
	}
}

func (b *bus) targets(fs *FS, e *event) []*listener {
	var out []*listener
	for _, l := range *b.global.Load() {
		if l.wants(fs, e) {
			out = append(out, l)
		}
	}
	if e.uuid == "" && e.jobOwner == "" {
		return out
	}
	b.byUUIDm.RLock()
	defer b.byUUIDm.RUnlock()
	for _, l := range b.byUUID[e.uuid] {
		if l.wants(fs, e) {
			out = append(out, l)
		}
	}
	if e.jobOwner != "" && e.jobOwner != e.uuid {
		for _, l := range b.byUUID[e.jobOwner] {
			if l.wants(fs, e) {
				out = append(out, l)
			}
		}
	}
	return out
}

// filter is one "filter <header> <value>" of a listener.
type filter struct{ header, value string }

// wants applies the listener's subscription, filters and myevents rule in
// the order event_handler does.
func (l *listener) wants(fs *FS, e *event) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || !l.events {
		return false
	}
	send := l.allEvents
	if !send && l.eventTypes[e.name] {
		send = e.name != "CUSTOM" || e.subclass == "" || l.customs[strings.ToLower(e.subclass)]
	}
	if !send {
		return false
	}
	if len(l.filters) > 0 {
		send = false
		for _, f := range l.filters {
			hval, ok := e.get(fs, f.header)
			if !ok {
				continue
			}
			pos := true
			cmp := f.value
			for len(cmp) > 0 {
				c := cmp[0]
				if c == '+' {
					pos = true
				} else if c == '-' {
					pos = false
				} else if c != ' ' {
					break
				}
				cmp = cmp[1:]
			}
			if send && pos {
				continue
			}
			var match bool
			if strings.HasPrefix(f.value, "/") {
				match = regexMatch(strings.TrimSuffix(cmp[min(1, len(cmp)):], "/"), hval)
			} else {
				match = strings.EqualFold(hval, cmp)
			}
			if match {
				if !pos {
					return false
				}
				send = true
			}
		}
		if !send {
			return false
		}
	}
	if l.myevents {
		own := ""
		if l.session != nil {
			own = l.session.uuid
		}
		if e.uuid == "" || (own != "" && e.uuid != own) {
			send = false
		}
		if own != "" && e.jobOwner == own {
			send = true
		}
	}
	return send
}
