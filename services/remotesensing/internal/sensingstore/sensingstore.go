// Package sensingstore keeps the remote-sensing service's stations, readings, exceedances, cases
// and outbox in MongoDB. It is the only package of the service that knows BSON.
//
// FerretDB (the stand-in in tests) scans a collection on every read and lacks partial indexes,
// positional updates and most accumulators, so: readings go in unordered batches keyed by
// station and reading id, and the duplicate-key errors of a batch mark the repeats; the
// two-in-a-cycle rule reads the small exceedance collection, never the readings; a case is
// moved by one update guarded by its state and version that appends to its history with $push;
// reports group on bucket fields written with each reading and are finished in Go.
package sensingstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/libs/partsync"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensing"
)

// Collections.
const (
	Stations    = "rs_stations"
	Readings    = "rs_readings"
	Exceedances = "rs_exceedances"
	Cases       = "rs_cases"
	Jobs        = "rs_jobs"
	// LimitVersions holds the limit-table versions the bureau added at run time.
	LimitVersions = "rs_limit_versions"
)

func keys(ks ...string) bson.D {
	d := bson.D{}
	for _, k := range ks {
		dir := 1
		if k[0] == '-' {
			dir, k = -1, k[1:]
		}
		d = append(d, bson.E{Key: k, Value: dir})
	}
	return d
}

// Indexes are the indexes the store needs; Store.EnsureIndexes creates them.
var Indexes = []mongodb.Index{
	{Collection: Stations, Keys: keys("operator_id"), Name: "operator"},
	// Readings carry few indexes on purpose: every index slows the batch insert (on FerretDB
	// three more indexes cost about a quarter of the insert rate). Plate lookups (with or
	// without colour) use plate; station lists use station_id; everything else (reports by
	// period, the newest readings of an operator or a fleet) walks measured_at.
	{Collection: Readings, Keys: keys("-measured_at", "-_id"), Name: "measured_at"},
	{Collection: Readings, Keys: keys("plate", "-measured_at"), Name: "plate_measured_at"},
	{Collection: Readings, Keys: keys("station_id", "-measured_at"), Name: "station_measured_at"},
	{Collection: Exceedances, Keys: keys("plate_key", "measured_at"), Name: "plate_key_measured_at"},
	{Collection: Exceedances, Keys: keys("measured_at"), Name: "measured_at"},
	{Collection: Cases, Keys: keys("open_key"), Unique: true, Name: "one_open_case_per_plate_pollutant"},
	{Collection: Cases, Keys: keys("plate_key", "-opened_at"), Name: "plate_key_opened_at"},
	{Collection: Cases, Keys: keys("plate", "-opened_at"), Name: "plate_opened_at"},
	{Collection: Cases, Keys: keys("-opened_at", "-_id"), Name: "opened_at"},
	{Collection: Cases, Keys: keys("state", "-opened_at"), Name: "state_opened_at"},
	{Collection: Cases, Keys: keys("fleet_id", "-opened_at"), Name: "fleet_opened_at"},
	{Collection: Cases, Keys: keys("repair_shop_id", "-opened_at"), Name: "repair_shop_opened_at"},
	{Collection: Cases, Keys: keys("ended_at"), Name: "ended_at"},
	{Collection: Cases, Keys: keys(outbox.FieldDue), Name: outbox.FieldDue},
	{Collection: Jobs, Keys: keys("not_before"), Name: "not_before"},
	// One version a day (the _id is the version's name).
	{Collection: LimitVersions, Keys: keys("effective_from"), Unique: true, Name: "one_version_a_day"},
}

// Store is the MongoDB implementation of the sensing stores.
type Store struct {
	db                                           *mongo.Database
	stations, readings, exceedances, cases, jobs *mongo.Collection
}

// New returns a store on db.
func New(db *mongo.Database) *Store {
	return &Store{db: db, stations: db.Collection(Stations), readings: db.Collection(Readings), exceedances: db.Collection(Exceedances),
		cases: db.Collection(Cases), jobs: db.Collection(Jobs)}
}

// EnsureIndexes creates the store's indexes that policy keeps.
func (s *Store) EnsureIndexes(ctx context.Context, policy mongodb.IndexPolicy) error {
	return mongodb.EnsureIndexes(ctx, s.db, Indexes, policy)
}

