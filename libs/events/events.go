// Package events is ClearSky's catalogue of domain events and the one way they leave an owning
// service: an owner builds an Event where its rules decide something happened (an OBD alarm
// opened, a sample failed, a permit revoked), its store writes the event's outbox record
// (Record) in the same single-document write as the change, and the outbox runner hands the
// record to a Sink, which inserts it into the insert-only `events` collection that the
// notification service fans out from (webhooks, inboxes, e-mail).
//
// The catalogue (Catalogue) is the list of every type an owner may emit; docs/events.schema.json
// is its published form, and a test holds the two equal. New refuses a type that is not in it.
package events

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/outbox"
)

// Type names what happened: <aggregate>.<what>.<step>, lowercase.
type Type string

// The event types. Each is emitted by exactly one owning service (Catalogue says which).
const (
	OBDAlarmOpened Type = "obd.alarm.opened"
	OBDAlarmClosed Type = "obd.alarm.closed"

	RemoteSensingCaseOpened     Type = "remotesensing.case.opened"
	RemoteSensingCaseTransition Type = "remotesensing.case.transitioned"

	FuelSampleFailed   Type = "fuel.sample.failed"
	FuelCaseOpened     Type = "fuel.case.opened"
	FuelCaseEscalated  Type = "fuel.case.escalated"
	FuelCaseClosed     Type = "fuel.case.closed"
	MuckPermitApproved Type = "muck.permit.approved"
	MuckPermitRefused  Type = "muck.permit.refused"
	MuckPermitSuspend  Type = "muck.permit.suspended"
	MuckPermitRevoked  Type = "muck.permit.revoked"
	MuckViolation      Type = "muck.violation.recorded"
	MuckPassIssued     Type = "muck.pass.issued"
	MuckPassCancelled  Type = "muck.pass.cancelled"

	RegistryScreeningRefused Type = "registry.screening.refused"

	AlertDeclared Type = "checkpoint.alert.declared"
	AlertChanged  Type = "checkpoint.alert.changed"
	AlertEnded    Type = "checkpoint.alert.ended"
)

// Entry is one type of the catalogue.
type Entry struct {
	Type Type
	// Service is the owner that emits it.
	Service string
	// Summary says in a line what happened, for inboxes and e-mail subjects.
	Summary string
}

// Catalogue is every event type, in the order docs/events.md lists them.
var Catalogue = []Entry{
	{OBDAlarmOpened, "obd", "an OBD alarm opened on a heavy truck"},
	{OBDAlarmClosed, "obd", "an OBD alarm closed"},
	{RemoteSensingCaseOpened, "remotesensing", "a remote-sensing exceedance case opened"},
	{RemoteSensingCaseTransition, "remotesensing", "a remote-sensing case moved to another state"},
	{FuelSampleFailed, "fuel", "a fuel, urea or coal sample failed its limits"},
	{FuelCaseOpened, "fuel", "a non-conformance case opened at a site"},
	{FuelCaseEscalated, "fuel", "a site's non-conformance case escalated (repeated failures)"},
	{FuelCaseClosed, "fuel", "a non-conformance case closed"},
	{MuckPermitApproved, "muck", "a muck-truck permit was approved"},
	{MuckPermitRefused, "muck", "a muck-truck permit application was refused"},
	{MuckPermitSuspend, "muck", "a muck-truck permit was suspended"},
	{MuckPermitRevoked, "muck", "a muck-truck permit was revoked"},
	{MuckViolation, "muck", "a muck-truck violation was recorded"},
	{MuckPassIssued, "muck", "a restricted-road pass was issued"},
	{MuckPassCancelled, "muck", "a restricted-road pass was cancelled"},
	{RegistryScreeningRefused, "registry", "a registration or inspection-mark screening was refused"},
	{AlertDeclared, "checkpoint", "a heavy-pollution alert was declared"},
	{AlertChanged, "checkpoint", "the heavy-pollution alert in force changed"},
	{AlertEnded, "checkpoint", "the heavy-pollution alert ended"},
}

// Lookup returns the catalogue entry of t.
func Lookup(t Type) (Entry, bool) {
	i := slices.IndexFunc(Catalogue, func(e Entry) bool { return e.Type == t })
	if i < 0 {
		return Entry{}, false
	}
	return Catalogue[i], true
}

// Event is one domain event as it is stored, delivered to webhooks and shown in inboxes.
type Event struct {
	// ID is unique per event (128 random bits in hex): receivers deduplicate on it.
	ID   string `json:"id"`
	Type Type   `json:"type"`
	// Time is when the change happened.
	Time time.Time `json:"time"`
	// Organisations are the ids (tenants) of the organisations the event concerns: the truck's
	// fleet, the site, the permit's construction authority, the remote-sensing operator, the
	// repair shop. The bureau is concerned by every event and is not listed.
	Organisations []string `json:"organisations"`
	// Roles are the authorities, besides the bureau, that the event concerns as a whole (the
	// police for a revoked permit, the transport bureau for a repair step): their organisations
	// carry no tenant of their own.
	Roles []auth.Role `json:"roles,omitempty"`
	// Subject is the id of the record the event is about (alarm, case, sample, permit ...).
	Subject string `json:"subject"`
	// Link is the API path of that record.
	Link string `json:"link"`
	// Data is a small summary: a plate, a state, a reason; never a person's name or a VIN
	// owner's details.
	Data map[string]any `json:"data,omitempty"`
}

