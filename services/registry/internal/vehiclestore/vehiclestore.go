// Package vehiclestore keeps the registry's vehicles and screening decisions in MongoDB. It is
// the only registry package that knows BSON. The VIN is the document id (and, in a sharded
// deployment, the shard key); plate + colour is a unique index.
package vehiclestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/libs/partsync"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/registry/internal/vehicle"
)

// Collections.
const (
	Vehicles   = "vehicles"
	Screenings = "screenings"
)

// Indexes are the indexes the store needs; Store.EnsureIndexes creates them.
var Indexes = []mongodb.Index{
	{Collection: Vehicles, Keys: bson.D{{Key: "plate", Value: 1}, {Key: "plate_colour", Value: 1}}, Unique: true, Name: "plate_colour_unique"},
	{Collection: Vehicles, Keys: bson.D{{Key: "fleet_id", Value: 1}, {Key: "_id", Value: 1}}, Name: "fleet_vin"},
	{Collection: Vehicles, Keys: bson.D{{Key: "status", Value: 1}, {Key: "_id", Value: 1}}, Name: "status_vin"},
	{Collection: Vehicles, Keys: bson.D{{Key: outbox.FieldDue, Value: 1}}, Name: outbox.FieldDue},
	{Collection: Vehicles, Keys: bson.D{{Key: "registered_on", Value: 1}}, Name: "registered_on"},
	{Collection: Screenings, Keys: bson.D{{Key: "vin", Value: 1}, {Key: "decided_at", Value: -1}}, Name: "vin_decided_at"},
	{Collection: Screenings, Keys: bson.D{{Key: outbox.FieldDue, Value: 1}}, Name: outbox.FieldDue},
	{Collection: Proposals, Keys: bson.D{{Key: "state", Value: 1}, {Key: "proposed_at", Value: -1}}, Name: "state_proposed_at"},
	{Collection: Proposals, Keys: bson.D{{Key: "vin", Value: 1}, {Key: "proposed_at", Value: -1}}, Name: "vin_proposed_at"},
	{Collection: Proposals, Keys: bson.D{{Key: "fleet_id", Value: 1}, {Key: "proposed_at", Value: -1}}, Name: "fleet_proposed_at"},
	{Collection: Catalysts, Keys: bson.D{{Key: "vin", Value: 1}, {Key: "replaced_on", Value: -1}}, Name: "vin_replaced_on"},
	{Collection: Settings, Keys: bson.D{{Key: "key", Value: 1}, {Key: "version", Value: -1}}, Name: "key_version"},
}

// Store is the MongoDB implementation of vehicle.Store.
type Store struct {
	vehicles   *mongo.Collection
	screenings *mongo.Collection
	proposals  *mongo.Collection
}

// New returns a store on db.
func New(db *mongo.Database) *Store {
	return &Store{vehicles: db.Collection(Vehicles), screenings: db.Collection(Screenings), proposals: db.Collection(Proposals)}
}

// EnsureIndexes creates the store's indexes that policy keeps.
func (s *Store) EnsureIndexes(ctx context.Context, policy mongodb.IndexPolicy) error {
	return mongodb.EnsureIndexes(ctx, s.vehicles.Database(), Indexes, policy)
}

type terminalDoc struct {
	ICCID      string     `bson:"iccid"`
	BoundAt    time.Time  `bson:"bound_at"`
	BoundBy    string     `bson:"bound_by"`
	ChipID     string     `bson:"chip_id,omitempty"`
	PublicKey  string     `bson:"public_key,omitempty"`
	KeyFiledAt *time.Time `bson:"key_filed_at,omitempty"`
}

type inspectionDoc struct {
	ReportID    string    `bson:"report_id"`
	StationID   string    `bson:"station_id"`
	Result      string    `bson:"result"`
	InspectedOn time.Time `bson:"inspected_on"`
}