// InsertStation implements the sensing stores.
func (s *Store) InsertStation(ctx context.Context, st sensing.Station) error {
	return mongodb.InsertOne(ctx, s.stations, stationToDoc(st), sensing.ErrStationExists)
}

// GetStation implements the sensing stores.
func (s *Store) GetStation(ctx context.Context, id string) (sensing.Station, error) {
	d, err := mongodb.FindOne[stationDoc](ctx, s.stations, bson.D{{Key: "_id", Value: id}}, sensing.ErrStationNotFound)
	if err != nil {
		return sensing.Station{}, err
	}
	return stationFromDoc(d), nil
}

// ListStations implements the sensing stores.
func (s *Store) ListStations(ctx context.Context, operatorID string) ([]sensing.Station, error) {
	filter := bson.D{}
	if operatorID != "" {
		filter = bson.D{{Key: "operator_id", Value: operatorID}}
	}
	cur, err := s.stations.Find(ctx, filter, options.Find().SetSort(keys("_id")))
	if err != nil {
		return nil, fmt.Errorf("list stations: %w", err)
	}
	var docs []stationDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read stations: %w", err)
	}
	out := make([]sensing.Station, 0, len(docs))
	for _, d := range docs {
		out = append(out, stationFromDoc(d))
	}
	return out, nil
}

// ReplaceStation implements the sensing stores with an optimistic version check.
func (s *Store) ReplaceStation(ctx context.Context, st sensing.Station) error {
	res, err := s.stations.ReplaceOne(ctx, bson.D{{Key: "_id", Value: st.ID}, {Key: "version", Value: st.Version - 1}}, stationToDoc(st))
	if err != nil {
		return fmt.Errorf("replace station %s: %w", st.ID, err)
	}
	if res.MatchedCount == 0 {
		return sensing.ErrVersionConflict
	}
	return nil
}

// InsertReadings implements the sensing stores: one unordered insert; duplicate keys mark repeats.
func (s *Store) InsertReadings(ctx context.Context, rs []sensing.Reading) ([]int, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	docs := make([]any, len(rs))
	for i, r := range rs {
		docs[i] = readingToDoc(r)
	}
	_, err := s.readings.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	dups, err := mongodb.Duplicates(err)
	if err != nil {
		return nil, fmt.Errorf("insert %d readings: %w", len(rs), err)
	}
	return dups, nil
}

func (s *Store) findReadings(ctx context.Context, filter bson.D, opts ...options.Lister[options.FindOptions]) ([]sensing.Reading, error) {
	cur, err := s.readings.Find(ctx, filter, opts...)
	if err != nil {
		return nil, fmt.Errorf("find readings: %w", err)
	}
	defer cur.Close(ctx)
	out := []sensing.Reading{}
	for cur.Next(ctx) {
		var d readingDoc
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("decode reading: %w", err)
		}
		out = append(out, readingFromDoc(d))
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read readings: %w", err)
	}
	return out, nil
}

// GetReadings implements the sensing stores.
func (s *Store) GetReadings(ctx context.Context, keys []string) ([]sensing.Reading, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	return s.findReadings(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}})
}

// after adds the "newer-first, after the cursor" condition on (field, _id).
func after(filter bson.D, field string, c *sensing.Cursor) bson.D {
	if c == nil {
		return filter
	}
	return append(filter, bson.E{Key: "$or", Value: bson.A{
		bson.D{{Key: field, Value: bson.D{{Key: "$lt", Value: c.At}}}},
		bson.D{{Key: field, Value: c.At}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: c.ID}}}},
	}})
}

func addIf(d bson.D, k, v string) bson.D {
	if v != "" {
		d = append(d, bson.E{Key: k, Value: v})
	}
	return d
}

