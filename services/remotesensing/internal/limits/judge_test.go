package limits

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func f(v float64) *float64 { return &v }

// diesel is a valid diesel reading inside the default window, measured on a calibrated station.
func diesel() Input {
	return Input{
		MeasuredAt: time.Date(2026, 3, 10, 2, 0, 0, 0, time.UTC),
		Values:     Values{Opacity: f(10), NO: f(400), Ringelmann: f(0)},
		SpeedKmh:   40, AccelMS2: 0.5, WindMS: f(2),
		Fuel: "diesel", CalibratedOn: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), CalibrationValidDays: 365,
	}
}

func codes(j Judgement) []string {
	var out []string
	for _, r := range j.Reasons {
		out = append(out, r.Code)
	}
	return out
}

func exceeded(j Judgement) []Parameter {
	var out []Parameter
	for _, r := range j.Exceedances() {
		out = append(out, r.Parameter)
	}
	return out
}

func TestJudgeDefaultTable(t *testing.T) {
	cases := []struct {
		name     string
		change   func(*Input)
		want     Verdict
		reasons  []string
		exceeded []Parameter
	}{
		{"clean diesel passes", func(*Input) {}, Pass, nil, nil},
		{"opacity at the limit passes", func(in *Input) { in.Values.Opacity = f(30) }, Pass, nil, nil},
		{"opacity above the limit exceeds", func(in *Input) { in.Values.Opacity = f(30.1) }, Exceed, nil, []Parameter{Opacity}},
		{"NO at the limit passes", func(in *Input) { in.Values.NO = f(1500) }, Pass, nil, nil},
		{"NO above the limit exceeds", func(in *Input) { in.Values.NO = f(1500.5) }, Exceed, nil, []Parameter{NO}},
		{"Ringelmann grade 1 passes", func(in *Input) { in.Values.Ringelmann = f(1) }, Pass, nil, nil},
		{"Ringelmann grade 2 exceeds", func(in *Input) { in.Values.Ringelmann = f(2) }, Exceed, nil, []Parameter{Ringelmann}},
		{"several exceed at once", func(in *Input) { in.Values.Opacity, in.Values.NO = f(55), f(2000) }, Exceed, nil, []Parameter{NO, Opacity}},
		{"decimal rounding at the limit passes", func(in *Input) { in.Values.Opacity = f(0.1 + 29.9) }, Pass, nil, nil},
		{"only NO measured is judged", func(in *Input) { in.Values = Values{NO: f(1600)} }, Exceed, nil, []Parameter{NO}},
		{"CO and HC are not limited for diesel", func(in *Input) { in.Values = Values{CO: f(5), HC: f(900)} }, NotJudged, []string{ReasonNothingLimited}, nil},
		{"petrol is stored, not judged", func(in *Input) { in.Fuel = "gasoline"; in.Values = Values{CO: f(5), HC: f(900), NO: f(3000)} }, NotJudged, []string{ReasonNoLimits}, nil},
		{"electric has no limits", func(in *Input) { in.Fuel = "electric" }, NotJudged, []string{ReasonNoLimits}, nil},
		{"speed below the window", func(in *Input) { in.SpeedKmh = 4.9 }, Invalid, []string{ReasonSpeed}, nil},
		{"speed at the window's low end", func(in *Input) { in.SpeedKmh = 5 }, Pass, nil, nil},
		{"speed above the window", func(in *Input) { in.SpeedKmh = 121 }, Invalid, []string{ReasonSpeed}, nil},
		{"hard braking", func(in *Input) { in.AccelMS2 = -2.5 }, Invalid, []string{ReasonAccel}, nil},
		{"hard acceleration", func(in *Input) { in.AccelMS2 = 2.1 }, Invalid, []string{ReasonAccel}, nil},
		{"strong wind", func(in *Input) { in.WindMS = f(5.5) }, Invalid, []string{ReasonWind}, nil},
		{"wind at the limit", func(in *Input) { in.WindMS = f(5) }, Pass, nil, nil},
		{"no wind value is accepted", func(in *Input) { in.WindMS = nil }, Pass, nil, nil},
		{"rain", func(in *Input) { in.Rain = true }, Invalid, []string{ReasonRain}, nil},
		{"fog", func(in *Input) { in.Fog = true }, Invalid, []string{ReasonFog}, nil},
		{"an invalid exceeding reading is not judged", func(in *Input) { in.Fog = true; in.Values.Opacity = f(90) }, Invalid, []string{ReasonFog}, nil},
		{"every breach is listed", func(in *Input) { in.SpeedKmh, in.Rain, in.Fog = 200, true, true }, Invalid, []string{ReasonSpeed, ReasonRain, ReasonFog}, nil},
		{"calibration expired", func(in *Input) { in.CalibratedOn = time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC) }, NotJudged, []string{ReasonCalibrationExpired}, nil},
		{"calibration's last valid day", func(in *Input) { in.CalibratedOn = time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC) }, Pass, nil, nil},
		{"calibration validity configurable", func(in *Input) { in.CalibrationValidDays = 30 }, NotJudged, []string{ReasonCalibrationExpired}, nil},
		{"calibrated after the reading", func(in *Input) { in.CalibratedOn = time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC) }, NotJudged, []string{ReasonNotCalibrated}, nil},
		{"never calibrated", func(in *Input) { in.CalibratedOn = time.Time{} }, NotJudged, []string{ReasonNotCalibrated}, nil},
		{"expired calibration wins over an exceedance", func(in *Input) { in.CalibrationValidDays = 1; in.Values.Opacity = f(90) }, NotJudged, []string{ReasonCalibrationExpired}, nil},
		{"before any table", func(in *Input) {
			in.MeasuredAt = time.Date(2019, 4, 30, 10, 0, 0, 0, time.UTC)
			in.CalibratedOn = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
		}, NotJudged, []string{ReasonNoTable}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := diesel()
			tc.change(&in)
			got := Judge(Default(), in)
			if got.Verdict != tc.want || !reflect.DeepEqual(codes(got), tc.reasons) || !reflect.DeepEqual(exceeded(got), tc.exceeded) {
				t.Fatalf("Judge = %s %v exceeded %v (%+v), want %s %v exceeded %v", got.Verdict, codes(got), exceeded(got), got, tc.want, tc.reasons, tc.exceeded)
			}
			if got.Verdict == Pass || got.Verdict == Exceed {
				if got.Version != "2019-05-01-default" || len(got.Results) == 0 || got.Results[0].Standard == "" {
					t.Fatalf("a judged reading names its table version and standards: %+v", got)
				}
			}
		})
	}
}

