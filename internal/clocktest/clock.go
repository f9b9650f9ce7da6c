package clocktest

import (
	"sync"
	"time"
)

// Start returns where a new [Clock] stands: a fixed instant, so tests do
// not depend on the date they run.
func Start() time.Time { return time.Date(2026, time.January, 2, 3, 4, 5, 0, time.UTC) }

// Clock is a settable clock, safe for concurrent use. The zero value is not
// usable; call [New].
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock standing at [Start].
func New() *Clock { return &Clock{now: Start()} }

// Now returns the clock's time. Its method value is what keyward's configs
// take as Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
