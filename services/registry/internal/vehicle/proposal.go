package vehicle

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/cursor"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// Who owns a vehicle field (docs/ownership.md). The fields the checkpoint verdict, the phase-out
// lists, the muck permit rules and the remote-sensing limits rest on belong to the authority: a
// fleet's change of one is a proposal that the bureau accepts or refuses, and until then every
// reader (the registry's Redis part, its status route, the other services) keeps the accepted
// value. The fleet's own bookkeeping (maker, owner) applies at once. Status and fleet are the
// authorities' alone (a fleet cannot even propose them).

// Sentinel errors of proposals.
var (
	ErrProposalNotFound = fmt.Errorf("vehicle proposal %w", apperr.ErrNotFound)
	// ErrProposalDecided: the proposal was accepted or refused already.
	ErrProposalDecided = fmt.Errorf("the proposal is decided already: %w", apperr.ErrConflict)
	// ErrProposalStale: the vehicle changed since the proposal was made.
	ErrProposalStale = fmt.Errorf("the vehicle changed since this proposal was made; refuse it, and the fleet proposes again from the record as it is: %w", apperr.ErrConflict)
	// ErrProposalChanged: the proposal changed while this decision was made.
	ErrProposalChanged = fmt.Errorf("the proposal changed while this decision was made; read it again: %w", apperr.ErrConflict)
)

// ProposalState is where a proposal stands.
type ProposalState string

// Proposal states.
const (
	ProposalPending  ProposalState = "pending"
	ProposalAccepted ProposalState = "accepted"
	ProposalRefused  ProposalState = "refused"
)

// ProposalStates lists the proposal states.
var ProposalStates = []ProposalState{ProposalPending, ProposalAccepted, ProposalRefused}

// Proposal events.
const (
	EventProposed = "proposed"
	EventAccepted = "accepted"
	EventRefused  = "refused"
)

// ProposalEvent is one entry of a proposal's history.
type ProposalEvent struct {
	Action string
	By     string
	Role   auth.Role
	Tenant string
	At     time.Time
	Reason string
}

// Proposal is a regulated party's proposed change of fields the authority owns. Change holds the
// proposed values, Was the values they replace (the same fields), as the record stood at
// BaseVersion.
type Proposal struct {
	ID          string
	VIN         string
	Plate       string
	PlateColour vehicleid.Colour
	FleetID     string
	State       ProposalState
	Change      Patch
	Was         Patch
	BaseVersion int64
	ProposedBy  string
	ProposedAt  time.Time
	DecidedBy   string
	DecidedAt   time.Time
	Reason      string // the bureau's reason for its decision
	History     []ProposalEvent
	Version     int64
}

// ProposalFilter narrows a proposal list. Empty fields match everything.
type ProposalFilter struct {
	State   ProposalState
	VIN     string
	FleetID string
}

// ProposalStore keeps proposals (MongoDB in production).
type ProposalStore interface {
	// InsertProposal stores a new proposal.
	InsertProposal(ctx context.Context, pr Proposal) error
	// GetProposal returns a proposal, or ErrProposalNotFound.
	GetProposal(ctx context.Context, id string) (Proposal, error)
	// ListProposals returns up to limit proposals matching f, newest first, after the key.
	ListProposals(ctx context.Context, f ProposalFilter, after cursor.Key, limit int) ([]Proposal, error)
	// DecideProposal stores pr, decided, over the pending proposal at pr.Version-1, appending the
	// history entry; ErrProposalChanged when it is no longer that.
	DecideProposal(ctx context.Context, pr Proposal, e ProposalEvent) error
}

// authorityPart splits a patch into the fields the authority owns (a fleet proposes them) and
// the fields the party owns (a fleet sets them). Status and fleet are in neither: only the
// authorities set them.
func authorityPart(p Patch) (authority, party Patch) {
	authority = Patch{Plate: p.Plate, PlateColour: p.PlateColour, FuelType: p.FuelType, EmissionStandard: p.EmissionStandard,
		Category: p.Category, Use: p.Use, ServiceClass: p.ServiceClass, RegisteredPlace: p.RegisteredPlace, GrossMassKg: p.GrossMassKg,
		LeanBurn: p.LeanBurn, BuiltUpArea: p.BuiltUpArea, ConvertedGas: p.ConvertedGas, ScrapDue: p.ScrapDue}
	party = Patch{Maker: p.Maker, Owner: p.Owner}
	return authority, party
}

