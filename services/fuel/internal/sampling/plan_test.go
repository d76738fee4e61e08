package sampling

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// at is noon, China time, of a day.
func at(s string) time.Time { return date(s).Add(4 * time.Hour) }

// depots is the seeded population: D01..D10 operating since 2020, D11 an unlicensed ("black")
// depot, D12 closed on 2026-02-15, D13 operating from 2026-06-01.
func depots() []Site {
	var out []Site
	for i := 1; i <= 13; i++ {
		s := Site{ID: fmt.Sprintf("D%02d", i), Kind: OilDepot, OperatingSince: date("2020-01-01")}
		switch i {
		case 11:
			s.Unlicensed = true
		case 12:
			s.ClosedOn = date("2026-02-15")
		case 13:
			s.OperatingSince = date("2026-06-01")
		}
		out = append(out, s)
	}
	out = append(out, Site{ID: "S01", Kind: FillingStation, OperatingSince: date("2020-01-01")})
	return out
}

// depotCounts are the supervisory samples of 2026 per site and month.
var depotCounts = []SiteMonth{
	{"D03", "2026-01", 1}, {"D12", "2026-02", 1}, {"D01", "2026-03", 2}, {"D02", "2026-03", 1}, {"D12", "2026-03", 1},
	{"D11", "2026-03", 1}, {"D04", "2026-05", 1}, {"D13", "2026-06", 1}, {"D05", "2025-12", 1},
}

func TestMonthlyCoverage(t *testing.T) {
	q := DefaultQuotas()[0]
	cases := []struct {
		month                        string
		population, sampled, require int
		met                          bool
	}{
		// March: D01..D10 operate (D12 closed in February, D13 opens in June, D11 is black);
		// D01 and D02 sampled; the samples at D11 and the closed D12 do not count.
		{"2026-03", 10, 2, 2, true},
		// February: D12 still operated for half of it: 11 depots, 20 % is 3 (2.2 rounded up).
		{"2026-02", 11, 1, 3, false},
		{"2026-04", 10, 0, 2, false},
		{"2026-06", 11, 1, 3, false},
	}
	for _, tc := range cases {
		t.Run(tc.month, func(t *testing.T) {
			m, _ := ParseMonth(tc.month)
			f := MonthlyCoverage(q, m, depots(), depotCounts)
			if f.Population != tc.population || f.Sampled != tc.sampled || f.Required != tc.require || f.Met != tc.met || f.Target != 0.2 {
				t.Fatalf("coverage = %+v, want population %d sampled %d required %d met %v", f, tc.population, tc.sampled, tc.require, tc.met)
			}
			if want := float64(tc.sampled) / float64(tc.population); f.Share != want {
				t.Fatalf("share = %v, want %v", f.Share, want)
			}
		})
	}
	coal := DefaultQuotas()[1]
	var sellers []Site
	var counts []SiteMonth
	for i := 1; i <= 25; i++ {
		sellers = append(sellers, Site{ID: fmt.Sprintf("C%02d", i), Kind: CoalSeller, OperatingSince: date("2019-01-01")})
		if i <= 3 {
			counts = append(counts, SiteMonth{fmt.Sprintf("C%02d", i), "2026-03", 1})
		}
	}
	if f := MonthlyCoverage(coal, Month{2026, time.March}, sellers, counts); f.Population != 25 || f.Required != 3 || f.Sampled != 3 || !f.Met {
		t.Fatalf("coal March = %+v, want 3 of 25 meeting 10 %%", f)
	}
	if f := MonthlyCoverage(coal, Month{2026, time.March}, sellers, counts[:2]); f.Met {
		t.Fatalf("coal March with 2 of 25 = %+v, want not met", f)
	}
}

