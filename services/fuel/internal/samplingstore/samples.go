package samplingstore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
)

type limitDoc struct {
	Product       string     `bson:"product"`
	Grades        []string   `bson:"grades,omitempty"`
	Parameter     string     `bson:"parameter"`
	Comparison    string     `bson:"comparison"`
	Limit         *float64   `bson:"limit,omitempty"`
	Min           *float64   `bson:"min,omitempty"`
	Max           *float64   `bson:"max,omitempty"`
	Unit          string     `bson:"unit"`
	Standard      string     `bson:"standard"`
	Stage         string     `bson:"stage,omitempty"`
	Clause        string     `bson:"clause"`
	EffectiveFrom time.Time  `bson:"effective_from"`
	EffectiveTo   *time.Time `bson:"effective_to,omitempty"`
	Confirm       bool       `bson:"confirm,omitempty"`
	Note          string     `bson:"note,omitempty"`
}

type outcomeDoc struct {
	Parameter     string    `bson:"parameter"`
	Value         float64   `bson:"value"`
	Unit          string    `bson:"unit"`
	Canonical     float64   `bson:"value_canonical"`
	CanonicalUnit string    `bson:"unit_canonical"`
	Verdict       string    `bson:"verdict"`
	Limit         *limitDoc `bson:"limit,omitempty"`
	Message       string    `bson:"message"`
}

type findingDoc struct {
	Code     string `bson:"code"`
	Standard string `bson:"standard"`
	Clause   string `bson:"clause"`
	Message  string `bson:"message"`
}

func toOutcomes(os []limits.Outcome) []outcomeDoc {
	out := make([]outcomeDoc, 0, len(os))
	for _, o := range os {
		d := outcomeDoc{Parameter: o.Parameter, Value: o.Value, Unit: o.Unit, Canonical: o.Canonical, CanonicalUnit: o.CanonicalUnit,
			Verdict: string(o.Verdict), Message: o.Message}
		if l := o.Limit; l != nil {
			d.Limit = &limitDoc{Product: string(l.Product), Grades: l.Grades, Parameter: l.Parameter, Comparison: string(l.Comparison),
				Limit: l.Limit, Min: l.Min, Max: l.Max, Unit: l.Unit, Standard: l.Standard, Stage: l.Stage, Clause: l.Clause,
				EffectiveFrom: l.EffectiveFrom.Time, Confirm: l.Confirm, Note: l.Note}
			if l.EffectiveTo != nil {
				t := l.EffectiveTo.Time
				d.Limit.EffectiveTo = &t
			}
		}
		out = append(out, d)
	}
	return out
}

func fromOutcomes(ds []outcomeDoc) []limits.Outcome {
	out := make([]limits.Outcome, 0, len(ds))
	for _, d := range ds {
		o := limits.Outcome{Parameter: d.Parameter, Value: d.Value, Unit: d.Unit, Canonical: d.Canonical, CanonicalUnit: d.CanonicalUnit,
			Verdict: limits.Verdict(d.Verdict), Message: d.Message}
		if l := d.Limit; l != nil {
			o.Limit = &limits.Limit{Product: limits.Product(l.Product), Grades: l.Grades, Parameter: l.Parameter, Comparison: limits.Comparison(l.Comparison),
				Limit: l.Limit, Min: l.Min, Max: l.Max, Unit: l.Unit, Standard: l.Standard, Stage: l.Stage, Clause: l.Clause,
				EffectiveFrom: limits.Day{Time: l.EffectiveFrom.UTC()}, Confirm: l.Confirm, Note: l.Note}
			if l.EffectiveTo != nil {
				o.Limit.EffectiveTo = &limits.Day{Time: l.EffectiveTo.UTC()}
			}
		}
		out = append(out, o)
	}
	return out
}

func toFindings(fs []limits.Finding) []findingDoc {
	out := make([]findingDoc, 0, len(fs))
	for _, f := range fs {
		out = append(out, findingDoc(f))
	}
	return out
}

func fromFindings(ds []findingDoc) []limits.Finding {
	var out []limits.Finding
	for _, d := range ds {
		out = append(out, limits.Finding(d))
	}
	return out
}

