package permit

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/geo"
)

func TestParseHours(t *testing.T) {
	tests := []struct {
		from, to  string
		want      Hours
		wantField string
	}{
		{"22:00", "05:00", Hours{From: 22 * 60, To: 5 * 60}, ""},
		{"09:30", "16:45", Hours{From: 9*60 + 30, To: 16*60 + 45}, ""},
		{"00:00", "24:00", Hours{From: 0, To: 24 * 60}, ""},
		{"24:00", "05:00", Hours{}, "from"},
		{"22:00", "22:00", Hours{}, "to"},
		{"7:00", "09:00", Hours{}, "from"},
		{"07:60", "09:00", Hours{}, "from"},
		{"07:00", "25:00", Hours{}, "to"},
		{"+1:00", "09:00", Hours{}, "from"},
		{"", "", Hours{}, "from"},
	}
	for _, tc := range tests {
		got, err := ParseHours(tc.from, tc.to)
		var ve *apperr.ValidationError
		switch {
		case tc.wantField == "" && (err != nil || got != tc.want):
			t.Errorf("ParseHours(%q, %q) = %v, %v; want %v", tc.from, tc.to, got, err, tc.want)
		case tc.wantField != "" && (!errors.As(err, &ve) || ve.Fields[0].Field != tc.wantField):
			t.Errorf("ParseHours(%q, %q) error = %v, want field %q", tc.from, tc.to, err, tc.wantField)
		}
	}
}

func TestHoursContains(t *testing.T) {
	loc := Shanghai()
	at := func(hhmm string) time.Time {
		t, err := time.ParseInLocation("2006-01-02 15:04:05", "2026-06-01 "+hhmm, loc)
		if err != nil {
			panic(err)
		}
		return t
	}
	night := Hours{From: 22 * 60, To: 5 * 60}
	day := Hours{From: 9 * 60, To: 17 * 60}
	all := Hours{From: 0, To: 24 * 60}
	tests := []struct {
		name string
		h    Hours
		at   time.Time
		want bool
	}{
		{"night window: at its start", night, at("22:00:00"), true},
		{"night window: a minute before", night, at("21:59:59"), false},
		{"night window: midnight", night, at("00:00:00"), true},
		{"night window: last minute", night, at("04:59:59"), true},
		{"night window: at its end", night, at("05:00:00"), false},
		{"night window: midday", night, at("12:00:00"), false},
		{"day window: inside", day, at("12:00:00"), true},
		{"day window: at its end", day, at("17:00:00"), false},
		{"day window: night", day, at("23:00:00"), false},
		{"whole day: midnight", all, at("00:00:00"), true},
		{"whole day: last second", all, at("23:59:59"), true},
		{"UTC instant read in Shanghai time", night, time.Date(2026, 6, 1, 15, 30, 0, 0, time.UTC), true},    // 23:30 local
		{"UTC instant outside in Shanghai time", night, time.Date(2026, 6, 1, 22, 0, 0, 0, time.UTC), false}, // 06:00 local
	}
	for _, tc := range tests {
		if got := tc.h.Contains(tc.at, loc); got != tc.want {
			t.Errorf("%s: Contains(%v) = %v, want %v", tc.name, tc.at, got, tc.want)
		}
	}
}

