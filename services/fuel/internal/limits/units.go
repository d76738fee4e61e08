package limits

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// family is what a unit measures; values convert only within a family.
type family int

const (
	massFraction      family = iota + 1 // base mg/kg
	volumeFraction                      // base %(v/v)
	massConcentration                   // base g/L (= kg/m3)
	temperature                         // base °C
	dimensionless                       // numbers without a unit (octane, cetane, refractive index)
)

// unit converts to its family's base: base = value*factor + offset.
type unit struct {
	name   string
	fam    family
	factor float64
	offset float64
}

// sameScale reports whether u and v are the same unit under two names (kg/m3 and g/L).
func (u unit) sameScale(v unit) bool {
	return u.fam == v.fam && u.factor == v.factor && u.offset == v.offset
}

// canonicalUnits are the units a table may write limits in.
var canonicalUnits = map[string]unit{
	"mg/kg":  {"mg/kg", massFraction, 1, 0},
	"%(m/m)": {"%(m/m)", massFraction, 10000, 0},
	"%(v/v)": {"%(v/v)", volumeFraction, 1, 0},
	"kg/m3":  {"kg/m3", massConcentration, 1, 0},
	"g/L":    {"g/L", massConcentration, 1, 0},
	"°C":     {"°C", temperature, 1, 0},
	"1":      {"1", dimensionless, 1, 0},
}

// CanonicalUnits lists the units a table may use, sorted.
func CanonicalUnits() []string {
	out := make([]string, 0, len(canonicalUnits))
	for k := range canonicalUnits {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// bare is the unit "%" alone: it means the percentage basis the standard uses for the
// parameter, so it resolves only against a parameter measured in %(m/m) or %(v/v).
var bare = unit{name: "%"}

// spellings maps a folded spelling (see foldUnit) to its unit; accepted lists, per family, the
// spellings documented for clients. Both are built once and never change.
var spellings, accepted = buildSpellings()

func buildSpellings() (map[string]unit, map[family][]string) {
	sp, acc := map[string]unit{"%": bare}, map[family][]string{}
	add := func(u unit, names ...string) {
		for _, n := range names {
			sp[foldUnit(n)] = u
		}
		acc[u.fam] = append(acc[u.fam], names...)
	}
	add(canonicalUnits["mg/kg"], "mg/kg", "ppm", "ppmw", "ppm(m/m)", "µg/g", "ug/g")
	add(unit{"g/kg", massFraction, 1000, 0}, "g/kg")
	add(canonicalUnits["%(m/m)"], "%(m/m)", "% (m/m)", "%m/m", "%(w/w)", "%w/w", "wt%", "%wt", "mass%")
	add(canonicalUnits["%(v/v)"], "%(v/v)", "% (v/v)", "%v/v", "vol%", "%vol", "v/v%")
	add(canonicalUnits["kg/m3"], "kg/m3", "kg/m³", "kg/m^3", "g/L")
	add(unit{"g/cm3", massConcentration, 1000, 0}, "g/cm3", "g/cm³", "g/mL", "kg/L", "kg/dm3")
	add(unit{"mg/L", massConcentration, 0.001, 0}, "mg/L")
	add(canonicalUnits["°C"], "°C", "C", "degC", "℃", "deg C")
	add(unit{"K", temperature, 1, -273.15}, "K")
	add(canonicalUnits["1"], "", "1", "-")
	return sp, acc
}

// foldUnit is the lookup form of a unit: no spaces, lowercase, full-width and superscript
// characters replaced by their ASCII forms.
func foldUnit(s string) string {
	r := strings.NewReplacer(" ", "", "\u00a0", "", "％", "%", "（", "(", "）", ")", "³", "3", "^3", "3",
		"μ", "u", "µ", "u", "℃", "°c", "º", "°", "／", "/")
	return strings.ToLower(r.Replace(strings.TrimSpace(s)))
}

// Accepted lists the unit spellings accepted for a parameter measured in canonical unit u.
func Accepted(u string) []string {
	cu, ok := canonicalUnits[u]
	if !ok {
		return nil
	}
	out := slices.Clone(accepted[cu.fam])
	if u == "%(m/m)" || u == "%(v/v)" {
		out = append(out, "%")
	}
	return out
}

// unitFor resolves a unit as uploaded against the parameter's canonical unit.
func unitFor(given, canonical string) (unit, error) {
	cu := canonicalUnits[canonical]
	g, ok := spellings[foldUnit(given)]
	if !ok {
		return unit{}, fmt.Errorf("unknown unit %q; for this parameter use one of %s", given, quoteAll(Accepted(canonical)))
	}
	if g == bare {
		if canonical == "%(m/m)" || canonical == "%(v/v)" {
			return cu, nil
		}
		return unit{}, fmt.Errorf("a bare %% is ambiguous for a parameter measured in %s; use one of %s", canonical, quoteAll(Accepted(canonical)))
	}
	if g.fam != cu.fam {
		return unit{}, fmt.Errorf("unit %q does not fit this parameter, measured in %s; use one of %s", given, canonical, quoteAll(Accepted(canonical)))
	}
	return g, nil
}

// Convert turns value in unit given into the parameter's canonical unit, refusing units of
// another kind. Results are rounded to 12 significant digits, so that exact conversions (0.001
// %(m/m) = 10 mg/kg) compare exactly with a limit.
func Convert(value float64, given, canonical string) (float64, error) {
	if _, ok := canonicalUnits[canonical]; !ok {
		return 0, fmt.Errorf("%q is not a table unit", canonical)
	}
	g, err := unitFor(given, canonical)
	if err != nil {
		return 0, err
	}
	c := canonicalUnits[canonical]
	base := value*g.factor + g.offset
	return round12((base - c.offset) / c.factor), nil
}

func round12(v float64) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	return r
}

// plausible bounds a value in its canonical unit: fractions between 0 and 100 %, concentrations
// and dimensionless numbers not negative, temperatures not below absolute zero.
func plausible(v float64, canonical string) error {
	switch canonicalUnits[canonical].fam {
	case massFraction:
		if v < 0 || v > 1e6 {
			return fmt.Errorf("a mass fraction lies between 0 and 100 %%")
		}
	case volumeFraction:
		if v < 0 || v > 100 {
			return fmt.Errorf("a volume fraction lies between 0 and 100 %%")
		}
	case massConcentration, dimensionless:
		if v < 0 {
			return fmt.Errorf("may not be negative")
		}
	case temperature:
		if v < -273.15 {
			return fmt.Errorf("below absolute zero")
		}
	}
	return nil
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
