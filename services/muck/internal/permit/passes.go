package permit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/vehicleid"
)

// PassInput is a restricted-road pass as the traffic police issue it.
type PassInput struct {
	PassID    string // optional client-given id; the idempotency key
	PermitID  string
	ZoneJSON  json.RawMessage
	HoursFrom string
	HoursTo   string
	ValidFrom time.Time
	ValidTo   time.Time
	Route     string
}

// passContent is what a pass's fingerprint covers.
type passContent struct {
	PassID, PermitID, Route string
	Zone                    geo.Shape
	Hours                   Hours
	ValidFrom, ValidTo      time.Time
}

// IssuePass issues a restricted-road pass for an approved permit (the traffic police). The pass
// lies within the permit's validity. A retry under the same pass_id with the same content
// answers the stored pass (created false).
func (s *Service) IssuePass(ctx context.Context, p auth.Principal, in PassInput) (Pass, bool, error) {
	if !p.Is(auth.Police) {
		return Pass{}, false, forbidden("role %s may not issue restricted-road passes; the traffic police do", p.Role)
	}
	now := s.now().UTC()
	var ve apperr.ValidationError
	clientID := in.PassID != ""
	if clientID {
		checkID(&ve, "pass_id", in.PassID)
	} else {
		in.PassID = newID("pas")
	}
	in.PermitID = required(&ve, "permit_id", in.PermitID, "the approved permit the pass is for")
	zone := parseZone(&ve, "zone", in.ZoneJSON)
	hours, _ := hoursField(&ve, "hours", in.HoursFrom, in.HoursTo)
	switch {
	case in.ValidFrom.IsZero():
		ve.Add("valid_from", "required: an RFC 3339 time")
	case in.ValidTo.IsZero():
		ve.Add("valid_to", "required: an RFC 3339 time")
	case !in.ValidTo.After(in.ValidFrom):
		ve.Add("valid_to", "must be after valid_from")
	case !in.ValidTo.After(now):
		ve.Add("valid_to", "must be in the future")
	}
	if err := ve.Err(); err != nil {
		return Pass{}, false, err
	}
	in.Route = strings.TrimSpace(in.Route)
	fp := fingerprint(passContent{PassID: in.PassID, PermitID: in.PermitID, Route: in.Route, Zone: zone, Hours: hours,
		ValidFrom: in.ValidFrom.UTC(), ValidTo: in.ValidTo.UTC()})
	fpOf := func(x Pass) string { return x.Fingerprint }
	if clientID {
		if got, ok, err := idempotent(ctx, s.passes.GetPass, fpOf, in.PassID, fp); ok || (err != nil && !errors.Is(err, ErrPassNotFound)) {
			return got, false, err
		}
	}
	pm, err := s.permits.GetPermit(ctx, in.PermitID)
	if errors.Is(err, ErrPermitNotFound) {
		return Pass{}, false, apperr.Invalid("permit_id", fmt.Sprintf("no permit %q", in.PermitID))
	} else if err != nil {
		return Pass{}, false, err
	}
	if st := pm.StateAt(now); st != Approved {
		return Pass{}, false, conflict("permit %s is %s; a pass is issued only for an approved permit", pm.ID, st)
	}
	if in.ValidFrom.Before(pm.ValidFrom) {
		ve.Add("valid_from", fmt.Sprintf("must not be before the permit's valid_from %s", localtime.Format(pm.ValidFrom)))
	}
	if in.ValidTo.After(pm.ValidTo) {
		ve.Add("valid_to", fmt.Sprintf("must not be after the permit's valid_to %s", localtime.Format(pm.ValidTo)))
	}
	if err := ve.Err(); err != nil {
		return Pass{}, false, err
	}
	ps := Pass{ID: in.PassID, PermitID: pm.ID, VIN: pm.VIN, Plate: pm.Plate, PlateColour: pm.PlateColour, FleetID: pm.FleetID,
		Zone: zone, Hours: hours, ValidFrom: in.ValidFrom.UTC(), ValidTo: in.ValidTo.UTC(), Route: in.Route,
		IssuedAt: now, IssuedBy: p.Subject, Fingerprint: fp, Version: 1}
	ps.Outgoing = []events.Draft{passEvent(events.MuckPassIssued, ps, now, "")}
	if err := s.passes.InsertPass(ctx, ps); errors.Is(err, ErrDuplicateID) {
		got, _, err := idempotent(ctx, s.passes.GetPass, fpOf, ps.ID, fp)
		return got, false, err
	} else if err != nil {
		return Pass{}, false, err
	}
	s.publish(ctx, ps.Plate, ps.PlateColour, Ref{Coll: PassRecords, ID: ps.ID, Version: ps.Version, PlateKey: ps.PlateKey()})
	return ps, true, nil
}

