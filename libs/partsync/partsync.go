// Package partsync keeps an owning service's per-plate parts in Redis coherent with MongoDB: the
// one implementation of the part protocol's write side, on top of libs/outbox and the
// summary.Writer. An owner supplies only how to summarise plates and how to list all of its
// plates; its store's collections carry outbox.Part records written with each change.
//
// The protocol, for every owner:
//  1. a change is written to MongoDB with an outbox.Part record for each plate it affects, in
//     the same single-document write;
//  2. right after, the owner publishes those plates (Publish, or Put with parts it already
//     holds) and acknowledges the records, guarded by the document's version;
//  3. whatever step 2 missed (a crash, a Redis outage) the outbox runners deliver: Republish
//     rebuilds the plates of the due records from MongoDB and writes them;
//  4. when Redis has lost its data (the synced marker is gone), or has come back older than
//     the truth (its generation counter is below the one recorded in MongoDB: a restore from an
//     old snapshot, a failover to a lagging replica), Resync rebuilds every plate.
package partsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/libs/summary"
)

// Owner is what an owning service supplies.
type Owner interface {
	// Summarise builds the parts of the plates (vehicleid.Key), one entry each; an entry with nil
	// Data deletes the plate's part (the owner no longer holds the plate).
	Summarise(ctx context.Context, plateKeys []string) ([]summary.Entry, error)
	// EachPlate calls fn with every plate key the owner holds a part for, in chunks.
	EachPlate(ctx context.Context, fn func(plateKeys []string) error) error
}

// Source is a collection whose documents carry outbox.Part records.
type Source struct {
	Coll *mongo.Collection
	// VersionField is the documents' version field (default "version").
	VersionField string
}

// Sync is one owner's part protocol.
type Sync struct {
	w       *summary.Writer
	owner   Owner
	runners []*outbox.Runner
	tracer  trace.Tracer
	gens    *mongo.Collection // the highest generation seen, per part (nil: no rollback check)
	// reconcile overrides summary.ReconcileEvery (0: the default).
	reconcile time.Duration
	// events stores the domain events the sources' outboxes carry beside part records (nil:
	// none are written there).
	events EventSink
}

// EventSink stores the domain-event records of a collection's outbox (libs/events.Sink).
type EventSink interface {
	Put(ctx context.Context, source string, rs []outbox.Record) error
}

// SetEvents makes the runners deliver the sources' domain events to sink, with their parts: a
// document whose records hold an event is cleared only by a runner, never inline (outbox.Ack).
func (s *Sync) SetEvents(sink EventSink) { s.events = sink }

// GenerationsCollection records, per part, the highest Redis generation an owner has seen.
const GenerationsCollection = "part_generations"

// New returns the protocol of the writer's part for owner, whose outbox records lie in sources.
func New(w *summary.Writer, owner Owner, tp trace.TracerProvider, sources ...Source) *Sync {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	s := &Sync{w: w, owner: owner, tracer: tp.Tracer("github.com/clearsky/clearsky/libs/partsync")}
	for _, src := range sources {
		vf := src.VersionField
		if vf == "" {
			vf = "version"
		}
		s.runners = append(s.runners, &outbox.Runner{Coll: src.Coll, VersionField: vf, Deliver: s.deliver, Batch: 500})
		if s.gens == nil {
			s.gens = src.Coll.Database().Collection(GenerationsCollection)
		}
	}
	return s
}

// SetReconcileEvery overrides summary.ReconcileEvery (tests).
func (s *Sync) SetReconcileEvery(d time.Duration) { s.reconcile = d }

func (s *Sync) reconcileEvery() time.Duration {
	if s.reconcile > 0 {
		return s.reconcile
	}
	return summary.ReconcileEvery
}

// Writer is the part's writer.
func (s *Sync) Writer() *summary.Writer { return s.w }

// Put writes parts the owner already holds (step 2, when it has them in hand).
func (s *Sync) Put(ctx context.Context, es ...summary.Entry) error { return s.w.Put(ctx, es...) }

