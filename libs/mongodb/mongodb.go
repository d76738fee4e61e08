// Package mongodb connects ClearSky services to MongoDB (FerretDB in tests and the all-in-one),
// traces every command as an OpenTelemetry span, and declares the indexes each store needs.
//
// The otelmongo contrib package for driver v2 is not published on the module proxy these
// machines reach, so the command monitor here does the same job: one client span per command,
// named after the command, with the database semantic-convention attributes.
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/cursor"
)

// Connect opens a client to uri, pings it, and returns the named database. Commands are traced
// with tp when it is not nil.
func Connect(ctx context.Context, uri, database string, tp trace.TracerProvider) (*mongo.Client, *mongo.Database, error) {
	opts := options.Client().ApplyURI(uri).SetConnectTimeout(5 * time.Second).SetServerSelectionTimeout(5 * time.Second)
	if tp != nil {
		opts.SetMonitor(NewMonitor(tp))
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("connect mongodb: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx, readpref.Primary()); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, nil, fmt.Errorf("ping mongodb (is MONGODB_URI right and the server up?): %w", err)
	}
	return client, client.Database(database), nil
}

// Ping checks that the database answers; readiness probes call it.
func Ping(ctx context.Context, db *mongo.Database) error {
	return db.Client().Ping(ctx, readpref.Primary())
}

// Index is one index a store needs.
type Index struct {
	Collection string
	Keys       bson.D
	Unique     bool
	Name       string
}

// IndexPolicy says which of a store's declared indexes are built.
type IndexPolicy int

const (
	// AllIndexes builds every declared index: what MongoDB needs to answer queries fast.
	AllIndexes IndexPolicy = iota
	// UniqueIndexes builds only the unique ones, which enforce correctness. It is for FerretDB
	// v1, which keeps every index up to date on each write but never uses one to answer a
	// query: there a secondary index halves the insert rate and speeds up nothing.
	UniqueIndexes
)

func (p IndexPolicy) String() string {
	if p == UniqueIndexes {
		return "unique"
	}
	return "all"
}

// ResolveIndexPolicy turns the CLEARSKY_MONGODB_INDEXES setting into a policy: "all",
// "unique", or "auto" (or empty): unique on FerretDB, all on MongoDB.
func ResolveIndexPolicy(ctx context.Context, db *mongo.Database, setting string) (IndexPolicy, error) {
	switch setting {
	case "all":
		return AllIndexes, nil
	case "unique":
		return UniqueIndexes, nil
	case "", "auto":
		ferret, err := IsFerretDB(ctx, db)
		if err != nil {
			return AllIndexes, err
		}
		if ferret {
			return UniqueIndexes, nil
		}
		return AllIndexes, nil
	}
	return AllIndexes, fmt.Errorf("CLEARSKY_MONGODB_INDEXES is %q: use auto, all or unique", setting)
}

// IsFerretDB reports whether the server behind db is FerretDB (its buildInfo says so).
func IsFerretDB(ctx context.Context, db *mongo.Database) (bool, error) {
	var info bson.M
	if err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, fmt.Errorf("buildInfo: %w", err)
	}
	_, ok := info["ferretdbVersion"]
	return ok, nil
}

// EnsureIndexes creates the indexes the policy keeps (an existing identical index is left
// alone).
func EnsureIndexes(ctx context.Context, db *mongo.Database, indexes []Index, policy IndexPolicy) error {
	for _, ix := range indexes {
		if policy == UniqueIndexes && !ix.Unique {
			continue
		}
		opts := options.Index().SetName(ix.Name)
		if ix.Unique {
			opts.SetUnique(true)
		}
		_, err := db.Collection(ix.Collection).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.Keys, Options: opts})
		if err != nil {
			return fmt.Errorf("create index %s on %s: %w", ix.Name, ix.Collection, err)
		}
	}
	return nil
}

