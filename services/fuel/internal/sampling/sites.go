package sampling

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

// RegisterSite records a site (bureau only; the bureau also records unlicensed sites found on
// inspections). Suppliers must be registered first. Registering the same site again changes
// nothing (created is false); a different site under a taken id is ErrSiteExists.
func (s *Service) RegisterSite(ctx context.Context, p auth.Principal, site Site) (Site, bool, error) {
	if !p.Is(auth.Bureau) {
		return Site{}, false, forbidden("role %s may not register sites", p.Role)
	}
	now := s.now().UTC()
	sinceGiven := !site.OperatingSince.IsZero()
	if err := site.Validate(localtime.DayOf(now)); err != nil {
		return Site{}, false, err
	}
	if old, err := s.sites.GetSite(ctx, site.ID); err == nil {
		if !sinceGiven {
			site.OperatingSince = old.OperatingSince
		}
		if sameSite(old, site) {
			return old, false, nil
		}
		return Site{}, false, ErrSiteExists
	} else if !errors.Is(err, ErrSiteNotFound) {
		return Site{}, false, err
	}
	if err := s.checkSuppliers(ctx, site); err != nil {
		return Site{}, false, err
	}
	site.CreatedAt, site.UpdatedAt, site.UpdatedBy, site.Version = now, now, p.Subject, 1
	if err := s.sites.InsertSite(ctx, site); err != nil {
		if errors.Is(err, ErrSiteExists) {
			if old, gerr := s.sites.GetSite(ctx, site.ID); gerr == nil && sameSite(old, site) {
				return old, false, nil
			}
		}
		return Site{}, false, err
	}
	return site, true, nil
}

// sameSite compares what a client sends of a site.
func sameSite(a, b Site) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Name == b.Name && a.Operator == b.Operator && a.Lat == b.Lat && a.Lon == b.Lon &&
		a.Address == b.Address && a.Licence == b.Licence && a.Unlicensed == b.Unlicensed && a.InspectionRef == b.InspectionRef &&
		a.OwnDepot == b.OwnDepot && slices.Equal(a.Suppliers, b.Suppliers) && a.OperatingSince.Equal(b.OperatingSince) &&
		a.ClosedOn.Equal(b.ClosedOn) && a.Note == b.Note
}

func (s *Service) checkSuppliers(ctx context.Context, site Site) error {
	if len(site.Suppliers) == 0 {
		return nil
	}
	found, err := s.sites.GetSites(ctx, site.Suppliers)
	if err != nil {
		return err
	}
	return site.checkSuppliers(found)
}

// UpdateSite replaces a site's record (bureau only): its suppliers, licence, operator, closing
// day. The kind is fixed at registration.
func (s *Service) UpdateSite(ctx context.Context, p auth.Principal, id string, site Site) (Site, error) {
	if !p.Is(auth.Bureau) {
		return Site{}, forbidden("role %s may not change sites", p.Role)
	}
	if site.ID == "" {
		site.ID = id
	}
	if site.ID != id {
		return Site{}, apperr.Invalid("site_id", "must match the site in the path")
	}
	old, err := s.sites.GetSite(ctx, id)
	if err != nil {
		return Site{}, err
	}
	if site.OperatingSince.IsZero() {
		site.OperatingSince = old.OperatingSince
	}
	if err := site.Validate(old.OperatingSince); err != nil {
		return Site{}, err
	}
	if site.Kind != old.Kind {
		return Site{}, apperr.Invalid("kind", fmt.Sprintf("the kind of a site is fixed (%s); register a new site", old.Kind))
	}
	if err := s.checkSuppliers(ctx, site); err != nil {
		return Site{}, err
	}
	site.CreatedAt, site.UpdatedAt, site.UpdatedBy, site.Version = old.CreatedAt, s.now().UTC(), p.Subject, old.Version+1
	if err := s.sites.ReplaceSite(ctx, site); err != nil {
		return Site{}, err
	}
	return site, nil
}

// scope is what a caller may see and upload for.
type scope struct {
	all   bool
	sites []string // the station's own site, or the lab's contracted sites
	lab   string
}

func (sc scope) allows(siteID string) bool { return sc.all || slices.Contains(sc.sites, siteID) }

// scopeOf returns the sites p acts for: a station its own site (its tenant id), a lab the sites
// the bureau contracted it for, the bureau every site.
func (s *Service) scopeOf(ctx context.Context, p auth.Principal) (scope, error) {
	switch p.Role {
	case auth.Bureau, auth.Admin:
		return scope{all: true}, nil
	case auth.Station:
		return scope{sites: []string{p.Tenant}}, nil
	case auth.Lab:
		l, err := s.labs.GetLab(ctx, p.Tenant)
		if errors.Is(err, ErrLabNotFound) {
			return scope{lab: p.Tenant}, nil
		}
		if err != nil {
			return scope{}, err
		}
		return scope{sites: l.SiteIDs, lab: p.Tenant}, nil
	}
	return scope{}, forbidden("role %s has no access to fuel sampling", p.Role)
}

// GetSite returns a site the caller may see: the bureau any, a station its own, a lab those it
// is contracted for; others are "not found".
func (s *Service) GetSite(ctx context.Context, p auth.Principal, id string) (Site, error) {
	sc, err := s.scopeOf(ctx, p)
	if err != nil {
		return Site{}, err
	}
	if !sc.allows(id) {
		return Site{}, ErrSiteNotFound
	}
	return s.sites.GetSite(ctx, id)
}

