// Package noticestore keeps the notification service's records in MongoDB: webhook
// subscriptions, deliveries (each with an outbox record that the delivery runner sends), inbox
// entries and read marks; and runs the two outbox runners, the fan-out of the events
// collection and the sending of deliveries.
package noticestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/services/notify/internal/notice"
)

// Collections.
const (
	Subscriptions = "webhook_subscriptions"
	Deliveries    = "webhook_deliveries"
	Inbox         = "inbox"
	InboxReads    = "inbox_reads"
)

// Indexes are the store's indexes (the events collection's due query among them).
var Indexes = []mongodb.Index{
	{Collection: Subscriptions, Keys: bson.D{{Key: "org", Value: 1}, {Key: "created_at", Value: 1}}, Name: "org_created"},
	{Collection: Deliveries, Keys: bson.D{{Key: "subscription_id", Value: 1}, {Key: "_id", Value: -1}}, Name: "subscription_id"},
	{Collection: Deliveries, Keys: bson.D{{Key: outbox.FieldDue, Value: 1}}, Name: "outbox_due"},
	{Collection: Inbox, Keys: bson.D{{Key: "key", Value: 1}, {Key: "_id", Value: -1}}, Name: "key_id"},
	{Collection: InboxReads, Keys: bson.D{{Key: "person", Value: 1}}, Name: "person"},
	{Collection: events.Collection, Keys: bson.D{{Key: outbox.FieldDue, Value: 1}}, Name: "outbox_due"},
}

// Store is the MongoDB store of the notification service.
type Store struct {
	db                       *mongo.Database
	subs, dels, inbox, reads *mongo.Collection
	events                   *mongo.Collection
}

// New returns the store on db.
func New(db *mongo.Database) *Store {
	return &Store{db: db, subs: db.Collection(Subscriptions), dels: db.Collection(Deliveries), inbox: db.Collection(Inbox),
		reads: db.Collection(InboxReads), events: db.Collection(events.Collection)}
}

// EnsureIndexes declares the indexes.
func (s *Store) EnsureIndexes(ctx context.Context, policy mongodb.IndexPolicy) error {
	return mongodb.EnsureIndexes(ctx, s.db, Indexes, policy)
}

type subDoc struct {
	ID        string    `bson:"_id"`
	Org       string    `bson:"org"`
	URL       string    `bson:"url,omitempty"`
	Email     string    `bson:"email,omitempty"`
	Events    []string  `bson:"events"`
	Secret    string    `bson:"secret"`
	CreatedAt time.Time `bson:"created_at"`
	CreatedBy string    `bson:"created_by"`
}

func (d subDoc) sub() notice.Subscription {
	s := notice.Subscription{ID: d.ID, Org: d.Org, URL: d.URL, Email: d.Email, Secret: d.Secret, CreatedAt: d.CreatedAt.UTC(), CreatedBy: d.CreatedBy}
	for _, t := range d.Events {
		s.Events = append(s.Events, events.Type(t))
	}
	return s
}

// InsertSubscription implements notice.SubscriptionStore.
func (s *Store) InsertSubscription(ctx context.Context, sub notice.Subscription) error {
	d := subDoc{ID: sub.ID, Org: sub.Org, URL: sub.URL, Email: sub.Email, Secret: sub.Secret, CreatedAt: sub.CreatedAt.UTC(), CreatedBy: sub.CreatedBy}
	for _, t := range sub.Events {
		d.Events = append(d.Events, string(t))
	}
	if _, err := s.subs.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("insert webhook %s: %w", sub.ID, err)
	}
	return nil
}

func (s *Store) findSubs(ctx context.Context, filter bson.D) ([]notice.Subscription, error) {
	cur, err := s.subs.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("find webhooks: %w", err)
	}
	var docs []subDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read webhooks: %w", err)
	}
	out := make([]notice.Subscription, len(docs))
	for i, d := range docs {
		out[i] = d.sub()
	}
	return out, nil
}

// Subscriptions implements notice.SubscriptionStore.
func (s *Store) Subscriptions(ctx context.Context, org string) ([]notice.Subscription, error) {
	return s.findSubs(ctx, bson.D{{Key: "org", Value: org}})
}

