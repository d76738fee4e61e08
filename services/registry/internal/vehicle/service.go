package vehicle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// Filter narrows a vehicle list. Empty fields match everything.
type Filter struct {
	FleetID          string
	Status           Status
	FuelType         FuelType
	EmissionStandard Standard
	Category         Category
	Use              Use
	ServiceClass     ServiceClass
	Maker            string
	Plate            string
}

// Store keeps vehicles and screenings (MongoDB in production).
type Store interface {
	// Insert adds a new vehicle with the outbox record that its part must be published;
	// ErrDuplicateVIN or ErrDuplicatePlate when taken.
	Insert(ctx context.Context, v Vehicle) error
	// Get returns the vehicle with vin, or ErrNotFound.
	Get(ctx context.Context, vin string) (Vehicle, error)
	// GetByPlate returns the vehicle carrying plate and colour, or ErrNotFound.
	GetByPlate(ctx context.Context, plate string, colour vehicleid.Colour) (Vehicle, error)
	// List returns up to limit vehicles matching f with VIN after the given one, by VIN.
	List(ctx context.Context, f Filter, afterVIN string, limit int) ([]Vehicle, error)
	// Each calls fn for every vehicle matching f (reports).
	Each(ctx context.Context, f Filter, fn func(Vehicle) error) error
	// Replace stores v over old if the stored version is still v.Version-1 (ErrVersionConflict
	// otherwise), with the outbox records that the parts of both plates must be published.
	Replace(ctx context.Context, v, old Vehicle) error
	// Ack clears the vehicle's outbox records once its part is published, if the stored version
	// is still version.
	Ack(ctx context.Context, vin string, version int64) error
	// InsertScreening stores a decision.
	InsertScreening(ctx context.Context, s Screening) error
	// GetScreening returns a decision, or ErrScreeningNotFound.
	GetScreening(ctx context.Context, id string) (Screening, error)
	// ListScreenings returns the newest decisions about vin.
	ListScreenings(ctx context.Context, vin string, limit int) ([]Screening, error)
	// The fleets' proposed changes of the fields the authority owns.
	ProposalStore
	// Taxis' catalytic-converter replacements and the bureau's run-time settings.
	CatalystStore
}

// Parts writes the vehicles' registry parts to Redis (summary.Writer): an entry with nil Data
// deletes a plate's part.
type Parts interface {
	Put(ctx context.Context, es ...summary.Entry) error
}

// Auditor records lookups of personal data.
type Auditor interface {
	Record(ctx context.Context, p auth.Principal, action, subject string, detail map[string]any) error
}

// Screening is a stored screening decision.
type Screening struct {
	ID        string
	VIN       string
	Plate     string
	Purpose   Purpose
	Decision  Decision
	Reasons   []Reason
	PhaseOut  PhaseOut
	Report    *Inspection
	DecidedAt time.Time
	DecidedBy string
	Role      auth.Role
	// Outgoing are the domain events of the write that stores the screening (its outbox).
	Outgoing []events.Draft
}

// Service applies the registry's rules on top of a Store and the Redis parts.
type Service struct {
	store     Store
	proposals ProposalStore
	cache     Parts
	audit     Auditor
	policy    Policy
	log       *slog.Logger
	tracer    trace.Tracer
	now       func() time.Time
}

// NewService returns the registry's core.
func NewService(store Store, cache Parts, audit Auditor, policy Policy, log *slog.Logger, tp trace.TracerProvider) *Service {
	return &Service{store: store, proposals: store, cache: cache, audit: audit, policy: policy, log: log,
		tracer: tp.Tracer("github.com/clearsky/clearsky/services/registry"), now: time.Now}
}

// Policy returns the registration policy in force.
func (s *Service) Policy() Policy { return s.policy }

// today is the day in China, as the registry stores days (midnight UTC).
func (s *Service) today() time.Time {
	y, m, d := s.now().In(localtime.Shanghai()).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func forbidden(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, apperr.ErrForbidden)...)
}

