// Package monitorstore keeps the OBD service's telemetry frames, alarms, truck records and
// thresholds in MongoDB. Frames are stored one document per received frame (about ten 1 Hz
// samples), holding the frame in the national binary format: small documents, written in
// unordered batches, whose duplicate-key errors mark reissues and re-sent uploads.
package monitorstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/cursor"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/services/obd/internal/detect"
	"github.com/clearsky/clearsky/services/obd/internal/monitor"
	"github.com/clearsky/clearsky/services/obd/internal/protocol"
)

// Collections.
const (
	Frames   = "obd_frames"
	Alarms   = "obd_alarms"
	Trucks   = "obd_trucks"
	Settings = "obd_settings"
)

// maxFrameSpan bounds how long before a query's start a frame may begin and still hold samples
// in the range: GB frames span 10 s; HJ items carry their own times.
const maxFrameSpan = 5 * time.Minute

// Indexes are the indexes the store needs.
var Indexes = []mongodb.Index{
	{Collection: Frames, Keys: bson.D{{Key: "vin", Value: 1}, {Key: "from", Value: 1}}, Name: "vin_from"},
	{Collection: Frames, Keys: bson.D{{Key: "received", Value: 1}}, Name: "received"},
	{Collection: Alarms, Keys: bson.D{{Key: "vin", Value: 1}, {Key: "open", Value: 1}, {Key: "opened_at", Value: -1}}, Name: "vin_open_opened"},
	{Collection: Alarms, Keys: bson.D{{Key: "open", Value: 1}, {Key: "kind", Value: 1}}, Name: "open_kind"},
	// The district's list (ListAlarms), newest first, open or all.
	{Collection: Alarms, Keys: bson.D{{Key: "open", Value: 1}, {Key: "opened_at", Value: -1}, {Key: "_id", Value: -1}}, Name: "open_opened"},
	{Collection: Alarms, Keys: bson.D{{Key: "opened_at", Value: -1}, {Key: "_id", Value: -1}}, Name: "opened"},
	// The events runner's due query (libs/events).
	{Collection: Alarms, Keys: bson.D{{Key: outbox.FieldDue, Value: 1}}, Name: outbox.FieldDue},
}

// Store is the MongoDB implementation of monitor.Store.
type Store struct {
	db     *mongo.Database
	frames *mongo.Collection
	alarms *mongo.Collection
}

// New returns a store on db.
func New(db *mongo.Database) *Store {
	return &Store{db: db, frames: db.Collection(Frames), alarms: db.Collection(Alarms)}
}

// EnsureIndexes creates the store's indexes that policy keeps.
func (s *Store) EnsureIndexes(ctx context.Context, policy mongodb.IndexPolicy) error {
	return mongodb.EnsureIndexes(ctx, s.db, Indexes, policy)
}

type frameDoc struct {
	ID       string    `bson:"_id"`
	VIN      string    `bson:"vin"`
	Source   string    `bson:"source"`
	Command  int       `bson:"cmd"`
	From     time.Time `bson:"from"`
	To       time.Time `bson:"to"`
	Samples  int       `bson:"n"`
	Received time.Time `bson:"received"`
	Raw      []byte    `bson:"raw"`
	// Layout is the protocol layout of Raw (0, GB 17691, when absent).
	Layout int `bson:"layout,omitempty"`
	// Signed: its HJ 1239 signature verified at the gateway.
	Signed bool `bson:"signed,omitempty"`
}

// InsertFrames implements monitor.Store.
func (s *Store) InsertFrames(ctx context.Context, fs []monitor.Frame) ([]monitor.WriteResult, error) {
	docs := make([]any, len(fs))
	for i, f := range fs {
		docs[i] = frameDoc{ID: f.ID, VIN: f.VIN, Source: f.Source, Command: int(f.Command), From: f.From.UTC(), To: f.To.UTC(),
			Samples: f.Samples, Received: f.Received.UTC(), Raw: f.Raw, Layout: int(f.Layout), Signed: f.Signed}
	}
	res := make([]monitor.WriteResult, len(fs))
	_, err := s.frames.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		for i := range res {
			res[i] = monitor.Inserted
		}
		return res, nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		return res, fmt.Errorf("insert %d frames: %w", len(fs), err)
	}
	for i := range res {
		res[i] = monitor.Inserted
	}
	failed := 0
	for _, we := range bwe.WriteErrors {
		if we.Index < 0 || we.Index >= len(res) {
			continue
		}
		if mongo.IsDuplicateKeyError(we.WriteError) {
			res[we.Index] = monitor.Duplicate
		} else {
			res[we.Index] = monitor.Failed
			failed++
		}
	}
	if failed > 0 {
		return res, fmt.Errorf("insert frames: %d of %d failed: %w", failed, len(fs), err)
	}
	return res, nil
}

