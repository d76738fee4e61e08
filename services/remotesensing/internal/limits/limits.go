// Package limits holds the in-use limits a roadside remote-sensing reading is judged against
// (GB 3847-2018 and HJ 845-2017 for diesel, GB 18285-2018 for petrol; tasks 15 and 32 of the
// action plan) as versioned data, and the pure function that judges a reading by the version in
// force on its own date. It knows nothing of HTTP, storage or the registry.
package limits

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/localtime"
)

// Parameter is a measured quantity a limit applies to. The reading field carrying it is the
// parameter followed by its unit ("opacity" is read from "opacity_pct").
type Parameter string

// The parameters a remote-sensing station measures.
const (
	CO         Parameter = "co"         // carbon monoxide, % (v/v)
	HC         Parameter = "hc"         // hydrocarbons, ppm
	NO         Parameter = "no"         // nitric oxide, ppm
	Opacity    Parameter = "opacity"    // smoke opacity, %
	Ringelmann Parameter = "ringelmann" // smoke density, Ringelmann grade 0-5
)

// Parameters lists every parameter, in the order results are reported.
var Parameters = []Parameter{CO, HC, NO, Opacity, Ringelmann}

// Unit is the unit the parameter's reading field and its limits are in.
func (p Parameter) Unit() string {
	switch p {
	case CO, Opacity:
		return "%"
	case HC, NO:
		return "ppm"
	case Ringelmann:
		return "grade"
	}
	return ""
}

// Field is the JSON field of a reading that carries the parameter.
func (p Parameter) Field() string {
	switch p {
	case CO:
		return "co_pct"
	case HC:
		return "hc_ppm"
	case NO:
		return "no_ppm"
	case Opacity:
		return "opacity_pct"
	case Ringelmann:
		return "ringelmann"
	}
	return ""
}

// Valid reports whether p is a known parameter.
func (p Parameter) Valid() bool { return slices.Contains(Parameters, p) }

// Row is one limit: a reading of Parameter from a vehicle of Fuel exceeds when its value is
// strictly above Limit (a Ringelmann reading "above grade 1" is grade 2 or more).
type Row struct {
	Standard  string    `json:"standard" input:"name"`
	Clause    string    `json:"clause" input:"name"`
	Fuel      string    `json:"fuel" input:"id"` // the registry's fuel_type: gasoline, diesel, gas, hybrid ...
	Parameter Parameter `json:"parameter" input:"id"`
	Limit     float64   `json:"limit" input:"min=0,max=1000000"`
	Unit      string    `json:"unit" input:"id"`
	// Confirm marks a value taken from a secondary source, to be confirmed against the standard.
	Confirm bool   `json:"confirm,omitempty"`
	Note    string `json:"note,omitempty" input:"text"`
}

// Range bounds a quantity; a nil end is open. Both ends are inclusive.
type Range struct {
	Min *float64 `json:"min,omitempty" input:"min=-1000,max=1000"`
	Max *float64 `json:"max,omitempty" input:"min=-1000,max=1000"`
}

// Contains reports whether v lies within r.
func (r Range) Contains(v float64) bool {
	return (r.Min == nil || v >= *r.Min) && (r.Max == nil || v <= *r.Max)
}

// String renders r as "[min, max]".
func (r Range) String() string {
	f := func(p *float64, open string) string {
		if p == nil {
			return open
		}
		return fmt.Sprintf("%g", *p)
	}
	return "[" + f(r.Min, "-inf") + ", " + f(r.Max, "+inf") + "]"
}

// Window is the valid measuring window: a reading taken outside it is kept and marked invalid,
// never judged.
type Window struct {
	SpeedKmh Range `json:"speed_kmh"`
	AccelMS2 Range `json:"accel_ms2"`
	// VSPkWt bounds the vehicle specific power in kW/t computed from speed, acceleration and the
	// site's road slope; nil leaves VSP unchecked.
	VSPkWt *Range `json:"vsp_kw_t,omitempty"`
	// WindMaxMS is the highest wind speed, m/s; nil leaves wind unchecked. A reading without a
	// wind value is accepted.
	WindMaxMS *float64 `json:"wind_max_ms,omitempty" input:"min=0,max=100"`
	// RefuseRain and RefuseFog make readings flagged with rain (or snow) or fog invalid.
	RefuseRain bool   `json:"refuse_rain"`
	RefuseFog  bool   `json:"refuse_fog"`
	Source     string `json:"source,omitempty" input:"text"`
	Confirm    bool   `json:"confirm,omitempty"`
}

// Version is one complete table, in force from EffectiveFrom (a calendar day in Asia/Shanghai)
// until the next version's EffectiveFrom.
type Version struct {
	Version       string `json:"version" input:"id"`
	EffectiveFrom Day    `json:"effective_from"`
	Source        string `json:"source,omitempty" input:"text"`
	Limits        []Row  `json:"limits" input:"items=100"`
	Window        Window `json:"valid_window"`
}

// Table is every version, oldest first.
type Table struct {
	Versions []Version `json:"versions"`
}

// Day is a calendar day ("2019-05-01"), as libs/localtime reads and writes it.
type Day = localtime.Day

// InForce returns the version in force on the local day of t.
func (t Table) InForce(at time.Time) (Version, bool) {
	day := localtime.DayOf(at)
	for i := len(t.Versions) - 1; i >= 0; i-- {
		if !t.Versions[i].EffectiveFrom.After(day) {
			return t.Versions[i], true
		}
	}
	return Version{}, false
}