type vehicleDoc struct {
	VIN              string         `bson:"_id"`
	Plate            string         `bson:"plate"`
	PlateColour      string         `bson:"plate_colour"`
	FuelType         string         `bson:"fuel_type"`
	EmissionStandard string         `bson:"emission_standard"`
	Category         string         `bson:"category"`
	Use              string         `bson:"use"`
	ServiceClass     string         `bson:"service_class"`
	Maker            string         `bson:"maker"`
	Owner            string         `bson:"owner,omitempty"`
	FleetID          string         `bson:"fleet_id,omitempty"`
	RegisteredOn     time.Time      `bson:"registered_on"`
	RegisteredPlace  string         `bson:"registered_place,omitempty"`
	GrossMassKg      int            `bson:"gross_mass_kg,omitempty"`
	LeanBurn         bool           `bson:"lean_burn,omitempty"`
	BuiltUpArea      bool           `bson:"built_up_area,omitempty"`
	ConvertedGas     bool           `bson:"converted_gas,omitempty"`
	ScrapDue         *time.Time     `bson:"scrap_due,omitempty"`
	Status           string         `bson:"status"`
	StatusReason     string         `bson:"status_reason,omitempty"`
	StatusChangedAt  *time.Time     `bson:"status_changed_at,omitempty"`
	Terminal         *terminalDoc   `bson:"terminal,omitempty"`
	LastInspection   *inspectionDoc `bson:"last_inspection,omitempty"`
	CreatedAt        time.Time      `bson:"created_at"`
	UpdatedAt        time.Time      `bson:"updated_at"`
	UpdatedBy        string         `bson:"updated_by"`
	Version          int64          `bson:"version"`
}

// storedDoc is a vehicle as inserted: its fields and the outbox (libs/outbox) with the record
// that the plate's registry part must be published.
type storedDoc struct {
	Vehicle       vehicleDoc `bson:",inline"`
	outbox.Fields `bson:",inline"`
}

func toDoc(v vehicle.Vehicle) vehicleDoc {
	d := vehicleDoc{VIN: v.VIN, Plate: v.Plate, PlateColour: string(v.PlateColour), FuelType: string(v.FuelType),
		EmissionStandard: string(v.EmissionStandard), Category: string(v.Category), Use: string(v.Use),
		ServiceClass: string(v.ServiceClass), Maker: v.Maker, Owner: v.Owner, FleetID: v.FleetID,
		RegisteredOn: v.RegisteredOn.UTC(), RegisteredPlace: v.RegisteredPlace, GrossMassKg: v.GrossMassKg,
		LeanBurn: v.LeanBurn, BuiltUpArea: v.BuiltUpArea, ConvertedGas: v.ConvertedGas, Status: string(v.Status), StatusReason: v.StatusReason,
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, UpdatedBy: v.UpdatedBy, Version: v.Version}
	if !v.ScrapDue.IsZero() {
		t := v.ScrapDue.UTC()
		d.ScrapDue = &t
	}
	if !v.StatusChangedAt.IsZero() {
		t := v.StatusChangedAt.UTC()
		d.StatusChangedAt = &t
	}
	if t := v.Terminal; t != nil {
		d.Terminal = &terminalDoc{ICCID: t.ICCID, BoundAt: t.BoundAt, BoundBy: t.BoundBy, ChipID: t.ChipID, PublicKey: t.PublicKey, KeyFiledAt: t.KeyFiledAt}
	}
	if r := v.LastInspection; r != nil {
		d.LastInspection = &inspectionDoc{ReportID: r.ReportID, StationID: r.StationID, Result: r.Result, InspectedOn: r.InspectedOn}
	}
	return d
}

