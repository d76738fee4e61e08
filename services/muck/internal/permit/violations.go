package permit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
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

// ViolationInput is a violation as the police or the bureau record it.
type ViolationInput struct {
	ViolationID string // optional client-given id; the idempotency key
	Kind        ViolationKind
	VIN         string // the VIN, or the plate and its colour, or both
	Plate       string
	PlateColour string
	ObservedAt  time.Time
	Location    *geo.Point
	Place       string
	Photos      []string
	Note        string
	FromSite    string // optional: the construction site the load came from, when the officer knows it
}

// violationContent is what a violation's fingerprint covers.
type violationContent struct {
	ID, VIN, Plate, Colour, Place, Note, FromSite string
	Kind                                          ViolationKind
	ObservedAt                                    time.Time
	Location                                      *geo.Point
	Photos                                        []string
}

// maxPhotos bounds the evidence references of one violation.
const maxPhotos = 20

func (s *Service) validateViolation(in *ViolationInput, now time.Time) (string, vehicleid.Colour, error) {
	var ve apperr.ValidationError
	if in.ViolationID != "" {
		checkID(&ve, "violation_id", in.ViolationID)
	}
	if !slices.Contains(ViolationKinds, in.Kind) {
		ve.Add("kind", "must be one of "+kindNames())
	}
	var plate string
	var colour vehicleid.Colour
	if in.VIN == "" && in.Plate == "" {
		ve.Add("vin", "required: the truck's VIN, or its plate and plate_colour")
	}
	if in.VIN != "" {
		vin, err := vehicleid.NormaliseVIN(in.VIN)
		if err != nil {
			ve.Add("vin", err.Error())
		}
		in.VIN = vin
	}
	if in.Plate != "" || in.PlateColour != "" {
		pl, c, err := ParsePlate("plate", "plate_colour", in.Plate, in.PlateColour)
		var pv *apperr.ValidationError
		if errors.As(err, &pv) {
			ve.Fields = append(ve.Fields, pv.Fields...)
		}
		plate, colour = pl, c
	}
	switch {
	case in.ObservedAt.IsZero():
		ve.Add("observed_at", "required: when the violation was seen, RFC 3339")
	case in.ObservedAt.After(now.Add(5 * time.Minute)):
		ve.Add("observed_at", "may not be in the future")
	}
	if in.Location == nil {
		ve.Add("location", "required: {\"lat\": ..., \"lon\": ...} where the violation was seen")
	} else if !in.Location.Valid() {
		ve.Add("location", "lat must be from -90 to 90 and lon from -180 to 180")
	}
	if len(in.Photos) == 0 {
		ve.Add("photos", "required: at least one reference to the photographic evidence")
	} else if len(in.Photos) > maxPhotos {
		ve.Add("photos", fmt.Sprintf("at most %d references", maxPhotos))
	}
	for i, ph := range in.Photos {
		in.Photos[i] = strings.TrimSpace(ph)
		if in.Photos[i] == "" || len(in.Photos[i]) > 512 {
			ve.Add(fmt.Sprintf("photos[%d]", i), "a reference is 1 to 512 characters")
		}
	}
	in.Place, in.Note, in.FromSite = strings.TrimSpace(in.Place), strings.TrimSpace(in.Note), strings.TrimSpace(in.FromSite)
	in.ObservedAt = in.ObservedAt.UTC()
	return plate, colour, ve.Err()
}

