package permit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// RulesError refuses a step because the truck no longer meets the permit rules; it lists every
// reason and is a conflict with the permit's state.
type RulesError struct {
	Reasons []Reason
}

// Error lists every reason.
func (e *RulesError) Error() string {
	msgs := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		msgs[i] = r.Code + ": " + r.Message
	}
	return "the truck does not meet the permit rules: " + strings.Join(msgs, "; ")
}

// Is makes a RulesError an apperr.ErrConflict.
func (e *RulesError) Is(target error) bool { return target == apperr.ErrConflict }

// canSeeFleet reports whether p may read a record of fleet: fleets only their own.
func canSeeFleet(p auth.Principal, fleet string) bool {
	switch p.Role {
	case auth.Admin, auth.Bureau, auth.Police, auth.Construction:
		return true
	case auth.Fleet:
		return fleet != "" && fleet == p.Tenant
	}
	return false
}

// applicationFingerprint digests a normalised application.
func applicationFingerprint(a Application) string {
	a.ValidFrom, a.ValidTo = a.ValidFrom.UTC(), a.ValidTo.UTC()
	return fingerprint(a)
}

func (s *Service) validateApplication(a *Application, now time.Time) error {
	var ve apperr.ValidationError
	if a.PermitID != "" {
		checkID(&ve, "permit_id", a.PermitID)
	}
	if vin, err := vehicleid.NormaliseVIN(a.VIN); err != nil {
		ve.Add("vin", err.Error())
	} else {
		a.VIN = vin
	}
	a.FromSite = required(&ve, "from_site", a.FromSite, "the construction site the loads come from")
	a.ToSite = required(&ve, "to_site", a.ToSite, "the disposal site the loads go to")
	switch {
	case a.ValidFrom.IsZero():
		ve.Add("valid_from", "required: an RFC 3339 time")
	case a.ValidTo.IsZero():
		ve.Add("valid_to", "required: an RFC 3339 time")
	case !a.ValidTo.After(a.ValidFrom):
		ve.Add("valid_to", "must be after valid_from")
	case !a.ValidTo.After(now):
		ve.Add("valid_to", "must be in the future")
	case a.ValidTo.Sub(a.ValidFrom) > time.Duration(s.policy.MaxPermitDays)*24*time.Hour:
		ve.Add("valid_to", fmt.Sprintf("a permit is valid for at most %d days", s.policy.MaxPermitDays))
	}
	a.ValidFrom, a.ValidTo = a.ValidFrom.UTC(), a.ValidTo.UTC()
	return ve.Err()
}

// checkSites verifies that from is a construction site and to a disposal site.
func (s *Service) checkSites(ctx context.Context, from, to string) error {
	var ve apperr.ValidationError
	for _, c := range []struct {
		field, id string
		kind      SiteKind
	}{{"from_site", from, Construction}, {"to_site", to, Disposal}} {
		site, err := s.sites.GetSite(ctx, c.id)
		switch {
		case errors.Is(err, ErrSiteNotFound):
			ve.Add(c.field, fmt.Sprintf("no site %q on the site list", c.id))
		case err != nil:
			return err
		case site.Kind != c.kind:
			ve.Add(c.field, fmt.Sprintf("site %q is a %s site, not a %s site", c.id, site.Kind, c.kind))
		}
	}
	return ve.Err()
}

// vehicleOf asks the registry about vin for p: a fleet only about its own trucks. An unknown
// truck and another fleet's truck get the same answer.
func (s *Service) vehicleOf(ctx context.Context, p auth.Principal, vin string) (summary.Vehicle, error) {
	v, err := s.vehicles.ByVIN(ctx, vin)
	if errors.Is(err, apperr.ErrNotFound) || (err == nil && p.Role == auth.Fleet && v.FleetID != p.Tenant) {
		if p.Role == auth.Fleet {
			return summary.Vehicle{}, apperr.Invalid("vin", "no vehicle of your fleet has this VIN in the registry")
		}
		return summary.Vehicle{}, apperr.Invalid("vin", "no vehicle has this VIN in the registry")
	}
	if err != nil {
		return summary.Vehicle{}, fmt.Errorf("ask the registry about %s: %w", vin, err)
	}
	return v, nil
}

