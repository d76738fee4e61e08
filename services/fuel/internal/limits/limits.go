// Package limits holds the fuel service's limit tables and judges sample results against them.
// Limits are data: a Table lists the products and their grades, the parameters labs report
// (each with its unit), the limit rows (standard, clause, grade, comparison, value and the days
// each is in force) and the prohibitions that fail a sample by themselves (ordinary diesel,
// fuel declared below China VI, coal slurry sold for household use). A sample is judged by the
// rows in force on its own sampling day. The package is pure: no I/O, no clock.
package limits

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/localtime"
)

// Product is what a sample is of.
type Product string

// Products.
const (
	Gasoline Product = "gasoline"
	Diesel   Product = "diesel"
	Urea     Product = "urea" // vehicle urea solution AUS 32
	Coal     Product = "coal" // household coal
)

// Products lists every product; a table must cover each of them.
var Products = []Product{Gasoline, Diesel, Urea, Coal}

// Comparison is how a limit row judges a value.
type Comparison string

// Comparisons. Boundaries are inclusive: a value exactly at the limit passes.
const (
	Max       Comparison = "max"       // value <= limit
	Min       Comparison = "min"       // value >= limit
	Range     Comparison = "range"     // min <= value <= max
	Forbidden Comparison = "forbidden" // may not be added: value <= limit (a detection threshold, default 0)
)

// Comparisons lists the valid comparisons.
var Comparisons = []Comparison{Max, Min, Range, Forbidden}

// Day is a calendar day in a table ("2023-01-01"), as libs/localtime reads and writes it.
type Day = localtime.Day

// Table is one version of the limits.
type Table struct {
	Name         string        `json:"name"`
	About        string        `json:"about,omitempty" input:"text"`
	Products     []ProductSpec `json:"products"`
	Parameters   []Parameter   `json:"parameters"`
	Limits       []Limit       `json:"limits"`
	Prohibitions []Prohibition `json:"prohibitions"`
}

// ProductSpec lists a product's grades. Grades are matched case-insensitively, after dropping
// "#" and "号" ("92#", "0号"); Aliases map other names to a grade ("普通柴油" -> "ordinary").
// DefaultGrade is used when a sample names none; without it the grade is required.
type ProductSpec struct {
	Product      Product           `json:"product"`
	Grades       []string          `json:"grades"`
	DefaultGrade string            `json:"default_grade,omitempty"`
	Aliases      map[string]string `json:"aliases,omitempty"`
}

// Parameter is a key labs report for a product, with the unit its limits are written in.
type Parameter struct {
	Product Product `json:"product"`
	Key     string  `json:"key"`
	Name    string  `json:"name"`
	Unit    string  `json:"unit"`
}

// Limit is one row: the limit on a parameter of a product (for some grades or all), from a
// standard's clause, in force from EffectiveFrom to EffectiveTo (inclusive; open-ended when nil).
// Max and Min use Limit; Range uses Min and Max; Forbidden uses Limit as a detection threshold.
// Confirm marks a value taken from secondary sources.
type Limit struct {
	Product       Product    `json:"product"`
	Grades        []string   `json:"grades,omitempty"`
	Parameter     string     `json:"parameter"`
	Comparison    Comparison `json:"comparison"`
	Limit         *float64   `json:"limit,omitempty"`
	Min           *float64   `json:"min,omitempty"`
	Max           *float64   `json:"max,omitempty"`
	Unit          string     `json:"unit"`
	Standard      string     `json:"standard"`
	Stage         string     `json:"stage,omitempty"`
	Clause        string     `json:"clause"`
	EffectiveFrom Day        `json:"effective_from"`
	EffectiveTo   *Day       `json:"effective_to,omitempty"`
	Confirm       bool       `json:"confirm,omitempty"`
	Note          string     `json:"note,omitempty"`
}

// InForce reports whether the row applies on day.
func (l Limit) InForce(day time.Time) bool {
	return !day.Before(l.EffectiveFrom.Time) && (l.EffectiveTo == nil || !day.After(l.EffectiveTo.Time))
}

// AppliesTo reports whether the row covers grade (a row without grades covers every grade).
func (l Limit) AppliesTo(grade string) bool {
	return len(l.Grades) == 0 || slices.Contains(l.Grades, grade)
}

// Source names the row's standard, stage and clause ("GB 17930-2016 VIB, Table 4 (China VIB)").
func (l Limit) Source() string {
	s := l.Standard
	if l.Stage != "" {
		s += " " + l.Stage
	}
	return s + ", " + l.Clause
}