// Rows returns the version's limits for fuel, in Parameters order.
func (v Version) Rows(fuel string) []Row {
	var out []Row
	for _, p := range Parameters {
		for _, r := range v.Limits {
			if r.Fuel == fuel && r.Parameter == p {
				out = append(out, r)
			}
		}
	}
	return out
}

// Validate checks a table: named versions in date order, known parameters with their units, one
// row per fuel and parameter, non-negative limits, sane windows.
func (t Table) Validate() error {
	var ve apperr.ValidationError
	add := func(format string, args ...any) {
		field, msg, _ := strings.Cut(fmt.Sprintf(format, args...), ": ")
		ve.Add(field, msg)
	}
	if len(t.Versions) == 0 {
		add("versions: at least one version is needed")
	}
	seen := map[string]bool{}
	for i, v := range t.Versions {
		at := fmt.Sprintf("versions[%d]", i)
		if strings.TrimSpace(v.Version) == "" {
			add("%s.version: required", at)
		} else if seen[v.Version] {
			add("%s.version: %q is used twice", at, v.Version)
		}
		seen[v.Version] = true
		if v.EffectiveFrom.IsZero() {
			add("%s.effective_from: required", at)
		}
		if i > 0 && !v.EffectiveFrom.After(t.Versions[i-1].EffectiveFrom.Time) {
			add("%s.effective_from: versions must be in increasing date order", at)
		}
		pairs := map[string]bool{}
		for j, r := range v.Limits {
			rat := fmt.Sprintf("%s.limits[%d]", at, j)
			if !r.Parameter.Valid() {
				add("%s.parameter: %q is not one of co, hc, no, opacity, ringelmann", rat, r.Parameter)
				continue
			}
			if r.Unit != r.Parameter.Unit() {
				add("%s.unit: %s is measured in %q, not %q", rat, r.Parameter, r.Parameter.Unit(), r.Unit)
			}
			if strings.TrimSpace(r.Fuel) == "" {
				add("%s.fuel: required", rat)
			}
			if strings.TrimSpace(r.Standard) == "" {
				add("%s.standard: required: every verdict names its standard", rat)
			}
			if r.Limit < 0 {
				add("%s.limit: must not be negative", rat)
			}
			key := r.Fuel + "/" + string(r.Parameter)
			if pairs[key] {
				add("%s: a second limit for %s", rat, key)
			}
			pairs[key] = true
		}
		for name, rg := range map[string]*Range{"speed_kmh": &v.Window.SpeedKmh, "accel_ms2": &v.Window.AccelMS2, "vsp_kw_t": v.Window.VSPkWt} {
			if rg != nil && rg.Min != nil && rg.Max != nil && *rg.Min > *rg.Max {
				add("%s.valid_window.%s: min is above max", at, name)
			}
		}
	}
	return ve.Err()
}

// Parse reads and validates a table.
func Parse(b []byte) (Table, error) {
	var t Table
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return Table{}, fmt.Errorf("parse remote-sensing limit table: %w", err)
	}
	if err := t.Validate(); err != nil {
		return Table{}, fmt.Errorf("invalid remote-sensing limit table: %w", err)
	}
	return t, nil
}

// With returns the table with added versions merged in by effective day (the table's own and
// the added ones, oldest first), validated.
func (t Table) With(added []Version) (Table, error) {
	out := Table{Versions: append(slices.Clone(t.Versions), added...)}
	slices.SortStableFunc(out.Versions, func(a, b Version) int { return a.EffectiveFrom.Compare(b.EffectiveFrom.Time) })
	return out, out.Validate()
}

// Load reads a table file.
func Load(path string) (Table, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Table{}, fmt.Errorf("read remote-sensing limit table: %w", err)
	}
	t, err := Parse(b)
	if err != nil {
		return Table{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func num(v float64) *float64 { return &v }

func day(s string) Day {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return Day{Time: t}
}

// Default is the table used when none is loaded; seeds/remote-sensing-limits.json holds the
// same data (a test keeps them equal). Diesel: opacity 30 % and NO 1500 ppm (values from
// secondary sources, marked confirm), Ringelmann grade 1 (GB 3847-2018). Petrol (GB 18285-2018):
// no remote-sensing limits were found, so petrol readings are stored and not judged until the
// bureau loads them. The valid window is the documented engineering default, marked confirm.
func Default() Table {
	return Table{Versions: []Version{{
		Version:       "2019-05-01-default",
		EffectiveFrom: day("2019-05-01"),
		Source:        "GB 3847-2018 and HJ 845-2017 (diesel, in force 2019-05-01); GB 18285-2018 (petrol: no default limits shipped)",
		Limits: []Row{
			{Standard: "GB 3847-2018", Clause: "remote-sensing method limits (with HJ 845-2017)", Fuel: "diesel", Parameter: Opacity, Limit: 30, Unit: "%", Confirm: true},
			{Standard: "GB 3847-2018", Clause: "remote-sensing method limits (with HJ 845-2017)", Fuel: "diesel", Parameter: NO, Limit: 1500, Unit: "ppm", Confirm: true},
			{Standard: "GB 3847-2018", Clause: "Ringelmann smoke density", Fuel: "diesel", Parameter: Ringelmann, Limit: 1, Unit: "grade",
				Note: "a reading above grade 1 exceeds"},
		},
		Window: Window{
			SpeedKmh:   Range{Min: num(5), Max: num(120)},
			AccelMS2:   Range{Min: num(-2), Max: num(2)},
			WindMaxMS:  num(5),
			RefuseRain: true,
			RefuseFog:  true,
			Source:     "engineering default for roadside remote sensing (HJ 845-2017 sets the method); bureau to confirm",
			Confirm:    true,
		},
	}}}
}
