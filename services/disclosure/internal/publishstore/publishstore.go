// Package publishstore keeps the disclosure lists in MongoDB, one document per version of a
// month's list. It is the only disclosure package that knows BSON.
package publishstore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/disclosure"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/services/disclosure/internal/publish"
)

// Lists is the collection.
const Lists = "disclosure_lists"

// Indexes are the store's indexes.
var Indexes = []mongodb.Index{
	{Collection: Lists, Keys: bson.D{{Key: "kind", Value: 1}, {Key: "month", Value: 1}, {Key: "version", Value: -1}}, Name: "kind_month_version", Unique: true},
	{Collection: Lists, Keys: bson.D{{Key: "state", Value: 1}, {Key: "month", Value: -1}}, Name: "state_month"},
}

type stampDoc struct {
	At time.Time `bson:"at"`
	By string    `bson:"by"`
}

type rowDoc struct {
	N        int                    `bson:"n"`
	Vehicle  *disclosure.VehicleRow `bson:"vehicle,omitempty"`
	Fuel     *disclosure.FuelRow    `bson:"fuel,omitempty"`
	Muck     *disclosure.MuckRow    `bson:"muck,omitempty"`
	Withheld string                 `bson:"withheld,omitempty"`
}

type listDoc struct {
	ID        string    `bson:"_id"`
	Kind      string    `bson:"kind"`
	Month     string    `bson:"month"`
	Version   int       `bson:"version"`
	State     string    `bson:"state"`
	Rows      []rowDoc  `bson:"rows"`
	Note      string    `bson:"note,omitempty"`
	Compiled  stampDoc  `bson:"compiled"`
	Published *stampDoc `bson:"published,omitempty"`
	Ended     *stampDoc `bson:"ended,omitempty"`
	Reason    string    `bson:"reason,omitempty"`
	Rev       int64     `bson:"rev"`
}

// Store is the MongoDB implementation of publish.Store.
type Store struct{ c *mongo.Collection }

// New returns the store on db.
func New(db *mongo.Database) *Store { return &Store{c: db.Collection(Lists)} }

// EnsureIndexes creates the indexes.
func (s *Store) EnsureIndexes(ctx context.Context, policy mongodb.IndexPolicy) error {
	return mongodb.EnsureIndexes(ctx, s.c.Database(), Indexes, policy)
}

func stamp(s *publish.Stamp) *stampDoc {
	if s == nil {
		return nil
	}
	return &stampDoc{At: s.At, By: s.By}
}

func unstamp(s *stampDoc) *publish.Stamp {
	if s == nil {
		return nil
	}
	return &publish.Stamp{At: s.At, By: s.By}
}

func toDoc(l publish.List) listDoc {
	d := listDoc{ID: l.ID, Kind: string(l.Kind), Month: string(l.Month), Version: l.Version, State: string(l.State), Rows: make([]rowDoc, len(l.Rows)),
		Note: l.Note, Compiled: stampDoc{At: l.Compiled.At, By: l.Compiled.By}, Published: stamp(l.Published), Ended: stamp(l.Ended), Reason: l.Reason, Rev: l.Rev}
	for i, r := range l.Rows {
		d.Rows[i] = rowDoc{N: r.N, Vehicle: r.Vehicle, Fuel: r.Fuel, Muck: r.Muck, Withheld: r.Withheld}
	}
	return d
}

func fromDoc(d listDoc) publish.List {
	l := publish.List{ID: d.ID, Kind: disclosure.Kind(d.Kind), Month: disclosure.Month(d.Month), Version: d.Version, State: publish.State(d.State),
		Rows: make([]publish.Row, len(d.Rows)), Note: d.Note, Compiled: publish.Stamp{At: d.Compiled.At, By: d.Compiled.By},
		Published: unstamp(d.Published), Ended: unstamp(d.Ended), Reason: d.Reason, Rev: d.Rev}
	for i, r := range d.Rows {
		l.Rows[i] = publish.Row{N: r.N, Vehicle: r.Vehicle, Fuel: r.Fuel, Muck: r.Muck, Withheld: r.Withheld}
	}
	return l
}

func (s *Store) find(ctx context.Context, filter bson.D, opts ...options.Lister[options.FindOptions]) ([]publish.List, error) {
	cur, err := s.c.Find(ctx, filter, opts...)
	if err != nil {
		return nil, err
	}
	var ds []listDoc
	if err := cur.All(ctx, &ds); err != nil {
		return nil, err
	}
	out := make([]publish.List, len(ds))
	for i, d := range ds {
		out[i] = fromDoc(d)
	}
	return out, nil
}

// Versions returns the month's list's versions, newest first.
func (s *Store) Versions(ctx context.Context, k disclosure.Kind, m disclosure.Month) ([]publish.List, error) {
	return s.find(ctx, bson.D{{Key: "kind", Value: string(k)}, {Key: "month", Value: string(m)}}, options.Find().SetSort(bson.D{{Key: "version", Value: -1}}))
}

// Get returns one version.
func (s *Store) Get(ctx context.Context, id string) (publish.List, error) {
	d, err := mongodb.FindOne[listDoc](ctx, s.c, bson.D{{Key: "_id", Value: id}}, publish.ErrNotFound)
	if err != nil {
		return publish.List{}, err
	}
	return fromDoc(d), nil
}

// Insert stores a new version.
func (s *Store) Insert(ctx context.Context, l publish.List) error {
	return mongodb.InsertOne(ctx, s.c, toDoc(l), fmt.Errorf("the list %s was compiled at the same moment by someone else: %w", l.ID, apperr.ErrConflict))
}

// Replace writes l over the version at revision l.Rev.
func (s *Store) Replace(ctx context.Context, l publish.List) error {
	d := toDoc(l)
	d.Rev = l.Rev + 1
	res, err := s.c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: l.ID}, {Key: "rev", Value: l.Rev}}, d)
	if err != nil {
		return err
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("the list %s changed meanwhile: read it again: %w", l.ID, apperr.ErrConflict)
	}
	return nil
}

// List returns lists by state, kind and month (empty: any), newest month and version first.
func (s *Store) List(ctx context.Context, state publish.State, k disclosure.Kind, m disclosure.Month, limit int) ([]publish.List, error) {
	f := bson.D{}
	if state != "" {
		f = append(f, bson.E{Key: "state", Value: string(state)})
	}
	if k != "" {
		f = append(f, bson.E{Key: "kind", Value: string(k)})
	}
	if m != "" {
		f = append(f, bson.E{Key: "month", Value: string(m)})
	}
	return s.find(ctx, f, options.Find().SetSort(bson.D{{Key: "month", Value: -1}, {Key: "kind", Value: 1}, {Key: "version", Value: -1}}).SetLimit(int64(limit)))
}
