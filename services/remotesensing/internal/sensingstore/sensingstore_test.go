package sensingstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensing"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensingstore"
)

var t0 = time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)

func newStore(t *testing.T) (*sensingstore.Store, context.Context) {
	t.Helper()
	db := testenv.Mongo(t)
	s := sensingstore.New(db)
	if err := s.EnsureIndexes(context.Background(), mongodb.AllIndexes); err != nil {
		t.Fatal(err)
	}
	return s, context.Background()
}

func f(v float64) *float64 { return &v }

func reading(id, plate string, minute int, verdict sensing.Verdict) sensing.Reading {
	r := sensing.Reading{Key: sensing.ReadingKey("RS-1", id), ReadingID: id, StationID: "RS-1", OperatorID: "op-1", Plate: plate,
		PlateColour: vehicleid.Yellow, MeasuredAt: t0.Add(time.Duration(minute) * time.Minute), Values: limits.Values{Opacity: f(12), NO: f(400)},
		SpeedKmh: 40, AccelMS2: 0.2, Hash: "h-" + id, Verdict: verdict, ReceivedAt: t0, UploadedBy: "sensor@op-1",
		Trace: sensing.Trace{VIN: "V", FuelType: "diesel", Maker: "Sinotruk", FleetID: "fleet-1", InspectionStation: "JC-1"}}
	r.Judgement = limits.Judgement{Verdict: limits.Verdict(verdict), Version: "v1"}
	if verdict == sensing.Exceed {
		r.Judgement.Results = []limits.Result{{Parameter: limits.Opacity, Value: 45, Limit: 30, Unit: "%", Standard: "GB 3847-2018", Exceeded: true}}
	}
	return r
}

func TestIndexesAreCreated(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	if err := sensingstore.New(db).EnsureIndexes(ctx, mongodb.AllIndexes); err != nil {
		t.Fatal(err)
	}
	for _, ix := range sensingstore.Indexes {
		cur, err := db.Collection(ix.Collection).Indexes().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []bson.M
		if err := cur.All(ctx, &got); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(got, func(g bson.M) bool { return g["name"] == ix.Name })
		if i < 0 {
			t.Errorf("collection %s lacks index %s", ix.Collection, ix.Name)
			continue
		}
		if unique, _ := got[i]["unique"].(bool); unique != ix.Unique {
			t.Errorf("index %s unique = %v, want %v", ix.Name, unique, ix.Unique)
		}
	}
	if i := slices.IndexFunc(sensingstore.Indexes, func(ix mongodb.Index) bool { return ix.Name == "one_open_case_per_plate_pollutant" }); i < 0 || !sensingstore.Indexes[i].Unique {
		t.Fatal("one open case per plate and pollutant needs a unique index")
	}
}

