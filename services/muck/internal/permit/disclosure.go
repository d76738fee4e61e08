package permit

import (
	"context"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/disclosure"
)

// Disclosure is the month's muck-truck violations by construction site as the public may see
// them (libs/disclosure): the site's name, its developer and contractor (companies), and the
// violations recorded on the month's days (China), by kind; violations whose site is not known
// are one row without a name. Most violations first. For the bureau and the disclosure service.
func (s *Service) Disclosure(ctx context.Context, p auth.Principal, m disclosure.Month) ([]disclosure.MuckRow, error) {
	if !p.Is(auth.Bureau, auth.System) {
		return nil, forbidden("role %s may not compile a disclosure list", p.Role)
	}
	from, to := m.Bounds()
	counts, err := s.violations.SiteCounts(ctx, from.Format(time.DateOnly), to.AddDate(0, 0, -1).Format(time.DateOnly))
	if err != nil {
		return nil, err
	}
	rows, err := s.siteRows(ctx, counts)
	if err != nil {
		return nil, err
	}
	out := make([]disclosure.MuckRow, 0, len(rows))
	for _, r := range rows {
		d := disclosure.MuckRow{Site: r.Name, Developer: r.Developer, Contractor: r.Contractor, Total: r.Total, ByKind: map[string]int{}}
		for k, n := range r.ByKind {
			d.ByKind[string(k)] = n
		}
		out = append(out, d)
	}
	return out, nil
}
