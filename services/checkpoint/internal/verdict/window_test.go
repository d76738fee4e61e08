package verdict

import (
	"testing"
	"time"
)

// A fixed per-minute counter let 240 lookups through in 3.2 s across a minute's boundary; the
// sliding window lets through the limit's worth and the few that its estimate of the previous
// minute has aged out. Refused lookups are refunded, as the service does.
func TestWindowAcrossTheMinute(t *testing.T) {
	const limit = 120
	var l localLimiter
	minute := time.Date(2026, 12, 4, 9, 1, 0, 0, time.UTC)
	passed := 0
	for i := range 240 { // 75 a second from 12:00:58.4 to 12:01:01.6
		at := minute.Add(-1600*time.Millisecond + time.Duration(i)*3200*time.Millisecond/240)
		w := l.hit("o", at)
		if w.Over(at, limit) {
			l.refund("o", w)
			continue
		}
		passed++
	}
	if passed > limit+5 || passed < limit {
		t.Fatalf("%d of 240 lookups passed in 3.2 s across a minute's boundary; limit %d a minute", passed, limit)
	}
}

func TestWindowRetryAfter(t *testing.T) {
	const limit = 120
	at := time.Date(2026, 12, 4, 9, 0, 30, 0, time.UTC)
	w := Window{Minute: at.Unix() / 60, Cur: limit + 1}
	if !w.Over(at, limit) {
		t.Fatal("121 lookups in a minute are not over 120")
	}
	d := w.RetryAfter(at, limit)
	// 121 made in this minute: the next fits once the minute is past and enough of it has aged
	// out of the last 60 s (just past 12:01:00).
	if d < 30*time.Second || d > 32*time.Second {
		t.Fatalf("Retry-After %v, want about 31 s", d)
	}
	later := at.Add(d)
	next := Window{Minute: later.Unix() / 60, Prev: w.Cur, Cur: 1}
	if next.Over(later, limit) {
		t.Fatalf("a lookup after Retry-After (%v) is still over the limit", d)
	}
	if (Window{Minute: at.Unix() / 60, Cur: 5}).Over(at, limit) {
		t.Fatal("5 lookups are over 120")
	}
}