// check runs the permit rules for a (and the signals when the policy asks), in a span.
func (s *Service) check(ctx context.Context, a Application, v summary.Vehicle, now time.Time) ([]Reason, error) {
	ctx, span := s.tracer.Start(ctx, "muck.check_permit_rules", trace.WithAttributes(
		attribute.String("clearsky.vehicle.vin", a.VIN), attribute.String("clearsky.permit.id", a.PermitID)))
	defer span.End()
	in := CheckInput{Application: a, Vehicle: v, Now: now}
	if s.policy.RequireClean {
		sig, err := s.signals.Signals(ctx, vehicleid.Key(v.Plate, vehicleid.Colour(v.PlateColour)))
		if err != nil {
			return nil, fmt.Errorf("read remote-sensing and OBD findings: %w", err)
		}
		in.Signals = sig
	}
	reasons := Check(in, s.policy)
	span.SetAttributes(attribute.Int("clearsky.permit.findings", len(reasons)))
	return reasons, nil
}

// FleetPermitID is the id of the permit a fleet applies for under its own permit_id: the
// fleet's tenant, a colon, and the id it chose. Client ids cannot hold a colon, so each fleet
// has its own id space: a fleet's id can neither clash with nor reveal another fleet's permit.
func FleetPermitID(fleet, clientID string) string { return fleet + ":" + clientID }

// Apply files a transport company's application for one of its trucks. The permit rules are
// checked at once: a truck that meets them is pending the construction bureau's decision, one
// that does not is refused with every reason. A permit_id the fleet chooses is its own
// (FleetPermitID); a retry under the same permit_id with the same content answers the stored
// permit (created false), other content is ErrExists.
func (s *Service) Apply(ctx context.Context, p auth.Principal, a Application) (Permit, bool, error) {
	if !p.Is(auth.Fleet) {
		return Permit{}, false, forbidden("role %s may not apply for permits; a transport company applies for its trucks", p.Role)
	}
	now := s.now().UTC()
	if err := s.validateApplication(&a, now); err != nil {
		return Permit{}, false, err
	}
	clientID := a.PermitID != ""
	if clientID {
		a.PermitID = FleetPermitID(p.Tenant, a.PermitID)
	} else {
		a.PermitID = newID("pmt")
	}
	fp := applicationFingerprint(a)
	fpOf := func(x Permit) string { return x.Fingerprint }
	if clientID {
		got, ok, err := idempotent(ctx, s.permits.GetPermit, fpOf, a.PermitID, fp)
		if ok || (err != nil && !errors.Is(err, ErrPermitNotFound)) {
			if ok && !canSeeFleet(p, got.FleetID) {
				return Permit{}, false, ErrExists
			}
			return got, false, err
		}
	}
	if err := s.checkSites(ctx, a.FromSite, a.ToSite); err != nil {
		return Permit{}, false, err
	}
	v, err := s.vehicleOf(ctx, p, a.VIN)
	if err != nil {
		return Permit{}, false, err
	}
	findings, err := s.check(ctx, a, v, now)
	if err != nil {
		return Permit{}, false, err
	}
	pm := Permit{ID: a.PermitID, VIN: a.VIN, Plate: v.Plate, PlateColour: vehicleid.Colour(v.PlateColour), FleetID: v.FleetID,
		FromSite: a.FromSite, ToSite: a.ToSite, ValidFrom: a.ValidFrom, ValidTo: a.ValidTo, Enclosed: a.Enclosed, GPS: a.GPS, Video: a.Video,
		State: Pending, Findings: findings, Fingerprint: fp, CreatedAt: now, UpdatedAt: now, Version: 1}
	ev := Event{Action: Apply, To: Pending, At: now, By: p.Subject, Role: p.Role}
	if len(findings) > 0 {
		pm.State, ev.To = Refused, Refused
		pm.StateReason = "refused by the permit rules: " + codesOf(findings)
		ev.Reason = pm.StateReason
	}
	pm.History = []Event{ev}
	if err := s.permits.InsertPermit(ctx, pm); errors.Is(err, ErrDuplicateID) {
		got, _, err := idempotent(ctx, s.permits.GetPermit, fpOf, pm.ID, fp)
		return got, false, err
	} else if err != nil {
		return Permit{}, false, err
	}
	s.publish(ctx, pm.Plate, pm.PlateColour, Ref{Coll: PermitRecords, ID: pm.ID, Version: pm.Version, PlateKey: pm.PlateKey()})
	return pm, true, nil
}

