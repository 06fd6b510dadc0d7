package presence

import "fmt"

// reply walks the flat array a script returns; the first value of the
// wrong type stops it and is reported by err.
type reply struct {
	vals []any
	i    int
	err  error
}

func newReply(v any) *reply {
	vals, ok := v.([]any)
	if !ok {
		return &reply{err: fmt.Errorf("script reply %T, want an array", v)}
	}
	return &reply{vals: vals}
}

func (r *reply) more() bool { return r.err == nil && r.i < len(r.vals) }

func (r *reply) next() any {
	if r.err != nil {
		return nil
	}
	if r.i >= len(r.vals) {
		r.err = fmt.Errorf("script reply ends after %d values", len(r.vals))
		return nil
	}
	v := r.vals[r.i]
	r.i++
	return v
}

func (r *reply) str() string {
	v := r.next()
	if r.err != nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.err = fmt.Errorf("script reply value %d is %T, want a string", r.i-1, v)
	}
	return s
}

func (r *reply) num() int64 {
	v := r.next()
	if r.err != nil {
		return 0
	}
	n, ok := v.(int64)
	if !ok {
		r.err = fmt.Errorf("script reply value %d is %T, want an integer", r.i-1, v)
	}
	return n
}
