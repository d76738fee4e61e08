package limits

import (
	"fmt"
	"math"
	"time"

	"github.com/clearsky/clearsky/libs/localtime"
)

// Verdict is the outcome of judging one reading.
type Verdict string

// Verdicts of Judge.
const (
	Pass      Verdict = "pass"       // every judged parameter within its limit
	Exceed    Verdict = "exceed"     // at least one parameter above its limit
	Invalid   Verdict = "invalid"    // taken outside the valid window: kept, never judged
	NotJudged Verdict = "not_judged" // station out of calibration, no table, or no limit for the fuel
)

// Reason codes of Judge.
const (
	ReasonCalibrationExpired = "calibration_expired"
	ReasonNotCalibrated      = "not_calibrated"
	ReasonNoTable            = "no_table_in_force"
	ReasonSpeed              = "speed_out_of_window"
	ReasonAccel              = "accel_out_of_window"
	ReasonVSP                = "vsp_out_of_window"
	ReasonWind               = "wind_too_strong"
	ReasonRain               = "rain"
	ReasonFog                = "fog"
	ReasonNoLimits           = "no_limits_for_fuel"
	ReasonNothingLimited     = "no_limited_parameter_measured"
)

// Reason says why a reading was not judged, or was marked invalid.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Result is one judged parameter: its value, its limit and where the limit comes from.
type Result struct {
	Parameter Parameter `json:"parameter"`
	Value     float64   `json:"value"`
	Limit     float64   `json:"limit"`
	Unit      string    `json:"unit"`
	Standard  string    `json:"standard"`
	Clause    string    `json:"clause,omitempty"`
	Exceeded  bool      `json:"exceeded"`
	Confirm   bool      `json:"confirm,omitempty"`
}

// Values are a reading's measured pollutants; nil means not measured.
type Values struct {
	CO, HC, NO, Opacity, Ringelmann *float64
}

// Get returns the value of p, if measured.
func (v Values) Get(p Parameter) (float64, bool) {
	var x *float64
	switch p {
	case CO:
		x = v.CO
	case HC:
		x = v.HC
	case NO:
		x = v.NO
	case Opacity:
		x = v.Opacity
	case Ringelmann:
		x = v.Ringelmann
	}
	if x == nil {
		return 0, false
	}
	return *x, true
}

// Input is everything a verdict depends on.
type Input struct {
	MeasuredAt time.Time
	Values     Values
	SpeedKmh   float64
	AccelMS2   float64
	WindMS     *float64
	Rain, Fog  bool
	// Fuel is the vehicle's fuel type from the registry.
	Fuel string
	// SlopePct is the road slope at the site in percent (uphill positive), for VSP.
	SlopePct float64
	// CalibratedOn is the station's last calibration day; CalibrationValidDays how long it holds.
	CalibratedOn         time.Time
	CalibrationValidDays int
}

// Judgement is the verdict on one reading with everything it rests on.
type Judgement struct {
	Verdict Verdict  `json:"verdict"`
	Version string   `json:"table_version,omitempty"`
	Reasons []Reason `json:"reasons,omitempty"`
	Results []Result `json:"results,omitempty"`
}

// Exceedances returns the results above their limits.
func (j Judgement) Exceedances() []Result {
	var out []Result
	for _, r := range j.Results {
		if r.Exceeded {
			out = append(out, r)
		}
	}
	return out
}

// VSP is the vehicle specific power in kW/t (Jiménez-Palacios): v·(1.1·a + 9.81·grade + 0.132)
// + 0.000302·v³ with v in m/s, a in m/s² and grade the slope as a fraction.
func VSP(speedKmh, accelMS2, slopePct float64) float64 {
	v := speedKmh / 3.6
	return v*(1.1*accelMS2+9.81*(slopePct/100)+0.132) + 0.000302*v*v*v
}

