package permitstore

import (
	"context"
	"fmt"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/libs/partsync"
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

// Ack implements the permit stores: a record's outbox is cleared only if it is still at the version
// the summary was built from.
func (s *Store) Ack(ctx context.Context, refs []permit.Ref) error {
	for _, r := range refs {
		coll, err := s.collection(r.Coll)
		if err != nil {
			return err
		}
		if err := outbox.Ack(ctx, coll, r.ID, "version", r.Version); err != nil {
			return err
		}
	}
	return nil
}

// PartSources are the collections whose outbox records libs/partsync delivers.
func (s *Store) PartSources() []partsync.Source {
	out := make([]partsync.Source, 0, len(outboxColls))
	for _, c := range outboxColls {
		coll, _ := s.collection(c)
		out = append(out, partsync.Source{Coll: coll, VersionField: "version"})
	}
	return out
}

// PlateKeys implements the permit stores with distinct over the three collections.
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

var (
	_ permit.SiteStore      = (*Store)(nil)
	_ permit.PermitStore    = (*Store)(nil)
	_ permit.PassStore      = (*Store)(nil)
	_ permit.ViolationStore = (*Store)(nil)
	_ permit.RecordStore    = (*Store)(nil)
)
