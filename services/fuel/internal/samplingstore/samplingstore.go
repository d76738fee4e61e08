// Package samplingstore keeps the fuel service's records in MongoDB: sites, lab contracts,
// samples and their append-only revisions, non-conformance cases and the limit table versions.
// It is the only fuel package that knows BSON. Every collection name starts with "fuel_", as
// the all-in-one shares one database among the services.
package samplingstore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
)

// Collections.
const (
	Sites     = "fuel_sites"
	Labs      = "fuel_labs"
	Samples   = "fuel_samples"
	Revisions = "fuel_sample_revisions"
	Cases     = "fuel_cases"
	Tables    = "fuel_limit_tables"
	// Imports are the CSV import jobs; ImportFiles the files of those not finished yet.
	Imports     = "fuel_sample_imports"
	ImportFiles = "fuel_sample_import_files"
)

// Indexes are the indexes the store needs; Store.EnsureIndexes creates them.
var Indexes = []mongodb.Index{
	{Collection: Sites, Keys: bson.D{{Key: "kind", Value: 1}, {Key: "_id", Value: 1}}, Name: "kind_id"},
	{Collection: Sites, Keys: bson.D{{Key: "suppliers", Value: 1}}, Name: "suppliers"},
	{Collection: Samples, Keys: bson.D{{Key: "sampled_at", Value: -1}, {Key: "_id", Value: -1}}, Name: "sampled_at_id"},
	{Collection: Samples, Keys: bson.D{{Key: "site_id", Value: 1}, {Key: "sampled_at", Value: -1}}, Name: "site_sampled_at"},
	{Collection: Samples, Keys: bson.D{{Key: "site_id", Value: 1}, {Key: "verdict", Value: 1}, {Key: "sampled_at", Value: 1}}, Name: "site_verdict_sampled_at"},
	{Collection: Samples, Keys: bson.D{{Key: "site_kind", Value: 1}, {Key: "year", Value: 1}, {Key: "source", Value: 1}}, Name: "kind_year_source"},
	{Collection: Samples, Keys: bson.D{{Key: "site_kind", Value: 1}, {Key: "sampled_at", Value: 1}}, Name: "kind_sampled_at"},
	{Collection: Samples, Keys: bson.D{{Key: "case_pending", Value: 1}}, Name: "case_pending"},
	{Collection: Samples, Keys: bson.D{{Key: outbox.FieldDue, Value: 1}}, Name: outbox.FieldDue},
	{Collection: Cases, Keys: bson.D{{Key: outbox.FieldDue, Value: 1}}, Name: outbox.FieldDue},
	{Collection: Revisions, Keys: bson.D{{Key: "sample_id", Value: 1}, {Key: "number", Value: 1}}, Unique: true, Name: "sample_number_unique"},
	{Collection: Cases, Keys: bson.D{{Key: "opened_at", Value: -1}, {Key: "_id", Value: -1}}, Name: "opened_at_id"},
	{Collection: Cases, Keys: bson.D{{Key: "site_id", Value: 1}, {Key: "opened_at", Value: -1}}, Name: "site_opened_at"},
	{Collection: Cases, Keys: bson.D{{Key: "status", Value: 1}, {Key: "escalated", Value: 1}}, Name: "status_escalated"},
	{Collection: Labs, Keys: bson.D{{Key: "site_ids", Value: 1}}, Name: "site_ids"},
	{Collection: Imports, Keys: bson.D{{Key: "status", Value: 1}, {Key: "lease_until", Value: 1}}, Name: "status_lease"},
}

// Store is the MongoDB implementation of every store the sampling core declares, one file per
// aggregate: sites.go, labs.go, samples.go, revisions.go, cases.go, tables.go.
type Store struct {
	db                                         *mongo.Database
	sites, labs, samples, revisions, cases, tb *mongo.Collection
	imports, importFiles                       *mongo.Collection
}

var (
	_ sampling.SiteStore     = (*Store)(nil)
	_ sampling.LabStore      = (*Store)(nil)
	_ sampling.SampleStore   = (*Store)(nil)
	_ sampling.RevisionStore = (*Store)(nil)
	_ sampling.CaseStore     = (*Store)(nil)
	_ sampling.TableStore    = (*Store)(nil)
)

// New returns a store on db.
func New(db *mongo.Database) *Store {
	return &Store{db: db, sites: db.Collection(Sites), labs: db.Collection(Labs), samples: db.Collection(Samples),
		revisions: db.Collection(Revisions), cases: db.Collection(Cases), tb: db.Collection(Tables),
		imports: db.Collection(Imports), importFiles: db.Collection(ImportFiles)}
}

// EnsureIndexes creates the store's indexes that policy keeps.
func (s *Store) EnsureIndexes(ctx context.Context, policy mongodb.IndexPolicy) error {
	return mongodb.EnsureIndexes(ctx, s.db, Indexes, policy)
}

// all decodes every document of cur through conv.
func all[D, T any](ctx context.Context, cur *mongo.Cursor, conv func(D) T) ([]T, error) {
	defer cur.Close(ctx)
	var out []T
	for cur.Next(ctx) {
		var d D
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		out = append(out, conv(d))
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return out, nil
}

func in(ids []string) bson.D { return bson.D{{Key: "$in", Value: ids}} }

// EventsRunners deliver the events (libs/events) that samples and cases carry in their outbox.
func (s *Store) EventsRunners(sink *events.Sink) []*outbox.Runner {
	return []*outbox.Runner{sink.Runner(s.samples, "revision"), sink.Runner(s.cases, "version")}
}
