// Package obdcache publishes each truck's monitoring state to Redis under its plate's summary
// key, for the checkpoint.
package obdcache

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// Cache is the Redis implementation of monitor.Cache.
type Cache struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// New returns a cache writing keys under prefix.
func New(rdb redis.UniversalClient, prefix string) *Cache {
	return &Cache{rdb: rdb, prefix: prefix, now: time.Now}
}

// Put implements monitor.Cache.
func (c *Cache) Put(ctx context.Context, plate, colour string, s summary.Truck) error {
	b, err := summary.Encode(summary.OBD, c.now(), s)
	if err != nil {
		return err
	}
	key := summary.Key(c.prefix, vehicleid.Key(plate, vehicleid.Colour(colour)), summary.OBD)
	if err := c.rdb.Set(ctx, key, b, summary.TTL).Err(); err != nil {
		return fmt.Errorf("cache OBD state of %s: %w", s.VIN, err)
	}
	return nil
}
