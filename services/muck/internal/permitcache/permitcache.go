// Package permitcache keeps each plate's muck summary in Redis under the plate's summary key
// (libs/summary, part "muck") for the checkpoint, and reads the remote-sensing and OBD parts of
// a plate when the permit policy asks for a clean record.
package permitcache

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

// Cache is the Redis implementation of permit.Cache and permit.SignalSource.
type Cache struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// New returns a cache writing keys under prefix.
func New(rdb redis.UniversalClient, prefix string) *Cache {
	return &Cache{rdb: rdb, prefix: prefix, now: time.Now}
}

// Put implements permit.Cache.
func (c *Cache) Put(ctx context.Context, plateKey string, m summary.MuckStatus) error {
	b, err := summary.Encode(summary.Muck, c.now(), m)
	if err != nil {
		return err
	}
	_, err = c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, summary.Key(c.prefix, plateKey, summary.Muck), b, summary.TTL)
		p.Publish(ctx, summary.ChangedChannel(c.prefix), plateKey)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache muck summary of %s: %w", plateKey, err)
	}
	return nil
}

// syncedKey marks that Redis holds every plate's summary; it has no TTL and vanishes only with
// the rest of Redis's data, which is when a full resync is due.
func (c *Cache) syncedKey() string { return c.prefix + "muck:synced" }

// Synced implements permit.Cache.
func (c *Cache) Synced(ctx context.Context) (bool, error) {
	n, err := c.rdb.Exists(ctx, c.syncedKey()).Result()
	if err != nil {
		return false, fmt.Errorf("check muck cache sync marker: %w", err)
	}
	return n == 1, nil
}

// MarkSynced implements permit.Cache.
func (c *Cache) MarkSynced(ctx context.Context) error {
	if err := c.rdb.Set(ctx, c.syncedKey(), c.now().UTC().Format(time.RFC3339), 0).Err(); err != nil {
		return fmt.Errorf("set muck cache sync marker: %w", err)
	}
	return nil
}

// Signals implements permit.SignalSource from the remote-sensing and OBD parts of the plate: an
// open remote-sensing case (summary.RemoteSensingStatus.OpenCases) or an open OBD alarm
// (summary.Truck.OpenAlarms). A missing part counts as nothing open: each owner writes its part
// for the plates it holds findings about. An unreadable part is not read as "nothing open": the
// check fails and says so.
func (c *Cache) Signals(ctx context.Context, plateKey string) (permit.Signals, error) {
	keys := []string{summary.Key(c.prefix, plateKey, summary.RemoteSensing), summary.Key(c.prefix, plateKey, summary.OBD)}
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return permit.Signals{}, fmt.Errorf("read remote-sensing and OBD parts of %s: %v: %w", plateKey, err, apperr.ErrUnavailable)
	}
	rs, err := part[summary.RemoteSensingStatus](vals[0])
	if err != nil {
		return permit.Signals{}, fmt.Errorf("remote-sensing part of %s: %v: %w", plateKey, err, apperr.ErrUnavailable)
	}
	obd, err := part[summary.Truck](vals[1])
	if err != nil {
		return permit.Signals{}, fmt.Errorf("OBD part of %s: %v: %w", plateKey, err, apperr.ErrUnavailable)
	}
	return permit.Signals{RemoteSensingOpen: len(rs.OpenCases) > 0, OBDAlarm: len(obd.OpenAlarms) > 0}, nil
}

// part decodes a stored part; a missing one is the zero value.
func part[T any](v any) (T, error) {
	var zero T
	s, ok := v.(string)
	if !ok {
		return zero, nil
	}
	_, d, err := summary.Open[T]([]byte(s))
	return d, err
}

var (
	_ permit.Cache        = (*Cache)(nil)
	_ permit.SignalSource = (*Cache)(nil)
)