func fromDoc(d vehicleDoc) vehicle.Vehicle {
	v := vehicle.Vehicle{VIN: d.VIN, Plate: d.Plate, PlateColour: vehicleid.Colour(d.PlateColour), FuelType: vehicle.FuelType(d.FuelType),
		EmissionStandard: vehicle.Standard(d.EmissionStandard), Category: vehicle.Category(d.Category), Use: vehicle.Use(d.Use),
		ServiceClass: vehicle.ServiceClass(d.ServiceClass), Maker: d.Maker, Owner: d.Owner, FleetID: d.FleetID,
		RegisteredOn: d.RegisteredOn.UTC(), RegisteredPlace: d.RegisteredPlace, GrossMassKg: d.GrossMassKg,
		LeanBurn: d.LeanBurn, BuiltUpArea: d.BuiltUpArea, ConvertedGas: d.ConvertedGas, Status: vehicle.Status(d.Status), StatusReason: d.StatusReason,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), UpdatedBy: d.UpdatedBy, Version: d.Version}
	if d.ScrapDue != nil {
		v.ScrapDue = d.ScrapDue.UTC()
	}
	if d.StatusChangedAt != nil {
		v.StatusChangedAt = d.StatusChangedAt.UTC()
	}
	if t := d.Terminal; t != nil {
		v.Terminal = &vehicle.Terminal{ICCID: t.ICCID, BoundAt: t.BoundAt.UTC(), BoundBy: t.BoundBy, ChipID: t.ChipID, PublicKey: t.PublicKey, KeyFiledAt: t.KeyFiledAt}
	}
	if r := d.LastInspection; r != nil {
		v.LastInspection = &vehicle.Inspection{ReportID: r.ReportID, StationID: r.StationID, Result: r.Result, InspectedOn: r.InspectedOn.UTC()}
	}
	return v
}

// Insert implements vehicle.Store.
func (s *Store) Insert(ctx context.Context, v vehicle.Vehicle) error {
	_, err := s.vehicles.InsertOne(ctx, storedDoc{Vehicle: toDoc(v), Fields: outbox.New(v.UpdatedAt, outbox.Part(v.PlateKey()))})
	if mongodb.IsDuplicateKey(err) {
		// The id is checked first: a clash on it is the VIN; otherwise the plate index.
		if n, cerr := s.vehicles.CountDocuments(ctx, bson.D{{Key: "_id", Value: v.VIN}}); cerr == nil && n > 0 {
			return vehicle.ErrDuplicateVIN
		}
		return vehicle.ErrDuplicatePlate
	}
	if err != nil {
		return fmt.Errorf("insert vehicle %s: %w", v.VIN, err)
	}
	return nil
}

func (s *Store) one(ctx context.Context, filter bson.D) (vehicle.Vehicle, error) {
	d, err := mongodb.FindOne[vehicleDoc](ctx, s.vehicles, filter, vehicle.ErrNotFound)
	if err != nil {
		return vehicle.Vehicle{}, err
	}
	return fromDoc(d), nil
}

// Get implements vehicle.Store.
func (s *Store) Get(ctx context.Context, vin string) (vehicle.Vehicle, error) {
	return s.one(ctx, bson.D{{Key: "_id", Value: vin}})
}

// GetByPlate implements vehicle.Store.
func (s *Store) GetByPlate(ctx context.Context, plate string, colour vehicleid.Colour) (vehicle.Vehicle, error) {
	return s.one(ctx, bson.D{{Key: "plate", Value: plate}, {Key: "plate_colour", Value: string(colour)}})
}

func filterDoc(f vehicle.Filter) bson.D {
	d := bson.D{}
	add := func(k, v string) {
		if v != "" {
			d = append(d, bson.E{Key: k, Value: v})
		}
	}
	add("fleet_id", f.FleetID)
	add("status", string(f.Status))
	add("fuel_type", string(f.FuelType))
	add("emission_standard", string(f.EmissionStandard))
	add("category", string(f.Category))
	add("use", string(f.Use))
	add("service_class", string(f.ServiceClass))
	add("maker", f.Maker)
	add("plate", f.Plate)
	return d
}

// List implements vehicle.Store.
func (s *Store) List(ctx context.Context, f vehicle.Filter, afterVIN string, limit int) ([]vehicle.Vehicle, error) {
	filter := filterDoc(f)
	if afterVIN != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: afterVIN}}})
	}
	cur, err := s.vehicles.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list vehicles: %w", err)
	}
	return decodeAll(ctx, cur)
}

func decodeAll(ctx context.Context, cur *mongo.Cursor) ([]vehicle.Vehicle, error) {
	defer cur.Close(ctx)
	out := []vehicle.Vehicle{}
	for cur.Next(ctx) {
		var d vehicleDoc
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("decode vehicle: %w", err)
		}
		out = append(out, fromDoc(d))
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read vehicles: %w", err)
	}
	return out, nil
}

