package samplingstore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
)

type revisionDoc struct {
	ID            string       `bson:"_id"` // sample id "#" number
	SampleID      string       `bson:"sample_id"`
	Number        int          `bson:"number"`
	Results       []outcomeDoc `bson:"results"`
	Findings      []findingDoc `bson:"findings"`
	Verdict       string       `bson:"verdict"`
	LimitsVersion int          `bson:"limits_version"`
	Reason        string       `bson:"reason"`
	By            string       `bson:"by"`
	Role          string       `bson:"role"`
	At            time.Time    `bson:"at"`
	Hash          string       `bson:"hash"`
}

func (d revisionDoc) revision() sampling.Revision {
	return sampling.Revision{SampleID: d.SampleID, Number: d.Number, Results: fromOutcomes(d.Results), Findings: fromFindings(d.Findings),
		Verdict: limits.Verdict(d.Verdict), LimitsVersion: d.LimitsVersion, Reason: d.Reason, By: d.By, Role: auth.Role(d.Role), At: d.At.UTC(), Hash: d.Hash}
}

// InsertRevisions implements sampling.RevisionStore: the revisions already stored are read in
// one query and the others inserted in one unordered batch. (FerretDB takes seconds per
// thousand for inserts refused as duplicates, which a re-sent import would be.)
func (s *Store) InsertRevisions(ctx context.Context, rs []sampling.Revision) ([]sampling.Revision, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = fmt.Sprintf("%s#%d", r.SampleID, r.Number)
	}
	stored := map[string]sampling.Revision{}
	read := func(ids []string) error {
		cur, err := s.revisions.Find(ctx, bson.D{{Key: "_id", Value: in(ids)}}, options.Find().SetBatchSize(2000))
		if err != nil {
			return fmt.Errorf("find revisions: %w", err)
		}
		defer cur.Close(ctx)
		for cur.Next(ctx) {
			var d revisionDoc
			if err := cur.Decode(&d); err != nil {
				return fmt.Errorf("decode revision: %w", err)
			}
			stored[d.ID] = d.revision()
		}
		return cur.Err()
	}
	if err := read(ids); err != nil {
		return nil, err
	}
	var docs []any
	for i, r := range rs {
		if _, ok := stored[ids[i]]; ok {
			continue
		}
		docs = append(docs, revisionDoc{ID: ids[i], SampleID: r.SampleID, Number: r.Number,
			Results: toOutcomes(r.Results), Findings: toFindings(r.Findings), Verdict: string(r.Verdict), LimitsVersion: r.LimitsVersion,
			Reason: r.Reason, By: r.By, Role: string(r.Role), At: r.At, Hash: r.Hash})
	}
	if len(docs) > 0 {
		_, err := s.revisions.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		dups, err := mongodb.Duplicates(err)
		if err != nil {
			return nil, fmt.Errorf("insert revisions: %w", err)
		}
		if len(dups) > 0 { // written meanwhile by another writer
			var raced []string
			for _, i := range dups {
				raced = append(raced, docs[i].(revisionDoc).ID)
			}
			if err := read(raced); err != nil {
				return nil, err
			}
		}
	}
	var existing []sampling.Revision
	for i := range rs {
		if r, ok := stored[ids[i]]; ok {
			existing = append(existing, r)
		}
	}
	return existing, nil
}

// ListRevisions implements sampling.RevisionStore.
func (s *Store) ListRevisions(ctx context.Context, sampleID string) ([]sampling.Revision, error) {
	cur, err := s.revisions.Find(ctx, bson.D{{Key: "sample_id", Value: sampleID}}, options.Find().SetSort(bson.D{{Key: "number", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list revisions of %s: %w", sampleID, err)
	}
	return all(ctx, cur, revisionDoc.revision)
}
