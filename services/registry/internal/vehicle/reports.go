package vehicle

import (
	"context"
	"slices"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
)

// PhaseOutEntry is one vehicle on a phase-out list.
type PhaseOutEntry struct {
	VIN              string
	Plate            string
	PlateColour      string
	FleetID          string
	FuelType         FuelType
	EmissionStandard Standard
	Status           Status
	PhaseOut         PhaseOut
}

// PhaseOutReport lists the active vehicles on the phase-out lists of task 13 (China III-and-below
// operating diesel trucks, lean-burn and converted gas vehicles) with their deadlines; a fleet
// sees its own. Overdue vehicles come first.
func (s *Service) PhaseOutReport(ctx context.Context, p auth.Principal, list string) ([]PhaseOutEntry, error) {
	f := Filter{Status: Active}
	switch p.Role {
	case auth.Fleet:
		f.FleetID = p.Tenant
	case auth.Bureau, auth.Police, auth.Admin, auth.Transport:
	default:
		return nil, forbidden("role %s may not read the phase-out report", p.Role)
	}
	now := s.now()
	var out []PhaseOutEntry
	err := s.store.Each(ctx, f, func(v Vehicle) error {
		po := PhaseOutOf(v, s.policy, now)
		if !po.Listed || (list != "" && po.List != list) {
			return nil
		}
		out = append(out, PhaseOutEntry{VIN: v.VIN, Plate: v.Plate, PlateColour: string(v.PlateColour), FleetID: v.FleetID,
			FuelType: v.FuelType, EmissionStandard: v.EmissionStandard, Status: v.Status, PhaseOut: po})
		return nil
	})
	slices.SortStableFunc(out, func(a, b PhaseOutEntry) int {
		switch {
		case a.PhaseOut.Overdue != b.PhaseOut.Overdue && a.PhaseOut.Overdue:
			return -1
		case a.PhaseOut.Overdue != b.PhaseOut.Overdue:
			return 1
		}
		return a.PhaseOut.Deadline.Compare(b.PhaseOut.Deadline)
	})
	return out, err
}

// QuotaClasses are the service classes the clean-energy quota of task 13 counts.
var QuotaClasses = []ServiceClass{Bus, Sanitation, Postal, Taxi, Commuter, LightLogistics}

// ShareRow is the clean-energy share of one service class.
type ShareRow struct {
	ServiceClass     ServiceClass
	Total            int
	NewEnergy        int
	CleanEnergy      int
	NewEnergyShare   float64
	CleanEnergyShare float64
	// Target and Measure: "clean_energy" share >= 0.8 for every class; buses, taxis and
	// sanitation vehicles "new_energy" share 1.0 once AllNewEnergyFrom has passed.
	Target  float64
	Measure string
	Met     bool
}

// CleanEnergyReport counts, per quota class, the vehicles first registered in [from, to) (the new
// and replaced vehicles of task 13) that are new-energy or clean-energy, against the quota.
// Bureau and admin only.
func (s *Service) CleanEnergyReport(ctx context.Context, p auth.Principal, from, to time.Time) ([]ShareRow, error) {
	if !p.Is(auth.Bureau, auth.Transport, auth.Admin) {
		return nil, forbidden("role %s may not read the clean-energy report", p.Role)
	}
	rows := map[ServiceClass]*ShareRow{}
	for _, c := range QuotaClasses {
		rows[c] = &ShareRow{ServiceClass: c}
	}
	err := s.store.Each(ctx, Filter{}, func(v Vehicle) error {
		r, ok := rows[v.ServiceClass]
		if !ok || v.RegisteredOn.Before(from) || !v.RegisteredOn.Before(to) {
			return nil
		}
		r.Total++
		if v.NewEnergy() {
			r.NewEnergy++
		}
		if v.CleanEnergy() {
			r.CleanEnergy++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]ShareRow, 0, len(QuotaClasses))
	allNE := !to.Before(s.policy.AllNewEnergyFrom.Time)
	for _, c := range QuotaClasses {
		r := rows[c]
		if r.Total > 0 {
			r.NewEnergyShare = float64(r.NewEnergy) / float64(r.Total)
			r.CleanEnergyShare = float64(r.CleanEnergy) / float64(r.Total)
		}
		r.Target, r.Measure = s.policy.CleanEnergyShare, "clean_energy"
		share := r.CleanEnergyShare
		if allNE && (c == Bus || c == Taxi || c == Sanitation) {
			r.Target, r.Measure, share = 1, "new_energy", r.NewEnergyShare
		}
		r.Met = r.Total == 0 || share >= r.Target
		out = append(out, *r)
	}
	return out, nil
}
