package sensing

import (
	"context"
	"slices"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/disclosure"
	"github.com/clearsky/clearsky/libs/localtime"
)

// Disclosure is the month's list of vehicles found exceeding, as the public may see it
// (libs/disclosure): each case whose first exceeding reading was measured in the month (China
// time) and that the bureau has not dismissed, with its plate, that reading's day and station's
// road section, and the pollutant. Oldest first. A case opens when its readings arrive, which
// can be after the month (a late upload), so every case opened since the month began is read.
// For the bureau and the disclosure service, which publishes it once the bureau has reviewed it.
func (s *Service) Disclosure(ctx context.Context, p auth.Principal, m disclosure.Month) ([]disclosure.VehicleRow, error) {
	if !p.Is(auth.Bureau, auth.System) {
		return nil, forbidden("role %s may not compile a disclosure list", p.Role)
	}
	from, to := m.Bounds()
	stations, err := s.stationStore.ListStations(ctx, "")
	if err != nil {
		return nil, err
	}
	place := make(map[string]string, len(stations))
	for _, st := range stations {
		place[st.ID] = st.Site
		if st.Site == "" {
			place[st.ID] = st.Name
		}
	}
	type found struct {
		at  time.Time
		row disclosure.VehicleRow
	}
	var rows []found
	var after *Cursor
	for first := true; first || after != nil; first = false {
		cs, err := s.cases.ListCases(ctx, CaseFilter{}, after, 501)
		if err != nil {
			return nil, err
		}
		after = nil
		if len(cs) > 500 {
			cs = cs[:500]
			after = &Cursor{At: cs[499].OpenedAt, ID: cs[499].ID}
		}
		for _, c := range cs {
			if c.OpenedAt.Before(from) {
				after = nil
				break
			}
			if c.State == Dismissed || len(c.Triggers) == 0 {
				continue
			}
			tr := c.Triggers[0]
			if tr.MeasuredAt.Before(from) || !tr.MeasuredAt.Before(to) {
				continue
			}
			rows = append(rows, found{at: tr.MeasuredAt, row: disclosure.VehicleRow{Plate: c.Plate, PlateColour: string(c.PlateColour),
				Date: tr.MeasuredAt.In(localtime.Shanghai()).Format(time.DateOnly), Place: place[tr.StationID], Pollutant: string(c.Pollutant)}})
		}
	}
	slices.SortStableFunc(rows, func(a, b found) int { return a.at.Compare(b.at) })
	out := make([]disclosure.VehicleRow, len(rows))
	for i, r := range rows {
		out[i] = r.row
	}
	return out, nil
}
