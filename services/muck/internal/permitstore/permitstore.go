// Package permitstore keeps the muck service's sites, permits, passes and violations in MongoDB.
// It is the only muck package that knows BSON. Areas and zones are stored as GeoJSON text next
// to their bounding-box fields: FerretDB has no geospatial queries (and refuses the nested
// arrays of GeoJSON coordinates), so a query pre-filters on the box and the core decides on the
// polygon with libs/geo.
package permitstore

import (
	"github.com/clearsky/clearsky/libs/outbox"

	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

// Collections.
const (
	Sites      = "muck_sites"
	Permits    = "muck_permits"
	Passes     = "muck_passes"
	Violations = "muck_violations"
)

func key(k string, v any) bson.E { return bson.E{Key: k, Value: v} }

func asc(keys ...string) bson.D {
	d := bson.D{}
	for _, k := range keys {
		d = append(d, key(k, 1))
	}
	return d
}

// Indexes are the indexes the store needs; Store.EnsureIndexes creates them. FerretDB scans
// anyway; MongoDB uses them.
var Indexes = []mongodb.Index{
	{Collection: Sites, Keys: asc("kind", "_id"), Name: "kind_id"},
	{Collection: Sites, Keys: asc("kind", "min_lon", "max_lon", "min_lat", "max_lat"), Name: "kind_bbox"},
	{Collection: Permits, Keys: asc("vin", "created_at"), Name: "vin_created"},
	{Collection: Permits, Keys: asc("plate_key"), Name: "plate_key"},
	{Collection: Permits, Keys: asc("fleet_id", "_id"), Name: "fleet_id"},
	{Collection: Permits, Keys: asc("state", "valid_to"), Name: "state_valid_to"},
	{Collection: Permits, Keys: asc(outbox.FieldDue), Name: outbox.FieldDue},
	{Collection: Passes, Keys: asc("vin", "min_lon", "max_lon", "min_lat", "max_lat"), Name: "vin_bbox"},
	{Collection: Passes, Keys: asc("plate_key"), Name: "plate_key"},
	{Collection: Passes, Keys: asc("permit_id"), Name: "permit_id"},
	{Collection: Passes, Keys: asc("fleet_id", "_id"), Name: "fleet_id"},
	{Collection: Passes, Keys: asc(outbox.FieldDue), Name: outbox.FieldDue},
	{Collection: Violations, Keys: bson.D{key("plate_key", 1), key("observed_at", -1)}, Name: "plate_observed"},
	{Collection: Violations, Keys: asc("vin", "observed_at"), Name: "vin_observed"},
	{Collection: Violations, Keys: asc("day", "from_site", "kind"), Name: "day_site_kind"},
	{Collection: Violations, Keys: asc("from_site", "day"), Name: "site_day"},
	{Collection: Violations, Keys: asc("fleet_id", "_id"), Name: "fleet_id"},
	{Collection: Violations, Keys: asc("revoke_pending"), Name: "revoke_pending"},
	{Collection: Violations, Keys: asc(outbox.FieldDue), Name: outbox.FieldDue},
}

// Store is the MongoDB implementation of permit.Store.
type Store struct {
	db         *mongo.Database
	sites      *mongo.Collection
	permits    *mongo.Collection
	passes     *mongo.Collection
	violations *mongo.Collection
}

// New returns a store on db.
func New(db *mongo.Database) *Store {
	return &Store{db: db, sites: db.Collection(Sites), permits: db.Collection(Permits), passes: db.Collection(Passes),
		violations: db.Collection(Violations)}
}

// EnsureIndexes creates the store's indexes that policy keeps.
func (s *Store) EnsureIndexes(ctx context.Context, policy mongodb.IndexPolicy) error {
	return mongodb.EnsureIndexes(ctx, s.db, Indexes, policy)
}

// zoneText stores a shape as GeoJSON text. FerretDB v1 refuses nested arrays, which GeoJSON
// polygon coordinates are, so the geometry is kept as a string beside its bounding-box fields;
// on MongoDB a migration could turn it into a GeoJSON document with a 2dsphere index.
func zoneText(sh geo.Shape) (string, error) {
	b, err := json.Marshal(sh)
	if err != nil {
		return "", fmt.Errorf("encode zone: %w", err)
	}
	return string(b), nil
}

// zoneOf reads a stored zone back, validating it again.
func zoneOf(s string) (geo.Shape, error) {
	sh, err := geo.Parse([]byte(s))
	if err != nil {
		return geo.Shape{}, fmt.Errorf("stored zone: %w", err)
	}
	return sh, nil
}

// bbox is the flat bounding-box fields of an area or zone.
type bbox struct {
	MinLon float64 `bson:"min_lon"`
	MinLat float64 `bson:"min_lat"`
	MaxLon float64 `bson:"max_lon"`
	MaxLat float64 `bson:"max_lat"`
}

func boxOf(sh geo.Shape) bbox {
	b := sh.BBox()
	return bbox{MinLon: b.MinLon, MinLat: b.MinLat, MaxLon: b.MaxLon, MaxLat: b.MaxLat}
}

// boxHolds is the filter "the stored box holds pt".
func boxHolds(pt geo.Point) bson.D {
	return bson.D{
		key("min_lon", bson.D{key("$lte", pt.Lon)}), key("max_lon", bson.D{key("$gte", pt.Lon)}),
		key("min_lat", bson.D{key("$lte", pt.Lat)}), key("max_lat", bson.D{key("$gte", pt.Lat)}),
	}
}

func findAll[D any, T any](ctx context.Context, c *mongo.Collection, filter bson.D, opts *options.FindOptionsBuilder, conv func(D) (T, error)) ([]T, error) {
	cur, err := c.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("find in %s: %w", c.Name(), err)
	}
	defer cur.Close(ctx)
	out := []T{}
	for cur.Next(ctx) {
		var d D
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("decode from %s: %w", c.Name(), err)
		}
		t, err := conv(d)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", c.Name(), err)
	}
	return out, nil
}

func findOne[D any, T any](ctx context.Context, c *mongo.Collection, id string, notFound error, conv func(D) (T, error)) (T, error) {
	var d D
	var zero T
	err := c.FindOne(ctx, bson.D{key("_id", id)}).Decode(&d)
	if mongodb.IsNotFound(err) {
		return zero, notFound
	}
	if err != nil {
		return zero, fmt.Errorf("find %s in %s: %w", id, c.Name(), err)
	}
	return conv(d)
}

func insert(ctx context.Context, c *mongo.Collection, doc any) error {
	return mongodb.InsertOne(ctx, c, doc, permit.ErrDuplicateID)
}

// paged is a find page sorted by _id after afterID.
func paged(filter bson.D, afterID string, limit int) (bson.D, *options.FindOptionsBuilder) {
	if afterID != "" {
		filter = append(filter, key("_id", bson.D{key("$gt", afterID)}))
	}
	return filter, options.Find().SetSort(asc("_id")).SetLimit(int64(limit))
}

// filterOf builds an equality filter of the non-empty fields.
func filterOf(kv ...string) bson.D {
	d := bson.D{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			d = append(d, key(kv[i], kv[i+1]))
		}
	}
	return d
}

func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func fromPtr(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
