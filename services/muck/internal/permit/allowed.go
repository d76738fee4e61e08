package permit

import (
	"fmt"
	"time"

	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/localtime"
)

// Verdict answers "may this truck be here now?".
type Verdict struct {
	Allowed  bool
	Reasons  []Reason // every failing condition when not allowed
	PermitID string   // the permit and pass that allow it, when allowed
	PassID   string
}

// AllowedInput is what the allowed-here rule looks at.
type AllowedInput struct {
	At    time.Time
	Point geo.Point
	// Permits are all the truck's permits.
	Permits []Permit
	// Candidates are the truck's passes whose zone's bounding box holds Point (the store
	// pre-filters by box; the polygon test is made here).
	Candidates []Pass
	// HasPasses tells whether the truck has any pass at all, to tell "no pass" from "outside
	// every zone" when no candidate contains the point.
	HasPasses bool
	Loc       *time.Location
}

// Allowed decides whether a truck may be at a point at a time: only inside the zone of one of
// its passes, during that pass's hours, within the pass's validity, on a permit valid at that
// time. When it may not, every failing condition is listed: the permit's, then the zone's, then
// those of the pass that came closest (fewest failures) among the passes whose zone holds the
// point.
func Allowed(in AllowedInput) Verdict {
	var reasons []Reason
	valid := map[string]bool{}
	for _, p := range in.Permits {
		if p.ValidAt(in.At) {
			valid[p.ID] = true
		}
	}
	if len(valid) == 0 {
		reasons = append(reasons, permitReason(in.Permits, in.At))
	}
	var inside []Pass
	for _, ps := range in.Candidates {
		if ps.Zone.Contains(in.Point) {
			inside = append(inside, ps)
		}
	}
	if len(inside) == 0 {
		if in.HasPasses {
			reasons = append(reasons, Reason{Code: "outside_zone", Rule: "task 18",
				Message: fmt.Sprintf("(%v, %v) is outside the zone of every restricted-road pass of this truck", in.Point.Lat, in.Point.Lon)})
		} else {
			reasons = append(reasons, Reason{Code: "no_pass", Rule: "task 18", Message: "the truck has no restricted-road pass"})
		}
		return Verdict{Reasons: reasons}
	}
	var best []Reason
	for i, ps := range inside {
		fails := passFailures(ps, in, valid)
		if len(fails) == 0 && len(valid) > 0 {
			return Verdict{Allowed: true, Reasons: []Reason{}, PermitID: ps.PermitID, PassID: ps.ID}
		}
		if i == 0 || len(fails) < len(best) {
			best = fails
		}
	}
	return Verdict{Reasons: append(reasons, best...)}
}

func passFailures(ps Pass, in AllowedInput, valid map[string]bool) []Reason {
	var out []Reason
	add := func(code, format string, args ...any) {
		out = append(out, Reason{Code: code, Rule: "task 18", Message: fmt.Sprintf(format, args...)})
	}
	local := localtime.Format
	switch {
	case ps.Cancelled:
		add("pass_cancelled", "pass %s was cancelled: %s", ps.ID, ps.CancelReason)
	case in.At.Before(ps.ValidFrom):
		add("pass_not_yet_valid", "pass %s is valid from %s", ps.ID, local(ps.ValidFrom))
	case !in.At.Before(ps.ValidTo):
		add("pass_expired", "pass %s expired at %s", ps.ID, local(ps.ValidTo))
	}
	if !ps.Hours.Contains(in.At, in.Loc) {
		add("outside_hours", "pass %s allows %s local time; it is %s", ps.ID, ps.Hours, in.At.In(in.Loc).Format("15:04"))
	}
	if len(valid) > 0 && !valid[ps.PermitID] {
		add("pass_permit_not_valid", "pass %s belongs to permit %s, which is not valid at this time", ps.ID, ps.PermitID)
	}
	return out
}

// permitReason explains why none of the permits is valid at t, from the most favourable one.
func permitReason(ps []Permit, t time.Time) Reason {
	if len(ps) == 0 {
		return Reason{Code: "no_permit", Rule: "task 18", Message: "the truck has no transport permit"}
	}
	best := ps[0]
	for _, p := range ps[1:] {
		if favour(p, t) < favour(best, t) {
			best = p
		}
	}
	st := best.StateAt(t)
	r := Reason{Rule: "task 18"}
	switch {
	case st == Approved && t.Before(best.ValidFrom):
		r.Code, r.Message = "permit_not_yet_valid", fmt.Sprintf("permit %s is valid from %s", best.ID, localtime.Format(best.ValidFrom))
	case st == Expired:
		r.Code, r.Message = "permit_expired", fmt.Sprintf("permit %s expired at %s", best.ID, localtime.Format(best.ValidTo))
	default:
		r.Code, r.Message = "permit_"+string(st), fmt.Sprintf("permit %s is %s", best.ID, st)
		if best.StateReason != "" {
			r.Message += ": " + best.StateReason
		}
	}
	return r
}

// favour ranks a permit's state at t for choosing which one to report: lower is more favourable.
func favour(p Permit, t time.Time) int {
	switch p.StateAt(t) {
	case Approved:
		return 0
	case Suspended:
		return 1
	case Pending:
		return 2
	case Revoked:
		return 3
	case Expired:
		return 4
	case Refused:
		return 5
	}
	return 6
}