func fromFrameDoc(d frameDoc) monitor.Frame {
	return monitor.Frame{ID: d.ID, VIN: d.VIN, Source: d.Source, Command: protocol.Command(d.Command), From: d.From.UTC(), To: d.To.UTC(),
		Samples: d.Samples, Received: d.Received.UTC(), Raw: d.Raw, Layout: protocol.Layout(d.Layout), Signed: d.Signed}
}

// Frames implements monitor.Store.
func (s *Store) Frames(ctx context.Context, vin string, from, to time.Time, limit int) ([]monitor.Frame, error) {
	filter := bson.D{{Key: "vin", Value: vin}, {Key: "from", Value: bson.D{{Key: "$gte", Value: from.Add(-maxFrameSpan).UTC()}, {Key: "$lte", Value: to.UTC()}}}}
	cur, err := s.frames.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "from", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find frames of %s: %w", vin, err)
	}
	var docs []frameDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read frames of %s: %w", vin, err)
	}
	out := make([]monitor.Frame, 0, len(docs))
	for _, d := range docs {
		if d.To.Before(from) {
			continue
		}
		out = append(out, fromFrameDoc(d))
	}
	return out, nil
}

// LastFrame implements monitor.Store.
func (s *Store) LastFrame(ctx context.Context, vin string) (monitor.Frame, bool, error) {
	var d frameDoc
	err := s.frames.FindOne(ctx, bson.D{{Key: "vin", Value: vin}}, options.FindOne().SetSort(bson.D{{Key: "from", Value: -1}})).Decode(&d)
	if mongodb.IsNotFound(err) {
		return monitor.Frame{}, false, nil
	}
	if err != nil {
		return monitor.Frame{}, false, fmt.Errorf("last frame of %s: %w", vin, err)
	}
	return fromFrameDoc(d), true, nil
}

// DeleteFramesBefore implements monitor.Store.
func (s *Store) DeleteFramesBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.frames.DeleteMany(ctx, bson.D{{Key: "received", Value: bson.D{{Key: "$lt", Value: t.UTC()}}}})
	if err != nil {
		return 0, fmt.Errorf("delete old frames: %w", err)
	}
	return res.DeletedCount, nil
}

type alarmDoc struct {
	ID          string     `bson:"_id"`
	VIN         string     `bson:"vin"`
	Plate       string     `bson:"plate,omitempty"`
	Kind        string     `bson:"kind"`
	Open        bool       `bson:"open"`
	OpenedAt    time.Time  `bson:"opened_at"`
	ClosedAt    *time.Time `bson:"closed_at,omitempty"`
	ClosedBy    string     `bson:"closed_by,omitempty"`
	CloseReason string     `bson:"close_reason,omitempty"`
	Message     string     `bson:"message"`
	// Evidence is detect.Evidence as JSON: its optional numbers keep "not available" exactly.
	Evidence string `bson:"evidence"`
	// Unsigned: the alarm rests only on telemetry no signature proves.
	Unsigned bool   `bson:"unsigned,omitempty"`
	FleetID  string `bson:"fleet_id,omitempty"`
	// Version moves with every write; the outbox holds the events of the writes (libs/events).
	Version       int64 `bson:"version,omitempty"`
	outbox.Fields `bson:",inline"`
}