// Everyone, as an organisation of an event, makes it concern every organisation (a
// heavy-pollution alert).
const Everyone = "*"

// ErrUnknownType is returned for a type that is not in the catalogue.
var ErrUnknownType = errors.New("event type not in the catalogue")

// payload is an Event's outbox record data (the id, type and time travel on the record).
type payload struct {
	Organisations []string       `bson:"organisations"`
	Roles         []string       `bson:"roles,omitempty"`
	Subject       string         `bson:"subject"`
	Link          string         `bson:"link"`
	Data          map[string]any `bson:"data,omitempty"`
}

// New builds the outbox record of an event of type t about subject (at link), concerning the
// organisations orgs (empty ids are dropped, duplicates kept once) and the roles, with data.
func New(t Type, at time.Time, subject, link string, orgs []string, roles []auth.Role, data map[string]any) (outbox.Record, error) {
	if _, ok := Lookup(t); !ok {
		return outbox.Record{}, fmt.Errorf("%s: %w", t, ErrUnknownType)
	}
	p := payload{Organisations: []string{}, Subject: subject, Link: link, Data: data}
	for _, o := range orgs {
		if o != "" && !slices.Contains(p.Organisations, o) {
			p.Organisations = append(p.Organisations, o)
		}
	}
	for _, r := range roles {
		if r != auth.Bureau && !slices.Contains(p.Roles, string(r)) {
			p.Roles = append(p.Roles, string(r))
		}
	}
	return outbox.Event(string(t), subject, at, p)
}

// Must is New for events whose type is a constant of this package: it panics only on a
// programming error (an uncatalogued type or data bson cannot encode).
func Must(t Type, at time.Time, subject, link string, orgs []string, roles []auth.Role, data map[string]any) outbox.Record {
	r, err := New(t, at, subject, link, orgs, roles, data)
	if err != nil {
		panic(err)
	}
	return r
}

// IsEvent reports whether an outbox record is a domain event (not a part record).
func IsEvent(r outbox.Record) bool { return r.Topic != outbox.TopicPart }

// FromRecord decodes an event's outbox record.
func FromRecord(r outbox.Record) (Event, error) {
	var p payload
	if len(r.Data) > 0 {
		if err := bson.Unmarshal(r.Data, &p); err != nil {
			return Event{}, fmt.Errorf("decode event %s: %w", r.ID, err)
		}
	}
	e := Event{ID: r.ID, Type: Type(r.Topic), Time: r.At, Organisations: p.Organisations, Subject: p.Subject, Link: p.Link, Data: p.Data}
	if e.Organisations == nil {
		e.Organisations = []string{}
	}
	for _, s := range p.Roles {
		e.Roles = append(e.Roles, auth.Role(s))
	}
	return e, nil
}

// BureauKey is the audience key of the environmental bureau, which every event concerns.
const BureauKey = "bureau"

// Key is the audience key of the organisation a principal acts for: a tenant's id for the roles
// that carry one, the role's name for the authorities that do not (bureau, police, transport;
// the platform's administrators read as the bureau); false for the services' system role.
func Key(p auth.Principal) (string, bool) {
	switch {
	case p.Role.NeedsTenant():
		return p.Tenant, p.Tenant != ""
	case p.Role == auth.Admin:
		return BureauKey, true
	case p.Role == auth.System:
		return "", false
	}
	return string(p.Role), true
}

// Audience are the keys the event is addressed to: the bureau, the roles and the
// organisations it names (Everyone among them for an event to all).
func (e Event) Audience() []string {
	out := []string{BureauKey}
	for _, r := range e.Roles {
		out = append(out, string(r))
	}
	for _, o := range e.Organisations {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// Concerns reports whether the event concerns the organisation of audience key k (Key): the
// bureau sees every event; any other organisation those addressed to it or to everyone.
func (e Event) Concerns(k string) bool {
	if k == "" {
		return false
	}
	a := e.Audience()
	return k == BureauKey || slices.Contains(a, k) || slices.Contains(a, Everyone)
}

// Draft is an event a core has decided on, before its store writes it: the core says what
// happened and whom it concerns, the store turns it into the outbox record (Record) of the
// write that makes the change.
type Draft struct {
	Type          Type
	At            time.Time
	Subject, Link string
	Organisations []string
	Roles         []auth.Role
	Data          map[string]any
}

// Record is the draft's outbox record (New).
func (d Draft) Record() (outbox.Record, error) {
	return New(d.Type, d.At, d.Subject, d.Link, d.Organisations, d.Roles, d.Data)
}

// Records are the outbox records of drafts.
func Records(ds ...Draft) ([]outbox.Record, error) {
	out := make([]outbox.Record, 0, len(ds))
	for _, d := range ds {
		r, err := d.Record()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
