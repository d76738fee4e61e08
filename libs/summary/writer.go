package summary

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Entry is one plate's part for a Writer: its data, or none to delete the part.
type Entry struct {
	// PlateKey is vehicleid.Key(plate, colour).
	PlateKey string
	// Data is the part's data; nil deletes the part (the owner no longer holds the plate).
	Data any
	// VIN, when set, also writes the part under the by-VIN key (VINKey: the registry's part,
	// which the OBD gateway reads by VIN).
	VIN string
}

// Writer writes one owner's parts: the one implementation of the write half of the part
// protocol. Each Put is one pipelined round trip: every entry's SET (or DEL), then one
// announcement per plate on ChangedChannel, after its write (a pipeline runs in order on its
// connection, so a reader that hears the announcement reads the new value).
type Writer struct {
	rdb    redis.UniversalClient
	prefix string
	part   Part
	now    func() time.Time
}

// NewWriter returns the writer of part p under prefix.
func NewWriter(rdb redis.UniversalClient, prefix string, p Part) *Writer {
	return &Writer{rdb: rdb, prefix: prefix, part: p, now: time.Now}
}

// Part is the part this writer writes.
func (w *Writer) Part() Part { return w.part }

// Put writes (or deletes) the entries' parts, each with TTL, and announces their plates.
func (w *Writer) Put(ctx context.Context, es ...Entry) error {
	if len(es) == 0 {
		return nil
	}
	at := w.now()
	bodies := make([][]byte, len(es))
	for i, e := range es {
		if e.Data == nil {
			continue
		}
		b, err := Encode(w.part, at, e.Data)
		if err != nil {
			return err
		}
		bodies[i] = b
	}
	_, err := w.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, e := range es {
			key := Key(w.prefix, e.PlateKey, w.part)
			if bodies[i] == nil {
				p.Del(ctx, key)
				continue
			}
			p.Set(ctx, key, bodies[i], TTL)
			if e.VIN != "" {
				p.Set(ctx, VINKey(w.prefix, e.VIN), bodies[i], TTL)
			}
		}
		for _, e := range es {
			p.Publish(ctx, ChangedChannel(w.prefix), e.PlateKey)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write %s part of %d plates: %w", w.part, len(es), err)
	}
	return nil
}

// syncedKey marks that Redis holds every plate's part of this owner. It has no TTL: it vanishes
// only with the rest of Redis's data, which is exactly when a full resync is due. ("v2": the
// release that moved the owners from a dirty flag to the outbox resyncs once.)
func (w *Writer) syncedKey() string { return SyncedKey(w.prefix, w.part) }

// SyncedKey is the key of part's synced marker: it holds the time (RFC 3339) of the owner's
// last full rebuild, and exists only while Redis holds every plate's part of that owner.
func SyncedKey(prefix string, p Part) string { return prefix + string(p) + ":synced:v2" }

// Synced reports whether Redis holds a full copy of this owner's parts (false after Redis lost
// its data), and when it was last rebuilt.
func (w *Writer) Synced(ctx context.Context) (bool, time.Time, error) {
	v, err := w.rdb.Get(ctx, w.syncedKey()).Result()
	if errors.Is(err, redis.Nil) {
		return false, time.Time{}, nil
	}
	if err != nil {
		return false, time.Time{}, fmt.Errorf("check the %s sync marker: %w", w.part, err)
	}
	at, _ := time.Parse(time.RFC3339, v) // unreadable: the zero time, so a rebuild is due
	return true, at, nil
}

// ClaimReconcile reports whether this replica is the one to rebuild every part now (the others
// skip until the claim lapses), so that replicas do not all rebuild at the same time.
func (w *Writer) ClaimReconcile(ctx context.Context, hold time.Duration) (bool, error) {
	ok, err := w.rdb.SetNX(ctx, w.prefix+string(w.part)+":reconciling", "1", hold).Result()
	if err != nil {
		return false, fmt.Errorf("claim the %s reconciliation: %w", w.part, err)
	}
	return ok, nil
}

// generationKey counts this owner's resync checks (Generation); it has no TTL.
func (w *Writer) generationKey() string { return w.prefix + string(w.part) + ":generation" }

// Generation increments and returns this owner's generation counter in Redis. The owner keeps
// the highest value it has seen in MongoDB: a counter that comes back lower than that is Redis
// restored from an older copy (a restore, a failover to a lagging replica), whose parts and
// synced marker are older than the truth.
func (w *Writer) Generation(ctx context.Context) (int64, error) {
	g, err := w.rdb.Incr(ctx, w.generationKey()).Result()
	if err != nil {
		return 0, fmt.Errorf("advance the %s generation: %w", w.part, err)
	}
	return g, nil
}

// MarkSynced records that Redis holds a full copy.
func (w *Writer) MarkSynced(ctx context.Context) error {
	if err := w.rdb.Set(ctx, w.syncedKey(), w.now().UTC().Format(time.RFC3339), 0).Err(); err != nil {
		return fmt.Errorf("set the %s sync marker: %w", w.part, err)
	}
	return nil
}
