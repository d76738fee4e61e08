package noticestore

import (
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/outbox"
)

// TestRetriesLastTheWindow: with the defaults a failing delivery is retried for at least 24 h
// before it becomes a dead letter, and not much longer.
func TestRetriesLastTheWindow(t *testing.T) {
	r := &outbox.Runner{MinBackoff: 10 * time.Second, MaxBackoff: time.Hour}
	n := AttemptsFor(r, 24*time.Hour)
	var waited time.Duration
	for i := 1; i < n; i++ {
		waited += r.Backoff(i)
	}
	if waited < 24*time.Hour || waited > 25*time.Hour {
		t.Fatalf("%d attempts wait %s in all, want 24 h to 25 h", n, waited)
	}
	t.Logf("%d attempts over %s", n, waited)
}