// square is the zone 112.40..112.50 E, 39.30..39.40 N.
func square(t *testing.T) geo.Shape {
	t.Helper()
	s, err := geo.Parse([]byte(`{"type":"Polygon","coordinates":[[[112.40,39.30],[112.50,39.30],[112.50,39.40],[112.40,39.40],[112.40,39.30]]]}`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAllowed(t *testing.T) {
	loc := Shanghai()
	local := func(s string) time.Time {
		t, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			panic(err)
		}
		return t.UTC()
	}
	zone := square(t)
	inside, edge, outside := geo.Point{Lon: 112.45, Lat: 39.35}, geo.Point{Lon: 112.50, Lat: 39.35}, geo.Point{Lon: 112.60, Lat: 39.35}
	permitOK := Permit{ID: "P1", State: Approved, ValidFrom: local("2026-06-01 00:00"), ValidTo: local("2026-07-01 00:00")}
	with := func(p Permit, f func(*Permit)) Permit { f(&p); return p }
	pass := Pass{ID: "S1", PermitID: "P1", Zone: zone, Hours: Hours{From: 22 * 60, To: 5 * 60}, ValidFrom: local("2026-06-01 00:00"), ValidTo: local("2026-06-15 00:00")}
	withPass := func(f func(*Pass)) Pass { p := pass; f(&p); return p }
	night := local("2026-06-10 23:30")
	tests := []struct {
		name    string
		at      time.Time
		pt      geo.Point
		permits []Permit
		passes  []Pass
		has     bool
		want    []string // reason codes; nil means allowed
	}{
		{"inside, at night, valid permit and pass", night, inside, []Permit{permitOK}, []Pass{pass}, true, nil},
		{"on the zone's edge counts as inside", night, edge, []Permit{permitOK}, []Pass{pass}, true, nil},
		{"after midnight in the window", local("2026-06-11 04:59"), inside, []Permit{permitOK}, []Pass{pass}, true, nil},
		{"at the window's end", local("2026-06-11 05:00"), inside, []Permit{permitOK}, []Pass{pass}, true, []string{"outside_hours"}},
		{"by day", local("2026-06-10 14:00"), inside, []Permit{permitOK}, []Pass{pass}, true, []string{"outside_hours"}},
		{"outside the zone (box holds the point, polygon does not)", night, outside, []Permit{permitOK}, []Pass{pass}, true, []string{"outside_zone"}},
		{"outside every zone (pre-filtered away)", night, outside, []Permit{permitOK}, nil, true, []string{"outside_zone"}},
		{"no pass at all", night, inside, []Permit{permitOK}, nil, false, []string{"no_pass"}},
		{"expired pass", local("2026-06-20 23:30"), inside, []Permit{permitOK}, []Pass{pass}, true, []string{"pass_expired"}},
		{"pass not yet valid", local("2026-05-31 23:30"), inside, []Permit{with(permitOK, func(p *Permit) { p.ValidFrom = local("2026-05-01 00:00") })}, []Pass{pass}, true, []string{"pass_not_yet_valid"}},
		{"cancelled pass", night, inside, []Permit{permitOK}, []Pass{withPass(func(p *Pass) { p.Cancelled, p.CancelReason = true, "route closed" })}, true, []string{"pass_cancelled"}},
		{"pass for a suspended permit", night, inside, []Permit{with(permitOK, func(p *Permit) { p.State, p.StateReason = Suspended, "site closed" })}, []Pass{pass}, true, []string{"permit_suspended"}},
		{"pass for a revoked permit", night, inside, []Permit{with(permitOK, func(p *Permit) { p.State = Revoked })}, []Pass{pass}, true, []string{"permit_revoked"}},
		{"permit expired by time", local("2026-07-02 23:30"), inside, []Permit{permitOK}, []Pass{withPass(func(p *Pass) { p.ValidTo = local("2026-08-01 00:00") })}, true, []string{"permit_expired"}},
		{"no permit", night, inside, nil, []Pass{pass}, true, []string{"no_permit"}},
		{"pending permit", night, inside, []Permit{with(permitOK, func(p *Permit) { p.State = Pending })}, []Pass{pass}, true, []string{"permit_pending"}},
		{"every failing condition: suspended, expired pass, by day", local("2026-06-20 14:00"), inside,
			[]Permit{with(permitOK, func(p *Permit) { p.State = Suspended })}, []Pass{pass}, true, []string{"permit_suspended", "pass_expired", "outside_hours"}},
		{"no permit and outside the zone", night, outside, nil, []Pass{pass}, true, []string{"no_permit", "outside_zone"}},
		{"the pass belongs to another permit that is not valid", night, inside,
			[]Permit{permitOK, {ID: "P2", State: Revoked, ValidFrom: permitOK.ValidFrom, ValidTo: permitOK.ValidTo}},
			[]Pass{withPass(func(p *Pass) { p.PermitID = "P2" })}, true, []string{"pass_permit_not_valid"}},
		{"a second pass allows it", local("2026-06-10 14:00"), inside, []Permit{permitOK},
			[]Pass{pass, withPass(func(p *Pass) { p.ID, p.Hours = "S2", Hours{From: 9 * 60, To: 17 * 60} })}, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Allowed(AllowedInput{At: tc.at, Point: tc.pt, Permits: tc.permits, Candidates: tc.passes, HasPasses: tc.has, Loc: loc})
			if tc.want == nil {
				if !v.Allowed || len(v.Reasons) != 0 || v.PassID == "" || v.PermitID == "" {
					t.Fatalf("Allowed = %+v, want allowed", v)
				}
				return
			}
			if v.Allowed || !slices.Equal(codes(v.Reasons), tc.want) {
				t.Fatalf("Allowed = %v %v, want refused with %v", v.Allowed, codes(v.Reasons), tc.want)
			}
		})
	}
}

func TestSummaryOf(t *testing.T) {
	now := time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	p := func(id string, st State, created, from, to time.Time) Permit {
		return Permit{ID: id, VIN: "V", State: st, CreatedAt: created, ValidFrom: from, ValidTo: to, FromSite: "C1", ToSite: "D1"}
	}
	r := PlateRecords{Plate: "晋F56789", Colour: "yellow",
		Permits: []Permit{
			p("old", Approved, now.Add(-200*day), now.Add(-200*day), now.Add(-100*day)), // ended long ago: left out
			p("ended", Approved, now.Add(-50*day), now.Add(-50*day), now.Add(-10*day)),  // expired recently: listed as expired
			p("live", Suspended, now.Add(-5*day), now.Add(-5*day), now.Add(20*day)),     // suspended
			p("queued", Pending, now.Add(-1*day), now.Add(1*day), now.Add(30*day)),      // pending
		},
		Passes: []Pass{
			{ID: "S1", PermitID: "live", Zone: square(t), Hours: Hours{From: 22 * 60, To: 5 * 60}, ValidFrom: now.Add(-day), ValidTo: now.Add(day)},
			{ID: "S2", PermitID: "live", Zone: square(t), ValidFrom: now.Add(-3 * day), ValidTo: now.Add(-day)},
			{ID: "S3", PermitID: "live", Zone: square(t), ValidFrom: now, ValidTo: now.Add(day), Cancelled: true},
		},
		Violations: []Violation{{ID: "X1", Kind: LeakyCover, ObservedAt: now.Add(-day), FromSite: "C1", RevokedPermits: []string{"p"}}},
	}
	m := SummaryOf(r, now)
	var ids, states []string
	for _, x := range m.Permits {
		ids, states = append(ids, x.PermitID), append(states, x.State)
	}
	if !slices.Equal(ids, []string{"queued", "live", "ended"}) || !slices.Equal(states, []string{"pending", "suspended", "expired"}) {
		t.Fatalf("permits = %v %v", ids, states)
	}
	if m.PermitState != "suspended" || m.VIN != "V" || m.Timezone != "Asia/Shanghai" {
		t.Fatalf("summary = %+v, want permit_state suspended", m)
	}
	if len(m.Passes) != 1 || m.Passes[0].PassID != "S1" || m.Passes[0].Hours.From != "22:00" || m.Passes[0].Hours.To != "05:00" ||
		m.Passes[0].BBox != [4]float64{112.40, 39.30, 112.50, 39.40} {
		t.Fatalf("passes = %+v", m.Passes)
	}
	if z, err := geo.Parse(m.Passes[0].Zone); err != nil || !z.Contains(geo.Point{Lon: 112.45, Lat: 39.35}) {
		t.Fatalf("pass zone does not parse back: %v", err)
	}
	if len(m.RecentViolations) != 1 || !m.RecentViolations[0].Revoked {
		t.Fatalf("violations = %+v", m.RecentViolations)
	}
	empty := SummaryOf(PlateRecords{Plate: "晋F00000", Colour: "yellow"}, now)
	if empty.PermitState != "none" || empty.Permits == nil || empty.Passes == nil || empty.RecentViolations == nil {
		t.Fatalf("empty summary = %+v, want state none and empty lists", empty)
	}
}
