package permit

import (
	"errors"
	"fmt"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/summary"
)

// Signals are the other services' open findings about a plate, consulted when the policy says
// RequireClean.
type Signals struct {
	RemoteSensingOpen bool // an open remote-sensing exceedance case
	OBDAlarm          bool // an active OBD alarm
}

// CheckInput is what the permit rules look at.
type CheckInput struct {
	Application Application
	Vehicle     summary.Vehicle // the registry's status of the truck
	Signals     Signals         // read only when the policy says RequireClean
	Now         time.Time
}

// Check applies the permit rules of task 18 and returns every reason to refuse; none means the
// truck qualifies. It is pure: the caller fetches the registry status and the signals.
func Check(in CheckInput, p Policy) []Reason {
	var out []Reason
	add := func(code, rule, format string, args ...any) {
		out = append(out, Reason{Code: code, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	v, a := in.Vehicle, in.Application
	// Newly added trucks must be new-energy.
	if !v.NewEnergy {
		reg, err := time.Parse(time.DateOnly, v.RegisteredOn)
		switch {
		case err != nil:
			add("not_new_energy", "task 18", "the registry gives no first-registration day, so the truck counts as newly added, and it is not new-energy")
		case reg.After(p.NewEnergyFrom):
			add("not_new_energy", "task 18", "first registered on %s, after %s: a newly added muck truck must be new-energy",
				v.RegisteredOn, p.NewEnergyFrom.Format(time.DateOnly))
		}
	}
	// Fully enclosed, positioned and monitored.
	if !a.Enclosed {
		add("not_enclosed", "task 18", "the truck must be fully enclosed (全密闭)")
	}
	if !a.GPS {
		add("no_gps", "task 18", "the truck must carry satellite positioning (全定位)")
	}
	if !a.Video {
		add("no_video", "task 18", "the truck must carry video monitoring (全监控)")
	}
	// Emission standard; new-energy trucks always meet it.
	if !v.NewEnergy {
		if got := Standard(v.EmissionStandard); got.Rank() < p.MinimumStandard.Rank() {
			add("emission_standard_below_minimum", "task 18; the bureau's minimum",
				"emission standard China %s is below the minimum China %s", orUnknown(v.EmissionStandard), p.MinimumStandard)
		}
	}
	// Registration valid.
	if v.Status != "active" {
		add("registration_not_active", "task 13", "the registration is %s, not active", orUnknown(v.Status))
	}
	if v.PastScrapDue || (v.ScrapDue != "" && v.ScrapDue < in.Now.UTC().Format(time.DateOnly)) {
		add("past_forced_scrappage", "task 13", "the truck is past its forced scrappage day %s", v.ScrapDue)
	}
	if v.PhaseOut.Overdue {
		add("phase_out_overdue", "task 13", "on the %s phase-out list and past its deadline %s", v.PhaseOut.List, v.PhaseOut.Deadline)
	}
	if p.RequireClean {
		if in.Signals.RemoteSensingOpen {
			add("open_remote_sensing_case", "task 15; the bureau's policy", "the plate has an open remote-sensing exceedance case")
		}
		if in.Signals.OBDAlarm {
			add("obd_alarm", "task 15; the bureau's policy", "the truck's OBD terminal reports an active alarm")
		}
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Action is a step of a permit's lifecycle.
type Action string

// Actions.
const (
	Apply     Action = "apply"
	Approve   Action = "approve"
	Refuse    Action = "refuse"
	Suspend   Action = "suspend"
	Resume    Action = "resume"
	Revoke    Action = "revoke"
	Reinstate Action = "reinstate" // the bureau upholds an appeal against a revocation
	Expire    Action = "expire"
)

// Actions lists the actions a caller may ask for by route.
var Actions = []Action{Approve, Refuse, Suspend, Resume, Revoke, Reinstate}

// step is one edge of the lifecycle.
type step struct {
	from       []State
	to         State
	roles      []auth.Role
	needReason bool
	recheck    bool // the permit rules are checked again before the step
}

// lifecycle is the permit state machine:
//
//	pending -> approved | refused
//	approved -> suspended -> approved
//	approved | suspended -> revoked -> (appeal upheld by the bureau) approved
//	approved | suspended -> expired (by time)
var lifecycle = map[Action]step{
	Approve:   {from: []State{Pending}, to: Approved, roles: []auth.Role{auth.Construction}, recheck: true},
	Refuse:    {from: []State{Pending}, to: Refused, roles: []auth.Role{auth.Construction}, needReason: true},
	Suspend:   {from: []State{Approved}, to: Suspended, roles: []auth.Role{auth.Construction}, needReason: true},
	Resume:    {from: []State{Suspended}, to: Approved, roles: []auth.Role{auth.Construction}, recheck: true},
	Revoke:    {from: []State{Approved, Suspended}, to: Revoked, roles: []auth.Role{auth.Construction}, needReason: true},
	Reinstate: {from: []State{Revoked}, to: Approved, roles: []auth.Role{auth.Bureau}, needReason: true, recheck: true},
	Expire:    {from: []State{Approved, Suspended}, to: Expired, roles: []auth.Role{auth.System}},
}

// Step is the outcome of asking for an action: where it leads and what it needs.
type Step struct {
	To         State
	NeedReason bool
	Recheck    bool
}

// ErrNotAllowed is returned by Next for a role that may not take an action.
var ErrNotAllowed = errors.New("role may not take this action")

// Next returns where action leads from state for role, or an error: ErrNotAllowed for the role,
// or a description of why the state forbids it. Each step is its own authority's decision: the
// platform admin takes none (docs/architecture.md, "Identity and authorisation").
func Next(from State, a Action, role auth.Role) (Step, error) {
	s, ok := lifecycle[a]
	if !ok {
		return Step{}, fmt.Errorf("%q is not a permit action", a)
	}
	if !containsRole(s.roles, role) {
		return Step{}, ErrNotAllowed
	}
	for _, f := range s.from {
		if f == from {
			return Step{To: s.to, NeedReason: s.needReason, Recheck: s.recheck}, nil
		}
	}
	return Step{}, fmt.Errorf("a %s permit cannot be %s", from, pastTense(a))
}

// MayTake reports whether role may ever take action (used to answer 403 before 409).
func MayTake(a Action, role auth.Role) bool {
	s, ok := lifecycle[a]
	return ok && containsRole(s.roles, role)
}

func containsRole(rs []auth.Role, r auth.Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func pastTense(a Action) string {
	switch a {
	case Approve:
		return "approved"
	case Refuse:
		return "refused"
	case Suspend:
		return "suspended"
	case Resume:
		return "resumed"
	case Revoke:
		return "revoked"
	case Reinstate:
		return "reinstated"
	case Expire:
		return "expired"
	}
	return string(a) + "d"
}
