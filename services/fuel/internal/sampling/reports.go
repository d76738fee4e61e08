package sampling

import (
	"context"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
)

// quotasFor returns the quotas of kind, or every quota when kind is empty.
func (s *Service) quotasFor(kind Kind) ([]Quota, error) {
	if kind == "" {
		return s.policy.Quotas, nil
	}
	for _, q := range s.policy.Quotas {
		if q.Kind == kind {
			return []Quota{q}, nil
		}
	}
	kinds := make([]Kind, 0, len(s.policy.Quotas))
	for _, q := range s.policy.Quotas {
		kinds = append(kinds, q.Kind)
	}
	return nil, apperr.Invalid("kind", "sampling quotas exist for "+joinKinds(kinds))
}

// ProposePlan proposes which sites to sample in month m, per quota (one kind, or all), bureau
// only. size > 0 overrides the number proposed.
func (s *Service) ProposePlan(ctx context.Context, p auth.Principal, m Month, kind Kind, size int) ([]Proposal, error) {
	if !p.Is(auth.Bureau, auth.Admin) {
		return nil, forbidden("role %s may not plan sampling", p.Role)
	}
	qs, err := s.quotasFor(kind)
	if err != nil {
		return nil, err
	}
	ctx, span := s.tracer.Start(ctx, "fuel.propose_plan", trace.WithAttributes(attribute.String("clearsky.plan.month", m.String())))
	defer span.End()
	var out []Proposal
	for _, q := range qs {
		sites, err := s.sites.SitesOfKind(ctx, q.Kind)
		if err != nil {
			return nil, err
		}
		stats, err := s.samples.SampleStats(ctx, q.Kind, m.End())
		if err != nil {
			return nil, err
		}
		out = append(out, Propose(q, m, sites, stats, s.policy.EscalateMonths, size))
	}
	return out, nil
}

// QuotaReport is the coverage of one quota over a month (Month set) or a year (Year set).
type QuotaReport struct {
	Quota Quota
	Month *Figure
	Year  *YearCoverage
}

// MonthCoverage reports each quota's coverage in month m (bureau only).
func (s *Service) MonthCoverage(ctx context.Context, p auth.Principal, m Month) ([]QuotaReport, error) {
	return s.coverage(ctx, p, m.Year, func(q Quota, sites []Site, counts []SiteMonth) QuotaReport {
		f := MonthlyCoverage(q, m, sites, counts)
		return QuotaReport{Quota: q, Month: &f}
	})
}

// YearCoverage reports each quota's coverage in year, with its months up to the current one
// (bureau only).
func (s *Service) YearCoverage(ctx context.Context, p auth.Principal, year int) ([]QuotaReport, error) {
	through := Month{year, time.December}
	if now := MonthOf(s.now()); now.Before(through) {
		through = now // months not begun yet are not reported
	}
	return s.coverage(ctx, p, year, func(q Quota, sites []Site, counts []SiteMonth) QuotaReport {
		y := YearlyCoverage(q, year, through, sites, counts)
		return QuotaReport{Quota: q, Year: &y}
	})
}

func (s *Service) coverage(ctx context.Context, p auth.Principal, year int, report func(Quota, []Site, []SiteMonth) QuotaReport) ([]QuotaReport, error) {
	if !p.Is(auth.Bureau, auth.Admin) {
		return nil, forbidden("role %s may not read coverage reports", p.Role)
	}
	ctx, span := s.tracer.Start(ctx, "fuel.coverage", trace.WithAttributes(attribute.Int("clearsky.coverage.year", year)))
	defer span.End()
	out := make([]QuotaReport, 0, len(s.policy.Quotas))
	for _, q := range s.policy.Quotas {
		sites, err := s.sites.SitesOfKind(ctx, q.Kind)
		if err != nil {
			return nil, err
		}
		counts, err := s.samples.CoverageCounts(ctx, q.Kind, year)
		if err != nil {
			return nil, err
		}
		r := report(q, sites, counts)
		if r.Year != nil {
			slices.SortFunc(r.Year.Unsampled, func(a, b Site) int { return strings.Compare(a.ID, b.ID) })
		}
		out = append(out, r)
	}
	return out, nil
}
