package sampling

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

// network is a supply network for trace-back tests:
//
//	S1 (station) <- DA, DB (depots), U1 (urea seller)
//	DA <- R1 (refinery), GHOST (not registered)
//	DB <- DC, R1;  DC <- DB (a loop between two depots)
//	R1 <- I1 (importer);  U1 <- P1 (producer)
//	S2 <- DA;  S3 <- DB;  S4 <- DX (not connected)
func network() map[string]Site {
	sites := []Site{
		{ID: "S1", Kind: FillingStation, Suppliers: []string{"DA", "DB", "U1"}},
		{ID: "DA", Kind: OilDepot, Suppliers: []string{"R1", "GHOST"}},
		{ID: "DB", Kind: OilDepot, Suppliers: []string{"DC", "R1"}},
		{ID: "DC", Kind: OilDepot, Suppliers: []string{"DB"}},
		{ID: "R1", Kind: Refinery, Suppliers: []string{"I1"}},
		{ID: "I1", Kind: Importer},
		{ID: "U1", Kind: UreaSeller, Suppliers: []string{"P1"}},
		{ID: "P1", Kind: Producer},
		{ID: "S2", Kind: FillingStation, Suppliers: []string{"DA"}},
		{ID: "S3", Kind: FillingStation, Suppliers: []string{"DB"}},
		{ID: "S4", Kind: FillingStation, Suppliers: []string{"DX"}},
		{ID: "DX", Kind: OilDepot},
	}
	m := map[string]Site{}
	for _, s := range sites {
		s.Name = "site " + s.ID
		m[s.ID] = s
	}
	return m
}

func getter(m map[string]Site, calls *int) SiteGetter {
	return func(_ context.Context, ids []string) (map[string]Site, error) {
		*calls++
		out := map[string]Site{}
		for _, id := range ids {
			if s, ok := m[id]; ok {
				out[id] = s
			}
		}
		return out, nil
	}
}

func upstreamIDs(c Chain) []string {
	var out []string
	for _, l := range c.Upstream {
		out = append(out, l.SiteID)
	}
	return out
}

func TestWalk(t *testing.T) {
	net := network()
	cases := []struct {
		name      string
		start     string
		product   limits.Product
		depth     int
		upstream  []string
		cycles    []string
		missing   []string
		truncated bool
	}{
		{"petrol: depots, refinery and importer, a loop and a missing supplier", "S1", limits.Gasoline, 6,
			[]string{"DA", "DB", "R1", "DC", "I1"}, []string{"DB <- DC <- DB"}, []string{"GHOST"}, false},
		{"depth bound stops the walk", "S1", limits.Gasoline, 2,
			[]string{"DA", "DB", "R1", "DC"}, nil, []string{"GHOST"}, true},
		{"urea follows the urea seller only", "S1", limits.Urea, 6, []string{"U1", "P1"}, nil, nil, false},
		{"no product: every supplier", "S1", "", 1, []string{"DA", "DB", "U1"}, nil, nil, true},
		{"a depot inside the loop", "DC", limits.Diesel, 6, []string{"DB", "R1", "I1"}, []string{"DC <- DB <- DC"}, nil, false},
		{"an importer has no suppliers", "I1", limits.Diesel, 6, nil, nil, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			c, err := Walk(context.Background(), net[tc.start], tc.product, tc.depth, getter(net, &calls))
			if err != nil {
				t.Fatal(err)
			}
			if got := upstreamIDs(c); !slices.Equal(got, tc.upstream) {
				t.Errorf("upstream = %v, want %v", got, tc.upstream)
			}
			if !slices.Equal(c.Cycles, tc.cycles) {
				t.Errorf("cycles = %v, want %v", c.Cycles, tc.cycles)
			}
			if !slices.Equal(c.Missing, tc.missing) {
				t.Errorf("missing = %v, want %v", c.Missing, tc.missing)
			}
			if c.Truncated != tc.truncated {
				t.Errorf("truncated = %v, want %v", c.Truncated, tc.truncated)
			}
			if calls > tc.depth {
				t.Errorf("%d store reads for depth %d: the walk reads one level at a time", calls, tc.depth)
			}
		})
	}
}

func TestWalkLinksAndFollowUps(t *testing.T) {
	net := network()
	calls := 0
	c, err := Walk(context.Background(), net["S1"], limits.Gasoline, 6, getter(net, &calls))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		depth    int
		supplies string
	}{"DA": {1, "S1"}, "DB": {1, "S1"}, "R1": {2, "DA"}, "DC": {2, "DB"}, "I1": {3, "R1"}}
	for _, l := range c.Upstream {
		if w := want[l.SiteID]; l.Depth != w.depth || l.Supplies != w.supplies {
			t.Errorf("link %s = depth %d supplies %s, want %d %s", l.SiteID, l.Depth, l.Supplies, w.depth, w.supplies)
		}
	}
	if got := c.directSuppliers(); !slices.Equal(got, []string{"DA", "DB"}) {
		t.Errorf("direct suppliers = %v", got)
	}
	supplied := []Site{net["S1"], net["S2"], net["S3"], net["DC"], net["S4"]}
	exposed := exposedFrom(c, supplied, limits.Gasoline)
	if len(exposed) != 2 || exposed[0].SiteID != "S2" || exposed[0].Supplies != "DA" || exposed[1].SiteID != "S3" || exposed[1].Supplies != "DB" {
		t.Errorf("exposed = %+v, want S2 via DA and S3 via DB", exposed)
	}
	fu := FollowUps(c, limits.Gasoline, "SMP-1")
	var ids []string
	for _, f := range fu {
		ids = append(ids, f.SiteID)
		if f.Priority != want[f.SiteID].depth || f.Product != limits.Gasoline || f.Reason == "" {
			t.Errorf("follow-up %+v", f)
		}
	}
	if !slices.Equal(ids, []string{"DA", "DB", "R1", "DC", "I1"}) {
		t.Errorf("follow-ups = %v, want nearest first", ids)
	}
}

