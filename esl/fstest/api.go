package fstest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// api runs an API command as switch_api_execute would and returns its
// output; unknown commands get mod_event_socket's "Command not found".
func (fs *FS) api(name, arg string, hasArg bool, from *listener) string {
	switch name {
	case "uuid_exists":
		if hasArg && fs.lookup(arg) != nil {
			return "true"
		}
		return "false"
	case "uuid_getvar":
		return fs.apiGetvar(arg)
	case "uuid_setvar":
		return fs.apiSetvar(arg)
	case "uuid_kill":
		return fs.apiKill(arg)
	case "uuid_break":
		return fs.apiBreak(arg)
	case "show":
		return fs.apiShow(arg)
	case "status":
		return fs.apiStatus()
	case "chat":
		return fs.apiChat(arg)
	case "originate":
		return fs.apiOriginate(arg)
	case "sofia_contact":
		return fs.apiSofiaContact(arg)
	case "hostname":
		return fs.hostname
	case "version":
		return "FreeSWITCH Version 1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit (git a88d069 2024-08-02 21:02:27Z 64bit)\n"
	case "echo":
		return arg
	}
	return "-ERR " + name + " Command not found!\n"
}

func (fs *FS) apiGetvar(arg string) string {
	argv := separateString(arg, ' ', 4)
	if len(argv) < 2 || argv[0] == "" {
		return "-USAGE: <uuid> <var>\n"
	}
	c := fs.lookup(argv[0])
	if c == nil {
		return "-ERR No such channel!\n"
	}
	if argv[1] == "" {
		return "-ERR No variable name specified!\n"
	}
	if v, ok := c.varOK(argv[1]); ok {
		return v
	}
	return "_undef_"
}

func (fs *FS) apiSetvar(arg string) string {
	argv := separateString(arg, ' ', 3)
	if len(argv) < 2 || argv[0] == "" || argv[1] == "" {
		return "-USAGE: <uuid> <var> [value]\n"
	}
	c := fs.lookup(argv[0])
	if c == nil {
		return "-ERR No such channel!\n"
	}
	value := ""
	if len(argv) > 2 {
		value = argv[2]
	}
	c.setVar(argv[1], value)
	return "+OK\n"
}

func (fs *FS) apiKill(arg string) string {
	if arg == "" {
		return "-USAGE: <uuid> [cause]\n"
	}
	uuid, cause, _ := strings.Cut(arg, " ")
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	c := fs.lookup(uuid)
	if c == nil || !c.kill(normalizeCause(cause), hungUpByApp) {
		return "-ERR No such channel!\n"
	}
	return "+OK\n"
}

func (fs *FS) apiBreak(arg string) string {
	if arg == "" {
		return "-USAGE: <uuid> [all]\n"
	}
	uuid, flag, _ := strings.Cut(arg, " ")
	c := fs.lookup(uuid)
	if c == nil {
		return "-ERR No such channel!\n"
	}
	if c.call != nil {
		c.call.sig.push(signal{kind: sigBreak, all: strings.Contains(flag, "all")})
	}
	return "+OK\n"
}

// channelColumns are the columns of FreeSWITCH's channels table, in the
// order "show channels" prints them.
var channelColumns = []string{"uuid", "direction", "created", "created_epoch", "name", "state",
	"cid_name", "cid_num", "ip_addr", "dest", "application", "application_data", "dialplan",
	"context", "read_codec", "read_rate", "read_bit_rate", "write_codec", "write_rate",
	"write_bit_rate", "secure", "hostname", "presence_id", "presence_data", "accountcode",
	"callstate", "callee_name", "callee_num", "callee_direction", "call_uuid", "sent_callee_name",
	"sent_callee_num", "initial_cid_name", "initial_cid_num", "initial_ip_addr", "initial_dest",
	"initial_dialplan", "initial_context"}

var registrationColumns = []string{"reg_user", "realm", "token", "url", "expires",
	"network_ip", "network_port", "network_proto", "hostname", "metadata"}

func (c *channel) showRow(hostname string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	created := time.UnixMicro(c.prof.times.created)
	app, appData := c.vars.value("current_application"), c.vars.value("current_application_data")
	callee, calleeNum, calleeDir := "", "", ""
	if c.other != nil {
		callee, calleeNum, calleeDir = c.prof.calleeName, c.prof.calleeNum, "SEND"
	}
	return []string{c.uuid, c.direction, created.Local().Format("2006-01-02 15:04:05"),
		strconv.FormatInt(created.Unix(), 10), c.name, c.runState, c.prof.cidName, c.prof.cidNum,
		c.prof.networkAddr, c.prof.dest, app, appData, c.prof.dialplan, c.prof.context,
		"PCMU", "8000", "64000", "PCMU", "8000", "64000", "", hostname,
		c.vars.value("presence_id"), "", "", c.callState, callee, calleeNum, calleeDir, "", "", "",
		c.prof.origCidName, c.prof.origCidNum, c.prof.networkAddr, c.prof.dest, c.prof.dialplan, c.prof.context}
}

