// Package permitcache reads the remote-sensing and OBD parts of a plate from Redis (libs/summary)
// when the permit policy asks for a clean record, asking their owners for what Redis does not
// know. (Muck's own part is written by summary.Writer through libs/partsync.)
package permitcache

import (
	"encoding/json"
	"github.com/clearsky/clearsky/libs/vehicleid"

	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

// Owners asks a part's owner when Redis does not know it (libs/owners).
type Owners interface {
	Fetch(ctx context.Context, p summary.Part, plate string, colour vehicleid.Colour) (json.RawMessage, error)
}

// Cache is the Redis implementation of permit.SignalSource.
type Cache struct {
	rdb    redis.UniversalClient
	prefix string
	owners Owners
	now    func() time.Time
}

// New returns a reader of the parts under prefix that asks owners for what Redis lacks.
func New(rdb redis.UniversalClient, prefix string, owners Owners) *Cache {
	return &Cache{rdb: rdb, prefix: prefix, owners: owners, now: time.Now}
}

// Signals implements permit.SignalSource from the remote-sensing and OBD parts of the plate: an
// open remote-sensing case (summary.RemoteSensingStatus.OpenCases) or an open OBD alarm
// (summary.Truck.OpenAlarms). A part Redis does not know (missing, stale or unreadable:
// summary.Read) is asked of its owner, which answers from MongoDB; when neither answers, the
// check fails and says so: an unknown part is never read as "nothing open".
func (c *Cache) Signals(ctx context.Context, plateKey string) (permit.Signals, error) {
	keys := []string{summary.Key(c.prefix, plateKey, summary.RemoteSensing), summary.Key(c.prefix, plateKey, summary.OBD)}
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		vals = make([]any, len(keys)) // Redis down: both unknown, ask the owners
	}
	now := c.now()
	rs, err := part[summary.RemoteSensingStatus](ctx, c, vals[0], summary.RemoteSensing, plateKey, now)
	if err != nil {
		return permit.Signals{}, err
	}
	obd, err := part[summary.Truck](ctx, c, vals[1], summary.OBD, plateKey, now)
	if err != nil {
		return permit.Signals{}, err
	}
	return permit.Signals{RemoteSensingOpen: len(rs.OpenCases) > 0, OBDAlarm: len(obd.OpenAlarms) > 0}, nil
}

// part reads one part: from Redis when known there, else from its owner.
func part[T any](ctx context.Context, c *Cache, v any, p summary.Part, plateKey string, now time.Time) (T, error) {
	if d, _, ok := summary.Read[T](v, now); ok {
		return d, nil
	}
	var zero T
	plate, colour, ok := vehicleid.SplitKey(plateKey)
	if !ok {
		return zero, fmt.Errorf("plate key %q: %w", plateKey, apperr.ErrInvalid)
	}
	raw, err := c.owners.Fetch(ctx, p, plate, colour)
	if err != nil {
		return zero, fmt.Errorf("the %s part of %s is unknown (not in Redis, and its owner did not answer: %v); try again shortly: %w",
			p, plateKey, err, apperr.ErrUnavailable)
	}
	var d T
	if err := json.Unmarshal(raw, &d); err != nil {
		return zero, fmt.Errorf("the %s part of %s: %v: %w", p, plateKey, err, apperr.ErrUnavailable)
	}
	return d, nil
}

var _ permit.SignalSource = (*Cache)(nil)
