// Package outbox is ClearSky's transactional outbox: what a change must tell the rest of the
// platform (a plate's part to republish to Redis today; domain events for notifications,
// webhooks and the upward exchange next) is written as records on the changed document itself,
// in the same single-document write as the change, and delivered at least once afterwards.
//
// MongoDB's multi-document transactions are not used (FerretDB, the embedded default, has none),
// so the records live on the aggregate's own document, next to these top-level fields:
//
//	outbox           the undelivered records, in the order they were written
//	outbox_due       when the next delivery attempt is due; absent when nothing is undelivered
//	outbox_claim     until when a runner holds the document (absent: nobody)
//	outbox_claim_by  which runner holds it
//	outbox_attempts  failed deliveries of the current records, for the back-off
//	outbox_error     the last delivery error
//	outbox_dead      records given up on after MaxAttempts, kept for an operator
//	outbox_events    true while the records include a domain event (anything but a part record)
//
// Queries and guards use only top-level fields ($elemMatch and positional updates into arrays
// of subdocuments are unreliable on FerretDB). Every write that appends records must also move
// the document's version field: delivery clears the records only while the version is the one
// it read, so a newer write's records are never lost behind an older delivery.
//
// Guarantees: a record is delivered at least once (receivers deduplicate on Record.ID); the
// records of one document are delivered in order, all of them in one call, and on MongoDB never
// by two runners at once (a claim with a lease, so a dead runner's documents come due again; a
// FerretDB reached other than through the embedded server's serialiser has no atomic
// conditional updates, and there two runners can rarely both deliver a document, which
// at-least-once delivery already allows); a failing
// delivery is retried with exponential back-off, and after MaxAttempts (when set) its records
// move to outbox_dead so the document's later records are not held up for ever.
package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Field names on the aggregate's document.
const (
	FieldRecords  = "outbox"
	FieldDue      = "outbox_due"
	FieldClaim    = "outbox_claim"
	FieldClaimBy  = "outbox_claim_by"
	FieldAttempts = "outbox_attempts"
	FieldError    = "outbox_error"
	FieldDead     = "outbox_dead"
	FieldEvents   = "outbox_events"
)

// Record is one thing to deliver.
type Record struct {
	// ID identifies the record to receivers, which deduplicate on it. Records that coalesce (see
	// Part) share an ID and are stored once however often they are written.
	ID string `bson:"id" json:"id"`
	// Topic says which deliverer takes it (TopicPart, or an event type).
	Topic string `bson:"topic" json:"topic"`
	// Key is the record's routing key: the plate key of a part, the aggregate of an event.
	Key string `bson:"key" json:"key"`
	// At is when the change happened (zero for coalescing records).
	At time.Time `bson:"at" json:"at"`
	// Data is the record's payload, if any.
	Data bson.Raw `bson:"data,omitempty" json:"-"`
}

// TopicPart is the topic of "republish this plate's part" records.
const TopicPart = "part"

// Part is the coalescing record that a plate's part must be republished: written by every change
// that affects the plate, stored once per plate however many changes pile up before delivery.
func Part(plateKey string) Record {
	return Record{ID: TopicPart + ":" + plateKey, Topic: TopicPart, Key: plateKey}
}

// Event is a record with an id of its own (receivers deduplicate on it), for domain events.
func Event(topic, key string, at time.Time, data any) (Record, error) {
	r := Record{ID: NewID(), Topic: topic, Key: key, At: at.UTC()}
	if data != nil {
		raw, err := bson.Marshal(data)
		if err != nil {
			return Record{}, fmt.Errorf("encode %s event: %w", topic, err)
		}
		r.Data = raw
	}
	return r, nil
}

// NewID returns a random 128-bit id in hex.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Fields are the outbox fields of a new document: embed them in the document's struct with
// `bson:",inline"`, filled by New.
type Fields struct {
	Outbox []Record   `bson:"outbox,omitempty"`
	Due    *time.Time `bson:"outbox_due,omitempty"`
	// Events is set when the records include a domain event: Ack then leaves them to the runner.
	Events bool `bson:"outbox_events,omitempty"`
}

