package vehiclestore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/cursor"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/registry/internal/vehicle"
)

// Proposals is the collection of the fleets' proposed changes of authority-owned fields.
const Proposals = "vehicle_proposals"

// patchDoc is a vehicle.Patch: the fields it sets, and only those.
type patchDoc struct {
	Plate            *string    `bson:"plate,omitempty"`
	PlateColour      *string    `bson:"plate_colour,omitempty"`
	FuelType         *string    `bson:"fuel_type,omitempty"`
	EmissionStandard *string    `bson:"emission_standard,omitempty"`
	Category         *string    `bson:"category,omitempty"`
	Use              *string    `bson:"use,omitempty"`
	ServiceClass     *string    `bson:"service_class,omitempty"`
	RegisteredPlace  *string    `bson:"registered_place,omitempty"`
	GrossMassKg      *int       `bson:"gross_mass_kg,omitempty"`
	LeanBurn         *bool      `bson:"lean_burn,omitempty"`
	BuiltUpArea      *bool      `bson:"built_up_area,omitempty"`
	ConvertedGas     *bool      `bson:"converted_gas,omitempty"`
	ScrapDue         *time.Time `bson:"scrap_due,omitempty"` // the zero time: none
}

type proposalEventDoc struct {
	Action string    `bson:"action"`
	By     string    `bson:"by"`
	Role   string    `bson:"role"`
	Tenant string    `bson:"tenant,omitempty"`
	At     time.Time `bson:"at"`
	Reason string    `bson:"reason,omitempty"`
}

type proposalDoc struct {
	ID          string             `bson:"_id"`
	VIN         string             `bson:"vin"`
	Plate       string             `bson:"plate"`
	PlateColour string             `bson:"plate_colour"`
	FleetID     string             `bson:"fleet_id,omitempty"`
	State       string             `bson:"state"`
	Change      patchDoc           `bson:"change"`
	Was         patchDoc           `bson:"was"`
	BaseVersion int64              `bson:"base_version"`
	ProposedBy  string             `bson:"proposed_by"`
	ProposedAt  time.Time          `bson:"proposed_at"`
	DecidedBy   string             `bson:"decided_by,omitempty"`
	DecidedAt   *time.Time         `bson:"decided_at,omitempty"`
	Reason      string             `bson:"reason,omitempty"`
	History     []proposalEventDoc `bson:"history"`
	Version     int64              `bson:"version"`
}

func str[T ~string](p *T) *string {
	if p == nil {
		return nil
	}
	s := string(*p)
	return &s
}

func typed[T ~string](p *string) *T {
	if p == nil {
		return nil
	}
	v := T(*p)
	return &v
}

func toPatchDoc(p vehicle.Patch) patchDoc {
	d := patchDoc{Plate: p.Plate, PlateColour: p.PlateColour, FuelType: str(p.FuelType), EmissionStandard: str(p.EmissionStandard),
		Category: str(p.Category), Use: str(p.Use), ServiceClass: str(p.ServiceClass), RegisteredPlace: p.RegisteredPlace,
		GrossMassKg: p.GrossMassKg, LeanBurn: p.LeanBurn, BuiltUpArea: p.BuiltUpArea, ConvertedGas: p.ConvertedGas}
	if p.ScrapDue != nil {
		t := p.ScrapDue.UTC()
		d.ScrapDue = &t
	}
	return d
}

func fromPatchDoc(d patchDoc) vehicle.Patch {
	p := vehicle.Patch{Plate: d.Plate, PlateColour: d.PlateColour, FuelType: typed[vehicle.FuelType](d.FuelType),
		EmissionStandard: typed[vehicle.Standard](d.EmissionStandard), Category: typed[vehicle.Category](d.Category),
		Use: typed[vehicle.Use](d.Use), ServiceClass: typed[vehicle.ServiceClass](d.ServiceClass), RegisteredPlace: d.RegisteredPlace,
		GrossMassKg: d.GrossMassKg, LeanBurn: d.LeanBurn, BuiltUpArea: d.BuiltUpArea, ConvertedGas: d.ConvertedGas}
	if d.ScrapDue != nil {
		t := d.ScrapDue.UTC()
		if t.Year() <= 1 { // BSON keeps the zero time as its own instant
			t = time.Time{}
		}
		p.ScrapDue = &t
	}
	return p
}

