package permit

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// PermitGrace is how long after its validity ended a permit stays in the summary; passes leave
// it when their validity ends.
const PermitGrace = 30 * 24 * time.Hour

// PlateRecords is everything the service holds about one plate.
type PlateRecords struct {
	Plate      string
	Colour     vehicleid.Colour
	Permits    []Permit
	Passes     []Pass
	Violations []Violation // newest first, already limited to the recent window
}

// SummaryOf builds a plate's part of the checkpoint verdict as of now.
func SummaryOf(r PlateRecords, now time.Time) summary.MuckStatus {
	m := summary.MuckStatus{Plate: r.Plate, PlateColour: string(r.Colour), PermitState: string(None),
		Permits: []summary.MuckPermit{}, Passes: []summary.MuckPass{}, RecentViolations: []summary.MuckViolation{}, Timezone: "Asia/Shanghai"}
	permits := append([]Permit(nil), r.Permits...)
	sort.SliceStable(permits, func(i, j int) bool { return permits[i].CreatedAt.After(permits[j].CreatedAt) })
	bestRank := 99
	for _, p := range permits {
		if m.VIN == "" {
			m.VIN = p.VIN
		}
		if now.Sub(p.ValidTo) > PermitGrace {
			continue
		}
		st := p.StateAt(now)
		m.Permits = append(m.Permits, summary.MuckPermit{PermitID: p.ID, State: string(st), StateReason: p.StateReason,
			ValidFrom: p.ValidFrom.UTC(), ValidTo: p.ValidTo.UTC(), FromSite: p.FromSite, ToSite: p.ToSite})
		if f := favour(p, now); f < bestRank {
			bestRank, m.PermitState = f, string(st)
		}
	}
	for _, ps := range r.Passes {
		if ps.Cancelled || !now.Before(ps.ValidTo) {
			continue
		}
		zone, err := json.Marshal(ps.Zone)
		if err != nil {
			continue // a stored zone is always valid; an empty one cannot be drawn
		}
		b := ps.Zone.BBox()
		m.Passes = append(m.Passes, summary.MuckPass{PassID: ps.ID, PermitID: ps.PermitID, Zone: zone,
			BBox: [4]float64{b.MinLon, b.MinLat, b.MaxLon, b.MaxLat}, Hours: summary.MuckHours{From: Clock(ps.Hours.From), To: Clock(ps.Hours.To)},
			ValidFrom: ps.ValidFrom.UTC(), ValidTo: ps.ValidTo.UTC()})
	}
	for _, v := range r.Violations {
		if m.VIN == "" {
			m.VIN = v.VIN
		}
		m.RecentViolations = append(m.RecentViolations, summary.MuckViolation{ViolationID: v.ID, Kind: string(v.Kind),
			ObservedAt: v.ObservedAt.UTC(), FromSite: v.FromSite, PermitID: v.PermitID, Revoked: len(v.RevokedPermits) > 0})
	}
	return m
}
