package permit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// ErrDuplicateID is what a Store returns when an insert's id is taken.
var ErrDuplicateID = fmt.Errorf("duplicate id: %w", apperr.ErrConflict)

// Collection names a kind of record the summary is built from, for the outbox.
type Collection string

// Collections of the outbox.
const (
	PermitRecords    Collection = "permit"
	PassRecords      Collection = "pass"
	ViolationRecords Collection = "violation"
)

// Ref points at one stored record at one version, for clearing its outbox records.
type Ref struct {
	Coll     Collection
	ID       string
	Version  int64
	PlateKey string
}

// PermitFilter narrows a permit list; empty fields match everything.
type PermitFilter struct {
	FleetID  string
	VIN      string
	State    State
	FromSite string
}

// PassFilter narrows a pass list.
type PassFilter struct {
	FleetID  string
	VIN      string
	PermitID string
}

// ViolationFilter narrows a violation list; days are local YYYY-MM-DD, inclusive.
type ViolationFilter struct {
	FleetID  string
	VIN      string
	FromSite string
	Kind     ViolationKind
	FromDay  string
	ToDay    string
}

// SiteCount is one row of the violation count by construction site and kind.
type SiteCount struct {
	SiteID string // "" when the trace-back is unresolved
	Kind   ViolationKind
	N      int
}

// StepChange is one state change written to a permit, guarded by the state and version read.
type StepChange struct {
	ID          string
	PlateKey    string // the permit's plate, whose part the change affects
	FromState   State  // the stored state the change starts from
	FromVersion int64
	To          State
	Reason      string
	Findings    []Reason // replaces the stored findings when not nil
	Event       Event
	// Outgoing are the domain events of the step, written to the permit's outbox with it.
	Outgoing []events.Draft
}

// SiteStore keeps construction and disposal sites (MongoDB in production).
type SiteStore interface {
	InsertSite(ctx context.Context, s Site) error // ErrDuplicateID when the id is taken
	GetSite(ctx context.Context, id string) (Site, error)
	ListSites(ctx context.Context, kind SiteKind, afterID string, limit int) ([]Site, error)
	// SitesAt returns the sites of kind whose area's bounding box holds pt.
	SitesAt(ctx context.Context, kind SiteKind, pt geo.Point) ([]Site, error)
}

// PermitStore keeps permits and their histories. Every write adds the outbox record
// (libs/outbox) that the plate's summary must be published.
type PermitStore interface {
	InsertPermit(ctx context.Context, p Permit) error
	GetPermit(ctx context.Context, id string) (Permit, error)
	ListPermits(ctx context.Context, f PermitFilter, afterID string, limit int) ([]Permit, error)
	PermitsByVIN(ctx context.Context, vin string) ([]Permit, error)
	PermitsByPlate(ctx context.Context, plateKey string) ([]Permit, error)
	// Step applies a state change if the permit is still in FromState at FromVersion, appending
	// the event to its history; ErrStateChanged otherwise.
	Step(ctx context.Context, c StepChange) (Permit, error)
	// DuePermits returns approved or suspended permits whose validity ended by now.
	DuePermits(ctx context.Context, now time.Time, limit int) ([]Permit, error)
}

// PassStore keeps restricted-road passes; every write adds the plate's outbox record.
type PassStore interface {
	InsertPass(ctx context.Context, p Pass) error
	GetPass(ctx context.Context, id string) (Pass, error)
	ListPasses(ctx context.Context, f PassFilter, afterID string, limit int) ([]Pass, error)
	// PassesNear returns vin's passes whose zone's bounding box holds pt.
	PassesNear(ctx context.Context, vin string, pt geo.Point) ([]Pass, error)
	HasPasses(ctx context.Context, vin string) (bool, error)
	PassesByPlate(ctx context.Context, plateKey string) ([]Pass, error)
	// CancelPass cancels a pass still at version; ErrStateChanged otherwise.
	CancelPass(ctx context.Context, id, plateKey string, version int64, at time.Time, by, reason string, evs ...events.Draft) (Pass, error)
}

// ViolationStore keeps recorded violations and the automatic revocations they start;
// every write of one with a plate adds the plate's outbox record.
type ViolationStore interface {
	InsertViolation(ctx context.Context, v Violation, day, month string) error
	GetViolation(ctx context.Context, id string) (Violation, error)
	ListViolations(ctx context.Context, f ViolationFilter, afterID string, limit int) ([]Violation, error)
	// ViolationsByPlate returns the plate's violations observed since, newest first.
	ViolationsByPlate(ctx context.Context, plateKey string, since time.Time, limit int) ([]Violation, error)
	// PendingRevocations returns violations whose automatic revocation is not finished.
	PendingRevocations(ctx context.Context, limit int) ([]Violation, error)
	// FinishRevocation records the permits a violation revoked and clears its pending flag.
	FinishRevocation(ctx context.Context, id, plateKey string, permits []string) (Violation, error)
	// SiteCounts counts violations by construction site and kind over local days [fromDay, toDay].
	SiteCounts(ctx context.Context, fromDay, toDay string) ([]SiteCount, error)
}

