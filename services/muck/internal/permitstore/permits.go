package permitstore

import (
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/outbox"

	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
)

type reasonDoc struct {
	Code    string `bson:"code"`
	Message string `bson:"message"`
	Rule    string `bson:"rule,omitempty"`
}

type eventDoc struct {
	Action      string    `bson:"action"`
	From        string    `bson:"from,omitempty"`
	To          string    `bson:"to"`
	At          time.Time `bson:"at"`
	By          string    `bson:"by"`
	Role        string    `bson:"role"`
	Reason      string    `bson:"reason,omitempty"`
	ViolationID string    `bson:"violation_id,omitempty"`
}

type permitDoc struct {
	ID            string      `bson:"_id"`
	VIN           string      `bson:"vin"`
	Plate         string      `bson:"plate"`
	PlateColour   string      `bson:"plate_colour"`
	PlateKey      string      `bson:"plate_key"`
	FleetID       string      `bson:"fleet_id"`
	FromSite      string      `bson:"from_site"`
	ToSite        string      `bson:"to_site"`
	ValidFrom     time.Time   `bson:"valid_from"`
	ValidTo       time.Time   `bson:"valid_to"`
	Enclosed      bool        `bson:"enclosed"`
	GPS           bool        `bson:"gps"`
	Video         bool        `bson:"video"`
	State         string      `bson:"state"`
	StateReason   string      `bson:"state_reason,omitempty"`
	Findings      []reasonDoc `bson:"findings"`
	History       []eventDoc  `bson:"history"`
	Fingerprint   string      `bson:"fingerprint"`
	CreatedAt     time.Time   `bson:"created_at"`
	UpdatedAt     time.Time   `bson:"updated_at"`
	Version       int64       `bson:"version"`
	outbox.Fields `bson:",inline"`
}

func reasonsToDoc(rs []permit.Reason) []reasonDoc {
	out := make([]reasonDoc, 0, len(rs))
	for _, r := range rs {
		out = append(out, reasonDoc(r))
	}
	return out
}

func eventToDoc(e permit.Event) eventDoc {
	return eventDoc{Action: string(e.Action), From: string(e.From), To: string(e.To), At: e.At.UTC(), By: e.By, Role: string(e.Role),
		Reason: e.Reason, ViolationID: e.ViolationID}
}

func permitToDoc(p permit.Permit) permitDoc {
	d := permitDoc{ID: p.ID, VIN: p.VIN, Plate: p.Plate, PlateColour: string(p.PlateColour), PlateKey: p.PlateKey(), FleetID: p.FleetID,
		FromSite: p.FromSite, ToSite: p.ToSite, ValidFrom: p.ValidFrom.UTC(), ValidTo: p.ValidTo.UTC(), Enclosed: p.Enclosed, GPS: p.GPS,
		Video: p.Video, State: string(p.State), StateReason: p.StateReason, Findings: reasonsToDoc(p.Findings),
		History: make([]eventDoc, 0, len(p.History)), Fingerprint: p.Fingerprint, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
		Version: p.Version, Fields: outbox.New(p.UpdatedAt, outbox.Part(p.PlateKey()))}
	for _, e := range p.History {
		d.History = append(d.History, eventToDoc(e))
	}
	return d
}

func permitFromDoc(d permitDoc) (permit.Permit, error) {
	p := permit.Permit{ID: d.ID, VIN: d.VIN, Plate: d.Plate, PlateColour: vehicleid.Colour(d.PlateColour), FleetID: d.FleetID,
		FromSite: d.FromSite, ToSite: d.ToSite, ValidFrom: d.ValidFrom.UTC(), ValidTo: d.ValidTo.UTC(), Enclosed: d.Enclosed, GPS: d.GPS,
		Video: d.Video, State: permit.State(d.State), StateReason: d.StateReason, Fingerprint: d.Fingerprint,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), Version: d.Version}
	for _, r := range d.Findings {
		p.Findings = append(p.Findings, permit.Reason(r))
	}
	for _, e := range d.History {
		p.History = append(p.History, permit.Event{Action: permit.Action(e.Action), From: permit.State(e.From), To: permit.State(e.To),
			At: e.At.UTC(), By: e.By, Role: auth.Role(e.Role), Reason: e.Reason, ViolationID: e.ViolationID})
	}
	return p, nil
}