// ListReadings implements the sensing stores.
func (s *Store) ListReadings(ctx context.Context, f sensing.ReadingFilter, c *sensing.Cursor, limit int) ([]sensing.Reading, error) {
	filter := bson.D{}
	if f.PlateKey != "" {
		p := sensing.SplitPlateKey(f.PlateKey)
		filter = append(filter, bson.E{Key: "plate", Value: p.Plate}, bson.E{Key: "plate_colour", Value: string(p.Colour)})
	}
	filter = addIf(filter, "plate", f.Plate)
	filter = addIf(filter, "station_id", f.StationID)
	filter = addIf(filter, "operator_id", f.OperatorID)
	filter = addIf(filter, "fleet_id", f.FleetID)
	filter = addIf(filter, "verdict", string(f.Verdict))
	if !f.From.IsZero() || !f.To.IsZero() {
		rng := bson.D{}
		if !f.From.IsZero() {
			rng = append(rng, bson.E{Key: "$gte", Value: f.From})
		}
		if !f.To.IsZero() {
			rng = append(rng, bson.E{Key: "$lt", Value: f.To})
		}
		filter = append(filter, bson.E{Key: "measured_at", Value: rng})
	}
	filter = after(filter, "measured_at", c)
	return s.findReadings(ctx, filter, options.Find().SetSort(keys("-measured_at", "-_id")).SetLimit(int64(limit)))
}

// SetJudgement implements the sensing stores: only a reading still pending takes a verdict.
func (s *Store) SetJudgement(ctx context.Context, r sensing.Reading) (bool, error) {
	d := readingToDoc(r)
	set := bson.D{{Key: "verdict", Value: d.Verdict}, {Key: "table_version", Value: d.TableVersion}, {Key: "reasons", Value: d.Reasons},
		{Key: "exceedances", Value: d.Exceedances}, {Key: "vin", Value: d.VIN}, {Key: "fuel_type", Value: d.FuelType}, {Key: "maker", Value: d.Maker},
		{Key: "fleet_id", Value: d.FleetID}, {Key: "inspection_station", Value: d.InspectionStation},
		{Key: "registered_place", Value: d.RegisteredPlace}, {Key: "operator_id", Value: d.OperatorID}, {Key: "judged_at", Value: d.JudgedAt}}
	res, err := s.readings.UpdateOne(ctx, bson.D{{Key: "_id", Value: r.Key}, {Key: "verdict", Value: string(sensing.Pending)}},
		bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return false, fmt.Errorf("judge reading %s: %w", r.Key, err)
	}
	return res.MatchedCount == 1, nil
}

// InsertExceedances implements the sensing stores.
func (s *Store) InsertExceedances(ctx context.Context, es []sensing.Exceedance) error {
	if len(es) == 0 {
		return nil
	}
	docs := make([]any, len(es))
	for i, e := range es {
		docs[i] = exceedanceToDoc(e)
	}
	_, err := s.exceedances.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if _, err := mongodb.Duplicates(err); err != nil {
		return fmt.Errorf("insert %d exceedances: %w", len(es), err)
	}
	return nil
}

// ExceedancesOf implements the sensing stores.
func (s *Store) ExceedancesOf(ctx context.Context, plateKeys []string, since time.Time) ([]sensing.Exceedance, error) {
	if len(plateKeys) == 0 {
		return nil, nil
	}
	cur, err := s.exceedances.Find(ctx, bson.D{{Key: "plate_key", Value: bson.D{{Key: "$in", Value: plateKeys}}},
		{Key: "measured_at", Value: bson.D{{Key: "$gte", Value: since}}}})
	if err != nil {
		return nil, fmt.Errorf("find exceedances: %w", err)
	}
	var docs []exceedanceDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read exceedances: %w", err)
	}
	out := make([]sensing.Exceedance, 0, len(docs))
	for _, d := range docs {
		out = append(out, exceedanceFromDoc(d))
	}
	return out, nil
}

// InsertCase implements the sensing stores; the unique open key refuses a second open case.
func (s *Store) InsertCase(ctx context.Context, c sensing.Case) error {
	d := caseToDoc(c)
	rs, err := events.Records(sensing.OpeningEvents(c)...)
	if err != nil {
		return err
	}
	// The new case's part is published through its readings' outbox job; its events leave
	// through its own outbox.
	d.Fields = outbox.New(c.UpdatedAt, rs...)
	return mongodb.InsertOne(ctx, s.cases, d, sensing.ErrCaseOpen)
}

