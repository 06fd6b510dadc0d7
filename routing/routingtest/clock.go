package routingtest

import (
	"sync"
	"time"
)

// Clock is a manual routing.Clock: time moves only when told to.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d; a nil clock ignores it, so fakes
// without a clock cost nothing.
func (c *Clock) Advance(d time.Duration) {
	if c == nil || d == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