// AllSubscriptions implements notice.SubscriptionStore.
func (s *Store) AllSubscriptions(ctx context.Context) ([]notice.Subscription, error) {
	return s.findSubs(ctx, bson.D{})
}

// GetSubscription implements notice.SubscriptionStore.
func (s *Store) GetSubscription(ctx context.Context, id string) (notice.Subscription, error) {
	d, err := mongodb.FindOne[subDoc](ctx, s.subs, bson.D{{Key: "_id", Value: id}}, notice.ErrNotFound)
	if err != nil {
		return notice.Subscription{}, err
	}
	return d.sub(), nil
}

// DeleteSubscription implements notice.SubscriptionStore.
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	if _, err := s.subs.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return nil
}

// topicSend is a delivery's one outbox record: send it.
const topicSend = "send"

type deliveryDoc struct {
	ID             string     `bson:"_id"`
	SubscriptionID string     `bson:"subscription_id"`
	Org            string     `bson:"org"`
	EventID        string     `bson:"event_id"`
	EventType      string     `bson:"event_type"`
	Body           []byte     `bson:"body"`
	CreatedAt      time.Time  `bson:"created_at"`
	LastStatus     int        `bson:"last_status,omitempty"`
	LastError      string     `bson:"last_error,omitempty"`
	Tries          int        `bson:"tries"`
	DeliveredAt    *time.Time `bson:"delivered_at,omitempty"`
	Version        int64      `bson:"version"`
	// The outbox: one "send" record while the delivery is due; outbox_dead once given up on.
	outbox.Fields `bson:",inline"`
	Attempts      int             `bson:"outbox_attempts,omitempty"`
	Dead          []outbox.Record `bson:"outbox_dead,omitempty"`
}

func (d deliveryDoc) delivery() notice.Delivery {
	out := notice.Delivery{ID: d.ID, SubscriptionID: d.SubscriptionID, Org: d.Org, EventID: d.EventID, EventType: events.Type(d.EventType),
		Body: d.Body, CreatedAt: d.CreatedAt.UTC(), Attempts: d.Tries, LastStatus: d.LastStatus, LastError: d.LastError, State: notice.Pending}
	switch {
	case d.DeliveredAt != nil:
		out.State, out.DeliveredAt, out.Attempts = notice.Delivered, d.DeliveredAt.UTC(), d.Tries+1
	case len(d.Dead) > 0:
		out.State = notice.Dead
	case d.Due != nil:
		out.NextAttempt = d.Due.UTC()
	}
	return out
}

func sendRecord(id string) outbox.Record {
	return outbox.Record{ID: topicSend + ":" + id, Topic: topicSend, Key: id}
}

// InsertDeliveries implements notice.DeliveryStore with one unordered batch.
func (s *Store) InsertDeliveries(ctx context.Context, ds []notice.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	docs := make([]any, len(ds))
	for i, d := range ds {
		docs[i] = deliveryDoc{ID: d.ID, SubscriptionID: d.SubscriptionID, Org: d.Org, EventID: d.EventID, EventType: string(d.EventType),
			Body: d.Body, CreatedAt: d.CreatedAt.UTC(), Version: 1, Fields: outbox.New(d.CreatedAt, sendRecord(d.ID))}
	}
	_, err := s.dels.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if _, err := mongodb.Duplicates(err); err != nil {
		return fmt.Errorf("insert %d deliveries: %w", len(ds), err)
	}
	return nil
}

func stateFilter(f bson.D, state notice.DeliveryState) bson.D {
	exists := func(k string, b bool) bson.E { return bson.E{Key: k, Value: bson.D{{Key: "$exists", Value: b}}} }
	switch state {
	case notice.Delivered:
		return append(f, exists("delivered_at", true))
	case notice.Dead:
		return append(f, exists(outbox.FieldDead, true), exists("delivered_at", false))
	case notice.Pending:
		return append(f, exists(outbox.FieldDue, true))
	}
	return f
}