type sampleDoc struct {
	ID            string       `bson:"_id"`
	SiteID        string       `bson:"site_id"`
	SiteKind      string       `bson:"site_kind"`
	Product       string       `bson:"product"`
	Grade         string       `bson:"grade"`
	Declared      string       `bson:"declared,omitempty"`
	Label         string       `bson:"label,omitempty"`
	SampledAt     time.Time    `bson:"sampled_at"`
	Month         string       `bson:"month"`
	Year          int          `bson:"year"`
	Source        string       `bson:"source"`
	LabID         string       `bson:"lab_id,omitempty"`
	UploadedBy    string       `bson:"uploaded_by"`
	UploaderRole  string       `bson:"uploader_role"`
	UploadedAt    time.Time    `bson:"uploaded_at"`
	Verdict       string       `bson:"verdict"`
	Results       []outcomeDoc `bson:"results"`
	Findings      []findingDoc `bson:"findings"`
	LimitsVersion int          `bson:"limits_version"`
	Revision      int          `bson:"revision"`
	ContentHash   string       `bson:"content_hash"`
	CaseID        string       `bson:"case_id,omitempty"`
	CasePending   bool         `bson:"case_pending"`
	UpdatedAt     time.Time    `bson:"updated_at"`
	UpdatedBy     string       `bson:"updated_by"`
	// The outbox of the sample's events (libs/events), guarded by its revision.
	outbox.Fields `bson:",inline"`
}

func toSampleDoc(s sampling.Sample) sampleDoc {
	return sampleDoc{ID: s.ID, SiteID: s.SiteID, SiteKind: string(s.SiteKind), Product: string(s.Product), Grade: s.Grade, Declared: string(s.Declared),
		Label: s.Label, SampledAt: s.SampledAt.UTC(), Month: s.Month, Year: s.Year, Source: string(s.Source), LabID: s.LabID,
		UploadedBy: s.UploadedBy, UploaderRole: string(s.UploaderRole), UploadedAt: s.UploadedAt, Verdict: string(s.Verdict),
		Results: toOutcomes(s.Results), Findings: toFindings(s.Findings), LimitsVersion: s.LimitsVersion, Revision: s.Revision,
		ContentHash: s.ContentHash, CaseID: s.CaseID, CasePending: s.CasePending, UpdatedAt: s.UpdatedAt, UpdatedBy: s.UpdatedBy}
}

func (d sampleDoc) sample() sampling.Sample {
	return sampling.Sample{ID: d.ID, SiteID: d.SiteID, SiteKind: sampling.Kind(d.SiteKind), Product: limits.Product(d.Product), Grade: d.Grade,
		Declared: limits.Stage(d.Declared), Label: d.Label, SampledAt: d.SampledAt.UTC(), Month: d.Month, Year: d.Year,
		Source: sampling.Source(d.Source), LabID: d.LabID, UploadedBy: d.UploadedBy, UploaderRole: auth.Role(d.UploaderRole),
		UploadedAt: d.UploadedAt.UTC(), Verdict: limits.Verdict(d.Verdict), Results: fromOutcomes(d.Results), Findings: fromFindings(d.Findings),
		LimitsVersion: d.LimitsVersion, Revision: d.Revision, ContentHash: d.ContentHash, CaseID: d.CaseID, CasePending: d.CasePending,
		UpdatedAt: d.UpdatedAt.UTC(), UpdatedBy: d.UpdatedBy}
}

// GetSample implements sampling.SampleStore.
func (s *Store) GetSample(ctx context.Context, id string) (sampling.Sample, error) {
	d, err := mongodb.FindOne[sampleDoc](ctx, s.samples, bson.D{{Key: "_id", Value: id}}, sampling.ErrSampleNotFound)
	if err != nil {
		return sampling.Sample{}, err
	}
	return d.sample(), nil
}

// GetSamples implements sampling.SampleStore.
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

