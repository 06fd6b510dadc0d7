package fstest

import (
	"strings"
	"time"
)

// digitGap is how far apart a scripted caller's key presses are (before
// Speed), the first one coming this long after the prompt ends.
const digitGap = 100 * time.Millisecond

// pagdArgs are play_and_get_digits' arguments as play_and_get_digits_function
// in mod_dptools.c parses them.
type pagdArgs struct {
	min, max, tries         int
	timeout, digitTimeout   int // ms
	terminators             string
	prompt, invalid, varNam string
	regex                   string
}

func parsePAGD(data string) (pagdArgs, bool) {
	argv := separateString(data, ' ', 11)
	if len(argv) == 0 {
		return pagdArgs{}, false
	}
	a := pagdArgs{timeout: 1000}
	a.min = atoi(argv[0])
	get := func(i int) string {
		if i < len(argv) {
			return argv[i]
		}
		return ""
	}
	if len(argv) > 1 {
		a.max = atoi(argv[1])
	}
	if len(argv) > 2 {
		a.tries = atoi(argv[2])
	}
	if len(argv) > 3 {
		a.timeout = atoi(argv[3])
	}
	a.terminators = get(4)
	a.prompt = get(5)
	a.invalid = get(6)
	a.varNam = get(7)
	a.regex = get(8)
	if len(argv) > 9 {
		a.digitTimeout = max(atoi(argv[9]), 0)
	}
	if a.min < 0 {
		a.min = 0
	}
	if a.max < a.min {
		a.max = a.min
	}
	if a.timeout <= 1000 {
		a.timeout = 1000
	}
	if a.terminators == "" {
		a.terminators = "#"
	}
	return a, true
}

// collectResult is switch_ivr_read's status.
type collectResult int

const (
	readSuccess collectResult = iota
	readTimeout
	readTooSmall
	readFailed // hung up or cut
)

// appPlayAndGetDigits is switch_play_and_get_digits with switch_ivr_read,
// fed by the caller script: each try takes the next CallSpec.Input entry.
func appPlayAndGetDigits(k *Call, data string) {
	a, ok := parsePAGD(data)
	if !ok {
		return
	}
	c := k.ch
	if a.regex != "" && a.varNam != "" {
		c.setVar(a.varNam+"_invalid", "")
	}
	for tries := a.tries; tries > 0 && !c.isDown() && !k.isSocketGone(); tries-- {
		digits, status, stop := k.read(a)
		if stop {
			return
		}
		if status == readTimeout && len(digits) >= a.min {
			status = readSuccess
		}
		if a.min == 0 && digits == "" {
			if _, ok := c.varOK("read_terminator_used"); ok {
				return
			}
		}
		if !(status == readTooSmall && digits == "") && status == readSuccess && digits != "" {
			if a.regex == "" || regexMatch(a.regex, digits) {
				return
			}
			c.mu.Lock()
			c.vars.unset(a.varNam)
			if a.varNam != "" {
				c.vars.set(a.varNam+"_invalid", digits)
			}
			c.mu.Unlock()
		}
		if c.isDown() {
			return
		}
		if _, r := k.playFile(a.invalid); r != waitElapsed && r != waitBreak {
			return
		}
	}
}

// read is switch_ivr_read for one try; stop is true when the try ended the
// application (hang-up during the prompt).
func (k *Call) read(a pagdArgs) (digits string, status collectResult, stop bool) {
	c := k.ch
	c.mu.Lock()
	c.vars.unset("read_result")
	if a.varNam != "" {
		c.vars.unset(a.varNam)
	}
	c.mu.Unlock()
	if a.prompt != "" && !strings.EqualFold(a.prompt, "silence") {
		if _, r := k.playFile(a.prompt); r == waitHangup || r == waitCut {
			return "", readFailed, true
		}
	}
	entry := ""
	if k.inputIdx < len(k.spec.Input) {
		entry = k.spec.Input[k.inputIdx]
	}
	k.inputIdx++

	digitTimeout := a.digitTimeout
	if digitTimeout == 0 {
		digitTimeout = a.timeout
	}
	var term byte
	buf, st := k.collect(entry, a, &term, digitTimeout)
	c.mu.Lock()
	defer c.mu.Unlock()
	if term != 0 {
		c.vars.set("read_terminator_used", string(term))
		if i := strings.IndexByte(a.terminators, term); i >= 1 && (a.terminators[i-1] == '+' || a.terminators[i-1] == 'x') {
			buf += string(term)
		}
	} else if strings.HasPrefix(a.terminators, "=") {
		st = readTooSmall
	}
	if a.min > 0 && len(buf) < a.min {
		st = readTooSmall
	}
	switch st {
	case readSuccess:
		c.vars.set("read_result", "success")
	case readTimeout:
		c.vars.set("read_result", "timeout")
	default:
		c.vars.set("read_result", "failure")
	}
	if a.max == 1 && len(buf) == 1 && strings.IndexByte(a.terminators, buf[0]) >= 0 {
		buf = ""
	}
	if a.varNam != "" && buf != "" {
		c.vars.set(a.varNam, buf)
	}
	return buf, st, false
}

// collect is switch_ivr_collect_digits_count driven by one Input entry:
// keys come digitGap apart and each one is a DTMF event when dequeued.
func (k *Call) collect(entry string, a pagdArgs, term *byte, digitTimeout int) (string, collectResult) {
	gap := k.fs.scale(digitGap)
	timeout := k.fs.scale(time.Duration(a.timeout) * time.Millisecond)
	if entry == HangUp {
		if r := k.sleep(gap, false); r != waitElapsed {
			return "", readFailed
		}
		k.ch.mu.Lock()
		k.callerHangupLocked()
		k.ch.mu.Unlock()
		return "", readFailed
	}
	var buf []byte
	for i := 0; i < len(entry); i++ {
		if gap >= timeout {
			break
		}
		if r := k.sleep(gap, false); r != waitElapsed {
			return string(buf), readFailed
		}
		d := entry[i]
		k.dtmfLocked(d)
		if strings.IndexByte(a.terminators, d) >= 0 {
			*term = d
			return string(buf), readSuccess
		}
		buf = append(buf, d)
		if len(buf) >= a.max {
			return string(buf), readSuccess
		}
		timeout = k.fs.scale(time.Duration(digitTimeout) * time.Millisecond)
	}
	if r := k.sleep(timeout, false); r != waitElapsed {
		return string(buf), readFailed
	}
	return string(buf), readTimeout
}

// dtmfLocked fires the DTMF event of a dequeued key and logs it for
// digits_dialed.
func (k *Call) dtmfLocked(d byte) {
	c := k.ch
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dtmfLog = append(c.dtmfLog, d)
	c.fireLocked(eventOpts{name: "DTMF", site: siteDTMF, noVars: true, post: []kv{
		{"DTMF-Digit", string(d)}, {"DTMF-Duration", "2240"}, {"DTMF-Source", "RTP"},
	}})
}
