package verdict

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/summary"
)

var now = time.Date(2026, 11, 29, 14, 0, 0, 0, time.UTC) // 22:00 in Shanghai

func truck() *summary.Vehicle {
	return &summary.Vehicle{VIN: "V", Plate: "晋F12345", PlateColour: "yellow", Status: "active", FuelType: "diesel",
		EmissionStandard: "VIa", Category: "N3", Heavy: true, ServiceClass: "freight", TerminalBound: true}
}

func square(t *testing.T) (*geo.Shape, json.RawMessage) {
	raw := json.RawMessage(`{"type":"Polygon","coordinates":[[[112.0,39.0],[113.0,39.0],[113.0,40.0],[112.0,40.0],[112.0,39.0]]]}`)
	z, err := geo.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return &z, raw
}

func codesOf(rs []Reason) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

func TestDecide(t *testing.T) {
	zone, rawZone := square(t)
	inside := &geo.Point{Lon: 112.5, Lat: 39.5}
	outside := &geo.Point{Lon: 110, Lat: 39.5}
	with := func(f func(*summary.Vehicle)) *summary.Vehicle { v := truck(); f(v); return v }
	day, _ := localtime.ParseHours("08:00", "18:00")
	muckTruck := with(func(v *summary.Vehicle) { v.ServiceClass = "muck" })
	permit := func(state string, from, to time.Time) summary.MuckPermit {
		return summary.MuckPermit{PermitID: "P1", State: state, ValidFrom: from, ValidTo: to}
	}
	validPermit := permit("approved", now.Add(-24*time.Hour), now.Add(24*time.Hour))
	pass := func(h string) summary.MuckPass {
		from, to := h[:5], h[6:]
		return summary.MuckPass{PassID: "S1", PermitID: "P1", Zone: rawZone, Hours: summary.MuckHours{From: from, To: to}, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(time.Hour)}
	}
	orange := Alert{ID: "A1", Level: Orange, StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Hour), Restrictions: DefaultRestrictions(Orange)}
	zoned := Alert{ID: "A2", Level: Red, StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Hour),
		Restrictions: []Restriction{{Class: HeavyDiesel, Zone: zone, ZoneName: "the old town"}}}
	timed := Alert{ID: "A3", Level: Yellow, StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Hour),
		Restrictions: []Restriction{{Class: HeavyDiesel, Hours: &day}}}
	tests := []struct {
		name  string
		in    Input
		want  Verdict
		codes []string
	}{
		{"clean truck", Input{Registry: truck(), RS: &summary.RemoteSensingStatus{}, OBD: &summary.Truck{VIN: "V"}}, Pass, []string{}},
		{"unknown plate", Input{States: map[summary.Part]PartState{summary.Registry: NotFound}, RS: &summary.RemoteSensingStatus{}}, Inspect, []string{"unknown_vehicle"}},
		{"registry down", Input{States: map[summary.Part]PartState{summary.Registry: Unknown}}, Inspect, []string{"part_unknown"}},
		{"obd part unknown is never clean", Input{Registry: truck(), States: map[summary.Part]PartState{summary.OBD: Unknown}}, Inspect, []string{"part_unknown"}},
		{"scrapped", Input{Registry: with(func(v *summary.Vehicle) { v.Status = "scrapped" })}, Stop, []string{"scrapped"}},
		{"deregistered", Input{Registry: with(func(v *summary.Vehicle) { v.Status = "deregistered" })}, Stop, []string{"deregistered"}},
		{"void plate", Input{Registry: with(func(v *summary.Vehicle) { v.Status = "plate_void" })}, Stop, []string{"plate_void"}},
		{"past forced scrappage", Input{Registry: with(func(v *summary.Vehicle) { v.ScrapDue = "2026-01-01" })}, Stop, []string{"past_forced_scrappage"}},
		{"phase-out overdue", Input{Registry: with(func(v *summary.Vehicle) {
			v.PhaseOut = summary.PhaseOut{Listed: true, Reason: "China III", Deadline: "2020-12-31"}
		})}, Inspect, []string{"phase_out_overdue"}},
		{"phase-out ahead is information", Input{Registry: with(func(v *summary.Vehicle) {
			v.PhaseOut = summary.PhaseOut{Listed: true, Reason: "China III", Deadline: "2027-12-31"}
		})}, Pass, []string{"phase_out_listed"}},
		{"open remote-sensing case", Input{Registry: truck(), RS: &summary.RemoteSensingStatus{Exceeding: true,
			OpenCases: []summary.RemoteSensingCase{{ID: "C1", Pollutant: "no", State: "notified"}}}}, Inspect, []string{"open_remote_sensing_case"}},
		{"OBD NOx alarm", Input{Registry: truck(), OBD: &summary.Truck{VIN: "V", OpenAlarms: []summary.OBDAlarm{{Kind: "nox_exceedance"}}}}, Inspect, []string{"obd_nox_exceedance"}},
		{"OBD tamper alarm stops", Input{Registry: truck(), OBD: &summary.Truck{VIN: "V", OpenAlarms: []summary.OBDAlarm{{Kind: "tamper_removal_alarm"}}}}, Stop, []string{"obd_tamper_removal_alarm"}},
		{"OBD offline while moving", Input{Registry: truck(), OBD: &summary.Truck{VIN: "V", OpenAlarms: []summary.OBDAlarm{{Kind: "offline_while_moving"}}}}, Inspect, []string{"obd_offline_while_moving"}},
		{"muck truck without a permit", Input{Registry: muckTruck, Muck: &summary.MuckStatus{PermitState: "none"}}, Stop, []string{"muck_no_valid_permit"}},
		{"muck permit revoked", Input{Registry: muckTruck, Muck: &summary.MuckStatus{PermitState: "revoked", Permits: []summary.MuckPermit{permit("revoked", now.Add(-time.Hour), now.Add(time.Hour))}}}, Stop, []string{"muck_no_valid_permit"}},
		{"muck permit expired by the clock", Input{Registry: muckTruck, Muck: &summary.MuckStatus{PermitState: "approved", Permits: []summary.MuckPermit{permit("approved", now.Add(-48*time.Hour), now.Add(-time.Hour))}}}, Stop, []string{"muck_no_valid_permit"}},
		{"muck with valid permit, no position", Input{Registry: muckTruck, Muck: &summary.MuckStatus{PermitState: "approved", Permits: []summary.MuckPermit{validPermit}}}, Pass, []string{}},
		{"muck inside pass zone in hours (across midnight)", Input{Registry: muckTruck, Position: inside, Muck: &summary.MuckStatus{Permits: []summary.MuckPermit{validPermit}, Passes: []summary.MuckPass{pass("22:00-05:00")}}}, Pass, []string{}},
		{"muck inside zone out of hours", Input{Registry: muckTruck, Position: inside, Muck: &summary.MuckStatus{Permits: []summary.MuckPermit{validPermit}, Passes: []summary.MuckPass{pass("08:00-18:00")}}}, Inspect, []string{"muck_outside_pass_hours"}},
		{"muck outside every pass zone", Input{Registry: muckTruck, Position: outside, Muck: &summary.MuckStatus{Permits: []summary.MuckPermit{validPermit}, Passes: []summary.MuckPass{pass("22:00-05:00")}}}, Inspect, []string{"muck_outside_pass_zone"}},
		{"orange alert bars China IV heavy diesel", Input{Registry: with(func(v *summary.Vehicle) { v.EmissionStandard = "IV" }), Alerts: []Alert{orange}}, Stop, []string{"restricted_by_alert"}},
		{"orange alert spares China V heavy diesel", Input{Registry: with(func(v *summary.Vehicle) { v.EmissionStandard = "V" }), Alerts: []Alert{orange}}, Pass, []string{}},
		{"orange alert bars bulk-material trucks of any standard", Input{Registry: muckTruck, Muck: &summary.MuckStatus{Permits: []summary.MuckPermit{validPermit}}, Alerts: []Alert{orange}}, Stop, []string{"restricted_by_alert"}},
		{"alert spares new-energy trucks", Input{Registry: with(func(v *summary.Vehicle) { v.NewEnergy = true; v.FuelType = "electric"; v.ServiceClass = "muck" }),
			Muck: &summary.MuckStatus{Permits: []summary.MuckPermit{validPermit}}, Alerts: []Alert{orange}}, Pass, []string{}},
		{"alert spares cars", Input{Registry: with(func(v *summary.Vehicle) { v.Heavy = false; v.FuelType = "gasoline"; v.EmissionStandard = "IV" }), Alerts: []Alert{orange}}, Pass, []string{}},
		{"zoned alert inside the zone", Input{Registry: truck(), Position: inside, Alerts: []Alert{zoned}}, Stop, []string{"restricted_by_alert"}},
		{"zoned alert outside the zone", Input{Registry: truck(), Position: outside, Alerts: []Alert{zoned}}, Pass, []string{}},
		{"zoned alert without a position", Input{Registry: truck(), Alerts: []Alert{zoned}}, Inspect, []string{"alert_zone_unknown_position"}},
		{"alert outside its hours", Input{Registry: truck(), Alerts: []Alert{timed}}, Pass, []string{}},
		{"ended alert", Input{Registry: with(func(v *summary.Vehicle) { v.EmissionStandard = "III" }), Alerts: []Alert{func() Alert { a := orange; a.EndedAt = now.Add(-time.Minute); return a }()}}, Pass, []string{}},
		{"stop wins over inspect", Input{Registry: with(func(v *summary.Vehicle) { v.Status = "scrapped" }), RS: &summary.RemoteSensingStatus{OpenCases: []summary.RemoteSensingCase{{ID: "C1"}}}}, Stop, []string{"scrapped", "open_remote_sensing_case"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.At, tc.in.Loc = now, localtime.Shanghai()
			if tc.in.States == nil {
				tc.in.States = map[summary.Part]PartState{}
			}
			got, reasons := Decide(tc.in)
			if got != tc.want || !slices.Equal(codesOf(reasons), tc.codes) {
				t.Fatalf("Decide = %s %v, want %s %v", got, codesOf(reasons), tc.want, tc.codes)
			}
			for _, r := range reasons {
				if r.Source == "" || r.Message == "" {
					t.Fatalf("reason %+v lacks source or message", r)
				}
			}
		})
	}
}

