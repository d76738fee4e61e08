// Package verdict is the checkpoint's core: it turns the parts the owning services keep for a
// plate (registry, remote sensing, OBD, muck) and the heavy-pollution alerts in force into one
// answer for the officer — pass, inspect or stop — with every reason, its source and how fresh
// it is. A part that is missing and could not be fetched is unknown, never clean: the verdict is
// then at least "inspect".
package verdict

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/emission"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/summary"
)

// Verdict is the officer's answer.
type Verdict string

// Verdicts, mildest first.
const (
	Pass    Verdict = "pass"
	Inspect Verdict = "inspect"
	Stop    Verdict = "stop"
)

func (v Verdict) weight() int { return slices.Index([]Verdict{"info", Pass, Inspect, Stop}, v) }

// Info marks a reason that informs without changing the verdict.
const Info Verdict = "info"

// Reason is one finding behind a verdict.
type Reason struct {
	Code     string
	Message  string
	Source   summary.Part // the owning service; "checkpoint" for alerts and the lookup itself
	Rule     string       // clause of the action plan
	Severity Verdict      // stop, inspect or info
}

// SourceCheckpoint marks reasons the checkpoint itself found (alerts, unknown parts).
const SourceCheckpoint summary.Part = "checkpoint"

// PartState says where a part came from.
type PartState string

// Part states.
const (
	Cached   PartState = "cached"    // read from Redis
	Fetched  PartState = "fetched"   // missing or stale in Redis, asked of the owner
	Unknown  PartState = "unknown"   // missing and the owner did not answer
	Skipped  PartState = "skipped"   // does not apply to this vehicle
	NotFound PartState = "not_found" // the owner does not know the plate (registry only)
)

// PartInfo is a part's provenance, shown with the verdict.
type PartInfo struct {
	Part      summary.Part
	State     PartState
	UpdatedAt time.Time
}

// Input is everything a verdict is decided on.
type Input struct {
	At       time.Time
	Position *geo.Point
	Loc      *time.Location
	// The parts; nil when missing, not applicable, or unknown (see States).
	Registry *summary.Vehicle
	RS       *summary.RemoteSensingStatus
	OBD      *summary.Truck
	Muck     *summary.MuckStatus
	States   map[summary.Part]PartState
	Alerts   []Alert
}

// Decide applies the rules. It is a pure function of its input.
func Decide(in Input) (Verdict, []Reason) {
	var rs []Reason
	add := func(sev Verdict, src summary.Part, rule, code, format string, args ...any) {
		rs = append(rs, Reason{Code: code, Message: fmt.Sprintf(format, args...), Source: src, Rule: rule, Severity: sev})
	}
	for _, p := range []summary.Part{summary.Registry, summary.RemoteSensing, summary.OBD, summary.Muck} {
		if in.States[p] == Unknown {
			add(Inspect, p, "", "part_unknown", "the %s service did not answer: its part of the verdict is unknown, not clean", p)
		}
	}
	v := in.Registry
	switch {
	case in.States[summary.Registry] == NotFound:
		add(Inspect, summary.Registry, "task 15", "unknown_vehicle", "the plate is not in the vehicle registry")
	case v != nil:
		registryReasons(v, in.At, add)
	}
	if in.RS != nil {
		for _, c := range in.RS.OpenCases {
			add(Inspect, summary.RemoteSensing, "task 15", "open_remote_sensing_case",
				"open remote-sensing case %s: %s exceeded twice in the inspection cycle, %s since %s", c.ID, c.Pollutant, c.State, c.StateSince.Format(time.DateOnly))
		}
	}
	if in.OBD != nil && v != nil {
		obdReasons(in.OBD, in.At, add)
	}
	if in.Muck != nil && v != nil && muckApplies(v, in.Muck) {
		muckReasons(in.Muck, in.At, in.Position, in.Loc, add)
	}
	if v != nil {
		alertReasons(v, in, add)
	}
	verdict := Pass
	for _, r := range rs {
		if r.Severity.weight() > verdict.weight() {
			verdict = r.Severity
		}
	}
	if rs == nil {
		rs = []Reason{}
	}
	return verdict, rs
}

type adder func(sev Verdict, src summary.Part, rule, code, format string, args ...any)

func registryReasons(v *summary.Vehicle, at time.Time, add adder) {
	switch v.Status {
	case "scrapped":
		add(Stop, summary.Registry, "task 13", "scrapped", "the vehicle is recorded as scrapped: it may not be on the road")
	case "deregistered":
		add(Stop, summary.Registry, "task 13", "deregistered", "the vehicle's registration was cancelled: it may not be on the road")
	case "plate_void":
		add(Stop, summary.Registry, "task 13", "plate_void", "the plate was declared void (past forced scrappage, not deregistered)")
	}
	if v.Status == "active" && v.ScrapDue != "" {
		if due, err := time.Parse(time.DateOnly, v.ScrapDue); err == nil && at.After(due) {
			add(Stop, summary.Registry, "task 13", "past_forced_scrappage", "the vehicle reached forced scrappage on %s", v.ScrapDue)
		}
	}
	if po := v.PhaseOut; po.Listed {
		overdue := po.Overdue
		if due, err := time.Parse(time.DateOnly, po.Deadline); err == nil {
			overdue = at.After(due)
		}
		if overdue {
			add(Inspect, summary.Registry, "task 13", "phase_out_overdue", "%s; the phase-out deadline %s has passed", po.Reason, po.Deadline)
		} else {
			add(Info, summary.Registry, "task 13", "phase_out_listed", "%s; to be phased out by %s", po.Reason, po.Deadline)
		}
	}
}