// AuthorityFields are the JSON names of the vehicle fields a fleet may only propose.
var AuthorityFields = []string{"plate", "plate_colour", "fuel_type", "emission_standard", "category", "use", "service_class",
	"registered_place", "gross_mass_kg", "lean_burn", "built_up_area", "converted_gas", "scrap_due"}

// PatchField is one field of a Patch: its JSON name and its value (nil when the patch leaves it).
type PatchField struct {
	Name  string
	Value any
}

// Fields lists the fields p sets, in AuthorityFields' order then maker and owner, each value a
// string, int, bool or time.Time (a zero time: none).
func (p Patch) Fields() []PatchField {
	var out []PatchField
	add := func(name string, set bool, v func() any) {
		if set {
			out = append(out, PatchField{Name: name, Value: v()})
		}
	}
	add("plate", p.Plate != nil, func() any { return *p.Plate })
	add("plate_colour", p.PlateColour != nil, func() any { return *p.PlateColour })
	add("fuel_type", p.FuelType != nil, func() any { return string(*p.FuelType) })
	add("emission_standard", p.EmissionStandard != nil, func() any { return string(*p.EmissionStandard) })
	add("category", p.Category != nil, func() any { return string(*p.Category) })
	add("use", p.Use != nil, func() any { return string(*p.Use) })
	add("service_class", p.ServiceClass != nil, func() any { return string(*p.ServiceClass) })
	add("registered_place", p.RegisteredPlace != nil, func() any { return *p.RegisteredPlace })
	add("gross_mass_kg", p.GrossMassKg != nil, func() any { return *p.GrossMassKg })
	add("lean_burn", p.LeanBurn != nil, func() any { return *p.LeanBurn })
	add("built_up_area", p.BuiltUpArea != nil, func() any { return *p.BuiltUpArea })
	add("converted_gas", p.ConvertedGas != nil, func() any { return *p.ConvertedGas })
	add("scrap_due", p.ScrapDue != nil, func() any { return *p.ScrapDue })
	add("maker", p.Maker != nil, func() any { return *p.Maker })
	add("owner", p.Owner != nil, func() any { return *p.Owner })
	return out
}

// Empty reports whether p sets no field.
func (p Patch) Empty() bool { return reflect.ValueOf(p).IsZero() }

// valuesOf returns the patch that sets, on the fields p sets, v's current values: what a change
// by p would replace.
func valuesOf(v Vehicle, p Patch) Patch {
	var w Patch
	if p.Plate != nil {
		w.Plate = &v.Plate
	}
	if p.PlateColour != nil {
		c := string(v.PlateColour)
		w.PlateColour = &c
	}
	if p.FuelType != nil {
		w.FuelType = &v.FuelType
	}
	if p.EmissionStandard != nil {
		w.EmissionStandard = &v.EmissionStandard
	}
	if p.Category != nil {
		w.Category = &v.Category
	}
	if p.Use != nil {
		w.Use = &v.Use
	}
	if p.ServiceClass != nil {
		w.ServiceClass = &v.ServiceClass
	}
	if p.RegisteredPlace != nil {
		w.RegisteredPlace = &v.RegisteredPlace
	}
	if p.GrossMassKg != nil {
		w.GrossMassKg = &v.GrossMassKg
	}
	if p.LeanBurn != nil {
		w.LeanBurn = &v.LeanBurn
	}
	if p.BuiltUpArea != nil {
		w.BuiltUpArea = &v.BuiltUpArea
	}
	if p.ConvertedGas != nil {
		w.ConvertedGas = &v.ConvertedGas
	}
	if p.ScrapDue != nil {
		w.ScrapDue = &v.ScrapDue
	}
	if p.Maker != nil {
		w.Maker = &v.Maker
	}
	if p.Owner != nil {
		w.Owner = &v.Owner
	}
	return w
}

// sameValue compares two field values of a Patch (times as instants).
func sameValue(a, b any) bool {
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	return a == b
}

// holds reports whether v carries every value p sets.
func holds(v Vehicle, p Patch) bool {
	want, have := p.Fields(), valuesOf(v, p).Fields()
	for i := range want {
		if !sameValue(want[i].Value, have[i].Value) {
			return false
		}
	}
	return true
}