// canSee reports whether p may read v: fleets only their own vehicles.
func canSee(p auth.Principal, v Vehicle) bool {
	switch p.Role {
	case auth.Admin, auth.Bureau, auth.Police, auth.Construction, auth.Transport:
		return true
	case auth.Fleet:
		return v.FleetID == p.Tenant
	}
	return false
}

// Register adds a vehicle. A fleet registers for itself; the bureau may name the fleet. Only the
// bureau sets a status other than active on registration.
//
// Registering again what is registered is not an error: the same vehicle (every field given
// equal to the record's) answers with the record and created false, so a client may retry a
// registration whose answer it lost. Another vehicle on the same plate and colour is a conflict.
func (s *Service) Register(ctx context.Context, p auth.Principal, v Vehicle) (_ Vehicle, created bool, _ error) {
	switch p.Role {
	case auth.Fleet:
		if v.FleetID != "" && v.FleetID != p.Tenant {
			return Vehicle{}, false, apperr.Invalid("fleet_id", "a fleet registers vehicles for itself only; leave fleet_id out")
		}
		v.FleetID = p.Tenant
		if v.Status != "" && v.Status != Active {
			return Vehicle{}, false, apperr.Invalid("status", "only the bureau or the police set a vehicle's status")
		}
	case auth.Bureau:
	default:
		return Vehicle{}, false, forbidden("role %s may not register vehicles", p.Role)
	}
	if err := v.Validate(); err != nil {
		return Vehicle{}, false, err
	}
	if v.Terminal != nil || v.LastInspection != nil {
		return Vehicle{}, false, apperr.Invalid("body", "terminal and inspection are set through their own routes")
	}
	now := s.now().UTC()
	v.CreatedAt, v.UpdatedAt, v.UpdatedBy, v.Version = now, now, p.Subject, 1
	if old, err := s.store.GetByPlate(ctx, v.Plate, v.PlateColour); err == nil {
		if sameRegistration(old, v) {
			return old, false, nil
		}
		return Vehicle{}, false, ErrDuplicatePlate
	} else if !errors.Is(err, ErrNotFound) {
		return Vehicle{}, false, err
	}
	if err := s.store.Insert(ctx, v); err != nil {
		return Vehicle{}, false, err
	}
	s.publish(ctx, v, "")
	return v, true, nil
}

// sameRegistration reports whether a registration names the vehicle a record holds, field for
// field (the record's own history — versions, terminal, inspection — aside).
func sameRegistration(rec, v Vehicle) bool {
	return rec.VIN == v.VIN && rec.Plate == v.Plate && rec.PlateColour == v.PlateColour && rec.FuelType == v.FuelType &&
		rec.EmissionStandard == v.EmissionStandard && rec.Category == v.Category && rec.Use == v.Use &&
		rec.ServiceClass == v.ServiceClass && rec.Maker == v.Maker && rec.Owner == v.Owner && rec.FleetID == v.FleetID &&
		rec.RegisteredOn.Equal(v.RegisteredOn) && rec.RegisteredPlace == v.RegisteredPlace && rec.GrossMassKg == v.GrossMassKg &&
		rec.LeanBurn == v.LeanBurn && rec.BuiltUpArea == v.BuiltUpArea && rec.ConvertedGas == v.ConvertedGas && rec.ScrapDue.Equal(v.ScrapDue) &&
		rec.Status == v.Status && rec.StatusReason == v.StatusReason
}

// Get returns a vehicle the caller may see; another fleet's vehicle is "not found". Reads by
// anyone but the owning fleet are audited (the record names the owner).
func (s *Service) Get(ctx context.Context, p auth.Principal, vin string) (Vehicle, error) {
	vin, err := vehicleid.NormaliseVIN(vin)
	if err != nil {
		return Vehicle{}, apperr.Invalid("vin", err.Error())
	}
	v, err := s.store.Get(ctx, vin)
	if err != nil {
		return Vehicle{}, err
	}
	return s.reveal(ctx, p, v, "get_vehicle")
}

