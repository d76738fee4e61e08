package limits

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/emission"
)

// Verdict is a judgement of a sample or of one of its results.
type Verdict string

// Verdicts. NotJudged is for a result no limit row covers on the sampling day (a colder-grade
// parameter for ordinary diesel, say); it never makes a sample pass or fail.
const (
	Pass      Verdict = "pass"
	Fail      Verdict = "fail"
	NotJudged Verdict = "not_judged"
)

// Stage is a declared China fuel standard stage (国四, 国五, 国六, 国六A, 国六B).
type Stage string

// ParseStage reads a declared stage: "VI", "VIA", "VIb", "国六", "国Ⅵ", "China V", "5"...
func ParseStage(s string) (Stage, error) {
	r := strings.NewReplacer(" ", "", "CHINA", "", "GUO", "", "国", "", "Ⅰ", "I", "Ⅱ", "II", "Ⅲ", "III", "Ⅳ", "IV", "Ⅴ", "V", "Ⅵ", "VI",
		"一", "I", "二", "II", "三", "III", "四", "IV", "五", "V", "六", "VI")
	k := r.Replace(strings.ToUpper(strings.TrimSpace(s)))
	arabic := map[string]string{"1": "I", "2": "II", "3": "III", "4": "IV", "5": "V", "6": "VI", "6A": "VIA", "6B": "VIB"}
	if a, ok := arabic[k]; ok {
		k = a
	}
	switch k {
	case "I", "II", "III", "IV", "V", "VI", "VIA", "VIB":
		return Stage(k), nil
	}
	return "", fmt.Errorf("%q is not a China fuel standard stage: one of IV, V, VI, VIA, VIB (or 国五, 国六...)", s)
}

// Rank orders stages as libs/emission orders emission standards: VI and VIA rank 6, VIB 7.
func (s Stage) Rank() int { return emission.Rank(string(s)) }

// Input is a sample as uploaded, before checking.
type Input struct {
	Product  string
	Grade    string
	Standard string // the declared fuel standard stage, petrol and diesel only; optional
	Label    string // the product's name as sold; optional
	// Day is the sampling day: the calendar day, in China, of the sampling instant.
	Day     time.Time
	Results []Reading
}

// Reading is one result as uploaded.
type Reading struct {
	Parameter string
	Value     float64
	Unit      string
}

// Outcome is one judged result.
type Outcome struct {
	Parameter     string  `json:"parameter"`
	Value         float64 `json:"value"`
	Unit          string  `json:"unit"`
	Canonical     float64 `json:"value_canonical"`
	CanonicalUnit string  `json:"unit_canonical"`
	Verdict       Verdict `json:"verdict"`
	Limit         *Limit  `json:"limit,omitempty"`
	Message       string  `json:"message"`
}

// Finding is a prohibition a sample falls under: a failure by itself.
type Finding struct {
	Code     string `json:"code"`
	Standard string `json:"standard"`
	Clause   string `json:"clause"`
	Message  string `json:"message"`
}

// Judgement is a sample's verdict: overall, per result, and the prohibitions it falls under.
type Judgement struct {
	Product  Product
	Grade    string
	Declared Stage
	Label    string
	Verdict  Verdict
	Results  []Outcome
	Findings []Finding
}

// Evaluate checks a sample against the table and judges it by the rows in force on its day.
// Input errors name the field at fault ("results[2].unit"): an unknown product or grade, a
// parameter the product does not have or given twice, a unit that does not fit the parameter, a
// value that cannot be, a day with no limits in force for the product, or no results at all
// for a sample no prohibition fails by itself. The sample fails when a result fails or a
// prohibition applies, and passes otherwise.
func (t Table) Evaluate(in Input) (Judgement, error) {
	var ve apperr.ValidationError
	j := Judgement{Product: Product(strings.ToLower(strings.TrimSpace(in.Product))), Label: strings.TrimSpace(in.Label)}
	spec, ok := t.Spec(j.Product)
	if !ok {
		ve.Add("product", fmt.Sprintf("%q is not one of %s", in.Product, joinProducts()))
		return j, ve.Err()
	}
	if g, ok := spec.Grade(in.Grade); ok {
		j.Grade = g
	} else if strings.TrimSpace(in.Grade) == "" {
		ve.Add("grade", fmt.Sprintf("required for %s: one of %s", j.Product, strings.Join(spec.Grades, ", ")))
	} else {
		ve.Add("grade", fmt.Sprintf("%q is not a grade of %s: one of %s", in.Grade, j.Product, strings.Join(spec.Grades, ", ")))
	}
	if strings.TrimSpace(in.Standard) != "" {
		if j.Product != Gasoline && j.Product != Diesel {
			ve.Add("standard", "a declared fuel standard applies to gasoline and diesel only")
		} else if st, err := ParseStage(in.Standard); err != nil {
			ve.Add("standard", err.Error())
		} else {
			j.Declared = st
		}
	}
	inForce := false
	for _, l := range t.Limits {
		if l.Product == j.Product && l.InForce(in.Day) {
			inForce = true
			break
		}
	}
	if !inForce {
		ve.Add("sampled_at", fmt.Sprintf("no %s limits are in force on %s in table %q", j.Product, in.Day.Format(time.DateOnly), t.Name))
	}
	seen := map[string]int{}
	for i, r := range in.Results {
		f := fmt.Sprintf("results[%d]", i)
		key := strings.ToLower(strings.TrimSpace(r.Parameter))
		p, ok := t.Param(j.Product, key)
		if !ok {
			ve.Add(f+".parameter", fmt.Sprintf("%q is not a parameter of %s: one of %s", r.Parameter, j.Product, strings.Join(t.ParamsOf(j.Product), ", ")))
			continue
		}
		if prev, dup := seen[key]; dup {
			ve.Add(f+".parameter", fmt.Sprintf("%s is given twice (also results[%d])", key, prev))
			continue
		}
		seen[key] = i
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			ve.Add(f+".value", "must be a finite number")
			continue
		}
		v, err := Convert(r.Value, r.Unit, p.Unit)
		if err != nil {
			ve.Add(f+".unit", err.Error())
			continue
		}
		if err := plausible(v, p.Unit); err != nil {
			ve.Add(f+".value", fmt.Sprintf("%s (%s %s)", err.Error(), fmtNum(v), p.Unit))
			continue
		}
		j.Results = append(j.Results, Outcome{Parameter: key, Value: r.Value, Unit: strings.TrimSpace(r.Unit), Canonical: v, CanonicalUnit: p.Unit})
	}
	if err := ve.Err(); err != nil {
		return j, err
	}
	j.Findings = t.prohibited(j, in.Day)
	if len(j.Results) == 0 && len(j.Findings) == 0 {
		return j, apperr.Invalid("results", "at least one result: a sample is judged on what was measured")
	}
	j.Verdict = Pass
	for i := range j.Results {
		t.judge(&j.Results[i], j.Product, j.Grade, in.Day)
		if j.Results[i].Verdict == Fail {
			j.Verdict = Fail
		}
	}
	if len(j.Findings) > 0 {
		j.Verdict = Fail
	}
	return j, nil
}