func TestReadingsAndRepeats(t *testing.T) {
	s, ctx := newStore(t)
	batch := []sensing.Reading{reading("a", "晋F12345", 1, sensing.Pass), reading("b", "晋F12345", 2, sensing.Exceed), reading("c", "晋F23456", 3, sensing.Pending)}
	if dups, err := s.InsertReadings(ctx, batch); err != nil || len(dups) != 0 {
		t.Fatalf("first insert: dups %v, %v", dups, err)
	}
	again := []sensing.Reading{reading("d", "晋F23456", 4, sensing.Pass), reading("b", "晋F12345", 2, sensing.Pass), reading("e", "晋F12345", 5, sensing.Invalid), reading("a", "晋F12345", 1, sensing.Pass)}
	dups, err := s.InsertReadings(ctx, again)
	if err != nil || !slices.Equal(dups, []int{1, 3}) {
		t.Fatalf("second insert: dups %v, %v; want [1 3]", dups, err)
	}
	got, err := s.GetReadings(ctx, []string{"RS-1|b", "RS-1|zz"})
	if err != nil || len(got) != 1 {
		t.Fatalf("GetReadings = %v, %v", got, err)
	}
	b := got[0]
	if b.Verdict != sensing.Exceed || b.Hash != "h-b" || *b.Values.Opacity != 12 || b.Values.CO != nil || b.Trace.InspectionStation != "JC-1" ||
		len(b.Judgement.Exceedances()) != 1 || !b.MeasuredAt.Equal(t0.Add(2*time.Minute)) || b.PlateColour != vehicleid.Yellow {
		t.Fatalf("stored b = %+v", b)
	}
	// Pages newest first, with a cursor.
	var seen []string
	var after *sensing.Cursor
	for {
		page, err := s.ListReadings(ctx, sensing.ReadingFilter{Plate: "晋F12345"}, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			seen = append(seen, r.ReadingID)
		}
		if len(page) < 2 {
			break
		}
		after = &sensing.Cursor{At: page[1].MeasuredAt, ID: page[1].Key}
	}
	if !slices.Equal(seen, []string{"e", "b", "a"}) {
		t.Fatalf("pages = %v, want e b a", seen)
	}
	for _, tc := range []struct {
		f    sensing.ReadingFilter
		want int
	}{
		{sensing.ReadingFilter{PlateKey: "晋F23456:yellow"}, 2},
		{sensing.ReadingFilter{Verdict: sensing.Pending}, 1},
		{sensing.ReadingFilter{OperatorID: "op-2"}, 0},
		{sensing.ReadingFilter{FleetID: "fleet-1", From: t0.Add(2 * time.Minute), To: t0.Add(4 * time.Minute)}, 2},
	} {
		got, err := s.ListReadings(ctx, tc.f, nil, 100)
		if err != nil || len(got) != tc.want {
			t.Errorf("ListReadings(%+v) = %d, %v; want %d", tc.f, len(got), err, tc.want)
		}
	}
	// A pending reading takes its verdict once; a judged one is left alone.
	c := reading("c", "晋F23456", 3, sensing.Exceed)
	if ok, err := s.SetJudgement(ctx, c); !ok || err != nil {
		t.Fatalf("SetJudgement(pending) = %v, %v", ok, err)
	}
	if ok, err := s.SetJudgement(ctx, c); ok || err != nil {
		t.Fatalf("SetJudgement(judged) = %v, %v; want false", ok, err)
	}
	tally, err := s.Tally(ctx, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range tally {
		counts[fmt.Sprintf("%s %v %s %s", r.PlateKey, r.Exceeded, r.Maker, r.InspectionStation)] += r.Readings
	}
	want := map[string]int{"晋F12345:yellow false Sinotruk JC-1": 1, "晋F12345:yellow true Sinotruk JC-1": 1,
		"晋F23456:yellow false Sinotruk JC-1": 1, "晋F23456:yellow true Sinotruk JC-1": 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("tally = %v, want %v (invalid readings are not judged)", counts, want)
	}
}

func newCase(id, plate string, p limits.Parameter) sensing.Case {
	return sensing.Case{ID: id, Plate: plate, PlateColour: vehicleid.Yellow, Pollutant: p, State: sensing.Detected, OpenedAt: t0, StateSince: t0,
		UpdatedAt: t0, Version: 1, Trace: sensing.Trace{FleetID: "fleet-1", Maker: "Sinotruk"},
		Triggers: []sensing.Trigger{{ReadingKey: "RS-1|a", ReadingID: "a", StationID: "RS-1", MeasuredAt: t0, Value: 45, Limit: 30, Unit: "%"}},
		History:  []sensing.Entry{{Event: sensing.EventTransition, To: sensing.Detected, By: "service:remotesensing", Role: auth.System, At: t0}}}
}

func TestCases(t *testing.T) {
	s, ctx := newStore(t)
	c := newCase("rsc_1", "晋F12345", limits.Opacity)
	if err := s.InsertCase(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertCase(ctx, newCase("rsc_2", "晋F12345", limits.Opacity)); !errors.Is(err, sensing.ErrCaseOpen) {
		t.Fatalf("second open case = %v, want ErrCaseOpen", err)
	}
	if err := s.InsertCase(ctx, newCase("rsc_3", "晋F12345", limits.NO)); err != nil {
		t.Fatalf("open case for another pollutant: %v", err)
	}
	bureau := auth.Principal{Subject: "bureau:li", Role: auth.Bureau}
	n, e := sensing.Apply(c, bureau, sensing.Move{To: sensing.Notified}, t0.Add(time.Hour))
	stale := n
	stale.Version = 5
	if err := s.UpdateCase(ctx, stale, sensing.Detected, e); !errors.Is(err, sensing.ErrVersionConflict) {
		t.Fatalf("update at a stale version = %v", err)
	}
	if err := s.UpdateCase(ctx, n, sensing.Notified, e); !errors.Is(err, sensing.ErrVersionConflict) {
		t.Fatalf("update from the wrong state = %v", err)
	}
	if err := s.UpdateCase(ctx, n, sensing.Detected, e); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateCase(ctx, n, sensing.Detected, e); !errors.Is(err, sensing.ErrVersionConflict) {
		t.Fatalf("the same step twice = %v", err)
	}
	d, e2 := sensing.Apply(n, bureau, sensing.Move{To: sensing.Dismissed, Reason: "plate misread"}, t0.Add(2*time.Hour))
	if err := s.UpdateCase(ctx, d, sensing.Notified, e2); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetCase(ctx, "rsc_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != sensing.Dismissed || got.Version != 3 || len(got.History) != 3 || got.History[2].Reason != "plate misread" ||
		got.History[1].To != sensing.Notified || !got.EndedAt.Equal(t0.Add(2*time.Hour)) || len(got.Triggers) != 1 || got.Trace.FleetID != "fleet-1" {
		t.Fatalf("case after two steps = %+v", got)
	}
	// The dismissed case freed the slot.
	if err := s.InsertCase(ctx, newCase("rsc_4", "晋F12345", limits.Opacity)); err != nil {
		t.Fatalf("new case after dismissal: %v", err)
	}
	if _, err := s.GetCase(ctx, "nope"); !errors.Is(err, sensing.ErrCaseNotFound) {
		t.Fatalf("GetCase(unknown) = %v", err)
	}
	of, err := s.CasesOf(ctx, []string{"晋F12345:yellow"}, t0.Add(3*time.Hour))
	if err != nil || len(of) != 2 {
		t.Fatalf("open cases = %d, %v; want 2", len(of), err)
	}
	if of, _ = s.CasesOf(ctx, []string{"晋F12345:yellow"}, t0); len(of) != 3 {
		t.Fatalf("open and recently ended = %d, want 3", len(of))
	}
	// New cases are published through their readings' outbox job; a step flags the case. Each
	// case's events (its opening, its steps) wait for the runner, whatever is acknowledged.
	src := s.PartSources()[0]
	pending := func() []outbox.Due {
		ds, err := outbox.Pending(ctx, src.Coll, src.VersionField, 10)
		if err != nil {
			t.Fatal(err)
		}
		return slices.DeleteFunc(ds, func(d outbox.Due) bool {
			return !slices.ContainsFunc(d.Records, func(r outbox.Record) bool { return r.Topic == outbox.TopicPart })
		})
	}
	if ds := pending(); len(ds) != 1 || ds[0].ID.(bson.RawValue).StringValue() != "rsc_1" || ds[0].Records[1].Key != "晋F12345:yellow" {
		t.Fatalf("pending = %v; want rsc_1's plate only", ds)
	}
	if err := s.AckCase(ctx, "rsc_1", 2); err != nil {
		t.Fatal(err)
	}
	if len(pending()) != 1 {
		t.Fatal("an ack at a stale version cleared the records")
	}
	_ = s.AckCase(ctx, "rsc_1", 3)
	if ds := pending(); len(ds) != 1 || len(ds[0].Records) != 4 {
		t.Fatalf("pending after the ack = %v, want rsc_1's part and its three events left to the runner", ds)
	}
	db := src.Coll.Database()
	if n, err := events.Runners(events.NewSink(db).Runner(src.Coll, src.VersionField))(ctx); err != nil || n != 3 {
		t.Fatalf("events runner = %d, %v; want the three cases", n, err)
	}
	if ds := pending(); len(ds) != 0 {
		t.Fatalf("pending after the runner = %d, want 0", len(ds))
	}
	for typ, want := range map[events.Type]int64{events.RemoteSensingCaseOpened: 3, events.RemoteSensingCaseTransition: 2} {
		if n, _ := db.Collection(events.Collection).CountDocuments(ctx, bson.D{{Key: "type", Value: string(typ)}}); n != want {
			t.Errorf("%d %s events, want %d", n, typ, want)
		}
	}
	list, err := s.ListCases(ctx, sensing.CaseFilter{Plate: "晋F12345", State: sensing.Detected}, nil, 10)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListCases = %d, %v", len(list), err)
	}
	plates, err := s.ActivePlates(ctx, t0)
	if err != nil || len(plates) != 1 || plates[0].Plate != "晋F12345" || plates[0].Colour != vehicleid.Yellow {
		t.Fatalf("ActivePlates = %v, %v", plates, err)
	}
}

func TestExceedancesAndJobs(t *testing.T) {
	s, ctx := newStore(t)
	r := reading("b", "晋F12345", 2, sensing.Exceed)
	es := sensing.ExceedancesOf(r)
	for range 2 {
		if err := s.InsertExceedances(ctx, es); err != nil {
			t.Fatalf("insert exceedances (idempotent): %v", err)
		}
	}
	got, err := s.ExceedancesOf(ctx, []string{"晋F12345:yellow", "晋F99999:blue"}, t0)
	if err != nil || len(got) != 1 || got[0].Key != "RS-1|b|opacity" || got[0].Value != 45 || got[0].PlateColour != vehicleid.Yellow {
		t.Fatalf("ExceedancesOf = %+v, %v", got, err)
	}
	if got, _ = s.ExceedancesOf(ctx, []string{"晋F12345:yellow"}, t0.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("since after = %d", len(got))
	}
	j := sensing.Job{ID: "job_1", ReadingKeys: []string{"RS-1|b"}, CreatedAt: t0, NotBefore: t0.Add(time.Minute)}
	if err := s.InsertJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueJobs(ctx, t0, 10); len(due) != 0 {
		t.Fatal("a job is due before its time")
	}
	due, err := s.DueJobs(ctx, t0.Add(time.Minute), 10)
	if err != nil || len(due) != 1 || due[0].ReadingKeys[0] != "RS-1|b" {
		t.Fatalf("due = %+v, %v", due, err)
	}
	// Two replicas find it due; one claim lands. Claimed, it is not due until the claim ends.
	if ok, err := s.ClaimJob(ctx, "job_1", due[0].NotBefore, t0.Add(6*time.Minute)); !ok || err != nil {
		t.Fatalf("first claim = %v, %v", ok, err)
	}
	if ok, err := s.ClaimJob(ctx, "job_1", due[0].NotBefore, t0.Add(6*time.Minute)); ok || err != nil {
		t.Fatalf("second claim of the same due time = %v, %v; want refused", ok, err)
	}
	if again, _ := s.DueJobs(ctx, t0.Add(5*time.Minute), 10); len(again) != 0 {
		t.Fatal("a claimed job is due to others")
	}
	if again, _ := s.DueJobs(ctx, t0.Add(6*time.Minute), 10); len(again) != 1 {
		t.Fatal("a job whose claim ran out is not due again")
	}
	if err := s.RescheduleJob(ctx, "job_1", t0.Add(time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	if due, _ = s.DueJobs(ctx, t0.Add(time.Minute), 10); len(due) != 0 {
		t.Fatal("a rescheduled job is still due")
	}
	if err := s.DeleteJob(ctx, "job_1"); err != nil {
		t.Fatal(err)
	}
	if due, _ = s.DueJobs(ctx, t0.Add(2*time.Hour), 10); len(due) != 0 {
		t.Fatal("a deleted job is still due")
	}
}

func TestStations(t *testing.T) {
	s, ctx := newStore(t)
	st := sensing.Station{ID: "RS-1", Name: "Kaifa Road", Lat: 39.3, Lon: 112.4, OperatorID: "op-1", CalibratedOn: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		CreatedAt: t0, UpdatedAt: t0, Version: 1}
	if err := s.InsertStation(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertStation(ctx, st); !errors.Is(err, sensing.ErrStationExists) {
		t.Fatalf("second insert = %v", err)
	}
	st.Version, st.Name = 2, "Kaifa Road east"
	if err := s.ReplaceStation(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceStation(ctx, st); !errors.Is(err, sensing.ErrVersionConflict) {
		t.Fatalf("replace at a stale version = %v", err)
	}
	got, err := s.GetStation(ctx, "RS-1")
	if err != nil || got.Name != "Kaifa Road east" || !got.CalibratedOn.Equal(st.CalibratedOn) {
		t.Fatalf("GetStation = %+v, %v", got, err)
	}
	if _, err := s.GetStation(ctx, "RS-9"); !errors.Is(err, sensing.ErrStationNotFound) {
		t.Fatalf("unknown station = %v", err)
	}
	if l, _ := s.ListStations(ctx, "op-2"); len(l) != 0 {
		t.Fatal("another operator's stations listed")
	}
	if l, _ := s.ListStations(ctx, ""); len(l) != 1 {
		t.Fatal("all stations not listed")
	}
}

// Versions added at run time: one per name and one per day, even when two replicas add them at
// the same moment (the checks before the insert cannot see each other's).
func TestLimitVersions(t *testing.T) {
	s, ctx := newStore(t)
	base := limits.Default().Versions[0]
	version := func(name, day string) sensing.StoredLimitVersion {
		v := base
		v.Version = name
		_ = v.EffectiveFrom.UnmarshalJSON([]byte(`"` + day + `"`))
		return sensing.StoredLimitVersion{Version: v, AddedAt: t0, AddedBy: "bureau@x"}
	}
	if err := s.InsertLimitVersion(ctx, version("b", "2027-03-01")); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertLimitVersion(ctx, version("a", "2027-01-01")); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertLimitVersion(ctx, version("a", "2027-05-01")); !errors.Is(err, sensing.ErrLimitVersionExists) {
		t.Fatalf("same name = %v", err)
	}
	if err := s.InsertLimitVersion(ctx, version("c", "2027-01-01")); !errors.Is(err, sensing.ErrLimitVersionExists) {
		t.Fatalf("same day = %v", err)
	}
	got, err := s.LimitVersions(ctx)
	if err != nil || len(got) != 2 || got[0].Version.Version != "a" || got[1].Version.Version != "b" || got[0].AddedBy != "bureau@x" {
		t.Fatalf("LimitVersions = %+v, %v; want a then b", got, err)
	}
	if len(got[0].Version.Limits) != len(base.Limits) || got[0].Version.Window.SpeedKmh.String() != base.Window.SpeedKmh.String() {
		t.Fatalf("stored version lost its rows or window: %+v", got[0].Version)
	}
}