// New returns the outbox fields of a document inserted at now with records rs.
func New(now time.Time, rs ...Record) Fields {
	if len(rs) == 0 {
		return Fields{}
	}
	due := now.UTC()
	return Fields{Outbox: dedupe(rs), Due: &due, Events: hasEvent(rs)}
}

// hasEvent reports whether rs holds a record that is not a part record: a domain event, which
// only a runner (whose deliverer takes events) may clear.
func hasEvent(rs []Record) bool {
	for _, r := range rs {
		if r.Topic != TopicPart {
			return true
		}
	}
	return false
}

func dedupe(rs []Record) []Record {
	out := make([]Record, 0, len(rs))
	seen := make(map[string]bool, len(rs))
	for _, r := range rs {
		if !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out
}

// Append adds records rs to an update document (operators such as $set and $push), in the same
// write: they are added to the set of records (a coalescing record already there is not added
// twice) and the document comes due at now. The update's own $set, if any, is extended.
func Append(update bson.D, now time.Time, rs ...Record) bson.D {
	if len(rs) == 0 {
		return update
	}
	due := bson.D{{Key: FieldDue, Value: now.UTC()}}
	if hasEvent(rs) {
		due = append(due, bson.E{Key: FieldEvents, Value: true})
	}
	out := make(bson.D, 0, len(update)+2)
	merged := false
	for _, op := range update {
		if op.Key == "$set" {
			if set, ok := op.Value.(bson.D); ok {
				op.Value = append(append(bson.D{}, set...), due...)
				merged = true
			}
		}
		out = append(out, op)
	}
	if !merged {
		out = append(out, bson.E{Key: "$set", Value: due})
	}
	return append(out, bson.E{Key: "$addToSet", Value: bson.D{{Key: FieldRecords, Value: bson.D{{Key: "$each", Value: dedupe(rs)}}}}})
}

// Ack clears the records of document id after they were delivered inline (right after the
// write), provided the document's version field still holds version: a newer write's records
// are left for the runner. Records that include a domain event (outbox_events) are left for
// the runner too: the inline step publishes parts only, and clearing would lose the event.
func Ack(ctx context.Context, coll *mongo.Collection, id any, versionField string, version int64) error {
	_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: versionField, Value: version},
		{Key: FieldEvents, Value: bson.D{{Key: "$exists", Value: false}}}}, cleared())
	if err != nil {
		return fmt.Errorf("clear outbox of %s %v: %w", coll.Name(), id, err)
	}
	return nil
}

func cleared() bson.D {
	return bson.D{
		{Key: "$set", Value: bson.D{{Key: FieldRecords, Value: bson.A{}}}},
		{Key: "$unset", Value: bson.D{{Key: FieldDue, Value: ""}, {Key: FieldClaim, Value: ""}, {Key: FieldClaimBy, Value: ""},
			{Key: FieldAttempts, Value: ""}, {Key: FieldError, Value: ""}, {Key: FieldEvents, Value: ""}}},
	}
}

// Due is a claimed document's undelivered records.
type Due struct {
	// Collection is the document's collection.
	Collection string
	// ID is the document's _id.
	ID any
	// Version is the document's version when claimed.
	Version int64
	// Records are its undelivered records, in order.
	Records []Record
	// Attempts is how many deliveries of them failed before.
	Attempts int
}

// Deliver delivers claimed documents' records. It returns nil when all were delivered, or one
// error per document (nil where that document's records were delivered).
type Deliver func(ctx context.Context, due []Due) []error

