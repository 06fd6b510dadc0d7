package fstest

import (
	"strconv"
	"time"
)

// causeCodes are switch_call_cause_t values (switch_types.h).
var causeCodes = map[string]int{
	"NONE": 0, "UNALLOCATED_NUMBER": 1, "NO_ROUTE_TRANSIT_NET": 2, "NO_ROUTE_DESTINATION": 3,
	"CHANNEL_UNACCEPTABLE": 6, "CALL_AWARDED_DELIVERED": 7, "NORMAL_CLEARING": 16,
	"USER_BUSY": 17, "NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20,
	"CALL_REJECTED": 21, "NUMBER_CHANGED": 22, "REDIRECTION_TO_NEW_DESTINATION": 23,
	"EXCHANGE_ROUTING_ERROR": 25, "DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28,
	"FACILITY_REJECTED": 29, "RESPONSE_TO_STATUS_ENQUIRY": 30, "NORMAL_UNSPECIFIED": 31,
	"NORMAL_CIRCUIT_CONGESTION": 34, "NETWORK_OUT_OF_ORDER": 38, "NORMAL_TEMPORARY_FAILURE": 41,
	"SWITCH_CONGESTION": 42, "ACCESS_INFO_DISCARDED": 43, "REQUESTED_CHAN_UNAVAIL": 44,
	"PRE_EMPTED": 45, "FACILITY_NOT_SUBSCRIBED": 50, "OUTGOING_CALL_BARRED": 52,
	"INCOMING_CALL_BARRED": 54, "BEARERCAPABILITY_NOTAUTH": 57, "BEARERCAPABILITY_NOTAVAIL": 58,
	"SERVICE_UNAVAILABLE": 63, "BEARERCAPABILITY_NOTIMPL": 65, "CHAN_NOT_IMPLEMENTED": 66,
	"FACILITY_NOT_IMPLEMENTED": 69, "SERVICE_NOT_IMPLEMENTED": 79, "INVALID_CALL_REFERENCE": 81,
	"INCOMPATIBLE_DESTINATION": 88, "INVALID_MSG_UNSPECIFIED": 95, "MANDATORY_IE_MISSING": 96,
	"MESSAGE_TYPE_NONEXIST": 97, "WRONG_MESSAGE": 98, "IE_NONEXIST": 99, "INVALID_IE_CONTENTS": 100,
	"WRONG_CALL_STATE": 101, "RECOVERY_ON_TIMER_EXPIRE": 102, "MANDATORY_IE_LENGTH_ERROR": 103,
	"PROTOCOL_ERROR": 111, "INTERWORKING": 127, "SUCCESS": 142, "ORIGINATOR_CANCEL": 487,
	"CRASH": 700, "SYSTEM_SHUTDOWN": 701, "LOSE_RACE": 702, "MANAGER_REQUEST": 703,
	"BLIND_TRANSFER": 800, "ATTENDED_TRANSFER": 801, "ALLOTTED_TIMEOUT": 802,
	"USER_CHALLENGE": 803, "MEDIA_TIMEOUT": 804, "PICKED_OFF": 805, "USER_NOT_REGISTERED": 806,
	"PROGRESS_TIMEOUT": 807, "INVALID_GATEWAY": 808, "GATEWAY_DOWN": 809, "INVALID_URL": 810,
	"INVALID_PROFILE": 811, "NO_PICKUP": 812, "SRTP_READ_ERROR": 813, "BOWOUT": 814,
	"BUSY_EVERYWHERE": 815, "DECLINE": 816, "DOES_NOT_EXIST_ANYWHERE": 817, "NOT_ACCEPTABLE": 818,
	"UNWANTED": 819, "NO_IDENTITY": 820, "BAD_IDENTITY_INFO": 821, "UNSUPPORTED_CERTIFICATE": 822,
	"INVALID_IDENTITY": 823, "STALE_DATE": 824, "REJECT_ALL": 825,
}