func codesOf(rs []Reason) string {
	codes := make([]string, len(rs))
	for i, r := range rs {
		codes[i] = r.Code
	}
	return strings.Join(codes, ", ")
}

// GetPermit returns a permit the caller may see; another fleet's permit is not found.
func (s *Service) GetPermit(ctx context.Context, p auth.Principal, id string) (Permit, error) {
	if !p.Is(auth.Fleet, auth.Construction, auth.Bureau, auth.Police, auth.Admin) {
		return Permit{}, forbidden("role %s may not read permits", p.Role)
	}
	pm, err := s.permits.GetPermit(ctx, id)
	if err != nil {
		return Permit{}, err
	}
	if !canSeeFleet(p, pm.FleetID) {
		return Permit{}, ErrPermitNotFound
	}
	return pm, nil
}

// ListPermits returns a page of the permits the caller may see; a fleet's filter is pinned to
// itself.
func (s *Service) ListPermits(ctx context.Context, p auth.Principal, f PermitFilter, afterID string, limit int) ([]Permit, string, error) {
	switch {
	case p.Role == auth.Fleet:
		if f.FleetID != "" && f.FleetID != p.Tenant {
			return nil, "", forbidden("a fleet lists only its own permits")
		}
		f.FleetID = p.Tenant
	case p.Is(auth.Construction, auth.Bureau, auth.Police, auth.Admin):
	default:
		return nil, "", forbidden("role %s may not read permits", p.Role)
	}
	var ve apperr.ValidationError
	if f.VIN != "" {
		vin, err := vehicleid.NormaliseVIN(f.VIN)
		if err != nil {
			ve.Add("vin", err.Error())
		}
		f.VIN = vin
	}
	switch f.State {
	case "", Pending, Approved, Refused, Suspended, Revoked, Expired:
	default:
		ve.Add("state", "must be pending, approved, refused, suspended, revoked or expired")
	}
	if err := ve.Err(); err != nil {
		return nil, "", err
	}
	out, err := s.permits.ListPermits(ctx, f, afterID, limit+1)
	if err != nil {
		return nil, "", err
	}
	return page(out, limit, func(x Permit) string { return x.ID })
}

// Act takes a lifecycle step on a permit: the construction bureau whose site the loads come from
// approves, refuses, suspends, resumes and revokes; the bureau reinstates a revoked permit when it upholds an appeal. Steps
// that lead to approved check the permit rules again first. Refusals, suspensions, revocations
// and reinstatements need a reason. Each step is appended to the permit's history.
func (s *Service) Act(ctx context.Context, p auth.Principal, id string, a Action, reason string) (Permit, error) {
	if !MayTake(a, p.Role) || a == Expire {
		return Permit{}, forbidden("role %s may not %s permits", p.Role, a)
	}
	pm, err := s.permits.GetPermit(ctx, id)
	if err != nil {
		return Permit{}, err
	}
	if p.Role == auth.Construction {
		if err := s.checkAuthority(ctx, p, pm); err != nil {
			return Permit{}, err
		}
	}
	now := s.now().UTC()
	reason = strings.TrimSpace(reason)
	st, err := Next(pm.StateAt(now), a, p.Role)
	if err != nil {
		return Permit{}, conflict("permit %s: %v", pm.ID, err)
	}
	if st.NeedReason && reason == "" {
		return Permit{}, apperr.Invalid("reason", fmt.Sprintf("say why the permit is %s", pastTense(a)))
	}
	var findings []Reason
	if st.Recheck {
		if !now.Before(pm.ValidTo) {
			return Permit{}, conflict("permit %s: its validity ended at %s", pm.ID, localtime.Format(pm.ValidTo))
		}
		v, err := s.vehicles.ByVIN(ctx, pm.VIN)
		if errors.Is(err, apperr.ErrNotFound) {
			return Permit{}, &RulesError{Reasons: []Reason{{Code: "not_in_registry", Rule: "task 18", Message: "the registry no longer knows this truck"}}}
		} else if err != nil {
			return Permit{}, fmt.Errorf("ask the registry about %s: %w", pm.VIN, err)
		}
		app := Application{PermitID: pm.ID, VIN: pm.VIN, Enclosed: pm.Enclosed, GPS: pm.GPS, Video: pm.Video}
		if findings, err = s.check(ctx, app, v, now); err != nil {
			return Permit{}, err
		}
		if len(findings) > 0 {
			return Permit{}, &RulesError{Reasons: findings}
		}
		findings = []Reason{}
	}
	if reason == "" {
		reason = pastTense(a) // approving and resuming need no words
	}
	c := StepChange{ID: pm.ID, PlateKey: pm.PlateKey(), FromState: pm.State, FromVersion: pm.Version, To: st.To, Reason: reason, Findings: findings,
		Event: Event{Action: a, From: pm.StateAt(now), To: st.To, At: now, By: p.Subject, Role: p.Role, Reason: reason}}
	c.Outgoing = s.stepEvents(ctx, pm, c.Event)
	return s.step(ctx, c)
}