// ErrAll makes the per-document result of a Deliver from one error for the whole batch.
func ErrAll(n int, err error) []error {
	if err == nil {
		return nil
	}
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// Runner delivers the due records of one collection. Several runners (one per replica) may run
// over the same collection: each document is claimed by one of them at a time.
type Runner struct {
	// Coll is the aggregate's collection.
	Coll *mongo.Collection
	// VersionField is the document's version field, moved by every write that appends records.
	VersionField string
	// Deliver takes the due records.
	Deliver Deliver
	// Batch is how many documents a round claims at most (default 200).
	Batch int
	// Lease is how long a claim holds (default 1 min): a runner that dies mid-delivery lets its
	// documents come due again after it.
	Lease time.Duration
	// MaxAttempts, when above zero, moves a document's records to outbox_dead after that many
	// failed deliveries. Zero retries for ever (what a part, rebuilt from the truth, wants).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the delay after a failed delivery, doubling from the one
	// to the other (defaults 1 s and 5 min).
	MinBackoff, MaxBackoff time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnSettle, when set, gives fields to $set on a delivered document in the same write that
	// clears its records (a delivery's outcome, without a write of its own).
	OnSettle func(now time.Time) bson.D
}

// settled is the update that clears a delivered document's records, with OnSettle's fields.
func (r *Runner) settled() bson.D {
	u := cleared()
	if r.OnSettle == nil {
		return u
	}
	extra := r.OnSettle(r.now())
	u[0].Value = append(append(bson.D{}, u[0].Value.(bson.D)...), extra...)
	return u
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func orDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Backoff is the delay after the given number of failed deliveries.
func (r *Runner) Backoff(attempts int) time.Duration {
	lo, hi := orDur(r.MinBackoff, time.Second), orDur(r.MaxBackoff, 5*time.Minute)
	d := lo
	for i := 1; i < attempts && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

type dueDoc struct {
	ID       bson.RawValue `bson:"_id"`
	Records  []Record      `bson:"outbox"`
	Attempts int           `bson:"outbox_attempts"`
	ClaimBy  string        `bson:"outbox_claim_by"`
}

// Run claims up to Batch due documents, delivers their records and settles each: cleared where
// delivered (unless a newer write came meanwhile, whose records then stay due), retried later
// where not. It returns how many documents' records were delivered.
func (r *Runner) Run(ctx context.Context) (int, error) {
	due, token, err := r.claim(ctx)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	errs := r.Deliver(ctx, due)
	n := 0
	var firstErr error
	var delivered []Due
	for i, d := range due {
		var derr error
		if errs != nil {
			derr = errs[i]
		}
		if derr == nil {
			n++
			delivered = append(delivered, d)
			continue
		}
		if err := r.fail(ctx, d, derr); err != nil && firstErr == nil {
			firstErr = err
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("deliver outbox of %s %v: %w", r.Coll.Name(), d.ID, derr)
		}
	}
	if err := r.settleAll(ctx, delivered, token); err != nil && firstErr == nil {
		firstErr = err
	}
	return n, firstErr
}

// settleAll settles delivered documents: one of them as settle does; several with one
// UpdateMany that clears those not written since (each guarded by its version) and one that
// releases the claims left on the others, whose newer records stay due. On FerretDB, where only
// a filter on _id alone is a point read, two statements per round instead of two per document.
func (r *Runner) settleAll(ctx context.Context, ds []Due, token string) error {
	switch len(ds) {
	case 0:
		return nil
	case 1:
		return r.settle(ctx, ds[0])
	}
	// One clause per version read ($in of the ids at it): documents written once share one.
	byVersion := map[int64]bson.A{}
	var versions []int64
	ids := make(bson.A, len(ds))
	for i, d := range ds {
		if _, ok := byVersion[d.Version]; !ok {
			versions = append(versions, d.Version)
		}
		byVersion[d.Version] = append(byVersion[d.Version], d.ID)
		ids[i] = d.ID
	}
	or := make(bson.A, len(versions))
	for i, v := range versions {
		or[i] = bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: byVersion[v]}}}, {Key: r.VersionField, Value: v}}
	}
	filter := bson.D{{Key: "$or", Value: or}}
	if len(or) == 1 {
		filter = or[0].(bson.D)
	}
	if _, err := r.Coll.UpdateMany(ctx, filter, r.settled()); err != nil {
		return fmt.Errorf("clear outbox of %d documents of %s: %w", len(ds), r.Coll.Name(), err)
	}
	if _, err := r.Coll.UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: FieldClaimBy, Value: token}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: FieldClaim, Value: ""}, {Key: FieldClaimBy, Value: ""}}}}); err != nil {
		return fmt.Errorf("release outbox of %s: %w", r.Coll.Name(), err)
	}
	return nil
}

