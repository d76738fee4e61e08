package verdict

import "time"

// Window is an officer's lookups in one clock minute and the minute before it: a sliding-window
// counter. The estimate of the lookups in the last 60 s weighs the previous minute by the share
// of it still inside those 60 s, so an officer cannot make twice the limit across a minute's
// boundary (a fixed per-minute counter lets 120 through at 12:00:59 and 120 more at 12:01:00).
// It needs two counters a minute, not a record per lookup, so it works across replicas on one
// Redis hash a minute.
type Window struct {
	Minute int64 // the Unix minute Cur counts
	Cur    int64 // lookups in Minute, this one included
	Prev   int64 // lookups in Minute-1
}

// Estimate is the lookups in the 60 s before now.
func (w Window) Estimate(now time.Time) float64 {
	m := now.Unix() / 60
	frac := float64(now.UnixNano()-m*60*int64(time.Second)) / float64(time.Minute)
	switch m {
	case w.Minute:
		return float64(w.Prev)*(1-frac) + float64(w.Cur)
	case w.Minute + 1:
		return float64(w.Cur) * (1 - frac)
	}
	return 0
}

// Over reports whether the window holds more than limit lookups at now.
func (w Window) Over(now time.Time, limit int64) bool { return w.Estimate(now) > float64(limit) }

// RetryAfter is how long, with no lookup meanwhile, until one more lookup is within limit: the
// Retry-After of a refused lookup (whole seconds, at least one).
func (w Window) RetryAfter(now time.Time, limit int64) time.Duration {
	for d := time.Second; d < 3*time.Minute; d += time.Second {
		t := now.Add(d)
		next := w
		switch m := t.Unix() / 60; {
		case m == w.Minute:
		case m == w.Minute+1:
			next = Window{Minute: m, Prev: w.Cur}
		default:
			next = Window{Minute: m}
		}
		next.Cur++
		if !next.Over(t, limit) {
			return d
		}
	}
	return 2 * time.Minute
}

// minuteCounts counts lookups per officer in the current and the previous minute, in memory.
type minuteCounts struct {
	minute int64
	cur    map[string]int64
	prev   map[string]int64
}

// roll moves to minute m: the current counts become the previous minute's when m follows.
func (c *minuteCounts) roll(m int64) {
	if m == c.minute {
		return
	}
	if m == c.minute+1 {
		c.prev, c.cur = c.cur, c.prev
	} else {
		clear(c.prev)
	}
	if c.cur == nil {
		c.cur = map[string]int64{}
	}
	if c.prev == nil {
		c.prev = map[string]int64{}
	}
	clear(c.cur)
	c.minute = m
}
