package sensing

import (
	"cmp"
	"slices"
	"time"

	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
)

// Opening is a case the two-in-a-cycle rule opens.
type Opening struct {
	Plate       string
	PlateColour vehicleid.Colour
	Pollutant   limits.Parameter
	// Triggers are the exceedances within one cycle that make the vehicle an exceeding
	// vehicle, oldest first.
	Triggers []Exceedance
}

// DecideOpenings applies the two-in-a-cycle rule (docs/limits.md, national practice): a vehicle whose
// same pollutant exceeds at least min times within one inspection cycle is an exceeding vehicle
// and a case opens, one open case per plate and pollutant at a time; a single exceedance is
// recorded and opens nothing. exc are the known exceedances of some plates (duplicates by Key
// are ignored) and cases those plates' open cases and the ones ended recently. Exceedances
// measured before the end of an earlier case for the same plate and pollutant were dealt with by
// that case and count no more. Readings may arrive out of order: any min exceedances within
// cycle of each other qualify, and the most recent such group triggers.
func DecideOpenings(exc []Exceedance, cases []Case, cycle time.Duration, min int) []Opening {
	type pair struct {
		plate     string
		pollutant limits.Parameter
	}
	open := map[pair]bool{}
	boundary := map[pair]time.Time{}
	for _, c := range cases {
		k := pair{c.PlateKey(), c.Pollutant}
		if c.State.Open() {
			open[k] = true
		} else if c.EndedAt.After(boundary[k]) {
			boundary[k] = c.EndedAt
		}
	}
	groups := map[pair][]Exceedance{}
	seen := map[string]bool{}
	var order []pair
	for _, e := range exc {
		k := pair{e.PlateKey(), e.Pollutant}
		if seen[e.Key] || open[k] || !e.MeasuredAt.After(boundary[k]) {
			continue
		}
		seen[e.Key] = true
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], e)
	}
	var out []Opening
	for _, k := range order {
		g := groups[k]
		if len(g) < min {
			continue
		}
		slices.SortFunc(g, func(a, b Exceedance) int {
			if c := a.MeasuredAt.Compare(b.MeasuredAt); c != 0 {
				return c
			}
			return cmp.Compare(a.Key, b.Key)
		})
		for last := len(g) - 1; last >= min-1; last-- {
			first := last
			for first > 0 && g[last].MeasuredAt.Sub(g[first-1].MeasuredAt) <= cycle {
				first--
			}
			if last-first+1 >= min {
				e := g[last]
				out = append(out, Opening{Plate: e.Plate, PlateColour: e.PlateColour, Pollutant: e.Pollutant, Triggers: slices.Clone(g[first : last+1])})
				break
			}
		}
	}
	return out
}

// SummaryOf builds a plate's remote-sensing part as of now from its exceedances and cases:
// the open cases, and the exceedances measured within the last cycleDays.
func SummaryOf(plate string, colour vehicleid.Colour, exc []Exceedance, cases []Case, now time.Time, cycleDays int) summary.RemoteSensingStatus {
	from := now.Add(-time.Duration(cycleDays) * 24 * time.Hour).UTC()
	st := summary.RemoteSensingStatus{Plate: plate, PlateColour: string(colour), OpenCases: []summary.RemoteSensingCase{},
		CycleDays: cycleDays, CycleFrom: from, ExceedancesByPollutant: map[string]int{}}
	key := vehicleid.Key(plate, colour)
	seen := map[string]bool{}
	for _, e := range exc {
		if e.PlateKey() != key || seen[e.Key] || e.MeasuredAt.Before(from) {
			continue
		}
		seen[e.Key] = true
		st.ExceedancesInCycle++
		st.ExceedancesByPollutant[string(e.Pollutant)]++
		if st.LastExceedance == nil || e.MeasuredAt.After(st.LastExceedance.At) {
			st.LastExceedance = &summary.RemoteSensingExceedance{At: e.MeasuredAt.UTC(), Pollutant: string(e.Pollutant), Value: e.Value,
				Limit: e.Limit, Unit: e.Unit, Standard: e.Standard, StationID: e.StationID, ReadingID: e.ReadingID}
		}
	}
	for _, c := range cases {
		if c.PlateKey() != key || !c.State.Open() {
			continue
		}
		st.OpenCases = append(st.OpenCases, summary.RemoteSensingCase{ID: c.ID, Pollutant: string(c.Pollutant), State: string(c.State),
			OpenedAt: c.OpenedAt.UTC(), StateSince: c.StateSince.UTC()})
	}
	slices.SortFunc(st.OpenCases, func(a, b summary.RemoteSensingCase) int { return a.OpenedAt.Compare(b.OpenedAt) })
	st.Exceeding = len(st.OpenCases) > 0
	return st
}