// apiShow implements "show channels|registrations [count] [as json]" like
// show_function in mod_commands.c.
func (fs *FS) apiShow(arg string) string {
	argv := strings.Fields(arg)
	if len(argv) == 0 {
		return "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status\n"
	}
	as := ""
	count := false
	for i := 1; i < len(argv); i++ {
		switch {
		case strings.EqualFold(argv[i], "as") && i+1 < len(argv):
			as = strings.ToLower(argv[i+1])
			i++
		case strings.EqualFold(argv[i], "count"):
			count = true
		}
	}
	var cols []string
	var rows [][]string
	switch strings.ToLower(argv[0]) {
	case "channels":
		cols = channelColumns
		for _, c := range fs.channelList() {
			rows = append(rows, c.showRow(fs.hostname))
		}
	case "registrations":
		cols = registrationColumns
		fs.mu.Lock()
		for _, r := range fs.regs {
			rows = append(rows, []string{r.user, r.realm, r.callID,
				"sofia/internal/sip:" + r.user + "@" + r.networkIP + ":" + r.networkPort,
				strconv.FormatInt(r.expires, 10), r.networkIP, r.networkPort, "udp", fs.hostname, ""})
		}
		fs.mu.Unlock()
		sortRows(rows)
	case "status":
		return fs.apiStatus()
	default:
		return fs.apiShow("")
	}
	if count {
		cols = []string{"count"}
		rows = [][]string{{strconv.Itoa(len(rows))}}
	}
	switch as {
	case "", "delim", "csv":
		return showDelim(cols, rows, count)
	case "json":
		return showJSON(cols, rows, count)
	}
	return "-ERR Cannot find format " + as + "\n"
}

func sortRows(rows [][]string) {
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && rows[j][0]+rows[j][1] < rows[j-1][0]+rows[j-1][1]; j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
}

func showDelim(cols []string, rows [][]string, count bool) string {
	var b strings.Builder
	if count {
		fmt.Fprintf(&b, "\n%s total.\n", rows[0][0])
		return b.String()
	}
	if len(rows) > 0 {
		b.WriteString(strings.Join(cols, ","))
		b.WriteByte('\n')
	}
	for _, r := range rows {
		b.WriteString(strings.Join(r, ","))
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "\n%d total.\n", len(rows))
	return b.String()
}

// showJSON prints like cJSON_PrintUnformatted: keys in column order.
func showJSON(cols []string, rows [][]string, count bool) string {
	if count {
		return `{"row_count":` + rows[0][0] + "}"
	}
	if len(rows) == 0 {
		return "{\"row_count\": 0}\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `{"row_count":%d,"rows":[`, len(rows))
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for j, col := range cols {
			if j > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, col)
			b.WriteByte(':')
			writeJSONString(&b, r[j])
		}
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return b.String()
}

// writeJSONString escapes like cJSON's print_string_ptr.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				fmt.Fprintf(b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// apiStatus is mod_commands' status_function.
func (fs *FS) apiStatus() string {
	up := time.Since(fs.started)
	us := up.Microseconds()
	years := us / (365 * 24 * 3600 * 1e6)
	us -= years * 365 * 24 * 3600 * 1e6
	days := us / (24 * 3600 * 1e6)
	us -= days * 24 * 3600 * 1e6
	hours := us / (3600 * 1e6)
	us -= hours * 3600 * 1e6
	minutes := us / (60 * 1e6)
	us -= minutes * 60 * 1e6
	seconds := us / 1e6
	us -= seconds * 1e6
	ms := us / 1000
	us -= ms * 1000
	fs.mu.Lock()
	active := len(fs.channels)
	fs.mu.Unlock()
	peak := fs.peak.Load()
	return fmt.Sprintf("UP %d years, %d days, %d hours, %d minutes, %d seconds, %d milliseconds, %d microseconds\n"+
		"FreeSWITCH (Version 1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit) is ready\n"+
		"%d session(s) since startup\n"+
		"%d session(s) - peak %d, last 5min %d \n"+
		"%d session(s) per Sec out of max 200, peak %d, last 5min %d \n"+
		"2000 session(s) max\n"+
		"min idle cpu 0.00/100.00\n"+
		"Current Stack Size/Max 240K/8192K\n",
		years, days, hours, minutes, seconds, ms, us,
		fs.sessions.Load(), active, peak, peak, 0, peak, peak)
}

