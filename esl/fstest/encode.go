package fstest

// urlUnsafe is SWITCH_URL_UNSAFE from switch_utils.h (FreeSWITCH 1.10.12):
// these bytes, control bytes and bytes above '~' are %-encoded when an event
// is serialized; everything else ('/', '(', ',', ...) is written as is.
const urlUnsafe = "\r\n #%&+:;<=>?@[\\]^`{|}\""

const upperHex = "0123456789ABCDEF"

var unsafeByte = func() (t [256]bool) {
	for i := 0; i < 256; i++ {
		t[i] = i < ' ' || i > '~'
	}
	for i := 0; i < len(urlUnsafe); i++ {
		t[urlUnsafe[i]] = true
	}
	return t
}()

func isUpperHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')
}

// keepsPercent mirrors switch_url_encode_opt without double_encode: a '%'
// followed by two upper-case hex digits is taken as already encoded and kept.
func keepsPercent(s string, i int) bool {
	return i+2 < len(s) && isUpperHex(s[i+1]) && isUpperHex(s[i+2])
}

// encodedLen is the length of s after appendEncoded.
func encodedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unsafeByte[c] && !(c == '%' && keepsPercent(s, i)) {
			n += 2
		}
	}
	return n
}

// appendEncoded appends s encoded the way switch_event_serialize encodes
// header values.
func appendEncoded(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unsafeByte[c] && !(c == '%' && keepsPercent(s, i)) {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&0x0f])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// appendHeader appends "name: value\n" with the value encoded; an empty
// value is written as _undef_, as switch_event_serialize does.
func appendHeader(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	if value == "" {
		dst = append(dst, "_undef_"...)
	} else {
		dst = appendEncoded(dst, value)
	}
	return append(dst, '\n')
}

// headerLen is the length appendHeader will add.
func headerLen(name, value string) int {
	if value == "" {
		return len(name) + 2 + len("_undef_") + 1
	}
	return len(name) + 2 + encodedLen(value) + 1
}
