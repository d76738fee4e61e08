package samplingstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
	"github.com/clearsky/clearsky/services/fuel/internal/sampling"
	"github.com/clearsky/clearsky/services/fuel/internal/samplingstore"
)

func newStore(t *testing.T) *samplingstore.Store {
	t.Helper()
	s := samplingstore.New(testenv.Mongo(t))
	if err := s.EnsureIndexes(context.Background(), mongodb.AllIndexes); err != nil {
		t.Fatal(err)
	}
	return s
}

var now = time.Date(2026, 3, 10, 4, 0, 0, 0, time.UTC)

func site(id string, kind sampling.Kind, suppliers ...string) sampling.Site {
	return sampling.Site{ID: id, Kind: kind, Name: "site " + id, Operator: "op", Lat: 39.3, Lon: 112.4, Licence: "L-" + id,
		Suppliers: suppliers, OperatingSince: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), CreatedAt: now, UpdatedAt: now, UpdatedBy: "t", Version: 1}
}

func ptr(v float64) *float64 { return &v }

func sample(id, siteID string, kind sampling.Kind, at time.Time, verdict limits.Verdict, src sampling.Source) sampling.Sample {
	to := limits.Day{Time: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	return sampling.Sample{ID: id, SiteID: siteID, SiteKind: kind, Product: limits.Gasoline, Grade: "92", SampledAt: at,
		Month: sampling.MonthOf(at).String(), Year: sampling.MonthOf(at).Year, Source: src, UploadedBy: "lab@l1", UploaderRole: "lab", UploadedAt: now,
		Verdict: verdict, LimitsVersion: 1, Revision: 1, ContentHash: "h-" + id, UpdatedAt: now, UpdatedBy: "lab@l1", CasePending: verdict == limits.Fail,
		Results: []limits.Outcome{{Parameter: "olefins", Value: 16, Unit: "%", Canonical: 16, CanonicalUnit: "%(v/v)", Verdict: verdict, Message: "m",
			Limit: &limits.Limit{Product: limits.Gasoline, Parameter: "olefins", Comparison: limits.Max, Limit: ptr(15), Unit: "%(v/v)", Standard: "GB 17930-2016",
				Stage: "VIB", Clause: "Table 4", EffectiveFrom: limits.Day{Time: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)}, EffectiveTo: &to, Confirm: true}}},
		Findings: []limits.Finding{{Code: "below_china_vi", Standard: "plan", Clause: "task 14", Message: "m"}}}
}