// A table with two versions: the second tightens opacity and adds petrol limits and a VSP
// window from 2026-01-01 (Asia/Shanghai).
func versioned() Table {
	t := Default()
	v2 := t.Versions[0]
	v2.Version, v2.EffectiveFrom = "2026-01-01-bureau", day("2026-01-01")
	v2.Limits = append([]Row{}, v2.Limits...)
	v2.Limits[0].Limit = 25
	v2.Limits = append(v2.Limits,
		Row{Standard: "GB 18285-2018", Fuel: "gasoline", Parameter: CO, Limit: 2.5, Unit: "%"},
		Row{Standard: "GB 18285-2018", Fuel: "gasoline", Parameter: HC, Limit: 350, Unit: "ppm"},
		Row{Standard: "GB 18285-2018", Fuel: "gasoline", Parameter: NO, Limit: 2500, Unit: "ppm"})
	v2.Window.VSPkWt = &Range{Min: f(0), Max: f(20)}
	t.Versions = append(t.Versions, v2)
	return t
}

func TestJudgeTableVersionsByDate(t *testing.T) {
	tbl := versioned()
	if err := tbl.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		at      time.Time
		change  func(*Input)
		want    Verdict
		version string
		reasons []string
	}{
		{"old version: opacity 28 passes", time.Date(2025, 12, 31, 15, 59, 0, 0, time.UTC), func(in *Input) { in.Values.Opacity = f(28) }, Pass, "2019-05-01-default", nil},
		// 16:00 UTC on 31 December is midnight of 1 January in Shanghai: the new version.
		{"new version from local midnight: opacity 28 exceeds", time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), func(in *Input) { in.Values.Opacity = f(28) }, Exceed, "2026-01-01-bureau", nil},
		{"old version: petrol not judged", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), func(in *Input) { in.Fuel = "gasoline"; in.Values = Values{CO: f(3)} }, NotJudged, "2019-05-01-default", []string{ReasonNoLimits}},
		{"new version: petrol CO judged", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), func(in *Input) { in.Fuel = "gasoline"; in.Values = Values{CO: f(3)} }, Exceed, "2026-01-01-bureau", nil},
		{"new version: VSP too high", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), func(in *Input) { in.SpeedKmh, in.AccelMS2 = 100, 1.5 }, Invalid, "2026-01-01-bureau", []string{ReasonVSP}},
		{"new version: VSP negative on a downhill", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), func(in *Input) { in.AccelMS2, in.SlopePct = 0, -6 }, Invalid, "2026-01-01-bureau", []string{ReasonVSP}},
		{"old version: VSP unchecked", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), func(in *Input) { in.SpeedKmh, in.AccelMS2 = 100, 1.5 }, Pass, "2019-05-01-default", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := diesel()
			in.MeasuredAt, in.CalibratedOn = tc.at, tc.at.AddDate(0, -1, 0)
			tc.change(&in)
			got := Judge(tbl, in)
			if got.Verdict != tc.want || got.Version != tc.version || !reflect.DeepEqual(codes(got), tc.reasons) {
				t.Fatalf("Judge = %s %s %v, want %s %s %v", got.Verdict, got.Version, codes(got), tc.want, tc.version, tc.reasons)
			}
		})
	}
}