// GetByPlate returns the vehicle carrying a plate, under the same rules as Get.
func (s *Service) GetByPlate(ctx context.Context, p auth.Principal, plate, colour string) (Vehicle, error) {
	pl, c, err := ParsePlate(plate, colour)
	if err != nil {
		return Vehicle{}, err
	}
	v, err := s.store.GetByPlate(ctx, pl, c)
	if err != nil {
		return Vehicle{}, err
	}
	return s.reveal(ctx, p, v, "get_vehicle_by_plate")
}

func (s *Service) reveal(ctx context.Context, p auth.Principal, v Vehicle, action string) (Vehicle, error) {
	if !canSee(p, v) {
		return Vehicle{}, ErrNotFound
	}
	if p.Role != auth.Fleet {
		if err := s.audit.Record(ctx, p, action, v.VIN, map[string]any{"plate": v.Plate}); err != nil {
			return Vehicle{}, err
		}
	}
	return v, nil
}

// ParsePlate normalises a plate and colour, naming the field at fault.
func ParsePlate(plate, colour string) (string, vehicleid.Colour, error) {
	var ve apperr.ValidationError
	pl, err := vehicleid.NormalisePlate(plate)
	if err != nil {
		ve.Add("plate", err.Error())
	}
	c, err := vehicleid.ParseColour(colour)
	if err != nil {
		ve.Add("colour", err.Error())
	}
	return pl, c, ve.Err()
}

// List returns a page of the vehicles the caller may see, and the VIN to continue after ("" at
// the end). A fleet's filter is pinned to itself.
func (s *Service) List(ctx context.Context, p auth.Principal, f Filter, afterVIN string, limit int) ([]Vehicle, string, error) {
	switch p.Role {
	case auth.Fleet:
		if f.FleetID != "" && f.FleetID != p.Tenant {
			return nil, "", forbidden("a fleet lists only its own vehicles")
		}
		f.FleetID = p.Tenant
	case auth.Admin, auth.Bureau, auth.Police, auth.Construction, auth.Transport:
	default:
		return nil, "", forbidden("role %s may not list vehicles", p.Role)
	}
	if f.Plate != "" {
		pl, err := vehicleid.NormalisePlate(f.Plate)
		if err != nil {
			return nil, "", apperr.Invalid("plate", err.Error())
		}
		f.Plate = pl
	}
	vs, err := s.store.List(ctx, f, afterVIN, limit+1)
	if err != nil {
		return nil, "", err
	}
	if p.Role != auth.Fleet {
		// Lists leave out the owner's name, personal data whose reads are audited one by one.
		for i := range vs {
			vs[i].Owner = ""
		}
	}
	next := ""
	if len(vs) > limit {
		vs = vs[:limit]
		next = vs[limit-1].VIN
	}
	return vs, next, nil
}

// Patch is a partial update; nil fields are left alone.
type Patch struct {
	Plate            *string
	PlateColour      *string
	FuelType         *FuelType
	EmissionStandard *Standard
	Category         *Category
	Use              *Use
	ServiceClass     *ServiceClass
	Maker            *string
	Owner            *string
	RegisteredPlace  *string
	GrossMassKg      *int
	LeanBurn         *bool
	BuiltUpArea      *bool
	ConvertedGas     *bool
	ScrapDue         *time.Time
	Status           *Status
	StatusReason     *string
	FleetID          *string
}

