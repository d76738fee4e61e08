package sensing

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/libs/vehicleinfo"
)

// memStore is an in-memory Store for the benchmark: it keeps nothing but the stations, so the
// benchmark measures the service's own work (validation, lookups, judging, deriving).
type memStore struct {
	StationStore
	ReadingStore
	CaseStore
	LimitStore
	JobStore
	ReportStore
	station Station
}

func (m *memStore) GetStation(context.Context, string) (Station, error) { return m.station, nil }
func (m *memStore) InsertReadings(context.Context, []Reading) ([]int, error) {
	return nil, nil
}
func (m *memStore) InsertJob(context.Context, Job) error                  { return nil }
func (m *memStore) DeleteJob(context.Context, string) error               { return nil }
func (m *memStore) InsertExceedances(context.Context, []Exceedance) error { return nil }
func (m *memStore) InsertCase(context.Context, Case) error                { return nil }
func (m *memStore) CasesOf(context.Context, []string, time.Time) ([]Case, error) {
	return nil, nil
}
func (m *memStore) ExceedancesOf(context.Context, []string, time.Time) ([]Exceedance, error) {
	return nil, nil
}

type memVehicles map[string]summary.Vehicle

func (m memVehicles) ByPlates(_ context.Context, plates []vehicleinfo.PlateRef, _ int) map[string]vehicleinfo.Result {
	out := map[string]vehicleinfo.Result{}
	for _, p := range plates {
		k := vehicleid.Key(p.Plate, p.Colour)
		if v, ok := m[k]; ok {
			out[k] = vehicleinfo.Result{Vehicle: v}
		} else {
			out[k] = vehicleinfo.Result{Err: apperr.ErrNotFound}
		}
	}
	return out
}

type memCache struct{}

func (memCache) Put(context.Context, ...summary.Entry) error { return nil }

// BenchmarkUploadBatch measures the service's own cost of a batch of 1000 readings (3 % above
// the opacity limit) with the store, the registry and Redis in memory: validation, the
// registry lookups, judging and deriving. ns/op divided by 1000 is the cost of one reading.
func BenchmarkUploadBatch(b *testing.B) {
	now := time.Now()
	vs := memVehicles{}
	for i := range 2000 {
		p := fmt.Sprintf("晋F%05d", i)
		vs[vehicleid.Key(p, vehicleid.Yellow)] = summary.Vehicle{Plate: p, PlateColour: "yellow", FuelType: "diesel", Maker: "Sinotruk", FleetID: "f", InspectionStation: "JC"}
	}
	store := &memStore{station: Station{ID: "RS-1", OperatorID: "op", CalibratedOn: now.AddDate(0, 0, -10)}}
	svc := NewService(allStores(store), vs, memCache{}, nil, Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)), noop.NewTracerProvider())
	batch := make([]ReadingInput, 1000)
	for i := range batch {
		opacity := 12.0
		if i%33 == 0 {
			opacity = 45
		}
		batch[i] = ReadingInput{ReadingID: fmt.Sprintf("R%06d", i), StationID: "RS-1", Plate: fmt.Sprintf("晋F%05d", i*7%2000), PlateColour: "yellow",
			MeasuredAt: now.Add(-time.Duration(i) * time.Second).Format(time.RFC3339), Opacity: fp(opacity), NO: fp(400), Ringelmann: fp(0),
			SpeedKmh: fp(40), AccelMS2: fp(0.3), WindMS: fp(1), Photos: []string{"oss://x.jpg"}}
	}
	p := auth.Principal{Subject: "sensor@op", Role: auth.Sensor, Tenant: "op"}
	b.ReportAllocs()
	for b.Loop() {
		res, err := svc.Upload(context.Background(), p, batch)
		if err != nil || res.Created != 1000 {
			b.Fatal(err, res.Created)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/reading")
}

// allStores is x as every store of the service.
func allStores(x interface {
	StationStore
	ReadingStore
	CaseStore
	LimitStore
	JobStore
	ReportStore
}) Stores {
	return Stores{Stations: x, Readings: x, Cases: x, Limits: x, Jobs: x, Reports: x}
}
