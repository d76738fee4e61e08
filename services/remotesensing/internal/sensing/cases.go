package sensing

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
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

// CheckRepairReport decides whether repair shop p may report the repair of c: only a repair
// shop, only the one the owner chose for the case (any other shop is told the case does not
// exist: it may not see it), only while the case is penalised (the owner was penalised and sent
// to repair), and with the repair order number.
func CheckRepairReport(c Case, p auth.Principal, r RepairReport) error {
	if p.Role != auth.Repair {
		return fmt.Errorf("repairs are reported by repair shops only, not %s: %w", p.Role, apperr.ErrForbidden)
	}
	if c.RepairShopID == "" || c.RepairShopID != p.Tenant {
		return ErrCaseNotFound
	}
	if c.State != Penalised {
		return fmt.Errorf("case %s is %s; a repair is reported while the case is penalised: %w", c.ID, c.State, ErrOutOfOrder)
	}
	var ve apperr.ValidationError
	if strings.TrimSpace(r.Reference) == "" {
		ve.Add("reference", "required: the repair order number")
	}
	if utf8.RuneCountInString(r.Description) > 2000 {
		ve.Add("description", "at most 2000 characters")
	}
	return ve.Err()
}

// ApplyRepairReport returns c carrying the report of shop p, with the history entry appended;
// the state stays penalised until the transport bureau confirms. A later report of the same shop
// replaces its earlier one on the case; both stay in the history.
func ApplyRepairReport(c Case, p auth.Principal, r RepairReport, now time.Time) (Case, Entry) {
	r.ShopID, r.ReportedAt, r.ReportedBy = p.Tenant, now, p.Subject
	r.Reference, r.Description = strings.TrimSpace(r.Reference), strings.TrimSpace(r.Description)
	e := Entry{Event: EventRepairReported, From: c.State, To: c.State, By: p.Subject, Role: p.Role, Tenant: p.Tenant, At: now,
		Reason: r.Description, Reference: r.Reference, Shop: p.Tenant}
	n := c
	n.History = append(slices.Clip(c.History), e)
	n.Repair, n.UpdatedAt, n.Version = &r, now, c.Version+1
	return n, e
}

// shopPattern is a repair shop's id: its tenant id.
var shopPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ShopChoice is the owner's choice of the repair shop for a case.
type ShopChoice struct {
	ShopID string
	Note   string
}

// CheckShopChoice decides whether p may record the owner's choice of repair shop for c: the fleet
// whose vehicle it is, or, for a vehicle no fleet account manages, the transport bureau on the
// owner's word; while the case is open and not yet repaired (detected, notified or penalised).
// Another fleet is told the case does not exist.
func CheckShopChoice(c Case, p auth.Principal, ch ShopChoice) error {
	switch {
	case p.Role == auth.Fleet:
		if c.Trace.FleetID == "" || c.Trace.FleetID != p.Tenant {
			return ErrCaseNotFound
		}
	case p.Role == auth.Transport:
		if c.Trace.FleetID != "" {
			return fmt.Errorf("the vehicle of case %s is managed by fleet %s, which chooses its repair shop: %w", c.ID, c.Trace.FleetID, apperr.ErrForbidden)
		}
	default:
		return fmt.Errorf("the repair shop is the owner's choice (its fleet, or the transport bureau for an owner without a fleet account), not %s's: %w", p.Role, apperr.ErrForbidden)
	}
	if !slices.Contains([]State{Detected, Notified, Penalised}, c.State) {
		return fmt.Errorf("case %s is %s; a repair shop is chosen before the repair is confirmed: %w", c.ID, c.State, ErrOutOfOrder)
	}
	var ve apperr.ValidationError
	if !shopPattern.MatchString(strings.TrimSpace(ch.ShopID)) {
		ve.Add("shop_id", "required: the repair shop's id (its account's tenant), 1 to 64 letters, digits, '.', '_' or '-'")
	}
	if utf8.RuneCountInString(ch.Note) > 2000 {
		ve.Add("note", "at most 2000 characters")
	}
	return ve.Err()
}

// ApplyShopChoice returns c assigned to the chosen shop, with the history entry appended. A report
// by the shop chosen before stays in the history but leaves the case: the transport bureau
// confirms only a report of the shop the case is assigned to.
func ApplyShopChoice(c Case, p auth.Principal, ch ShopChoice, now time.Time) (Case, Entry) {
	shop := strings.TrimSpace(ch.ShopID)
	e := Entry{Event: EventShopChosen, From: c.State, To: c.State, By: p.Subject, Role: p.Role, Tenant: p.Tenant, At: now,
		Reason: strings.TrimSpace(ch.Note), Shop: shop}
	n := c
	n.History = append(slices.Clip(c.History), e)
	n.RepairShopID, n.UpdatedAt, n.Version = shop, now, c.Version+1
	if c.Repair != nil && c.Repair.ShopID != shop {
		n.Repair = nil
	}
	return n, e
}

// OpeningEvents are the domain events of a case's opening, which its store writes with it: the
// case concerns the vehicle's fleet and the authorities of the loop (police, transport).
func OpeningEvents(c Case) []events.Draft {
	return []events.Draft{caseEvent(events.RemoteSensingCaseOpened, c, c.OpenedAt, map[string]any{"to": string(c.State)})}
}

// StepEvents are the domain events of a step on a case (a transition, a repair shop chosen, a
// repair reported), written with it; the chosen repair shop is concerned too.
func StepEvents(c Case, e Entry) []events.Draft {
	data := map[string]any{"step": e.Event, "from": string(e.From), "to": string(e.To)}
	if e.Reason != "" {
		data["reason"] = e.Reason
	}
	if e.Reference != "" {
		data["reference"] = e.Reference
	}
	return []events.Draft{caseEvent(events.RemoteSensingCaseTransition, c, e.At, data)}
}

func caseEvent(t events.Type, c Case, at time.Time, data map[string]any) events.Draft {
	data["plate"], data["pollutant"] = c.Plate, string(c.Pollutant)
	return events.Draft{Type: t, At: at, Subject: c.ID, Link: "/v1/remote-sensing/cases/" + c.ID,
		Organisations: []string{c.Trace.FleetID, c.RepairShopID}, Roles: []auth.Role{auth.Police, auth.Transport}, Data: data}
}
