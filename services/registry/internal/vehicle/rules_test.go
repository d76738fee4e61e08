package vehicle

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
)

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// truck is a valid China VI operating diesel truck.
func truck() Vehicle {
	return Vehicle{VIN: "LZZ1CLVB3JA123455", Plate: "晋F12345", PlateColour: "yellow", FuelType: Diesel,
		EmissionStandard: StdVIb, Category: N3, Use: Operating, Maker: "Sinotruk", RegisteredOn: date("2020-05-01"), Status: Active}
}

func codes(rs []Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

func TestScreen(t *testing.T) {
	p := DefaultPolicy()
	with := func(f func(*Vehicle)) Vehicle { v := truck(); f(&v); return v }
	ptr := func(v Vehicle) *Vehicle { return &v }
	pass := &Inspection{ReportID: "R1", StationID: "S1", Result: "pass", InspectedOn: date("2026-06-01")}
	tests := []struct {
		name     string
		in       ScreeningInput
		want     Decision
		wantCode []string
	}{
		{"registration: China VIb diesel truck", ScreeningInput{Purpose: ForRegistration, Candidate: truck(), Day: date("2026-01-01")}, Approved, nil},
		{"registration: China VIa diesel truck before VIb", ScreeningInput{Purpose: ForRegistration, Candidate: with(func(v *Vehicle) { v.EmissionStandard = StdVIa }), Day: date("2022-01-01")}, Approved, nil},
		{"registration: China V after VIa came into force", ScreeningInput{Purpose: ForRegistration, Candidate: with(func(v *Vehicle) { v.EmissionStandard = StdV }), Day: date("2020-01-01")}, Refused, []string{"standard_not_in_force"}},
		{"registration: China V the day before VIa", ScreeningInput{Purpose: ForRegistration, Candidate: with(func(v *Vehicle) { v.EmissionStandard = StdV }), Day: date("2019-06-30")}, Approved, nil},
		{"registration: VIa after VIb came into force", ScreeningInput{Purpose: ForRegistration, Candidate: with(func(v *Vehicle) { v.EmissionStandard = StdVIa }), Day: date("2023-07-01")}, Refused, []string{"standard_not_in_force"}},
		{"registration: electric vehicle needs no emission standard check", ScreeningInput{Purpose: ForRegistration, Candidate: with(func(v *Vehicle) { v.FuelType = Electric; v.EmissionStandard = StdI }), Day: date("2026-01-01")}, Approved, nil},
		{"registration: China III operating diesel truck transferred in", ScreeningInput{Purpose: ForRegistration, Candidate: with(func(v *Vehicle) { v.EmissionStandard = StdIII }), Day: date("2016-01-01")}, Refused, []string{"phase_out_listed"}},
		{"registration: VIN already active", ScreeningInput{Purpose: ForRegistration, Candidate: truck(), Existing: ptr(truck()), Day: date("2026-01-01")}, Refused, []string{"already_registered"}},
		{"registration: scrapped VIN", ScreeningInput{Purpose: ForRegistration, Candidate: truck(), Existing: ptr(with(func(v *Vehicle) { v.Status = Scrapped })), Day: date("2026-01-01")}, Refused, []string{"scrapped"}},
		{"inspection mark: passing report", ScreeningInput{Purpose: ForInspectionMark, Existing: ptr(truck()), Report: pass, Day: date("2026-07-01")}, Approved, nil},
		{"inspection mark: no report", ScreeningInput{Purpose: ForInspectionMark, Existing: ptr(truck()), Day: date("2026-07-01")}, Refused, []string{"no_inspection_report"}},
		{"inspection mark: failed report", ScreeningInput{Purpose: ForInspectionMark, Existing: ptr(truck()), Report: &Inspection{ReportID: "R2", StationID: "S1", Result: "fail", InspectedOn: date("2026-06-01")}, Day: date("2026-07-01")}, Refused, []string{"inspection_failed"}},
		{"inspection mark: report older than a year", ScreeningInput{Purpose: ForInspectionMark, Existing: ptr(truck()), Report: pass, Day: date("2027-06-02")}, Refused, []string{"inspection_expired"}},
		{"inspection mark: report dated tomorrow", ScreeningInput{Purpose: ForInspectionMark, Existing: ptr(truck()), Report: pass, Day: date("2026-05-31")}, Refused, []string{"inspection_in_future"}},
		{"inspection mark: unknown vehicle", ScreeningInput{Purpose: ForInspectionMark, Report: pass, Day: date("2026-07-01")}, Refused, []string{"unknown_vehicle"}},
		{"inspection mark: deregistered", ScreeningInput{Purpose: ForInspectionMark, Existing: ptr(with(func(v *Vehicle) { v.Status = Deregistered })), Report: pass, Day: date("2026-07-01")}, Refused, []string{"deregistered"}},
		{"inspection mark: void plate", ScreeningInput{Purpose: ForInspectionMark, Existing: ptr(with(func(v *Vehicle) { v.Status = PlateVoid })), Report: pass, Day: date("2026-07-01")}, Refused, []string{"plate_void"}},
		{"inspection mark: past forced scrappage", ScreeningInput{Purpose: ForInspectionMark, Existing: ptr(with(func(v *Vehicle) { v.ScrapDue = date("2026-01-01") })), Report: pass, Day: date("2026-07-01")}, Refused, []string{"past_forced_scrappage"}},
		{"inspection mark: China III truck before the deadline is warned", ScreeningInput{Purpose: ForInspectionMark, Existing: ptr(with(func(v *Vehicle) { v.EmissionStandard = StdIII })), Report: &Inspection{ReportID: "R", StationID: "S", Result: "pass", InspectedOn: date("2020-06-01")}, Day: date("2020-07-01")}, Approved, []string{"phase_out_listed"}},
		{"inspection mark: China III truck after the deadline", ScreeningInput{Purpose: ForInspectionMark, Existing: ptr(with(func(v *Vehicle) { v.EmissionStandard = StdIII })), Report: pass, Day: date("2026-07-01")}, Refused, []string{"phase_out_overdue"}},
		{"inspection mark: lean-burn gas vehicle after the deadline", ScreeningInput{Purpose: ForInspectionMark, Existing: ptr(with(func(v *Vehicle) { v.FuelType = Gas; v.LeanBurn = true })), Report: pass, Day: date("2026-07-01")}, Refused, []string{"phase_out_overdue"}},
		{"inspection mark: China III non-operating diesel is not listed", ScreeningInput{Purpose: ForInspectionMark, Existing: ptr(with(func(v *Vehicle) { v.EmissionStandard = StdIII; v.Use = NonOperating })), Report: pass, Day: date("2026-07-01")}, Approved, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reasons, _ := Screen(tc.in, p)
			if got != tc.want {
				t.Fatalf("decision = %s (reasons %v), want %s", got, codes(reasons), tc.want)
			}
			if !slices.Equal(codes(reasons), tc.wantCode) {
				t.Fatalf("reasons = %v, want %v", codes(reasons), tc.wantCode)
			}
		})
	}
}