func TestYearlyCoverage(t *testing.T) {
	q := DefaultQuotas()[0]
	y := YearlyCoverage(q, 2026, Month{2026, time.June}, depots(), depotCounts)
	// Population over 2026: D01..D10, D12 and D13; sampled: D01, D02, D03, D04, D12, D13.
	if y.Year.Population != 12 || y.Year.Sampled != 6 || y.Year.Required != 12 || y.Year.Met || y.Year.Share != 0.5 || y.Year.Period != "2026" {
		t.Fatalf("year = %+v", y.Year)
	}
	var unsampled []string
	for _, s := range y.Unsampled {
		unsampled = append(unsampled, s.ID)
	}
	if !slices.Equal(unsampled, []string{"D05", "D06", "D07", "D08", "D09", "D10"}) {
		t.Fatalf("unsampled = %v", unsampled)
	}
	if len(y.Months) != 6 || y.Months[0].Period != "2026-01" || y.Months[2].Sampled != 2 || !y.Months[2].Met || y.Months[5].Population != 11 {
		t.Fatalf("months = %+v", y.Months)
	}
	full := YearlyCoverage(q, 2025, Month{2025, time.December}, depots(), depotCounts)
	if len(full.Months) != 12 || full.Year.Sampled != 1 || full.Year.Population != 11 { // D13 opens in 2026
		t.Fatalf("2025 = %+v (months %d)", full.Year, len(full.Months))
	}
	all := append([]SiteMonth{}, depotCounts...)
	for _, id := range []string{"D05", "D06", "D07", "D08", "D09", "D10"} {
		all = append(all, SiteMonth{id, "2026-11", 1})
	}
	if y := YearlyCoverage(q, 2026, Month{2026, time.December}, depots(), all); !y.Year.Met || len(y.Unsampled) != 0 {
		t.Fatalf("every depot sampled = %+v", y.Year)
	}
}

func TestPropose(t *testing.T) {
	q := DefaultQuotas()[0]
	stats := []SampleStat{
		{"D01", at("2026-03-05"), limits.Pass, Supervisory},
		{"D01", at("2026-03-20"), limits.Fail, Supervisory},
		{"D05", at("2026-02-01"), limits.Fail, SelfCheck}, // a failure, but no supervisory sample
		{"D02", at("2026-03-10"), limits.Pass, Supervisory},
		{"D03", at("2026-01-15"), limits.Pass, Supervisory},
		{"D04", at("2026-05-02"), limits.Pass, Supervisory}, // after April: not known to an April plan
		{"D06", at("2025-04-01"), limits.Pass, Supervisory},
		{"D07", at("2024-12-01"), limits.Pass, Supervisory},
		{"D09", at("2024-01-01"), limits.Fail, Supervisory}, // outside the 12-month failure window
		{"D09", at("2024-02-01"), limits.Pass, SelfCheck},   // a self-check is not a sampling
		{"D11", at("2026-03-01"), limits.Fail, Supervisory}, // black depot: not planned
	}
	april := Month{2026, time.April}
	p := Propose(q, april, depots(), stats, 12, 0)
	if p.Population != 10 || p.SampledThisMonth != 0 || p.RequiredThisMonth != 2 || p.UnsampledThisYear != 7 || p.MonthsLeft != 9 || p.Size != 2 {
		t.Fatalf("proposal figures = %+v", p)
	}
	if ids := candidateIDs(p.Sites); !slices.Equal(ids, []string{"D01", "D05"}) {
		t.Fatalf("proposed = %v, want past failures first", ids)
	}
	all := Propose(q, april, depots(), stats, 12, 20)
	want := []string{"D01", "D05", "D04", "D08", "D10", "D09", "D07", "D06", "D03", "D02"}
	if ids := candidateIDs(all.Sites); !slices.Equal(ids, want) {
		t.Fatalf("ranking = %v, want %v (failures, never sampled, longest ago)", ids, want)
	}
	if all.Sites[0].Failures != 1 || all.Sites[2].Reason != "never sampled" || !all.Sites[0].SampledThisYear || all.Sites[6].Reason != "last sampled on 2024-12-01" {
		t.Fatalf("candidates = %+v", all.Sites)
	}
	// March: D01 and D02 are sampled already; they are not proposed again.
	mar := Propose(q, Month{2026, time.March}, depots(), stats, 12, 20)
	if mar.SampledThisMonth != 2 || slices.Contains(candidateIDs(mar.Sites), "D01") || slices.Contains(candidateIDs(mar.Sites), "D02") {
		t.Fatalf("March proposal = %+v", mar)
	}
	if mar.Size != 8 {
		t.Fatalf("March size with override 20 = %d, want the 8 candidates left", mar.Size)
	}
	// Late in the year, the year's quota sets the pace: 10 depots unsampled in November, two
	// months left: 5 a month.
	nov := Propose(q, Month{2026, time.November}, depots()[:10], nil, 12, 0)
	if nov.Size != 5 || nov.RequiredThisMonth != 2 || nov.MonthsLeft != 2 {
		t.Fatalf("November proposal = %+v, want 5 to finish the year", nov)
	}
}

func candidateIDs(cs []Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Site.ID)
	}
	return out
}