// Deliveries implements notice.DeliveryStore (newest first: ids sort by creation only within
// an event, so the order is the creation time, then the id).
func (s *Store) Deliveries(ctx context.Context, subID string, state notice.DeliveryState, after string, limit int) ([]notice.Delivery, error) {
	f := stateFilter(bson.D{{Key: "subscription_id", Value: subID}}, state)
	if after != "" {
		f = append(f, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: after}}})
	}
	cur, err := s.dels.Find(ctx, f, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit)).
		SetProjection(bson.D{{Key: "body", Value: 0}}))
	if err != nil {
		return nil, fmt.Errorf("find deliveries of %s: %w", subID, err)
	}
	var docs []deliveryDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read deliveries of %s: %w", subID, err)
	}
	out := make([]notice.Delivery, len(docs))
	for i, d := range docs {
		out[i] = d.delivery()
	}
	return out, nil
}

// GetDelivery implements notice.DeliveryStore.
func (s *Store) GetDelivery(ctx context.Context, id string) (notice.Delivery, error) {
	d, err := mongodb.FindOne[deliveryDoc](ctx, s.dels, bson.D{{Key: "_id", Value: id}}, notice.ErrNotFound)
	if err != nil {
		return notice.Delivery{}, err
	}
	return d.delivery(), nil
}

// RecordFailure implements notice.DeliveryStore.
func (s *Store) RecordFailure(ctx context.Context, id string, status int, msg string) error {
	_, err := s.dels.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "last_status", Value: status}, {Key: "last_error", Value: msg}}}, {Key: "$inc", Value: bson.D{{Key: "tries", Value: 1}}}})
	if err != nil {
		return fmt.Errorf("record failure of delivery %s: %w", id, err)
	}
	return nil
}

// Replay implements notice.DeliveryStore: each delivery gets its send record back, due now,
// with its failure count reset (a fresh retry window) and its version moved.
func (s *Store) Replay(ctx context.Context, ids []string, now time.Time) (int, error) {
	n := 0
	for _, id := range ids {
		res, err := s.dels.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{
			{Key: "$set", Value: bson.D{{Key: outbox.FieldRecords, Value: bson.A{sendRecord(id)}}, {Key: outbox.FieldDue, Value: now.UTC()}}},
			{Key: "$unset", Value: bson.D{{Key: outbox.FieldDead, Value: ""}, {Key: outbox.FieldAttempts, Value: ""}, {Key: outbox.FieldError, Value: ""},
				{Key: outbox.FieldClaim, Value: ""}, {Key: outbox.FieldClaimBy, Value: ""}, {Key: "delivered_at", Value: ""}}},
			{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}}})
		if err != nil {
			return n, fmt.Errorf("replay delivery %s: %w", id, err)
		}
		n += int(res.MatchedCount)
	}
	return n, nil
}

