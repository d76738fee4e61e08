// Package samplingcache publishes in Redis which limit table version is in force, so that every
// fuel instance switches to a table the bureau loads on any of them after one Redis read per
// upload, instead of reading MongoDB each time. It is the fuel service's only use of Redis and
// only a cache: the tables live in MongoDB, and the core falls back to MongoDB whenever the
// marker is unreachable or missing.
package samplingcache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// raise sets the key to ARGV[1] unless it already holds a higher version, so that a slow
// instance never lowers the marker.
var raise = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local v = tonumber(ARGV[1])
if v > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return cur`)

// Marker is the Redis implementation of sampling.VersionMarker.
type Marker struct {
	rdb redis.UniversalClient
	key string
	// timeout bounds each Redis call; after a failure, calls are skipped for backoff, so that an
	// outage costs uploads one timeout, not one per request.
	timeout, backoff time.Duration
	now              func() time.Time

	mu        sync.Mutex
	downUntil time.Time
}

// New returns a marker under key prefix + "fuel:limits:version".
func New(rdb redis.UniversalClient, prefix string) *Marker {
	return &Marker{rdb: rdb, key: prefix + "fuel:limits:version", timeout: 150 * time.Millisecond, backoff: 5 * time.Second, now: time.Now}
}

// Key is the Redis key of the marker.
func (m *Marker) Key() string { return m.key }

var errSkipped = errors.New("redis failed recently; not asked")

func (m *Marker) call(ctx context.Context, f func(context.Context) error) error {
	m.mu.Lock()
	down := m.now().Before(m.downUntil)
	m.mu.Unlock()
	if down {
		return errSkipped
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	err := f(ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
		m.mu.Lock()
		m.downUntil = m.now().Add(m.backoff)
		m.mu.Unlock()
	}
	return err
}

// Active implements sampling.VersionMarker.
func (m *Marker) Active(ctx context.Context) (int, bool, error) {
	var s string
	err := m.call(ctx, func(ctx context.Context) error {
		var err error
		s, err = m.rdb.Get(ctx, m.key).Result()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read limit version marker: %w", err)
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, false, nil // a garbled marker counts as missing; Refresh rewrites it
	}
	return v, true, nil
}

// Reset implements sampling.VersionMarker.
func (m *Marker) Reset(ctx context.Context, v int) error {
	err := m.call(ctx, func(ctx context.Context) error { return m.rdb.Set(ctx, m.key, v, 0).Err() })
	if err != nil {
		return fmt.Errorf("reset limit version to %d: %w", v, err)
	}
	return nil
}

// Publish implements sampling.VersionMarker: the marker only ever rises.
func (m *Marker) Publish(ctx context.Context, v int) error {
	err := m.call(ctx, func(ctx context.Context) error {
		return raise.Run(ctx, m.rdb, []string{m.key}, v).Err()
	})
	if err != nil {
		return fmt.Errorf("publish limit version %d: %w", v, err)
	}
	return nil
}