func TestWalkStoreError(t *testing.T) {
	boom := errors.New("boom")
	_, err := Walk(context.Background(), Site{ID: "S", Suppliers: []string{"D"}}, "", 3,
		func(context.Context, []string) (map[string]Site, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want the store's", err)
	}
}

func TestSiteValidate(t *testing.T) {
	today := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	good := func() Site {
		return Site{ID: "st-01", Kind: FillingStation, Name: "Station 1", Operator: "Sinopec", Lat: 39.33, Lon: 112.43, Licence: "LIC-1", Suppliers: []string{"dep-1"}}
	}
	cases := []struct {
		name   string
		change func(*Site)
		field  string
	}{
		{"valid", func(*Site) {}, ""},
		{"bad id", func(s *Site) { s.ID = "a b" }, "site_id"},
		{"unknown kind", func(s *Site) { s.Kind = "shop" }, "kind"},
		{"no licence", func(s *Site) { s.Licence = "" }, "licence"},
		{"unlicensed needs the inspection", func(s *Site) { s.Licence, s.Unlicensed = "", true }, "inspection_ref"},
		{"unlicensed with licence", func(s *Site) { s.Unlicensed, s.InspectionRef = true, "INS-1" }, "licence"},
		{"unlicensed without operator", func(s *Site) { s.Licence, s.Unlicensed, s.InspectionRef, s.Operator = "", true, "INS-1", "" }, ""},
		{"own depot only for depots", func(s *Site) { s.OwnDepot = true }, "own_depot"},
		{"no location", func(s *Site) { s.Lat, s.Lon = 0, 0 }, "lat"},
		{"longitude out of range", func(s *Site) { s.Lon = 190 }, "lon"},
		{"supplies itself", func(s *Site) { s.Suppliers = []string{"st-01"} }, "suppliers[0]"},
		{"supplier twice", func(s *Site) { s.Suppliers = []string{"d", "d"} }, "suppliers[1]"},
		{"an importer has no suppliers", func(s *Site) { s.Kind = Importer }, "suppliers[0]"},
		{"closed before opening", func(s *Site) { s.OperatingSince, s.ClosedOn = today, today.AddDate(0, 0, -1) }, "closed_on"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := good()
			tc.change(&s)
			err := s.Validate(today)
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !s.OperatingSince.Equal(today) && s.ClosedOn.IsZero() {
					t.Fatalf("operating_since = %v, want today when not given", s.OperatingSince)
				}
				return
			}
			var ve *apperr.ValidationError
			if !errors.As(err, &ve) || ve.Fields[0].Field != tc.field {
				t.Fatalf("error = %v, want field %s", err, tc.field)
			}
		})
	}
	found := map[string]Site{"dep-1": {ID: "dep-1", Kind: OilDepot}, "coal-1": {ID: "coal-1", Kind: CoalSeller}}
	s := good()
	if err := s.checkSuppliers(found); err != nil {
		t.Fatalf("a depot supplying a station: %v", err)
	}
	s.Suppliers = []string{"coal-1", "nope"}
	var ve *apperr.ValidationError
	if err := s.checkSuppliers(found); !errors.As(err, &ve) || len(ve.Fields) != 2 {
		t.Fatalf("checkSuppliers(coal seller, unknown) = %v, want two field errors", err)
	}
}

func TestDayAndMonthInChina(t *testing.T) {
	at := time.Date(2022, 12, 31, 20, 0, 0, 0, time.UTC) // 04:00 on 2023-01-01 in China
	if got := localtime.DayOf(at); !got.Equal(time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("DayOf = %v, want 2023-01-01", got)
	}
	if got := MonthOf(at).String(); got != "2023-01" {
		t.Fatalf("MonthOf = %s, want 2023-01", got)
	}
	m, err := ParseMonth("2026-03")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Start().Equal(time.Date(2026, 2, 28, 16, 0, 0, 0, time.UTC)) || !m.End().Equal(time.Date(2026, 3, 31, 16, 0, 0, 0, time.UTC)) {
		t.Fatalf("March 2026 = [%v, %v)", m.Start(), m.End())
	}
	if !m.LastDay().Equal(time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)) || (Month{2026, time.December}).Next() != (Month{2027, time.January}) {
		t.Fatal("month arithmetic")
	}
	if _, err := ParseMonth("2026-13"); err == nil {
		t.Fatal("ParseMonth accepted month 13")
	}
}
