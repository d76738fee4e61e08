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