// Judge judges a reading by the table version in force on its local day. In order: a station
// out of calibration on that day, or no version in force, leaves the reading not judged; a
// reading outside the valid window is invalid (every breach listed); a fuel without limits, or
// a reading measuring none of the limited parameters, is not judged; otherwise each limited
// parameter measured is compared, and any value strictly above its limit exceeds.
func Judge(t Table, in Input) Judgement {
	day := localtime.DayOf(in.MeasuredAt)
	if in.CalibratedOn.IsZero() || day.Before(in.CalibratedOn) {
		return Judgement{Verdict: NotJudged, Reasons: []Reason{{ReasonNotCalibrated,
			"the station has no calibration on record on the day of the reading"}}}
	}
	if until := in.CalibratedOn.AddDate(0, 0, in.CalibrationValidDays); !day.Before(until) {
		return Judgement{Verdict: NotJudged, Reasons: []Reason{{ReasonCalibrationExpired, fmt.Sprintf(
			"the station's calibration of %s was valid for %d days, until %s", in.CalibratedOn.Format(time.DateOnly),
			in.CalibrationValidDays, until.AddDate(0, 0, -1).Format(time.DateOnly))}}}
	}
	v, ok := t.InForce(in.MeasuredAt)
	if !ok {
		return Judgement{Verdict: NotJudged, Reasons: []Reason{{ReasonNoTable, "no limit table is in force on " + day.Format(time.DateOnly)}}}
	}
	j := Judgement{Version: v.Version}
	w := v.Window
	if !w.SpeedKmh.Contains(in.SpeedKmh) {
		j.Reasons = append(j.Reasons, Reason{ReasonSpeed, fmt.Sprintf("speed %g km/h is outside %s", in.SpeedKmh, w.SpeedKmh)})
	}
	if !w.AccelMS2.Contains(in.AccelMS2) {
		j.Reasons = append(j.Reasons, Reason{ReasonAccel, fmt.Sprintf("acceleration %g m/s² is outside %s", in.AccelMS2, w.AccelMS2)})
	}
	if w.VSPkWt != nil {
		if vsp := VSP(in.SpeedKmh, in.AccelMS2, in.SlopePct); !w.VSPkWt.Contains(vsp) {
			j.Reasons = append(j.Reasons, Reason{ReasonVSP, fmt.Sprintf("VSP %.1f kW/t is outside %s", vsp, *w.VSPkWt)})
		}
	}
	if w.WindMaxMS != nil && in.WindMS != nil && *in.WindMS > *w.WindMaxMS {
		j.Reasons = append(j.Reasons, Reason{ReasonWind, fmt.Sprintf("wind %g m/s is above %g m/s", *in.WindMS, *w.WindMaxMS)})
	}
	if w.RefuseRain && in.Rain {
		j.Reasons = append(j.Reasons, Reason{ReasonRain, "rain or snow at the site"})
	}
	if w.RefuseFog && in.Fog {
		j.Reasons = append(j.Reasons, Reason{ReasonFog, "fog at the site"})
	}
	if len(j.Reasons) > 0 {
		j.Verdict = Invalid
		return j
	}
	rows := v.Rows(in.Fuel)
	if len(rows) == 0 {
		fuel := in.Fuel
		if fuel == "" {
			fuel = "unknown"
		}
		j.Verdict = NotJudged
		j.Reasons = []Reason{{ReasonNoLimits, fmt.Sprintf("table %s has no remote-sensing limits for %s vehicles", v.Version, fuel)}}
		return j
	}
	j.Results = compare(rows, in.Values)
	j.Verdict = Pass
	for _, r := range j.Results {
		if r.Exceeded {
			j.Verdict = Exceed
		}
	}
	if len(j.Results) == 0 {
		j.Verdict = NotJudged
		j.Reasons = []Reason{{ReasonNothingLimited, fmt.Sprintf("the reading measures none of the parameters limited for %s vehicles", in.Fuel)}}
	}
	return j
}

// compare compares each measured value with its row.
func compare(rows []Row, vals Values) []Result {
	var out []Result
	for _, r := range rows {
		x, ok := vals.Get(r.Parameter)
		if !ok {
			continue
		}
		out = append(out, Result{Parameter: r.Parameter, Value: x, Limit: r.Limit, Unit: r.Unit, Standard: r.Standard, Clause: r.Clause,
			Exceeded: x > r.Limit && !nearlyEqual(x, r.Limit), Confirm: r.Confirm})
	}
	return out
}

// Results recomputes the per-parameter results of a reading judged by the named version for
// fuel; false when the table no longer holds that version. Judging is deterministic, so these
// are the results the verdict was made of.
func (t Table) Results(version, fuel string, vals Values) ([]Result, bool) {
	for _, v := range t.Versions {
		if v.Version == version {
			return compare(v.Rows(fuel), vals), true
		}
	}
	return nil, false
}

// nearlyEqual absorbs binary rounding of decimal values sent over JSON (30.000000000000004 is 30).
func nearlyEqual(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
