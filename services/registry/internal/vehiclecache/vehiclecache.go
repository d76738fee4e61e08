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
	"github.com/clearsky/clearsky/services/registry/internal/vehicle"
)

// Cache is the Redis implementation of vehicle.StatusCache.
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
func (c *Cache) Put(ctx context.Context, s vehicle.Summary) error {
	b, err := summary.Encode(summary.Registry, c.now(), s)
	if err != nil {
		return err
	}
	key := summary.Key(c.prefix, vehicleid.Key(s.Plate, s.PlateColour), summary.Registry)
	if err := c.rdb.Set(ctx, key, b, summary.TTL).Err(); err != nil {
		return fmt.Errorf("cache status of %s: %w", s.VIN, err)
	}
	return nil
}

// Delete implements vehicle.StatusCache.
func (c *Cache) Delete(ctx context.Context, plateKey string) error {
	if err := c.rdb.Del(ctx, summary.Key(c.prefix, plateKey, summary.Registry)).Err(); err != nil {
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
