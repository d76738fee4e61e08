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

// InsertRevisions implements sampling.RevisionStore with one unordered batch.
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

// ListRevisions implements sampling.RevisionStore.
func (s *Store) ListRevisions(ctx context.Context, sampleID string) ([]sampling.Revision, error) {
	cur, err := s.revisions.Find(ctx, bson.D{{Key: "sample_id", Value: sampleID}}, options.Find().SetSort(bson.D{{Key: "number", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list revisions of %s: %w", sampleID, err)
	}
	return all(ctx, cur, revisionDoc.revision)
}