// Each implements vehicle.Store.
func (s *Store) Each(ctx context.Context, f vehicle.Filter, fn func(vehicle.Vehicle) error) error {
	cur, err := s.vehicles.Find(ctx, filterDoc(f), options.Find().SetBatchSize(1000))
	if err != nil {
		return fmt.Errorf("scan vehicles: %w", err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var d vehicleDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("decode vehicle: %w", err)
		}
		if err := fn(fromDoc(d)); err != nil {
			return err
		}
	}
	return cur.Err()
}

// Replace implements vehicle.Store with an optimistic version check: one update that sets v's
// fields, unsets those old had and v has not, and adds the outbox records of both plates (the
// old one's part is deleted when the plate changed).
func (s *Store) Replace(ctx context.Context, v, old vehicle.Vehicle) error {
	set, err := fieldsOf(toDoc(v))
	if err != nil {
		return err
	}
	had, err := fieldsOf(toDoc(old))
	if err != nil {
		return err
	}
	has := make(map[string]bool, len(set))
	for _, e := range set {
		has[e.Key] = true
	}
	var unset bson.D
	for _, e := range had {
		if !has[e.Key] {
			unset = append(unset, bson.E{Key: e.Key, Value: ""})
		}
	}
	upd := bson.D{{Key: "$set", Value: set}}
	if len(unset) > 0 {
		upd = append(upd, bson.E{Key: "$unset", Value: unset})
	}
	upd = outbox.Append(upd, v.UpdatedAt, outbox.Part(v.PlateKey()), outbox.Part(old.PlateKey()))
	res, err := s.vehicles.UpdateOne(ctx, bson.D{{Key: "_id", Value: v.VIN}, {Key: "version", Value: v.Version - 1}}, upd)
	if err != nil {
		return fmt.Errorf("replace vehicle %s: %w", v.VIN, err)
	}
	if res.MatchedCount == 0 {
		return vehicle.ErrVersionConflict
	}
	return nil
}

// fieldsOf is a document's fields but its _id.
func fieldsOf(d vehicleDoc) (bson.D, error) {
	raw, err := bson.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode vehicle %s: %w", d.VIN, err)
	}
	var all bson.D
	if err := bson.Unmarshal(raw, &all); err != nil {
		return nil, fmt.Errorf("encode vehicle %s: %w", d.VIN, err)
	}
	out := all[:0]
	for _, e := range all {
		if e.Key != "_id" {
			out = append(out, e)
		}
	}
	return out, nil
}

// Ack implements vehicle.Store.
func (s *Store) Ack(ctx context.Context, vin string, version int64) error {
	return outbox.Ack(ctx, s.vehicles, vin, "version", version)
}

// PartSources are the collections whose outbox records libs/partsync delivers.
func (s *Store) PartSources() []partsync.Source {
	return []partsync.Source{{Coll: s.vehicles, VersionField: "version"}}
}

type reasonDoc struct {
	Code     string `bson:"code"`
	Message  string `bson:"message"`
	Rule     string `bson:"rule"`
	Blocking bool   `bson:"blocking"`
}

type screeningDoc struct {
	ID        string         `bson:"_id"`
	VIN       string         `bson:"vin"`
	Plate     string         `bson:"plate,omitempty"`
	Purpose   string         `bson:"purpose"`
	Decision  string         `bson:"decision"`
	Reasons   []reasonDoc    `bson:"reasons"`
	PhaseOut  phaseOutDoc    `bson:"phase_out"`
	Report    *inspectionDoc `bson:"report,omitempty"`
	DecidedAt time.Time      `bson:"decided_at"`
	DecidedBy string         `bson:"decided_by"`
	Role      string         `bson:"role"`
	// Version is 1 (a screening is never changed); the outbox holds its events.
	Version       int64 `bson:"version"`
	outbox.Fields `bson:",inline"`
}

