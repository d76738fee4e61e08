package sensing

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// Grouping is what an exceedance-rate report groups vehicles by.
type Grouping string

// Groupings (task 15: full-chain supervision; task 33: inspection stations).
const (
	ByMaker             Grouping = "maker"
	ByInspectionStation Grouping = "inspection_station"
	ByFleet             Grouping = "fleet"
)

// RateRow is the exceedance rate of one group over a period. A vehicle counts once per group
// however often it was measured; VehicleRate is the share of the group's judged vehicles that
// exceeded at least once, ReadingRate the share of its judged readings that exceeded.
type RateRow struct {
	Key               string // the maker, inspection station or fleet; "" for vehicles without one
	Vehicles          int
	ExceedingVehicles int
	Readings          int
	ExceedingReadings int
	VehicleRate       float64
	ReadingRate       float64
	// Qualifies and Flagged: for inspection stations, whether the station had enough judged
	// vehicles to be compared, and whether its vehicle rate is above the fraud threshold.
	Qualifies bool
	Flagged   bool
}

// RateReport is an exceedance-rate report.
type RateReport struct {
	By       Grouping
	From, To time.Time
	Rows     []RateRow
	// For inspection stations: Baseline is the mean vehicle rate of the qualifying stations and
	// Threshold = FraudFactor × Baseline; MinVehicles is what qualifies a station.
	Baseline    float64
	Threshold   float64
	MinVehicles int
	Factor      float64
}

func canReport(p auth.Principal) error {
	if !p.Is(auth.Bureau, auth.Transport, auth.Admin) {
		return forbidden("role %s may not read remote-sensing reports", p.Role)
	}
	return nil
}

func checkPeriod(from, to time.Time) error {
	if !from.Before(to) {
		return apperr.Invalid("to", "must be after from")
	}
	if to.Sub(from) > 3*366*24*time.Hour {
		return apperr.Invalid("from", "a report covers at most three years")
	}
	return nil
}

// ExceedanceReport reports the exceedance rate of judged readings measured in [from, to) by
// maker, by inspection station or by fleet (bureau, transport bureau). The chain fields are the
// ones each reading was judged with. For inspection stations it raises the fraud signal of
// task 33: a station whose passed vehicles exceed on the road far more often than the others'.
// Precisely: among stations with at least FraudMinVehicles judged vehicles in the period
// (qualifying), the baseline is the mean of their vehicle rates, and a qualifying station is
// flagged when its vehicle rate is above FraudFactor × baseline.
func (s *Service) ExceedanceReport(ctx context.Context, p auth.Principal, by Grouping, from, to time.Time) (RateReport, error) {
	if err := canReport(p); err != nil {
		return RateReport{}, err
	}
	if by != ByMaker && by != ByInspectionStation && by != ByFleet {
		return RateReport{}, apperr.Invalid("by", "one of maker, inspection_station, fleet")
	}
	if err := checkPeriod(from, to); err != nil {
		return RateReport{}, err
	}
	ctx, span := s.tracer.Start(ctx, "remotesensing.report", trace.WithAttributes(attribute.String("clearsky.report.by", string(by))))
	defer span.End()
	tally, err := s.reports.Tally(ctx, from, to)
	if err != nil {
		return RateReport{}, err
	}
	rep := RateRows(tally, by)
	rep.From, rep.To = from, to
	if by == ByInspectionStation {
		Flag(&rep, s.opt.FraudFactor, s.opt.FraudMinVehicles)
		for _, r := range rep.Rows {
			if r.Flagged {
				span.AddEvent("inspection_station_flagged", trace.WithAttributes(attribute.String("clearsky.inspection_station.id", r.Key)))
			}
		}
	}
	return rep, nil
}