// RecordStore is what the part protocol needs across permits, passes and violations.
type RecordStore interface {
	// Ack clears the outbox records of records still at the versions given, once their plate's
	// summary is published.
	Ack(ctx context.Context, refs []Ref) error
	// PlateKeys calls fn for every plate key the service holds records of.
	PlateKeys(ctx context.Context, fn func(plateKey string) error) error
}

// Stores are the service's stores, one per aggregate; one MongoDB store implements them all.
type Stores struct {
	Sites      SiteStore
	Permits    PermitStore
	Passes     PassStore
	Violations ViolationStore
	Records    RecordStore
}

// Cache writes each plate's summary for the checkpoint (Redis, summary.Writer).
type Cache interface {
	Put(ctx context.Context, es ...summary.Entry) error
}

// Vehicles asks the registry about a truck. An unknown vehicle is an apperr.ErrNotFound, an
// unreachable registry an apperr.ErrUnavailable.
type Vehicles interface {
	ByVIN(ctx context.Context, vin string) (summary.Vehicle, error)
	ByPlate(ctx context.Context, plate string, colour vehicleid.Colour) (summary.Vehicle, error)
}

// SignalSource reads the other services' open findings about a plate.
type SignalSource interface {
	Signals(ctx context.Context, plateKey string) (Signals, error)
}

// Deps are the core's collaborators.
type Deps struct {
	Stores   Stores
	Cache    Cache
	Vehicles Vehicles
	Signals  SignalSource
	Policy   Policy
	Logger   *slog.Logger
	Tracer   trace.TracerProvider
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service applies the muck rules on top of its Store, Cache, Vehicles and SignalSource.
type Service struct {
	sites      SiteStore
	permits    PermitStore
	passes     PassStore
	violations ViolationStore
	records    RecordStore
	cache      Cache
	vehicles   Vehicles
	signals    SignalSource
	policy     Policy
	loc        *time.Location
	log        *slog.Logger
	tracer     trace.Tracer
	now        func() time.Time
}

// NewService returns the muck core.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Service{sites: d.Stores.Sites, permits: d.Stores.Permits, passes: d.Stores.Passes, violations: d.Stores.Violations, records: d.Stores.Records, cache: d.Cache, vehicles: d.Vehicles, signals: d.Signals, policy: d.Policy, loc: Shanghai(),
		log: d.Logger, tracer: d.Tracer.Tracer("github.com/clearsky/clearsky/services/muck"), now: now}
}

// Policy returns the policy in force.
func (s *Service) Policy() Policy { return s.policy }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// Location returns the zone of pass hours and report days.
func (s *Service) Location() *time.Location { return s.loc }

func forbidden(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, apperr.ErrForbidden)...)
}

func conflict(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, apperr.ErrConflict)...)
}

// fingerprint is a digest of a request's normalised content, to tell a retry from a clash.
func fingerprint(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fingerprint: %v", err)) // only plain data is fingerprinted
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// idempotent settles an insert under a client-given id: a stored record with the same
// fingerprint is returned (created false); a different one is ErrExists.
func idempotent[T any](ctx context.Context, get func(context.Context, string) (T, error), fp func(T) string, id, want string) (T, bool, error) {
	var zero T
	got, err := get(ctx, id)
	if err != nil {
		return zero, false, err
	}
	if fp(got) != want {
		return zero, false, ErrExists
	}
	return got, true, nil
}

// parseZone parses a GeoJSON area, naming the field at fault under field.
func parseZone(ve *apperr.ValidationError, field string, raw json.RawMessage) geo.Shape {
	if len(raw) == 0 || string(raw) == "null" {
		ve.Add(field, "required: a GeoJSON Polygon or MultiPolygon of [lon, lat] positions")
		return geo.Shape{}
	}
	sh, err := geo.Parse(raw)
	if err != nil {
		var ge *geo.Error
		if errors.As(err, &ge) && ge.Path != "" {
			ve.Add(field+"."+ge.Path, ge.Message)
		} else {
			ve.Add(field, err.Error())
		}
	}
	return sh
}

func required(ve *apperr.ValidationError, field, v, what string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		ve.Add(field, "required: "+what)
	}
	return v
}

// ParsePlate normalises a plate and colour, naming the fields at fault.
func ParsePlate(plateField, colourField, plate, colour string) (string, vehicleid.Colour, error) {
	var ve apperr.ValidationError
	pl, err := vehicleid.NormalisePlate(plate)
	if err != nil {
		ve.Add(plateField, err.Error())
	}
	c, err := vehicleid.ParseColour(colour)
	if err != nil {
		ve.Add(colourField, err.Error())
	}
	return pl, c, ve.Err()
}