// InsertOne inserts doc into coll; a unique-index violation answers exists (the caller's
// "already there" error), any other failure names the collection.
func InsertOne(ctx context.Context, coll *mongo.Collection, doc any, exists error) error {
	_, err := coll.InsertOne(ctx, doc)
	if IsDuplicateKey(err) {
		return exists
	}
	if err != nil {
		return fmt.Errorf("insert into %s: %w", coll.Name(), err)
	}
	return nil
}

// IsDuplicateKey reports whether err is a unique-index violation.
func IsDuplicateKey(err error) bool { return mongo.IsDuplicateKeyError(err) }

// IsNotFound reports whether err means no document matched.
func IsNotFound(err error) bool { return errors.Is(err, mongo.ErrNoDocuments) }

// NewMonitor returns a command monitor that traces every command with tp.
func NewMonitor(tp trace.TracerProvider) *event.CommandMonitor {
	m := &monitor{tracer: tp.Tracer("github.com/clearsky/clearsky/libs/mongodb")}
	return &event.CommandMonitor{Started: m.started, Succeeded: m.succeeded, Failed: m.failed}
}

type monitor struct {
	tracer trace.Tracer
	spans  sync.Map // request id -> trace.Span
}

func (m *monitor) started(ctx context.Context, e *event.CommandStartedEvent) {
	attrs := []attribute.KeyValue{
		attribute.String("db.system", "mongodb"),
		attribute.String("db.name", e.DatabaseName),
		attribute.String("db.operation", e.CommandName),
	}
	if coll, ok := e.Command.Lookup(e.CommandName).StringValueOK(); ok {
		attrs = append(attrs, attribute.String("db.mongodb.collection", coll))
	}
	_, span := m.tracer.Start(ctx, "mongodb."+e.CommandName, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	m.spans.Store(e.RequestID, span)
}

func (m *monitor) succeeded(_ context.Context, e *event.CommandSucceededEvent) {
	if s, ok := m.spans.LoadAndDelete(e.RequestID); ok {
		s.(trace.Span).End()
	}
}

func (m *monitor) failed(_ context.Context, e *event.CommandFailedEvent) {
	if s, ok := m.spans.LoadAndDelete(e.RequestID); ok {
		span := s.(trace.Span)
		span.SetStatus(codes.Error, e.Failure.Error())
		span.End()
	}
}

// FindOne decodes the first document matching filter into a D. No match returns notFound;
// other failures are wrapped with the collection's name.
func FindOne[D any](ctx context.Context, coll *mongo.Collection, filter any, notFound error, opts ...options.Lister[options.FindOneOptions]) (D, error) {
	var d D
	err := coll.FindOne(ctx, filter, opts...).Decode(&d)
	if IsNotFound(err) {
		return d, notFound
	}
	if err != nil {
		return d, fmt.Errorf("find in %s: %w", coll.Name(), err)
	}
	return d, nil
}

// Duplicates reads the error of an unordered InsertMany: the positions refused as duplicate
// keys (a batch's repeats), or the error itself when anything else failed. A nil error has no
// duplicates.
func Duplicates(err error) ([]int, error) {
	if err == nil {
		return nil, nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return nil, err
	}
	out := make([]int, 0, len(bwe.WriteErrors))
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 && !mongo.IsDuplicateKeyError(we) {
			return nil, err
		}
		out = append(out, we.Index)
	}
	return out, nil
}

// NewestFirst adds to filter the condition of a newest-first page after key: items sorted by
// field, then _id, both descending (sort the query so).
func NewestFirst(filter bson.D, field string, after cursor.Key) bson.D {
	if after.ID == "" {
		return filter
	}
	return append(filter, bson.E{Key: "$or", Value: bson.A{
		bson.D{{Key: field, Value: bson.D{{Key: "$lt", Value: after.At}}}},
		bson.D{{Key: field, Value: after.At}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: after.ID}}}},
	}})
}