func (s *Store) findCases(ctx context.Context, filter bson.D, opts ...options.Lister[options.FindOptions]) ([]sensing.Case, error) {
	cur, err := s.cases.Find(ctx, filter, opts...)
	if err != nil {
		return nil, fmt.Errorf("find cases: %w", err)
	}
	var docs []caseDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read cases: %w", err)
	}
	out := make([]sensing.Case, 0, len(docs))
	for _, d := range docs {
		out = append(out, caseFromDoc(d))
	}
	return out, nil
}

// GetCase implements the sensing stores.
func (s *Store) GetCase(ctx context.Context, id string) (sensing.Case, error) {
	d, err := mongodb.FindOne[caseDoc](ctx, s.cases, bson.D{{Key: "_id", Value: id}}, sensing.ErrCaseNotFound)
	if err != nil {
		return sensing.Case{}, err
	}
	return caseFromDoc(d), nil
}

func openStates() bson.A {
	a := bson.A{}
	for _, st := range sensing.OpenStates {
		a = append(a, string(st))
	}
	return a
}

// CasesOf implements the sensing stores.
func (s *Store) CasesOf(ctx context.Context, plateKeys []string, endedSince time.Time) ([]sensing.Case, error) {
	if len(plateKeys) == 0 {
		return nil, nil
	}
	return s.findCases(ctx, bson.D{{Key: "plate_key", Value: bson.D{{Key: "$in", Value: plateKeys}}},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "state", Value: bson.D{{Key: "$in", Value: openStates()}}}},
			bson.D{{Key: "ended_at", Value: bson.D{{Key: "$gte", Value: endedSince}}}},
		}}})
}

// ListCases implements the sensing stores.
func (s *Store) ListCases(ctx context.Context, f sensing.CaseFilter, c *sensing.Cursor, limit int) ([]sensing.Case, error) {
	filter := bson.D{}
	filter = addIf(filter, "plate_key", f.PlateKey)
	filter = addIf(filter, "plate", f.Plate)
	filter = addIf(filter, "state", string(f.State))
	filter = addIf(filter, "pollutant", string(f.Pollutant))
	filter = addIf(filter, "fleet_id", f.FleetID)
	filter = addIf(filter, "repair_shop_id", f.RepairShopID)
	filter = after(filter, "opened_at", c)
	return s.findCases(ctx, filter, options.Find().SetSort(keys("-opened_at", "-_id")).SetLimit(int64(limit)))
}

// UpdateCase implements the sensing stores: one update guarded by the state and version read, that
// sets the new state and appends the history entry ($push: FerretDB has no positional updates,
// and history is append-only anyway).
func (s *Store) UpdateCase(ctx context.Context, c sensing.Case, from sensing.State, e sensing.Entry) error {
	d := caseToDoc(c)
	set := bson.D{{Key: "state", Value: d.State}, {Key: "open_key", Value: d.OpenKey}, {Key: "state_since", Value: d.StateSince},
		{Key: "repair_shop_id", Value: d.RepairShopID}, {Key: "updated_at", Value: d.UpdatedAt}, {Key: "version", Value: d.Version}}
	if d.EndedAt != nil {
		set = append(set, bson.E{Key: "ended_at", Value: *d.EndedAt})
	}
	upd := bson.D{{Key: "$push", Value: bson.D{{Key: "history", Value: entryToDoc(e)}}}}
	if d.Repair != nil {
		set = append(set, bson.E{Key: "repair", Value: d.Repair})
	} else {
		// A change of repair shop takes the earlier shop's report off the case (it stays in the
		// history); the case carries whatever report it has, so this is a no-op otherwise.
		upd = append(upd, bson.E{Key: "$unset", Value: bson.D{{Key: "repair", Value: ""}}})
	}
	if d.RetestReadingKey != "" {
		set = append(set, bson.E{Key: "retest_reading_key", Value: d.RetestReadingKey})
	}
	rs, err := events.Records(sensing.StepEvents(c, e)...)
	if err != nil {
		return err
	}
	res, err := s.cases.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: c.ID}, {Key: "state", Value: string(from)}, {Key: "version", Value: c.Version - 1}},
		outbox.Append(append(bson.D{{Key: "$set", Value: set}}, upd...), c.UpdatedAt, append([]outbox.Record{outbox.Part(c.PlateKey())}, rs...)...))
	if err != nil {
		return fmt.Errorf("update case %s: %w", c.ID, err)
	}
	if res.MatchedCount == 0 {
		return sensing.ErrVersionConflict
	}
	return nil
}