// DeadIDs implements notice.DeliveryStore.
func (s *Store) DeadIDs(ctx context.Context, subID string, limit int) ([]string, error) {
	cur, err := s.dels.Find(ctx, stateFilter(bson.D{{Key: "subscription_id", Value: subID}}, notice.Dead),
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find dead letters of %s: %w", subID, err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read dead letters of %s: %w", subID, err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out, nil
}

// Retry is how deliveries are retried: back-off doubling from Min to Max, given up on (dead
// letter) once the waits add up to For.
type Retry struct {
	Min, Max, For time.Duration
}

// DeliveryRunner is the outbox runner that sends due deliveries with send.
func (s *Store) DeliveryRunner(send func(context.Context, []notice.Delivery) []error, r Retry) *outbox.Runner {
	// A delivery's success is recorded by the write that clears its send record (one statement
	// per round on FerretDB, where every write of a document costs milliseconds); its tries
	// are the failures recorded plus this one.
	run := &outbox.Runner{Coll: s.dels, VersionField: "version", Batch: 200, Lease: 5 * time.Minute, MinBackoff: r.Min, MaxBackoff: r.Max,
		OnSettle: func(now time.Time) bson.D { return bson.D{{Key: "delivered_at", Value: now.UTC()}} }}
	run.MaxAttempts = AttemptsFor(run, r.For)
	run.Deliver = func(ctx context.Context, due []outbox.Due) []error {
		ids := make(bson.A, len(due))
		for i, d := range due {
			ids[i] = d.ID
		}
		cur, err := s.dels.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		if err != nil {
			return outbox.ErrAll(len(due), fmt.Errorf("read due deliveries: %w", err))
		}
		var docs []deliveryDoc
		if err := cur.All(ctx, &docs); err != nil {
			return outbox.ErrAll(len(due), fmt.Errorf("read due deliveries: %w", err))
		}
		byID := make(map[string]deliveryDoc, len(docs))
		for _, d := range docs {
			byID[d.ID] = d
		}
		ds := make([]notice.Delivery, 0, len(due))
		at := make([]int, 0, len(due))
		errs := make([]error, len(due))
		for i, d := range due {
			doc, ok := byID[d.ID.(bson.RawValue).StringValue()]
			if !ok {
				continue
			}
			ds = append(ds, doc.delivery())
			at = append(at, i)
		}
		for j, err := range s.sendAll(ctx, send, ds) {
			errs[at[j]] = err
		}
		return errs
	}
	return run
}

func (s *Store) sendAll(ctx context.Context, send func(context.Context, []notice.Delivery) []error, ds []notice.Delivery) []error {
	if len(ds) == 0 {
		return nil
	}
	return send(ctx, ds)
}

// AttemptsFor is how many failed attempts r makes before the waits between them add up to d
// (at least 2).
func AttemptsFor(r *outbox.Runner, d time.Duration) int {
	n, total := 1, time.Duration(0)
	for total < d && n < 10000 {
		total += r.Backoff(n)
		n++
	}
	return max(n, 2)
}

// FanoutRunner is the outbox runner over the events collection that hands each stored event
// to fanout, once it is stored (at least once: fanout is idempotent).
func (s *Store) FanoutRunner(fanout func(context.Context, []events.Event) error) *outbox.Runner {
	return &outbox.Runner{Coll: s.events, VersionField: "version", Batch: 200, Deliver: func(ctx context.Context, due []outbox.Due) []error {
		ids := make(bson.A, 0, len(due))
		for _, d := range due {
			ids = append(ids, d.ID)
		}
		cur, err := s.events.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		if err != nil {
			return outbox.ErrAll(len(due), fmt.Errorf("read events: %w", err))
		}
		var docs []events.Doc
		if err := cur.All(ctx, &docs); err != nil {
			return outbox.ErrAll(len(due), fmt.Errorf("read events: %w", err))
		}
		evs := make([]events.Event, len(docs))
		for i, d := range docs {
			evs[i] = d.Event()
		}
		return outbox.ErrAll(len(due), fanout(ctx, evs))
	}}
}

type inboxDoc struct {
	ID    string    `bson:"_id"` // <key>|<event id>
	Key   string    `bson:"key"`
	Event string    `bson:"event_id"`
	Time  time.Time `bson:"time"`
}

// InsertInbox implements notice.InboxStore with one unordered batch: one entry per key and
// event, its id the key and the event's, so a second fan-out adds nothing. The entry points
// at the stored event.
func (s *Store) InsertInbox(ctx context.Context, es []notice.InboxEntry) error {
	if len(es) == 0 {
		return nil
	}
	docs := make([]any, len(es))
	for i, e := range es {
		docs[i] = inboxDoc{ID: e.Key + "|" + e.Event.ID, Key: e.Key, Event: e.Event.ID, Time: e.Event.Time.UTC()}
	}
	_, err := s.inbox.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if _, err := mongodb.Duplicates(err); err != nil {
		return fmt.Errorf("insert %d inbox entries: %w", len(es), err)
	}
	return nil
}

// Inbox implements notice.InboxStore: newest event first (by time, then entry id); the cursor
// is "<time in ms>|<entry id>".
func (s *Store) Inbox(ctx context.Context, keys []string, after string, limit int) ([]events.Event, []string, error) {
	f := bson.D{{Key: "key", Value: bson.D{{Key: "$in", Value: keys}}}}
	if after != "" {
		var ms int64
		var id string
		if _, err := fmt.Sscanf(after, "%d|", &ms); err != nil {
			return nil, nil, errors.New("bad inbox cursor")
		}
		if i := len(fmt.Sprint(ms)) + 1; i < len(after) {
			id = after[i:]
		}
		t := time.UnixMilli(ms).UTC()
		f = append(f, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "time", Value: bson.D{{Key: "$lt", Value: t}}}},
			bson.D{{Key: "time", Value: t}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: id}}}}}})
	}
	cur, err := s.inbox.Find(ctx, f, options.Find().SetSort(bson.D{{Key: "time", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, nil, fmt.Errorf("find inbox: %w", err)
	}
	var docs []inboxDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, nil, fmt.Errorf("read inbox: %w", err)
	}
	ids := make(bson.A, len(docs))
	for i, d := range docs {
		ids[i] = d.Event
	}
	byID := map[string]events.Event{}
	if len(docs) > 0 {
		cur, err := s.events.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		if err != nil {
			return nil, nil, fmt.Errorf("find inbox events: %w", err)
		}
		var evs []events.Doc
		if err := cur.All(ctx, &evs); err != nil {
			return nil, nil, fmt.Errorf("read inbox events: %w", err)
		}
		for _, e := range evs {
			byID[e.ID] = e.Event()
		}
	}
	var out []events.Event
	var cursors []string
	for _, d := range docs {
		if e, ok := byID[d.Event]; ok {
			out = append(out, e)
			cursors = append(cursors, fmt.Sprintf("%d|%s", d.Time.UnixMilli(), d.ID))
		}
	}
	return out, cursors, nil
}

// CountInbox implements notice.InboxStore.
func (s *Store) CountInbox(ctx context.Context, keys []string) (int64, error) {
	n, err := s.inbox.CountDocuments(ctx, bson.D{{Key: "key", Value: bson.D{{Key: "$in", Value: keys}}}})
	if err != nil {
		return 0, fmt.Errorf("count inbox: %w", err)
	}
	return n, nil
}

type readDoc struct {
	ID     string    `bson:"_id"` // <person>|<event id>
	Person string    `bson:"person"`
	Event  string    `bson:"event_id"`
	At     time.Time `bson:"at"`
}

// ReadOf implements notice.InboxStore.
func (s *Store) ReadOf(ctx context.Context, person string, eventIDs []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(eventIDs) == 0 {
		return out, nil
	}
	ids := make(bson.A, len(eventIDs))
	for i, e := range eventIDs {
		ids[i] = person + "|" + e
	}
	cur, err := s.reads.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return nil, fmt.Errorf("find read marks: %w", err)
	}
	var docs []readDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read read marks: %w", err)
	}
	for _, d := range docs {
		out[d.Event] = true
	}
	return out, nil
}