// stepTypes are the permit steps that are domain events.
var stepTypes = map[Action]events.Type{Approve: events.MuckPermitApproved, Refuse: events.MuckPermitRefused,
	Suspend: events.MuckPermitSuspend, Revoke: events.MuckPermitRevoked}

// stepEvents are the domain events of a permit step: they concern the fleet and the
// construction bureau that is the authority of the permit's origin site; a suspension or a
// revocation concerns the police too (the truck is stopped at checkpoints).
func (s *Service) stepEvents(ctx context.Context, pm Permit, e Event) []events.Draft {
	t, ok := stepTypes[e.Action]
	if !ok {
		return nil
	}
	orgs := []string{pm.FleetID}
	if site, err := s.sites.GetSite(ctx, pm.FromSite); err == nil {
		orgs = append(orgs, site.Authority)
	}
	var roles []auth.Role
	if e.Action == Suspend || e.Action == Revoke {
		roles = []auth.Role{auth.Police}
	}
	data := map[string]any{"vin": pm.VIN, "plate": pm.Plate, "from": string(e.From), "to": string(e.To), "from_site": pm.FromSite}
	if e.Reason != "" {
		data["reason"] = e.Reason
	}
	if e.ViolationID != "" {
		data["violation_id"] = e.ViolationID
	}
	return []events.Draft{{Type: t, At: e.At, Subject: pm.ID, Link: "/v1/muck/permits/" + pm.ID, Organisations: orgs, Roles: roles, Data: data}}
}

// checkAuthority refuses a construction bureau that is not the authority of the permit's
// construction site: a permit is decided only by the bureau the site the loads come from
// belongs to (the tenant that registered it). Every construction bureau still reads every
// permit (one district, docs/muck.md), so the refusal reveals nothing it could not read.
func (s *Service) checkAuthority(ctx context.Context, p auth.Principal, pm Permit) error {
	site, err := s.sites.GetSite(ctx, pm.FromSite)
	switch {
	case errors.Is(err, ErrSiteNotFound):
		return forbidden("permit %s hauls from site %s, which is not on the site list: no construction bureau decides it", pm.ID, pm.FromSite)
	case err != nil:
		return err
	case site.Authority == "":
		return forbidden("site %s has no recorded authority: no construction bureau decides permit %s", site.ID, pm.ID)
	case site.Authority != p.Tenant:
		return forbidden("permit %s hauls from site %s, which construction bureau %s decides, not %s", pm.ID, site.ID, site.Authority, p.Tenant)
	}
	return nil
}

// step writes a state change and publishes the plate's summary.
func (s *Service) step(ctx context.Context, c StepChange) (Permit, error) {
	out, err := s.permits.Step(ctx, c)
	if err != nil {
		return Permit{}, err
	}
	s.log.InfoContext(ctx, "permit_state_changed", "permit_id", out.ID, "vin", out.VIN, "action", string(c.Event.Action),
		"from", string(c.Event.From), "to", string(out.State), "by", c.Event.By)
	s.publish(ctx, out.Plate, out.PlateColour, Ref{Coll: PermitRecords, ID: out.ID, Version: out.Version, PlateKey: out.PlateKey()})
	return out, nil
}