// Update applies a patch. The owning fleet sets the fields it owns (maker, owner) at once; its
// change of a field the authority owns (docs/ownership.md) becomes a pending proposal that the
// bureau accepts or refuses, and the record, its Redis part and every verdict keep the accepted
// value until then. The bureau changes any field directly; only the bureau and the police
// change the status; only the bureau moves a vehicle to another fleet. The proposal made, if
// any, is returned with the vehicle as it now stands.
func (s *Service) Update(ctx context.Context, p auth.Principal, vin string, patch Patch) (Vehicle, *Proposal, error) {
	if !p.Is(auth.Fleet, auth.Bureau, auth.Police) {
		return Vehicle{}, nil, forbidden("role %s may not change vehicles", p.Role)
	}
	vin, err := vehicleid.NormaliseVIN(vin)
	if err != nil {
		return Vehicle{}, nil, apperr.Invalid("vin", err.Error())
	}
	old, err := s.store.Get(ctx, vin)
	if err != nil {
		return Vehicle{}, nil, err
	}
	if !canSee(p, old) {
		return Vehicle{}, nil, ErrNotFound
	}
	if (patch.Status != nil || patch.StatusReason != nil) && !p.Is(auth.Bureau, auth.Police) {
		return Vehicle{}, nil, apperr.Invalid("status", "only the bureau or the police change a vehicle's status")
	}
	if patch.FleetID != nil && !p.Is(auth.Bureau) {
		return Vehicle{}, nil, apperr.Invalid("fleet_id", "only the bureau moves a vehicle to another fleet")
	}
	if p.Role == auth.Police && patchTouchesDetails(patch) {
		return Vehicle{}, nil, apperr.Invalid("body", "the police change only status and status_reason")
	}
	var proposed Patch
	if p.Role == auth.Fleet {
		proposed, patch = authorityPart(normalisePatch(patch))
		proposed = withoutNoOps(old, proposed)
		// The proposal is validated now, on the record as it would be, so that the bureau decides
		// on values that make a valid record.
		would := old
		applyPatch(&would, proposed)
		applyPatch(&would, patch)
		if err := would.Validate(); err != nil {
			return Vehicle{}, nil, err
		}
	}
	v := old
	applyPatch(&v, patch)
	if err := v.Validate(); err != nil {
		return Vehicle{}, nil, err
	}
	if v.Status != Active && strings.TrimSpace(v.StatusReason) == "" && v.Status != old.Status {
		return Vehicle{}, nil, apperr.Invalid("status_reason", "say why the status changes")
	}
	if v.Plate != old.Plate || v.PlateColour != old.PlateColour {
		// FerretDB reports a unique-index clash on update as an internal error, so check first.
		if other, err := s.store.GetByPlate(ctx, v.Plate, v.PlateColour); err == nil && other.VIN != v.VIN {
			return Vehicle{}, nil, ErrDuplicatePlate
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return Vehicle{}, nil, err
		}
	}
	if !withoutNoOps(old, patch).Empty() || !sameStatus(old, v) || v.FleetID != old.FleetID {
		v.UpdatedAt, v.UpdatedBy, v.Version = s.now().UTC(), p.Subject, old.Version+1
		if v.Status != old.Status {
			v.StatusChangedAt = v.UpdatedAt
		}
		if err := s.save(ctx, v, old); err != nil {
			return Vehicle{}, nil, err
		}
	} else {
		v = old
	}
	if proposed.Empty() {
		return v, nil, nil
	}
	pr, err := s.propose(ctx, p, v, proposed)
	if err != nil {
		return Vehicle{}, nil, err
	}
	return v, &pr, nil
}

func sameStatus(a, b Vehicle) bool { return a.Status == b.Status && a.StatusReason == b.StatusReason }

func patchTouchesDetails(p Patch) bool {
	return p.Plate != nil || p.PlateColour != nil || p.FuelType != nil || p.EmissionStandard != nil ||
		p.Category != nil || p.Use != nil || p.ServiceClass != nil || p.Maker != nil || p.Owner != nil ||
		p.RegisteredPlace != nil || p.GrossMassKg != nil || p.LeanBurn != nil || p.BuiltUpArea != nil || p.ConvertedGas != nil ||
		p.ScrapDue != nil || p.FleetID != nil
}

func applyPatch(v *Vehicle, p Patch) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&v.Plate, p.Plate)
	if p.PlateColour != nil {
		v.PlateColour = vehicleid.Colour(*p.PlateColour)
	}
	if p.FuelType != nil {
		v.FuelType = *p.FuelType
	}
	if p.EmissionStandard != nil {
		v.EmissionStandard = *p.EmissionStandard
	}
	if p.Category != nil {
		v.Category = *p.Category
	}
	if p.Use != nil {
		v.Use = *p.Use
	}
	if p.ServiceClass != nil {
		v.ServiceClass = *p.ServiceClass
	}
	set(&v.Maker, p.Maker)
	set(&v.Owner, p.Owner)
	set(&v.RegisteredPlace, p.RegisteredPlace)
	set(&v.StatusReason, p.StatusReason)
	set(&v.FleetID, p.FleetID)
	if p.GrossMassKg != nil {
		v.GrossMassKg = *p.GrossMassKg
	}
	if p.LeanBurn != nil {
		v.LeanBurn = *p.LeanBurn
	}
	if p.BuiltUpArea != nil {
		v.BuiltUpArea = *p.BuiltUpArea
	}
	if p.ConvertedGas != nil {
		v.ConvertedGas = *p.ConvertedGas
	}
	if p.ScrapDue != nil {
		v.ScrapDue = *p.ScrapDue
	}
	if p.Status != nil {
		v.Status = *p.Status
	}
}

