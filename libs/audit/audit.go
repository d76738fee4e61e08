// Package audit records who looked up or changed what, for the lookups of personal data that
// the platform must account for (a vehicle's owner, a checkpoint lookup). Entries are appended
// to the MongoDB collection "audit_log" and never updated.
package audit

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/mongodb"
)

// Collection is where entries go.
const Collection = "audit_log"

// Entry is one audited action.
type Entry struct {
	At      time.Time      `bson:"at" json:"at"`
	Service string         `bson:"service" json:"service"`
	Actor   string         `bson:"actor" json:"actor"`
	Role    auth.Role      `bson:"role" json:"role"`
	Tenant  string         `bson:"tenant,omitempty" json:"tenant,omitempty"`
	Action  string         `bson:"action" json:"action"`
	Subject string         `bson:"subject" json:"subject"`
	Detail  map[string]any `bson:"detail,omitempty" json:"detail,omitempty"`
}

// Recorder appends entries.
type Recorder struct {
	coll    *mongo.Collection
	service string
	now     func() time.Time
}

// NewRecorder returns a recorder writing to db's audit_log for service.
func NewRecorder(db *mongo.Database, service string) *Recorder {
	return &Recorder{coll: db.Collection(Collection), service: service, now: time.Now}
}

// Indexes are the audit log's indexes: by subject and by actor, newest first.
var Indexes = []mongodb.Index{
	{Collection: Collection, Keys: bson.D{{Key: "subject", Value: 1}, {Key: "at", Value: -1}}, Name: "subject_at"},
	{Collection: Collection, Keys: bson.D{{Key: "actor", Value: 1}, {Key: "at", Value: -1}}, Name: "actor_at"},
}

// Record appends an entry for p doing action on subject. The write is synchronous: a lookup
// whose audit entry cannot be written fails rather than going unrecorded.
func (r *Recorder) Record(ctx context.Context, p auth.Principal, action, subject string, detail map[string]any) error {
	e := Entry{At: r.now().UTC(), Service: r.service, Actor: p.Subject, Role: p.Role, Tenant: p.Tenant, Action: action, Subject: subject, Detail: detail}
	if _, err := r.coll.InsertOne(ctx, e); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, subject, err)
	}
	return nil
}

// List returns the newest entries about subject, at most limit.
func (r *Recorder) List(ctx context.Context, subject string, limit int) ([]Entry, error) {
	cur, err := r.coll.Find(ctx, bson.D{{Key: "subject", Value: subject}}, options.Find().SetSort(bson.D{{Key: "at", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	var out []Entry
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read audit entries: %w", err)
	}
	return out, nil
}
