package vehicle

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// VoidCandidate is an active vehicle past its forced-scrappage date and not deregistered: its
// plate is to be declared void (task 13). The checkpoint stops it whether or not it is declared.
type VoidCandidate struct {
	VIN, Plate, PlateColour, FleetID string
	ScrapDue                         time.Time
	DaysOverdue                      int
}

// MaxVoidDeclaration bounds the vehicles one declaration names.
const MaxVoidDeclaration = 1000

// VoidCandidates lists, as of today in China, every active vehicle past its forced-scrappage
// date, longest overdue first: the list is made from the records on every read, so it is the
// day's list without anyone compiling it (police, bureau, admin).
func (s *Service) VoidCandidates(ctx context.Context, p auth.Principal) ([]VoidCandidate, error) {
	if !p.Is(auth.Police, auth.Bureau, auth.Admin) {
		return nil, forbidden("role %s may not read the plates to declare void", p.Role)
	}
	now, today := s.now(), s.today()
	var out []VoidCandidate
	err := s.store.Each(ctx, Filter{Status: Active}, func(v Vehicle) error {
		// As the checkpoint judges it: past the date's start, the vehicle may not be on the road.
		if v.ScrapDue.IsZero() || !now.After(v.ScrapDue) {
			return nil
		}
		out = append(out, VoidCandidate{VIN: v.VIN, Plate: v.Plate, PlateColour: string(v.PlateColour), FleetID: v.FleetID,
			ScrapDue: v.ScrapDue, DaysOverdue: int(today.Sub(v.ScrapDue).Hours() / 24)})
		return nil
	})
	slices.SortStableFunc(out, func(a, b VoidCandidate) int { return a.ScrapDue.Compare(b.ScrapDue) })
	return out, err
}

// DeclareVoid declares the plates of the listed vehicles void in one action (the police): every
// vehicle must be on today's list, or nothing changes and each one that is not is named. Each
// vehicle's status becomes plate_void with the reason, recorded like any status change.
func (s *Service) DeclareVoid(ctx context.Context, p auth.Principal, vins []string, reason string) ([]Vehicle, error) {
	if !p.Is(auth.Police) {
		return nil, forbidden("only the police declare plates void, not %s", p.Role)
	}
	var ve apperr.ValidationError
	if len(vins) == 0 || len(vins) > MaxVoidDeclaration {
		ve.Add("vins", fmt.Sprintf("name 1 to %d vehicles", MaxVoidDeclaration))
	}
	if strings.TrimSpace(reason) == "" {
		ve.Add("reason", "say why (the notice or decision the declaration follows)")
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	cands, err := s.VoidCandidates(ctx, p)
	if err != nil {
		return nil, err
	}
	due := make(map[string]bool, len(cands))
	for _, c := range cands {
		due[c.VIN] = true
	}
	seen := map[string]bool{}
	norm := make([]string, len(vins))
	for i, raw := range vins {
		f := fmt.Sprintf("vins[%d]", i)
		vin, err := vehicleid.NormaliseVIN(raw)
		switch {
		case err != nil:
			ve.Add(f, err.Error())
		case seen[vin]:
			ve.Add(f, "named twice")
		case !due[vin]:
			ve.Add(f, "not on today's list: the vehicle is not active and past its forced-scrappage date")
		}
		seen[vin], norm[i] = true, vin
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	st, why := PlateVoid, strings.TrimSpace(reason)
	out := make([]Vehicle, 0, len(norm))
	for _, vin := range norm {
		v, _, err := s.Update(ctx, p, vin, Patch{Status: &st, StatusReason: &why})
		if err != nil {
			return out, fmt.Errorf("declare %s void (the %d before it are declared): %w", vin, len(out), err)
		}
		out = append(out, v)
	}
	return out, nil
}