// Prohibition fails a sample by itself while in force: a sample of one of Products whose grade
// is one of Grades, whose label contains one of Labels (case-insensitive), or whose declared
// standard ranks below DeclaredBelow.
type Prohibition struct {
	Code          string    `json:"code"`
	Products      []Product `json:"products"`
	Grades        []string  `json:"grades,omitempty"`
	Labels        []string  `json:"labels,omitempty"`
	DeclaredBelow string    `json:"declared_below,omitempty"`
	Standard      string    `json:"standard"`
	Clause        string    `json:"clause"`
	Message       string    `json:"message"`
	EffectiveFrom Day       `json:"effective_from"`
	EffectiveTo   *Day      `json:"effective_to,omitempty"`
}

// InForce reports whether the prohibition applies on day.
func (p Prohibition) InForce(day time.Time) bool {
	return !day.Before(p.EffectiveFrom.Time) && (p.EffectiveTo == nil || !day.After(p.EffectiveTo.Time))
}

// Parse reads a table from JSON, refusing unknown fields, and validates it.
func Parse(b []byte) (Table, error) {
	var t Table
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return Table{}, apperr.Invalid("body", "limit table: "+err.Error())
	}
	if err := t.Validate(); err != nil {
		return Table{}, err
	}
	return t, nil
}