// InsertSamples implements sampling.SampleStore with one unordered batch.
func (s *Store) InsertSamples(ctx context.Context, ss []sampling.Sample) ([]string, error) {
	if len(ss) == 0 {
		return nil, nil
	}
	docs := make([]any, len(ss))
	for i, sm := range ss {
		d := toSampleDoc(sm)
		rs, err := events.Records(sm.Outgoing...)
		if err != nil {
			return nil, err
		}
		d.Fields = outbox.New(time.Now(), rs...)
		docs[i] = d
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

// ReplaceSample implements sampling.SampleStore.
func (s *Store) ReplaceSample(ctx context.Context, sm sampling.Sample, base int) error {
	d := toSampleDoc(sm)
	rs, err := events.Records(sm.Outgoing...)
	if err != nil {
		return err
	}
	if d.Fields, err = outbox.Carry(ctx, s.samples, sm.ID, time.Now(), rs...); err != nil {
		return err
	}
	res, err := s.samples.ReplaceOne(ctx, bson.D{{Key: "_id", Value: sm.ID}, {Key: "revision", Value: base}}, d)
	if err != nil {
		return fmt.Errorf("replace sample %s: %w", sm.ID, err)
	}
	if res.MatchedCount == 0 {
		return sampling.ErrRevisionConflict
	}
	return nil
}

// ListSamples implements sampling.SampleStore.
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

// SetSampleCases implements sampling.SampleStore, one guarded update per sample. (FerretDB
// writes each document of an UpdateMany or a bulk write as slowly as one UpdateOne, so batching
// these gains nothing there; imports avoid them altogether, docs/fuel.md.)
func (s *Store) SetSampleCases(ctx context.Context, links []sampling.CaseLink) error {
	for _, l := range links {
		set := bson.D{{Key: "case_pending", Value: false}}
		if l.CaseID != "" {
			set = append(set, bson.E{Key: "case_id", Value: l.CaseID})
		}
		_, err := s.samples.UpdateOne(ctx, bson.D{{Key: "_id", Value: l.SampleID}, {Key: "revision", Value: l.Revision}}, bson.D{{Key: "$set", Value: set}})
		if err != nil {
			return fmt.Errorf("record case of sample %s: %w", l.SampleID, err)
		}
	}
	return nil
}

// CasePending implements sampling.SampleStore.
func (s *Store) CasePending(ctx context.Context, limit int) ([]sampling.Sample, error) {
	cur, err := s.samples.Find(ctx, bson.D{{Key: "case_pending", Value: true}}, options.Find().SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find case-pending samples: %w", err)
	}
	return all(ctx, cur, sampleDoc.sample)
}

// FailuresAt implements sampling.SampleStore.
func (s *Store) FailuresAt(ctx context.Context, siteIDs []string, from, to time.Time) ([]sampling.Failure, error) {
	if len(siteIDs) == 0 {
		return nil, nil
	}
	cur, err := s.samples.Find(ctx, bson.D{{Key: "site_id", Value: in(siteIDs)}, {Key: "verdict", Value: string(limits.Fail)},
		{Key: "sampled_at", Value: bson.D{{Key: "$gt", Value: from}, {Key: "$lte", Value: to}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "site_id", Value: 1}, {Key: "sampled_at", Value: 1}}).
			SetSort(bson.D{{Key: "sampled_at", Value: 1}, {Key: "_id", Value: 1}}).SetBatchSize(2000))
	if err != nil {
		return nil, fmt.Errorf("find failures at %d sites: %w", len(siteIDs), err)
	}
	type failDoc struct {
		ID        string    `bson:"_id"`
		SiteID    string    `bson:"site_id"`
		SampledAt time.Time `bson:"sampled_at"`
	}
	fs, err := all(ctx, cur, func(d failDoc) sampling.Failure {
		return sampling.Failure{ID: d.ID, SiteID: d.SiteID, SampledAt: d.SampledAt.UTC()}
	})
	if err != nil {
		return nil, fmt.Errorf("failures at %d sites: %w", len(siteIDs), err)
	}
	return fs, nil
}

// SampleStats implements sampling.SampleStore: one projected scan of the kind's samples.
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

// CoverageCounts implements sampling.SampleStore with a $group on the month bucket stored with each
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