// withoutNoOps returns p without the fields whose value v already carries.
func withoutNoOps(v Vehicle, p Patch) Patch {
	cur := valuesOf(v, p)
	out := p
	rv, rc := reflect.ValueOf(&out).Elem(), reflect.ValueOf(cur)
	for i := 0; i < rv.NumField(); i++ {
		f, c := rv.Field(i), rc.Field(i)
		if f.IsNil() || c.IsNil() {
			continue
		}
		if sameValue(f.Elem().Interface(), c.Elem().Interface()) {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return out
}

// normalisePatch brings the identity fields of p to the form Validate stores (plate letters,
// colour names), so that a proposal compares with the record as stored.
func normalisePatch(p Patch) Patch {
	if p.Plate != nil {
		if n, err := vehicleid.NormalisePlate(*p.Plate); err == nil {
			p.Plate = &n
		}
	}
	if p.PlateColour != nil {
		if c, err := vehicleid.ParseColour(*p.PlateColour); err == nil {
			s := string(c)
			p.PlateColour = &s
		}
	}
	if p.Maker != nil {
		m := strings.TrimSpace(*p.Maker)
		p.Maker = &m
	}
	return p
}

// propose stores a fleet's proposal of change (authority fields only, validated, no-ops left out)
// for v. A pending proposal of the same fleet with the same change is answered instead of a new
// one (a retried PATCH proposes once).
func (s *Service) propose(ctx context.Context, p auth.Principal, v Vehicle, change Patch) (Proposal, error) {
	pending, err := s.proposals.ListProposals(ctx, ProposalFilter{State: ProposalPending, VIN: v.VIN}, cursor.Key{}, 100)
	if err != nil {
		return Proposal{}, err
	}
	for _, pr := range pending {
		if pr.FleetID == v.FleetID && reflect.DeepEqual(pr.Change.Fields(), change.Fields()) {
			return pr, nil
		}
	}
	now := s.now().UTC()
	pr := Proposal{ID: newID("vp"), VIN: v.VIN, Plate: v.Plate, PlateColour: v.PlateColour, FleetID: v.FleetID, State: ProposalPending,
		Change: change, Was: valuesOf(v, change), BaseVersion: v.Version, ProposedBy: p.Subject, ProposedAt: now, Version: 1,
		History: []ProposalEvent{{Action: EventProposed, By: p.Subject, Role: p.Role, Tenant: p.Tenant, At: now}}}
	if err := s.proposals.InsertProposal(ctx, pr); err != nil {
		return Proposal{}, err
	}
	s.log.InfoContext(ctx, "vehicle_change_proposed", "proposal_id", pr.ID, "vin", pr.VIN, "fields", fieldNames(change), "by", p.Subject)
	return pr, nil
}

func fieldNames(p Patch) []string {
	fs := p.Fields()
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

// canSeeProposal: the bureau sees every proposal, a fleet its own vehicles', admin reads.
func canSeeProposal(p auth.Principal, pr Proposal) bool {
	switch p.Role {
	case auth.Bureau, auth.Admin:
		return true
	case auth.Fleet:
		return pr.FleetID == p.Tenant
	}
	return false
}

// GetProposal returns a proposal the caller may see; another fleet's is not found.
func (s *Service) GetProposal(ctx context.Context, p auth.Principal, id string) (Proposal, error) {
	if !p.Is(auth.Bureau, auth.Fleet, auth.Admin) {
		return Proposal{}, forbidden("role %s may not read vehicle proposals", p.Role)
	}
	pr, err := s.proposals.GetProposal(ctx, id)
	if err != nil {
		return Proposal{}, err
	}
	if !canSeeProposal(p, pr) {
		return Proposal{}, ErrProposalNotFound
	}
	return pr, nil
}

// ListProposals returns a page of the proposals the caller may see, newest first; a fleet's
// filter is pinned to itself.
func (s *Service) ListProposals(ctx context.Context, p auth.Principal, f ProposalFilter, after cursor.Key, limit int) ([]Proposal, error) {
	switch p.Role {
	case auth.Bureau, auth.Admin:
	case auth.Fleet:
		if f.FleetID != "" && f.FleetID != p.Tenant {
			return nil, forbidden("a fleet lists only its own vehicles' proposals")
		}
		f.FleetID = p.Tenant
	default:
		return nil, forbidden("role %s may not read vehicle proposals", p.Role)
	}
	var ve apperr.ValidationError
	switch f.State {
	case "", ProposalPending, ProposalAccepted, ProposalRefused:
	default:
		ve.Add("state", "must be pending, accepted or refused")
	}
	if f.VIN != "" {
		vin, err := vehicleid.NormaliseVIN(f.VIN)
		if err != nil {
			ve.Add("vin", err.Error())
		}
		f.VIN = vin
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return s.proposals.ListProposals(ctx, f, after, limit)
}

// AcceptProposal applies a pending proposal to its vehicle (the bureau): the proposed values
// become the record's, are published to Redis and used by every verdict from then on. The
// vehicle must still carry the values the proposal replaces (else ErrProposalStale: the bureau
// refuses it and the fleet proposes again). The vehicle is written first, then the proposal:
// accepting again after a crash in between finds the values in place and only records the
// decision.
func (s *Service) AcceptProposal(ctx context.Context, p auth.Principal, id, reason string) (Proposal, Vehicle, error) {
	if !p.Is(auth.Bureau) {
		return Proposal{}, Vehicle{}, forbidden("role %s may not decide vehicle proposals: the bureau decides them", p.Role)
	}
	pr, err := s.proposals.GetProposal(ctx, id)
	if err != nil {
		return Proposal{}, Vehicle{}, err
	}
	if pr.State != ProposalPending {
		return Proposal{}, Vehicle{}, fmt.Errorf("proposal %s is %s: %w", pr.ID, pr.State, ErrProposalDecided)
	}
	old, err := s.store.Get(ctx, pr.VIN)
	if err != nil {
		return Proposal{}, Vehicle{}, err
	}
	v := old
	switch {
	case holds(old, pr.Change): // applied before a crash, or the same values set since
	case holds(old, pr.Was):
		applyPatch(&v, pr.Change)
		if err := v.Validate(); err != nil {
			return Proposal{}, Vehicle{}, fmt.Errorf("the proposed values no longer make a valid record (%v): %w", err, ErrProposalStale)
		}
		if v.Plate != old.Plate || v.PlateColour != old.PlateColour {
			if other, err := s.store.GetByPlate(ctx, v.Plate, v.PlateColour); err == nil && other.VIN != v.VIN {
				return Proposal{}, Vehicle{}, ErrDuplicatePlate
			} else if err != nil && !errors.Is(err, ErrNotFound) {
				return Proposal{}, Vehicle{}, err
			}
		}
		v.UpdatedAt, v.UpdatedBy, v.Version = s.now().UTC(), p.Subject, old.Version+1
		if err := s.save(ctx, v, old); err != nil {
			return Proposal{}, Vehicle{}, err
		}
	default:
		return Proposal{}, Vehicle{}, ErrProposalStale
	}
	pr, err = s.decide(ctx, p, pr, ProposalAccepted, EventAccepted, reason)
	if err != nil {
		return Proposal{}, Vehicle{}, err
	}
	return pr, v, nil
}

// RefuseProposal closes a pending proposal without changing the vehicle (the bureau), with a
// reason.
func (s *Service) RefuseProposal(ctx context.Context, p auth.Principal, id, reason string) (Proposal, error) {
	if !p.Is(auth.Bureau) {
		return Proposal{}, forbidden("role %s may not decide vehicle proposals: the bureau decides them", p.Role)
	}
	if strings.TrimSpace(reason) == "" {
		return Proposal{}, apperr.Invalid("reason", "say why the proposal is refused")
	}
	pr, err := s.proposals.GetProposal(ctx, id)
	if err != nil {
		return Proposal{}, err
	}
	if pr.State != ProposalPending {
		return Proposal{}, fmt.Errorf("proposal %s is %s: %w", pr.ID, pr.State, ErrProposalDecided)
	}
	return s.decide(ctx, p, pr, ProposalRefused, EventRefused, reason)
}

func (s *Service) decide(ctx context.Context, p auth.Principal, pr Proposal, to ProposalState, action, reason string) (Proposal, error) {
	now := s.now().UTC()
	e := ProposalEvent{Action: action, By: p.Subject, Role: p.Role, Tenant: p.Tenant, At: now, Reason: strings.TrimSpace(reason)}
	n := pr
	n.State, n.DecidedBy, n.DecidedAt, n.Reason, n.Version = to, p.Subject, now, e.Reason, pr.Version+1
	n.History = append(append([]ProposalEvent(nil), pr.History...), e)
	if err := s.proposals.DecideProposal(ctx, n, e); err != nil {
		return Proposal{}, err
	}
	s.log.InfoContext(ctx, "vehicle_proposal_decided", "proposal_id", n.ID, "vin", n.VIN, "state", string(to), "by", p.Subject)
	return n, nil
}
