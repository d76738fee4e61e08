package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/outbox"
)

// Collection is the insert-only collection of every event, written by the owners' outbox
// runners (Sink) and read by the notification service.
const Collection = "events"

// TopicFanout is the outbox record every stored event carries until the notification service
// has fanned it out (to webhook deliveries, inboxes and e-mail).
const TopicFanout = "fanout"

// Doc is an event as stored in the events collection: _id is the event id, so a second
// delivery of the same outbox record is a duplicate key, which the Sink takes as success. The
// document's own outbox (one TopicFanout record) is the notification service's work to do.
type Doc struct {
	ID            string         `bson:"_id"`
	Type          string         `bson:"type"`
	Time          time.Time      `bson:"time"`
	Organisations []string       `bson:"organisations"`
	Roles         []string       `bson:"roles,omitempty"`
	Subject       string         `bson:"subject"`
	Link          string         `bson:"link"`
	Data          map[string]any `bson:"data,omitempty"`
	// Source is the collection whose outbox carried the event.
	Source        string    `bson:"source"`
	StoredAt      time.Time `bson:"stored_at"`
	Version       int64     `bson:"version"`
	outbox.Fields `bson:",inline"`
}

// ToDoc is the stored form of e.
func ToDoc(e Event, source string, now time.Time) Doc {
	d := Doc{ID: e.ID, Type: string(e.Type), Time: e.Time.UTC(), Organisations: e.Organisations, Subject: e.Subject, Link: e.Link,
		Data: e.Data, Source: source, StoredAt: now.UTC(), Version: 1,
		Fields: outbox.New(now, outbox.Record{ID: TopicFanout + ":" + e.ID, Topic: TopicFanout, Key: e.ID})}
	for _, r := range e.Roles {
		d.Roles = append(d.Roles, string(r))
	}
	return d
}

// Event is the event a stored document holds.
func (d Doc) Event() Event {
	e := Event{ID: d.ID, Type: Type(d.Type), Time: d.Time, Organisations: d.Organisations, Subject: d.Subject, Link: d.Link, Data: d.Data}
	if e.Organisations == nil {
		e.Organisations = []string{}
	}
	for _, r := range d.Roles {
		e.Roles = append(e.Roles, auth.Role(r))
	}
	return e
}

// Sink stores the event records the outbox runners deliver into the events collection.
type Sink struct {
	coll *mongo.Collection
	now  func() time.Time
}

// NewSink returns the sink on db's events collection.
func NewSink(db *mongo.Database) *Sink {
	return &Sink{coll: db.Collection(Collection), now: time.Now}
}

// Put stores the event records among rs (part records are skipped), from the outbox of
// collection source. An event already stored (the same record delivered again) is no error.
func (s *Sink) Put(ctx context.Context, source string, rs []outbox.Record) error {
	var docs []any
	now := s.now()
	for _, r := range rs {
		if !IsEvent(r) {
			continue
		}
		e, err := FromRecord(r)
		if err != nil {
			return err
		}
		docs = append(docs, ToDoc(e, source, now))
	}
	if len(docs) == 0 {
		return nil
	}
	_, err := s.coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err != nil && !onlyDuplicates(err) {
		return fmt.Errorf("store %d events: %w", len(docs), err)
	}
	return nil
}

func onlyDuplicates(err error) bool {
	var bw mongo.BulkWriteException
	if errors.As(err, &bw) {
		if bw.WriteConcernError != nil {
			return false
		}
		for _, we := range bw.WriteErrors {
			if we.Code != 11000 {
				return false
			}
		}
		return len(bw.WriteErrors) > 0
	}
	return mongo.IsDuplicateKeyError(err)
}

// Deliver is an outbox.Deliver that stores the due documents' event records; for a
// collection whose outbox carries events only.
func (s *Sink) Deliver(ctx context.Context, due []outbox.Due) []error {
	var errs []error
	for i, d := range due {
		if err := s.Put(ctx, d.Collection, d.Records); err != nil {
			if errs == nil {
				errs = make([]error, len(due))
			}
			errs[i] = err
		}
	}
	return errs
}

// Runner is the outbox runner that delivers the events of collection coll (whose documents
// move versionField with every write that appends records) into the sink.
func (s *Sink) Runner(coll *mongo.Collection, versionField string) *outbox.Runner {
	return &outbox.Runner{Coll: coll, VersionField: versionField, Deliver: s.Deliver, Batch: 200}
}

// Runners runs each runner once, as one platform.Job: it returns how many documents' events
// were stored.
func Runners(rs ...*outbox.Runner) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		n := 0
		var errs []error
		for _, r := range rs {
			k, err := r.Run(ctx)
			n += k
			errs = append(errs, err)
		}
		return n, errors.Join(errs...)
	}
}

// Get reads one stored event (tests, replays).
func Get(ctx context.Context, db *mongo.Database, id string) (Event, error) {
	var d Doc
	if err := db.Collection(Collection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return Event{}, fmt.Errorf("read event %s: %w", id, err)
	}
	return d.Event(), nil
}

// Every is how often an owner's runners store the events its writes left in their outboxes:
// the delay between a change and its event, at most (events are never delivered inline).
const Every = 2 * time.Second
