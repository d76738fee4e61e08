package permitstore

import (
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/outbox"

	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

type passDoc struct {
	ID            string     `bson:"_id"`
	PermitID      string     `bson:"permit_id"`
	VIN           string     `bson:"vin"`
	Plate         string     `bson:"plate"`
	PlateColour   string     `bson:"plate_colour"`
	PlateKey      string     `bson:"plate_key"`
	FleetID       string     `bson:"fleet_id"`
	Zone          string     `bson:"zone"`
	Box           bbox       `bson:",inline"`
	HoursFrom     int        `bson:"hours_from"` // minutes after local midnight
	HoursTo       int        `bson:"hours_to"`
	ValidFrom     time.Time  `bson:"valid_from"`
	ValidTo       time.Time  `bson:"valid_to"`
	Route         string     `bson:"route,omitempty"`
	IssuedAt      time.Time  `bson:"issued_at"`
	IssuedBy      string     `bson:"issued_by"`
	Cancelled     bool       `bson:"cancelled"`
	CancelledAt   *time.Time `bson:"cancelled_at,omitempty"`
	CancelledBy   string     `bson:"cancelled_by,omitempty"`
	CancelReason  string     `bson:"cancel_reason,omitempty"`
	Fingerprint   string     `bson:"fingerprint"`
	Version       int64      `bson:"version"`
	outbox.Fields `bson:",inline"`
}

func passToDoc(p permit.Pass) (passDoc, error) {
	zone, err := zoneText(p.Zone)
	if err != nil {
		return passDoc{}, err
	}
	return passDoc{ID: p.ID, PermitID: p.PermitID, VIN: p.VIN, Plate: p.Plate, PlateColour: string(p.PlateColour), PlateKey: p.PlateKey(),
		FleetID: p.FleetID, Zone: zone, Box: boxOf(p.Zone), HoursFrom: p.Hours.From, HoursTo: p.Hours.To, ValidFrom: p.ValidFrom.UTC(),
		ValidTo: p.ValidTo.UTC(), Route: p.Route, IssuedAt: p.IssuedAt.UTC(), IssuedBy: p.IssuedBy, Cancelled: p.Cancelled,
		CancelledAt: utcPtr(p.CancelledAt), CancelledBy: p.CancelledBy, CancelReason: p.CancelReason, Fingerprint: p.Fingerprint,
		Version: p.Version}, nil
}

func passFromDoc(d passDoc) (permit.Pass, error) {
	zone, err := zoneOf(d.Zone)
	if err != nil {
		return permit.Pass{}, fmt.Errorf("pass %s: %w", d.ID, err)
	}
	return permit.Pass{ID: d.ID, PermitID: d.PermitID, VIN: d.VIN, Plate: d.Plate, PlateColour: vehicleid.Colour(d.PlateColour),
		FleetID: d.FleetID, Zone: zone, Hours: permit.Hours{From: d.HoursFrom, To: d.HoursTo}, ValidFrom: d.ValidFrom.UTC(),
		ValidTo: d.ValidTo.UTC(), Route: d.Route, IssuedAt: d.IssuedAt.UTC(), IssuedBy: d.IssuedBy, Cancelled: d.Cancelled,
		CancelledAt: fromPtr(d.CancelledAt), CancelledBy: d.CancelledBy, CancelReason: d.CancelReason, Fingerprint: d.Fingerprint,
		Version: d.Version}, nil
}

// InsertPass implements the permit stores.
func (s *Store) InsertPass(ctx context.Context, p permit.Pass) error {
	d, err := passToDoc(p)
	if err != nil {
		return err
	}
	rs, err := events.Records(p.Outgoing...)
	if err != nil {
		return err
	}
	d.Fields = outbox.New(p.IssuedAt, append([]outbox.Record{outbox.Part(p.PlateKey())}, rs...)...)
	return insert(ctx, s.passes, d)
}

// GetPass implements the permit stores.
func (s *Store) GetPass(ctx context.Context, id string) (permit.Pass, error) {
	return findOne(ctx, s.passes, id, permit.ErrPassNotFound, passFromDoc)
}

// ListPasses implements the permit stores.
func (s *Store) ListPasses(ctx context.Context, f permit.PassFilter, afterID string, limit int) ([]permit.Pass, error) {
	filter, opts := paged(filterOf("fleet_id", f.FleetID, "vin", f.VIN, "permit_id", f.PermitID), afterID, limit)
	return findAll(ctx, s.passes, filter, opts, passFromDoc)
}

// PassesNear implements the permit stores: the bounding-box pre-filter of the allowed-here query.
func (s *Store) PassesNear(ctx context.Context, vin string, pt geo.Point) ([]permit.Pass, error) {
	return findAll(ctx, s.passes, append(bson.D{key("vin", vin)}, boxHolds(pt)...), options.Find(), passFromDoc)
}

// HasPasses implements the permit stores.
func (s *Store) HasPasses(ctx context.Context, vin string) (bool, error) {
	n, err := s.passes.CountDocuments(ctx, bson.D{key("vin", vin)}, options.Count().SetLimit(1))
	if err != nil {
		return false, fmt.Errorf("count passes of %s: %w", vin, err)
	}
	return n > 0, nil
}

// PassesByPlate implements the permit stores.
func (s *Store) PassesByPlate(ctx context.Context, plateKey string) ([]permit.Pass, error) {
	return findAll(ctx, s.passes, bson.D{key("plate_key", plateKey)}, options.Find().SetSort(asc("issued_at")), passFromDoc)
}

// CancelPass implements the permit stores.
func (s *Store) CancelPass(ctx context.Context, id, plateKey string, version int64, at time.Time, by, reason string, evs ...events.Draft) (permit.Pass, error) {
	rs, err := events.Records(evs...)
	if err != nil {
		return permit.Pass{}, err
	}
	update := outbox.Append(bson.D{
		key("$set", bson.D{key("cancelled", true), key("cancelled_at", at.UTC()), key("cancelled_by", by), key("cancel_reason", reason)}),
		key("$inc", bson.D{key("version", int64(1))}),
	}, at, append([]outbox.Record{outbox.Part(plateKey)}, rs...)...)
	var d passDoc
	err = s.passes.FindOneAndUpdate(ctx, bson.D{key("_id", id), key("version", version), key("cancelled", false)}, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if mongodb.IsNotFound(err) {
		return permit.Pass{}, permit.ErrStateChanged
	}
	if err != nil {
		return permit.Pass{}, fmt.Errorf("cancel pass %s: %w", id, err)
	}
	return passFromDoc(d)
}