// RecordViolation records a violation with its evidence (the police or the bureau), traces it
// back to the construction site the load came from (the one named, else the from_site of the
// truck's permit at that time), and, when the policy says the kind revokes, revokes every
// approved or suspended permit of the truck. A retry under the same violation_id with the same
// content answers the stored violation (created false).
func (s *Service) RecordViolation(ctx context.Context, p auth.Principal, in ViolationInput) (Violation, bool, error) {
	if !p.Is(auth.Police, auth.Bureau) {
		return Violation{}, false, forbidden("role %s may not record violations", p.Role)
	}
	now := s.now().UTC()
	plate, colour, err := s.validateViolation(&in, now)
	if err != nil {
		return Violation{}, false, err
	}
	clientID := in.ViolationID != ""
	if !clientID {
		in.ViolationID = newID("vio")
	}
	fp := fingerprint(violationContent{ID: in.ViolationID, VIN: in.VIN, Plate: plate, Colour: string(colour), Place: in.Place, Note: in.Note,
		FromSite: in.FromSite, Kind: in.Kind, ObservedAt: in.ObservedAt, Location: in.Location, Photos: in.Photos})
	fpOf := func(x Violation) string { return x.Fingerprint }
	if clientID {
		if got, ok, err := idempotent(ctx, s.violations.GetViolation, fpOf, in.ViolationID, fp); ok || (err != nil && !errors.Is(err, ErrViolationNotFound)) {
			return got, false, err
		}
	}
	if in.FromSite != "" {
		site, err := s.sites.GetSite(ctx, in.FromSite)
		if errors.Is(err, ErrSiteNotFound) {
			return Violation{}, false, apperr.Invalid("from_site", fmt.Sprintf("no site %q on the site list", in.FromSite))
		} else if err != nil {
			return Violation{}, false, err
		}
		if site.Kind != Construction {
			return Violation{}, false, apperr.Invalid("from_site", fmt.Sprintf("site %q is a %s site; loads come from construction sites", site.ID, site.Kind))
		}
	}
	if in.Kind == UnauthorisedDumping {
		if err := s.outsideDisposal(ctx, *in.Location); err != nil {
			return Violation{}, false, err
		}
	}
	v := Violation{ID: in.ViolationID, Kind: in.Kind, VIN: in.VIN, Plate: plate, PlateColour: colour, ObservedAt: in.ObservedAt,
		Location: in.Location, Place: in.Place, Photos: in.Photos, Note: in.Note, FromSite: in.FromSite, SiteSource: SiteUnresolved,
		RecordedAt: now, RecordedBy: p.Subject, Role: p.Role, Fingerprint: fp, Version: 1}
	if v.FromSite != "" {
		v.SiteSource = SiteGiven
	}
	permits, err := s.identify(ctx, &v)
	if err != nil {
		return Violation{}, false, err
	}
	if pm, ok := permitAt(permits, v.ObservedAt); ok {
		v.PermitID = pm.ID
		if v.FromSite == "" {
			v.FromSite, v.SiteSource = pm.FromSite, SiteFromPermit
		}
	}
	v.RevokePending = s.policy.Revokes(v.Kind) && v.VIN != ""
	day := v.ObservedAt.In(s.loc).Format(time.DateOnly)
	orgs := []string{v.FleetID}
	if site, err := s.sites.GetSite(ctx, v.FromSite); err == nil {
		orgs = append(orgs, site.Authority)
	}
	data := map[string]any{"kind": string(v.Kind), "plate": v.Plate, "permit_id": v.PermitID, "from_site": v.FromSite, "place": v.Place}
	v.Outgoing = []events.Draft{{Type: events.MuckViolation, At: v.RecordedAt, Subject: v.ID, Link: "/v1/muck/violations/" + v.ID,
		Organisations: orgs, Roles: []auth.Role{auth.Police}, Data: data}}
	if err := s.violations.InsertViolation(ctx, v, day, day[:7]); errors.Is(err, ErrDuplicateID) {
		got, _, err := idempotent(ctx, s.violations.GetViolation, fpOf, v.ID, fp)
		return got, false, err
	} else if err != nil {
		return Violation{}, false, err
	}
	s.log.InfoContext(ctx, "violation_recorded", "violation_id", v.ID, "kind", string(v.Kind), "vin", v.VIN,
		"from_site", v.FromSite, "site_source", string(v.SiteSource), "revokes", v.RevokePending)
	refs := []Ref{{Coll: ViolationRecords, ID: v.ID, Version: v.Version, PlateKey: v.PlateKey()}}
	if v.RevokePending {
		out, revoked, err := s.revokeFor(ctx, v)
		if err != nil {
			// The violation is stored with its pending flag: Run finishes the revocation.
			s.log.WarnContext(ctx, "automatic_revocation_deferred", "violation_id", v.ID, "error", err.Error())
		} else {
			v = out
			refs = append(revoked, Ref{Coll: ViolationRecords, ID: v.ID, Version: v.Version, PlateKey: v.PlateKey()})
		}
	}
	if v.Plate != "" {
		s.publish(ctx, v.Plate, v.PlateColour, refs...)
	}
	return v, true, nil
}

// outsideDisposal refuses an unauthorised-dumping record at a point inside a disposal site.
func (s *Service) outsideDisposal(ctx context.Context, pt geo.Point) error {
	sites, err := s.sites.SitesAt(ctx, Disposal, pt)
	if err != nil {
		return err
	}
	for _, site := range sites {
		if site.Area.Contains(pt) {
			return apperr.Invalid("location", fmt.Sprintf("the point lies in disposal site %s (%s), where dumping is allowed", site.ID, site.Name))
		}
	}
	return nil
}