// CountRead implements notice.InboxStore.
func (s *Store) CountRead(ctx context.Context, person string) (int64, error) {
	n, err := s.reads.CountDocuments(ctx, bson.D{{Key: "person", Value: person}})
	if err != nil {
		return 0, fmt.Errorf("count read marks: %w", err)
	}
	return n, nil
}

// MarkRead implements notice.InboxStore: only events in the inbox of the keys get a mark, so
// the unread count (entries less marks) stays right.
func (s *Store) MarkRead(ctx context.Context, person string, keys, eventIDs []string, at time.Time) error {
	ids := make(bson.A, len(eventIDs))
	for i, e := range eventIDs {
		ids[i] = e
	}
	known, err := s.inbox.Distinct(ctx, "event_id", bson.D{{Key: "key", Value: bson.D{{Key: "$in", Value: keys}}},
		{Key: "event_id", Value: bson.D{{Key: "$in", Value: ids}}}}).Raw()
	if err != nil {
		return fmt.Errorf("find events to mark read: %w", err)
	}
	vals, err := known.Values()
	if err != nil {
		return fmt.Errorf("find events to mark read: %w", err)
	}
	var docs []any
	for _, v := range vals {
		e := v.StringValue()
		docs = append(docs, readDoc{ID: person + "|" + e, Person: person, Event: e, At: at.UTC()})
	}
	if len(docs) == 0 {
		return nil
	}
	_, err = s.reads.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if _, err := mongodb.Duplicates(err); err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	return nil
}
