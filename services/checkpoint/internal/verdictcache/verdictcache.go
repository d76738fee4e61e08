// Package verdictcache reads a plate's parts for the checkpoint: the four owners' parts and the
// checkpoint's own "not in the registry" marker, from Redis in one MGET. All of a plate's keys
// share the plate's hash tag, so the MGET works on Redis Cluster too.
//
// Two things keep Redis off the path of most lookups (Run starts them):
//
//   - A near cache: a plate's parts, once read, are kept in memory and served from there until
//     an owner announces a change of the plate on summary.ChangedChannel (every writer of a part
//     publishes the plate key in the same pipeline, after its write), or for NearTTL at most.
//     It serves only while the subscription is up: when it drops, everything kept is forgotten
//     and every read goes to Redis until it is back. A read that overlaps an announcement of its
//     plate is not kept, so an invalidation is never overtaken by the value it invalidates.
//   - A shared rate counter: an officer's lookups are counted in memory and added to the
//     per-minute Redis counter every SyncEvery, which answers the count over every replica; the
//     limit is checked against that count plus the lookups not yet added, as a sliding window
//     over this minute's and the last minute's counts (verdict.Window).
//
// Redis is never waited on for long: each read is bounded by RedisTimeout, and after
// breakerFails failures in a row the cache stops calling Redis (ErrRedisDown at once, so the
// checkpoint reads the owners) but for one probe every probeEvery, until one succeeds.
package verdictcache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/services/checkpoint/internal/verdict"
)

// parts are read in this order.
var parts = []summary.Part{summary.Registry, summary.RemoteSensing, summary.OBD, summary.Muck}

// unknownPart is the checkpoint's marker that the registry does not know a plate.
const unknownPart summary.Part = "registry_unknown"

// UnknownTTL is how long a "not in the registry" answer is reused before asking again.
const UnknownTTL = time.Minute

// NearTTL bounds how long a plate's parts are served from memory without a change announced:
// a backstop, since every change is announced on a subscription whose loss empties the cache.
// Long enough that a district's often-seen plates stay in memory between their lookups (at 5 s,
// a 100,000-vehicle Zipf mix read Redis for 40 % of lookups).
const NearTTL = 30 * time.Second

// sweepEvery is how often entries past NearTTL are dropped (they are never served).
const sweepEvery = 5 * time.Second

// SyncEvery is how often the officers' lookup counts are added to Redis. Between syncs a replica
// does not see the others' lookups: at the default limit of 120 a minute (2 a second), a quarter
// of a second lets an officer past the limit by at most half a lookup per other replica.
const SyncEvery = 250 * time.Millisecond

// nearMax bounds the plates kept in memory: a plate's parts, raw and decoded, take about 3.5 KB
// (measured on the demo's vehicles), so about 100 MB. Past it, entries older than half NearTTL
// are dropped, then others at random down to three quarters of it.
const nearMax = 30_000

// RedisTimeout bounds one Redis call of a lookup (a read of a plate's parts, a write-back):
// Redis answers in well under a millisecond when it is well, so a call this slow means it is not.
const RedisTimeout = 250 * time.Millisecond

const (
	breakerFails = 3                      // failures in a row that stop the calls
	probeEvery   = 250 * time.Millisecond // how often a stopped cache tries Redis again
)

// completeFor is how recent the registry's last full rebuild must be for a plate missing from
// its parts in Redis to count as not registered: twice the owners' reconciliation period, so
// that every part the rebuild wrote has hours of its TTL left.
const completeFor = 2 * summary.ReconcileEvery

// ErrRedisDown is Read's answer while Redis is failing: the caller reads the owners.
var ErrRedisDown = errors.New("Redis has failed repeatedly; not calling it until a probe succeeds")

// Cache is the Redis implementation of verdict.Parts.
type Cache struct {
	rdb    redis.UniversalClient
	prefix string
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	live    bool              // subscribed to announcements: kept reads may be served
	seq     uint64            // announcements (and subscription changes) seen
	floor   uint64            // reads begun before this sequence are not kept
	entries map[string]entry  // plate key → its parts
	changed map[string]uint64 // plate key → the sequence of its last announcement

	rate    rateCounter
	breaker breaker
	// complete: the registry's synced marker is present and recent (completeFor), so Redis holds
	// every registered plate's registry part and a plate without one is not registered.
	complete atomic.Bool
}

type entry struct {
	parts         map[summary.Part][]byte
	notInRegistry bool
	at            time.Time
	memo          *verdict.Memo // the parts decoded, once for every lookup served from memory
}

