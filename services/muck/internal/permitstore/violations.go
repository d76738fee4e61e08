package permitstore

import (
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/outbox"

	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

// pointDoc is a GeoJSON Point.
type pointDoc struct {
	Type        string    `bson:"type"`
	Coordinates []float64 `bson:"coordinates"` // [lon, lat]
}

type violationDoc struct {
	ID             string    `bson:"_id"`
	Kind           string    `bson:"kind"`
	VIN            string    `bson:"vin,omitempty"`
	Plate          string    `bson:"plate,omitempty"`
	PlateColour    string    `bson:"plate_colour,omitempty"`
	PlateKey       string    `bson:"plate_key,omitempty"`
	FleetID        string    `bson:"fleet_id,omitempty"`
	ObservedAt     time.Time `bson:"observed_at"`
	Location       *pointDoc `bson:"location,omitempty"`
	Place          string    `bson:"place,omitempty"`
	Photos         []string  `bson:"photos"`
	Note           string    `bson:"note,omitempty"`
	PermitID       string    `bson:"permit_id,omitempty"`
	FromSite       string    `bson:"from_site"` // "" when the trace-back is unresolved
	SiteSource     string    `bson:"site_source"`
	RecordedAt     time.Time `bson:"recorded_at"`
	RecordedBy     string    `bson:"recorded_by"`
	Role           string    `bson:"role"`
	RevokePending  bool      `bson:"revoke_pending"`
	RevokedPermits []string  `bson:"revoked_permits"`
	Fingerprint    string    `bson:"fingerprint"`
	Version        int64     `bson:"version"`
	// Day and Month are report buckets (local calendar), stored at write time because FerretDB
	// has no date operators in aggregation.
	Day           string `bson:"day"`
	Month         string `bson:"month"`
	outbox.Fields `bson:",inline"`
}

func violationToDoc(v permit.Violation, day, month string) violationDoc {
	d := violationDoc{ID: v.ID, Kind: string(v.Kind), VIN: v.VIN, Plate: v.Plate, PlateColour: string(v.PlateColour), PlateKey: v.PlateKey(),
		FleetID: v.FleetID, ObservedAt: v.ObservedAt.UTC(), Place: v.Place, Photos: v.Photos, Note: v.Note, PermitID: v.PermitID,
		FromSite: v.FromSite, SiteSource: string(v.SiteSource), RecordedAt: v.RecordedAt.UTC(), RecordedBy: v.RecordedBy, Role: string(v.Role),
		RevokePending: v.RevokePending, RevokedPermits: v.RevokedPermits, Fingerprint: v.Fingerprint, Version: v.Version,
		Day: day, Month: month}
	if d.RevokedPermits == nil {
		d.RevokedPermits = []string{}
	}
	if l := v.Location; l != nil {
		d.Location = &pointDoc{Type: "Point", Coordinates: []float64{l.Lon, l.Lat}}
	}
	return d
}

func violationFromDoc(d violationDoc) (permit.Violation, error) {
	v := permit.Violation{ID: d.ID, Kind: permit.ViolationKind(d.Kind), VIN: d.VIN, Plate: d.Plate, PlateColour: vehicleid.Colour(d.PlateColour),
		FleetID: d.FleetID, ObservedAt: d.ObservedAt.UTC(), Place: d.Place, Photos: d.Photos, Note: d.Note, PermitID: d.PermitID,
		FromSite: d.FromSite, SiteSource: permit.SiteSource(d.SiteSource), RecordedAt: d.RecordedAt.UTC(), RecordedBy: d.RecordedBy,
		Role: auth.Role(d.Role), RevokePending: d.RevokePending, RevokedPermits: d.RevokedPermits, Fingerprint: d.Fingerprint, Version: d.Version}
	if l := d.Location; l != nil && len(l.Coordinates) == 2 {
		v.Location = &geo.Point{Lon: l.Coordinates[0], Lat: l.Coordinates[1]}
	}
	return v, nil
}

// InsertViolation implements the permit stores.
func (s *Store) InsertViolation(ctx context.Context, v permit.Violation, day, month string) error {
	d := violationToDoc(v, day, month)
	rs, err := events.Records(v.Outgoing...)
	if err != nil {
		return err
	}
	var parts []outbox.Record
	if k := v.PlateKey(); k != "" {
		parts = append(parts, outbox.Part(k))
	}
	d.Fields = outbox.New(v.RecordedAt, append(parts, rs...)...)
	return insert(ctx, s.violations, d)
}

// GetViolation implements the permit stores.
func (s *Store) GetViolation(ctx context.Context, id string) (permit.Violation, error) {
	return findOne(ctx, s.violations, id, permit.ErrViolationNotFound, violationFromDoc)
}

// ListViolations implements the permit stores.
func (s *Store) ListViolations(ctx context.Context, f permit.ViolationFilter, afterID string, limit int) ([]permit.Violation, error) {
	filter := filterOf("fleet_id", f.FleetID, "vin", f.VIN, "from_site", f.FromSite, "kind", string(f.Kind))
	if days := dayRange(f.FromDay, f.ToDay); len(days) > 0 {
		filter = append(filter, key("day", days))
	}
	filter, opts := paged(filter, afterID, limit)
	return findAll(ctx, s.violations, filter, opts, violationFromDoc)
}

func dayRange(from, to string) bson.D {
	d := bson.D{}
	if from != "" {
		d = append(d, key("$gte", from))
	}
	if to != "" {
		d = append(d, key("$lte", to))
	}
	return d
}

// ViolationsByPlate implements the permit stores.
func (s *Store) ViolationsByPlate(ctx context.Context, plateKey string, since time.Time, limit int) ([]permit.Violation, error) {
	filter := bson.D{key("plate_key", plateKey), key("observed_at", bson.D{key("$gte", since.UTC())})}
	return findAll(ctx, s.violations, filter, options.Find().SetSort(bson.D{key("observed_at", -1)}).SetLimit(int64(limit)), violationFromDoc)
}

// PendingRevocations implements the permit stores.
func (s *Store) PendingRevocations(ctx context.Context, limit int) ([]permit.Violation, error) {
	return findAll(ctx, s.violations, bson.D{key("revoke_pending", true)}, options.Find().SetLimit(int64(limit)), violationFromDoc)
}

// FinishRevocation implements the permit stores.
func (s *Store) FinishRevocation(ctx context.Context, id, plateKey string, permits []string) (permit.Violation, error) {
	if permits == nil {
		permits = []string{}
	}
	update := bson.D{
		key("$set", bson.D{key("revoke_pending", false), key("revoked_permits", permits)}),
		key("$inc", bson.D{key("version", int64(1))}),
	}
	if plateKey != "" {
		update = outbox.Append(update, time.Now(), outbox.Part(plateKey))
	}
	var d violationDoc
	err := s.violations.FindOneAndUpdate(ctx, bson.D{key("_id", id), key("revoke_pending", true)}, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if mongodb.IsNotFound(err) {
		return s.GetViolation(ctx, id) // finished already
	}
	if err != nil {
		return permit.Violation{}, fmt.Errorf("finish revocation of violation %s: %w", id, err)
	}
	return violationFromDoc(d)
}

// SiteCounts implements the permit stores with $match on the stored day bucket and $group with $sum,
// the only accumulator FerretDB offers.
func (s *Store) SiteCounts(ctx context.Context, fromDay, toDay string) ([]permit.SiteCount, error) {
	pipeline := mongo.Pipeline{
		{key("$match", bson.D{key("day", dayRange(fromDay, toDay))})},
		{key("$group", bson.D{key("_id", bson.D{key("site", "$from_site"), key("kind", "$kind")}), key("n", bson.D{key("$sum", 1)})})},
	}
	cur, err := s.violations.Aggregate(ctx, pipeline)
	if err != nil {
		return nil, fmt.Errorf("count violations by site: %w", err)
	}
	var rows []struct {
		ID struct {
			Site string `bson:"site"`
			Kind string `bson:"kind"`
		} `bson:"_id"`
		N int `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("read violation counts: %w", err)
	}
	out := make([]permit.SiteCount, 0, len(rows))
	for _, r := range rows {
		out = append(out, permit.SiteCount{SiteID: r.ID.Site, Kind: permit.ViolationKind(r.ID.Kind), N: r.N})
	}
	return out, nil
}
