package samplingstore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
)

type labDoc struct {
	ID        string    `bson:"_id"`
	Name      string    `bson:"name"`
	SiteIDs   []string  `bson:"site_ids"`
	UpdatedAt time.Time `bson:"updated_at"`
	UpdatedBy string    `bson:"updated_by"`
	Version   int64     `bson:"version"`
}

// PutLab implements sampling.LabStore.
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

// GetLab implements sampling.LabStore.
func (s *Store) GetLab(ctx context.Context, id string) (sampling.Lab, error) {
	d, err := mongodb.FindOne[labDoc](ctx, s.labs, bson.D{{Key: "_id", Value: id}}, sampling.ErrLabNotFound)
	if err != nil {
		return sampling.Lab{}, err
	}
	return d.lab(), nil
}

// ListLabs implements sampling.LabStore.
func (s *Store) ListLabs(ctx context.Context) ([]sampling.Lab, error) {
	cur, err := s.labs.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list labs: %w", err)
	}
	return all(ctx, cur, labDoc.lab)
}
