// Package partcache reads a plate's parts from Redis for the checkpoint: the four owners' parts,
// the checkpoint's own "not in the registry" marker, and the officer's rate counter, in one
// pipelined round trip. All of a plate's keys share the plate's hash tag, so the MGET works on
// Redis Cluster too.
package partcache

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
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

// Cache is the Redis implementation of verdict.Parts.
type Cache struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// New returns a cache with keys under prefix.
func New(rdb redis.UniversalClient, prefix string) *Cache {
	return &Cache{rdb: rdb, prefix: prefix, now: time.Now}
}

// Read implements verdict.Parts.
func (c *Cache) Read(ctx context.Context, plateKey, officer string) (verdict.Read, error) {
	keys := make([]string, 0, len(parts)+1)
	for _, p := range parts {
		keys = append(keys, summary.Key(c.prefix, plateKey, p))
	}
	keys = append(keys, summary.Key(c.prefix, plateKey, unknownPart))
	rate := c.prefix + "rate:checkpoint:" + officer + ":" + strconv.FormatInt(c.now().Unix()/60, 10)
	pipe := c.rdb.Pipeline()
	mget := pipe.MGet(ctx, keys...)
	incr := pipe.Incr(ctx, rate)
	pipe.Expire(ctx, rate, 2*time.Minute)
	if _, err := pipe.Exec(ctx); err != nil {
		return verdict.Read{}, fmt.Errorf("read parts of %s: %w", plateKey, err)
	}
	out := verdict.Read{Parts: map[summary.Part][]byte{}, Count: incr.Val()}
	for i, v := range mget.Val() {
		s, ok := v.(string)
		if !ok {
			continue
		}
		if i == len(parts) {
			out.NotInRegistry = true
			continue
		}
		out.Parts[parts[i]] = []byte(s)
	}
	return out, nil
}

// WriteBack implements verdict.Parts: SET NX, so an owner's own newer write is never replaced.
func (c *Cache) WriteBack(ctx context.Context, plateKey string, p summary.Part, data []byte) error {
	b, err := summary.Encode(p, c.now(), json.RawMessage(data))
	if err != nil {
		return err
	}
	return c.rdb.SetNX(ctx, summary.Key(c.prefix, plateKey, p), b, summary.TTL).Err()
}

// MarkUnknown implements verdict.Parts.
func (c *Cache) MarkUnknown(ctx context.Context, plateKey string) error {
	return c.rdb.Set(ctx, summary.Key(c.prefix, plateKey, unknownPart), "1", UnknownTTL).Err()
}
