package sampling

import (
	"context"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/disclosure"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

// Disclosure is the month's list of failing samples as the public may see it
// (libs/disclosure): each sample taken in the month (China time) whose verdict is fail, with
// its site's name, address and operating company, the product and grade, the parameters that
// failed (and the prohibitions it fell under, by code), and the day. Oldest first. For the
// bureau and the disclosure service.
func (s *Service) Disclosure(ctx context.Context, p auth.Principal, m disclosure.Month) ([]disclosure.FuelRow, error) {
	if !p.Is(auth.Bureau, auth.System) {
		return nil, forbidden("role %s may not compile a disclosure list", p.Role)
	}
	f := SampleFilter{Verdict: limits.Fail, Month: string(m)}
	sites := map[string]Site{}
	var rows []disclosure.FuelRow
	var after Key
	for {
		ss, err := s.samples.ListSamples(ctx, f, after, 500)
		if err != nil {
			return nil, err
		}
		for _, x := range ss {
			site, ok := sites[x.SiteID]
			if !ok {
				if site, err = s.sites.GetSite(ctx, x.SiteID); err != nil {
					return nil, err
				}
				sites[x.SiteID] = site
			}
			r := disclosure.FuelRow{Site: site.Name, Address: site.Address, Operator: site.Operator, Product: string(x.Product), Grade: x.Grade,
				Parameters: []string{}, Date: x.SampledAt.In(localtime.Shanghai()).Format(time.DateOnly)}
			for _, o := range x.Results {
				if o.Verdict == limits.Fail {
					r.Parameters = append(r.Parameters, o.Parameter)
				}
			}
			for _, fd := range x.Findings {
				r.Parameters = append(r.Parameters, fd.Code)
			}
			rows = append(rows, r)
		}
		if len(ss) < 500 {
			break
		}
		after = Key{At: ss[len(ss)-1].SampledAt, ID: ss[len(ss)-1].ID}
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows, nil
}
