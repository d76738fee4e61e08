package vehiclestore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/registry/internal/vehicle"
	"github.com/clearsky/clearsky/services/registry/internal/vehiclestore"
)

func vin(t *testing.T, s string) string {
	t.Helper()
	v, err := vehicleid.WithCheckDigit(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sample(t *testing.T, n int, fleet string) vehicle.Vehicle {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return vehicle.Vehicle{VIN: vin(t, "LZZ1CLVB0N000000"+string(rune('0'+n))), Plate: "晋F1234" + string(rune('0'+n)), PlateColour: vehicleid.Yellow,
		FuelType: vehicle.Diesel, EmissionStandard: vehicle.StdVIa, Category: vehicle.N3, Use: vehicle.Operating, ServiceClass: vehicle.Freight,
		Maker: "Sinotruk", FleetID: fleet, RegisteredOn: time.Date(2022, 3, 1, 0, 0, 0, 0, time.UTC), Status: vehicle.Active,
		Terminal:  &vehicle.Terminal{ICCID: "89860012345678901234", BoundAt: now, BoundBy: "fleet@f1"},
		CreatedAt: now, UpdatedAt: now, UpdatedBy: "test", Version: 1}
}

func newStore(t *testing.T) *vehiclestore.Store {
	t.Helper()
	s := vehiclestore.New(testenv.Mongo(t))
	if err := s.EnsureIndexes(context.Background(), mongodb.AllIndexes); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestInsertGetRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	v := sample(t, 1, "f1")
	v.ScrapDue = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	v.LastInspection = &vehicle.Inspection{ReportID: "R1", StationID: "S1", Result: "pass", InspectedOn: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	if err := s.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, v.VIN)
	if err != nil {
		t.Fatal(err)
	}
	if got.Plate != v.Plate || got.Terminal == nil || got.Terminal.ICCID != v.Terminal.ICCID || !got.ScrapDue.Equal(v.ScrapDue) ||
		got.LastInspection == nil || got.LastInspection.StationID != "S1" || got.Version != 1 || !got.CreatedAt.Equal(v.CreatedAt) {
		t.Fatalf("Get = %+v, want %+v", got, v)
	}
	byPlate, err := s.GetByPlate(ctx, v.Plate, v.PlateColour)
	if err != nil || byPlate.VIN != v.VIN {
		t.Fatalf("GetByPlate = %v, %v; want %s", byPlate.VIN, err, v.VIN)
	}
	if _, err := s.GetByPlate(ctx, v.Plate, vehicleid.Blue); !errors.Is(err, vehicle.ErrNotFound) {
		t.Fatalf("GetByPlate(other colour) error = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, vin(t, "LZZ1CLVB0N0000099")); !errors.Is(err, vehicle.ErrNotFound) {
		t.Fatalf("Get(unknown) error = %v, want ErrNotFound", err)
	}
}

func TestInsertDuplicates(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	v := sample(t, 1, "f1")
	if err := s.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	sameVIN := v
	sameVIN.Plate = "晋F99999"
	if err := s.Insert(ctx, sameVIN); !errors.Is(err, vehicle.ErrDuplicateVIN) {
		t.Fatalf("Insert(same VIN) error = %v, want ErrDuplicateVIN", err)
	}
	samePlate := sample(t, 2, "f1")
	samePlate.Plate = v.Plate
	if err := s.Insert(ctx, samePlate); !errors.Is(err, vehicle.ErrDuplicatePlate) {
		t.Fatalf("Insert(same plate) error = %v, want ErrDuplicatePlate", err)
	}
}

// due is the plate keys of the vehicles' pending part records.
func due(t *testing.T, s *vehiclestore.Store) []string {
	t.Helper()
	src := s.PartSources()[0]
	ds, err := outbox.Pending(context.Background(), src.Coll, src.VersionField, 100)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, d := range ds {
		for _, rec := range d.Records {
			keys = append(keys, rec.Key)
		}
	}
	return keys
}

func TestReplaceVersionAndOutbox(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	v := sample(t, 1, "f1")
	v.ScrapDue = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	if keys := due(t, s); len(keys) != 1 || keys[0] != v.PlateKey() {
		t.Fatalf("due after insert = %v; want [%s]", keys, v.PlateKey())
	}
	if err := s.Ack(ctx, v.VIN, 1); err != nil {
		t.Fatal(err)
	}
	if keys := due(t, s); len(keys) != 0 {
		t.Fatalf("due after the ack = %v, want none", keys)
	}
	v2 := v
	v2.Status, v2.Version, v2.Plate, v2.ScrapDue = vehicle.Scrapped, 2, "晋F55555", time.Time{}
	if err := s.Replace(ctx, v2, v); err != nil {
		t.Fatal(err)
	}
	if keys := due(t, s); len(keys) != 2 || keys[0] != v2.PlateKey() || keys[1] != v.PlateKey() {
		t.Fatalf("due after replace = %v, want the new and the old plate", keys)
	}
	// An ack for the old version must not hide the newer write.
	if err := s.Ack(ctx, v.VIN, 1); err != nil {
		t.Fatal(err)
	}
	if keys := due(t, s); len(keys) != 2 {
		t.Fatalf("due after a stale ack = %v, want both plates", keys)
	}
	stale := v
	stale.Version = 2 // based on version 1, but version 2 is stored now
	if err := s.Replace(ctx, stale, v); !errors.Is(err, vehicle.ErrVersionConflict) {
		t.Fatalf("Replace(stale) error = %v, want ErrVersionConflict", err)
	}
	got, _ := s.Get(ctx, v.VIN)
	if got.Status != vehicle.Scrapped || got.Version != 2 || got.Plate != v2.Plate {
		t.Fatalf("after replace: status %s version %d plate %s, want scrapped 2 %s", got.Status, got.Version, got.Plate, v2.Plate)
	}
	if !got.ScrapDue.IsZero() {
		t.Fatalf("scrap_due %v survived a replace that cleared it", got.ScrapDue)
	}
}

func TestListPagesAndFilters(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var want []string
	for i := 1; i <= 5; i++ {
		fleet := "f1"
		if i%2 == 0 {
			fleet = "f2"
		}
		v := sample(t, i, fleet)
		if err := s.Insert(ctx, v); err != nil {
			t.Fatal(err)
		}
		if fleet == "f1" {
			want = append(want, v.VIN)
		}
	}
	slices.Sort(want)
	var got []string
	after := ""
	for {
		page, err := s.List(ctx, vehicle.Filter{FleetID: "f1"}, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page {
			got = append(got, v.VIN)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].VIN
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged list = %v, want %v", got, want)
	}
	n := 0
	if err := s.Each(ctx, vehicle.Filter{FleetID: "f2"}, func(vehicle.Vehicle) error { n++; return nil }); err != nil || n != 2 {
		t.Fatalf("Each(f2) = %d, %v; want 2", n, err)
	}
}

func TestScreeningsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	v := vin(t, "LZZ1CLVB0N0000001")
	for i, at := range []time.Time{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)} {
		sc := vehicle.Screening{ID: "scr_" + string(rune('a'+i)), VIN: v, Purpose: vehicle.ForInspectionMark, Decision: vehicle.Refused,
			Reasons:   []vehicle.Reason{{Code: "no_inspection_report", Rule: "task 15", Message: "m", Blocking: true}},
			PhaseOut:  vehicle.PhaseOut{Listed: true, List: "diesel_truck_china3", Deadline: time.Date(2020, 12, 31, 0, 0, 0, 0, time.UTC), Overdue: true},
			DecidedAt: at, DecidedBy: "police"}
		if err := s.InsertScreening(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ListScreenings(ctx, v, 10)
	if err != nil || len(list) != 2 || list[0].ID != "scr_b" {
		t.Fatalf("ListScreenings = %+v, %v; want newest first", list, err)
	}
	got, err := s.GetScreening(ctx, "scr_a")
	if err != nil || got.Reasons[0].Code != "no_inspection_report" || !got.PhaseOut.Overdue || got.PhaseOut.Deadline.Year() != 2020 {
		t.Fatalf("GetScreening = %+v, %v", got, err)
	}
	if _, err := s.GetScreening(ctx, "nope"); !errors.Is(err, vehicle.ErrScreeningNotFound) {
		t.Fatalf("GetScreening(unknown) error = %v, want ErrScreeningNotFound", err)
	}
}

// TestIndexes lists the indexes the store creates: FerretDB does not use them, so this is the
// check that MongoDB will get them.
func TestIndexes(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	s := vehiclestore.New(db)
	if err := s.EnsureIndexes(ctx, mongodb.AllIndexes); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndexes(ctx, mongodb.AllIndexes); err != nil {
		t.Fatalf("EnsureIndexes twice: %v", err)
	}
	for _, coll := range []string{vehiclestore.Vehicles, vehiclestore.Screenings, vehiclestore.Proposals} {
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
		for _, ix := range vehiclestore.Indexes {
			if ix.Collection == coll && !names[ix.Name] {
				t.Errorf("collection %s lacks index %s (has %v)", coll, ix.Name, names)
			}
		}
	}
}
