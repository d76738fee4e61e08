package sampling

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

// Quota is a sampling quota on a kind of site: a share of the sites to sample every month and
// a share within the year.
type Quota struct {
	Kind         Kind
	MonthlyShare float64
	YearlyShare  float64
	Rule         string
}

// DefaultQuotas are the quotas of the action plan: oil depots (enterprises' own depots
// included) at least 20 % a month and all within the year (task 14); household coal sellers at
// least 10 % a month and 100 % within the year (task 7).
func DefaultQuotas() []Quota {
	return []Quota{
		{Kind: OilDepot, MonthlyShare: 0.2, YearlyShare: 1, Rule: "task 14: oil depots, enterprises' own depots included, at least 20 % sampled every month and all within the year"},
		{Kind: CoalSeller, MonthlyShare: 0.1, YearlyShare: 1, Rule: "task 7: household coal sellers at least 10 % sampled every month and 100 % within the year"},
	}
}

// inPopulation reports whether site s counts towards quota q in the calendar days
// [first, last]: a licensed site of the quota's kind operating at some time in the period.
// Unlicensed ("black") sites are to be shut down, not sampled to a quota.
func (q Quota) inPopulation(s Site, first, last time.Time) bool {
	return s.Kind == q.Kind && !s.Unlicensed && s.Operating(first, last)
}

// required is how many of n sites a share asks for, rounded up (20 % of 7 depots is 2).
func required(share float64, n int) int {
	return int(math.Ceil(share*float64(n) - 1e-9))
}

// SiteMonth counts a site's supervisory samples in one month ("YYYY-MM").
type SiteMonth struct {
	SiteID  string
	Month   string
	Samples int
}

// Figure is coverage against a quota over one period.
type Figure struct {
	Period     string
	Population int
	Sampled    int
	Required   int
	Share      float64
	Target     float64
	Met        bool
}

func figure(period string, target float64, population []Site, sampled map[string]bool) Figure {
	f := Figure{Period: period, Population: len(population), Target: target}
	for _, s := range population {
		if sampled[s.ID] {
			f.Sampled++
		}
	}
	f.Required = required(target, f.Population)
	if f.Population > 0 {
		f.Share = float64(f.Sampled) / float64(f.Population)
	}
	f.Met = f.Sampled >= f.Required
	return f
}

// MonthlyCoverage is the coverage of quota q in month m: the sites operating that month that
// had at least one supervisory sample in it, against the monthly share.
func MonthlyCoverage(q Quota, m Month, sites []Site, counts []SiteMonth) Figure {
	var pop []Site
	for _, s := range sites {
		if q.inPopulation(s, m.FirstDay(), m.LastDay()) {
			pop = append(pop, s)
		}
	}
	sampled := map[string]bool{}
	for _, c := range counts {
		if c.Month == m.String() && c.Samples > 0 {
			sampled[c.SiteID] = true
		}
	}
	return figure(m.String(), q.MonthlyShare, pop, sampled)
}

// YearCoverage is the coverage of a quota over a year.
type YearCoverage struct {
	Year Figure
	// Months has one figure per month of the year up to the last one reported.
	Months []Figure
	// Unsampled lists the sites of the year's population not sampled yet within it.
	Unsampled []Site
}

// YearlyCoverage is the coverage of quota q in year: the sites operating at some time in the
// year that had a supervisory sample in it, against the yearly share, with each month's figure
// up to and including through (a month of that year; earlier years report all twelve).
func YearlyCoverage(q Quota, year int, through Month, sites []Site, counts []SiteMonth) YearCoverage {
	first, last := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(year, 12, 31, 0, 0, 0, 0, time.UTC)
	var pop []Site
	for _, s := range sites {
		if q.inPopulation(s, first, last) {
			pop = append(pop, s)
		}
	}
	sampled := map[string]bool{}
	for _, c := range counts {
		if m, err := ParseMonth(c.Month); err == nil && m.Year == year && c.Samples > 0 {
			sampled[c.SiteID] = true
		}
	}
	yc := YearCoverage{Year: figure(fmt.Sprint(year), q.YearlyShare, pop, sampled)}
	for m := (Month{year, time.January}); m.Year == year && !through.Before(m); m = m.Next() {
		yc.Months = append(yc.Months, MonthlyCoverage(q, m, sites, counts))
	}
	for _, s := range pop {
		if !sampled[s.ID] {
			yc.Unsampled = append(yc.Unsampled, s)
		}
	}
	return yc
}

// SampleStat is what planning needs of a stored sample.
type SampleStat struct {
	SiteID    string
	SampledAt time.Time
	Verdict   limits.Verdict
	Source    Source
}