func toProposalDoc(pr vehicle.Proposal) proposalDoc {
	d := proposalDoc{ID: pr.ID, VIN: pr.VIN, Plate: pr.Plate, PlateColour: string(pr.PlateColour), FleetID: pr.FleetID, State: string(pr.State),
		Change: toPatchDoc(pr.Change), Was: toPatchDoc(pr.Was), BaseVersion: pr.BaseVersion, ProposedBy: pr.ProposedBy,
		ProposedAt: pr.ProposedAt.UTC(), DecidedBy: pr.DecidedBy, Reason: pr.Reason, History: []proposalEventDoc{}, Version: pr.Version}
	if !pr.DecidedAt.IsZero() {
		t := pr.DecidedAt.UTC()
		d.DecidedAt = &t
	}
	for _, e := range pr.History {
		d.History = append(d.History, toEventDoc(e))
	}
	return d
}

func toEventDoc(e vehicle.ProposalEvent) proposalEventDoc {
	return proposalEventDoc{Action: e.Action, By: e.By, Role: string(e.Role), Tenant: e.Tenant, At: e.At.UTC(), Reason: e.Reason}
}

func fromProposalDoc(d proposalDoc) vehicle.Proposal {
	pr := vehicle.Proposal{ID: d.ID, VIN: d.VIN, Plate: d.Plate, PlateColour: vehicleid.Colour(d.PlateColour), FleetID: d.FleetID,
		State: vehicle.ProposalState(d.State), Change: fromPatchDoc(d.Change), Was: fromPatchDoc(d.Was), BaseVersion: d.BaseVersion,
		ProposedBy: d.ProposedBy, ProposedAt: d.ProposedAt.UTC(), DecidedBy: d.DecidedBy, Reason: d.Reason, Version: d.Version}
	if d.DecidedAt != nil {
		pr.DecidedAt = d.DecidedAt.UTC()
	}
	for _, e := range d.History {
		pr.History = append(pr.History, vehicle.ProposalEvent{Action: e.Action, By: e.By, Role: auth.Role(e.Role), Tenant: e.Tenant,
			At: e.At.UTC(), Reason: e.Reason})
	}
	return pr
}

// InsertProposal implements vehicle.ProposalStore.
func (s *Store) InsertProposal(ctx context.Context, pr vehicle.Proposal) error {
	if _, err := s.proposals.InsertOne(ctx, toProposalDoc(pr)); err != nil {
		return fmt.Errorf("insert vehicle proposal: %w", err)
	}
	return nil
}

// GetProposal implements vehicle.ProposalStore.
func (s *Store) GetProposal(ctx context.Context, id string) (vehicle.Proposal, error) {
	d, err := mongodb.FindOne[proposalDoc](ctx, s.proposals, bson.D{{Key: "_id", Value: id}}, vehicle.ErrProposalNotFound)
	if err != nil {
		return vehicle.Proposal{}, err
	}
	return fromProposalDoc(d), nil
}

// ListProposals implements vehicle.ProposalStore.
func (s *Store) ListProposals(ctx context.Context, f vehicle.ProposalFilter, after cursor.Key, limit int) ([]vehicle.Proposal, error) {
	filter := bson.D{}
	if f.State != "" {
		filter = append(filter, bson.E{Key: "state", Value: string(f.State)})
	}
	if f.VIN != "" {
		filter = append(filter, bson.E{Key: "vin", Value: f.VIN})
	}
	if f.FleetID != "" {
		filter = append(filter, bson.E{Key: "fleet_id", Value: f.FleetID})
	}
	filter = mongodb.NewestFirst(filter, "proposed_at", after)
	cur, err := s.proposals.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "proposed_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list vehicle proposals: %w", err)
	}
	var docs []proposalDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read vehicle proposals: %w", err)
	}
	out := make([]vehicle.Proposal, 0, len(docs))
	for _, d := range docs {
		out = append(out, fromProposalDoc(d))
	}
	return out, nil
}

// DecideProposal implements vehicle.ProposalStore: one update guarded by the pending state and
// the version read, that sets the decision and appends the history entry.
func (s *Store) DecideProposal(ctx context.Context, pr vehicle.Proposal, e vehicle.ProposalEvent) error {
	set := bson.D{{Key: "state", Value: string(pr.State)}, {Key: "decided_by", Value: pr.DecidedBy},
		{Key: "decided_at", Value: pr.DecidedAt.UTC()}, {Key: "reason", Value: pr.Reason}, {Key: "version", Value: pr.Version}}
	res, err := s.proposals.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: pr.ID}, {Key: "state", Value: string(vehicle.ProposalPending)}, {Key: "version", Value: pr.Version - 1}},
		bson.D{{Key: "$set", Value: set}, {Key: "$push", Value: bson.D{{Key: "history", Value: toEventDoc(e)}}}})
	if err != nil {
		return fmt.Errorf("decide vehicle proposal %s: %w", pr.ID, err)
	}
	if res.MatchedCount == 0 {
		return vehicle.ErrProposalChanged
	}
	return nil
}
