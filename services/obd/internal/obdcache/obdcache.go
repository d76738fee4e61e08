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
	plateKey := vehicleid.Key(plate, vehicleid.Colour(colour))
	_, err = c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, summary.Key(c.prefix, plateKey, summary.OBD), b, summary.TTL)
		p.Publish(ctx, summary.ChangedChannel(c.prefix), plateKey)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache OBD state of %s: %w", s.VIN, err)
	}
	return nil
}