// GetPass returns a pass the caller may see; another fleet's pass is not found.
func (s *Service) GetPass(ctx context.Context, p auth.Principal, id string) (Pass, error) {
	if !p.Is(auth.Police, auth.Bureau, auth.Construction, auth.Fleet, auth.Admin) {
		return Pass{}, forbidden("role %s may not read passes", p.Role)
	}
	ps, err := s.passes.GetPass(ctx, id)
	if err != nil {
		return Pass{}, err
	}
	if !canSeeFleet(p, ps.FleetID) {
		return Pass{}, ErrPassNotFound
	}
	return ps, nil
}

// ListPasses returns a page of the passes the caller may see; a fleet's filter is pinned to
// itself.
func (s *Service) ListPasses(ctx context.Context, p auth.Principal, f PassFilter, afterID string, limit int) ([]Pass, string, error) {
	switch {
	case p.Role == auth.Fleet:
		f.FleetID = p.Tenant
	case p.Is(auth.Police, auth.Bureau, auth.Construction, auth.Admin):
	default:
		return nil, "", forbidden("role %s may not read passes", p.Role)
	}
	if f.VIN != "" {
		vin, err := vehicleid.NormaliseVIN(f.VIN)
		if err != nil {
			return nil, "", apperr.Invalid("vin", err.Error())
		}
		f.VIN = vin
	}
	out, err := s.passes.ListPasses(ctx, f, afterID, limit+1)
	if err != nil {
		return nil, "", err
	}
	return page(out, limit, func(x Pass) string { return x.ID })
}

// CancelPass withdraws a pass (the traffic police), with a reason.
func (s *Service) CancelPass(ctx context.Context, p auth.Principal, id, reason string) (Pass, error) {
	if !p.Is(auth.Police) {
		return Pass{}, forbidden("role %s may not cancel passes", p.Role)
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Pass{}, apperr.Invalid("reason", "say why the pass is cancelled")
	}
	ps, err := s.passes.GetPass(ctx, id)
	if err != nil {
		return Pass{}, err
	}
	if ps.Cancelled {
		return Pass{}, conflict("pass %s was already cancelled", ps.ID)
	}
	now := s.now().UTC()
	out, err := s.passes.CancelPass(ctx, ps.ID, ps.PlateKey(), ps.Version, now, p.Subject, reason, passEvent(events.MuckPassCancelled, ps, now, reason))
	if err != nil {
		return Pass{}, err
	}
	s.publish(ctx, out.Plate, out.PlateColour, Ref{Coll: PassRecords, ID: out.ID, Version: out.Version, PlateKey: out.PlateKey()})
	return out, nil
}

// AllowedHere answers whether the truck vin may be at (lat, lon) at the instant at: inside the
// zone of one of its passes, during its hours, within its validity, on a permit valid then.
// Police, bureau, construction bureau and the services (the checkpoint).
func (s *Service) AllowedHere(ctx context.Context, p auth.Principal, vin string, pt geo.Point, at time.Time) (Verdict, error) {
	if !p.Is(auth.Police, auth.Bureau, auth.Construction, auth.System, auth.Admin) {
		return Verdict{}, forbidden("role %s may not ask where trucks may go", p.Role)
	}
	var ve apperr.ValidationError
	vin, err := vehicleid.NormaliseVIN(vin)
	if err != nil {
		ve.Add("vin", err.Error())
	}
	if !(pt.Lat >= -90 && pt.Lat <= 90) { // written so that NaN fails too
		ve.Add("lat", "must be a latitude from -90 to 90")
	}
	if !(pt.Lon >= -180 && pt.Lon <= 180) {
		ve.Add("lon", "must be a longitude from -180 to 180")
	}
	if err := ve.Err(); err != nil {
		return Verdict{}, err
	}
	ctx, span := s.tracer.Start(ctx, "muck.allowed_here", trace.WithAttributes(attribute.String("clearsky.vehicle.vin", vin)))
	defer span.End()
	permits, err := s.permits.PermitsByVIN(ctx, vin)
	if err != nil {
		return Verdict{}, err
	}
	near, err := s.passes.PassesNear(ctx, vin, pt)
	if err != nil {
		return Verdict{}, err
	}
	has := len(near) > 0
	if !has {
		if has, err = s.passes.HasPasses(ctx, vin); err != nil {
			return Verdict{}, err
		}
	}
	v := Allowed(AllowedInput{At: at.UTC(), Point: pt, Permits: permits, Candidates: near, HasPasses: has, Loc: s.loc})
	span.SetAttributes(attribute.Bool("clearsky.pass.allowed", v.Allowed), attribute.String("clearsky.pass.id", v.PassID))
	return v, nil
}

// passEvent is a pass's domain event: it concerns the truck's fleet and the police, who issue
// passes.
func passEvent(t events.Type, ps Pass, at time.Time, reason string) events.Draft {
	data := map[string]any{"permit_id": ps.PermitID, "plate": ps.Plate, "vin": ps.VIN}
	if reason != "" {
		data["reason"] = reason
	}
	return events.Draft{Type: t, At: at, Subject: ps.ID, Link: "/v1/muck/passes/" + ps.ID, Organisations: []string{ps.FleetID},
		Roles: []auth.Role{auth.Police}, Data: data}
}
