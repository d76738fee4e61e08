package vehicle

import (
	"encoding/json"
	"fmt"
	"time"
)

// Purpose is what a screening decides.
type Purpose string

// Screening purposes.
const (
	// ForRegistration: may this vehicle be registered (or transferred in)? (task 15)
	ForRegistration Purpose = "registration"
	// ForInspectionMark: may this vehicle get its inspection mark? (task 15)
	ForInspectionMark Purpose = "inspection_mark"
)

// Decision is a screening's outcome.
type Decision string

// Decisions.
const (
	Approved Decision = "approved"
	Refused  Decision = "refused"
)

// Reason is one finding of a screening. A blocking reason refuses; a non-blocking one is a
// warning shown with an approval (a phase-out deadline still ahead, say).
type Reason struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Rule     string `json:"rule"`
	Blocking bool   `json:"blocking"`
}

// PhaseOut says whether a vehicle is on a phase-out list (task 13) and by when it must go.
type PhaseOut struct {
	Listed   bool      `json:"listed"`
	List     string    `json:"list,omitempty"` // diesel_truck_china3 | gas_lean_burn | gas_converted
	Reason   string    `json:"reason,omitempty"`
	Deadline time.Time `json:"deadline,omitzero"`
	Overdue  bool      `json:"overdue"`
}

// MarshalJSON writes the deadline as the day it is ("2020-12-31"), as the vehicle's status
// writes it: a deadline is a day, not an instant.
func (p PhaseOut) MarshalJSON() ([]byte, error) {
	out := struct {
		Listed   bool   `json:"listed"`
		List     string `json:"list,omitempty"`
		Reason   string `json:"reason,omitempty"`
		Deadline string `json:"deadline,omitempty"`
		Overdue  bool   `json:"overdue"`
	}{Listed: p.Listed, List: p.List, Reason: p.Reason, Overdue: p.Overdue}
	if !p.Deadline.IsZero() {
		out.Deadline = p.Deadline.Format(time.DateOnly)
	}
	return json.Marshal(out)
}

// PhaseOutOf applies the phase-out lists of task 13 to v on day.
func PhaseOutOf(v Vehicle, p Policy, day time.Time) PhaseOut {
	var po PhaseOut
	switch {
	case v.FuelType == Diesel && v.Use == Operating && v.Category.Truck() && v.EmissionStandard.Rank() <= StdIII.Rank():
		po = PhaseOut{Listed: true, List: "diesel_truck_china3", Reason: fmt.Sprintf("operating diesel truck of China %s (China III and below are phased out early, task 13)", v.EmissionStandard), Deadline: p.DieselTruckPhaseOut.Time}
	case v.FuelType == Gas && v.LeanBurn:
		po = PhaseOut{Listed: true, List: "gas_lean_burn", Reason: "old gas vehicle with lean-burn engine (task 13)", Deadline: p.GasPhaseOut.Time}
	case v.FuelType == Gas && v.ConvertedGas:
		po = PhaseOut{Listed: true, List: "gas_converted", Reason: "old gas vehicle converted from petrol (task 13)", Deadline: p.GasPhaseOut.Time}
	default:
		return po
	}
	po.Overdue = day.After(po.Deadline)
	return po
}

// ScreeningInput is what a screening is decided on.
type ScreeningInput struct {
	Purpose Purpose
	// Candidate is the vehicle as presented (for registration: the application's data).
	Candidate Vehicle
	// Existing is the registry's record of the VIN, if any.
	Existing *Vehicle
	// Report is the emission inspection report presented, if any.
	Report *Inspection
	// Day is the decision day.
	Day time.Time
}

// Screen decides a screening. It is a pure function of its input and the policy: every reason
// found is listed, and any blocking reason refuses.
func Screen(in ScreeningInput, p Policy) (Decision, []Reason, PhaseOut) {
	var reasons []Reason
	block := func(code, rule, format string, args ...any) {
		reasons = append(reasons, Reason{Code: code, Rule: rule, Message: fmt.Sprintf(format, args...), Blocking: true})
	}
	warn := func(code, rule, format string, args ...any) {
		reasons = append(reasons, Reason{Code: code, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	v := in.Candidate
	if in.Existing != nil {
		switch in.Existing.Status {
		case Scrapped:
			block("scrapped", "task 13", "the vehicle is recorded as scrapped")
		case Deregistered:
			block("deregistered", "task 13", "the vehicle's registration was cancelled")
		case PlateVoid:
			block("plate_void", "task 13", "the plate was declared void: the vehicle is past forced scrappage and was not deregistered")
		}
		if in.Purpose == ForInspectionMark {
			v = *in.Existing
		}
	}
	if !v.ScrapDue.IsZero() && in.Day.After(v.ScrapDue) && (in.Existing == nil || in.Existing.Status == Active) {
		block("past_forced_scrappage", "task 13", "the vehicle reached forced scrappage on %s", v.ScrapDue.Format(time.DateOnly))
	}
	po := PhaseOutOf(v, p, in.Day)
	switch in.Purpose {
	case ForRegistration:
		if in.Existing != nil && in.Existing.Status == Active {
			block("already_registered", "task 15", "the VIN is already registered with plate %s", in.Existing.Plate)
		}
		if min, ok := p.MinimumOn(in.Day); ok && v.EmissionStandard.Rank() < min.Minimum.Rank() && v.FuelType != Electric && v.FuelType != FuelCell {
			block("standard_not_in_force", "task 15", "China %s does not meet China %s, required for new registrations since %s (%s)",
				v.EmissionStandard, min.Minimum, min.From.Format(time.DateOnly), min.Source)
		}
		if po.Listed {
			block("phase_out_listed", "task 13", "%s: may not be newly registered", po.Reason)
		}
	case ForInspectionMark:
		if in.Existing == nil {
			block("unknown_vehicle", "task 15", "the VIN is not in the registry: register the vehicle first")
		}
		switch r := in.Report; {
		case r == nil:
			block("no_inspection_report", "task 15", "no emission inspection report was presented: no inspection mark without a passing report")
		case r.Result != "pass":
			block("inspection_failed", "task 15", "emission inspection report %s from station %s did not pass", r.ReportID, r.StationID)
		case r.InspectedOn.After(in.Day):
			block("inspection_in_future", "task 15", "emission inspection report %s is dated after today", r.ReportID)
		case in.Day.Sub(r.InspectedOn) > time.Duration(p.InspectionValidDays)*24*time.Hour:
			block("inspection_expired", "task 15", "emission inspection report %s is from %s, older than %d days", r.ReportID, r.InspectedOn.Format(time.DateOnly), p.InspectionValidDays)
		}
		if po.Listed && po.Overdue {
			block("phase_out_overdue", "task 13", "%s: the deadline %s has passed", po.Reason, po.Deadline.Format(time.DateOnly))
		} else if po.Listed {
			warn("phase_out_listed", "task 13", "%s: to be phased out by %s", po.Reason, po.Deadline.Format(time.DateOnly))
		}
	}
	for _, r := range reasons {
		if r.Blocking {
			return Refused, reasons, po
		}
	}
	return Approved, reasons, po
}
