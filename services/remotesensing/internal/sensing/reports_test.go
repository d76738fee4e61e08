package sensing

import (
	"fmt"
	"testing"

	"github.com/clearsky/clearsky/libs/vehicleid"
)

// seededTally: five inspection stations with 20 vehicles each (JC-5 with 10). Vehicles exceed
// on the road: JC-1 1 of 20, JC-2 2, JC-3 1, JC-4 9 (the suspect), JC-5 8 of 10 (too few to
// qualify). Each vehicle has 3 passing readings; an exceeding one has 2 exceeding readings more.
func seededTally() []TallyRow {
	var rows []TallyRow
	stations := []struct {
		id        string
		vehicles  int
		exceeding int
		maker     string
	}{{"JC-1", 20, 1, "Sinotruk"}, {"JC-2", 20, 2, "Sinotruk"}, {"JC-3", 20, 1, "FAW"}, {"JC-4", 20, 9, "FAW"}, {"JC-5", 10, 8, "Foton"}}
	for _, s := range stations {
		for v := range s.vehicles {
			key := vehicleid.Key(fmt.Sprintf("晋F%s%02d", s.id[3:], v), vehicleid.Yellow)
			fleet := "fleet-a"
			if v%2 == 1 {
				fleet = "fleet-b"
			}
			rows = append(rows, TallyRow{PlateKey: key, Maker: s.maker, InspectionStation: s.id, FleetID: fleet, Readings: 3})
			if v < s.exceeding {
				rows = append(rows, TallyRow{PlateKey: key, Maker: s.maker, InspectionStation: s.id, FleetID: fleet, Exceeded: true, Readings: 2})
			}
		}
	}
	// A vehicle without a known inspection station.
	rows = append(rows, TallyRow{PlateKey: "晋F77777:yellow", Maker: "Dongfeng", Exceeded: true, Readings: 4})
	return rows
}

func TestInspectionStationFraudSignal(t *testing.T) {
	rep := RateRows(seededTally(), ByInspectionStation)
	Flag(&rep, 2, 20)
	byKey := map[string]RateRow{}
	for _, r := range rep.Rows {
		byKey[r.Key] = r
	}
	// Qualifying: JC-1..JC-4, rates 0.05, 0.10, 0.05, 0.45: baseline 0.1625, threshold 0.325.
	if rep.Baseline < 0.16249 || rep.Baseline > 0.16251 || rep.Threshold < 0.32499 || rep.Threshold > 0.32501 {
		t.Fatalf("baseline %g threshold %g, want 0.1625 and 0.325", rep.Baseline, rep.Threshold)
	}
	want := map[string][2]bool{"JC-1": {true, false}, "JC-2": {true, false}, "JC-3": {true, false}, "JC-4": {true, true}, "JC-5": {false, false}, "": {false, false}}
	for k, w := range want {
		r := byKey[k]
		if r.Qualifies != w[0] || r.Flagged != w[1] {
			t.Errorf("station %q: qualifies %v flagged %v (rate %g over %d vehicles), want %v %v", k, r.Qualifies, r.Flagged, r.VehicleRate, r.Vehicles, w[0], w[1])
		}
	}
	jc4 := byKey["JC-4"]
	if jc4.Vehicles != 20 || jc4.ExceedingVehicles != 9 || jc4.Readings != 78 || jc4.ExceedingReadings != 18 {
		t.Fatalf("JC-4 row = %+v", jc4)
	}
	if rep.Rows[0].Key != "" || rep.Rows[1].Key != "JC-5" || rep.Rows[2].Key != "JC-4" {
		t.Fatalf("rows not by vehicle rate: %v %v %v", rep.Rows[0].Key, rep.Rows[1].Key, rep.Rows[2].Key)
	}
	// No qualifying station, no flag.
	small := RateRows(seededTally(), ByInspectionStation)
	Flag(&small, 2, 1000)
	for _, r := range small.Rows {
		if r.Flagged || r.Qualifies {
			t.Fatalf("flagged with nobody qualifying: %+v", r)
		}
	}
}

func TestRatesByMakerAndFleet(t *testing.T) {
	makers := map[string]RateRow{}
	for _, r := range RateRows(seededTally(), ByMaker).Rows {
		makers[r.Key] = r
	}
	if m := makers["FAW"]; m.Vehicles != 40 || m.ExceedingVehicles != 10 || m.VehicleRate != 0.25 {
		t.Fatalf("FAW = %+v", m)
	}
	if m := makers["Dongfeng"]; m.Vehicles != 1 || m.ExceedingVehicles != 1 || m.Readings != 4 || m.ReadingRate != 1 {
		t.Fatalf("Dongfeng = %+v", m)
	}
	fleets := map[string]RateRow{}
	for _, r := range RateRows(seededTally(), ByFleet).Rows {
		fleets[r.Key] = r
	}
	// fleet-a holds the even-numbered vehicles: of the exceeding ones 1+1+1+5+4 = 12.
	if f := fleets["fleet-a"]; f.Vehicles != 45 || f.ExceedingVehicles != 12 {
		t.Fatalf("fleet-a = %+v", f)
	}
}

func TestOffenders(t *testing.T) {
	cases := []Case{{Plate: "晋F401", PlateColour: vehicleid.Yellow}, {Plate: "晋F401", PlateColour: vehicleid.Yellow}, {Plate: "晋F499", PlateColour: vehicleid.Yellow}}
	got := Offenders(seededTally(), cases, 3)
	if len(got) != 1 || got[0].Plate != "晋F77777" || got[0].ExceedingReadings != 4 {
		t.Fatalf("min 3 = %+v", got)
	}
	got = Offenders(seededTally(), cases, 2)
	if len(got) != 22 || got[0].Plate != "晋F77777" {
		t.Fatalf("min 2: %d offenders, first %+v", len(got), got[0])
	}
	for _, o := range got {
		if o.Plate == "晋F401" && (o.CasesOpened != 2 || o.InspectionStation != "JC-4" || o.Maker != "FAW" || o.Readings != 5) {
			t.Fatalf("晋F401 = %+v", o)
		}
	}
}