func TestPhaseOutOf(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		name     string
		mod      func(*Vehicle)
		wantList string
		overdue  bool
	}{
		{"China VI diesel truck", func(*Vehicle) {}, "", false},
		{"China III operating diesel truck", func(v *Vehicle) { v.EmissionStandard = StdIII }, "diesel_truck_china3", true},
		{"China II operating diesel truck", func(v *Vehicle) { v.EmissionStandard = StdII }, "diesel_truck_china3", true},
		{"China IV operating diesel truck", func(v *Vehicle) { v.EmissionStandard = StdIV }, "", false},
		{"China III diesel bus is not a truck", func(v *Vehicle) { v.EmissionStandard = StdIII; v.Category = M3 }, "", false},
		{"China III petrol truck", func(v *Vehicle) { v.EmissionStandard = StdIII; v.FuelType = Gasoline }, "", false},
		{"converted gas", func(v *Vehicle) { v.FuelType = Gas; v.ConvertedGas = true }, "gas_converted", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := truck()
			tc.mod(&v)
			got := PhaseOutOf(v, p, date("2026-01-01"))
			if got.List != tc.wantList || got.Overdue != tc.overdue || got.Listed != (tc.wantList != "") {
				t.Fatalf("PhaseOutOf = %+v, want list %q overdue %v", got, tc.wantList, tc.overdue)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*Vehicle)
		fields []string
	}{
		{"valid", func(*Vehicle) {}, nil},
		{"bad check digit", func(v *Vehicle) { v.VIN = "LZZ1CLVB1JA123455" }, []string{"vin"}},
		{"bad plate and colour", func(v *Vehicle) { v.Plate = "XX"; v.PlateColour = "pink" }, []string{"plate", "plate_colour"}},
		{"unknown enums", func(v *Vehicle) { v.FuelType = "coal"; v.EmissionStandard = "VII"; v.Category = "N4"; v.Use = "x" }, []string{"fuel_type", "emission_standard", "category", "use"}},
		{"missing maker and date", func(v *Vehicle) { v.Maker = " "; v.RegisteredOn = time.Time{} }, []string{"maker", "registered_on"}},
		{"future registration", func(v *Vehicle) { v.RegisteredOn = time.Now().AddDate(1, 0, 0) }, []string{"registered_on"}},
		{"diesel on a green plate", func(v *Vehicle) { v.PlateColour = "green" }, []string{"plate_colour"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := truck()
			tc.mod(&v)
			err := v.Validate()
			var ve *apperr.ValidationError
			if tc.fields == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.As(err, &ve) || !errors.Is(err, apperr.ErrInvalid) {
				t.Fatalf("Validate = %v, want a ValidationError", err)
			}
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
			}
			if !slices.Equal(got, tc.fields) {
				t.Fatalf("fields at fault = %v, want %v", got, tc.fields)
			}
		})
	}
}

func TestMinimumOn(t *testing.T) {
	p := DefaultPolicy()
	if _, ok := p.MinimumOn(date("2010-01-01")); ok {
		t.Fatal("MinimumOn(2010) found a rule, want none before the first")
	}
	got, _ := p.MinimumOn(date("2019-07-01"))
	if got.Minimum != StdVIa {
		t.Fatalf("MinimumOn(2019-07-01) = %s, want VIa", got.Minimum)
	}
}

// A phase-out deadline is a day, written as one wherever it is answered.
func TestPhaseOutDeadlineIsADay(t *testing.T) {
	b, err := json.Marshal(PhaseOut{Listed: true, List: "diesel_truck_china3", Deadline: time.Date(2020, 12, 31, 0, 0, 0, 0, time.UTC), Overdue: true})
	if err != nil || string(b) != `{"listed":true,"list":"diesel_truck_china3","deadline":"2020-12-31","overdue":true}` {
		t.Fatalf("phase-out = %s, %v", b, err)
	}
	if b, _ := json.Marshal(PhaseOut{}); string(b) != `{"listed":false,"overdue":false}` {
		t.Fatalf("not listed = %s", b)
	}
}