func TestSitesAndLabs(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for _, x := range []sampling.Site{site("R1", sampling.Refinery), site("D1", sampling.OilDepot, "R1"), site("D2", sampling.OilDepot, "R1"),
		site("S1", sampling.FillingStation, "D1", "D2"), site("S2", sampling.FillingStation, "D1"), site("S3", sampling.FillingStation, "D2")} {
		if err := s.InsertSite(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertSite(ctx, site("D1", sampling.OilDepot)); !errors.Is(err, sampling.ErrSiteExists) {
		t.Fatalf("InsertSite(dup) = %v, want ErrSiteExists", err)
	}
	got, err := s.GetSite(ctx, "S1")
	if err != nil || !slices.Equal(got.Suppliers, []string{"D1", "D2"}) || got.Kind != sampling.FillingStation || !got.OperatingSince.Equal(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("GetSite = %+v, %v", got, err)
	}
	if _, err := s.GetSite(ctx, "nope"); !errors.Is(err, sampling.ErrSiteNotFound) {
		t.Fatalf("GetSite(unknown) = %v", err)
	}
	m, err := s.GetSites(ctx, []string{"D1", "S3", "nope"})
	if err != nil || len(m) != 2 || m["D1"].Kind != sampling.OilDepot {
		t.Fatalf("GetSites = %v, %v", m, err)
	}
	supplied, err := s.SitesSuppliedBy(ctx, []string{"D1"})
	if err != nil || len(supplied) != 2 || supplied[0].ID != "S1" || supplied[1].ID != "S2" {
		t.Fatalf("SitesSuppliedBy(D1) = %+v, %v (a $in on an array of strings)", supplied, err)
	}
	list, err := s.ListSites(ctx, sampling.SiteFilter{Kind: sampling.FillingStation}, "S1", 10)
	if err != nil || len(list) != 2 || list[0].ID != "S2" {
		t.Fatalf("ListSites(stations after S1) = %+v, %v", list, err)
	}
	list, err = s.ListSites(ctx, sampling.SiteFilter{Supplier: "D2", IDs: []string{"S3", "D1"}}, "", 10)
	if err != nil || len(list) != 1 || list[0].ID != "S3" {
		t.Fatalf("ListSites(supplied by D2, in S3 D1) = %+v, %v", list, err)
	}
	depots, err := s.SitesOfKind(ctx, sampling.OilDepot)
	if err != nil || len(depots) != 2 {
		t.Fatalf("SitesOfKind = %d, %v", len(depots), err)
	}
	upd := got
	upd.Suppliers, upd.ClosedOn, upd.Version = []string{"D2"}, time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC), 2
	if err := s.ReplaceSite(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceSite(ctx, upd); !errors.Is(err, sampling.ErrVersionConflict) {
		t.Fatalf("ReplaceSite(stale) = %v", err)
	}
	if got, _ := s.GetSite(ctx, "S1"); !got.ClosedOn.Equal(upd.ClosedOn) || got.Version != 2 {
		t.Fatalf("after replace: %+v", got)
	}

	lab := sampling.Lab{ID: "lab-1", Name: "Lab", SiteIDs: []string{"S1"}, UpdatedAt: now, Version: 1}
	if err := s.PutLab(ctx, lab); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLab(ctx, lab); !errors.Is(err, sampling.ErrVersionConflict) {
		t.Fatalf("PutLab(new twice) = %v", err)
	}
	lab.SiteIDs, lab.Version = []string{"S1", "S2"}, 2
	if err := s.PutLab(ctx, lab); err != nil {
		t.Fatal(err)
	}
	if l, err := s.GetLab(ctx, "lab-1"); err != nil || !slices.Equal(l.SiteIDs, []string{"S1", "S2"}) {
		t.Fatalf("GetLab = %+v, %v", l, err)
	}
	if _, err := s.GetLab(ctx, "lab-2"); !errors.Is(err, sampling.ErrLabNotFound) {
		t.Fatalf("GetLab(unknown) = %v", err)
	}
}

func TestSamplesRoundTripAndBatch(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a := sample("A", "S1", sampling.FillingStation, now, limits.Fail, sampling.Supervisory)
	b := sample("B", "S1", sampling.FillingStation, now.Add(time.Hour), limits.Pass, sampling.SelfCheck)
	existing, err := s.InsertSamples(ctx, []sampling.Sample{a, b})
	if err != nil || len(existing) != 0 {
		t.Fatalf("InsertSamples = %v, %v", existing, err)
	}
	c := sample("C", "S2", sampling.FillingStation, now.Add(2*time.Hour), limits.Pass, sampling.Supervisory)
	existing, err = s.InsertSamples(ctx, []sampling.Sample{a, c, b})
	if err != nil || !slices.Equal(existing, []string{"A", "B"}) {
		t.Fatalf("InsertSamples(with two stored) = %v, %v; want A and B reported, C written", existing, err)
	}
	got, err := s.GetSample(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	o := got.Results[0]
	if got.Verdict != limits.Fail || o.Limit == nil || *o.Limit.Limit != 15 || o.Limit.EffectiveTo == nil || !o.Limit.Confirm || o.Limit.Stage != "VIB" ||
		got.Findings[0].Code != "below_china_vi" || got.Month != "2026-03" || got.Year != 2026 || !got.CasePending || !got.SampledAt.Equal(now) {
		t.Fatalf("GetSample = %+v", got)
	}
	m, err := s.GetSamples(ctx, []string{"A", "C", "Z"})
	if err != nil || len(m) != 2 {
		t.Fatalf("GetSamples = %d, %v", len(m), err)
	}
	pending, err := s.CasePending(ctx, 10)
	if err != nil || len(pending) != 1 || pending[0].ID != "A" {
		t.Fatalf("CasePending = %+v, %v", pending, err)
	}
	if err := s.SetSampleCases(ctx, []sampling.CaseLink{{SampleID: "A", CaseID: "nc-A", Revision: 2}}); err != nil { // a stale revision: the flag stays
		t.Fatal(err)
	}
	if pending, _ := s.CasePending(ctx, 10); len(pending) != 1 {
		t.Fatal("SetSampleCases for an old revision cleared the flag")
	}
	if err := s.SetSampleCases(ctx, []sampling.CaseLink{{SampleID: "A", CaseID: "nc-A", Revision: 1}, {SampleID: "C", Revision: 1}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetSample(ctx, "A"); got.CasePending || got.CaseID != "nc-A" {
		t.Fatalf("after SetSampleCases: %+v", got)
	}
	if got, _ := s.GetSample(ctx, "C"); got.CasePending || got.CaseID != "" {
		t.Fatalf("a passing sample after SetSampleCases: %+v", got)
	}
	corrected := got
	corrected.Revision, corrected.Verdict = 2, limits.Pass
	if err := s.ReplaceSample(ctx, corrected, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceSample(ctx, corrected, 1); !errors.Is(err, sampling.ErrRevisionConflict) {
		t.Fatalf("ReplaceSample(stale base) = %v", err)
	}

	// Paging newest first, with a cursor, and the filters.
	var seen []string
	after := sampling.Key{}
	for {
		page, err := s.ListSamples(ctx, sampling.SampleFilter{}, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range page {
			seen = append(seen, x.ID)
		}
		if len(page) < 2 {
			break
		}
		after = sampling.Key{At: page[len(page)-1].SampledAt, ID: page[len(page)-1].ID}
	}
	if !slices.Equal(seen, []string{"C", "B", "A"}) {
		t.Fatalf("pages = %v, want C B A", seen)
	}
	for _, tc := range []struct {
		f    sampling.SampleFilter
		want []string
	}{
		{sampling.SampleFilter{SiteID: "S1"}, []string{"B", "A"}},
		{sampling.SampleFilter{SiteIDs: []string{"S2"}}, []string{"C"}},
		{sampling.SampleFilter{Verdict: limits.Pass, Month: "2026-03"}, []string{"C", "B", "A"}},
		{sampling.SampleFilter{Product: limits.Diesel}, nil},
	} {
		list, err := s.ListSamples(ctx, tc.f, sampling.Key{}, 10)
		var ids []string
		for _, x := range list {
			ids = append(ids, x.ID)
		}
		if err != nil || !slices.Equal(ids, tc.want) {
			t.Errorf("ListSamples(%+v) = %v, %v; want %v", tc.f, ids, err, tc.want)
		}
	}
}

func TestPlanningQueries(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mar := time.Date(2026, 3, 5, 4, 0, 0, 0, time.UTC)
	var batch []sampling.Sample
	add := func(id, siteID string, kind sampling.Kind, at time.Time, v limits.Verdict, src sampling.Source) {
		batch = append(batch, sample(id, siteID, kind, at, v, src))
	}
	add("1", "D1", sampling.OilDepot, mar, limits.Pass, sampling.Supervisory)
	add("2", "D1", sampling.OilDepot, mar.AddDate(0, 0, 3), limits.Fail, sampling.Supervisory)
	add("3", "D2", sampling.OilDepot, mar, limits.Pass, sampling.SelfCheck) // not counted
	add("4", "D2", sampling.OilDepot, mar.AddDate(0, 1, 0), limits.Pass, sampling.Supervisory)
	add("5", "D3", sampling.OilDepot, mar.AddDate(-1, 0, 0), limits.Fail, sampling.Supervisory) // 2025
	add("6", "C1", sampling.CoalSeller, mar, limits.Pass, sampling.Supervisory)
	add("7", "D1", sampling.OilDepot, time.Date(2026, 1, 31, 17, 0, 0, 0, time.UTC), limits.Pass, sampling.Supervisory) // 01:00 on Feb 1 in China
	if _, err := s.InsertSamples(ctx, batch); err != nil {
		t.Fatal(err)
	}
	counts, err := s.CoverageCounts(ctx, sampling.OilDepot, 2026)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range counts {
		got[c.SiteID+" "+c.Month] = c.Samples
	}
	want := map[string]int{"D1 2026-03": 2, "D2 2026-04": 1, "D1 2026-02": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("CoverageCounts = %v, want %v", got, want)
	}
	stats, err := s.SampleStats(ctx, sampling.OilDepot, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || len(stats) != 5 {
		t.Fatalf("SampleStats before April = %d, %v; want 5", len(stats), err)
	}
	fails, err := s.FailuresAt(ctx, []string{"D1", "D9"}, mar.AddDate(-1, 0, 0), mar.AddDate(0, 0, 3))
	if err != nil || len(fails) != 1 || fails[0].ID != "2" || fails[0].SiteID != "D1" || !fails[0].SampledAt.Equal(mar.AddDate(0, 0, 3)) {
		t.Fatalf("FailuresAt(D1) = %v, %v", fails, err)
	}
	if fails, _ := s.FailuresAt(ctx, []string{"D1"}, mar.AddDate(0, 0, 3), mar.AddDate(0, 1, 0)); len(fails) != 0 {
		t.Fatalf("FailuresAt excludes its lower bound, got %v", fails)
	}
}

func TestRevisionsCasesTables(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	r1 := sampling.Revision{SampleID: "A", Number: 1, Verdict: limits.Fail, Reason: "uploaded", By: "lab", Role: "lab", At: now, Hash: "h1"}
	r2 := sampling.Revision{SampleID: "A", Number: 2, Verdict: limits.Pass, Reason: "typo", By: "lab", Role: "lab", At: now.Add(time.Hour), Hash: "h2"}
	if ex, err := s.InsertRevisions(ctx, []sampling.Revision{r2, r1}); err != nil || len(ex) != 0 {
		t.Fatalf("InsertRevisions = %v, %v", ex, err)
	}
	other := r2
	other.Hash = "h3"
	ex, err := s.InsertRevisions(ctx, []sampling.Revision{r1, other})
	if err != nil || len(ex) != 2 || ex[1].Hash != "h2" {
		t.Fatalf("InsertRevisions(existing) = %+v, %v; want both returned as stored", ex, err)
	}
	revs, err := s.ListRevisions(ctx, "A")
	if err != nil || len(revs) != 2 || revs[0].Number != 1 || revs[1].Reason != "typo" {
		t.Fatalf("ListRevisions = %+v, %v", revs, err)
	}

	c := sampling.Case{ID: "nc-A", SampleID: "A", SiteID: "S1", Product: limits.Gasoline, SampledAt: now, OpenedAt: now, Status: sampling.CaseOpen, Version: 1,
		Escalated: true, PriorFailures: []string{"A", "B"},
		Chain:     sampling.Chain{SiteID: "S1", Upstream: []sampling.Link{{SiteID: "D1", Kind: sampling.OilDepot, Depth: 1, Supplies: "S1"}}, Cycles: []string{"D1 <- D2 <- D1"}},
		FollowUps: []sampling.FollowUp{{SiteID: "D1", Kind: sampling.OilDepot, Product: limits.Gasoline, Priority: 1, Reason: "r"}},
		Events:    []sampling.CaseEvent{{At: now, By: "lab", What: "opened"}}}
	if taken, err := s.InsertCases(ctx, []sampling.Case{c}); err != nil || len(taken) != 0 {
		t.Fatal(taken, err)
	}
	c2 := c
	c2.ID, c2.SampleID, c2.OpenedAt, c2.Escalated = "nc-B", "B", now.Add(time.Hour), false
	if taken, err := s.InsertCases(ctx, []sampling.Case{c, c2}); err != nil || !slices.Equal(taken, []string{"nc-A"}) {
		t.Fatalf("InsertCases(one taken) = %v, %v", taken, err)
	}
	if m, err := s.GetCases(ctx, []string{"nc-A", "nc-B", "nc-Z"}); err != nil || len(m) != 2 || m["nc-B"].SampleID != "B" {
		t.Fatalf("GetCases = %v, %v", m, err)
	}
	got, err := s.GetCase(ctx, "nc-A")
	if err != nil || got.Chain.Upstream[0].SiteID != "D1" || got.Chain.Cycles[0] != "D1 <- D2 <- D1" || got.FollowUps[0].Priority != 1 || !got.Escalated {
		t.Fatalf("GetCase = %+v, %v", got, err)
	}
	got.Status, got.Resolution, got.ClosedAt, got.Version = sampling.CaseClosed, "done", now, 2
	if err := s.ReplaceCase(ctx, got); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceCase(ctx, got); !errors.Is(err, sampling.ErrVersionConflict) {
		t.Fatalf("ReplaceCase(stale) = %v", err)
	}
	yes := true
	for _, tc := range []struct {
		f    sampling.CaseFilter
		want []string
	}{
		{sampling.CaseFilter{}, []string{"nc-B", "nc-A"}},
		{sampling.CaseFilter{Status: sampling.CaseOpen}, []string{"nc-B"}},
		{sampling.CaseFilter{Escalated: &yes}, []string{"nc-A"}},
	} {
		list, err := s.ListCases(ctx, tc.f, sampling.Key{}, 10)
		var ids []string
		for _, x := range list {
			ids = append(ids, x.ID)
		}
		if err != nil || !slices.Equal(ids, tc.want) {
			t.Errorf("ListCases(%+v) = %v, %v; want %v", tc.f, ids, err, tc.want)
		}
	}
	if page, _ := s.ListCases(ctx, sampling.CaseFilter{}, sampling.Key{At: now.Add(time.Hour), ID: "nc-B"}, 10); len(page) != 1 || page[0].ID != "nc-A" {
		t.Fatalf("ListCases after nc-B = %+v", page)
	}

	if v, err := s.LatestTableVersion(ctx); err != nil || v != 0 {
		t.Fatalf("LatestTableVersion(empty) = %d, %v", v, err)
	}
	if _, err := s.LatestTable(ctx); !errors.Is(err, sampling.ErrTableNotFound) {
		t.Fatalf("LatestTable(empty) = %v", err)
	}
	tb, err := limits.Default()
	if err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 2; v++ {
		if err := s.InsertTable(ctx, sampling.StoredTable{Version: v, Table: tb, Hash: tb.Hash(), Source: sampling.SourceDefault, LoadedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertTable(ctx, sampling.StoredTable{Version: 2, Table: tb}); !errors.Is(err, sampling.ErrTableVersionTaken) {
		t.Fatalf("InsertTable(dup version) = %v", err)
	}
	latest, err := s.LatestTable(ctx)
	if err != nil || latest.Version != 2 || latest.Hash != tb.Hash() || len(latest.Table.Limits) != len(tb.Limits) || latest.Table.Hash() != tb.Hash() {
		t.Fatalf("LatestTable = v%d %v (hash %s vs %s)", latest.Version, err, latest.Table.Hash(), tb.Hash())
	}
	if v, _ := s.LatestTableVersion(ctx); v != 2 {
		t.Fatalf("LatestTableVersion = %d", v)
	}
	if _, err := s.TableVersion(ctx, 9); !errors.Is(err, sampling.ErrTableNotFound) {
		t.Fatalf("TableVersion(9) = %v", err)
	}
}

// TestIndexes lists the indexes the store creates: FerretDB does not use them, so this is the
// check that MongoDB will get them.
func TestIndexes(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	s := samplingstore.New(db)
	for range 2 {
		if err := s.EnsureIndexes(ctx, mongodb.AllIndexes); err != nil {
			t.Fatal(err)
		}
	}
	for _, coll := range []string{samplingstore.Sites, samplingstore.Labs, samplingstore.Samples, samplingstore.Revisions, samplingstore.Cases} {
		cur, err := db.Collection(coll).Indexes().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []bson.M
		if err := cur.All(ctx, &got); err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, ix := range got {
			names[ix["name"].(string)] = true
		}
		for _, ix := range samplingstore.Indexes {
			if ix.Collection == coll && !names[ix.Name] {
				t.Errorf("collection %s lacks index %s (has %v)", coll, ix.Name, names)
			}
		}
	}
}
