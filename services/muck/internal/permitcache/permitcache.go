// Package permitcache keeps each plate's muck summary in Redis under the plate's summary key
// (libs/summary, part "muck") for the checkpoint, and reads the remote-sensing and OBD parts of
// a plate when the permit policy asks for a clean record.
package permitcache

import (
	"context"
	"encoding/json"
	"errors"
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

// Signals implements permit.SignalSource from the remote-sensing and OBD parts of the plate.
//
// TODO(muck): read them as summary.RemoteSensingStatus and summary.Truck once those structs are
// committed (they are being written in parallel). Until then the parts are read as opaque JSON
// and only the fields those structs define are looked at: remote sensing "open_cases" and OBD
// "open_alarms" (a non-empty list, a positive count or true counts). A missing part counts as
// nothing open: each owner writes its part for the plates it holds findings about, and answers
// an empty one for the others.
func (c *Cache) Signals(ctx context.Context, plateKey string) (permit.Signals, error) {
	keys := []string{summary.Key(c.prefix, plateKey, summary.RemoteSensing), summary.Key(c.prefix, plateKey, summary.OBD)}
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return permit.Signals{}, fmt.Errorf("read remote-sensing and OBD parts of %s: %v: %w", plateKey, err, apperr.ErrUnavailable)
	}
	// An unreadable part is not read as "nothing open": the check fails and says so.
	rs, err := flagged(vals[0], "open_cases")
	if err != nil {
		return permit.Signals{}, fmt.Errorf("remote-sensing part of %s: %v: %w", plateKey, err, apperr.ErrUnavailable)
	}
	obd, err := flagged(vals[1], "open_alarms")
	if err != nil {
		return permit.Signals{}, fmt.Errorf("OBD part of %s: %v: %w", plateKey, err, apperr.ErrUnavailable)
	}
	return permit.Signals{RemoteSensingOpen: rs, OBDAlarm: obd}, nil
}

// flagged reports whether a stored part has any of fields set: true, a positive number or a
// non-empty list.
func flagged(v any, fields ...string) (bool, error) {
	s, ok := v.(string)
	if !ok {
		return false, nil // missing
	}
	env, err := summary.Decode([]byte(s))
	if err != nil {
		return false, err
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(env.Data, &data); err != nil {
		return false, fmt.Errorf("decode %s summary: %w", env.Part, err)
	}
	for _, f := range fields {
		raw, ok := data[f]
		if !ok {
			continue
		}
		var x any
		if err := json.Unmarshal(raw, &x); err != nil {
			return false, errors.Join(fmt.Errorf("decode %s.%s", env.Part, f), err)
		}
		switch t := x.(type) {
		case bool:
			if t {
				return true, nil
			}
		case float64:
			if t > 0 {
				return true, nil
			}
		case []any:
			if len(t) > 0 {
				return true, nil
			}
		}
	}
	return false, nil
}

var (
	_ permit.Cache        = (*Cache)(nil)
	_ permit.SignalSource = (*Cache)(nil)
)