// judge sets o's verdict from the one row in force for its parameter and grade.
func (t Table) judge(o *Outcome, p Product, grade string, day time.Time) {
	var row *Limit
	for i := range t.Limits {
		l := &t.Limits[i]
		if l.Product == p && l.Parameter == o.Parameter && l.AppliesTo(grade) && l.InForce(day) {
			row = l
			break
		}
	}
	if row == nil {
		o.Verdict = NotJudged
		o.Message = fmt.Sprintf("no limit on %s for %s grade %s is in force on %s", o.Parameter, p, grade, day.Format(time.DateOnly))
		return
	}
	c := *row
	o.Limit = &c
	v, u := fmtNum(o.Canonical), " "+row.Unit
	if row.Unit == "1" {
		u = ""
	}
	src := row.Source()
	switch row.Comparison {
	case Max:
		if o.Canonical <= *row.Limit {
			o.Verdict, o.Message = Pass, fmt.Sprintf("%s %s%s is within the maximum %s%s (%s)", o.Parameter, v, u, fmtNum(*row.Limit), u, src)
		} else {
			o.Verdict, o.Message = Fail, fmt.Sprintf("%s %s%s exceeds the maximum %s%s (%s)", o.Parameter, v, u, fmtNum(*row.Limit), u, src)
		}
	case Min:
		if o.Canonical >= *row.Limit {
			o.Verdict, o.Message = Pass, fmt.Sprintf("%s %s%s meets the minimum %s%s (%s)", o.Parameter, v, u, fmtNum(*row.Limit), u, src)
		} else {
			o.Verdict, o.Message = Fail, fmt.Sprintf("%s %s%s is below the minimum %s%s (%s)", o.Parameter, v, u, fmtNum(*row.Limit), u, src)
		}
	case Range:
		if o.Canonical >= *row.Min && o.Canonical <= *row.Max {
			o.Verdict, o.Message = Pass, fmt.Sprintf("%s %s%s is within %s - %s%s (%s)", o.Parameter, v, u, fmtNum(*row.Min), fmtNum(*row.Max), u, src)
		} else {
			o.Verdict, o.Message = Fail, fmt.Sprintf("%s %s%s is outside %s - %s%s (%s)", o.Parameter, v, u, fmtNum(*row.Min), fmtNum(*row.Max), u, src)
		}
	case Forbidden:
		threshold := 0.0
		if row.Limit != nil {
			threshold = *row.Limit
		}
		if o.Canonical <= threshold {
			o.Verdict, o.Message = Pass, fmt.Sprintf("%s not detected above %s%s (may not be added; %s)", o.Parameter, fmtNum(threshold), u, src)
		} else {
			o.Verdict, o.Message = Fail, fmt.Sprintf("%s %s%s found: it may not be added (%s)", o.Parameter, v, u, src)
		}
	}
}

// prohibited returns the prohibitions in force on day that the sample falls under.
func (t Table) prohibited(j Judgement, day time.Time) []Finding {
	var out []Finding
	label := strings.ToLower(j.Label)
	for _, p := range t.Prohibitions {
		if !p.InForce(day) || !slices.Contains(p.Products, j.Product) {
			continue
		}
		var why string
		for _, g := range p.Grades {
			if g == j.Grade {
				why = fmt.Sprintf("grade %s", g)
			}
		}
		for _, l := range p.Labels {
			if why == "" && label != "" && strings.Contains(label, strings.ToLower(l)) {
				why = fmt.Sprintf("sold as %q", j.Label)
			}
		}
		if why == "" && p.DeclaredBelow != "" && j.Declared != "" {
			if below, _ := ParseStage(p.DeclaredBelow); j.Declared.Rank() < below.Rank() {
				why = fmt.Sprintf("declared China %s", j.Declared)
			}
		}
		if why != "" {
			out = append(out, Finding{Code: p.Code, Standard: p.Standard, Clause: p.Clause,
				Message: fmt.Sprintf("%s: %s (%s, %s)", why, p.Message, p.Standard, p.Clause)})
		}
	}
	return out
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