// New returns a cache with keys under prefix. Until Run subscribes, every read goes to Redis.
func New(rdb redis.UniversalClient, prefix string, log *slog.Logger) *Cache {
	return &Cache{rdb: rdb, prefix: prefix, log: log, now: time.Now, entries: map[string]entry{}, changed: map[string]uint64{},
		rate: newRateCounter()}
}

// Read implements verdict.Parts.
func (c *Cache) Read(ctx context.Context, plateKey, officer string) (verdict.Read, error) {
	now := c.now()
	rate := c.rate.hit(officer, now.Unix()/60)
	c.mu.Lock()
	e, ok := c.entries[plateKey]
	live, begun := c.live, c.seq
	c.mu.Unlock()
	if live && ok && now.Sub(e.at) < NearTTL {
		return verdict.Read{Parts: e.parts, NotInRegistry: e.notInRegistry, Rate: rate, Memo: e.memo}, nil
	}
	keys := make([]string, 0, len(parts)+1)
	for _, p := range parts {
		keys = append(keys, summary.Key(c.prefix, plateKey, p))
	}
	keys = append(keys, summary.Key(c.prefix, plateKey, unknownPart))
	var vals []any
	err := c.call(ctx, func(ctx context.Context) (err error) {
		vals, err = c.rdb.MGet(ctx, keys...).Result()
		return err
	})
	if err != nil {
		return verdict.Read{}, fmt.Errorf("read parts of %s: %w", plateKey, err)
	}
	e = entry{parts: make(map[summary.Part][]byte, len(parts)), at: now, memo: &verdict.Memo{}}
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		if i == len(parts) {
			e.notInRegistry = true
			continue
		}
		e.parts[parts[i]] = []byte(s)
	}
	if vals[0] == nil && c.complete.Load() {
		e.notInRegistry = true // the registry holds every plate in Redis: no need to ask it
	}
	c.keep(plateKey, e, begun)
	return verdict.Read{Parts: e.parts, NotInRegistry: e.notInRegistry, Rate: rate, Memo: e.memo}, nil
}

// call runs one Redis call of a lookup within RedisTimeout, through the breaker.
func (c *Cache) call(ctx context.Context, f func(context.Context) error) error {
	if !c.breaker.allow(c.now()) {
		return ErrRedisDown
	}
	cctx, cancel := context.WithTimeout(ctx, RedisTimeout)
	defer cancel()
	err := f(cctx)
	if ctx.Err() == nil { // the caller giving up says nothing about Redis
		c.breaker.done(err, c.now())
	}
	return err
}

// breaker stops the calls to a Redis that keeps failing.
type breaker struct {
	mu        sync.Mutex
	fails     int
	openUntil time.Time
}

func (b *breaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fails < breakerFails {
		return true
	}
	if now.Before(b.openUntil) {
		return false
	}
	b.openUntil = now.Add(probeEvery) // this call is the probe; the others wait for its outcome
	return true
}

func (b *breaker) done(err error, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil || errors.Is(err, redis.Nil) {
		b.fails = 0
		return
	}
	b.fails++
	if b.fails >= breakerFails {
		b.openUntil = now.Add(probeEvery)
	}
}

// keep stores a read begun at sequence begun, unless its plate was announced since or the
// subscription changed since.
func (c *Cache) keep(plateKey string, e entry, begun uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || begun < c.floor || c.changed[plateKey] > begun {
		return
	}
	if len(c.entries) >= nearMax {
		c.forgetOld(e.at.Add(-NearTTL / 2))
		for k := range c.entries { // map order is random enough for an eviction
			if len(c.entries) < nearMax*3/4 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[plateKey] = e
}

// refreshComplete reads the registry's synced marker, and whether Redis has evicted keys: a
// Redis that evicts under memory pressure (a maxmemory policy other than noeviction) drops parts
// and keeps the marker (which has no TTL), so the copy is no longer known to be complete.
func (c *Cache) refreshComplete(ctx context.Context) {
	ok := false
	if v, err := c.rdb.Get(ctx, summary.SyncedKey(c.prefix, summary.Registry)).Result(); err == nil {
		if at, err := time.Parse(time.RFC3339, v); err == nil && c.now().Sub(at) < completeFor {
			ok = !c.evicted(ctx)
		}
	}
	c.complete.Store(ok)
}

// evicted reports whether Redis says it has evicted keys since it started (or cannot say).
func (c *Cache) evicted(ctx context.Context) bool {
	info, err := c.rdb.Info(ctx, "stats").Result()
	if err != nil {
		return true
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "evicted_keys:"); ok {
			return v != "0"
		}
	}
	return true
}

// sweep drops the entries past NearTTL.
func (c *Cache) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetOld(c.now().Add(-NearTTL))
}

