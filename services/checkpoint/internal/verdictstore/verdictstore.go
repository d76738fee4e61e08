// Package verdictstore keeps the checkpoint's heavy-pollution alerts and its lookup audit trail
// in MongoDB. Lookups are written by a background writer, a batch per document (every 100 ms or
// 500 lookups): at thousands of lookups a second the audit trail costs a few writes a second, not
// one per lookup. The lookup path only queues, and waits only when the queue is full: no entry
// is ever dropped.
package verdictstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/klauspost/compress/s2"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/services/checkpoint/internal/verdict"
)

// Collections.
const (
	Alerts  = "alerts"
	Lookups = "checkpoint_lookups"
)

// Indexes are the store's indexes.
var Indexes = []mongodb.Index{
	{Collection: Alerts, Keys: bson.D{{Key: "starts_at", Value: -1}}, Name: "starts_at"},
	{Collection: Alerts, Keys: bson.D{{Key: outbox.FieldDue, Value: 1}}, Name: outbox.FieldDue},
	{Collection: Lookups, Keys: bson.D{{Key: "officers", Value: 1}, {Key: "last", Value: -1}}, Name: "officers_last"},
	{Collection: Lookups, Keys: bson.D{{Key: "plates", Value: 1}, {Key: "last", Value: -1}}, Name: "plates_last"},
}

// ErrAlertNotFound: no such alert.
var ErrAlertNotFound = fmt.Errorf("alert %w", apperr.ErrNotFound)

// Store implements verdict.AlertStore and verdict.LookupLog.
type Store struct {
	db    *mongo.Database
	queue chan lookupDoc
	log   *slog.Logger
}

// New returns a store whose lookup queue holds up to queue entries.
func New(db *mongo.Database, queue int, log *slog.Logger) *Store {
	if queue <= 0 {
		queue = 10000
	}
	return &Store{db: db, queue: make(chan lookupDoc, queue), log: log}
}

// EnsureIndexes creates the indexes.
func (s *Store) EnsureIndexes(ctx context.Context, policy mongodb.IndexPolicy) error {
	return mongodb.EnsureIndexes(ctx, s.db, Indexes, policy)
}

type restrictionDoc struct {
	Class       string `bson:"class"`
	MaxStandard string `bson:"max_standard,omitempty"`
	Zone        string `bson:"zone,omitempty"` // GeoJSON text: FerretDB cannot store nested arrays
	ZoneName    string `bson:"zone_name,omitempty"`
	Hours       string `bson:"hours,omitempty"` // "HH:MM-HH:MM"
}

type alertDoc struct {
	ID           string           `bson:"_id"`
	Level        string           `bson:"level"`
	StartsAt     time.Time        `bson:"starts_at"`
	EndsAt       time.Time        `bson:"ends_at"`
	Reason       string           `bson:"reason,omitempty"`
	Restrictions []restrictionDoc `bson:"restrictions"`
	CreatedBy    string           `bson:"created_by"`
	CreatedAt    time.Time        `bson:"created_at"`
	EndedAt      *time.Time       `bson:"ended_at,omitempty"`
	EndedBy      string           `bson:"ended_by,omitempty"`
	// Version moves with every write; the outbox holds the alert's events (libs/events).
	Version       int64 `bson:"version"`
	outbox.Fields `bson:",inline"`
}

// InsertAlert implements verdict.AlertStore.
func (s *Store) InsertAlert(ctx context.Context, a verdict.Alert, evs ...events.Draft) error {
	rs, err := events.Records(evs...)
	if err != nil {
		return err
	}
	d := alertDoc{ID: a.ID, Level: string(a.Level), StartsAt: a.StartsAt.UTC(), EndsAt: a.EndsAt.UTC(), Reason: a.Reason,
		CreatedBy: a.CreatedBy, CreatedAt: a.CreatedAt.UTC(), Restrictions: []restrictionDoc{}, Version: 1, Fields: outbox.New(a.CreatedAt, rs...)}
	for _, r := range a.Restrictions {
		rd := restrictionDoc{Class: string(r.Class), MaxStandard: r.MaxStandard, ZoneName: r.ZoneName}
		if r.Zone != nil {
			b, err := json.Marshal(r.Zone)
			if err != nil {
				return err
			}
			rd.Zone = string(b)
		}
		if r.Hours != nil {
			rd.Hours = r.Hours.String()
		}
		d.Restrictions = append(d.Restrictions, rd)
	}
	if _, err := s.db.Collection(Alerts).InsertOne(ctx, d); err != nil {
		if mongodb.IsDuplicateKey(err) {
			return fmt.Errorf("an alert with id %s exists: %w", a.ID, apperr.ErrConflict)
		}
		return fmt.Errorf("insert alert: %w", err)
	}
	return nil
}