// Hash is a digest of the table's content, to tell a re-load of the same table from a new one.
func (t Table) Hash() string {
	b, err := json.Marshal(t)
	if err != nil {
		// A validated table holds finite numbers and text only: a bug, never to be hashed as
		// nothing (every such table would look the same).
		panic(fmt.Sprintf("limit table hash: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Spec returns the product's grades.
func (t Table) Spec(p Product) (ProductSpec, bool) {
	for _, s := range t.Products {
		if s.Product == p {
			return s, true
		}
	}
	return ProductSpec{}, false
}

// Param returns the parameter key of a product.
func (t Table) Param(p Product, key string) (Parameter, bool) {
	for _, x := range t.Parameters {
		if x.Product == p && x.Key == key {
			return x, true
		}
	}
	return Parameter{}, false
}

// ParamsOf returns the parameter keys of a product, in table order.
func (t Table) ParamsOf(p Product) []string {
	var out []string
	for _, x := range t.Parameters {
		if x.Product == p {
			out = append(out, x.Key)
		}
	}
	return out
}

var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate checks the whole table and names every field at fault ("limits[3].unit"). Every
// product must be covered; parameters are unique per product with a known unit; limit rows name
// a known parameter and grades, carry the numbers their comparison needs in the parameter's
// unit, and never overlap in time for the same product, parameter and grade.
func (t *Table) Validate() error {
	var ve apperr.ValidationError
	if strings.TrimSpace(t.Name) == "" {
		ve.Add("name", "required: a name for this table version")
	}
	specs := map[Product]ProductSpec{}
	for i, s := range t.Products {
		f := fmt.Sprintf("products[%d]", i)
		if !slices.Contains(Products, s.Product) {
			ve.Add(f+".product", fmt.Sprintf("%q is not one of %s", s.Product, joinProducts()))
			continue
		}
		if _, dup := specs[s.Product]; dup {
			ve.Add(f+".product", "listed twice")
			continue
		}
		specs[s.Product] = s
		if len(s.Grades) == 0 {
			ve.Add(f+".grades", "at least one grade")
		}
		seen := map[string]bool{}
		for j, g := range s.Grades {
			k := foldGrade(g)
			if k == "" || seen[k] {
				ve.Add(fmt.Sprintf("%s.grades[%d]", f, j), "empty or repeated grade")
			}
			seen[k] = true
		}
		if s.DefaultGrade != "" && !slices.Contains(s.Grades, s.DefaultGrade) {
			ve.Add(f+".default_grade", "must be one of the product's grades")
		}
		for alias, g := range s.Aliases {
			if !slices.Contains(s.Grades, g) {
				ve.Add(f+".aliases."+alias, fmt.Sprintf("%q is not one of the product's grades", g))
			}
		}
	}
	for _, p := range Products {
		if _, ok := specs[p]; !ok {
			ve.Add("products", fmt.Sprintf("the table must cover %s", p))
		}
	}
	params := map[Product]map[string]Parameter{}
	for i, p := range t.Parameters {
		f := fmt.Sprintf("parameters[%d]", i)
		if _, ok := specs[p.Product]; !ok {
			ve.Add(f+".product", fmt.Sprintf("%q is not a product of this table", p.Product))
			continue
		}
		if !keyPattern.MatchString(p.Key) {
			ve.Add(f+".key", "a key is snake_case: lowercase letters, digits and _")
			continue
		}
		if params[p.Product] == nil {
			params[p.Product] = map[string]Parameter{}
		}
		if _, dup := params[p.Product][p.Key]; dup {
			ve.Add(f+".key", fmt.Sprintf("%s is listed twice for %s", p.Key, p.Product))
			continue
		}
		if _, ok := canonicalUnits[p.Unit]; !ok {
			ve.Add(f+".unit", fmt.Sprintf("%q is not a table unit: one of %s", p.Unit, strings.Join(CanonicalUnits(), ", ")))
			continue
		}
		params[p.Product][p.Key] = p
	}
	for i := range t.Limits {
		validateLimit(&ve, fmt.Sprintf("limits[%d]", i), &t.Limits[i], specs, params)
	}
	if ve.Err() == nil {
		checkOverlaps(&ve, t.Limits, specs)
		checkComplete(&ve, t, specs, params)
	}
	codes := map[string]bool{}
	for i, p := range t.Prohibitions {
		f := fmt.Sprintf("prohibitions[%d]", i)
		if !keyPattern.MatchString(p.Code) || codes[p.Code] {
			ve.Add(f+".code", "a unique snake_case code")
		}
		codes[p.Code] = true
		if len(p.Products) == 0 {
			ve.Add(f+".products", "at least one product")
		}
		for j, pr := range p.Products {
			if _, ok := specs[pr]; !ok {
				ve.Add(fmt.Sprintf("%s.products[%d]", f, j), fmt.Sprintf("%q is not a product of this table", pr))
			}
		}
		for j, g := range p.Grades {
			if !gradeOfAny(g, p.Products, specs) {
				ve.Add(fmt.Sprintf("%s.grades[%d]", f, j), fmt.Sprintf("%q is not a grade of %v", g, p.Products))
			}
		}
		if p.DeclaredBelow != "" {
			if _, err := ParseStage(p.DeclaredBelow); err != nil {
				ve.Add(f+".declared_below", err.Error())
			}
		}
		if len(p.Grades) == 0 && len(p.Labels) == 0 && p.DeclaredBelow == "" {
			ve.Add(f, "needs grades, labels or declared_below to match anything")
		}
		requireText(&ve, f+".standard", p.Standard)
		requireText(&ve, f+".clause", p.Clause)
		requireText(&ve, f+".message", p.Message)
		checkPeriod(&ve, f, p.EffectiveFrom, p.EffectiveTo)
	}
	return ve.Err()
}

// checkComplete refuses a table that could not judge what labs send: a product without a
// parameter, a parameter without a limit row, or a grade no row applies to today or later (a
// table put in force with those would refuse every upload of the product, or pass it unjudged).
func checkComplete(ve *apperr.ValidationError, t *Table, specs map[Product]ProductSpec, params map[Product]map[string]Parameter) {
	today := localtime.Day{Time: time.Now().In(localtime.Shanghai())}
	rows := map[Product]map[string]bool{}   // product → parameters with a row
	graded := map[Product]map[string]bool{} // product → grades with a row in force today or later
	for _, l := range t.Limits {
		if rows[l.Product] == nil {
			rows[l.Product], graded[l.Product] = map[string]bool{}, map[string]bool{}
		}
		rows[l.Product][l.Parameter] = true
		if l.EffectiveTo != nil && l.EffectiveTo.Before(today.Time) {
			continue
		}
		gs := l.Grades
		if len(gs) == 0 {
			gs = specs[l.Product].Grades
		}
		for _, g := range gs {
			if k, ok := specs[l.Product].Grade(g); ok {
				graded[l.Product][foldGrade(k)] = true
			}
		}
	}
	for i, s := range t.Products {
		f := fmt.Sprintf("products[%d]", i)
		if len(params[s.Product]) == 0 {
			ve.Add("parameters", fmt.Sprintf("%s has no parameter: labs' results for it could not be read", s.Product))
			continue
		}
		for _, g := range s.Grades {
			if !graded[s.Product][foldGrade(g)] {
				ve.Add(f+".grades", fmt.Sprintf("no limit row applies to %s %s today or later: its samples could not be judged", s.Product, g))
			}
		}
	}
	for i, p := range t.Parameters {
		if _, ok := params[p.Product][p.Key]; ok && !rows[p.Product][p.Key] {
			ve.Add(fmt.Sprintf("parameters[%d]", i), fmt.Sprintf("%s %s has no limit row: a result for it could not be judged", p.Product, p.Key))
		}
	}
}

func validateLimit(ve *apperr.ValidationError, f string, l *Limit, specs map[Product]ProductSpec, params map[Product]map[string]Parameter) {
	spec, ok := specs[l.Product]
	if !ok {
		ve.Add(f+".product", fmt.Sprintf("%q is not a product of this table", l.Product))
		return
	}
	p, ok := params[l.Product][l.Parameter]
	if !ok {
		ve.Add(f+".parameter", fmt.Sprintf("%q is not a parameter of %s", l.Parameter, l.Product))
		return
	}
	for j, g := range l.Grades {
		if !slices.Contains(spec.Grades, g) {
			ve.Add(fmt.Sprintf("%s.grades[%d]", f, j), fmt.Sprintf("%q is not a grade of %s", g, l.Product))
		}
	}
	if u, err := unitFor(l.Unit, p.Unit); err != nil || !u.sameScale(canonicalUnits[p.Unit]) {
		ve.Add(f+".unit", fmt.Sprintf("limits of %s.%s are written in its unit %s", l.Product, l.Parameter, p.Unit))
	} else {
		l.Unit = p.Unit
	}
	switch l.Comparison {
	case Max, Min:
		if l.Limit == nil {
			ve.Add(f+".limit", "required for comparison "+string(l.Comparison))
		}
		if l.Min != nil || l.Max != nil {
			ve.Add(f+".min", "only range rows carry min and max; use limit")
		}
	case Range:
		if l.Min == nil || l.Max == nil {
			ve.Add(f+".min", "range rows need both min and max")
		} else if *l.Min > *l.Max {
			ve.Add(f+".max", "must not be below min")
		}
		if l.Limit != nil {
			ve.Add(f+".limit", "range rows use min and max, not limit")
		}
	case Forbidden:
		if l.Min != nil || l.Max != nil {
			ve.Add(f+".min", "forbidden rows carry at most a detection threshold in limit")
		}
		if l.Limit != nil && *l.Limit < 0 {
			ve.Add(f+".limit", "a detection threshold is not negative")
		}
	default:
		ve.Add(f+".comparison", fmt.Sprintf("%q is not one of max, min, range, forbidden", l.Comparison))
	}
	requireText(ve, f+".standard", l.Standard)
	requireText(ve, f+".clause", l.Clause)
	checkPeriod(ve, f, l.EffectiveFrom, l.EffectiveTo)
}

func requireText(ve *apperr.ValidationError, field, v string) {
	if strings.TrimSpace(v) == "" {
		ve.Add(field, "required")
	}
}

func checkPeriod(ve *apperr.ValidationError, f string, from Day, to *Day) {
	if from.IsZero() {
		ve.Add(f+".effective_from", "required, YYYY-MM-DD")
	}
	if to != nil && to.Before(from.Time) {
		ve.Add(f+".effective_to", "must not be before effective_from")
	}
}

// checkOverlaps refuses two rows that would both judge the same parameter of the same grade on
// the same day: the verdict must name exactly one limit.
func checkOverlaps(ve *apperr.ValidationError, rows []Limit, specs map[Product]ProductSpec) {
	gradesOf := func(l Limit) []string {
		if len(l.Grades) == 0 {
			return specs[l.Product].Grades
		}
		return l.Grades
	}
	for i, l := range rows {
		for j := range i {
			o := rows[j]
			if o.Product != l.Product || o.Parameter != l.Parameter || !overlap(o, l) {
				continue
			}
			for _, g := range gradesOf(l) {
				if slices.Contains(gradesOf(o), g) {
					ve.Add(fmt.Sprintf("limits[%d].effective_from", i),
						fmt.Sprintf("overlaps limits[%d] for %s.%s grade %s: one row per day and grade", j, l.Product, l.Parameter, g))
					break
				}
			}
		}
	}
}

func overlap(a, b Limit) bool {
	aEndsBeforeB := a.EffectiveTo != nil && a.EffectiveTo.Before(b.EffectiveFrom.Time)
	bEndsBeforeA := b.EffectiveTo != nil && b.EffectiveTo.Before(a.EffectiveFrom.Time)
	return !aEndsBeforeB && !bEndsBeforeA
}

func gradeOfAny(g string, products []Product, specs map[Product]ProductSpec) bool {
	for _, p := range products {
		if slices.Contains(specs[p].Grades, g) {
			return true
		}
	}
	return false
}

func joinProducts() string {
	names := make([]string, len(Products))
	for i, p := range Products {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

// foldGrade is the comparison form of a grade: trimmed, lowercase, without "#", "号" or
// spaces, with Unicode minus signs as "-".
func foldGrade(g string) string {
	r := strings.NewReplacer("#", "", "号", "", " ", "", "−", "-", "－", "-", "–", "-")
	return strings.ToLower(r.Replace(strings.TrimSpace(g)))
}

// Grade resolves a grade as uploaded to the table's spelling of it; an empty grade gives the
// product's default. ok is false for a grade the product does not have.
func (s ProductSpec) Grade(g string) (string, bool) {
	if strings.TrimSpace(g) == "" {
		return s.DefaultGrade, s.DefaultGrade != ""
	}
	if to, ok := s.Aliases[strings.TrimSpace(g)]; ok {
		return to, true
	}
	k := foldGrade(g)
	for _, x := range s.Grades {
		if foldGrade(x) == k {
			return x, true
		}
	}
	return "", false
}
