// Package samplingstore keeps the fuel service's records in MongoDB: sites, lab contracts,
// samples and their append-only revisions, non-conformance cases and the limit table versions.
// It is the only fuel package that knows BSON. Every collection name starts with "fuel_", as
// the all-in-one shares one database among the services.
package samplingstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
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
	{Collection: Revisions, Keys: bson.D{{Key: "sample_id", Value: 1}, {Key: "number", Value: 1}}, Unique: true, Name: "sample_number_unique"},
	{Collection: Cases, Keys: bson.D{{Key: "opened_at", Value: -1}, {Key: "_id", Value: -1}}, Name: "opened_at_id"},
	{Collection: Cases, Keys: bson.D{{Key: "site_id", Value: 1}, {Key: "opened_at", Value: -1}}, Name: "site_opened_at"},
	{Collection: Cases, Keys: bson.D{{Key: "status", Value: 1}, {Key: "escalated", Value: 1}}, Name: "status_escalated"},
	{Collection: Labs, Keys: bson.D{{Key: "site_ids", Value: 1}}, Name: "site_ids"},
}

// Store is the MongoDB implementation of sampling.Store.
type Store struct {
	db                                         *mongo.Database
	sites, labs, samples, revisions, cases, tb *mongo.Collection
}

// New returns a store on db.
func New(db *mongo.Database) *Store {
	return &Store{db: db, sites: db.Collection(Sites), labs: db.Collection(Labs), samples: db.Collection(Samples),
		revisions: db.Collection(Revisions), cases: db.Collection(Cases), tb: db.Collection(Tables)}
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

// InsertSite implements sampling.Store.
func (s *Store) InsertSite(ctx context.Context, site sampling.Site) error {
	return mongodb.InsertOne(ctx, s.sites, toSiteDoc(site), sampling.ErrSiteExists)
}

// GetSite implements sampling.Store.
func (s *Store) GetSite(ctx context.Context, id string) (sampling.Site, error) {
	d, err := mongodb.FindOne[siteDoc](ctx, s.sites, bson.D{{Key: "_id", Value: id}}, sampling.ErrSiteNotFound)
	if err != nil {
		return sampling.Site{}, err
	}
	return d.site(), nil
}

// GetSites implements sampling.Store.
func (s *Store) GetSites(ctx context.Context, ids []string) (map[string]sampling.Site, error) {
	out := map[string]sampling.Site{}
	if len(ids) == 0 {
		return out, nil
	}
	cur, err := s.sites.Find(ctx, bson.D{{Key: "_id", Value: in(ids)}})
	if err != nil {
		return nil, fmt.Errorf("find sites: %w", err)
	}
	sites, err := all(ctx, cur, siteDoc.site)
	if err != nil {
		return nil, fmt.Errorf("sites: %w", err)
	}
	for _, site := range sites {
		out[site.ID] = site
	}
	return out, nil
}

// ReplaceSite implements sampling.Store.
func (s *Store) ReplaceSite(ctx context.Context, site sampling.Site) error {
	res, err := s.sites.ReplaceOne(ctx, bson.D{{Key: "_id", Value: site.ID}, {Key: "version", Value: site.Version - 1}}, toSiteDoc(site))
	if err != nil {
		return fmt.Errorf("replace site %s: %w", site.ID, err)
	}
	if res.MatchedCount == 0 {
		return sampling.ErrVersionConflict
	}
	return nil
}

// ListSites implements sampling.Store.
func (s *Store) ListSites(ctx context.Context, f sampling.SiteFilter, afterID string, limit int) ([]sampling.Site, error) {
	filter := bson.D{}
	if f.Kind != "" {
		filter = append(filter, bson.E{Key: "kind", Value: string(f.Kind)})
	}
	if f.Unlicensed != nil {
		filter = append(filter, bson.E{Key: "unlicensed", Value: *f.Unlicensed})
	}
	if f.Supplier != "" {
		filter = append(filter, bson.E{Key: "suppliers", Value: f.Supplier})
	}
	idCond := bson.D{}
	if f.IDs != nil {
		idCond = append(idCond, bson.E{Key: "$in", Value: f.IDs})
	}
	if afterID != "" {
		idCond = append(idCond, bson.E{Key: "$gt", Value: afterID})
	}
	if len(idCond) > 0 {
		filter = append(filter, bson.E{Key: "_id", Value: idCond})
	}
	cur, err := s.sites.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list sites: %w", err)
	}
	return all(ctx, cur, siteDoc.site)
}