func fromAlertDoc(d alertDoc) (verdict.Alert, error) {
	a := verdict.Alert{ID: d.ID, Level: verdict.Level(d.Level), StartsAt: d.StartsAt.UTC(), EndsAt: d.EndsAt.UTC(), Reason: d.Reason,
		CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt.UTC(), EndedBy: d.EndedBy}
	if d.EndedAt != nil {
		a.EndedAt = d.EndedAt.UTC()
	}
	for _, rd := range d.Restrictions {
		r := verdict.Restriction{Class: verdict.Class(rd.Class), MaxStandard: rd.MaxStandard, ZoneName: rd.ZoneName}
		if rd.Zone != "" {
			z, err := geo.Parse([]byte(rd.Zone))
			if err != nil {
				return a, fmt.Errorf("alert %s zone: %w", d.ID, err)
			}
			r.Zone = &z
		}
		if len(rd.Hours) == 11 {
			h, err := localtime.ParseHours(rd.Hours[:5], rd.Hours[6:])
			if err != nil {
				return a, fmt.Errorf("alert %s hours: %w", d.ID, err)
			}
			r.Hours = &h
		}
		a.Restrictions = append(a.Restrictions, r)
	}
	return a, nil
}

// Alerts implements verdict.AlertStore: alerts ending after since, newest first.
func (s *Store) Alerts(ctx context.Context, since time.Time, limit int) ([]verdict.Alert, error) {
	filter := bson.D{}
	if !since.IsZero() {
		filter = bson.D{{Key: "ends_at", Value: bson.D{{Key: "$gt", Value: since.UTC()}}}}
	}
	cur, err := s.db.Collection(Alerts).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "starts_at", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find alerts: %w", err)
	}
	var docs []alertDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	out := make([]verdict.Alert, 0, len(docs))
	for _, d := range docs {
		a, err := fromAlertDoc(d)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// EndAlert implements verdict.AlertStore.
func (s *Store) EndAlert(ctx context.Context, id string, at time.Time, by string, evs ...events.Draft) (verdict.Alert, error) {
	rs, err := events.Records(evs...)
	if err != nil {
		return verdict.Alert{}, err
	}
	var d alertDoc
	err = s.db.Collection(Alerts).FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "ended_at", Value: bson.D{{Key: "$exists", Value: false}}}},
		outbox.Append(bson.D{{Key: "$set", Value: bson.D{{Key: "ended_at", Value: at.UTC()}, {Key: "ended_by", Value: by}}},
			{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}}}, at, rs...),
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return verdict.Alert{}, fmt.Errorf("no alert %s in force: %w", id, ErrAlertNotFound)
	}
	if err != nil {
		return verdict.Alert{}, fmt.Errorf("end alert %s: %w", id, err)
	}
	return fromAlertDoc(d)
}

type lookupDoc struct {
	Officer string    `bson:"officer" json:"officer"`
	Role    string    `bson:"role" json:"role"`
	Plate   string    `bson:"plate" json:"plate"`
	Colour  string    `bson:"colour" json:"colour"`
	At      time.Time `bson:"at" json:"at"`
	Lon     *float64  `bson:"lon,omitempty" json:"lon,omitempty"`
	Lat     *float64  `bson:"lat,omitempty" json:"lat,omitempty"`
	Verdict string    `bson:"verdict" json:"verdict"`
	Reasons []string  `bson:"reasons" json:"reasons"`
}