func toAlarmDoc(a monitor.Alarm) (alarmDoc, error) {
	ev, err := json.Marshal(a.Evidence)
	if err != nil {
		return alarmDoc{}, fmt.Errorf("encode evidence: %w", err)
	}
	d := alarmDoc{ID: a.ID, VIN: a.VIN, Plate: a.Plate, Kind: string(a.Kind), Open: a.IsOpen(), OpenedAt: a.OpenedAt.UTC(),
		ClosedBy: a.ClosedBy, CloseReason: a.CloseReason, Message: a.Message, Evidence: string(ev), Unsigned: a.Unsigned, FleetID: a.FleetID}
	if !a.ClosedAt.IsZero() {
		t := a.ClosedAt.UTC()
		d.ClosedAt = &t
	}
	return d, nil
}

// InsertAlarm implements monitor.Store; inserting an alarm that exists is not an error (its
// events were written with the first insert).
func (s *Store) InsertAlarm(ctx context.Context, a monitor.Alarm, evs ...events.Draft) error {
	d, err := toAlarmDoc(a)
	if err != nil {
		return err
	}
	rs, err := events.Records(evs...)
	if err != nil {
		return err
	}
	d.Version, d.Fields = 1, outbox.New(time.Now(), rs...)
	if _, err := s.alarms.InsertOne(ctx, d); err != nil && !mongodb.IsDuplicateKey(err) {
		return fmt.Errorf("insert alarm %s: %w", a.ID, err)
	}
	return nil
}

// UpdateAlarm implements monitor.Store (an upsert by id): the alarm's fields, its version and
// the outbox records of its events in one write.
func (s *Store) UpdateAlarm(ctx context.Context, a monitor.Alarm, evs ...events.Draft) error {
	d, err := toAlarmDoc(a)
	if err != nil {
		return err
	}
	rs, err := events.Records(evs...)
	if err != nil {
		return err
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode alarm %s: %w", a.ID, err)
	}
	var set bson.D
	if err := bson.Unmarshal(raw, &set); err != nil {
		return fmt.Errorf("encode alarm %s: %w", a.ID, err)
	}
	set = slices.DeleteFunc(set, func(e bson.E) bool { return e.Key == "_id" })
	unset := bson.D{}
	for _, f := range []string{"closed_at", "closed_by", "close_reason", "plate", "fleet_id", "unsigned"} {
		if !slices.ContainsFunc(set, func(e bson.E) bool { return e.Key == f }) {
			unset = append(unset, bson.E{Key: f, Value: ""})
		}
	}
	upd := bson.D{{Key: "$set", Value: set}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}}
	if len(unset) > 0 {
		upd = append(upd, bson.E{Key: "$unset", Value: unset})
	}
	upd = outbox.Append(upd, time.Now(), rs...)
	if _, err := s.alarms.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, upd, options.UpdateOne().SetUpsert(true)); err != nil {
		return fmt.Errorf("update alarm %s: %w", a.ID, err)
	}
	return nil
}

// EventsRunner delivers the alarms' events (libs/events) from their outbox.
func (s *Store) EventsRunner(sink *events.Sink) *outbox.Runner {
	return sink.Runner(s.alarms, "version")
}

// Alarms implements monitor.Store.
func (s *Store) Alarms(ctx context.Context, vin string, openOnly bool, limit int) ([]monitor.Alarm, error) {
	filter := bson.D{{Key: "vin", Value: vin}}
	if openOnly {
		filter = append(filter, bson.E{Key: "open", Value: true})
	}
	cur, err := s.alarms.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "opened_at", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find alarms of %s: %w", vin, err)
	}
	return readAlarms(ctx, cur)
}

// ListAlarms implements monitor.Store.
func (s *Store) ListAlarms(ctx context.Context, f monitor.AlarmFilter, after cursor.Key, limit int) ([]monitor.Alarm, error) {
	filter := bson.D{}
	if f.OpenOnly {
		filter = append(filter, bson.E{Key: "open", Value: true})
	}
	if f.Kind != "" {
		filter = append(filter, bson.E{Key: "kind", Value: string(f.Kind)})
	}
	filter = mongodb.NewestFirst(filter, "opened_at", after)
	cur, err := s.alarms.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "opened_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list alarms: %w", err)
	}
	return readAlarms(ctx, cur)
}