// SitesSuppliedBy implements sampling.Store.
func (s *Store) SitesSuppliedBy(ctx context.Context, ids []string) ([]sampling.Site, error) {
	cur, err := s.sites.Find(ctx, bson.D{{Key: "suppliers", Value: in(ids)}}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("find supplied sites: %w", err)
	}
	return all(ctx, cur, siteDoc.site)
}

// SitesOfKind implements sampling.Store.
func (s *Store) SitesOfKind(ctx context.Context, k sampling.Kind) ([]sampling.Site, error) {
	cur, err := s.sites.Find(ctx, bson.D{{Key: "kind", Value: string(k)}}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("find sites of kind %s: %w", k, err)
	}
	return all(ctx, cur, siteDoc.site)
}

// PutLab implements sampling.Store.
func (s *Store) PutLab(ctx context.Context, l sampling.Lab) error {
	d := labDoc{ID: l.ID, Name: l.Name, SiteIDs: l.SiteIDs, UpdatedAt: l.UpdatedAt, UpdatedBy: l.UpdatedBy, Version: l.Version}
	if d.SiteIDs == nil {
		d.SiteIDs = []string{}
	}
	if l.Version == 1 {
		_, err := s.labs.InsertOne(ctx, d)
		if mongodb.IsDuplicateKey(err) {
			return sampling.ErrVersionConflict
		}
		if err != nil {
			return fmt.Errorf("insert lab %s: %w", l.ID, err)
		}
		return nil
	}
	res, err := s.labs.ReplaceOne(ctx, bson.D{{Key: "_id", Value: l.ID}, {Key: "version", Value: l.Version - 1}}, d)
	if err != nil {
		return fmt.Errorf("replace lab %s: %w", l.ID, err)
	}
	if res.MatchedCount == 0 {
		return sampling.ErrVersionConflict
	}
	return nil
}

func (d labDoc) lab() sampling.Lab {
	return sampling.Lab{ID: d.ID, Name: d.Name, SiteIDs: d.SiteIDs, UpdatedAt: d.UpdatedAt.UTC(), UpdatedBy: d.UpdatedBy, Version: d.Version}
}

// GetLab implements sampling.Store.
func (s *Store) GetLab(ctx context.Context, id string) (sampling.Lab, error) {
	d, err := mongodb.FindOne[labDoc](ctx, s.labs, bson.D{{Key: "_id", Value: id}}, sampling.ErrLabNotFound)
	if err != nil {
		return sampling.Lab{}, err
	}
	return d.lab(), nil
}

// ListLabs implements sampling.Store.
func (s *Store) ListLabs(ctx context.Context) ([]sampling.Lab, error) {
	cur, err := s.labs.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list labs: %w", err)
	}
	return all(ctx, cur, labDoc.lab)
}

// GetSample implements sampling.Store.
func (s *Store) GetSample(ctx context.Context, id string) (sampling.Sample, error) {
	d, err := mongodb.FindOne[sampleDoc](ctx, s.samples, bson.D{{Key: "_id", Value: id}}, sampling.ErrSampleNotFound)
	if err != nil {
		return sampling.Sample{}, err
	}
	return d.sample(), nil
}

// GetSamples implements sampling.Store.
func (s *Store) GetSamples(ctx context.Context, ids []string) (map[string]sampling.Sample, error) {
	out := map[string]sampling.Sample{}
	if len(ids) == 0 {
		return out, nil
	}
	cur, err := s.samples.Find(ctx, bson.D{{Key: "_id", Value: in(ids)}})
	if err != nil {
		return nil, fmt.Errorf("find samples: %w", err)
	}
	ss, err := all(ctx, cur, sampleDoc.sample)
	if err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	for _, sm := range ss {
		out[sm.ID] = sm
	}
	return out, nil
}