// tamper alarms are the ones the bureau must clear before the truck runs again.
var tamper = []string{"tamper_nox_flatline", "tamper_out_of_range", "tamper_position_jump", "tamper_removal_alarm"}

func obdReasons(t *summary.Truck, at time.Time, add adder) {
	for _, a := range t.OpenAlarms {
		sev := Inspect
		if slices.Contains(tamper, a.Kind) {
			sev = Stop
		}
		if a.Unsigned {
			add(sev, summary.OBD, "task 15", "obd_"+a.Kind, "OBD alarm since %s: %s (on unsigned telemetry: no signature proves the terminal sent it)",
				localtime.Format(a.OpenedAt), a.Message)
			continue
		}
		add(sev, summary.OBD, "task 15", "obd_"+a.Kind, "OBD alarm since %s: %s", localtime.Format(a.OpenedAt), a.Message)
	}
	if t.VIN != "" && !t.LastArrivalAt.IsZero() && t.OfflineAfterSeconds > 0 &&
		at.Sub(t.LastArrivalAt) > time.Duration(t.OfflineAfterSeconds)*time.Second && !hasAlarm(t, "offline_while_moving") {
		add(Info, summary.OBD, "task 15", "obd_terminal_silent", "the OBD terminal last reported at %s", localtime.Format(t.LastArrivalAt))
	}
}

func hasAlarm(t *summary.Truck, kind string) bool {
	for _, a := range t.OpenAlarms {
		if a.Kind == kind {
			return true
		}
	}
	return false
}

// muckApplies: a muck truck by registration, or a truck with permit records.
func muckApplies(v *summary.Vehicle, m *summary.MuckStatus) bool {
	return v.ServiceClass == "muck" || len(m.Permits) > 0
}

func muckReasons(m *summary.MuckStatus, at time.Time, pos *geo.Point, loc *time.Location, add adder) {
	valid := map[string]bool{}
	for _, p := range m.Permits {
		if p.State == "approved" && !at.Before(p.ValidFrom) && at.Before(p.ValidTo) {
			valid[p.PermitID] = true
		}
	}
	if len(valid) == 0 {
		add(Stop, summary.Muck, "task 18", "muck_no_valid_permit", "muck truck without a valid transport permit (permit state: %s)", m.PermitState)
	}
	for _, vio := range m.RecentViolations {
		add(Info, summary.Muck, "task 18", "muck_violation", "violation %s (%s) on %s", vio.ViolationID, vio.Kind, vio.ObservedAt.Format(time.DateOnly))
	}
	if pos == nil || len(valid) == 0 {
		return
	}
	var why []string
	for _, ps := range m.Passes {
		zone, err := geo.Parse(ps.Zone)
		if err != nil || !zone.Contains(*pos) {
			continue
		}
		h, err := localtime.ParseHours(ps.Hours.From, ps.Hours.To)
		switch {
		case err != nil:
			why = append(why, fmt.Sprintf("pass %s has unreadable hours", ps.PassID))
		case at.Before(ps.ValidFrom) || !at.Before(ps.ValidTo):
			why = append(why, fmt.Sprintf("pass %s is not valid now", ps.PassID))
		case !h.Contains(at, loc):
			why = append(why, fmt.Sprintf("pass %s allows %s local time only", ps.PassID, h))
		case !valid[ps.PermitID]:
			why = append(why, fmt.Sprintf("pass %s belongs to permit %s, not valid now", ps.PassID, ps.PermitID))
		default:
			return // inside a valid pass's zone, in its hours, on a valid permit
		}
	}
	if len(why) == 0 {
		add(Inspect, summary.Muck, "task 18", "muck_outside_pass_zone", "muck truck outside the zone of every restricted-road pass it holds")
		return
	}
	add(Inspect, summary.Muck, "task 18", "muck_outside_pass_hours", "muck truck in a pass zone but not allowed now: %s", strings.Join(why, "; "))
}

func classes(v *summary.Vehicle) []Class {
	out := []Class{AnyFuel}
	if v.Heavy && v.FuelType == "diesel" {
		out = append(out, HeavyDiesel)
	}
	if v.ServiceClass == "muck" {
		out = append(out, BulkMaterial)
	}
	return out
}

func alertReasons(v *summary.Vehicle, in Input, add adder) {
	if v.NewEnergy {
		return
	}
	mine := classes(v)
	for _, a := range in.Alerts {
		if !a.ActiveAt(in.At) {
			continue
		}
		for _, r := range a.Restrictions {
			if !slices.Contains(mine, r.Class) {
				continue
			}
			if r.MaxStandard != "" && (emission.Rank(v.EmissionStandard) == 0 || emission.Rank(v.EmissionStandard) > emission.Rank(r.MaxStandard)) {
				continue
			}
			if r.Hours != nil && !r.Hours.Contains(in.At, in.Loc) {
				continue
			}
			what := string(r.Class)
			if r.MaxStandard != "" {
				what += " of China " + r.MaxStandard + " and below"
			}
			where := "the district"
			if r.ZoneName != "" {
				where = r.ZoneName
			}
			switch {
			case r.Zone == nil:
			case in.Position == nil:
				add(Inspect, SourceCheckpoint, "task 27", "alert_zone_unknown_position",
					"%s alert %s restricts %s in %s; the checkpoint's position was not given", a.Level, a.ID, what, where)
				continue
			case !r.Zone.Contains(*in.Position):
				continue
			}
			add(Stop, SourceCheckpoint, "task 28", "restricted_by_alert",
				"%s heavy-pollution alert %s (until %s): %s may not enter %s", a.Level, a.ID, localtime.Format(a.EndsAt), what, where)
		}
	}
}
