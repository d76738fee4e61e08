package vehicle

import (
	"context"
	"math"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/localtime"
)

// InService says whether v was in service at t: registered by then, and active, or its
// status changed (scrapped, deregistered, plate void) only after t. A vehicle no longer active
// whose status change is not dated counts as out of service.
func (v Vehicle) InService(t time.Time) bool {
	if v.RegisteredOn.After(t) {
		return false
	}
	if v.Status == Active {
		return true
	}
	return !v.StatusChangedAt.IsZero() && v.StatusChangedAt.After(t)
}

// FleetShare is one quota class's fleet in service at a time (task 13): how much of it is new-
// or clean-energy, the target, and how many vehicles are still to replace for the 80 % and the
// 100 % shares.
type FleetShare struct {
	ServiceClass     ServiceClass
	InService        int
	NewEnergy        int
	CleanEnergy      int
	NewEnergyShare   float64
	CleanEnergyShare float64
	// Target and Measure as in ShareRow: the clean-energy share the policy sets (0.8), and for
	// buses, taxis and sanitation vehicles the new-energy share 1.0 once AllNewEnergyFrom has
	// passed.
	Target  float64
	Measure string
	Met     bool
	// ToReplaceFor80 and ToReplaceFor100 are the vehicles of the class still to replace by
	// clean-energy ones (by new-energy ones where the measure is new_energy) for an 80 % and a
	// 100 % share of the fleet in service.
	ToReplaceFor80, ToReplaceFor100 int
}

// FleetPoint is the class's share at the end of one month.
type FleetPoint struct {
	Month            string // 2026-11
	InService        int
	NewEnergyShare   float64
	CleanEnergyShare float64
}

// FleetShareReport is the clean-energy report on the fleet in service.
type FleetShareReport struct {
	At          time.Time // the day's end, China time
	BuiltUpOnly bool
	Classes     []FleetShare
	// Trend is each class's share at the end of each of the months up to At.
	Trend map[ServiceClass][]FleetPoint
	// Replace lists the vehicles in service that are not yet what the class's measure asks.
	Replace []Vehicle
}

// FleetShares reports, per quota class (task 13: bus, sanitation, postal, taxi, commuter,
// light logistics), the share of the fleet in service at the end of the China day at that is
// new- or clean-energy, with the target and the vehicles still to replace, and the share at the
// end of each of the months before it. builtUpOnly counts the vehicles marked as serving the
// built-up area only, the plan's scope. For the bureau and the transport bureau.
func (s *Service) FleetShares(ctx context.Context, p auth.Principal, at time.Time, builtUpOnly bool, months int) (FleetShareReport, error) {
	if !p.Is(auth.Bureau, auth.Transport, auth.Admin) {
		return FleetShareReport{}, forbidden("role %s may not read the clean-energy report", p.Role)
	}
	loc := localtime.Shanghai()
	day := localtime.DayOf(at.In(loc))
	end := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc).Add(-time.Nanosecond)
	// The month ends before end: the last instant of each of the months before end's month.
	first := time.Date(end.Year(), end.Month(), 1, 0, 0, 0, 0, loc)
	ends := make([]time.Time, months)
	for i := range months {
		ends[months-1-i] = first.AddDate(0, -i, 0).Add(-time.Nanosecond)
	}
	allNE := !end.Before(s.policy.AllNewEnergyFrom.Time)
	rows := map[ServiceClass]*FleetShare{}
	trend := map[ServiceClass][]FleetPoint{}
	counts := map[ServiceClass][]struct{ n, ne, ce int }{}
	for _, c := range QuotaClasses {
		rows[c] = &FleetShare{ServiceClass: c}
		counts[c] = make([]struct{ n, ne, ce int }, months)
	}
	measure := func(c ServiceClass) (float64, string) {
		if allNE && (c == Bus || c == Taxi || c == Sanitation) {
			return 1, "new_energy"
		}
		return s.policy.CleanEnergyShare, "clean_energy"
	}
	var replace []Vehicle
	err := s.store.Each(ctx, Filter{}, func(v Vehicle) error {
		r, ok := rows[v.ServiceClass]
		if !ok || (builtUpOnly && !v.BuiltUpArea) {
			return nil
		}
		for i, t := range ends {
			if v.InService(t) {
				counts[v.ServiceClass][i].n++
				if v.NewEnergy() {
					counts[v.ServiceClass][i].ne++
				}
				if v.CleanEnergy() {
					counts[v.ServiceClass][i].ce++
				}
			}
		}
		if !v.InService(end) {
			return nil
		}
		r.InService++
		if v.NewEnergy() {
			r.NewEnergy++
		}
		if v.CleanEnergy() {
			r.CleanEnergy++
		}
		if _, m := measure(v.ServiceClass); (m == "new_energy" && !v.NewEnergy()) || (m == "clean_energy" && !v.CleanEnergy()) {
			v.Owner = "" // a list: the owner's name is left out, as in every list
			replace = append(replace, v)
		}
		return nil
	})
	if err != nil {
		return FleetShareReport{}, err
	}
	out := FleetShareReport{At: end, BuiltUpOnly: builtUpOnly, Trend: trend, Replace: replace}
	for _, c := range QuotaClasses {
		r := rows[c]
		r.Target, r.Measure = measure(c)
		have := r.CleanEnergy
		if r.Measure == "new_energy" {
			have = r.NewEnergy
		}
		if r.InService > 0 {
			r.NewEnergyShare = float64(r.NewEnergy) / float64(r.InService)
			r.CleanEnergyShare = float64(r.CleanEnergy) / float64(r.InService)
		}
		share := r.CleanEnergyShare
		if r.Measure == "new_energy" {
			share = r.NewEnergyShare
		}
		r.Met = r.InService == 0 || share >= r.Target
		r.ToReplaceFor80 = max(0, int(math.Ceil(0.8*float64(r.InService)-1e-9))-have)
		r.ToReplaceFor100 = r.InService - have
		out.Classes = append(out.Classes, *r)
		for i, t := range ends {
			k := counts[c][i]
			pt := FleetPoint{Month: t.In(loc).Format("2006-01"), InService: k.n}
			if k.n > 0 {
				pt.NewEnergyShare, pt.CleanEnergyShare = float64(k.ne)/float64(k.n), float64(k.ce)/float64(k.n)
			}
			trend[c] = append(trend[c], pt)
		}
	}
	return out, nil
}