// TestUnsignedAlarmSaysSo: an OBD alarm resting only on unsigned telemetry still counts, and
// its reason says that no signature proves it.
func TestUnsignedAlarmSaysSo(t *testing.T) {
	for _, unsigned := range []bool{false, true} {
		in := Input{Registry: truck(), At: now, Loc: localtime.Shanghai(), States: map[summary.Part]PartState{},
			OBD: &summary.Truck{VIN: "V", OpenAlarms: []summary.OBDAlarm{{Kind: "tamper_removal_alarm", Message: "removed", Unsigned: unsigned}}}}
		got, reasons := Decide(in)
		if got != Stop || len(reasons) != 1 {
			t.Fatalf("unsigned %v: Decide = %s %v", unsigned, got, reasons)
		}
		if says := contains(reasons[0].Message, "unsigned"); says != unsigned {
			t.Fatalf("unsigned %v: reason %q", unsigned, reasons[0].Message)
		}
	}
}

func TestAlertValidate(t *testing.T) {
	a := Alert{Level: "purple", StartsAt: now, EndsAt: now.Add(-time.Hour), Restrictions: []Restriction{{Class: "boats", MaxStandard: "VII"}}}
	err := a.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad alert")
	}
	for _, f := range []string{"level", "ends_at", "restrictions[0].class", "restrictions[0].max_standard"} {
		if !contains(err.Error(), f) {
			t.Errorf("error %q does not name %s", err, f)
		}
	}
	ok := Alert{Level: Red, StartsAt: now, EndsAt: now.Add(time.Hour)}
	if err := ok.Validate(); err != nil || len(ok.Restrictions) == 0 {
		t.Fatalf("Validate = %v, restrictions %v; want the level's defaults", err, ok.Restrictions)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