// InsertSamples implements sampling.Store with one unordered batch.
func (s *Store) InsertSamples(ctx context.Context, ss []sampling.Sample) ([]string, error) {
	if len(ss) == 0 {
		return nil, nil
	}
	docs := make([]any, len(ss))
	for i, sm := range ss {
		docs[i] = toSampleDoc(sm)
	}
	_, err := s.samples.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	dups, err := mongodb.Duplicates(err)
	if err != nil {
		return nil, fmt.Errorf("insert samples: %w", err)
	}
	existing := make([]string, 0, len(dups))
	for _, i := range dups {
		existing = append(existing, ss[i].ID)
	}
	return existing, nil
}

// ReplaceSample implements sampling.Store.
func (s *Store) ReplaceSample(ctx context.Context, sm sampling.Sample, base int) error {
	res, err := s.samples.ReplaceOne(ctx, bson.D{{Key: "_id", Value: sm.ID}, {Key: "revision", Value: base}}, toSampleDoc(sm))
	if err != nil {
		return fmt.Errorf("replace sample %s: %w", sm.ID, err)
	}
	if res.MatchedCount == 0 {
		return sampling.ErrRevisionConflict
	}
	return nil
}

// ListSamples implements sampling.Store.
func (s *Store) ListSamples(ctx context.Context, f sampling.SampleFilter, after sampling.Key, limit int) ([]sampling.Sample, error) {
	filter := bson.D{}
	add := func(k, v string) {
		if v != "" {
			filter = append(filter, bson.E{Key: k, Value: v})
		}
	}
	add("site_id", f.SiteID)
	add("lab_id", f.LabID)
	add("product", string(f.Product))
	add("verdict", string(f.Verdict))
	add("month", f.Month)
	if f.SiteIDs != nil {
		filter = append(filter, bson.E{Key: "site_id", Value: in(f.SiteIDs)})
	}
	filter = mongodb.NewestFirst(filter, "sampled_at", after)
	cur, err := s.samples.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "sampled_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list samples: %w", err)
	}
	return all(ctx, cur, sampleDoc.sample)
}

// SetSampleCase implements sampling.Store.
func (s *Store) SetSampleCase(ctx context.Context, sampleID, caseID string, revision int) error {
	set := bson.D{{Key: "case_pending", Value: false}}
	if caseID != "" {
		set = append(set, bson.E{Key: "case_id", Value: caseID})
	}
	_, err := s.samples.UpdateOne(ctx, bson.D{{Key: "_id", Value: sampleID}, {Key: "revision", Value: revision}}, bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return fmt.Errorf("record case of sample %s: %w", sampleID, err)
	}
	return nil
}

// CasePending implements sampling.Store.
func (s *Store) CasePending(ctx context.Context, limit int) ([]sampling.Sample, error) {
	cur, err := s.samples.Find(ctx, bson.D{{Key: "case_pending", Value: true}}, options.Find().SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find case-pending samples: %w", err)
	}
	return all(ctx, cur, sampleDoc.sample)
}