// claim takes the due documents nobody holds: one UpdateMany sets this round's token on those
// still free, one Find reads back what it got.
func (r *Runner) claim(ctx context.Context) ([]Due, string, error) {
	now := r.now()
	free := bson.D{{Key: FieldDue, Value: bson.D{{Key: "$lte", Value: now}}},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: FieldClaim, Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: FieldClaim, Value: bson.D{{Key: "$lt", Value: now}}}},
		}}}
	batch := r.Batch
	if batch <= 0 {
		batch = 200
	}
	cur, err := r.Coll.Find(ctx, free, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(batch)))
	if err != nil {
		return nil, "", fmt.Errorf("find due outbox of %s: %w", r.Coll.Name(), err)
	}
	var ids []struct {
		ID bson.RawValue `bson:"_id"`
	}
	if err := cur.All(ctx, &ids); err != nil {
		return nil, "", fmt.Errorf("read due outbox of %s: %w", r.Coll.Name(), err)
	}
	if len(ids) == 0 {
		return nil, "", nil
	}
	in := make(bson.A, len(ids))
	for i, d := range ids {
		in[i] = d.ID
	}
	token := NewID()
	claim := append(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: in}}}}, free...)
	if _, err := r.Coll.UpdateMany(ctx, claim, bson.D{{Key: "$set", Value: bson.D{
		{Key: FieldClaim, Value: now.Add(orDur(r.Lease, time.Minute))}, {Key: FieldClaimBy, Value: token}}}}); err != nil {
		return nil, "", fmt.Errorf("claim outbox of %s: %w", r.Coll.Name(), err)
	}
	// Only documents still due: on FerretDB, whose conditional updates are not atomic, a claim
	// can land on a document another runner has just settled.
	cur, err = r.Coll.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: in}}}, {Key: FieldClaimBy, Value: token},
		{Key: FieldDue, Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil {
		return nil, "", fmt.Errorf("read claimed outbox of %s: %w", r.Coll.Name(), err)
	}
	defer cur.Close(ctx)
	var out []Due
	for cur.Next(ctx) {
		var d dueDoc
		if err := cur.Decode(&d); err != nil {
			return nil, "", fmt.Errorf("decode outbox of %s: %w", r.Coll.Name(), err)
		}
		v, err := version(cur.Current, r.VersionField)
		if err != nil {
			return nil, "", fmt.Errorf("outbox of %s %v: %w", r.Coll.Name(), d.ID, err)
		}
		out = append(out, Due{Collection: r.Coll.Name(), ID: d.ID, Version: v, Records: d.Records, Attempts: d.Attempts})
	}
	if err := cur.Err(); err != nil {
		return nil, "", fmt.Errorf("read claimed outbox of %s: %w", r.Coll.Name(), err)
	}
	if len(out) < len(ids) {
		// Release claims that landed on documents no longer due, so a later write's records are
		// not held up until the lease ends.
		if _, err := r.Coll.UpdateMany(ctx, bson.D{{Key: FieldClaimBy, Value: token}, {Key: FieldDue, Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: FieldClaim, Value: ""}, {Key: FieldClaimBy, Value: ""}}}}); err != nil {
			return nil, "", fmt.Errorf("release outbox claims of %s: %w", r.Coll.Name(), err)
		}
	}
	return out, token, nil
}

func version(doc bson.Raw, field string) (int64, error) {
	v, err := doc.LookupErr(field)
	if err != nil {
		return 0, fmt.Errorf("no version field %q", field)
	}
	switch v.Type {
	case bson.TypeInt64:
		return v.Int64(), nil
	case bson.TypeInt32:
		return int64(v.Int32()), nil
	case bson.TypeDouble:
		return int64(v.Double()), nil
	}
	return 0, fmt.Errorf("version field %q is a %s", field, v.Type)
}

// settle clears a delivered document's records if it was not written since; otherwise it only
// releases the claim, and the newer write's records (still due) go out next round.
func (r *Runner) settle(ctx context.Context, d Due) error {
	res, err := r.Coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: r.VersionField, Value: d.Version}}, r.settled())
	if err != nil {
		return fmt.Errorf("clear outbox of %s %v: %w", r.Coll.Name(), d.ID, err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	return r.release(ctx, d, bson.D{})
}

func (r *Runner) release(ctx context.Context, d Due, set bson.D) error {
	upd := bson.D{{Key: "$unset", Value: bson.D{{Key: FieldClaim, Value: ""}, {Key: FieldClaimBy, Value: ""}}}}
	if len(set) > 0 {
		upd = append(upd, bson.E{Key: "$set", Value: set})
	}
	if _, err := r.Coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, upd); err != nil {
		return fmt.Errorf("release outbox of %s %v: %w", r.Coll.Name(), d.ID, err)
	}
	return nil
}

