// Package sensingcache keeps each plate's remote-sensing part in Redis, under the plate's
// summary key (libs/summary), for the checkpoint to read.
package sensingcache

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// Cache is the Redis implementation of the remote-sensing core's StatusCache.
type Cache struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// New returns a cache writing keys under prefix.
func New(rdb redis.UniversalClient, prefix string) *Cache {
	return &Cache{rdb: rdb, prefix: prefix, now: time.Now}
}

// Key is the Redis key of a plate's remote-sensing part.
func (c *Cache) Key(plate string, colour vehicleid.Colour) string {
	return summary.Key(c.prefix, vehicleid.Key(plate, colour), summary.RemoteSensing)
}

// Put implements sensing.StatusCache: every part in one pipelined round trip, each with
// summary.TTL.
func (c *Cache) Put(ctx context.Context, parts []summary.RemoteSensingStatus) error {
	if len(parts) == 0 {
		return nil
	}
	now := c.now()
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, s := range parts {
			b, err := summary.Encode(summary.RemoteSensing, now, s)
			if err != nil {
				return err
			}
			p.Set(ctx, c.Key(s.Plate, vehicleid.Colour(s.PlateColour)), b, summary.TTL)
		}
		for _, s := range parts {
			p.Publish(ctx, summary.ChangedChannel(c.prefix), vehicleid.Key(s.Plate, vehicleid.Colour(s.PlateColour)))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache remote-sensing status of %d plates: %w", len(parts), err)
	}
	return nil
}

// syncedKey marks that Redis holds every active plate's part. It has no TTL: it vanishes only
// with the rest of Redis's data, which is exactly when a full resync is due.
func (c *Cache) syncedKey() string { return c.prefix + "remotesensing:synced" }

// Synced implements sensing.StatusCache.
func (c *Cache) Synced(ctx context.Context) (bool, error) {
	n, err := c.rdb.Exists(ctx, c.syncedKey()).Result()
	if err != nil {
		return false, fmt.Errorf("check cache sync marker: %w", err)
	}
	return n == 1, nil
}

// MarkSynced implements sensing.StatusCache.
func (c *Cache) MarkSynced(ctx context.Context) error {
	if err := c.rdb.Set(ctx, c.syncedKey(), c.now().UTC().Format(time.RFC3339), 0).Err(); err != nil {
		return fmt.Errorf("set cache sync marker: %w", err)
	}
	return nil
}