// Candidate is a site a plan may propose for sampling.
type Candidate struct {
	Site Site
	// LastSampledAt is the last supervisory sample's instant; zero when never sampled.
	LastSampledAt time.Time
	// Failures counts failing samples (of any source) in the failure window before the month.
	Failures        int
	LastFailureAt   time.Time
	SampledThisYear bool
	Reason          string
}

// Proposal is a plan proposal for one quota and month.
type Proposal struct {
	Month             Month
	Quota             Quota
	Population        int
	SampledThisMonth  int
	RequiredThisMonth int
	// UnsampledThisYear counts the sites not yet sampled this year; MonthsLeft the months left
	// in the year, this one included, to sample them in.
	UnsampledThisYear int
	MonthsLeft        int
	// Size is how many sites are proposed: enough to meet the monthly share and to stay on pace
	// for sampling every site within the year, unless the caller asked for another number.
	Size  int
	Sites []Candidate
}

// Propose plans month m for quota q: of the sites operating that month and not yet sampled in
// it, those with failures in the failureMonths before come first (most failures, then the most
// recent), then those never sampled, then those sampled longest ago. size > 0 overrides the
// computed size.
func Propose(q Quota, m Month, sites []Site, stats []SampleStat, failureMonths, size int) Proposal {
	p := Proposal{Month: m, Quota: q, MonthsLeft: 12 - int(m.Month) + 1}
	start, end := m.Start(), m.End()
	yearStart := Month{m.Year, time.January}.Start()
	failFrom := start.AddDate(0, -failureMonths, 0)
	type hist struct {
		last, lastFail  time.Time
		fails           int
		thisMonth, year bool
	}
	h := map[string]*hist{}
	for _, st := range stats {
		if !st.SampledAt.Before(end) {
			continue
		}
		x := h[st.SiteID]
		if x == nil {
			x = &hist{}
			h[st.SiteID] = x
		}
		if st.Verdict == limits.Fail && !st.SampledAt.Before(failFrom) {
			x.fails++
			if st.SampledAt.After(x.lastFail) {
				x.lastFail = st.SampledAt
			}
		}
		if st.Source != Supervisory {
			continue
		}
		if st.SampledAt.After(x.last) {
			x.last = st.SampledAt
		}
		if !st.SampledAt.Before(start) {
			x.thisMonth = true
		}
		if !st.SampledAt.Before(yearStart) {
			x.year = true
		}
	}
	var cands []Candidate
	sampledYear := 0
	for _, s := range sites {
		if !q.inPopulation(s, m.FirstDay(), m.LastDay()) {
			continue
		}
		p.Population++
		x := h[s.ID]
		if x == nil {
			x = &hist{}
		}
		if x.year {
			sampledYear++
		} else {
			p.UnsampledThisYear++
		}
		if x.thisMonth {
			p.SampledThisMonth++
			continue
		}
		c := Candidate{Site: s, LastSampledAt: x.last, Failures: x.fails, LastFailureAt: x.lastFail, SampledThisYear: x.year}
		switch {
		case c.Failures > 0:
			c.Reason = fmt.Sprintf("%d failing sample(s) in the last %d months, the latest on %s", c.Failures, failureMonths, localtime.DayOf(c.LastFailureAt).Format(time.DateOnly))
		case c.LastSampledAt.IsZero():
			c.Reason = "never sampled"
		default:
			c.Reason = "last sampled on " + localtime.DayOf(c.LastSampledAt).Format(time.DateOnly)
		}
		cands = append(cands, c)
	}
	slices.SortFunc(cands, func(a, b Candidate) int {
		if (a.Failures > 0) != (b.Failures > 0) {
			if a.Failures > 0 {
				return -1
			}
			return 1
		}
		if a.Failures > 0 {
			if c := cmp.Compare(b.Failures, a.Failures); c != 0 {
				return c
			}
			if c := b.LastFailureAt.Compare(a.LastFailureAt); c != 0 {
				return c
			}
		}
		if c := a.LastSampledAt.Compare(b.LastSampledAt); c != 0 { // zero (never) sorts first
			return c
		}
		return cmp.Compare(a.Site.ID, b.Site.ID)
	})
	p.RequiredThisMonth = required(q.MonthlyShare, p.Population)
	p.Size = max(p.RequiredThisMonth-p.SampledThisMonth, 0)
	needYear := max(required(q.YearlyShare, p.Population)-sampledYear, 0)
	p.Size = max(p.Size, int(math.Ceil(float64(needYear)/float64(p.MonthsLeft))))
	if size > 0 {
		p.Size = size
	}
	p.Size = min(p.Size, len(cands))
	p.Sites = cands[:p.Size]
	return p
}
