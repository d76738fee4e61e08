package samplingstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
)

type tableDoc struct {
	Version   int       `bson:"_id"`
	Name      string    `bson:"name"`
	Hash      string    `bson:"hash"`
	Source    string    `bson:"source"`
	LoadedAt  time.Time `bson:"loaded_at"`
	LoadedBy  string    `bson:"loaded_by"`
	TableJSON string    `bson:"table_json"` // the table as JSON text: read and written whole, never queried
}

// InsertTable implements sampling.TableStore; the table is kept as its JSON text.
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

// LatestTable implements sampling.TableStore.
func (s *Store) LatestTable(ctx context.Context) (sampling.StoredTable, error) {
	d, err := mongodb.FindOne[tableDoc](ctx, s.tb, bson.D{}, sampling.ErrTableNotFound, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}}))
	if err != nil {
		return sampling.StoredTable{}, err
	}
	return d.stored()
}

// LatestTableVersion implements sampling.TableStore.
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

// TableVersion implements sampling.TableStore.
func (s *Store) TableVersion(ctx context.Context, v int) (sampling.StoredTable, error) {
	d, err := mongodb.FindOne[tableDoc](ctx, s.tb, bson.D{{Key: "_id", Value: v}}, sampling.ErrTableNotFound)
	if err != nil {
		return sampling.StoredTable{}, err
	}
	return d.stored()
}
