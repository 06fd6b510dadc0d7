package esl

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Registration is a SIP registration as FreeSWITCH reports it.
type Registration struct {
	User, Realm, Contact, NetworkIP string
	Registered                      bool
	Kind                            string // register | unregister | expire
}

// ChannelEvent is a change of a channel anywhere on FreeSWITCH.
type ChannelEvent struct {
	Name              string // CHANNEL_ANSWER | CHANNEL_BRIDGE | CHANNEL_HANGUP_COMPLETE
	UUID              string
	Direction         string // inbound | outbound, from FreeSWITCH's point of view
	CallerNumber      string
	DestinationNumber string
	PresenceUser      string // user part of the channel's presence id
	HangupCause       string
	// Vars holds the channel's stickyacd_* variables (e.g. stickyacd_call,
	// which stickyacd sets on the agent legs it bridges), without the
	// variable_ prefix.
	Vars map[string]string
}

// ChannelInfo is one row of `show channels`.
type ChannelInfo struct {
	UUID, Direction, Name, State, CallState string
	CallerNumber, CallerName, Destination   string
	PresenceID, CallUUID                    string
	Created                                 time.Time
}

// channelEventNames are the channel events the client subscribes to: a
// channel that is up (answered) and one that is gone. Not CHANNEL_CREATE (a
// channel being set up is in no call yet) nor CHANNEL_BRIDGE (only the
// caller's leg raises it, after CHANNEL_ANSWER told us the same): every
// event carries all of the channel's ~150 variables, and FreeSWITCH's CPU
// is the scarce one.
var channelEventNames = []string{"CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"}

// inboundSubscription is the client's one `event` command. CUSTOM must
// come last: the words after it are subclasses.
var inboundSubscription = "event plain " + strings.Join(channelEventNames, " ") +
	" BACKGROUND_JOB CUSTOM sofia::register sofia::unregister sofia::expire"

// registrationKinds maps sofia's event subclasses to Registration.Kind.
var registrationKinds = map[string]string{
	"sofia::register":   "register",
	"sofia::unregister": "unregister",
	"sofia::expire":     "expire",
}

// registrationFromEvent reads a sofia::register, unregister or expire
// event; their headers differ (expire has user/host, the others
// from-user/from-host).
func registrationFromEvent(ev Event) (Registration, bool) {
	kind, ok := registrationKinds[ev.Get("Event-Subclass")]
	if !ok {
		return Registration{}, false
	}
	return Registration{
		User:       firstOf(ev, "from-user", "user", "username"),
		Realm:      firstOf(ev, "from-host", "host", "realm"),
		Contact:    ev.Get("contact"),
		NetworkIP:  ev.Get("network-ip"),
		Registered: kind == "register",
		Kind:       kind,
	}, true
}

func firstOf(ev Event, names ...string) string {
	for _, n := range names {
		if v := ev.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// channelFromEvent reads one of channelEventNames.
func channelFromEvent(ev Event) ChannelEvent {
	c := ChannelEvent{
		Name:              ev.Name(),
		UUID:              ev.Get("Unique-ID"),
		Direction:         firstOf(ev, "Call-Direction", "Caller-Direction"),
		CallerNumber:      ev.Get("Caller-Caller-ID-Number"),
		DestinationNumber: ev.Get("Caller-Destination-Number"),
		PresenceUser:      presenceUser(firstOf(ev, "Channel-Presence-ID", "variable_presence_id")),
		HangupCause:       ev.Get("Hangup-Cause"),
		Vars:              map[string]string{},
	}
	for _, name := range channelVars {
		if v := ev.Var(name); v != "" {
			c.Vars[name] = v
		}
	}
	return c
}

// channelVars are the channel variables a ChannelEvent carries: what tells
// stickyacd's own legs and feature-code calls apart. Nothing else of the
// channel's is kept.
var channelVars = []string{"stickyacd_call", "stickyacd_action"}

// presenceUser is the user part of "user@realm".
func presenceUser(id string) string {
	user, _, _ := strings.Cut(id, "@")
	return user
}

// showRows is the shape of FreeSWITCH's `show … as json`; with no rows it
// sends only {"row_count":0}.
type showRows[T any] struct {
	RowCount int `json:"row_count"`
	Rows     []T `json:"rows"`
}

type registrationRow struct {
	RegUser   string `json:"reg_user"`
	Realm     string `json:"realm"`
	URL       string `json:"url"`
	Expires   string `json:"expires"` // seconds since the epoch
	NetworkIP string `json:"network_ip"`
}

// parseRegistrations reads `show registrations as json` as of now. The
// core's table keeps an expired row for up to 15 s after sofia has fired
// sofia::expire, so a row whose expiry has passed is not a registration.
func parseRegistrations(body string, now time.Time) ([]Registration, error) {
	var rows showRows[registrationRow]
	if err := json.Unmarshal([]byte(strings.TrimSpace(body)), &rows); err != nil {
		return nil, fmt.Errorf("read registrations: %w", err)
	}
	out := make([]Registration, 0, len(rows.Rows))
	for _, r := range rows.Rows {
		if exp, err := strconv.ParseInt(r.Expires, 10, 64); err == nil && exp > 0 && exp <= now.Unix() {
			continue
		}
		out = append(out, Registration{
			User: r.RegUser, Realm: r.Realm, Contact: r.URL, NetworkIP: r.NetworkIP,
			Registered: true, Kind: "register",
		})
	}
	return out, nil
}

type channelRow struct {
	UUID         string `json:"uuid"`
	Direction    string `json:"direction"`
	CreatedEpoch string `json:"created_epoch"`
	Name         string `json:"name"`
	State        string `json:"state"`
	CIDName      string `json:"cid_name"`
	CIDNum       string `json:"cid_num"`
	Dest         string `json:"dest"`
	PresenceID   string `json:"presence_id"`
	CallState    string `json:"callstate"`
	CallUUID     string `json:"call_uuid"`
}

// parseChannels reads `show channels as json`.
func parseChannels(body string) ([]ChannelInfo, error) {
	var rows showRows[channelRow]
	if err := json.Unmarshal([]byte(strings.TrimSpace(body)), &rows); err != nil {
		return nil, fmt.Errorf("read channels: %w", err)
	}
	out := make([]ChannelInfo, 0, len(rows.Rows))
	for _, r := range rows.Rows {
		c := ChannelInfo{
			UUID: r.UUID, Direction: r.Direction, Name: r.Name, State: r.State, CallState: r.CallState,
			CallerNumber: r.CIDNum, CallerName: r.CIDName, Destination: r.Dest,
			PresenceID: r.PresenceID, CallUUID: r.CallUUID,
		}
		if secs, err := strconv.ParseInt(r.CreatedEpoch, 10, 64); err == nil && secs > 0 {
			c.Created = time.Unix(secs, 0)
		}
		out = append(out, c)
	}
	return out, nil
}
