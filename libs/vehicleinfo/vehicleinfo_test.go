package vehicleinfo_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/telemetry"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/libs/vehicleinfo"
)

func TestLookup(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := testenv.Redis(t)
	keys, _ := auth.NewKeys([]byte("0123456789abcdef0123456789abcdef"))
	tel, _ := telemetry.Setup(ctx, telemetry.Options{ServiceName: "t", Getenv: func(string) string { return "" }})
	var calls atomic.Int32
	var sawTrace, sawRole atomic.Bool
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		sawTrace.Store(r.Header.Get("traceparent") != "")
		if p, err := keys.Verify(r.Header.Get("Authorization")[len("Bearer "):]); err == nil && p.Role == auth.System {
			sawRole.Store(true)
		}
		switch r.URL.Query().Get("plate") + r.URL.Query().Get("vin") {
		case "晋F12345":
			w.Write([]byte(`{"vin":"V1","plate":"晋F12345","plate_colour":"yellow","status":"scrapped"}`))
		case "VDOWN":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer registry.Close()
	newClient := func(r redis.UniversalClient, url string) *vehicleinfo.Client {
		return vehicleinfo.New(vehicleinfo.Config{RegistryURL: url}, vehicleinfo.Deps{Redis: r, Prefix: prefix, Keys: keys,
			Tracer: tel.Tracer, Propagator: tel.Propagator, Service: "test"})
	}
	c := newClient(rdb, registry.URL)

	// Cached: no HTTP call.
	b, _ := summary.Encode(summary.Registry, time.Now(), summary.Vehicle{VIN: "V2", Plate: "晋F99999", Status: "active"})
	rdb.Set(ctx, summary.Key(prefix, vehicleid.Key("晋F99999", vehicleid.Yellow), summary.Registry), b, time.Minute)
	got, err := c.ByPlate(ctx, "晋F99999", vehicleid.Yellow)
	if err != nil || got.VIN != "V2" || calls.Load() != 0 {
		t.Fatalf("cached ByPlate = %+v, %v, %d calls; want V2 from Redis", got, err, calls.Load())
	}
	// Missing: asks the registry, with a system token and the trace context.
	got, err = c.ByPlate(ctx, "晋F12345", vehicleid.Yellow)
	if err != nil || got.Status != "scrapped" || calls.Load() != 1 || !sawRole.Load() || !sawTrace.Load() {
		t.Fatalf("fallback ByPlate = %+v, %v; calls %d role %v trace %v", got, err, calls.Load(), sawRole.Load(), sawTrace.Load())
	}
	if _, err := c.ByVIN(ctx, "VNONE"); !vehicleinfo.IsUnknown(err) {
		t.Fatalf("unknown VIN error = %v, want ErrUnknown", err)
	}
	if _, err := c.ByVIN(ctx, "VDOWN"); !errors.Is(err, apperr.ErrUnavailable) {
		t.Fatalf("registry 500 error = %v, want ErrUnavailable", err)
	}
	// Redis down and the registry down: unavailable, never a made-up answer.
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	defer dead.Close()
	if _, err := newClient(dead, "http://127.0.0.1:1").ByVIN(ctx, "V1"); !errors.Is(err, apperr.ErrUnavailable) {
		t.Fatalf("all down error = %v, want ErrUnavailable", err)
	}
	// Redis down, registry up: the registry answers.
	if got, err := newClient(dead, registry.URL).ByPlate(ctx, "晋F12345", vehicleid.Yellow); err != nil || got.VIN != "V1" {
		t.Fatalf("Redis down ByPlate = %+v, %v", got, err)
	}

	// Many at once: one MGET answers the cached, the registry the rest; repeats are asked once.
	calls.Store(0)
	many := c.ByPlates(ctx, []vehicleinfo.PlateRef{{Plate: "晋F99999", Colour: vehicleid.Yellow}, {Plate: "晋F12345", Colour: vehicleid.Yellow},
		{Plate: "晋F00000", Colour: vehicleid.Yellow}, {Plate: "晋F12345", Colour: vehicleid.Yellow}}, 4)
	if len(many) != 3 || many["晋F99999:yellow"].Vehicle.VIN != "V2" || many["晋F12345:yellow"].Vehicle.Status != "scrapped" ||
		!vehicleinfo.IsUnknown(many["晋F00000:yellow"].Err) || calls.Load() != 2 {
		t.Fatalf("ByPlates = %+v after %d registry calls; want V2 cached, V1 and an unknown from 2 calls", many, calls.Load())
	}
	// Redis down: every plate goes to the registry.
	many = newClient(dead, registry.URL).ByPlates(ctx, []vehicleinfo.PlateRef{{Plate: "晋F12345", Colour: vehicleid.Yellow}}, 1)
	if r := many["晋F12345:yellow"]; r.Err != nil || r.Vehicle.VIN != "V1" {
		t.Fatalf("Redis down ByPlates = %+v", many)
	}
}
