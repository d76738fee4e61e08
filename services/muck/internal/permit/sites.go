package permit

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
)

// SiteInput is a site as the construction bureau registers it. Area is GeoJSON; opening hours
// are "HH:MM" bounds (disposal sites).
type SiteInput struct {
	Site
	AreaJSON    json.RawMessage
	OpeningFrom string
	OpeningTo   string
}

// siteFingerprint digests what the registering bureau sent, leaving out the bookkeeping.
func siteFingerprint(s Site) string {
	s.Fingerprint, s.CreatedBy, s.Authority, s.CreatedAt = "", "", "", time.Time{}
	return fingerprint(s)
}

// RegisterSite adds a site to the site list (the construction bureau). The site id is the
// client's: a retry with the same content answers the stored site (created false), different
// content ErrExists.
func (s *Service) RegisterSite(ctx context.Context, p auth.Principal, in SiteInput) (Site, bool, error) {
	if !p.Is(auth.Construction) {
		return Site{}, false, forbidden("role %s may not register sites", p.Role)
	}
	site, err := s.validateSite(in)
	if err != nil {
		return Site{}, false, err
	}
	site.Fingerprint = siteFingerprint(site)
	site.CreatedAt, site.CreatedBy, site.Authority = s.now().UTC(), p.Subject, p.Tenant
	fp := func(x Site) string { return x.Fingerprint }
	if got, ok, err := idempotent(ctx, s.sites.GetSite, fp, site.ID, site.Fingerprint); ok || (err != nil && !errors.Is(err, ErrSiteNotFound)) {
		return got, false, err
	}
	if err := s.sites.InsertSite(ctx, site); errors.Is(err, ErrDuplicateID) {
		got, _, err := idempotent(ctx, s.sites.GetSite, fp, site.ID, site.Fingerprint)
		return got, false, err
	} else if err != nil {
		return Site{}, false, err
	}
	return site, true, nil
}

func (s *Service) validateSite(in SiteInput) (Site, error) {
	var ve apperr.ValidationError
	site := in.Site
	site.ID = strings.TrimSpace(site.ID)
	checkID(&ve, "site_id", site.ID)
	site.Name = required(&ve, "name", site.Name, "the site's name")
	site.Address = strings.TrimSpace(site.Address)
	site.Area = parseZone(&ve, "area", in.AreaJSON)
	switch site.Kind {
	case Construction:
		site.Developer = required(&ve, "developer", site.Developer, "the developer (建设单位), for the trace-back of task 18")
		site.Contractor = required(&ve, "contractor", site.Contractor, "the contractor (施工单位), for the trace-back of task 18")
		site.Address = required(&ve, "address", site.Address, "the site's address")
		if site.PeriodFrom.IsZero() {
			ve.Add("period_from", "required: the first day of works, YYYY-MM-DD")
		}
		if site.PeriodTo.IsZero() {
			ve.Add("period_to", "required: the planned last day of works, YYYY-MM-DD")
		} else if !site.PeriodFrom.IsZero() && site.PeriodTo.Before(site.PeriodFrom) {
			ve.Add("period_to", "must not be before period_from")
		}
		if len(site.AcceptedMaterials) > 0 {
			ve.Add("accepted_materials", "only for disposal sites")
		}
		if in.OpeningFrom != "" || in.OpeningTo != "" {
			ve.Add("opening_hours", "only for disposal sites")
		}
	case Disposal:
		if len(site.AcceptedMaterials) == 0 {
			ve.Add("accepted_materials", "required: what the site accepts, e.g. [\"spoil\", \"construction_waste\"]")
		}
		for i, m := range site.AcceptedMaterials {
			site.AcceptedMaterials[i] = strings.TrimSpace(m)
			if site.AcceptedMaterials[i] == "" {
				ve.Add("accepted_materials", "no empty entries")
				break
			}
		}
		if in.OpeningFrom != "" || in.OpeningTo != "" {
			if h, ok := hoursField(&ve, "opening_hours", in.OpeningFrom, in.OpeningTo); ok {
				site.OpeningHours = &h
			}
		}
		if site.Developer != "" || site.Contractor != "" || !site.PeriodFrom.IsZero() || !site.PeriodTo.IsZero() || site.DustControl != (DustControl{}) {
			ve.Add("kind", "developer, contractor, period and dust_control are for construction sites")
		}
	case "":
		ve.Add("kind", "required: construction or disposal")
	default:
		ve.Add("kind", "must be construction or disposal")
	}
	return site, ve.Err()
}

// GetSite returns a site (the construction bureau, the bureau, the police, fleets).
func (s *Service) GetSite(ctx context.Context, p auth.Principal, id string) (Site, error) {
	if !p.Is(auth.Construction, auth.Bureau, auth.Police, auth.Fleet, auth.Admin) {
		return Site{}, forbidden("role %s may not read sites", p.Role)
	}
	return s.sites.GetSite(ctx, id)
}

// ListSites returns a page of sites, optionally of one kind, and the id to continue after.
func (s *Service) ListSites(ctx context.Context, p auth.Principal, kind SiteKind, afterID string, limit int) ([]Site, string, error) {
	if !p.Is(auth.Construction, auth.Bureau, auth.Police, auth.Fleet, auth.Admin) {
		return nil, "", forbidden("role %s may not read sites", p.Role)
	}
	if kind != "" && kind != Construction && kind != Disposal {
		return nil, "", apperr.Invalid("kind", "must be construction or disposal")
	}
	out, err := s.sites.ListSites(ctx, kind, afterID, limit+1)
	if err != nil {
		return nil, "", err
	}
	return page(out, limit, func(x Site) string { return x.ID })
}

// page trims a limit+1 result to limit and returns the key to continue after.
func page[T any](xs []T, limit int, key func(T) string) ([]T, string, error) {
	if len(xs) > limit {
		xs = xs[:limit]
		return xs, key(xs[limit-1]), nil
	}
	return xs, "", nil
}
