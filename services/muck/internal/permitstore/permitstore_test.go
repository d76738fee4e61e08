package permitstore_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/geo"
	"github.com/clearsky/clearsky/libs/mongodb"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/services/muck/internal/permit"
	"github.com/clearsky/clearsky/services/muck/internal/permitstore"
)

func newStore(t *testing.T) *permitstore.Store {
	t.Helper()
	s := permitstore.New(testenv.Mongo(t))
	if err := s.EnsureIndexes(context.Background(), mongodb.AllIndexes); err != nil {
		t.Fatal(err)
	}
	return s
}

func shape(t *testing.T, s string) geo.Shape {
	t.Helper()
	sh, err := geo.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

const squareZone = `{"type":"Polygon","coordinates":[[[112.40,39.30],[112.50,39.30],[112.50,39.40],[112.40,39.40],[112.40,39.30]]]}`
const farZone = `{"type":"MultiPolygon","coordinates":[[[[113,40],[113.1,40],[113.1,40.1],[113,40]]]]}`

var t0 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func samplePermit(id, vin string) permit.Permit {
	return permit.Permit{ID: id, VIN: vin, Plate: "晋F56789", PlateColour: "yellow", FleetID: "f1", FromSite: "C1", ToSite: "D1",
		ValidFrom: t0, ValidTo: t0.AddDate(0, 1, 0), Enclosed: true, GPS: true, Video: true, State: permit.Pending,
		Findings: []permit.Reason{}, History: []permit.Event{{Action: permit.Apply, To: permit.Pending, At: t0, By: "fleet@f1", Role: auth.Fleet}},
		Fingerprint: "fp", CreatedAt: t0, UpdatedAt: t0, Version: 1}
}

func TestIndexes(t *testing.T) {
	want := map[string][]string{
		permitstore.Sites:      {"kind_bbox", "kind_id"},
		permitstore.Permits:    {"fleet_id", "outbox_due", "plate_key", "state_valid_to", "vin_created"},
		permitstore.Passes:     {"fleet_id", "outbox_due", "permit_id", "plate_key", "vin_bbox"},
		permitstore.Violations: {"day_site_kind", "fleet_id", "outbox_due", "plate_observed", "revoke_pending", "site_day", "vin_observed"},
	}
	got := map[string][]string{}
	for _, ix := range permitstore.Indexes {
		got[ix.Collection] = append(got[ix.Collection], ix.Name)
	}
	for c, names := range want {
		g := got[c]
		sort.Strings(g)
		if !slices.Equal(g, names) {
			t.Errorf("indexes of %s = %v, want %v", c, g, names)
		}
	}
	if len(got) != len(want) {
		t.Errorf("indexes on %d collections, want %d", len(got), len(want))
	}
	// And they are created on the server.
	db := testenv.Mongo(t)
	if err := permitstore.New(db).EnsureIndexes(context.Background(), mongodb.AllIndexes); err != nil {
		t.Fatal(err)
	}
	specs, err := db.Collection(permitstore.Violations).Indexes().ListSpecifications(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != len(want[permitstore.Violations])+1 { // + _id
		t.Fatalf("violation indexes on the server = %d, want %d", len(specs), len(want[permitstore.Violations])+1)
	}
}

func TestSiteRoundTripAndBoxPrefilter(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	c := permit.Site{ID: "C1", Kind: permit.Construction, Name: "Site", Address: "Road 1", Area: shape(t, squareZone), Developer: "Dev",
		Contractor: "Con", PeriodFrom: t0, PeriodTo: t0.AddDate(1, 0, 0), DustControl: permit.DustControl{Hoarding: true, Video: true},
		Fingerprint: "fp", CreatedAt: t0, CreatedBy: "construction@zj"}
	d := permit.Site{ID: "D1", Kind: permit.Disposal, Name: "Dump", Area: shape(t, farZone), AcceptedMaterials: []string{"spoil"},
		OpeningHours: &permit.Hours{From: 20 * 60, To: 6 * 60}, Fingerprint: "fp2", CreatedAt: t0}
	for _, site := range []permit.Site{c, d} {
		if err := s.InsertSite(ctx, site); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertSite(ctx, c); !errors.Is(err, permit.ErrDuplicateID) {
		t.Fatalf("second insert error = %v, want ErrDuplicateID", err)
	}
	got, err := s.GetSite(ctx, "C1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Developer != "Dev" || !got.PeriodTo.Equal(c.PeriodTo) || got.DustControl != c.DustControl || got.Area.BBox() != c.Area.BBox() {
		t.Fatalf("GetSite = %+v", got)
	}
	gd, err := s.GetSite(ctx, "D1")
	if err != nil || !gd.Area.Multi || gd.OpeningHours == nil || *gd.OpeningHours != *d.OpeningHours || gd.AcceptedMaterials[0] != "spoil" {
		t.Fatalf("GetSite(D1) = %+v, %v", gd, err)
	}
	if _, err := s.GetSite(ctx, "nope"); !errors.Is(err, permit.ErrSiteNotFound) {
		t.Fatalf("GetSite(unknown) = %v", err)
	}
	at, err := s.SitesAt(ctx, permit.Disposal, geo.Point{Lon: 113.05, Lat: 40.05})
	if err != nil || len(at) != 1 || at[0].ID != "D1" {
		t.Fatalf("SitesAt(in D1's box) = %v, %v", at, err)
	}
	if at, _ := s.SitesAt(ctx, permit.Disposal, geo.Point{Lon: 112.45, Lat: 39.35}); len(at) != 0 {
		t.Fatalf("SitesAt(in a construction site) = %v, want none of kind disposal", at)
	}
	list, err := s.ListSites(ctx, "", "C1", 10)
	if err != nil || len(list) != 1 || list[0].ID != "D1" {
		t.Fatalf("ListSites after C1 = %v, %v", list, err)
	}
}

func TestPermitStepIsGuarded(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	p := samplePermit("P1", "LZZ1CLVB1N0000006")
	if err := s.InsertPermit(ctx, p); err != nil {
		t.Fatal(err)
	}
	step := permit.StepChange{ID: "P1", FromState: permit.Pending, FromVersion: 1, To: permit.Approved, Reason: "approved", Findings: []permit.Reason{},
		Event: permit.Event{Action: permit.Approve, From: permit.Pending, To: permit.Approved, At: t0.Add(time.Hour), By: "construction@zj", Role: auth.Construction}}
	got, err := s.Step(ctx, step)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != permit.Approved || got.Version != 2 || len(got.History) != 2 || got.History[1].Action != permit.Approve || got.History[1].By != "construction@zj" {
		t.Fatalf("after Step = %+v", got)
	}
	// The same step again: the guard (state pending, version 1) no longer matches.
	if _, err := s.Step(ctx, step); !errors.Is(err, permit.ErrStateChanged) {
		t.Fatalf("replayed Step error = %v, want ErrStateChanged", err)
	}
	step.ID = "P404"
	if _, err := s.Step(ctx, step); !errors.Is(err, permit.ErrPermitNotFound) {
		t.Fatalf("Step on a missing permit = %v, want ErrPermitNotFound", err)
	}
	due, err := s.DuePermits(ctx, t0.AddDate(0, 2, 0), 10)
	if err != nil || len(due) != 1 || due[0].ID != "P1" {
		t.Fatalf("DuePermits after validity = %v, %v", due, err)
	}
	if due, _ := s.DuePermits(ctx, t0.AddDate(0, 0, 1), 10); len(due) != 0 {
		t.Fatalf("DuePermits within validity = %v", due)
	}
	byPlate, err := s.PermitsByPlate(ctx, p.PlateKey())
	if err != nil || len(byPlate) != 1 {
		t.Fatalf("PermitsByPlate = %v, %v", byPlate, err)
	}
}

func TestPassesNearUsesTheBox(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	vin := "LZZ1CLVB1N0000006"
	mk := func(id, zone string) permit.Pass {
		return permit.Pass{ID: id, PermitID: "P1", VIN: vin, Plate: "晋F56789", PlateColour: "yellow", FleetID: "f1", Zone: shape(t, zone),
			Hours: permit.Hours{From: 22 * 60, To: 5 * 60}, ValidFrom: t0, ValidTo: t0.AddDate(0, 0, 10), IssuedAt: t0, IssuedBy: "police", Version: 1}
	}
	for _, p := range []permit.Pass{mk("S1", squareZone), mk("S2", farZone)} {
		if err := s.InsertPass(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	near, err := s.PassesNear(ctx, vin, geo.Point{Lon: 112.45, Lat: 39.35})
	if err != nil || len(near) != 1 || near[0].ID != "S1" || near[0].Hours.From != 22*60 || !near[0].Zone.Contains(geo.Point{Lon: 112.45, Lat: 39.35}) {
		t.Fatalf("PassesNear = %+v, %v", near, err)
	}
	if near, _ := s.PassesNear(ctx, vin, geo.Point{Lon: 100, Lat: 30}); len(near) != 0 {
		t.Fatalf("PassesNear far away = %v", near)
	}
	if has, err := s.HasPasses(ctx, vin); err != nil || !has {
		t.Fatalf("HasPasses = %v, %v", has, err)
	}
	if has, _ := s.HasPasses(ctx, "LZZ1CLVB3N0000007"); has {
		t.Fatal("HasPasses of a truck without passes = true")
	}
	got, err := s.CancelPass(ctx, "S1", "晋FD12345:yellow_green", 1, t0, "police", "road works")
	if err != nil || !got.Cancelled || got.Version != 2 || got.CancelReason != "road works" {
		t.Fatalf("CancelPass = %+v, %v", got, err)
	}
	if _, err := s.CancelPass(ctx, "S1", "晋FD12345:yellow_green", 1, t0, "police", "again"); !errors.Is(err, permit.ErrStateChanged) {
		t.Fatalf("second CancelPass = %v, want ErrStateChanged", err)
	}
}

func TestViolationsReportAndOutbox(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mk := func(id string, kind permit.ViolationKind, site string, at time.Time, pending bool) permit.Violation {
		return permit.Violation{ID: id, Kind: kind, VIN: "LZZ1CLVB1N0000006", Plate: "晋F56789", PlateColour: "yellow", FleetID: "f1",
			ObservedAt: at, Location: &geo.Point{Lon: 112.45, Lat: 39.35}, Photos: []string{"oss://a.jpg"}, FromSite: site,
			SiteSource: permit.SiteGiven, RecordedAt: at, RecordedBy: "police", Role: auth.Police, RevokePending: pending, Version: 1}
	}
	vs := []struct {
		v   permit.Violation
		day string
	}{
		{mk("V1", permit.LeakyCover, "C1", t0, true), "2026-06-01"},
		{mk("V2", permit.LeakyCover, "C1", t0.Add(time.Hour), false), "2026-06-01"},
		{mk("V3", permit.MuddyWheels, "C1", t0.AddDate(0, 0, 1), false), "2026-06-02"},
		{mk("V4", permit.OffRoute, "C2", t0.AddDate(0, 0, 2), false), "2026-06-03"},
		{mk("V5", permit.NoPermit, "", t0.AddDate(0, 0, 2), false), "2026-06-03"},
		{mk("V6", permit.LeakyCover, "C2", t0.AddDate(0, 1, 0), false), "2026-07-01"},
	}
	for _, x := range vs {
		if err := s.InsertViolation(ctx, x.v, x.day, x.day[:7]); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := s.SiteCounts(ctx, "2026-06-01", "2026-06-30")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range counts {
		got[c.SiteID+"/"+string(c.Kind)] = c.N
	}
	want := map[string]int{"C1/leaky_cover": 2, "C1/muddy_wheels": 1, "C2/off_route": 1, "/no_permit": 1}
	if len(got) != len(want) {
		t.Fatalf("SiteCounts = %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("SiteCounts = %v, want %v", got, want)
		}
	}
	recent, err := s.ViolationsByPlate(ctx, "晋F56789:yellow", t0.AddDate(0, 0, 1), 10)
	if err != nil || len(recent) != 4 || recent[0].ID != "V6" || recent[3].ID != "V3" {
		t.Fatalf("ViolationsByPlate = %v, %v; want V6, V4/V5, V3 (observed exactly at since)", recent, err)
	}
	list, err := s.ListViolations(ctx, permit.ViolationFilter{FromSite: "C1", FromDay: "2026-06-02"}, "", 10)
	if err != nil || len(list) != 1 || list[0].ID != "V3" {
		t.Fatalf("ListViolations(C1 from 06-02) = %v, %v", list, err)
	}
	pending, err := s.PendingRevocations(ctx, 10)
	if err != nil || len(pending) != 1 || pending[0].ID != "V1" {
		t.Fatalf("PendingRevocations = %v, %v", pending, err)
	}
	done, err := s.FinishRevocation(ctx, "V1", "晋F56789:yellow", []string{"P1"})
	if err != nil || done.RevokePending || done.Version != 2 || !slices.Equal(done.RevokedPermits, []string{"P1"}) {
		t.Fatalf("FinishRevocation = %+v, %v", done, err)
	}

	// The outbox: every record written is dirty; a clear at a stale version leaves it dirty.
	if err := s.InsertPermit(ctx, samplePermit("P1", "LZZ1CLVB1N0000006")); err != nil {
		t.Fatal(err)
	}
	pendingRefs := func() []permit.Ref {
		var refs []permit.Ref
		for i, src := range s.PartSources() {
			ds, err := outbox.Pending(ctx, src.Coll, src.VersionField, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				refs = append(refs, permit.Ref{Coll: []permit.Collection{permit.PermitRecords, permit.PassRecords, permit.ViolationRecords}[i],
					ID: d.ID.(bson.RawValue).StringValue(), Version: d.Version, PlateKey: d.Records[0].Key})
			}
		}
		return refs
	}
	dirty := pendingRefs()
	if len(dirty) != 7 {
		t.Fatalf("pending = %d records, want 7", len(dirty))
	}
	stale := permit.Ref{Coll: permit.ViolationRecords, ID: "V1", Version: 1}
	if err := s.Ack(ctx, []permit.Ref{stale}); err != nil {
		t.Fatal(err)
	}
	if n := len(pendingRefs()); n != 7 {
		t.Fatalf("an ack at a stale version cleared the outbox: %d pending", n)
	}
	if err := s.Ack(ctx, dirty); err != nil {
		t.Fatal(err)
	}
	if left := pendingRefs(); len(left) != 0 {
		t.Fatalf("pending after the acks = %v", left)
	}
	var keys []string
	if err := s.PlateKeys(ctx, func(k string) error { keys = append(keys, k); return nil }); err != nil || !slices.Equal(keys, []string{"晋F56789:yellow"}) {
		t.Fatalf("PlateKeys = %v, %v", keys, err)
	}
}
