package permit

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/emission"
)

// Standard is a China emission standard (国一..国六b) as the registry reports it.
type Standard string

// Rank orders standards: higher is stricter; VI and VIa rank the same; 0 for an unknown one
// (libs/emission).
func (s Standard) Rank() int { return emission.Rank(string(s)) }

// Policy is the construction bureau's permit policy: data, not code. DefaultPolicy documents
// each default (docs/muck.md).
type Policy struct {
	// NewEnergyFrom: a truck first registered after this day is "newly added" and must be
	// new-energy (task 18: 新增渣土运输车辆必须为新能源车辆).
	NewEnergyFrom time.Time
	// MinimumStandard is the emission standard a truck that is not new-energy must meet
	// (task 18: 符合环保尾气排放标准).
	MinimumStandard Standard
	// RequireClean refuses a permit while the plate has an open remote-sensing case or an OBD
	// alarm (read from those services' summary parts).
	RequireClean bool
	// RevokeOn lists the violation kinds that revoke the truck's permits at once (task 18:
	// 不符合要求上路行驶的渣土车辆，一经查处取消渣土运输资格).
	RevokeOn []ViolationKind
	// MaxPermitDays bounds a permit's validity.
	MaxPermitDays int
	// RecentViolationDays is how far back the summary's recent violations reach.
	RecentViolationDays int
}

// DefaultPolicy is the policy in force unless configured otherwise:
//   - new-energy required for trucks first registered after 2018-10-26, the day the action plan
//     was issued (a rule cannot reach back to trucks registered before it existed);
//   - China V at least for every other truck (China IV and older diesel trucks are on the
//     phase-out lists, and China V is the weakest standard still admitted for heavy trucks);
//   - remote-sensing and OBD checks off until the bureau turns them on;
//   - revocation on leaky_cover (a truck not fully enclosed on the road does not meet the rules)
//     and unauthorised_dumping (not dumping at the named site); muddy wheels are the site's
//     failure and are traced back to it; off_route and outside_hours are the police's to
//     penalise under the pass; no_permit has no permit to revoke;
//   - a permit valid for at most 366 days; recent violations: 90 days.
func DefaultPolicy() Policy {
	return Policy{
		NewEnergyFrom:       time.Date(2018, 10, 26, 0, 0, 0, 0, time.UTC),
		MinimumStandard:     "V",
		RevokeOn:            []ViolationKind{LeakyCover, UnauthorisedDumping},
		MaxPermitDays:       366,
		RecentViolationDays: 90,
	}
}

// Revokes reports whether a violation of kind k revokes the truck's permits.
func (p Policy) Revokes(k ViolationKind) bool { return slices.Contains(p.RevokeOn, k) }

// Validate checks a configured policy.
func (p Policy) Validate() error {
	if p.MinimumStandard.Rank() == 0 {
		return fmt.Errorf("minimum emission standard %q is not one of I, II, III, IV, V, VI, VIa, VIb", p.MinimumStandard)
	}
	for _, k := range p.RevokeOn {
		if !slices.Contains(ViolationKinds, k) {
			return fmt.Errorf("revoking violation kind %q is not one of %s", k, kindNames())
		}
	}
	if p.MaxPermitDays < 1 {
		return fmt.Errorf("maximum permit validity must be at least one day")
	}
	if p.RecentViolationDays < 1 {
		return fmt.Errorf("recent violation window must be at least one day")
	}
	return nil
}

func kindNames() string {
	names := make([]string, len(ViolationKinds))
	for i, k := range ViolationKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