// BindTerminal binds an OBD terminal (by its SIM's ICCID) to a heavy vehicle; the OBD gateway
// accepts logins only from bound vehicles. The owning fleet or the bureau may bind.
func (s *Service) BindTerminal(ctx context.Context, p auth.Principal, vin, iccid, chipID string) (Vehicle, error) {
	if !p.Is(auth.Fleet, auth.Bureau) {
		return Vehicle{}, forbidden("role %s may not bind terminals", p.Role)
	}
	vin, err := vehicleid.NormaliseVIN(vin)
	if err != nil {
		return Vehicle{}, apperr.Invalid("vin", err.Error())
	}
	iccid = strings.ToUpper(strings.TrimSpace(iccid))
	if !validICCID(iccid) {
		return Vehicle{}, apperr.Invalid("iccid", "an ICCID is 19 or 20 digits (the last may be a letter F)")
	}
	chipID = strings.TrimSpace(chipID)
	if chipID != "" && !validChipID(chipID) {
		return Vehicle{}, apperr.Invalid("chip_id", "a security chip id is up to 16 letters and digits")
	}
	old, err := s.store.Get(ctx, vin)
	if err != nil {
		return Vehicle{}, err
	}
	if !canSee(p, old) || (p.Role != auth.Fleet && !p.Is(auth.Bureau)) {
		return Vehicle{}, ErrNotFound
	}
	if old.Status != Active {
		return Vehicle{}, fmt.Errorf("vehicle is %s, not active: %w", old.Status, apperr.ErrConflict)
	}
	v := old
	v.Terminal = &Terminal{ICCID: iccid, ChipID: chipID, BoundAt: s.now().UTC(), BoundBy: p.Subject}
	if t := old.Terminal; t != nil && t.ICCID == iccid && (chipID == "" || chipID == t.ChipID) {
		// The same terminal bound again: its filed key stays.
		v.Terminal.ChipID, v.Terminal.PublicKey, v.Terminal.KeyFiledAt = t.ChipID, t.PublicKey, t.KeyFiledAt
	}
	v.UpdatedAt, v.UpdatedBy, v.Version = v.Terminal.BoundAt, p.Subject, old.Version+1
	if err := s.save(ctx, v, old); err != nil {
		return Vehicle{}, err
	}
	return v, nil
}

// ErrKeyFiled: the terminal has another public key on file (HJ 1239 "already filed").
var ErrKeyFiled = fmt.Errorf("another security chip's key is already filed for this terminal: %w", apperr.ErrConflict)

// FileTerminalKey files the SM2 public key (128 hex digits, X || Y) of the security chip chipID,
// which activated the vehicle's bound terminal: the OBD gateway calls it after checking the
// activation's signature. Only the services may file (system role); the owner never can. Filing
// the key already on file is a no-op; another key, or another chip than the one the owner
// bound, is refused (ErrKeyFiled, or a conflict naming the chip).
func (s *Service) FileTerminalKey(ctx context.Context, p auth.Principal, vin, chipID, publicKey string) (Vehicle, error) {
	if !p.Is(auth.System) {
		return Vehicle{}, forbidden("role %s may not file terminal keys", p.Role)
	}
	vin, err := vehicleid.NormaliseVIN(vin)
	if err != nil {
		return Vehicle{}, apperr.Invalid("vin", err.Error())
	}
	publicKey = strings.ToLower(strings.TrimSpace(publicKey))
	if b, err := hex.DecodeString(publicKey); err != nil || len(b) != 64 {
		return Vehicle{}, apperr.Invalid("public_key", "an SM2 public key is 128 hex digits (X || Y)")
	}
	if chipID = strings.TrimSpace(chipID); !validChipID(chipID) {
		return Vehicle{}, apperr.Invalid("chip_id", "a security chip id is up to 16 letters and digits")
	}
	// Another write to the vehicle between the read and the guarded save (its owner's edit, the
	// same activation sent twice) is no reason to refuse the terminal: read again and decide
	// again, a few times.
	for attempt := 1; ; attempt++ {
		v, err := s.fileTerminalKey(ctx, p, vin, chipID, publicKey)
		if !errors.Is(err, ErrVersionConflict) || attempt == 5 {
			return v, err
		}
	}
}