// identify completes the truck's identity (VIN, plate, fleet) from the service's own permits,
// else from the registry, and returns the truck's permits. An unreachable or unknowing registry
// leaves the identity as recorded: a violation is never lost for want of a lookup.
func (s *Service) identify(ctx context.Context, v *Violation) ([]Permit, error) {
	var permits []Permit
	var err error
	if v.VIN != "" {
		permits, err = s.permits.PermitsByVIN(ctx, v.VIN)
	} else {
		permits, err = s.permits.PermitsByPlate(ctx, v.PlateKey())
	}
	if err != nil {
		return nil, err
	}
	if len(permits) > 0 {
		newest := permits[0]
		for _, pm := range permits[1:] {
			if pm.CreatedAt.After(newest.CreatedAt) {
				newest = pm
			}
		}
		if v.VIN == "" {
			v.VIN = newest.VIN
		}
		if v.Plate == "" {
			v.Plate, v.PlateColour = newest.Plate, newest.PlateColour
		}
		v.FleetID = newest.FleetID
		return permits, nil
	}
	var lookup func() (string, vehicleid.Colour, string, string, error)
	if v.VIN != "" {
		lookup = func() (string, vehicleid.Colour, string, string, error) {
			r, err := s.vehicles.ByVIN(ctx, v.VIN)
			return r.Plate, vehicleid.Colour(r.PlateColour), r.VIN, r.FleetID, err
		}
	} else {
		lookup = func() (string, vehicleid.Colour, string, string, error) {
			r, err := s.vehicles.ByPlate(ctx, v.Plate, v.PlateColour)
			return r.Plate, vehicleid.Colour(r.PlateColour), r.VIN, r.FleetID, err
		}
	}
	plate, colour, vin, fleet, err := lookup()
	if err != nil {
		s.log.WarnContext(ctx, "violation_vehicle_lookup_failed", "vin", v.VIN, "plate", v.Plate, "error", err.Error())
		return nil, nil
	}
	if v.Plate == "" {
		v.Plate, v.PlateColour = plate, colour
	}
	if v.VIN == "" {
		v.VIN = vin
	}
	v.FleetID = fleet
	return nil, nil
}

// permitAt picks the permit a load seen at t travelled under: among the permits whose validity
// holds t, the most favourable by state.
func permitAt(ps []Permit, t time.Time) (Permit, bool) {
	var best Permit
	found := false
	for _, p := range ps {
		if t.Before(p.ValidFrom) || !t.Before(p.ValidTo) || p.State == Refused || p.State == Pending {
			continue
		}
		if !found || favour(p, t) < favour(best, t) {
			best, found = p, true
		}
	}
	return best, found
}

// revokeFor revokes every approved or suspended permit of the violation's truck, once: a permit
// whose history already records this violation is left alone (a reinstated permit stays
// reinstated when Run finishes an interrupted revocation). It returns the finished violation and
// the refs of the permits it changed.
func (s *Service) revokeFor(ctx context.Context, v Violation) (Violation, []Ref, error) {
	ctx, span := s.tracer.Start(ctx, "muck.revoke_for_violation", trace.WithAttributes(
		attribute.String("clearsky.violation.id", v.ID), attribute.String("clearsky.violation.kind", string(v.Kind)),
		attribute.String("clearsky.vehicle.vin", v.VIN)))
	defer span.End()
	permits, err := s.permits.PermitsByVIN(ctx, v.VIN)
	if err != nil {
		return Violation{}, nil, err
	}
	now := s.now().UTC()
	reason := fmt.Sprintf("violation %s: %s observed at %s", v.ID, v.Kind, localtime.Format(v.ObservedAt))
	if v.Place != "" {
		reason += " at " + v.Place
	}
	var revoked []string
	var refs []Ref
	for _, pm := range permits {
		if slices.ContainsFunc(pm.History, func(e Event) bool { return e.ViolationID == v.ID }) {
			revoked = append(revoked, pm.ID)
			continue
		}
		from := pm.StateAt(now)
		if from != Approved && from != Suspended {
			continue
		}
		c := StepChange{ID: pm.ID, PlateKey: pm.PlateKey(), FromState: pm.State, FromVersion: pm.Version, To: Revoked, Reason: reason,
			Event: Event{Action: Revoke, From: from, To: Revoked, At: now, By: v.RecordedBy, Role: v.Role, Reason: reason, ViolationID: v.ID}}
		c.Outgoing = s.stepEvents(ctx, pm, c.Event)
		out, err := s.permits.Step(ctx, c)
		if err != nil {
			return Violation{}, nil, fmt.Errorf("revoke permit %s for violation %s: %w", pm.ID, v.ID, err)
		}
		s.log.InfoContext(ctx, "permit_revoked_by_violation", "permit_id", pm.ID, "violation_id", v.ID, "vin", v.VIN)
		revoked = append(revoked, out.ID)
		refs = append(refs, Ref{Coll: PermitRecords, ID: out.ID, Version: out.Version, PlateKey: out.PlateKey()})
	}
	sort.Strings(revoked)
	out, err := s.violations.FinishRevocation(ctx, v.ID, v.PlateKey(), revoked)
	if err != nil {
		return Violation{}, nil, err
	}
	span.SetAttributes(attribute.Int("clearsky.violation.revoked_permits", len(revoked)))
	return out, refs, nil
}

