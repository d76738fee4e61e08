package verdictcache

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/testenv"
)

const plate = "晋F12345:yellow"

func newCache(t *testing.T, rdb redis.UniversalClient, prefix string) (*Cache, func()) {
	t.Helper()
	c := New(rdb, prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	waitFor(t, "the subscription", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.live })
	return c, func() { cancel(); <-done }
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// write stores a muck part as its owner does: the write, then the announcement.
func write(t *testing.T, rdb redis.UniversalClient, prefix, value string, announce bool) {
	t.Helper()
	ctx := context.Background()
	rdb.Set(ctx, summary.Key(prefix, plate, summary.Muck), value, time.Minute)
	if announce {
		rdb.Publish(ctx, summary.ChangedChannel(prefix), plate)
	}
}

func muck(t *testing.T, c *Cache) string {
	t.Helper()
	rd, err := c.Read(context.Background(), plate, "officer-1")
	if err != nil {
		t.Fatal(err)
	}
	return string(rd.Parts[summary.Muck])
}

func TestNearCacheServesUntilAnnounced(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	c, stop := newCache(t, rdb, prefix)
	defer stop()
	write(t, rdb, prefix, "v1", false)
	if got := muck(t, c); got != "v1" {
		t.Fatalf("first read = %q, want v1 from Redis", got)
	}
	// Changed without an announcement: memory still answers (this is what the announcement is for).
	write(t, rdb, prefix, "v2", false)
	if got := muck(t, c); got != "v1" {
		t.Fatalf("unannounced change read = %q, want v1 from memory", got)
	}
	// Announced: the next read after delivery goes to Redis.
	write(t, rdb, prefix, "v3", true)
	waitFor(t, "the announcement", func() bool { return muck(t, c) == "v3" })
	// The backstop: without announcements an entry lives NearTTL at most.
	write(t, rdb, prefix, "v4", false)
	c.now = func() time.Time { return time.Now().Add(NearTTL) }
	if got := muck(t, c); got != "v4" {
		t.Fatalf("read after NearTTL = %q, want v4 from Redis", got)
	}
}

func TestReadOverlappingAnnouncementIsNotKept(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	c, stop := newCache(t, rdb, prefix)
	defer stop()
	c.mu.Lock()
	begun := c.seq
	c.mu.Unlock()
	c.changedPlate(plate) // announced while the read was in flight
	c.keep(plate, entry{parts: map[summary.Part][]byte{summary.Muck: []byte("stale")}, at: time.Now()}, begun)
	write(t, rdb, prefix, "fresh", false)
	if got := muck(t, c); got != "fresh" {
		t.Fatalf("read = %q: a value read before its plate's announcement was kept", got)
	}
}

func TestWithoutSubscriptionEveryReadGoesToRedis(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	c := New(rdb, prefix, slog.New(slog.NewTextHandler(io.Discard, nil))) // Run not started
	write(t, rdb, prefix, "v1", false)
	_ = muck(t, c)
	write(t, rdb, prefix, "v2", false)
	if got := muck(t, c); got != "v2" {
		t.Fatalf("read without subscription = %q, want v2 from Redis", got)
	}
	// A subscription that drops forgets what it kept.
	c.setLive(true)
	_ = muck(t, c)
	c.setLive(false)
	write(t, rdb, prefix, "v3", false)
	if got := muck(t, c); got != "v3" {
		t.Fatalf("read after the subscription dropped = %q, want v3 from Redis", got)
	}
}

func TestOwnWritesAreAnnounced(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	a, stopA := newCache(t, rdb, prefix)
	defer stopA()
	b, stopB := newCache(t, rdb, prefix)
	defer stopB()
	ctx := context.Background()
	if rd, _ := b.Read(ctx, plate, "o"); rd.NotInRegistry {
		t.Fatal("not-in-registry before any marker")
	}
	if err := a.MarkUnknown(ctx, plate); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica b to see replica a's marker", func() bool { rd, _ := b.Read(ctx, plate, "o"); return rd.NotInRegistry })
	if err := a.WriteBack(ctx, plate, summary.OBD, []byte(`{"vin":"V"}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica b to see replica a's write-back", func() bool { rd, _ := b.Read(ctx, plate, "o"); return rd.Parts[summary.OBD] != nil })
}

func TestRateCountsEveryReplica(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	a := New(rdb, prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b := New(rdb, prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
	at := time.Now() // one minute for the whole test
	a.now, b.now = func() time.Time { return at }, func() time.Time { return at }
	ctx := context.Background()
	for range 3 {
		if _, err := a.Read(ctx, plate, "officer-7"); err != nil {
			t.Fatal(err)
		}
	}
	a.syncRate(ctx)
	b.syncRate(ctx) // nothing pending on b: no change
	rd, _ := b.Read(ctx, plate, "officer-7")
	if rd.Rate.Cur != 1 {
		t.Fatalf("b's count before its sync = %d, want 1 (its own lookup)", rd.Rate.Cur)
	}
	b.syncRate(ctx)
	rd, _ = b.Read(ctx, plate, "officer-7")
	if rd.Rate.Cur != 5 {
		t.Fatalf("b's count after its sync = %d, want 5 (3 on a, 2 on b)", rd.Rate.Cur)
	}
	if rd, _ := b.Read(ctx, plate, "officer-8"); rd.Rate.Cur != 1 {
		t.Fatalf("another officer's count = %d, want 1", rd.Rate.Cur)
	}
	// Redis down: the counts stay pending and are added later.
	dead := New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond}), prefix,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	dead.rate.hit("officer-9", 42)
	dead.syncRate(ctx)
	if w := dead.rate.hit("officer-9", 42); w.Cur != 2 {
		t.Fatalf("count with Redis down = %d, want 2", w.Cur)
	}
}

// TestRateSlidesAcrossTheMinute: an officer who used the whole limit just before a minute's
// boundary is not given a second limit's worth just after it, on another replica either.
func TestRateSlidesAcrossTheMinute(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	a := New(rdb, prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b := New(rdb, prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	minute := time.Now().Truncate(time.Minute).Add(time.Minute)
	at := minute.Add(-500 * time.Millisecond)
	a.now, b.now = func() time.Time { return at }, func() time.Time { return at }
	const limit = 120
	passed := 0
	look := func(c *Cache) {
		rd, err := c.Read(ctx, plate, "officer-5")
		if err != nil {
			t.Fatal(err)
		}
		if rd.Rate.Over(at, limit) {
			c.Refund("officer-5", rd.Rate) // as the checkpoint does with a refused lookup
			return
		}
		passed++
	}
	for range 240 { // 12:00:59.5: a's lookups, the limit's worth and more
		look(a)
	}
	a.syncRate(ctx)
	at = minute.Add(500 * time.Millisecond) // 12:01:00.5, on both replicas
	a.syncRate(ctx)
	b.syncRate(ctx)
	for i := range 240 {
		look([]*Cache{a, b}[i%2])
		if i%20 == 0 {
			a.syncRate(ctx)
			b.syncRate(ctx)
		}
	}
	// b learns a's last minute at its first sync: until then (SyncEvery; here its first 10
	// lookups) it counts only its own, the bound the package documents; and the window's
	// estimate ages a's lookups out by a share a second (2 here).
	if passed > limit+12 {
		t.Fatalf("%d lookups passed within a second across the minute's boundary, limit %d a minute", passed, limit)
	}
	if passed < limit {
		t.Fatalf("only %d lookups passed; the limit is %d", passed, limit)
	}
}

// TestBreakerStopsCallingADeadRedis: a Redis that does not answer costs a lookup at most
// RedisTimeout, and after a few failures nothing at all (but a probe now and then).
func TestBreakerStopsCallingADeadRedis(t *testing.T) {
	hung := testenv.Blackhole(t) // accepts, never answers
	rdb := redis.NewClient(&redis.Options{Addr: hung, MaxRetries: -1, ContextTimeoutEnabled: true, ReadTimeout: 5 * time.Second})
	c := New(rdb, "bh:", slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	var slowest time.Duration
	failed := 0
	start := time.Now()
	for range 50 {
		t0 := time.Now()
		if _, err := c.Read(ctx, plate, "o"); err != nil {
			failed++
		}
		slowest = max(slowest, time.Since(t0))
	}
	if failed != 50 {
		t.Fatalf("%d of 50 reads of a hung Redis failed, want all", failed)
	}
	if slowest > RedisTimeout+100*time.Millisecond {
		t.Fatalf("slowest read of a hung Redis took %v; want about %v at most", slowest, RedisTimeout)
	}
	if total := time.Since(start); total > time.Duration(breakerFails+2)*RedisTimeout+200*time.Millisecond {
		t.Fatalf("50 reads took %v: the breaker did not stop the calls", total)
	}
}

// TestPlateMissingFromACompleteRegistry: while the registry's synced marker says Redis holds
// every registered plate (and its last rebuild is recent), a plate without a registry part is not
// registered, without asking the registry; with the marker gone or old, it is asked.
func TestPlateMissingFromACompleteRegistry(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	c := New(rdb, prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	for _, tc := range []struct {
		marker string // "" none
		want   bool
	}{
		{"", false},
		{time.Now().UTC().Format(time.RFC3339), true},
		{time.Now().Add(-3 * time.Hour).UTC().Format(time.RFC3339), false},
	} {
		rdb.Del(ctx, summary.SyncedKey(prefix, summary.Registry))
		if tc.marker != "" {
			rdb.Set(ctx, summary.SyncedKey(prefix, summary.Registry), tc.marker, 0)
		}
		c.refreshComplete(ctx)
		rd, err := c.Read(ctx, "晋Z00001:blue", "o")
		if err != nil {
			t.Fatal(err)
		}
		if rd.NotInRegistry != tc.want {
			t.Errorf("marker %q: not in registry = %v, want %v", tc.marker, rd.NotInRegistry, tc.want)
		}
	}
	// A registered plate is never taken for unknown.
	rdb.Set(ctx, summary.Key(prefix, plate, summary.Registry), "{}", time.Minute)
	if rd, _ := c.Read(ctx, plate, "o"); rd.NotInRegistry {
		t.Error("a plate with a registry part read as not registered")
	}
}

// TestCompleteRuleOffWhenEvictionCannotBeRuledOut: a Redis that cannot say whether it evicted
// keys (the embedded default's miniredis has no eviction statistics) keeps the rule off: a
// plate without a registry part is asked of the registry.
func TestCompleteRuleOffWhenEvictionCannotBeRuledOut(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	c := New(rdb, "m:", slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	rdb.Set(ctx, summary.SyncedKey("m:", summary.Registry), time.Now().UTC().Format(time.RFC3339), 0)
	c.refreshComplete(ctx)
	if rd, err := c.Read(ctx, "晋Z00009:blue", "o"); err != nil || rd.NotInRegistry {
		t.Fatalf("without eviction statistics: not in registry = %v (%v), want it asked", rd.NotInRegistry, err)
	}
}