// Record implements verdict.LookupLog: it queues the entry for the batch writer, waiting while
// the queue is full.
func (s *Store) Record(ctx context.Context, l verdict.Lookup) error {
	d := lookupDoc{Officer: l.Officer, Role: string(l.Role), Plate: l.Plate, Colour: l.Colour, At: l.At.UTC(), Verdict: string(l.Verdict), Reasons: l.Reasons}
	if l.Position != nil {
		d.Lon, d.Lat = &l.Position.Lon, &l.Position.Lat
	}
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	select {
	case s.queue <- d: // the usual case, without watching ctx
		return nil
	default:
	}
	t := time.NewTimer(MaxQueueWait)
	defer t.Stop()
	select {
	case s.queue <- d:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("the audit trail's queue stayed full for %v (is MongoDB answering?)", MaxQueueWait)
	}
}

// MaxQueueWait is how long Record waits for room in a full queue before it fails (and the
// lookup is refused with 503): the checkpoint's default deadline.
const MaxQueueWait = time.Second

// batchDoc is one flush of the audit trail: its lookups, and the officers and plates in it
// (indexed, so an officer's or a plate's lookups are found without reading every batch).
type batchDoc struct {
	ID       string    `bson:"_id"`
	First    time.Time `bson:"first"`
	Last     time.Time `bson:"last"`
	Officers []string  `bson:"officers"`
	Plates   []string  `bson:"plates"`
	// Packed holds the lookups as one JSON array (the fields of lookupDoc) compressed as Packing
	// says ("json+s2": an S2 block): a few kilobytes to store instead of hundreds of subdocuments,
	// which on FerretDB cost more to write than the lookups cost to answer. Batches written
	// before packing keep them in Entries.
	Packing string      `bson:"packing,omitempty"`
	Packed  []byte      `bson:"packed,omitempty"`
	Entries []lookupDoc `bson:"entries,omitempty"`
}

// entries returns the batch's lookups, packed or not.
func (b batchDoc) entries() ([]lookupDoc, error) {
	if len(b.Packed) == 0 {
		return b.Entries, nil
	}
	if b.Packing != packing {
		return nil, fmt.Errorf("lookup batch %s is packed as %q, which this version does not read", b.ID, b.Packing)
	}
	raw, err := s2.Decode(nil, b.Packed)
	if err != nil {
		return nil, fmt.Errorf("lookup batch %s: %w", b.ID, err)
	}
	var out []lookupDoc
	if err := gojson.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("lookup batch %s: %w", b.ID, err)
	}
	return out, nil
}

// packing is how batches are packed now.
const packing = "json+s2"

// pack encodes entries for batchDoc.Packed, each on its own: an entry that cannot be encoded
// (a value JSON cannot carry) is handed to skip and left out, so one bad record cannot take the
// batch with it, nor make the batch unreadable for every officer in it. It returns the entries
// kept, in order.
func pack(entries []lookupDoc, skip func(lookupDoc, error)) ([]byte, []lookupDoc) {
	raw := make([]byte, 0, 64+len(entries)*160)
	raw = append(raw, '[')
	kept := entries[:0:0]
	for _, e := range entries {
		b, err := gojson.Marshal(e)
		if err != nil {
			skip(e, err)
			continue
		}
		if len(kept) > 0 {
			raw = append(raw, ',')
		}
		raw = append(raw, b...)
		kept = append(kept, e)
	}
	raw = append(raw, ']')
	return s2.Encode(nil, raw), kept
}

// batchOf is the batch document of entries, without those pack skips; ok is false when no
// entry is left.
func batchOf(entries []lookupDoc, skip func(lookupDoc, error)) (b batchDoc, ok bool) {
	packed, kept := pack(entries, skip)
	if len(kept) == 0 {
		return batchDoc{}, false
	}
	b = batchDoc{ID: fmt.Sprintf("%d-%s-%d", kept[0].At.UnixNano(), kept[0].Officer, len(kept)), First: kept[0].At, Last: kept[0].At,
		Packing: packing, Packed: packed}
	seenO, seenP := map[string]bool{}, map[string]bool{}
	for _, e := range kept {
		if e.At.Before(b.First) {
			b.First = e.At
		}
		if e.At.After(b.Last) {
			b.Last = e.At
		}
		if !seenO[e.Officer] {
			seenO[e.Officer] = true
			b.Officers = append(b.Officers, e.Officer)
		}
		if !seenP[e.Plate] {
			seenP[e.Plate] = true
			b.Plates = append(b.Plates, e.Plate)
		}
	}
	return b, true
}

