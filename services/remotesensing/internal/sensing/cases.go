package sensing

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
)

// Step is one allowed move of the enforcement loop: who may take it, from where, and what it
// must carry.
type Step struct {
	To    State
	From  []State
	Roles []auth.Role
	// NeedReason: the step must say why (a dismissal).
	NeedReason bool
	// NeedReference: the step must name its document (a penalty decision, an inspection report).
	NeedReference bool
	// NeedRepair: the case must carry a repair shop's report (the transport bureau confirms it).
	NeedRepair bool
}

// Steps is the loop (task 15; docs/remotesensing.md, "The case loop"): detected -> notified
// (bureau) -> penalised (police, with the penalty decision number) -> repaired (the transport
// bureau confirms a repair shop's report) -> retested (the bureau enters a passing inspection
// report; a passing remote-sensing reading does it automatically) -> closed (bureau); or
// dismissed with a reason (bureau) from any open state. No step skips another. The platform admin takes no step: every
// step is an enforcement act of its own authority.
var Steps = []Step{
	{To: Notified, From: []State{Detected}, Roles: []auth.Role{auth.Bureau}},
	{To: Penalised, From: []State{Notified}, Roles: []auth.Role{auth.Police}, NeedReference: true},
	{To: Repaired, From: []State{Penalised}, Roles: []auth.Role{auth.Transport}, NeedRepair: true},
	{To: Retested, From: []State{Repaired}, Roles: []auth.Role{auth.Bureau}, NeedReference: true},
	{To: Closed, From: []State{Retested}, Roles: []auth.Role{auth.Bureau}},
	{To: Dismissed, From: OpenStates, Roles: []auth.Role{auth.Bureau}, NeedReason: true},
}

// StepTo returns the step that leads to s.
func StepTo(s State) (Step, bool) {
	for _, st := range Steps {
		if st.To == s {
			return st, true
		}
	}
	return Step{}, false
}

// Move is a step asked for.
type Move struct {
	To        State
	Reason    string
	Reference string
}

// CheckMove decides whether role may move c as m asks: 400 for a target that is no step or a
// missing reason or reference, 403 for a role the step is not for, 409 for a step out of order
// or a repair not reported.
func CheckMove(c Case, role auth.Role, m Move) error {
	st, ok := StepTo(m.To)
	if !ok {
		names := make([]string, 0, len(Steps))
		for _, s := range Steps {
			names = append(names, string(s.To))
		}
		return apperr.Invalid("to", fmt.Sprintf("%q is not a step; one of %s", m.To, strings.Join(names, ", ")))
	}
	if !slices.Contains(st.Roles, role) {
		return fmt.Errorf("a case is moved to %s by %s only, not %s: %w", m.To, roleList(st.Roles), role, apperr.ErrForbidden)
	}
	if !c.State.Open() {
		return fmt.Errorf("case %s is %s and takes no further step: %w", c.ID, c.State, ErrOutOfOrder)
	}
	if !slices.Contains(st.From, c.State) {
		return fmt.Errorf("case %s is %s; %s comes only after %s: %w", c.ID, c.State, m.To, stateList(st.From), ErrOutOfOrder)
	}
	var ve apperr.ValidationError
	if st.NeedReason && strings.TrimSpace(m.Reason) == "" {
		ve.Add("reason", "required: say why the case is "+string(m.To))
	}
	if st.NeedReference && strings.TrimSpace(m.Reference) == "" {
		ve.Add("reference", "required: the number of the "+referenceOf(m.To))
	}
	if err := ve.Err(); err != nil {
		return err
	}
	if st.NeedRepair && c.Repair == nil {
		return fmt.Errorf("case %s has no repair report: a repair shop reports the repair before the transport bureau confirms it: %w", c.ID, ErrOutOfOrder)
	}
	return nil
}

func referenceOf(s State) string {
	switch s {
	case Penalised:
		return "penalty decision"
	case Retested:
		return "inspection report"
	}
	return "document"
}

func roleList(rs []auth.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

func stateList(ss []State) string {
	s := make([]string, len(ss))
	for i, x := range ss {
		s[i] = string(x)
	}
	return strings.Join(s, " or ")
}

// Apply returns c moved as m says by p at now, with the history entry appended. It does not
// check: call CheckMove first (or, for the automatic retest, know the case is repaired).
func Apply(c Case, p auth.Principal, m Move, now time.Time) (Case, Entry) {
	e := Entry{Event: EventTransition, From: c.State, To: m.To, By: p.Subject, Role: p.Role, Tenant: p.Tenant, At: now,
		Reason: strings.TrimSpace(m.Reason), Reference: strings.TrimSpace(m.Reference)}
	n := c
	n.History = append(slices.Clip(c.History), e)
	n.State, n.StateSince, n.UpdatedAt, n.Version = m.To, now, now, c.Version+1
	if !m.To.Open() {
		n.EndedAt = now
	}
	return n, e
}

// CheckRepairReport decides whether a repair shop may report the repair of c: only a repair
// shop, only while the case is penalised (the owner was penalised and sent to repair), and
// with the repair order number.
func CheckRepairReport(c Case, role auth.Role, r RepairReport) error {
	if role != auth.Repair {
		return fmt.Errorf("repairs are reported by repair shops only, not %s: %w", role, apperr.ErrForbidden)
	}
	if c.State != Penalised {
		return fmt.Errorf("case %s is %s; a repair is reported while the case is penalised: %w", c.ID, c.State, ErrOutOfOrder)
	}
	var ve apperr.ValidationError
	if strings.TrimSpace(r.Reference) == "" {
		ve.Add("reference", "required: the repair order number")
	}
	if len(r.Description) > 2000 {
		ve.Add("description", "at most 2000 characters")
	}
	return ve.Err()
}

// ApplyRepairReport returns c carrying the report of shop p, with the history entry appended;
// the state stays penalised until the transport bureau confirms. A later report replaces the
// earlier one on the case; both stay in the history.
func ApplyRepairReport(c Case, p auth.Principal, r RepairReport, now time.Time) (Case, Entry) {
	r.ShopID, r.ReportedAt, r.ReportedBy = p.Tenant, now, p.Subject
	r.Reference, r.Description = strings.TrimSpace(r.Reference), strings.TrimSpace(r.Description)
	e := Entry{Event: EventRepairReported, From: c.State, To: c.State, By: p.Subject, Role: p.Role, Tenant: p.Tenant, At: now,
		Reason: r.Description, Reference: r.Reference}
	n := c
	n.History = append(slices.Clip(c.History), e)
	n.Repair, n.RepairShopID, n.UpdatedAt, n.Version = &r, p.Tenant, now, c.Version+1
	return n, e
}