// GetViolation returns a violation the caller may see; a fleet sees only its own trucks'.
func (s *Service) GetViolation(ctx context.Context, p auth.Principal, id string) (Violation, error) {
	if !p.Is(auth.Police, auth.Bureau, auth.Construction, auth.Fleet, auth.Admin) {
		return Violation{}, forbidden("role %s may not read violations", p.Role)
	}
	v, err := s.violations.GetViolation(ctx, id)
	if err != nil {
		return Violation{}, err
	}
	if !canSeeFleet(p, v.FleetID) {
		return Violation{}, ErrViolationNotFound
	}
	return v, nil
}

// ListViolations returns a page of the violations the caller may see.
func (s *Service) ListViolations(ctx context.Context, p auth.Principal, f ViolationFilter, afterID string, limit int) ([]Violation, string, error) {
	switch {
	case p.Role == auth.Fleet:
		f.FleetID = p.Tenant
	case p.Is(auth.Police, auth.Bureau, auth.Construction, auth.Admin):
	default:
		return nil, "", forbidden("role %s may not read violations", p.Role)
	}
	var ve apperr.ValidationError
	if f.VIN != "" {
		vin, err := vehicleid.NormaliseVIN(f.VIN)
		if err != nil {
			ve.Add("vin", err.Error())
		}
		f.VIN = vin
	}
	if f.Kind != "" && !slices.Contains(ViolationKinds, f.Kind) {
		ve.Add("kind", "must be one of "+kindNames())
	}
	if err := ve.Err(); err != nil {
		return nil, "", err
	}
	out, err := s.violations.ListViolations(ctx, f, afterID, limit+1)
	if err != nil {
		return nil, "", err
	}
	return page(out, limit, func(x Violation) string { return x.ID })
}

// SiteReportRow is one construction site's violations over a period.
type SiteReportRow struct {
	SiteID     string // "" for violations whose site is unresolved
	Name       string
	Developer  string
	Contractor string
	Total      int
	ByKind     map[ViolationKind]int
}

// SiteReport counts violations per construction site over the local days [from, to] (the
// construction bureau and the bureau): the upstream trace-back of task 18. Sites with the most
// violations come first; violations whose site is unresolved are one row with an empty id.
func (s *Service) SiteReport(ctx context.Context, p auth.Principal, from, to time.Time) ([]SiteReportRow, error) {
	if !p.Is(auth.Construction, auth.Bureau, auth.Admin) {
		return nil, forbidden("role %s may not read the site report", p.Role)
	}
	if to.Before(from) {
		return nil, apperr.Invalid("to", "must not be before from")
	}
	counts, err := s.violations.SiteCounts(ctx, from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return nil, err
	}
	return s.siteRows(ctx, counts)
}

// siteRows gathers violation counts into a row per site, with the site's names, most
// violations first.
func (s *Service) siteRows(ctx context.Context, counts []SiteCount) ([]SiteReportRow, error) {
	rows := map[string]*SiteReportRow{}
	for _, c := range counts {
		r, ok := rows[c.SiteID]
		if !ok {
			r = &SiteReportRow{SiteID: c.SiteID, ByKind: map[ViolationKind]int{}}
			rows[c.SiteID] = r
			if c.SiteID != "" {
				if site, err := s.sites.GetSite(ctx, c.SiteID); err == nil {
					r.Name, r.Developer, r.Contractor = site.Name, site.Developer, site.Contractor
				} else if !errors.Is(err, ErrSiteNotFound) {
					return nil, err
				}
			}
		}
		r.Total += c.N
		r.ByKind[c.Kind] += c.N
	}
	out := make([]SiteReportRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Total != out[j].Total {
			return out[i].Total > out[j].Total
		}
		return out[i].SiteID < out[j].SiteID
	})
	return out, nil
}