// fail records a failed delivery: the document comes due again after the back-off, or, past
// MaxAttempts, its records move to outbox_dead.
func (r *Runner) fail(ctx context.Context, d Due, derr error) error {
	attempts := d.Attempts + 1
	msg := derr.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	if r.MaxAttempts > 0 && attempts >= r.MaxAttempts {
		dead := make([]Record, len(d.Records))
		copy(dead, d.Records)
		upd := cleared()
		upd = append(upd, bson.E{Key: "$push", Value: bson.D{{Key: FieldDead, Value: bson.D{{Key: "$each", Value: dead}}}}})
		res, err := r.Coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: r.VersionField, Value: d.Version}}, upd)
		if err != nil {
			return fmt.Errorf("dead-letter outbox of %s %v: %w", r.Coll.Name(), d.ID, err)
		}
		if res.MatchedCount == 1 {
			return nil
		}
		// Written since: its new records are due; try the lot again.
	}
	return r.release(ctx, d, bson.D{{Key: FieldAttempts, Value: attempts}, {Key: FieldError, Value: msg},
		{Key: FieldDue, Value: r.now().Add(r.Backoff(attempts))}})
}

// Dead returns up to limit documents' dead-lettered records, for an operator to look at.
func Dead(ctx context.Context, coll *mongo.Collection, limit int) (map[string][]Record, error) {
	cur, err := coll.Find(ctx, bson.D{{Key: FieldDead, Value: bson.D{{Key: "$exists", Value: true}}}},
		options.Find().SetProjection(bson.D{{Key: FieldDead, Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find dead outbox records of %s: %w", coll.Name(), err)
	}
	defer cur.Close(ctx)
	out := map[string][]Record{}
	for cur.Next(ctx) {
		var d struct {
			ID   bson.RawValue `bson:"_id"`
			Dead []Record      `bson:"outbox_dead"`
		}
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("decode dead outbox records of %s: %w", coll.Name(), err)
		}
		out[d.ID.String()] = d.Dead
	}
	return out, cur.Err()
}

// Pending lists up to limit documents with undelivered records, whoever holds them, without
// claiming them: for operators and tests.
func Pending(ctx context.Context, coll *mongo.Collection, versionField string, limit int) ([]Due, error) {
	cur, err := coll.Find(ctx, bson.D{{Key: FieldDue, Value: bson.D{{Key: "$exists", Value: true}}}}, options.Find().SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find pending outbox of %s: %w", coll.Name(), err)
	}
	defer cur.Close(ctx)
	var out []Due
	for cur.Next(ctx) {
		var d dueDoc
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("decode outbox of %s: %w", coll.Name(), err)
		}
		v, err := version(cur.Current, versionField)
		if err != nil {
			return nil, err
		}
		out = append(out, Due{Collection: coll.Name(), ID: d.ID, Version: v, Records: d.Records, Attempts: d.Attempts})
	}
	return out, cur.Err()
}

// Carry returns the outbox fields for a replacement of document id (a ReplaceOne guarded by
// the document's version) that adds records rs: the document's undelivered records are carried
// over, since a replacement would otherwise drop them. A runner that delivers them between this
// read and the replacement sees them written again and delivers them once more, which
// at-least-once delivery allows.
func Carry(ctx context.Context, coll *mongo.Collection, id any, now time.Time, rs ...Record) (Fields, error) {
	var d struct {
		Records []Record `bson:"outbox"`
	}
	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: FieldRecords, Value: 1}})).Decode(&d)
	if err != nil && err != mongo.ErrNoDocuments {
		return Fields{}, fmt.Errorf("read outbox of %s %v: %w", coll.Name(), id, err)
	}
	return New(now, append(d.Records, rs...)...), nil
}