// ListSites lists the sites the caller may see, by id.
func (s *Service) ListSites(ctx context.Context, p auth.Principal, f SiteFilter, after string, limit int) ([]Site, error) {
	sc, err := s.scopeOf(ctx, p)
	if err != nil {
		return nil, err
	}
	if f.Kind != "" && !slices.Contains(Kinds, f.Kind) {
		return nil, apperr.Invalid("kind", "must be one of "+joinKinds(Kinds))
	}
	if !sc.all {
		f.IDs = append([]string{}, sc.sites...)
	}
	return s.sites.ListSites(ctx, f, after, limit)
}

// ChainOf walks a site's supply chain (bureau only): its suppliers up to the policy's depth and
// the other sites its direct suppliers supply. product narrows the walk to suppliers dealing
// in it.
func (s *Service) ChainOf(ctx context.Context, p auth.Principal, id string, product limits.Product) (Chain, error) {
	if !p.Is(auth.Bureau, auth.Admin) {
		return Chain{}, forbidden("role %s may not trace supply chains", p.Role)
	}
	if product != "" && !slices.Contains(limits.Products, product) {
		return Chain{}, apperr.Invalid("product", "must be gasoline, diesel, urea or coal")
	}
	site, err := s.sites.GetSite(ctx, id)
	if err != nil {
		return Chain{}, err
	}
	return s.trace(ctx, site, product)
}

// trace walks site's chain and adds the sites exposed through its direct suppliers.
func (s *Service) trace(ctx context.Context, site Site, product limits.Product) (Chain, error) {
	ctx, span := s.tracer.Start(ctx, "fuel.trace_back", trace.WithAttributes(attribute.String("clearsky.site.id", site.ID),
		attribute.String("clearsky.sample.product", string(product))))
	defer span.End()
	return s.traceWith(ctx, site, product, s.sites.GetSites, s.sites.SitesSuppliedBy)
}

// traceWith walks the chain reading sites through get and suppliedBy (the store, or a cache
// shared by the cases of one batch).
func (s *Service) traceWith(ctx context.Context, site Site, product limits.Product, get SiteGetter,
	suppliedBy func(context.Context, []string) ([]Site, error)) (Chain, error) {
	span := trace.SpanFromContext(ctx)
	c, err := Walk(ctx, site, product, s.policy.TraceDepth, get)
	if err != nil {
		return c, err
	}
	if direct := c.directSuppliers(); len(direct) > 0 {
		supplied, err := suppliedBy(ctx, direct)
		if err != nil {
			return c, fmt.Errorf("sites supplied by %v: %w", direct, err)
		}
		c.Exposed = exposedFrom(c, supplied, product)
	}
	span.SetAttributes(attribute.Int("clearsky.chain.upstream", len(c.Upstream)), attribute.Int("clearsky.chain.exposed", len(c.Exposed)),
		attribute.Int("clearsky.chain.cycles", len(c.Cycles)))
	return c, nil
}

// PutLab records a lab and the sites it is contracted for (bureau only); created reports a new
// lab. Every site must be registered.
func (s *Service) PutLab(ctx context.Context, p auth.Principal, l Lab) (Lab, bool, error) {
	if !p.Is(auth.Bureau) {
		return Lab{}, false, forbidden("role %s may not record lab contracts", p.Role)
	}
	if err := l.Validate(); err != nil {
		return Lab{}, false, err
	}
	found, err := s.sites.GetSites(ctx, l.SiteIDs)
	if err != nil {
		return Lab{}, false, err
	}
	var ve apperr.ValidationError
	for i, id := range l.SiteIDs {
		if _, ok := found[id]; !ok {
			ve.Add(fmt.Sprintf("site_ids[%d]", i), fmt.Sprintf("no site %q is registered", id))
		}
	}
	if err := ve.Err(); err != nil {
		return Lab{}, false, err
	}
	old, err := s.labs.GetLab(ctx, l.ID)
	switch {
	case errors.Is(err, ErrLabNotFound):
	case err != nil:
		return Lab{}, false, err
	default:
		if old.Name == l.Name && slices.Equal(old.SiteIDs, l.SiteIDs) {
			return old, false, nil
		}
		l.Version = old.Version
	}
	l.Version++
	l.UpdatedAt, l.UpdatedBy = s.now().UTC(), p.Subject
	if err := s.labs.PutLab(ctx, l); err != nil {
		return Lab{}, false, err
	}
	return l, l.Version == 1, nil
}

// GetLab returns a lab contract: the bureau any, a lab its own.
func (s *Service) GetLab(ctx context.Context, p auth.Principal, id string) (Lab, error) {
	switch {
	case p.Is(auth.Bureau, auth.Admin):
	case p.Role == auth.Lab && p.Tenant == id:
	case p.Role == auth.Lab:
		return Lab{}, ErrLabNotFound
	default:
		return Lab{}, forbidden("role %s may not read lab contracts", p.Role)
	}
	return s.labs.GetLab(ctx, id)
}

// ListLabs lists the lab contracts (bureau only).
func (s *Service) ListLabs(ctx context.Context, p auth.Principal) ([]Lab, error) {
	if !p.Is(auth.Bureau, auth.Admin) {
		return nil, forbidden("role %s may not list lab contracts", p.Role)
	}
	return s.labs.ListLabs(ctx)
}