type phaseOutDoc struct {
	Listed   bool       `bson:"listed"`
	List     string     `bson:"list,omitempty"`
	Reason   string     `bson:"reason,omitempty"`
	Deadline *time.Time `bson:"deadline,omitempty"`
	Overdue  bool       `bson:"overdue"`
}

// InsertScreening implements vehicle.Store.
func (s *Store) InsertScreening(ctx context.Context, sc vehicle.Screening) error {
	d := screeningDoc{ID: sc.ID, VIN: sc.VIN, Plate: sc.Plate, Purpose: string(sc.Purpose), Decision: string(sc.Decision),
		Reasons: make([]reasonDoc, 0, len(sc.Reasons)), DecidedAt: sc.DecidedAt, DecidedBy: sc.DecidedBy, Role: string(sc.Role),
		PhaseOut: phaseOutDoc{Listed: sc.PhaseOut.Listed, List: sc.PhaseOut.List, Reason: sc.PhaseOut.Reason, Overdue: sc.PhaseOut.Overdue}}
	if !sc.PhaseOut.Deadline.IsZero() {
		t := sc.PhaseOut.Deadline
		d.PhaseOut.Deadline = &t
	}
	for _, r := range sc.Reasons {
		d.Reasons = append(d.Reasons, reasonDoc(r))
	}
	if r := sc.Report; r != nil {
		d.Report = &inspectionDoc{ReportID: r.ReportID, StationID: r.StationID, Result: r.Result, InspectedOn: r.InspectedOn}
	}
	rs, err := events.Records(sc.Outgoing...)
	if err != nil {
		return err
	}
	d.Version, d.Fields = 1, outbox.New(sc.DecidedAt, rs...)
	if _, err := s.screenings.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("insert screening: %w", err)
	}
	return nil
}

// EventsRunner delivers the screenings' events (libs/events) from their outbox.
func (s *Store) EventsRunner(sink *events.Sink) *outbox.Runner {
	return sink.Runner(s.screenings, "version")
}

func fromScreeningDoc(d screeningDoc) vehicle.Screening {
	sc := vehicle.Screening{ID: d.ID, VIN: d.VIN, Plate: d.Plate, Purpose: vehicle.Purpose(d.Purpose), Decision: vehicle.Decision(d.Decision),
		DecidedAt: d.DecidedAt.UTC(), DecidedBy: d.DecidedBy, Role: auth.Role(d.Role),
		PhaseOut: vehicle.PhaseOut{Listed: d.PhaseOut.Listed, List: d.PhaseOut.List, Reason: d.PhaseOut.Reason, Overdue: d.PhaseOut.Overdue}}
	if d.PhaseOut.Deadline != nil {
		sc.PhaseOut.Deadline = d.PhaseOut.Deadline.UTC()
	}
	for _, r := range d.Reasons {
		sc.Reasons = append(sc.Reasons, vehicle.Reason(r))
	}
	if r := d.Report; r != nil {
		sc.Report = &vehicle.Inspection{ReportID: r.ReportID, StationID: r.StationID, Result: r.Result, InspectedOn: r.InspectedOn.UTC()}
	}
	return sc
}

// GetScreening implements vehicle.Store.
func (s *Store) GetScreening(ctx context.Context, id string) (vehicle.Screening, error) {
	var d screeningDoc
	err := s.screenings.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return vehicle.Screening{}, vehicle.ErrScreeningNotFound
	}
	if err != nil {
		return vehicle.Screening{}, fmt.Errorf("find screening: %w", err)
	}
	return fromScreeningDoc(d), nil
}

// ListScreenings implements vehicle.Store.
func (s *Store) ListScreenings(ctx context.Context, vin string, limit int) ([]vehicle.Screening, error) {
	cur, err := s.screenings.Find(ctx, bson.D{{Key: "vin", Value: vin}}, options.Find().SetSort(bson.D{{Key: "decided_at", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list screenings: %w", err)
	}
	var docs []screeningDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read screenings: %w", err)
	}
	out := make([]vehicle.Screening, 0, len(docs))
	for _, d := range docs {
		out = append(out, fromScreeningDoc(d))
	}
	return out, nil
}
