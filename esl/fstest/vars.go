package fstest

// chanVar is one channel variable with its serialized event line
// ("variable_<name>: <encoded value>\n") computed once when it is set, so
// that building an event is a copy and not an encoding pass.
type chanVar struct {
	name, value string
	line        []byte
}

// varList keeps channel variables in FreeSWITCH's order. Setting a variable
// deletes it and appends it at the bottom (switch_channel_set_variable_var_check
// calls switch_event_del_header, then adds with SWITCH_STACK_BOTTOM), and an
// empty value only deletes it; the order of variable_* headers in every
// event follows from that rule.
type varList struct {
	vars []chanVar
	size int // total bytes of all lines
	// arena holds the lines, so that setting a variable rarely allocates;
	// a full arena is replaced and the old one lives on as long as lines
	// in it do.
	arena []byte
}

const arenaSize = 8 << 10

// newVarLine renders a line into the arena.
func (l *varList) newVarLine(name, value string) []byte {
	n := len("variable_") + headerLen(name, value)
	if cap(l.arena)-len(l.arena) < n {
		l.arena = make([]byte, 0, max(arenaSize, n))
	}
	start := len(l.arena)
	l.arena = append(l.arena, "variable_"...)
	l.arena = appendHeader(l.arena, name, value)
	return l.arena[start:len(l.arena):len(l.arena)]
}

func (l *varList) index(name string) int {
	for i := len(l.vars) - 1; i >= 0; i-- {
		if l.vars[i].name == name {
			return i
		}
	}
	return -1
}

func (l *varList) get(name string) (string, bool) {
	if i := l.index(name); i >= 0 {
		return l.vars[i].value, true
	}
	return "", false
}

func (l *varList) value(name string) string {
	v, _ := l.get(name)
	return v
}

func (l *varList) set(name, value string) {
	l.unset(name)
	if value == "" {
		return
	}
	line := l.newVarLine(name, value)
	l.vars = append(l.vars, chanVar{name: name, value: value, line: line})
	l.size += len(line)
}

func (l *varList) unset(name string) {
	i := l.index(name)
	if i < 0 {
		return
	}
	l.size -= len(l.vars[i].line)
	copy(l.vars[i:], l.vars[i+1:])
	l.vars[len(l.vars)-1] = chanVar{}
	l.vars = l.vars[:len(l.vars)-1]
}

// appendLines appends every variable line in order.
func (l *varList) appendLines(dst []byte) []byte {
	for i := range l.vars {
		dst = append(dst, l.vars[i].line...)
	}
	return dst
}