// skipped logs a lookup that cannot be stored with what is known of it (the audit trail loses
// it, so the log keeps it).
func (s *Store) skipped(ctx context.Context) func(lookupDoc, error) {
	return func(e lookupDoc, err error) {
		s.log.ErrorContext(ctx, "checkpoint_lookup_not_recorded", "officer", e.Officer, "role", e.Role, "plate", e.Plate,
			"colour", e.Colour, "at", e.At, "verdict", e.Verdict, "reasons", e.Reasons, "error", err.Error())
	}
}

// Run writes queued lookups in batches until ctx ends, then writes what is left.
func (s *Store) Run(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var batch []lookupDoc
	flush := func(ctx context.Context) {
		if len(batch) == 0 {
			return
		}
		doc, ok := batchOf(batch, s.skipped(ctx))
		if !ok {
			batch = batch[:0]
			return
		}
		for len(batch) > 0 {
			// A retried batch keeps its id: a write that reached the server is not doubled.
			if _, err := s.db.Collection(Lookups).InsertOne(ctx, doc); err != nil && !mongodb.IsDuplicateKey(err) {
				s.log.WarnContext(ctx, "checkpoint_lookup_log_failed", "entries", len(batch), "error", err.Error())
				if ctx.Err() != nil {
					return
				}
				time.Sleep(time.Second)
				continue
			}
			batch = batch[:0]
		}
	}
	for {
		select {
		case d := <-s.queue:
			batch = append(batch, d)
			if len(batch) >= 500 {
				flush(ctx)
			}
		case <-t.C:
			flush(ctx)
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for {
				select {
				case d := <-s.queue:
					batch = append(batch, d)
					continue
				default:
				}
				break
			}
			flush(dctx)
			return
		}
	}
}

// Recent implements verdict.LookupLog: the officer's newest lookups, from the newest batches
// that hold any.
func (s *Store) Recent(ctx context.Context, officer string, limit int) ([]verdict.Lookup, error) {
	cur, err := s.db.Collection(Lookups).Find(ctx, bson.D{{Key: "officers", Value: bson.D{{Key: "$in", Value: bson.A{officer}}}}},
		options.Find().SetSort(bson.D{{Key: "last", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find lookups: %w", err)
	}
	var batches []batchDoc
	if err := cur.All(ctx, &batches); err != nil {
		return nil, fmt.Errorf("read lookups: %w", err)
	}
	var docs []lookupDoc
	for _, b := range batches {
		entries, err := b.entries()
		if err != nil {
			// A batch this version cannot read (one written by a version that packed an
			// unencodable lookup as nothing) is logged and passed over: it must not make every
			// officer's trail unreadable for good.
			s.log.ErrorContext(ctx, "checkpoint_lookup_batch_unreadable", "batch", b.ID, "error", err.Error())
			continue
		}
		for _, e := range entries {
			if e.Officer == officer {
				docs = append(docs, e)
			}
		}
	}
	slices.SortStableFunc(docs, func(a, b lookupDoc) int { return b.At.Compare(a.At) })
	if len(docs) > limit {
		docs = docs[:limit]
	}
	out := make([]verdict.Lookup, 0, len(docs))
	for _, d := range docs {
		l := verdict.Lookup{Officer: d.Officer, Role: auth.Role(d.Role), Plate: d.Plate, Colour: d.Colour, At: d.At.UTC(), Verdict: verdict.Verdict(d.Verdict), Reasons: d.Reasons}
		if d.Lon != nil && d.Lat != nil {
			l.Position = &geo.Point{Lon: *d.Lon, Lat: *d.Lat}
		}
		out = append(out, l)
	}
	return out, nil
}

// EventsRunner delivers the alerts' events (libs/events) from their outbox.
func (s *Store) EventsRunner(sink *events.Sink) *outbox.Runner {
	return sink.Runner(s.db.Collection(Alerts), "version")
}
