package limits

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func shippedTable(t *testing.T) Table {
	t.Helper()
	tb, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// fieldsOf returns the fields a validation error names.
func fieldsOf(err error) []string {
	var ve *apperr.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

// TestShippedTable keeps seeds/fuel-limits.json (what readers of the repository see) and the
// embedded default the same file, and the default valid.
func TestShippedTable(t *testing.T) {
	_, here, _, _ := runtime.Caller(0)
	seed, err := os.ReadFile(filepath.Join(filepath.Dir(here), "../../../../seeds/fuel-limits.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(seed, Shipped()) {
		t.Fatal("seeds/fuel-limits.json and services/fuel/internal/limits/default.json differ: copy one onto the other")
	}
	tb := shippedTable(t)
	for _, p := range Products {
		if len(tb.ParamsOf(p)) == 0 {
			t.Errorf("no parameters for %s", p)
		}
	}
}

// TestEveryLimitAtItsBoundaries judges every row of the shipped table, for every grade it
// covers, exactly at its limit (passes: boundaries are inclusive) and just beyond it (fails).
func TestEveryLimitAtItsBoundaries(t *testing.T) {
	tb := shippedTable(t)
	for i, l := range tb.Limits {
		spec, _ := tb.Spec(l.Product)
		grades := l.Grades
		if len(grades) == 0 {
			grades = spec.Grades
		}
		type probe struct {
			value float64
			want  Verdict
		}
		var probes []probe
		beyond := func(x float64, dir float64) float64 { return x + dir*math.Max(math.Abs(x)*1e-4, 1e-4) }
		switch l.Comparison {
		case Max:
			probes = []probe{{*l.Limit, Pass}, {beyond(*l.Limit, 1), Fail}}
		case Min:
			probes = []probe{{*l.Limit, Pass}, {beyond(*l.Limit, -1), Fail}}
		case Range:
			probes = []probe{{*l.Min, Pass}, {*l.Max, Pass}, {beyond(*l.Min, -1), Fail}, {beyond(*l.Max, 1), Fail}}
		case Forbidden:
			probes = []probe{{0, Pass}, {0.01, Fail}}
		}
		for _, g := range grades {
			for _, pr := range probes {
				name := fmt.Sprintf("limits[%d] %s %s grade %s = %g", i, l.Product, l.Parameter, g, pr.value)
				t.Run(name, func(t *testing.T) {
					unit := l.Unit
					j, err := tb.Evaluate(Input{Product: string(l.Product), Grade: g, Day: l.EffectiveFrom.Time,
						Results: []Reading{{Parameter: l.Parameter, Value: pr.value, Unit: unit}}})
					if err != nil {
						t.Fatal(err)
					}
					o := j.Results[0]
					if o.Verdict != pr.want {
						t.Fatalf("verdict = %s (%s), want %s", o.Verdict, o.Message, pr.want)
					}
					if o.Limit == nil || o.Limit.Standard != l.Standard || o.Limit.Clause != l.Clause ||
						!strings.Contains(o.Message, l.Standard) || !strings.Contains(o.Message, l.Parameter) {
						t.Fatalf("outcome does not name the limit and its standard: %+v", o)
					}
					if len(j.Findings) == 0 && j.Verdict != pr.want {
						t.Fatalf("overall verdict = %s, want %s", j.Verdict, pr.want)
					}
				})
			}
		}
	}
}

func TestEvaluate(t *testing.T) {
	tb := shippedTable(t)
	type res = Reading
	cases := []struct {
		name     string
		in       Input
		want     Verdict   // overall
		results  []Verdict // per result, when given
		findings []string  // finding codes
		message  string    // a substring of the first result's message
	}{
		{name: "petrol olefins 16 under VIA (last day)", in: Input{Product: "gasoline", Grade: "92", Day: day("2022-12-31"), Results: []res{{"olefins", 16, "%(v/v)"}}},
			want: Pass, message: "maximum 18 %(v/v) (GB 17930-2016 VIA, Table 3 (China VIA))"},
		{name: "petrol olefins 16 under VIB (first day)", in: Input{Product: "gasoline", Grade: "92", Day: day("2023-01-01"), Results: []res{{"olefins", 16, "%(v/v)"}}},
			want: Fail, message: "olefins 16 %(v/v) exceeds the maximum 15 %(v/v) (GB 17930-2016 VIB, Table 4 (China VIB))"},
		{name: "petrol olefins exactly 15 under VIB", in: Input{Product: "gasoline", Grade: "95", Day: day("2026-03-01"), Results: []res{{"olefins", 15, "%"}}}, want: Pass},
		{name: "petrol olefins 18.1 under VIA", in: Input{Product: "gasoline", Grade: "95", Day: day("2020-06-01"), Results: []res{{"olefins", 18.1, "vol%"}}}, want: Fail},
		{name: "RON 94.9 fails grade 95", in: Input{Product: "gasoline", Grade: "95", Day: day("2026-03-01"), Results: []res{{"research_octane", 94.9, ""}}}, want: Fail, message: "below the minimum 95"},
		{name: "RON 94.9 passes grade 92", in: Input{Product: "gasoline", Grade: "92#", Day: day("2026-03-01"), Results: []res{{"research_octane", 94.9, ""}}}, want: Pass},
		{name: "RON 98 passes grade 98", in: Input{Product: "gasoline", Grade: "98号", Day: day("2026-03-01"), Results: []res{{"research_octane", 98, "1"}}}, want: Pass},
		{name: "RON 88.9 fails grade 89", in: Input{Product: "gasoline", Grade: "89", Day: day("2026-03-01"), Results: []res{{"research_octane", 88.9, "-"}}}, want: Fail},
		{name: "several results: one failure fails the sample", in: Input{Product: "gasoline", Grade: "92", Day: day("2026-03-01"),
			Results: []res{{"sulfur", 8, "mg/kg"}, {"benzene", 0.9, "%(v/v)"}, {"t50", 105, "°C"}}}, want: Fail, results: []Verdict{Pass, Fail, Pass}},
		{name: "diesel -20 cetane 49 passes", in: Input{Product: "diesel", Grade: "-20", Day: day("2026-01-10"), Results: []res{{"cetane_number", 49, ""}}}, want: Pass},
		{name: "diesel 0 cetane 49 fails", in: Input{Product: "diesel", Grade: "0号", Day: day("2026-01-10"), Results: []res{{"cetane_number", 49, ""}}}, want: Fail},
		{name: "diesel -35 density 790 kg/m3 passes", in: Input{Product: "diesel", Grade: "-35", Day: day("2026-01-10"), Results: []res{{"density_20c", 790, "kg/m3"}}}, want: Pass},
		{name: "diesel -10 density 0.809 g/cm3 fails", in: Input{Product: "diesel", Grade: "−10", Day: day("2026-01-10"), Results: []res{{"density_20c", 0.809, "g/cm3"}}}, want: Fail, message: "809 kg/m3 is outside 810 - 845 kg/m3"},
		{name: "diesel -50 flash point 45 passes", in: Input{Product: "diesel", Grade: "-50", Day: day("2026-01-10"), Results: []res{{"flash_point", 45, "C"}}}, want: Pass},
		{name: "diesel 5 flash point 59.9 fails", in: Input{Product: "diesel", Grade: "5", Day: day("2026-01-10"), Results: []res{{"flash_point", 59.9, "degC"}}}, want: Fail},
		{name: "diesel methanol not detected", in: Input{Product: "diesel", Grade: "0", Day: day("2026-01-10"), Results: []res{{"methanol", 0, "%(m/m)"}}}, want: Pass},
		{name: "diesel methanol found", in: Input{Product: "diesel", Grade: "0", Day: day("2026-01-10"), Results: []res{{"methanol", 0.02, "%(m/m)"}}}, want: Fail, message: "may not be added"},
		{name: "ordinary diesel fails by itself", in: Input{Product: "diesel", Grade: "ordinary", Day: day("2026-01-10"), Results: []res{{"sulfur", 5, "ppm"}, {"cetane_number", 52, ""}}},
			want: Fail, results: []Verdict{Pass, NotJudged}, findings: []string{"ordinary_diesel"}},
		{name: "ordinary diesel by label", in: Input{Product: "diesel", Grade: "0", Label: "0号普通柴油", Day: day("2026-01-10"), Results: []res{{"sulfur", 5, "ppm"}}},
			want: Fail, findings: []string{"ordinary_diesel"}},
		{name: "ordinary diesel by Chinese grade alias", in: Input{Product: "diesel", Grade: "普通柴油", Day: day("2026-01-10"), Results: []res{{"sulfur", 5, "ppm"}}},
			want: Fail, findings: []string{"ordinary_diesel"}},
		{name: "petrol declared China V", in: Input{Product: "gasoline", Grade: "92", Standard: "国五", Day: day("2026-01-10"), Results: []res{{"sulfur", 5, "mg/kg"}}},
			want: Fail, findings: []string{"below_china_vi"}},
		{name: "diesel declared IV", in: Input{Product: "diesel", Grade: "0", Standard: "IV", Day: day("2026-01-10"), Results: []res{{"sulfur", 5, "mg/kg"}}},
			want: Fail, findings: []string{"below_china_vi"}},
		{name: "petrol declared VIB passes", in: Input{Product: "gasoline", Grade: "92", Standard: "国六B", Day: day("2026-01-10"), Results: []res{{"sulfur", 5, "mg/kg"}}}, want: Pass},
		{name: "coal slurry fails by itself without results", in: Input{Product: "coal", Grade: "slurry", Day: day("2026-01-10")}, want: Fail, findings: []string{"coal_slurry_middlings"}},
		{name: "coal middlings by Chinese alias", in: Input{Product: "coal", Grade: "中煤", Day: day("2026-01-10"), Results: []res{{"total_sulfur", 0.5, "%"}}}, want: Fail, findings: []string{"coal_slurry_middlings"}},
		{name: "loose coal at both limits passes", in: Input{Product: "coal", Day: day("2026-01-10"), Results: []res{{"total_sulfur", 1, "%"}, {"ash", 16, "%(m/m)"}}}, want: Pass},
		{name: "loose coal high sulfur", in: Input{Product: "coal", Grade: "散煤", Day: day("2026-01-10"), Results: []res{{"total_sulfur", 1.2, "wt%"}, {"ash", 12, "%"}}}, want: Fail, results: []Verdict{Fail, Pass}},
		{name: "loose coal high ash", in: Input{Product: "coal", Grade: "loose", Day: day("2026-01-10"), Results: []res{{"ash", 16.01, "%"}}}, want: Fail, message: "task 7"},
		{name: "urea in range", in: Input{Product: "urea", Day: day("2026-01-10"), Results: []res{{"urea_content", 32.5, "%"}, {"density_20c", 1.09, "g/mL"}, {"refractive_index_20c", 1.3825, ""}}}, want: Pass},
		{name: "urea diluted", in: Input{Product: "urea", Grade: "AUS 32", Day: day("2026-01-10"), Results: []res{{"urea_content", 28, "%(m/m)"}, {"biuret", 0.2, "%"}}}, want: Fail, results: []Verdict{Fail, Pass}},
		{name: "urea copper 0.3 mg/kg fails", in: Input{Product: "urea", Day: day("2026-01-10"), Results: []res{{"copper", 0.3, "ppm"}}}, want: Fail},
		{name: "sulfur 0.001 %(m/m) is exactly 10 mg/kg", in: Input{Product: "gasoline", Grade: "92", Day: day("2026-03-01"), Results: []res{{"sulfur", 0.001, "%(m/m)"}}}, want: Pass},
		{name: "sulfur 0.0011 %(m/m) is 11 mg/kg", in: Input{Product: "gasoline", Grade: "92", Day: day("2026-03-01"), Results: []res{{"sulfur", 0.0011, "% (m/m)"}}}, want: Fail, message: "sulfur 11 mg/kg"},
		{name: "t50 in kelvin", in: Input{Product: "gasoline", Grade: "92", Day: day("2026-03-01"), Results: []res{{"t50", 383.15, "K"}}}, want: Pass},
		{name: "manganese in mg/L", in: Input{Product: "gasoline", Grade: "92", Day: day("2026-03-01"), Results: []res{{"manganese", 2.5, "mg/L"}}}, want: Fail, message: "manganese 0.0025 g/L"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j, err := tb.Evaluate(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if j.Verdict != tc.want {
				t.Fatalf("verdict = %s, want %s (%+v %+v)", j.Verdict, tc.want, j.Results, j.Findings)
			}
			for i, w := range tc.results {
				if j.Results[i].Verdict != w {
					t.Errorf("results[%d] = %s (%s), want %s", i, j.Results[i].Verdict, j.Results[i].Message, w)
				}
			}
			var codes []string
			for _, f := range j.Findings {
				codes = append(codes, f.Code)
				if f.Standard == "" || f.Clause == "" || f.Message == "" {
					t.Errorf("finding %+v does not name its standard and clause", f)
				}
			}
			if !slices.Equal(codes, tc.findings) {
				t.Errorf("findings = %v, want %v", codes, tc.findings)
			}
			if tc.message != "" && !strings.Contains(j.Results[0].Message, tc.message) {
				t.Errorf("message = %q, want it to contain %q", j.Results[0].Message, tc.message)
			}
		})
	}
}

func TestEvaluateRefuses(t *testing.T) {
	tb := shippedTable(t)
	ok := Reading{"sulfur", 5, "mg/kg"}
	cases := []struct {
		name  string
		in    Input
		field string
	}{
		{"unknown product", Input{Product: "kerosene", Day: day("2026-01-01"), Results: []Reading{ok}}, "product"},
		{"gasoline without grade", Input{Product: "gasoline", Day: day("2026-01-01"), Results: []Reading{ok}}, "grade"},
		{"unknown grade", Input{Product: "gasoline", Grade: "93", Day: day("2026-01-01"), Results: []Reading{ok}}, "grade"},
		{"diesel grade for petrol", Input{Product: "gasoline", Grade: "-10", Day: day("2026-01-01"), Results: []Reading{ok}}, "grade"},
		{"unknown parameter", Input{Product: "gasoline", Grade: "92", Day: day("2026-01-01"), Results: []Reading{ok, {"lead", 1, "mg/L"}}}, "results[1].parameter"},
		{"diesel parameter on petrol", Input{Product: "gasoline", Grade: "92", Day: day("2026-01-01"), Results: []Reading{{"cetane_number", 51, ""}}}, "results[0].parameter"},
		{"parameter given twice", Input{Product: "gasoline", Grade: "92", Day: day("2026-01-01"), Results: []Reading{ok, ok}}, "results[1].parameter"},
		{"bare percent for mg/kg", Input{Product: "gasoline", Grade: "92", Day: day("2026-01-01"), Results: []Reading{{"sulfur", 0.001, "%"}}}, "results[0].unit"},
		{"mass basis for a volume parameter", Input{Product: "gasoline", Grade: "92", Day: day("2026-01-01"), Results: []Reading{{"olefins", 10, "%(m/m)"}}}, "results[0].unit"},
		{"ppm for a volume parameter", Input{Product: "gasoline", Grade: "92", Day: day("2026-01-01"), Results: []Reading{{"benzene", 100, "ppm"}}}, "results[0].unit"},
		{"unknown unit", Input{Product: "gasoline", Grade: "92", Day: day("2026-01-01"), Results: []Reading{{"sulfur", 5, "grains"}}}, "results[0].unit"},
		{"fahrenheit", Input{Product: "diesel", Grade: "0", Day: day("2026-01-01"), Results: []Reading{{"flash_point", 140, "°F"}}}, "results[0].unit"},
		{"unit on a number without one", Input{Product: "gasoline", Grade: "92", Day: day("2026-01-01"), Results: []Reading{{"research_octane", 92, "%"}}}, "results[0].unit"},
		{"missing unit", Input{Product: "gasoline", Grade: "92", Day: day("2026-01-01"), Results: []Reading{{"sulfur", 5, ""}}}, "results[0].unit"},
		{"mass fraction for manganese", Input{Product: "gasoline", Grade: "92", Day: day("2026-01-01"), Results: []Reading{{"manganese", 1, "mg/kg"}}}, "results[0].unit"},
		{"negative sulfur", Input{Product: "gasoline", Grade: "92", Day: day("2026-01-01"), Results: []Reading{{"sulfur", -1, "mg/kg"}}}, "results[0].value"},
		{"over 100 %", Input{Product: "gasoline", Grade: "92", Day: day("2026-01-01"), Results: []Reading{{"aromatics", 120, "%"}}}, "results[0].value"},
		{"not a number", Input{Product: "gasoline", Grade: "92", Day: day("2026-01-01"), Results: []Reading{{"sulfur", math.NaN(), "mg/kg"}}}, "results[0].value"},
		{"no results", Input{Product: "gasoline", Grade: "92", Day: day("2026-01-01")}, "results"},
		{"before China VI petrol", Input{Product: "gasoline", Grade: "92", Day: day("2018-06-01"), Results: []Reading{ok}}, "sampled_at"},
		{"standard on coal", Input{Product: "coal", Standard: "VI", Day: day("2026-01-01"), Results: []Reading{{"ash", 10, "%"}}}, "standard"},
		{"unknown declared stage", Input{Product: "gasoline", Grade: "92", Standard: "Euro 5", Day: day("2026-01-01"), Results: []Reading{ok}}, "standard"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tb.Evaluate(tc.in)
			if !errors.Is(err, apperr.ErrInvalid) {
				t.Fatalf("error = %v, want invalid input", err)
			}
			if got := fieldsOf(err); !slices.Contains(got, tc.field) {
				t.Fatalf("fields = %v, want %s", got, tc.field)
			}
		})
	}
}

func TestConvert(t *testing.T) {
	cases := []struct {
		value     float64
		given     string
		canonical string
		want      float64
	}{
		{10, "ppm", "mg/kg", 10},
		{10, "PPM", "mg/kg", 10},
		{10, "µg/g", "mg/kg", 10},
		{0.001, "%(m/m)", "mg/kg", 10},
		{0.001, "% (m/m)", "mg/kg", 10},
		{0.001, "%m/m", "mg/kg", 10},
		{0.01, "g/kg", "mg/kg", 10},
		{3000, "mg/kg", "%(m/m)", 0.3},
		{2.7, "%", "%(m/m)", 2.7},
		{2.7, "wt%", "%(m/m)", 2.7},
		{2.7, "％（m/m）", "%(m/m)", 2.7},
		{15, "%", "%(v/v)", 15},
		{15, "%(v/v)", "%(v/v)", 15},
		{15, "%v/v", "%(v/v)", 15},
		{845, "kg/m3", "kg/m3", 845},
		{845, "kg/m³", "kg/m3", 845},
		{845, "kg/m^3", "kg/m3", 845},
		{0.845, "g/cm3", "kg/m3", 845},
		{0.845, "g/cm³", "kg/m3", 845},
		{0.845, "g/mL", "kg/m3", 845},
		{845, "g/L", "kg/m3", 845},
		{2, "mg/L", "g/L", 0.002},
		{60, "°C", "°C", 60},
		{60, "C", "°C", 60},
		{60, "degC", "°C", 60},
		{60, "℃", "°C", 60},
		{333.15, "K", "°C", 60},
		{51, "", "1", 51},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%g %s to %s", tc.value, tc.given, tc.canonical), func(t *testing.T) {
			got, err := Convert(tc.value, tc.given, tc.canonical)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Convert = %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []struct{ given, canonical string }{{"%", "mg/kg"}, {"%(v/v)", "%(m/m)"}, {"kg/m3", "mg/kg"}, {"°F", "°C"}, {"", "mg/kg"}, {"ppm", "%(v/v)"}} {
		if _, err := Convert(1, bad.given, bad.canonical); err == nil {
			t.Errorf("Convert(1, %q, %q) accepted", bad.given, bad.canonical)
		}
	}
}

func TestParseStage(t *testing.T) {
	for in, want := range map[string]Stage{"VI": "VI", "vi": "VI", "VIa": "VIA", "VIB": "VIB", "国六": "VI", "国六B": "VIB", "国Ⅵ": "VI", "国五": "V", "China V": "V", "IV": "IV", "6": "VI", "6B": "VIB"} {
		got, err := ParseStage(in)
		if err != nil || got != want {
			t.Errorf("ParseStage(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseStage("Euro 6"); err == nil {
		t.Error("ParseStage accepted Euro 6")
	}
	if !(Stage("V").Rank() < Stage("VI").Rank() && Stage("VIA").Rank() == Stage("VI").Rank() && Stage("VIB").Rank() > Stage("VIA").Rank()) {
		t.Error("stage ranks out of order")
	}
}

func TestValidateRefusesBadTables(t *testing.T) {
	ptr := func(v float64) *float64 { return &v }
	cases := []struct {
		name   string
		change func(*Table)
		field  string
	}{
		{"overlapping rows", func(tb *Table) {
			l := tb.Limits[0]
			l.EffectiveTo = nil
			tb.Limits = append(tb.Limits, l)
		}, fmt.Sprintf("limits[%d].effective_from", len(shippedTable(t).Limits))},
		{"unknown parameter unit", func(tb *Table) { tb.Parameters[0].Unit = "furlongs" }, "parameters[0].unit"},
		{"limit in another unit", func(tb *Table) { tb.Limits[0].Unit = "%(m/m)" }, "limits[0].unit"},
		{"range without max", func(tb *Table) {
			for i := range tb.Limits {
				if tb.Limits[i].Comparison == Range {
					tb.Limits[i].Max = nil
					return
				}
			}
		}, ""},
		{"unknown comparison", func(tb *Table) { tb.Limits[0].Comparison = "about" }, "limits[0].comparison"},
		{"max without limit", func(tb *Table) { tb.Limits[0].Limit = nil }, "limits[0].limit"},
		{"max with min", func(tb *Table) { tb.Limits[0].Min = ptr(1) }, "limits[0].min"},
		{"unknown grade in a row", func(tb *Table) { tb.Limits[0].Grades = []string{"93"} }, "limits[0].grades[0]"},
		{"a product left out", func(tb *Table) { tb.Products = tb.Products[:3] }, "products"},
		{"row of unknown parameter", func(tb *Table) { tb.Limits[0].Parameter = "lead" }, "limits[0].parameter"},
		{"end before start", func(tb *Table) { d := Day{Time: day("2000-01-01")}; tb.Limits[0].EffectiveTo = &d }, "limits[0].effective_to"},
		{"prohibition matching nothing", func(tb *Table) { tb.Prohibitions[0].Grades, tb.Prohibitions[0].Labels = nil, nil }, "prohibitions[0]"},
		{"no name", func(tb *Table) { tb.Name = "" }, "name"},
		{"no parameter and no row (an empty table)", func(tb *Table) { tb.Parameters, tb.Limits, tb.Prohibitions = nil, nil, nil }, "parameters"},
		{"a parameter without a row", func(tb *Table) {
			tb.Limits = slices.DeleteFunc(tb.Limits, func(l Limit) bool {
				return l.Product == tb.Parameters[0].Product && l.Parameter == tb.Parameters[0].Key
			})
		}, "parameters[0]"},
		{"a grade whose rows have all ended", func(tb *Table) {
			end := Day{Time: day("2020-12-31")}
			for i := range tb.Limits {
				if tb.Limits[i].Product == tb.Products[0].Product {
					tb.Limits[i].EffectiveTo = &end
					if tb.Limits[i].EffectiveFrom.After(end.Time) {
						tb.Limits[i].EffectiveFrom = Day{Time: day("2020-01-01")}
					}
				}
			}
		}, "products[0].grades"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := Parse(Shipped()) // a fresh deep copy per case
			if err != nil {
				t.Fatal(err)
			}
			tc.change(&tb)
			err = tb.Validate()
			if !errors.Is(err, apperr.ErrInvalid) {
				t.Fatalf("Validate = %v, want invalid", err)
			}
			if tc.field != "" && !slices.Contains(fieldsOf(err), tc.field) {
				t.Fatalf("fields = %v, want %s", fieldsOf(err), tc.field)
			}
		})
	}
	if _, err := Parse([]byte(`{"name":"x","surprise":1}`)); err == nil {
		t.Fatal("Parse accepted an unknown field")
	}
}

func TestAcceptedListsEverySpelling(t *testing.T) {
	for _, u := range CanonicalUnits() {
		for _, s := range Accepted(u) {
			if _, err := Convert(1, s, u); err != nil {
				t.Errorf("Accepted(%q) lists %q, which Convert refuses: %v", u, s, err)
			}
		}
	}
}
