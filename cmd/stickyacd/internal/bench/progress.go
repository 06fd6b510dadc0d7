package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress draws a one-line bar, at most every progressPeriod; a nil
// writer draws nothing.
type progress struct {
	w     io.Writer
	name  string
	total int
	start time.Time

	mu        sync.Mutex
	last      time.Time
	done, bad int
}

const progressPeriod = 200 * time.Millisecond

func newProgress(w io.Writer, name string, total int) *progress {
	return &progress{w: w, name: name, total: total, start: time.Now()}
}

func (p *progress) set(done, bad int) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.bad = max(p.done, done), max(p.bad, bad)
	if time.Since(p.last) < progressPeriod {
		return
	}
	p.last = time.Now()
	p.draw()
}

func (p *progress) draw() {
	const width = 30
	filled := width * p.done / max(p.total, 1)
	rate := float64(p.done) / max(time.Since(p.start).Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\r%-8s [%s%s] %d/%d calls  %.0f/s  %d errors ",
		p.name, strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.done, p.total, rate, p.bad)
}

// finish draws the final state and ends the line.
func (p *progress) finish() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
	fmt.Fprintln(p.w)
}