// AckCase implements the sensing stores.
func (s *Store) AckCase(ctx context.Context, id string, version int64) error {
	return outbox.Ack(ctx, s.cases, id, "version", version)
}

// PartSources are the collections whose outbox records libs/partsync delivers.
func (s *Store) PartSources() []partsync.Source {
	return []partsync.Source{{Coll: s.cases, VersionField: "version"}}
}

// InsertJob implements the sensing stores.
func (s *Store) InsertJob(ctx context.Context, j sensing.Job) error {
	_, err := s.jobs.InsertOne(ctx, jobDoc{ID: j.ID, ReadingKeys: j.ReadingKeys, CreatedAt: j.CreatedAt.UTC(), NotBefore: j.NotBefore.UTC(), Attempts: j.Attempts})
	if err != nil {
		return fmt.Errorf("insert job: %w", err)
	}
	return nil
}

// DueJobs implements the sensing stores.
func (s *Store) DueJobs(ctx context.Context, now time.Time, limit int) ([]sensing.Job, error) {
	cur, err := s.jobs.Find(ctx, bson.D{{Key: "not_before", Value: bson.D{{Key: "$lte", Value: now}}}},
		options.Find().SetSort(keys("not_before")).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find jobs: %w", err)
	}
	var docs []jobDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read jobs: %w", err)
	}
	out := make([]sensing.Job, 0, len(docs))
	for _, d := range docs {
		out = append(out, sensing.Job{ID: d.ID, ReadingKeys: d.ReadingKeys, CreatedAt: d.CreatedAt.UTC(), NotBefore: d.NotBefore.UTC(), Attempts: d.Attempts})
	}
	return out, nil
}

// ClaimJob implements the sensing stores: one conditional update, so of two replicas only one
// matches the job's current time.
func (s *Store) ClaimJob(ctx context.Context, id string, notBefore, until time.Time) (bool, error) {
	res, err := s.jobs.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "not_before", Value: notBefore.UTC()}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "not_before", Value: until.UTC()}}}})
	if err != nil {
		return false, fmt.Errorf("claim job %s: %w", id, err)
	}
	return res.MatchedCount == 1, nil
}

// limitVersionDoc is a version added at run time; the version itself is kept as its JSON text
// (its rows and window are nested documents and arrays FerretDB stores unevenly).
type limitVersionDoc struct {
	Name          string    `bson:"_id"`
	EffectiveFrom time.Time `bson:"effective_from"`
	VersionJSON   string    `bson:"version_json"`
	AddedAt       time.Time `bson:"added_at"`
	AddedBy       string    `bson:"added_by"`
}

// InsertLimitVersion implements the sensing stores.
func (s *Store) InsertLimitVersion(ctx context.Context, v sensing.StoredLimitVersion) error {
	raw, err := json.Marshal(v.Version)
	if err != nil {
		return fmt.Errorf("encode limit version %s: %w", v.Version.Version, err)
	}
	return mongodb.InsertOne(ctx, s.db.Collection(LimitVersions), limitVersionDoc{Name: v.Version.Version, EffectiveFrom: v.Version.EffectiveFrom.UTC(),
		VersionJSON: string(raw), AddedAt: v.AddedAt.UTC(), AddedBy: v.AddedBy}, sensing.ErrLimitVersionExists)
}

// LimitVersions implements the sensing stores: oldest first.
func (s *Store) LimitVersions(ctx context.Context) ([]sensing.StoredLimitVersion, error) {
	cur, err := s.db.Collection(LimitVersions).Find(ctx, bson.D{}, options.Find().SetSort(keys("effective_from")))
	if err != nil {
		return nil, fmt.Errorf("find limit versions: %w", err)
	}
	var docs []limitVersionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read limit versions: %w", err)
	}
	out := make([]sensing.StoredLimitVersion, 0, len(docs))
	for _, d := range docs {
		var v limits.Version
		if err := json.Unmarshal([]byte(d.VersionJSON), &v); err != nil {
			return nil, fmt.Errorf("limit version %s: %w", d.Name, err)
		}
		out = append(out, sensing.StoredLimitVersion{Version: v, AddedAt: d.AddedAt.UTC(), AddedBy: d.AddedBy})
	}
	return out, nil
}