// apiChat is mod_dptools' chat API: "<proto>|<from>|<to>|<body>[|<type>]".
// A SIP MESSAGE reaches only a registered user.
func (fs *FS) apiChat(arg string) string {
	argv := separateString(arg, '|', 5)
	if len(argv) < 4 {
		return "Invalid"
	}
	user, realm, hasRealm := strings.Cut(argv[2], "@")
	if !hasRealm {
		realm = fs.realmOf(user)
	}
	if fs.isRegistered(user, realm) {
		return "Sent"
	}
	return "Error! Message Not Sent"
}

func (fs *FS) apiSofiaContact(arg string) string {
	user, realm, ok := strings.Cut(strings.TrimPrefix(arg, "*/"), "@")
	if !ok {
		realm = fs.realmOf(user)
	}
	fs.mu.Lock()
	r, found := fs.regs[regKey(user, realm)]
	fs.mu.Unlock()
	if !found {
		return "error/user_not_registered"
	}
	return "sofia/internal/sip:" + r.user + "@" + r.networkIP + ":" + r.networkPort
}

const originateSyntax = "<call_url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]"

// apiOriginate is a minimal originate: it rings the endpoint of the first
// destination and, if it answers, parks the new channel (whatever
// extension or application was asked for) until it is killed or the
// endpoint hangs up.
func (fs *FS) apiOriginate(arg string) string {
	argv := separateString(arg, ' ', 10)
	if len(argv) < 2 || len(argv) > 7 {
		return "-USAGE: " + originateSyntax + "\n"
	}
	ds := parseDialString(argv[0])
	if len(ds.groups) == 0 {
		return "-ERR DESTINATION_OUT_OF_ORDER\n"
	}
	leg := ds.groups[0][0]
	target := strings.TrimSpace(leg.target)
	timeout := ringTimeout(leg.vars, ds.vars, func(string) string { return "" })
	if len(argv) > 6 && atoi(argv[6]) > 0 {
		timeout = time.Duration(atoi(argv[6])) * time.Second
	}
	cidName, cidNum := "FreeSWITCH", "0000000000"
	if len(argv) > 4 {
		cidName = argv[4]
	}
	if len(argv) > 5 {
		cidNum = argv[5]
	}
	ep := fs.endpoint(target)
	if ep.Cause == "USER_NOT_REGISTERED" && hasPrefixFold(target, "user/") {
		return "-ERR USER_NOT_REGISTERED\n"
	}
	dest := dialDest(target)
	kill := make(chan string, 1)
	b := fs.newOutboundLeg(legSpec{
		target: target, dest: dest, logicalDirection: "outbound", global: ds.vars, leg: leg.vars,
		from: profile{cidName: cidName, cidNum: cidNum, origCidName: cidName, origCidNum: cidNum, ani: cidNum},
		onKill: func(_ *channel, cause string) {
			select {
			case kill <- cause:
			default:
			}
		},
	})
	if ep.Cause != "" {
		cause := normalizeCause(ep.Cause)
		b.endAgentLeg(cause)
		return "-ERR " + cause + "\n"
	}
	b.agentRinging()
	wait := fs.scale(timeout)
	answers := ep.Answer && fs.scale(ep.RingFor) < wait
	if answers {
		wait = fs.scale(ep.RingFor)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case cause := <-kill:
		b.endAgentLeg(cause)
		return "-ERR " + cause + "\n"
	case <-fs.done:
		b.endAgentLeg("SYSTEM_SHUTDOWN")
		return "-ERR SYSTEM_SHUTDOWN\n"
	}
	if !answers {
		b.endAgentLeg("NO_ANSWER")
		return "-ERR NO_ANSWER\n"
	}
	b.agentAnswered()
	fs.goroutine(func() {
		var talk <-chan time.Time
		if ep.TalkFor > 0 {
			tt := time.NewTimer(fs.scale(ep.TalkFor))
			defer tt.Stop()
			talk = tt.C
		}
		cause := "NORMAL_CLEARING"
		select {
		case <-talk:
		case cause = <-kill:
		case <-fs.done:
			cause = "SYSTEM_SHUTDOWN"
		}
		b.endAgentLeg(cause)
	})
	return "+OK " + b.uuid + "\n"
}
