package permitstore

import (
	"context"
	"fmt"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

func (s *Store) collection(c permit.Collection) (*mongo.Collection, error) {
	switch c {
	case permit.PermitRecords:
		return s.permits, nil
	case permit.PassRecords:
		return s.passes, nil
	case permit.ViolationRecords:
		return s.violations, nil
	}
	return nil, fmt.Errorf("no collection for %q", c)
}

var outboxColls = []permit.Collection{permit.PermitRecords, permit.PassRecords, permit.ViolationRecords}

// Dirty implements permit.Store: up to limit flagged records of each collection.
func (s *Store) Dirty(ctx context.Context, limit int) ([]permit.Ref, error) {
	var out []permit.Ref
	for _, c := range outboxColls {
		coll, _ := s.collection(c)
		opts := options.Find().SetLimit(int64(limit)).SetProjection(bson.D{key("_id", 1), key("version", 1), key("plate_key", 1)})
		refs, err := findAll(ctx, coll, bson.D{key("cache_dirty", true)}, opts, func(d struct {
			ID       string `bson:"_id"`
			Version  int64  `bson:"version"`
			PlateKey string `bson:"plate_key"`
		}) (permit.Ref, error) {
			return permit.Ref{Coll: c, ID: d.ID, Version: d.Version, PlateKey: d.PlateKey}, nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, refs...)
	}
	return out, nil
}

// ClearDirty implements permit.Store: a record's flag is cleared only if it is still at the
// version the summary was built from.
func (s *Store) ClearDirty(ctx context.Context, refs []permit.Ref) error {
	for _, r := range refs {
		coll, err := s.collection(r.Coll)
		if err != nil {
			return err
		}
		_, err = coll.UpdateOne(ctx, bson.D{key("_id", r.ID), key("version", r.Version)}, bson.D{key("$set", bson.D{key("cache_dirty", false)})})
		if err != nil {
			return fmt.Errorf("clear cache flag of %s %s: %w", r.Coll, r.ID, err)
		}
	}
	return nil
}

// PlateKeys implements permit.Store with distinct over the three collections.
func (s *Store) PlateKeys(ctx context.Context, fn func(string) error) error {
	seen := map[string]bool{}
	for _, c := range outboxColls {
		coll, _ := s.collection(c)
		res := coll.Distinct(ctx, "plate_key", bson.D{})
		if err := res.Err(); err != nil {
			return fmt.Errorf("distinct plates of %s: %w", coll.Name(), err)
		}
		var keys []string
		if err := res.Decode(&keys); err != nil {
			return fmt.Errorf("decode plates of %s: %w", coll.Name(), err)
		}
		for _, k := range keys {
			if k != "" {
				seen[k] = true
			}
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

var _ permit.Store = (*Store)(nil)