// RescheduleJob implements the sensing stores.
func (s *Store) RescheduleJob(ctx context.Context, id string, notBefore time.Time, attempts int) error {
	_, err := s.jobs.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "not_before", Value: notBefore.UTC()}, {Key: "attempts", Value: attempts}}}})
	if err != nil {
		return fmt.Errorf("reschedule job %s: %w", id, err)
	}
	return nil
}

// DeleteJob implements the sensing stores.
func (s *Store) DeleteJob(ctx context.Context, id string) error {
	if _, err := s.jobs.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("delete job %s: %w", id, err)
	}
	return nil
}

// Tally implements the sensing stores: one $group on fields written with each reading (FerretDB
// counts with $sum: 1 but cannot sum a field, so the verdict is part of the group key).
func (s *Store) Tally(ctx context.Context, from, to time.Time) ([]sensing.TallyRow, error) {
	cur, err := s.readings.Aggregate(ctx, mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "measured_at", Value: bson.D{{Key: "$gte", Value: from}, {Key: "$lt", Value: to}}},
			{Key: "verdict", Value: bson.D{{Key: "$in", Value: bson.A{string(sensing.Pass), string(sensing.Exceed)}}}}}}},
		{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: bson.D{{Key: "p", Value: "$plate"}, {Key: "c", Value: "$plate_colour"}, {Key: "m", Value: "$maker"},
				{Key: "s", Value: "$inspection_station"}, {Key: "f", Value: "$fleet_id"}, {Key: "v", Value: "$verdict"}}},
			{Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}},
		}}},
	})
	if err != nil {
		return nil, fmt.Errorf("tally readings: %w", err)
	}
	var rows []struct {
		ID struct {
			P string `bson:"p"`
			C string `bson:"c"`
			M string `bson:"m"`
			S string `bson:"s"`
			F string `bson:"f"`
			V string `bson:"v"`
		} `bson:"_id"`
		N int `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("read tally: %w", err)
	}
	out := make([]sensing.TallyRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, sensing.TallyRow{PlateKey: vehicleid.Key(r.ID.P, vehicleid.Colour(r.ID.C)), Maker: r.ID.M, InspectionStation: r.ID.S,
			FleetID: r.ID.F, Exceeded: r.ID.V == string(sensing.Exceed), Readings: r.N})
	}
	return out, nil
}

// CasesOpened implements the sensing stores.
func (s *Store) CasesOpened(ctx context.Context, from, to time.Time) ([]sensing.Case, error) {
	return s.findCases(ctx, bson.D{{Key: "opened_at", Value: bson.D{{Key: "$gte", Value: from}, {Key: "$lt", Value: to}}}})
}

// ActivePlates implements the sensing stores.
func (s *Store) ActivePlates(ctx context.Context, since time.Time) ([]sensing.Plate, error) {
	var keys []string
	for _, q := range []struct {
		coll   *mongo.Collection
		filter bson.D
	}{
		{s.exceedances, bson.D{{Key: "measured_at", Value: bson.D{{Key: "$gte", Value: since}}}}},
		{s.cases, bson.D{{Key: "state", Value: bson.D{{Key: "$in", Value: openStates()}}}}},
	} {
		res := q.coll.Distinct(ctx, "plate_key", q.filter)
		var ks []string
		if err := res.Decode(&ks); err != nil {
			return nil, fmt.Errorf("distinct plates of %s: %w", q.coll.Name(), err)
		}
		keys = append(keys, ks...)
	}
	seen := map[string]bool{}
	out := make([]sensing.Plate, 0, len(keys))
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, sensing.SplitPlateKey(k))
	}
	return out, nil
}

var (
	_ sensing.StationStore = (*Store)(nil)
	_ sensing.ReadingStore = (*Store)(nil)
	_ sensing.CaseStore    = (*Store)(nil)
	_ sensing.LimitStore   = (*Store)(nil)
	_ sensing.JobStore     = (*Store)(nil)
	_ sensing.ReportStore  = (*Store)(nil)
)
