package vehiclestore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/services/registry/internal/vehicle"
)

// The collections of taxis' catalyst replacements and of the bureau's run-time settings.
const (
	Catalysts = "vehicle_catalysts"
	Settings  = "registry_settings"
)

type catalystDoc struct {
	ID         string    `bson:"_id"` // <vin>:<day>: one replacement a day per taxi
	VIN        string    `bson:"vin"`
	FleetID    string    `bson:"fleet_id,omitempty"`
	ReplacedOn time.Time `bson:"replaced_on"`
	Shop       string    `bson:"shop"`
	Note       string    `bson:"note,omitempty"`
	RecordedBy string    `bson:"recorded_by"`
	RecordedAt time.Time `bson:"recorded_at"`
}

// InsertCatalyst implements vehicle.CatalystStore; the same taxi and day twice is a conflict.
func (s *Store) InsertCatalyst(ctx context.Context, c vehicle.CatalystReplacement) error {
	_, err := s.vehicles.Database().Collection(Catalysts).InsertOne(ctx, catalystDoc{ID: c.ID, VIN: c.VIN, FleetID: c.FleetID,
		ReplacedOn: c.ReplacedOn.UTC(), Shop: c.Shop, Note: c.Note, RecordedBy: c.RecordedBy, RecordedAt: c.RecordedAt.UTC()})
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("a replacement of this taxi's converter on %s is recorded already: %w", c.ReplacedOn.Format(time.DateOnly), apperr.ErrConflict)
	}
	return err
}

// LatestCatalysts implements vehicle.CatalystStore.
func (s *Store) LatestCatalysts(ctx context.Context) (map[string]time.Time, error) {
	cur, err := s.vehicles.Database().Collection(Catalysts).Find(ctx, bson.D{},
		options.Find().SetProjection(bson.D{{Key: "vin", Value: 1}, {Key: "replaced_on", Value: 1}}))
	if err != nil {
		return nil, err
	}
	var docs []catalystDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(docs))
	for _, d := range docs {
		if d.ReplacedOn.After(out[d.VIN]) {
			out[d.VIN] = d.ReplacedOn.UTC()
		}
	}
	return out, nil
}

type settingDoc struct {
	ID      string    `bson:"_id"` // <key>:<version>: a version is taken once
	Key     string    `bson:"key"`
	Value   int       `bson:"value"`
	Version int       `bson:"version"`
	SetBy   string    `bson:"set_by"`
	SetAt   time.Time `bson:"set_at"`
	Reason  string    `bson:"reason"`
}

// InsertSetting implements vehicle.CatalystStore.
func (s *Store) InsertSetting(ctx context.Context, st vehicle.Setting) error {
	_, err := s.vehicles.Database().Collection(Settings).InsertOne(ctx, settingDoc{ID: fmt.Sprintf("%s:%d", st.Key, st.Version),
		Key: st.Key, Value: st.Value, Version: st.Version, SetBy: st.SetBy, SetAt: st.SetAt.UTC(), Reason: st.Reason})
	if mongo.IsDuplicateKeyError(err) {
		return vehicle.ErrSettingChanged
	}
	return err
}

// Settings implements vehicle.CatalystStore.
func (s *Store) Settings(ctx context.Context, key string) ([]vehicle.Setting, error) {
	cur, err := s.vehicles.Database().Collection(Settings).Find(ctx, bson.D{{Key: "key", Value: key}},
		options.Find().SetSort(bson.D{{Key: "version", Value: -1}}))
	if err != nil {
		return nil, err
	}
	var docs []settingDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]vehicle.Setting, len(docs))
	for i, d := range docs {
		out[i] = vehicle.Setting{Key: d.Key, Value: d.Value, Version: d.Version, SetBy: d.SetBy, SetAt: d.SetAt.UTC(), Reason: d.Reason}
	}
	return out, nil
}