// FailuresAt implements sampling.Store.
func (s *Store) FailuresAt(ctx context.Context, siteID string, from, to time.Time) ([]string, error) {
	cur, err := s.samples.Find(ctx, bson.D{{Key: "site_id", Value: siteID}, {Key: "verdict", Value: string(limits.Fail)},
		{Key: "sampled_at", Value: bson.D{{Key: "$gt", Value: from}, {Key: "$lte", Value: to}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetSort(bson.D{{Key: "sampled_at", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("find failures at %s: %w", siteID, err)
	}
	type idDoc struct {
		ID string `bson:"_id"`
	}
	ids, err := all(ctx, cur, func(d idDoc) string { return d.ID })
	if err != nil {
		return nil, fmt.Errorf("failures at %s: %w", siteID, err)
	}
	return ids, nil
}

// SampleStats implements sampling.Store: one projected scan of the kind's samples.
func (s *Store) SampleStats(ctx context.Context, k sampling.Kind, before time.Time) ([]sampling.SampleStat, error) {
	type statDoc struct {
		SiteID    string    `bson:"site_id"`
		SampledAt time.Time `bson:"sampled_at"`
		Verdict   string    `bson:"verdict"`
		Source    string    `bson:"source"`
	}
	cur, err := s.samples.Find(ctx, bson.D{{Key: "site_kind", Value: string(k)}, {Key: "sampled_at", Value: bson.D{{Key: "$lt", Value: before}}}},
		options.Find().SetProjection(bson.D{{Key: "site_id", Value: 1}, {Key: "sampled_at", Value: 1}, {Key: "verdict", Value: 1}, {Key: "source", Value: 1}}).SetBatchSize(2000))
	if err != nil {
		return nil, fmt.Errorf("scan samples of %s: %w", k, err)
	}
	return all(ctx, cur, func(d statDoc) sampling.SampleStat {
		return sampling.SampleStat{SiteID: d.SiteID, SampledAt: d.SampledAt.UTC(), Verdict: limits.Verdict(d.Verdict), Source: sampling.Source(d.Source)}
	})
}

// CoverageCounts implements sampling.Store with a $group on the month bucket stored with each
// sample ($sum is one of the accumulators FerretDB has).
func (s *Store) CoverageCounts(ctx context.Context, k sampling.Kind, year int) ([]sampling.SiteMonth, error) {
	pipeline := mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "site_kind", Value: string(k)}, {Key: "year", Value: year}, {Key: "source", Value: string(sampling.Supervisory)}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: bson.D{{Key: "site", Value: "$site_id"}, {Key: "month", Value: "$month"}}},
			{Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	}
	cur, err := s.samples.Aggregate(ctx, pipeline)
	if err != nil {
		return nil, fmt.Errorf("count coverage of %s in %d: %w", k, year, err)
	}
	type groupDoc struct {
		ID struct {
			Site  string `bson:"site"`
			Month string `bson:"month"`
		} `bson:"_id"`
		N int `bson:"n"`
	}
	return all(ctx, cur, func(d groupDoc) sampling.SiteMonth {
		return sampling.SiteMonth{SiteID: d.ID.Site, Month: d.ID.Month, Samples: d.N}
	})
}

// InsertRevisions implements sampling.Store with one unordered batch.
func (s *Store) InsertRevisions(ctx context.Context, rs []sampling.Revision) ([]sampling.Revision, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	docs := make([]any, len(rs))
	for i, r := range rs {
		docs[i] = revisionDoc{ID: fmt.Sprintf("%s#%d", r.SampleID, r.Number), SampleID: r.SampleID, Number: r.Number,
			Results: toOutcomes(r.Results), Findings: toFindings(r.Findings), Verdict: string(r.Verdict), LimitsVersion: r.LimitsVersion,
			Reason: r.Reason, By: r.By, Role: string(r.Role), At: r.At, Hash: r.Hash}
	}
	_, err := s.revisions.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	dups, err := mongodb.Duplicates(err)
	if err != nil {
		return nil, fmt.Errorf("insert revisions: %w", err)
	}
	var existing []sampling.Revision
	for _, i := range dups {
		var d revisionDoc
		id := docs[i].(revisionDoc).ID
		if err := s.revisions.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
			return nil, fmt.Errorf("read revision %s: %w", id, err)
		}
		existing = append(existing, d.revision())
	}
	return existing, nil
}

// ListRevisions implements sampling.Store.
func (s *Store) ListRevisions(ctx context.Context, sampleID string) ([]sampling.Revision, error) {
	cur, err := s.revisions.Find(ctx, bson.D{{Key: "sample_id", Value: sampleID}}, options.Find().SetSort(bson.D{{Key: "number", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list revisions of %s: %w", sampleID, err)
	}
	return all(ctx, cur, revisionDoc.revision)
}

// InsertCase implements sampling.Store.
func (s *Store) InsertCase(ctx context.Context, c sampling.Case) error {
	return mongodb.InsertOne(ctx, s.cases, toCaseDoc(c), sampling.ErrCaseExists)
}

// GetCase implements sampling.Store.
func (s *Store) GetCase(ctx context.Context, id string) (sampling.Case, error) {
	d, err := mongodb.FindOne[caseDoc](ctx, s.cases, bson.D{{Key: "_id", Value: id}}, sampling.ErrCaseNotFound)
	if err != nil {
		return sampling.Case{}, err
	}
	return d.toCase(), nil
}

// ReplaceCase implements sampling.Store.
func (s *Store) ReplaceCase(ctx context.Context, c sampling.Case) error {
	res, err := s.cases.ReplaceOne(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "version", Value: c.Version - 1}}, toCaseDoc(c))
	if err != nil {
		return fmt.Errorf("replace case %s: %w", c.ID, err)
	}
	if res.MatchedCount == 0 {
		return sampling.ErrVersionConflict
	}
	return nil
}

// ListCases implements sampling.Store.
func (s *Store) ListCases(ctx context.Context, f sampling.CaseFilter, after sampling.Key, limit int) ([]sampling.Case, error) {
	filter := bson.D{}
	if f.SiteID != "" {
		filter = append(filter, bson.E{Key: "site_id", Value: f.SiteID})
	}
	if f.Status != "" {
		filter = append(filter, bson.E{Key: "status", Value: string(f.Status)})
	}
	if f.Escalated != nil {
		filter = append(filter, bson.E{Key: "escalated", Value: *f.Escalated})
	}
	filter = mongodb.NewestFirst(filter, "opened_at", after)
	cur, err := s.cases.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "opened_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return all(ctx, cur, caseDoc.toCase)
}

// InsertTable implements sampling.Store; the table is kept as its JSON text.
func (s *Store) InsertTable(ctx context.Context, t sampling.StoredTable) error {
	raw, err := json.Marshal(t.Table)
	if err != nil {
		return fmt.Errorf("encode limit table: %w", err)
	}
	return mongodb.InsertOne(ctx, s.tb, tableDoc{Version: t.Version, Name: t.Table.Name, Hash: t.Hash, Source: t.Source, LoadedAt: t.LoadedAt,
		LoadedBy: t.LoadedBy, TableJSON: string(raw)}, sampling.ErrTableVersionTaken)
}

func (d tableDoc) stored() (sampling.StoredTable, error) {
	var t limits.Table // validated when it was stored
	if err := json.Unmarshal([]byte(d.TableJSON), &t); err != nil {
		return sampling.StoredTable{}, fmt.Errorf("stored limit table %d: %w", d.Version, err)
	}
	return sampling.StoredTable{Version: d.Version, Table: t, Hash: d.Hash, Source: d.Source, LoadedAt: d.LoadedAt.UTC(), LoadedBy: d.LoadedBy}, nil
}

// LatestTable implements sampling.Store.
func (s *Store) LatestTable(ctx context.Context) (sampling.StoredTable, error) {
	d, err := mongodb.FindOne[tableDoc](ctx, s.tb, bson.D{}, sampling.ErrTableNotFound, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}}))
	if err != nil {
		return sampling.StoredTable{}, err
	}
	return d.stored()
}

// LatestTableVersion implements sampling.Store.
func (s *Store) LatestTableVersion(ctx context.Context) (int, error) {
	var d struct {
		Version int `bson:"_id"`
	}
	err := s.tb.FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}}).SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&d)
	if mongodb.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("find latest limit table version: %w", err)
	}
	return d.Version, nil
}

// TableVersion implements sampling.Store.
func (s *Store) TableVersion(ctx context.Context, v int) (sampling.StoredTable, error) {
	d, err := mongodb.FindOne[tableDoc](ctx, s.tb, bson.D{{Key: "_id", Value: v}}, sampling.ErrTableNotFound)
	if err != nil {
		return sampling.StoredTable{}, err
	}
	return d.stored()
}
