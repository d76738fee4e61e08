// Package vehiclecache keeps each vehicle's compact status in Redis, under the plate's summary
// key (libs/summary), for the checkpoint to read.
package vehiclecache

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// Cache is the Redis implementation of the registry core's StatusCache.
type Cache struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// New returns a cache writing keys under prefix.
func New(rdb redis.UniversalClient, prefix string) *Cache {
	return &Cache{rdb: rdb, prefix: prefix, now: time.Now}
}

// Put implements vehicle.StatusCache.
func (c *Cache) Put(ctx context.Context, s summary.Vehicle) error {
	b, err := summary.Encode(summary.Registry, c.now(), s)
	if err != nil {
		return err
	}
	// Two keys, one value: by plate (the checkpoint's key) and by VIN (the OBD gateway's).
	_, err = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, summary.Key(c.prefix, vehicleid.Key(s.Plate, vehicleid.Colour(s.PlateColour)), summary.Registry), b, summary.TTL)
		p.Set(ctx, summary.VINKey(c.prefix, s.VIN), b, summary.TTL)
		p.Publish(ctx, summary.ChangedChannel(c.prefix), vehicleid.Key(s.Plate, vehicleid.Colour(s.PlateColour)))
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache status of %s: %w", s.VIN, err)
	}
	return nil
}

// Delete implements vehicle.StatusCache.
func (c *Cache) Delete(ctx context.Context, plateKey string) error {
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, summary.Key(c.prefix, plateKey, summary.Registry))
		p.Publish(ctx, summary.ChangedChannel(c.prefix), plateKey)
		return nil
	})
	if err != nil {
		return fmt.Errorf("drop cached status of %s: %w", plateKey, err)
	}
	return nil
}

// syncedKey marks that Redis holds every vehicle's status. It has no TTL: it vanishes only with
// the rest of Redis's data, which is exactly when a full resync is due.
func (c *Cache) syncedKey() string { return c.prefix + "registry:synced" }

// Synced implements vehicle.StatusCache.
func (c *Cache) Synced(ctx context.Context) (bool, error) {
	n, err := c.rdb.Exists(ctx, c.syncedKey()).Result()
	if err != nil {
		return false, fmt.Errorf("check cache sync marker: %w", err)
	}
	return n == 1, nil
}

// MarkSynced implements vehicle.StatusCache.
func (c *Cache) MarkSynced(ctx context.Context) error {
	if err := c.rdb.Set(ctx, c.syncedKey(), c.now().UTC().Format(time.RFC3339), 0).Err(); err != nil {
		return fmt.Errorf("set cache sync marker: %w", err)
	}
	return nil
}