// RateRows groups a tally: per group, distinct vehicles and readings, judged and exceeding.
// Rows come highest vehicle rate first.
func RateRows(tally []TallyRow, by Grouping) RateReport {
	type acc struct {
		row       RateRow
		vehicles  map[string]bool
		exceeding map[string]bool
	}
	groups := map[string]*acc{}
	for _, t := range tally {
		k := t.Maker
		switch by {
		case ByInspectionStation:
			k = t.InspectionStation
		case ByFleet:
			k = t.FleetID
		}
		a := groups[k]
		if a == nil {
			a = &acc{row: RateRow{Key: k}, vehicles: map[string]bool{}, exceeding: map[string]bool{}}
			groups[k] = a
		}
		a.vehicles[t.PlateKey] = true
		a.row.Readings += t.Readings
		if t.Exceeded {
			a.exceeding[t.PlateKey] = true
			a.row.ExceedingReadings += t.Readings
		}
	}
	rep := RateReport{By: by, Rows: make([]RateRow, 0, len(groups))}
	for _, a := range groups {
		r := a.row
		r.Vehicles, r.ExceedingVehicles = len(a.vehicles), len(a.exceeding)
		if r.Vehicles > 0 {
			r.VehicleRate = float64(r.ExceedingVehicles) / float64(r.Vehicles)
		}
		if r.Readings > 0 {
			r.ReadingRate = float64(r.ExceedingReadings) / float64(r.Readings)
		}
		rep.Rows = append(rep.Rows, r)
	}
	slices.SortFunc(rep.Rows, func(a, b RateRow) int {
		if c := cmp.Compare(b.VehicleRate, a.VehicleRate); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return rep
}

// Flag applies the inspection-station fraud signal to a report by inspection station: stations
// with at least minVehicles judged vehicles qualify; the baseline is the mean vehicle rate of
// the qualifying stations; a qualifying station above factor × baseline is flagged. Vehicles
// without a known inspection station ("") neither qualify nor count in the baseline.
func Flag(rep *RateReport, factor float64, minVehicles int) {
	rep.Factor, rep.MinVehicles = factor, minVehicles
	n, sum := 0, 0.0
	for i := range rep.Rows {
		r := &rep.Rows[i]
		r.Qualifies = r.Key != "" && r.Vehicles >= minVehicles
		if r.Qualifies {
			n++
			sum += r.VehicleRate
		}
	}
	if n == 0 {
		return
	}
	rep.Baseline = sum / float64(n)
	rep.Threshold = factor * rep.Baseline
	for i := range rep.Rows {
		r := &rep.Rows[i]
		r.Flagged = r.Qualifies && rep.Baseline > 0 && r.VehicleRate > rep.Threshold
	}
}

// Offender is a vehicle that exceeded repeatedly in a period.
type Offender struct {
	Plate             string
	PlateColour       vehicleid.Colour
	Maker             string
	FleetID           string
	InspectionStation string
	Readings          int
	ExceedingReadings int
	CasesOpened       int
}

// RepeatOffenders lists the vehicles with at least min exceeding readings measured in
// [from, to), most exceedances first, with the cases opened against them in the period.
func (s *Service) RepeatOffenders(ctx context.Context, p auth.Principal, from, to time.Time, min int) ([]Offender, error) {
	if err := canReport(p); err != nil {
		return nil, err
	}
	if err := checkPeriod(from, to); err != nil {
		return nil, err
	}
	if min < 1 {
		return nil, apperr.Invalid("min", "at least 1")
	}
	ctx, span := s.tracer.Start(ctx, "remotesensing.repeat_offenders")
	defer span.End()
	tally, err := s.reports.Tally(ctx, from, to)
	if err != nil {
		return nil, err
	}
	cases, err := s.reports.CasesOpened(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return Offenders(tally, cases, min), nil
}

// Offenders finishes RepeatOffenders from its tally and cases.
func Offenders(tally []TallyRow, cases []Case, min int) []Offender {
	by := map[string]*Offender{}
	for _, t := range tally {
		o := by[t.PlateKey]
		if o == nil {
			pl := SplitPlateKey(t.PlateKey)
			o = &Offender{Plate: pl.Plate, PlateColour: pl.Colour}
			by[t.PlateKey] = o
		}
		o.Readings += t.Readings
		if t.Exceeded {
			o.ExceedingReadings += t.Readings
			// The chain of the exceeding readings is the one that matters for trace-back.
			o.Maker, o.FleetID, o.InspectionStation = t.Maker, t.FleetID, t.InspectionStation
		} else if o.Maker == "" {
			o.Maker, o.FleetID, o.InspectionStation = t.Maker, t.FleetID, t.InspectionStation
		}
	}
	for _, c := range cases {
		if o := by[c.PlateKey()]; o != nil {
			o.CasesOpened++
		}
	}
	var out []Offender
	for _, o := range by {
		if o.ExceedingReadings >= min {
			out = append(out, *o)
		}
	}
	slices.SortFunc(out, func(a, b Offender) int {
		if c := cmp.Compare(b.ExceedingReadings, a.ExceedingReadings); c != 0 {
			return c
		}
		return cmp.Compare(a.Plate+string(a.PlateColour), b.Plate+string(b.PlateColour))
	})
	return out
}

// SplitPlateKey splits a plate key ("晋F12345:yellow", vehicleid.Key) into plate and colour.
func SplitPlateKey(k string) Plate {
	i := strings.LastIndex(k, ":")
	if i < 0 {
		return Plate{Plate: k}
	}
	return Plate{Plate: k[:i], Colour: vehicleid.Colour(k[i+1:])}
}

// String describes the fraud rule, for the report's readers.
func (r RateReport) String() string {
	return fmt.Sprintf("flagged: vehicle rate above %g × the mean vehicle rate of inspection stations with at least %d judged vehicles", r.Factor, r.MinVehicles)
}