// normalizeCause is switch_channel_str2cause followed by cause2str: a known
// name (any case) or number maps to its name, anything else to
// NORMAL_CLEARING.
func normalizeCause(s string) string {
	if s == "" {
		return "NORMAL_CLEARING"
	}
	for name, code := range causeCodes {
		if equalFoldASCII(name, s) || strconv.Itoa(code) == s {
			return name
		}
	}
	return "NORMAL_CLEARING"
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'a' && x <= 'z' {
			x -= 'a' - 'A'
		}
		if y >= 'a' && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// q850 is switch_channel_cause_q850.
func q850(cause string) int {
	code := causeCodes[cause]
	if code > 127 {
		return 16
	}
	return code
}

// setCDRVarsLocked sets what switch_core_session_hangup_state and
// switch_channel_set_timestamps set before CHANNEL_HANGUP_COMPLETE, in
// their order, then the SIP and RTP statistics mod_sofia adds.
func (c *channel) setCDRVarsLocked() {
	v := &c.vars
	v.set("hangup_cause", c.cause)
	v.set("hangup_cause_q850", strconv.Itoa(q850(c.cause)))
	if len(c.dtmfLog) > 0 {
		v.set("digits_dialed", string(c.dtmfLog))
	} else {
		v.set("digits_dialed", "none")
	}
	t := c.prof.times
	stamp := func(us int64) string {
		return time.UnixMicro(us).Local().Format("2006-01-02 15:04:05")
	}
	v.set("start_stamp", stamp(t.created))
	v.set("profile_start_stamp", stamp(t.profileCreated))
	if t.answered != 0 {
		v.set("answer_stamp", stamp(t.answered))
	}
	if t.bridged != 0 {
		v.set("bridge_stamp", stamp(t.bridged))
	}
	if t.progress != 0 {
		v.set("progress_stamp", stamp(t.progress))
	}
	if t.progressMedia != 0 {
		v.set("progress_media_stamp", stamp(t.progressMedia))
	}
	v.set("end_stamp", stamp(t.hungup))
	epoch := func(name string, us int64) {
		v.set(name+"_epoch", itoa(us/1e6))
		v.set(name+"_uepoch", itoa(us))
	}
	epoch("start", t.created)
	epoch("profile_start", t.profileCreated)
	epoch("answer", t.answered)
	epoch("bridge", t.bridged)
	epoch("last_hold", t.lastHold)
	v.set("hold_accum_seconds", itoa(t.holdAccum/1e6))
	v.set("hold_accum_usec", itoa(t.holdAccum))
	v.set("hold_accum_ms", itoa(t.holdAccum/1e3))
	epoch("resurrect", t.resurrected)
	epoch("progress", t.progress)
	epoch("progress_media", t.progressMedia)
	epoch("end", t.hungup)

	if c.lastApp != "" {
		v.set("last_app", c.lastApp)
	}
	v.set("last_arg", c.lastArg)
	if c.prof.cidName != "" {
		v.set("caller_id", `"`+c.prof.cidName+`" <`+c.prof.cidNum+`>`)
	} else {
		v.set("caller_id", c.prof.cidNum)
	}

	sec := func(us int64) int64 { return us / 1e6 }
	ms := func(us int64) int64 { return us / 1e3 }
	var duration, mduration, uduration = sec(t.hungup) - sec(t.created), ms(t.hungup) - ms(t.created), t.hungup - t.created
	var billsec, billmsec, billusec, legsec, legmsec, legusec, answersec, answermsec, answerusec int64
	if t.answered != 0 {
		billsec, billmsec, billusec = sec(t.hungup)-sec(t.answered), ms(t.hungup)-ms(t.answered), t.hungup-t.answered
		legsec, legmsec, legusec = duration, mduration, uduration
		answersec, answermsec, answerusec = sec(t.answered)-sec(t.created), ms(t.answered)-ms(t.created), t.answered-t.created
	}
	var waitsec, waitmsec, waitusec int64
	if t.bridged > t.created {
		waitsec, waitmsec, waitusec = sec(t.bridged)-sec(t.created), ms(t.bridged)-ms(t.created), t.bridged-t.created
	}
	var progsec, progmsec, progusec int64
	if t.progress != 0 {
		progsec, progmsec, progusec = sec(t.progress)-sec(t.created), ms(t.progress)-ms(t.created), t.progress-t.created
	}
	var pmsec, pmmsec, pmusec int64
	if t.progressMedia != 0 {
		pmsec, pmmsec, pmusec = sec(t.progressMedia)-sec(t.created), ms(t.progressMedia)-ms(t.created), t.progressMedia-t.created
	}
	for _, s := range []struct {
		name string
		val  int64
	}{
		{"duration", duration}, {"billsec", billsec}, {"progresssec", progsec}, {"answersec", answersec},
		{"waitsec", waitsec}, {"progress_mediasec", pmsec}, {"flow_billsec", legsec},
		{"mduration", mduration}, {"billmsec", billmsec}, {"progressmsec", progmsec},
		{"answermsec", answermsec}, {"waitmsec", waitmsec}, {"progress_mediamsec", pmmsec},
		{"flow_billmsec", legmsec}, {"uduration", uduration}, {"billusec", billusec},
		{"progressusec", progusec}, {"answerusec", answerusec}, {"waitusec", waitusec},
		{"progress_mediausec", pmusec}, {"flow_billusec", legusec},
	} {
		v.set(s.name, itoa(s.val))
	}

	if c.sentBye {
		if c.answered {
			v.set("sip_hangup_disposition", "send_bye")
		} else {
			v.set("sip_hangup_disposition", "send_refuse")
		}
	}
	if c.answered || c.early {
		c.setRTPStatsLocked(uduration)
	}
}

// setRTPStatsLocked adds mod_sofia's RTP statistics; the counts are
// plausible for a 20 ms PCMU stream, not measured.
func (c *channel) setRTPStatsLocked(uduration int64) {
	v := &c.vars
	packets := uduration / 20000
	outPackets := packets
	dtmfPackets := int64(len(c.dtmfLog)) * 10
	for _, s := range []struct{ name, val string }{
		{"rtp_audio_in_raw_bytes", itoa(dtmfPackets * 16)},
		{"rtp_audio_in_media_bytes", "0"},
		{"rtp_audio_in_packet_count", itoa(dtmfPackets)},
		{"rtp_audio_in_media_packet_count", "0"},
		{"rtp_audio_in_skip_packet_count", itoa(packets)},
		{"rtp_audio_in_jitter_packet_count", "0"},
		{"rtp_audio_in_dtmf_packet_count", itoa(dtmfPackets)},
		{"rtp_audio_in_cng_packet_count", "0"},
		{"rtp_audio_in_flush_packet_count", "0"},
		{"rtp_audio_in_largest_jb_size", "0"},
		{"rtp_audio_in_jitter_min_variance", "0.00"},
		{"rtp_audio_in_jitter_max_variance", "0.00"},
		{"rtp_audio_in_jitter_loss_rate", "0.00"},
		{"rtp_audio_in_jitter_burst_rate", "0.00"},
		{"rtp_audio_in_mean_interval", "0.00"},
		{"rtp_audio_in_flaw_total", "0"},
		{"rtp_audio_in_quality_percentage", "100.00"},
		{"rtp_audio_in_mos", "4.50"},
		{"rtp_audio_out_raw_bytes", itoa(outPackets * 172)},
		{"rtp_audio_out_media_bytes", itoa(outPackets * 172)},
		{"rtp_audio_out_packet_count", itoa(outPackets)},
		{"rtp_audio_out_media_packet_count", itoa(outPackets)},
		{"rtp_audio_out_skip_packet_count", "0"},
		{"rtp_audio_out_dtmf_packet_count", "0"},
		{"rtp_audio_out_cng_packet_count", "0"},
		{"rtp_audio_rtcp_packet_count", "0"},
		{"rtp_audio_rtcp_octet_count", "0"},
	} {
		v.set(s.name, s.val)
	}
}