func (s *Service) fileTerminalKey(ctx context.Context, p auth.Principal, vin, chipID, publicKey string) (Vehicle, error) {
	old, err := s.store.Get(ctx, vin)
	if err != nil {
		return Vehicle{}, err
	}
	t := old.Terminal
	switch {
	case t == nil:
		return Vehicle{}, fmt.Errorf("no terminal is bound to %s: %w", vin, apperr.ErrConflict)
	case t.ChipID != "" && t.ChipID != chipID:
		return Vehicle{}, fmt.Errorf("the owner bound chip %s, not %s: %w", t.ChipID, chipID, apperr.ErrConflict)
	case t.PublicKey == publicKey:
		return old, nil
	case t.PublicKey != "":
		return Vehicle{}, ErrKeyFiled
	}
	v := old
	now := s.now().UTC()
	nt := *t
	nt.ChipID, nt.PublicKey, nt.KeyFiledAt = chipID, publicKey, &now
	v.Terminal = &nt
	v.UpdatedAt, v.UpdatedBy, v.Version = now, p.Subject, old.Version+1
	if err := s.save(ctx, v, old); err != nil {
		return Vehicle{}, err
	}
	return v, nil
}

func validChipID(s string) bool {
	if len(s) == 0 || len(s) > 16 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

func validICCID(s string) bool {
	if len(s) != 19 && len(s) != 20 {
		return false
	}
	for i, r := range s {
		if !(r >= '0' && r <= '9') && !(i == len(s)-1 && r == 'F') {
			return false
		}
	}
	return true
}

// save writes v over old, keeping Redis coherent through the outbox (libs/partsync): the write
// carries the records that both plates' parts must be published, the publish follows, and only
// a successful publish clears them. A crash or a Redis outage in between leaves them for the
// outbox runner.
func (s *Service) save(ctx context.Context, v, old Vehicle) error {
	if err := s.store.Replace(ctx, v, old); err != nil {
		return err
	}
	oldKey := ""
	if old.PlateKey() != v.PlateKey() {
		oldKey = old.PlateKey()
	}
	s.publish(ctx, v, oldKey)
	return nil
}

// entry is v's registry part.
func (s *Service) entry(v Vehicle, now time.Time) summary.Entry {
	return summary.Entry{PlateKey: v.PlateKey(), Data: SummaryOf(v, s.policy, now), VIN: v.VIN}
}

// publish puts v's status into the cache (and deletes the part of the plate it no longer
// carries) and acknowledges its outbox records; failures are logged and left to the outbox
// runner (Redis is a cache: the write has already succeeded).
func (s *Service) publish(ctx context.Context, v Vehicle, oldPlateKey string) {
	ctx, span := s.tracer.Start(ctx, "registry.publish_status", trace.WithAttributes(attribute.String("clearsky.vehicle.vin", v.VIN)))
	defer span.End()
	es := []summary.Entry{s.entry(v, s.now())}
	if oldPlateKey != "" {
		es = append(es, summary.Entry{PlateKey: oldPlateKey})
	}
	if err := s.cache.Put(ctx, es...); err != nil {
		s.log.WarnContext(ctx, "status_cache_put_failed", "vin", v.VIN, "error", err.Error())
		return
	}
	if err := s.store.Ack(ctx, v.VIN, v.Version); err != nil {
		s.log.WarnContext(ctx, "status_cache_flag_failed", "vin", v.VIN, "error", err.Error())
	}
}

// Summarise implements partsync.Owner: the registry part of each plate, or a deletion where no
// vehicle carries the plate any more.
func (s *Service) Summarise(ctx context.Context, plateKeys []string) ([]summary.Entry, error) {
	now := s.now()
	out := make([]summary.Entry, 0, len(plateKeys))
	for _, k := range plateKeys {
		plate, colour, ok := vehicleid.SplitKey(k)
		if !ok {
			continue
		}
		v, err := s.store.GetByPlate(ctx, plate, colour)
		switch {
		case errors.Is(err, ErrNotFound):
			out = append(out, summary.Entry{PlateKey: k})
		case err != nil:
			return nil, err
		default:
			out = append(out, s.entry(v, now))
		}
	}
	return out, nil
}

// EachPlate implements partsync.Owner: every registered vehicle's plate, 500 at a time.
func (s *Service) EachPlate(ctx context.Context, fn func(plateKeys []string) error) error {
	var keys []string
	err := s.store.Each(ctx, Filter{}, func(v Vehicle) error {
		keys = append(keys, v.PlateKey())
		if len(keys) == 500 {
			err := fn(keys)
			keys = nil
			return err
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		return err
	}
	return fn(keys)
}

// StatusOf reads a vehicle's status from MongoDB, by VIN or else by plate and colour, and
// rebuilds its cache entries: the fallback of the checkpoint and the other services when an
// entry is missing. Police, bureau, construction bureau and the services themselves.
func (s *Service) StatusOf(ctx context.Context, p auth.Principal, vin, plate, colour string) (summary.Vehicle, error) {
	if !p.Is(auth.Police, auth.Bureau, auth.Admin, auth.Construction, auth.System) {
		return summary.Vehicle{}, forbidden("role %s may not read vehicle status", p.Role)
	}
	var v Vehicle
	if vin != "" {
		n, err := vehicleid.NormaliseVIN(vin)
		if err != nil {
			return summary.Vehicle{}, apperr.Invalid("vin", err.Error())
		}
		if v, err = s.store.Get(ctx, n); err != nil {
			return summary.Vehicle{}, err
		}
	} else {
		pl, c, err := ParsePlate(plate, colour)
		if err != nil {
			return summary.Vehicle{}, err
		}
		if v, err = s.store.GetByPlate(ctx, pl, c); err != nil {
			return summary.Vehicle{}, err
		}
	}
	e := s.entry(v, s.now())
	if err := s.cache.Put(ctx, e); err != nil {
		s.log.WarnContext(ctx, "status_cache_put_failed", "vin", v.VIN, "error", err.Error())
	}
	return e.Data.(summary.Vehicle), nil
}

// ScreeningRequest is a screening as asked for.
type ScreeningRequest struct {
	Purpose   Purpose
	Candidate Vehicle // for registration: the vehicle's data as presented
	VIN       string  // for an inspection mark: the registered vehicle
	Report    *Inspection
}

// Screen decides and stores a screening. Registration screenings are the police's (vehicle
// registration) and the bureau's; inspection-mark screenings also the police's. An approved
// inspection mark records the report as the vehicle's last inspection, for trace-back.
func (s *Service) Screen(ctx context.Context, p auth.Principal, req ScreeningRequest) (Screening, error) {
	if !p.Is(auth.Police, auth.Bureau) {
		return Screening{}, forbidden("role %s may not screen vehicles", p.Role)
	}
	ctx, span := s.tracer.Start(ctx, "registry.screen", trace.WithAttributes(attribute.String("clearsky.screening.purpose", string(req.Purpose))))
	defer span.End()
	now := s.now().UTC()
	in := ScreeningInput{Purpose: req.Purpose, Report: req.Report, Day: now}
	switch req.Purpose {
	case ForRegistration:
		if err := req.Candidate.Validate(); err != nil {
			return Screening{}, prefixFields(err, "vehicle.")
		}
		in.Candidate = req.Candidate
	case ForInspectionMark:
		vin, err := vehicleid.NormaliseVIN(req.VIN)
		if err != nil {
			return Screening{}, apperr.Invalid("vin", err.Error())
		}
		in.Candidate.VIN = vin
	default:
		return Screening{}, apperr.Invalid("purpose", "must be registration or inspection_mark")
	}
	if req.Report != nil {
		var ve apperr.ValidationError
		if strings.TrimSpace(req.Report.ReportID) == "" {
			ve.Add("inspection_report.report_id", "required")
		}
		if strings.TrimSpace(req.Report.StationID) == "" {
			ve.Add("inspection_report.station_id", "required: the inspection station, for trace-back")
		}
		if req.Report.Result != "pass" && req.Report.Result != "fail" {
			ve.Add("inspection_report.result", "must be pass or fail")
		}
		if req.Report.InspectedOn.IsZero() {
			ve.Add("inspection_report.inspected_on", "required, YYYY-MM-DD")
		}
		if err := ve.Err(); err != nil {
			return Screening{}, err
		}
	}
	existing, err := s.store.Get(ctx, in.Candidate.VIN)
	switch {
	case err == nil:
		in.Existing = &existing
	case !errors.Is(err, ErrNotFound):
		return Screening{}, err
	}
	decision, reasons, po := Screen(in, s.policy)
	sc := Screening{ID: newID("scr"), VIN: in.Candidate.VIN, Plate: in.Candidate.Plate, Purpose: req.Purpose,
		Decision: decision, Reasons: reasons, PhaseOut: po, Report: req.Report, DecidedAt: now, DecidedBy: p.Subject, Role: p.Role}
	if in.Existing != nil {
		sc.Plate = in.Existing.Plate
	}
	if decision == Refused {
		// It concerns the vehicle's fleet, when the registry knows one, and the police.
		var orgs []string
		if in.Existing != nil {
			orgs = append(orgs, in.Existing.FleetID)
		}
		data := map[string]any{"vin": sc.VIN, "plate": sc.Plate, "purpose": string(sc.Purpose)}
		if len(reasons) > 0 {
			data["reason"] = reasons[0].Message
		}
		sc.Outgoing = []events.Draft{{Type: events.RegistryScreeningRefused, At: now, Subject: sc.ID, Link: "/v1/screenings/" + sc.ID,
			Organisations: orgs, Roles: []auth.Role{auth.Police}, Data: data}}
	}
	span.SetAttributes(attribute.String("clearsky.screening.decision", string(decision)))
	if err := s.store.InsertScreening(ctx, sc); err != nil {
		return Screening{}, err
	}
	if decision == Approved && req.Purpose == ForInspectionMark && in.Existing != nil {
		v := *in.Existing
		v.LastInspection = req.Report
		v.UpdatedAt, v.UpdatedBy, v.Version = now, p.Subject, existing.Version+1
		if err := s.save(ctx, v, existing); err != nil {
			return Screening{}, fmt.Errorf("record inspection on %s: %w", v.VIN, err)
		}
	}
	return sc, nil
}

func prefixFields(err error, prefix string) error {
	var ve *apperr.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	out := &apperr.ValidationError{}
	for _, f := range ve.Fields {
		out.Add(prefix+f.Field, f.Message)
	}
	return out
}

// GetScreening returns a stored decision (police, bureau).
func (s *Service) GetScreening(ctx context.Context, p auth.Principal, id string) (Screening, error) {
	if !p.Is(auth.Police, auth.Bureau, auth.Admin) {
		return Screening{}, forbidden("role %s may not read screenings", p.Role)
	}
	return s.store.GetScreening(ctx, id)
}

// ListScreenings returns the newest decisions about a VIN (police, bureau).
func (s *Service) ListScreenings(ctx context.Context, p auth.Principal, vin string, limit int) ([]Screening, error) {
	if !p.Is(auth.Police, auth.Bureau, auth.Admin) {
		return nil, forbidden("role %s may not read screenings", p.Role)
	}
	vin, err := vehicleid.NormaliseVIN(vin)
	if err != nil {
		return nil, apperr.Invalid("vin", err.Error())
	}
	return s.store.ListScreenings(ctx, vin, limit)
}

func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}