// forgetOld drops the entries read before cutoff, and the announcements no read in flight can
// still need (reads begun before the new floor are not kept). c.mu is held.
func (c *Cache) forgetOld(cutoff time.Time) {
	for k, e := range c.entries {
		if e.at.Before(cutoff) {
			delete(c.entries, k)
		}
	}
	c.seq++
	c.floor = c.seq
	clear(c.changed)
}

// changedPlate handles an announcement.
func (c *Cache) changedPlate(plateKey string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.changed[plateKey] = c.seq
	delete(c.entries, plateKey)
	if len(c.changed) > nearMax {
		c.forgetOld(c.now())
	}
}

// setLive forgets everything kept and starts (or stops) keeping reads.
func (c *Cache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.seq++
	c.floor = c.seq
	clear(c.entries)
	clear(c.changed)
}

// Run keeps the near cache subscribed to announcements and adds the lookup counts to Redis,
// until ctx ends.
func (c *Cache) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { c.subscribe(ctx) })
	wg.Go(func() {
		c.refreshComplete(ctx)
		every(ctx, time.Second, func() { c.refreshComplete(ctx) })
	})
	wg.Go(func() { every(ctx, sweepEvery, c.sweep) })
	wg.Go(func() { every(ctx, SyncEvery, func() { c.syncRate(ctx) }) })
	wg.Wait()
}

// every runs f every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// subscribe follows the announcements; go-redis reconnects and subscribes again after a
// failure, and each (re)subscription starts from an empty cache.
func (c *Cache) subscribe(ctx context.Context) {
	ps := c.rdb.Subscribe(ctx, summary.ChangedChannel(c.prefix))
	defer c.setLive(false)
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() }) // Receive does not watch ctx
	defer func() {
		if stop() {
			_ = ps.Close()
		}
	}()
	down := false
	for {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		switch m := msg.(type) {
		case *redis.Message:
			c.changedPlate(m.Payload)
			continue
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				c.setLive(true)
				if down {
					c.log.InfoContext(ctx, "checkpoint_near_cache_resumed")
				}
				down = false
			}
			continue
		case *redis.Pong:
			continue
		}
		if err != nil {
			if !down {
				c.log.WarnContext(ctx, "checkpoint_near_cache_paused", "error", err.Error(), "next", "every lookup reads Redis until the subscription is back")
			}
			down = true
			c.setLive(false)
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

// WriteBack implements verdict.Parts: SET NX, so an owner's own newer write is never replaced;
// the write is announced like an owner's.
func (c *Cache) WriteBack(ctx context.Context, plateKey string, p summary.Part, data []byte) error {
	b, err := summary.Encode(p, c.now(), json.RawMessage(data))
	if err != nil {
		return err
	}
	return c.call(ctx, func(ctx context.Context) error {
		_, err := c.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.SetNX(ctx, summary.Key(c.prefix, plateKey, p), b, summary.TTL)
			pipe.Publish(ctx, summary.ChangedChannel(c.prefix), plateKey)
			return nil
		})
		return err
	})
}

// MarkUnknown implements verdict.Parts.
func (c *Cache) MarkUnknown(ctx context.Context, plateKey string) error {
	return c.call(ctx, func(ctx context.Context) error {
		_, err := c.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, summary.Key(c.prefix, plateKey, unknownPart), "1", UnknownTTL)
			pipe.Publish(ctx, summary.ChangedChannel(c.prefix), plateKey)
			return nil
		})
		return err
	})
}

// rateCounter counts lookups per officer in this minute and the last: the counts in Redis at
// the last sync (every replica's) plus this replica's lookups since.
type rateCounter struct {
	mu          sync.Mutex
	minute      int64
	global      map[string]int64 // officer → the Redis count of minute at the last sync
	pending     map[string]int64 // officer → lookups in minute not yet added to Redis
	prev        map[string]int64 // officer → lookups in minute-1, as last known
	prevPending map[string]int64 // officer → lookups in minute-1 not yet added to Redis
	prevRead    map[string]bool  // officers whose minute-1 total was read from Redis this minute
}