func readAlarms(ctx context.Context, cur *mongo.Cursor) ([]monitor.Alarm, error) {
	var docs []alarmDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read alarms: %w", err)
	}
	out := make([]monitor.Alarm, 0, len(docs))
	for _, d := range docs {
		a := monitor.Alarm{ID: d.ID, VIN: d.VIN, Plate: d.Plate, Alarm: detect.Alarm{Kind: detect.Kind(d.Kind), OpenedAt: d.OpenedAt.UTC(),
			ClosedBy: d.ClosedBy, CloseReason: d.CloseReason, Message: d.Message, Unsigned: d.Unsigned}, FleetID: d.FleetID}
		if d.ClosedAt != nil {
			a.ClosedAt = d.ClosedAt.UTC()
		}
		if err := json.Unmarshal([]byte(d.Evidence), &a.Evidence); err != nil {
			return nil, fmt.Errorf("decode evidence of %s: %w", d.ID, err)
		}
		out = append(out, a)
	}
	return out, nil
}

type truckDoc struct {
	VIN       string    `bson:"_id"`
	Exemption string    `bson:"exemption"` // detect.Exemption as JSON
	SavedAt   time.Time `bson:"saved_at"`
}

// SaveTruck implements monitor.Store.
func (s *Store) SaveTruck(ctx context.Context, r monitor.TruckRecord) error {
	ex, err := json.Marshal(r.Exemption)
	if err != nil {
		return err
	}
	_, err = s.db.Collection(Trucks).ReplaceOne(ctx, bson.D{{Key: "_id", Value: r.VIN}},
		truckDoc{VIN: r.VIN, Exemption: string(ex), SavedAt: r.SavedAt.UTC()}, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("save truck %s: %w", r.VIN, err)
	}
	return nil
}

// LoadTruck implements monitor.Store.
func (s *Store) LoadTruck(ctx context.Context, vin string) (monitor.TruckRecord, bool, error) {
	var d truckDoc
	err := s.db.Collection(Trucks).FindOne(ctx, bson.D{{Key: "_id", Value: vin}}).Decode(&d)
	if mongodb.IsNotFound(err) {
		return monitor.TruckRecord{}, false, nil
	}
	if err != nil {
		return monitor.TruckRecord{}, false, fmt.Errorf("load truck %s: %w", vin, err)
	}
	r := monitor.TruckRecord{VIN: d.VIN, SavedAt: d.SavedAt.UTC()}
	if err := json.Unmarshal([]byte(d.Exemption), &r.Exemption); err != nil {
		return monitor.TruckRecord{}, false, fmt.Errorf("decode truck %s: %w", vin, err)
	}
	return r, true, nil
}

type settingsDoc struct {
	ID         string    `bson:"_id"`
	Thresholds string    `bson:"thresholds"` // detect.Thresholds as JSON
	By         string    `bson:"by"`
	At         time.Time `bson:"at"`
}

// Thresholds implements monitor.Store.
func (s *Store) Thresholds(ctx context.Context) (detect.Thresholds, bool, error) {
	var d settingsDoc
	err := s.db.Collection(Settings).FindOne(ctx, bson.D{{Key: "_id", Value: "thresholds"}}).Decode(&d)
	if mongodb.IsNotFound(err) {
		return detect.Thresholds{}, false, nil
	}
	if err != nil {
		return detect.Thresholds{}, false, fmt.Errorf("load thresholds: %w", err)
	}
	th := detect.DefaultThresholds()
	if err := json.Unmarshal([]byte(d.Thresholds), &th); err != nil {
		return detect.Thresholds{}, false, fmt.Errorf("decode thresholds: %w", err)
	}
	return th, true, nil
}

// SaveThresholds implements monitor.Store; the previous setting is kept in a history document.
func (s *Store) SaveThresholds(ctx context.Context, th detect.Thresholds, by string) error {
	b, err := json.Marshal(th)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	coll := s.db.Collection(Settings)
	if _, err := coll.InsertOne(ctx, settingsDoc{ID: fmt.Sprintf("thresholds@%d", now.UnixNano()), Thresholds: string(b), By: by, At: now}); err != nil {
		return fmt.Errorf("record thresholds history: %w", err)
	}
	if _, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: "thresholds"}}, settingsDoc{ID: "thresholds", Thresholds: string(b), By: by, At: now},
		options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("save thresholds: %w", err)
	}
	return nil
}