// InsertPermit implements the permit stores.
func (s *Store) InsertPermit(ctx context.Context, p permit.Permit) error {
	return insert(ctx, s.permits, permitToDoc(p))
}

// GetPermit implements the permit stores.
func (s *Store) GetPermit(ctx context.Context, id string) (permit.Permit, error) {
	return findOne(ctx, s.permits, id, permit.ErrPermitNotFound, permitFromDoc)
}

// ListPermits implements the permit stores.
func (s *Store) ListPermits(ctx context.Context, f permit.PermitFilter, afterID string, limit int) ([]permit.Permit, error) {
	filter, opts := paged(filterOf("fleet_id", f.FleetID, "vin", f.VIN, "state", string(f.State), "from_site", f.FromSite), afterID, limit)
	return findAll(ctx, s.permits, filter, opts, permitFromDoc)
}

// PermitsByVIN implements the permit stores.
func (s *Store) PermitsByVIN(ctx context.Context, vin string) ([]permit.Permit, error) {
	return findAll(ctx, s.permits, bson.D{key("vin", vin)}, options.Find().SetSort(asc("created_at")), permitFromDoc)
}

// PermitsByPlate implements the permit stores.
func (s *Store) PermitsByPlate(ctx context.Context, plateKey string) ([]permit.Permit, error) {
	return findAll(ctx, s.permits, bson.D{key("plate_key", plateKey)}, options.Find().SetSort(asc("created_at")), permitFromDoc)
}

// Step implements the permit stores: one atomic update guarded by the state and version read, which
// appends to the history with $push (FerretDB has no positional updates, and needs none).
func (s *Store) Step(ctx context.Context, c permit.StepChange) (permit.Permit, error) {
	set := bson.D{key("state", string(c.To)), key("state_reason", c.Reason), key("updated_at", c.Event.At.UTC())}
	if c.Findings != nil {
		set = append(set, key("findings", reasonsToDoc(c.Findings)))
	}
	update := bson.D{
		key("$set", set),
		key("$inc", bson.D{key("version", int64(1))}),
		key("$push", bson.D{key("history", eventToDoc(c.Event))}),
	}
	rs, err := events.Records(c.Outgoing...)
	if err != nil {
		return permit.Permit{}, err
	}
	update = outbox.Append(update, c.Event.At, append([]outbox.Record{outbox.Part(c.PlateKey)}, rs...)...)
	filter := bson.D{key("_id", c.ID), key("state", string(c.FromState)), key("version", c.FromVersion)}
	var d permitDoc
	err = s.permits.FindOneAndUpdate(ctx, filter, update, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if mongodb.IsNotFound(err) {
		if n, cerr := s.permits.CountDocuments(ctx, bson.D{key("_id", c.ID)}); cerr == nil && n == 0 {
			return permit.Permit{}, permit.ErrPermitNotFound
		}
		return permit.Permit{}, permit.ErrStateChanged
	}
	if err != nil {
		return permit.Permit{}, fmt.Errorf("update permit %s: %w", c.ID, err)
	}
	return permitFromDoc(d)
}

// DuePermits implements the permit stores.
func (s *Store) DuePermits(ctx context.Context, now time.Time, limit int) ([]permit.Permit, error) {
	filter := bson.D{
		key("state", bson.D{key("$in", bson.A{string(permit.Approved), string(permit.Suspended)})}),
		key("valid_to", bson.D{key("$lte", now.UTC())}),
	}
	return findAll(ctx, s.permits, filter, options.Find().SetLimit(int64(limit)), permitFromDoc)
}