func TestVSP(t *testing.T) {
	if got := VSP(0, 0, 0); got != 0 {
		t.Fatalf("VSP at standstill = %g, want 0", got)
	}
	// 36 km/h = 10 m/s, a = 1 m/s², flat: 10*(1.1+0.132) + 0.302 = 12.622
	if got := VSP(36, 1, 0); got < 12.621 || got > 12.623 {
		t.Fatalf("VSP(36 km/h, 1 m/s²) = %g, want 12.622", got)
	}
}

func TestTableValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Table)
		want   string
	}{
		{"no versions", func(t *Table) { t.Versions = nil }, "at least one version"},
		{"wrong unit", func(t *Table) { t.Versions[0].Limits[0].Unit = "ppm" }, "limits[0].unit"},
		{"unknown parameter", func(t *Table) { t.Versions[0].Limits[0].Parameter = "soot" }, "limits[0].parameter"},
		{"no standard", func(t *Table) { t.Versions[0].Limits[1].Standard = "" }, "limits[1].standard"},
		{"duplicate row", func(t *Table) { t.Versions[0].Limits[1] = t.Versions[0].Limits[0] }, "a second limit"},
		{"negative limit", func(t *Table) { t.Versions[0].Limits[2].Limit = -1 }, "limits[2].limit"},
		{"versions out of order", func(t *Table) {
			v := t.Versions[0]
			v.Version, v.EffectiveFrom = "older", day("2018-01-01")
			t.Versions = append(t.Versions, v)
		}, "versions[1].effective_from"},
		{"window upside down", func(t *Table) { t.Versions[0].Window.SpeedKmh = Range{Min: f(50), Max: f(10)} }, "speed_kmh"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tbl := Default()
			tbl.Versions = append([]Version{}, tbl.Versions...)
			tbl.Versions[0].Limits = append([]Row{}, tbl.Versions[0].Limits...)
			tc.change(&tbl)
			err := tbl.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error naming %q", err, tc.want)
			}
		})
	}
	if err := Default().Validate(); err != nil {
		t.Fatalf("default table: %v", err)
	}
}

// The shipped seeds/remote-sensing-limits.json is the default table, as data.
func TestSeedFileIsTheDefault(t *testing.T) {
	b, err := os.ReadFile("../../../../seeds/remote-sensing-limits.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Fatalf("seeds/remote-sensing-limits.json differs from limits.Default():\n got %+v\nwant %+v", got, Default())
	}
	if _, err := Parse([]byte(`{"versions": [], "extra": 1}`)); err == nil {
		t.Fatal("Parse accepted an unknown field")
	}
}

func BenchmarkJudge(b *testing.B) {
	tbl := versioned()
	in := diesel()
	in.Values.NO = f(1700)
	b.ReportAllocs()
	for b.Loop() {
		if j := Judge(tbl, in); j.Verdict != Exceed {
			b.Fatal(j.Verdict)
		}
	}
}