// Publish summarises the plates from MongoDB and writes their parts (step 2 or 3).
func (s *Sync) Publish(ctx context.Context, plateKeys ...string) error {
	if len(plateKeys) == 0 {
		return nil
	}
	ctx, span := s.tracer.Start(ctx, "partsync.publish", trace.WithAttributes(
		attribute.String("clearsky.summary.part", string(s.w.Part())), attribute.Int("clearsky.summary.plates", len(plateKeys))))
	defer span.End()
	es, err := s.owner.Summarise(ctx, unique(plateKeys))
	if err != nil {
		return fmt.Errorf("summarise %s parts: %w", s.w.Part(), err)
	}
	return s.w.Put(ctx, es...)
}

// rolledBack advances the Redis generation and compares it with the highest one recorded in
// MongoDB: lower or equal means Redis is an older copy (every advance since has been lost).
func (s *Sync) rolledBack(ctx context.Context) (bool, error) {
	if s.gens == nil {
		return false, nil
	}
	g, err := s.w.Generation(ctx)
	if err != nil {
		return false, err
	}
	var d struct {
		Generation int64 `bson:"generation"`
	}
	err = s.gens.FindOne(ctx, bson.D{{Key: "_id", Value: string(s.w.Part())}}).Decode(&d)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return false, fmt.Errorf("read the %s generation: %w", s.w.Part(), err)
	}
	if _, err := s.gens.UpdateOne(ctx, bson.D{{Key: "_id", Value: string(s.w.Part())}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "generation", Value: g}}}}, options.UpdateOne().SetUpsert(true)); err != nil {
		return false, fmt.Errorf("record the %s generation: %w", s.w.Part(), err)
	}
	return g <= d.Generation, nil
}

func unique(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := keys[:0:0]
	for _, k := range keys {
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// deliver is the outbox deliverer of part records: every due document's plates, rebuilt and
// written in one Publish; and of the domain events beside them, stored per document.
func (s *Sync) deliver(ctx context.Context, due []outbox.Due) []error {
	var keys []string
	for _, d := range due {
		for _, r := range d.Records {
			if r.Topic == outbox.TopicPart {
				keys = append(keys, r.Key)
			}
		}
	}
	errs := outbox.ErrAll(len(due), s.Publish(ctx, keys...))
	if s.events == nil {
		return errs
	}
	for i, d := range due {
		if err := s.events.Put(ctx, d.Collection, d.Records); err != nil {
			if errs == nil {
				errs = make([]error, len(due))
			}
			errs[i] = errors.Join(errs[i], err)
		}
	}
	return errs
}

// Republish delivers the due part records of every source (step 3) and reports how many
// documents' records it delivered. Run it on a timer.
func (s *Sync) Republish(ctx context.Context) (int, error) {
	n := 0
	for _, r := range s.runners {
		k, err := r.Run(ctx)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Resync rebuilds every plate's part when Redis has lost its copy or come back older than the
// truth (step 4), or when the last rebuild is older than summary.ReconcileEvery (one replica
// claims it), and reports how many plates it wrote; it does nothing else while Redis is known
// to be whole and current. Run it on a timer: how often bounds how long a rolled-back Redis can
// serve old parts.
func (s *Sync) Resync(ctx context.Context) (int, error) {
	rolledBack, err := s.rolledBack(ctx)
	if err != nil {
		return 0, err
	}
	ok, at, err := s.w.Synced(ctx)
	if err != nil {
		return 0, err
	}
	if ok && !rolledBack {
		if time.Since(at) < s.reconcileEvery() {
			return 0, nil
		}
		if mine, err := s.w.ClaimReconcile(ctx, max(s.reconcileEvery()/2, time.Minute)); err != nil || !mine {
			return 0, err
		}
	}
	ctx, span := s.tracer.Start(ctx, "partsync.resync", trace.WithAttributes(attribute.String("clearsky.summary.part", string(s.w.Part()))))
	defer span.End()
	n := 0
	err = s.owner.EachPlate(ctx, func(keys []string) error {
		if err := s.Publish(ctx, keys...); err != nil {
			return err
		}
		n += len(keys)
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("resync the %s parts: %w", s.w.Part(), err)
	}
	span.SetAttributes(attribute.Int("clearsky.summary.plates", n))
	return n, s.w.MarkSynced(ctx)
}