func newRateCounter() rateCounter {
	return rateCounter{global: map[string]int64{}, pending: map[string]int64{}, prev: map[string]int64{}, prevPending: map[string]int64{}, prevRead: map[string]bool{}}
}

// roll moves to minute m (r.mu held): this minute's counts become the last minute's.
func (r *rateCounter) roll(m int64) {
	if m == r.minute {
		return
	}
	prev, prevPending := map[string]int64{}, map[string]int64{}
	if m == r.minute+1 {
		for o, n := range r.global {
			prev[o] = n
		}
		for o, n := range r.pending {
			prev[o] += n
		}
		prevPending = r.pending
	}
	r.minute, r.prev, r.prevPending = m, prev, prevPending
	r.global, r.pending, r.prevRead = map[string]int64{}, map[string]int64{}, map[string]bool{}
}

// Refund implements verdict.Parts.
func (c *Cache) Refund(officer string, w verdict.Window) {
	r := &c.rate
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.minute == w.Minute { // below zero when the count was synced already: HINCRBY takes it back
		r.pending[officer]--
	}
}

func (r *rateCounter) hit(officer string, minute int64) verdict.Window {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roll(minute)
	r.pending[officer]++
	return verdict.Window{Minute: minute, Cur: r.global[officer] + r.pending[officer], Prev: r.prev[officer]}
}

// rateKey is the minute's hash of officer → lookups (one key, so a sync is one HINCRBY per
// officer and one EXPIRE, not two commands per officer).
func (c *Cache) rateKey(minute int64) string {
	return c.prefix + "rate:checkpoint:" + strconv.FormatInt(minute, 10)
}

// syncRate adds the pending counts (this minute's, and the last minute's not yet added) to
// Redis in one round trip and takes back the totals: this minute's, and the last minute's of
// the officers it counts (every replica's lookups, which a replica that served none of an
// officer's last minute would not know otherwise). When Redis fails, the counts stay pending
// and are added at the next sync.
func (c *Cache) syncRate(ctx context.Context) {
	r := &c.rate
	r.mu.Lock()
	minute, pending, prevPending := r.minute, r.pending, r.prevPending
	r.pending, r.prevPending = make(map[string]int64, len(pending)), map[string]int64{}
	var toRead []string // officers whose last minute this replica has not read yet: once a minute each
	for officer := range pending {
		if _, ok := prevPending[officer]; !ok && !r.prevRead[officer] {
			toRead = append(toRead, officer)
		}
	}
	r.mu.Unlock()
	if len(pending) == 0 && len(prevPending) == 0 {
		return
	}
	cmds := make(map[string]*redis.IntCmd, len(pending))
	prevCmds := make(map[string]*redis.IntCmd, len(prevPending))
	prevReads := make(map[string]*redis.StringCmd, len(pending))
	k, pk := c.rateKey(minute), c.rateKey(minute-1)
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error { // redis.Nil: an officer without last-minute lookups
		for officer, n := range pending {
			cmds[officer] = p.HIncrBy(ctx, k, officer, n)
		}
		for officer, n := range prevPending {
			prevCmds[officer] = p.HIncrBy(ctx, pk, officer, n)
		}
		for _, officer := range toRead {
			prevReads[officer] = p.HGet(ctx, pk, officer)
		}
		p.Expire(ctx, k, 3*time.Minute)
		if len(prevPending) > 0 {
			p.Expire(ctx, pk, 2*time.Minute)
		}
		return nil
	})
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.minute == minute && err != nil:
		for officer, n := range pending {
			r.pending[officer] += n
		}
		for officer, n := range prevPending {
			r.prevPending[officer] += n
		}
	case r.minute == minute:
		for officer, cmd := range cmds {
			r.global[officer] = cmd.Val()
		}
		for officer, cmd := range prevCmds {
			r.prev[officer] = max(r.prev[officer], cmd.Val())
		}
		for officer, cmd := range prevReads {
			n, err := cmd.Int64()
			if err == nil {
				r.prev[officer] = max(r.prev[officer], n)
			}
			if err == nil || errors.Is(err, redis.Nil) {
				r.prevRead[officer] = true
			}
		}
	case r.minute == minute+1 && err != nil: // the minute ended meanwhile: what was pending is the last minute's
		for officer, n := range pending {
			r.prevPending[officer] += n
		}
	case r.minute == minute+1:
		for officer, cmd := range cmds {
			r.prev[officer] = max(r.prev[officer], cmd.Val())
		}
	}
}
