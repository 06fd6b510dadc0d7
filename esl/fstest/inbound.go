package fstest

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// acceptInbound serves the inbound event socket: every connection gets
// "Content-Type: auth/request" and must authenticate first.
func (fs *FS) acceptInbound() {
	defer fs.wg.Done()
	for {
		conn, err := fs.ln.Accept()
		if err != nil {
			return
		}
		l := newListener(fs, conn)
		l.out.push([]byte("Content-Type: auth/request\n\n"))
		if !l.start() {
			return
		}
	}
}

// registration is a SIP registration in mod_sofia's sense.
type registration struct {
	user, realm, contact, callID, networkIP, networkPort, userAgent string
	expires                                                         int64 // absolute, seconds since the epoch
}

var regPorts atomic.Uint32

func (fs *FS) newRegistration(user, realm string) *registration {
	port := strconv.Itoa(int(5100 + regPorts.Add(1)%800))
	return &registration{
		user: user, realm: realm,
		contact:     `"` + user + `" <sip:` + user + `@127.0.0.1:` + port + `>`,
		callID:      newUUID(),
		networkIP:   "127.0.0.1",
		networkPort: port,
		userAgent:   "fstest-phone",
		expires:     time.Now().Unix() + 3600,
	}
}

func regKey(user, realm string) string { return strings.ToLower(user + "@" + realm) }

// Register registers user@realm: it fires CUSTOM sofia::register as
// sofia_reg_handle_register_token does and lists the user in
// "show registrations".
func (fs *FS) Register(user, realm string) {
	r := fs.newRegistration(user, realm)
	fs.mu.Lock()
	fs.regs[regKey(user, realm)] = r
	fs.mu.Unlock()
	fs.fire(&event{name: "CUSTOM", subclass: "sofia::register", site: siteRegister, head: []kv{
		{"profile-name", "internal"}, {"from-user", user}, {"from-host", realm},
		{"presence-hosts", realm}, {"contact", r.contact}, {"call-id", r.callID},
		{"rpid", "unknown"}, {"status", "Registered(UDP)"}, {"expires", "3600"},
		{"to-user", user}, {"to-host", realm}, {"network-ip", r.networkIP},
		{"network-port", r.networkPort}, {"username", user}, {"realm", realm},
		{"user-agent", r.userAgent},
	}})
}

// Unregister removes user@realm's registration with CUSTOM
// sofia::unregister (a REGISTER with Expires: 0).
func (fs *FS) Unregister(user, realm string) {
	r := fs.dropRegistration(user, realm)
	fs.fire(&event{name: "CUSTOM", subclass: "sofia::unregister", site: siteUnregister, head: []kv{
		{"profile-name", "internal"}, {"username", user}, {"from-user", user}, {"from-host", realm},
		{"contact", r.contact}, {"call-id", r.callID}, {"rpid", "unknown"}, {"realm", realm},
		{"network-ip", r.networkIP}, {"network-port", r.networkPort}, {"user-agent", r.userAgent},
		{"expires", "0"},
	}})
}

// Expire drops user@realm's registration as the expiry sweep does
// (sofia_reg_del_callback): CUSTOM sofia::expire, whose headers name the
// user "user"/"username" and the domain "host", not from-user/from-host.
func (fs *FS) Expire(user, realm string) {
	r := fs.dropRegistration(user, realm)
	fs.fire(&event{name: "CUSTOM", subclass: "sofia::expire", site: siteExpire, head: []kv{
		{"profile-name", "internal"}, {"call-id", r.callID}, {"user", user}, {"username", user},
		{"host", realm}, {"contact", r.contact}, {"expires", strconv.FormatInt(r.expires, 10)},
		{"user-agent", r.userAgent}, {"realm", realm}, {"network-ip", r.networkIP},
		{"network-port", r.networkPort},
	}})
}

func (fs *FS) dropRegistration(user, realm string) *registration {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	key := regKey(user, realm)
	r, ok := fs.regs[key]
	if !ok {
		r = fs.newRegistration(user, realm)
	}
	delete(fs.regs, key)
	return r
}

// realmOf is the realm user is registered in, or 127.0.0.1 (the default
// domain of a stock configuration on this host) if none.
func (fs *FS) realmOf(user string) string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	best := ""
	for _, r := range fs.regs {
		if strings.EqualFold(r.user, user) && (best == "" || r.realm < best) {
			best = r.realm
		}
	}
	if best == "" {
		return "127.0.0.1"
	}
	return best
}

func (fs *FS) isRegistered(user, realm string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	_, ok := fs.regs[regKey(user, realm)]
	return ok
}

// Channel is a channel stickyacd did not place (see StartChannel).
type Channel struct {
	ch *channel
}

// StartChannel creates and answers a channel of the agent user that
// stickyacd did not place: direction "inbound" is the agent calling number
// from their phone, "outbound" is FreeSWITCH calling the agent for number.
// Inbound-socket clients see CHANNEL_CREATE and CHANNEL_ANSWER with
// Channel-Presence-ID user@realm; Hangup ends it.
func (fs *FS) StartChannel(user, direction, number string) *Channel {
	now := time.Now()
	uuid := newUUID()
	realm := fs.realmOf(user)
	n := fs.sessions.Add(1)
	name := "sofia/internal/" + user + "@127.0.0.1:" + strconv.Itoa(5080+int(n%100))
	cidNum, dest := user, number
	if direction != "inbound" {
		direction = "outbound"
		cidNum, dest = number, user
	}
	c := &channel{
		fs: fs, uuid: uuid, name: name, direction: direction,
		runState: csExecute, stateNum: stateNumExecute, callState: "RINGING",
	}
	c.prof = profile{
		direction: direction, logicalDirection: direction, username: user, dialplan: "XML",
		cidName: cidNum, cidNum: cidNum, origCidName: cidNum, origCidNum: cidNum,
		networkAddr: "127.0.0.1", ani: cidNum, dest: dest, uuid: uuid,
		source: "mod_sofia", context: "default", chanName: name,
		times: times{profileCreated: micros(now), created: micros(now)},
	}
	v := &c.vars
	v.set("direction", direction)
	v.set("uuid", uuid)
	v.set("session_id", strconv.FormatUint(n, 10))
	v.set("channel_name", name)
	v.set("sofia_profile_name", "internal")
	v.set("presence_id", user+"@"+realm)
	v.set("call_uuid", uuid)
	c.killFn = func(cause, _ string) { c.endAgentLeg(normalizeCause(cause)) }
	if err := fs.addChannel(c); err != nil {
		return &Channel{ch: c}
	}
	c.mu.Lock()
	c.fireLocked(eventOpts{name: "CHANNEL_CREATE", site: siteCreate})
	c.answered = true
	c.callState = "ACTIVE"
	c.prof.times.answered = micros(time.Now())
	c.vars.set("endpoint_disposition", "ANSWER")
	c.fireLocked(eventOpts{name: "CHANNEL_ANSWER", site: siteAnswer})
	c.mu.Unlock()
	return &Channel{ch: c}
}

// UUID is the channel's UUID.
func (c *Channel) UUID() string { return c.ch.uuid }

// Hangup ends the channel: CHANNEL_HANGUP … CHANNEL_HANGUP_COMPLETE.
func (c *Channel) Hangup() { c.ch.endAgentLeg("NORMAL_CLEARING") }
