package remotesensing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/seeds"
	"github.com/clearsky/clearsky/services/remotesensing"
)

// fakeRegistry answers GET /v1/registry/status like the registry does, from a map; down makes
// it answer 503.
type fakeRegistry struct {
	srv      *httptest.Server
	mu       sync.Mutex
	vehicles map[string]summary.Vehicle
	down     atomic.Bool
	calls    atomic.Int32
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	f := &fakeRegistry{vehicles: map[string]summary.Vehicle{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if f.down.Load() || r.URL.Path != "/v1/registry/status" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		f.mu.Lock()
		v, ok := f.vehicles[vehicleid.Key(r.URL.Query().Get("plate"), vehicleid.Colour(r.URL.Query().Get("colour")))]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRegistry) add(v summary.Vehicle) {
	f.mu.Lock()
	f.vehicles[vehicleid.Key(v.Plate, vehicleid.Colour(v.PlateColour))] = v
	f.mu.Unlock()
}

var (
	truck = summary.Vehicle{VIN: "LZZ1CLVB2N0000001", Plate: "晋F12345", PlateColour: "yellow", Status: "active", FuelType: "diesel",
		Maker: "Sinotruk", FleetID: "fleet-shuozhou-logistics", InspectionStation: "JC-01", RegisteredPlace: "朔州市朔城区", Heavy: true}
	truck2 = summary.Vehicle{VIN: "LZZ1CLVB4N0000002", Plate: "晋F23456", PlateColour: "yellow", Status: "active", FuelType: "diesel",
		Maker: "FAW Jiefang", FleetID: "fleet-shuozhou-logistics", InspectionStation: "JC-02", Heavy: true}
	car = summary.Vehicle{VIN: "LZZ1CLVB8N0000200", Plate: "晋F8A888", PlateColour: "blue", Status: "active", FuelType: "gasoline", Maker: "Geely"}
	// truck3 is known to the registry's API only (no Redis entry).
	truck3 = summary.Vehicle{VIN: "LZZ1CLVB3N0000007", Plate: "晋F67890", PlateColour: "yellow", Status: "active", FuelType: "diesel",
		Maker: "Dongfeng", FleetID: "fleet-jinbei-transport", InspectionStation: "JC-01", Heavy: true}
)

type env struct {
	*testenv.API
	db     *mongo.Database
	rdb    redis.UniversalClient
	prefix string
	svc    *remotesensing.Service
	reg    *fakeRegistry
}

func newEnv(t *testing.T, db *mongo.Database, rdb redis.UniversalClient, prefix string, reg *fakeRegistry) *env {
	t.Helper()
	ctx := context.Background()
	deps := testenv.Platform(t, remotesensing.Name, db, rdb, prefix)
	deps.Vehicles = platform.NewVehicles(remotesensing.Name, reg.srv.URL, nil, deps)
	svc, err := remotesensing.New(ctx, remotesensing.Config{RunEvery: 50 * time.Millisecond, JobGrace: time.Millisecond, JobRetry: 50 * time.Millisecond}, deps)
	if err != nil {
		t.Fatal(err)
	}
	return &env{API: testenv.Serve(t, remotesensing.Name, deps, svc.Routes), db: db, rdb: rdb, prefix: prefix, svc: svc, reg: reg}
}

// cacheVehicle writes a registry entry into Redis as the registry would.
func (e *env) cacheVehicle(t *testing.T, v summary.Vehicle) {
	t.Helper()
	b, err := summary.Encode(summary.Registry, time.Now(), v)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.rdb.Set(context.Background(), summary.Key(e.prefix, vehicleid.Key(v.Plate, vehicleid.Colour(v.PlateColour)), summary.Registry), b, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
}

func (e *env) token(t *testing.T, role auth.Role, tenant string) string {
	return e.Token(t, role, tenant)
}

type response struct {
	status int
	body   map[string]any
	ctype  string
}

func (e *env) do(t *testing.T, method, path, token string, body any) response {
	t.Helper()
	r := e.Do(t, method, path, token, body)
	return response{status: r.Status, body: r.Body, ctype: r.ContentType}
}

func fieldOf(r response) string { return testenv.Response{Body: r.body}.Field() }

func count(t *testing.T, db *mongo.Database, coll string, filter bson.D) int64 {
	t.Helper()
	n, err := db.Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func station(id, operator string, calibrated time.Time) map[string]any {
	return map[string]any{"station_id": id, "name": "Kaifa Road " + id, "lat": 39.331, "lon": 112.432, "site": "开发路与民福街交叉口",
		"lane": "2", "device": "RSD-5000 #0042", "operator_id": operator, "calibrated_on": calibrated.Format(time.DateOnly)}
}

var seq atomic.Int64

// rd is a valid diesel reading of plate at station, measured ago before now.
func rd(stationID, plate, colour string, ago time.Duration, opacity float64) map[string]any {
	return map[string]any{"reading_id": fmt.Sprintf("R%06d", seq.Add(1)), "station_id": stationID, "plate": plate, "plate_colour": colour,
		"measured_at": time.Now().Add(-ago).Format(time.RFC3339Nano), "opacity_pct": opacity, "no_ppm": 420.0, "ringelmann": 0,
		"speed_kmh": 38.5, "accel_ms2": 0.3, "wind_ms": 1.2, "temperature_c": 12.0, "humidity_pct": 40.0, "rain": false, "fog": false,
		"photos": []string{"oss://rs/" + stationID + "/plate.jpg"}}
}

func items(r response) []map[string]any {
	raw, _ := r.body["items"].([]any)
	out := make([]map[string]any, len(raw))
	for i, x := range raw {
		out[i] = x.(map[string]any)
	}
	return out
}

func (e *env) part(t *testing.T, plate, colour string) map[string]any {
	t.Helper()
	raw, err := e.rdb.Get(context.Background(), summary.Key(e.prefix, vehicleid.Key(plate, vehicleid.Colour(colour)), summary.RemoteSensing)).Bytes()
	if err != nil {
		return nil
	}
	env, err := summary.Decode(raw)
	if err != nil || env.Part != summary.RemoteSensing {
		t.Fatalf("bad part in Redis: %v %s", err, raw)
	}
	var st map[string]any
	_ = json.Unmarshal(env.Data, &st)
	return st
}

func TestRemoteSensingHTTP(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	reg := newFakeRegistry(t)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix, reg)
	for _, v := range []summary.Vehicle{truck, truck2, car, truck3} {
		reg.add(v)
	}
	for _, v := range []summary.Vehicle{truck, truck2, car} {
		e.cacheVehicle(t, v)
	}
	bureau, police, transport := e.token(t, auth.Bureau, ""), e.token(t, auth.Police, ""), e.token(t, auth.Transport, "")
	sensor1, sensor2 := e.token(t, auth.Sensor, "op-1"), e.token(t, auth.Sensor, "op-2")
	fleet, otherFleet := e.token(t, auth.Fleet, "fleet-shuozhou-logistics"), e.token(t, auth.Fleet, "fleet-jinbei-transport")
	shop7, shop8 := e.token(t, auth.Repair, "shop-7"), e.token(t, auth.Repair, "shop-8")
	system, admin := e.token(t, auth.System, ""), e.token(t, auth.Admin, "")
	today := time.Now()

	t.Run("stations", func(t *testing.T) {
		if r := e.do(t, "POST", "/v1/remote-sensing/stations", bureau, station("RS-01", "op-1", today.AddDate(0, 0, -30))); r.status != 201 || r.body["calibration_valid"] != true {
			t.Fatalf("register = %d %v", r.status, r.body)
		}
		if r := e.do(t, "POST", "/v1/remote-sensing/stations", bureau, station("RS-01", "op-1", today.AddDate(0, 0, -30))); r.status != 200 {
			t.Fatalf("same station again = %d, want 200", r.status)
		}
		if r := e.do(t, "POST", "/v1/remote-sensing/stations", bureau, station("RS-01", "op-2", today.AddDate(0, 0, -30))); r.status != 409 {
			t.Fatalf("same id, other details = %d, want 409", r.status)
		}
		if r := e.do(t, "POST", "/v1/remote-sensing/stations", bureau, station("RS-OLD", "op-1", today.AddDate(-2, 0, 0))); r.status != 201 || r.body["calibration_valid"] != false {
			t.Fatalf("out-of-calibration station = %d %v", r.status, r.body)
		}
		bad := station("RS-X", "op-1", today)
		bad["calibrated_on"] = today.AddDate(0, 0, 3).Format(time.DateOnly)
		if r := e.do(t, "POST", "/v1/remote-sensing/stations", bureau, bad); r.status != 400 || fieldOf(r) != "calibrated_on" {
			t.Fatalf("calibrated in the future = %d %v", r.status, r.body)
		}
		if r := e.do(t, "GET", "/v1/remote-sensing/stations", sensor2, nil); r.status != 200 || len(items(r)) != 0 {
			t.Fatalf("op-2 sees %v", r.body)
		}
		if r := e.do(t, "GET", "/v1/remote-sensing/stations", sensor1, nil); len(items(r)) != 2 {
			t.Fatalf("op-1 sees %v", r.body)
		}
		if r := e.do(t, "GET", "/v1/remote-sensing/stations/RS-01", sensor2, nil); r.status != 404 {
			t.Fatalf("op-2 reads op-1's station = %d", r.status)
		}
	})

	t.Run("authorisation matrix", func(t *testing.T) {
		cases := []struct {
			name, method, path, token string
			body                      any
			want                      int
		}{
			{"sensor may not register stations", "POST", "/v1/remote-sensing/stations", sensor1, station("RS-02", "op-1", today), 403},
			{"police may not register stations", "POST", "/v1/remote-sensing/stations", police, station("RS-02", "op-1", today), 403},
			{"sensor may not change stations", "PATCH", "/v1/remote-sensing/stations/RS-01", sensor1, map[string]any{"name": "x"}, 403},
			{"police may not upload", "POST", "/v1/remote-sensing/measurements", police, []any{rd("RS-01", "晋F12345", "yellow", time.Hour, 10)}, 403},
			{"fleet may not upload", "POST", "/v1/remote-sensing/measurements", fleet, []any{rd("RS-01", "晋F12345", "yellow", time.Hour, 10)}, 403},
			{"another operator's station is answered as an unknown one", "POST", "/v1/remote-sensing/measurements", sensor2, []any{rd("RS-01", "晋F12345", "yellow", time.Hour, 10)}, 400},
			{"admin may not upload", "POST", "/v1/remote-sensing/measurements", admin, []any{rd("RS-01", "晋F12345", "yellow", time.Hour, 10)}, 403},
			{"admin may not register stations", "POST", "/v1/remote-sensing/stations", admin, station("RS-02", "op-1", today), 403},
			{"admin may not move cases", "POST", "/v1/remote-sensing/cases/x/transitions", admin, map[string]any{"to": "notified"}, 403},
			{"admin may not report repairs", "POST", "/v1/remote-sensing/cases/x/repair-report", admin, map[string]any{"reference": "x"}, 403},
			{"admin reads cases", "GET", "/v1/remote-sensing/cases", admin, nil, 200},
			{"no token", "GET", "/v1/remote-sensing/measurements", "", nil, 401},
			{"bad token", "GET", "/v1/remote-sensing/cases", "nope", nil, 401},
			{"repair shop may not list readings", "GET", "/v1/remote-sensing/measurements", shop7, nil, 403},
			{"sensor may not list cases", "GET", "/v1/remote-sensing/cases", sensor1, nil, 403},
			{"fleet may not read reports", "GET", "/v1/remote-sensing/reports/exceedance", fleet, nil, 403},
			{"police may not read reports", "GET", "/v1/remote-sensing/reports/repeat-offenders", police, nil, 403},
			{"transport reads reports", "GET", "/v1/remote-sensing/reports/exceedance?by=fleet", transport, nil, 200},
			{"fleet may not read the status fallback", "GET", "/v1/remote-sensing/status?plate=" + url.QueryEscape("晋F12345") + "&colour=yellow", fleet, nil, 403},
			{"a service reads the status", "GET", "/v1/remote-sensing/status?plate=" + url.QueryEscape("晋F12345") + "&colour=yellow", system, nil, 200},
			{"fleet may not compile a disclosure", "GET", "/v1/remote-sensing/disclosure?month=2026-11", fleet, nil, 403},
			{"sensor may not compile a disclosure", "GET", "/v1/remote-sensing/disclosure?month=2026-11", sensor1, nil, 403},
			{"a repair shop may not print the owner's notice", "GET", "/v1/remote-sensing/cases/x/notice", shop7, nil, 403},
			{"sensor may not print the owner's notice", "GET", "/v1/remote-sensing/cases/x/notice", sensor1, nil, 403},
			{"the disclosure service compiles one", "GET", "/v1/remote-sensing/disclosure?month=2026-11", system, nil, 200},
			{"fleet may not move cases", "POST", "/v1/remote-sensing/cases/x/transitions", fleet, map[string]any{"to": "notified"}, 403},
			{"repair shop may not move cases", "POST", "/v1/remote-sensing/cases/x/transitions", shop7, map[string]any{"to": "repaired"}, 403},
			{"police may not report repairs", "POST", "/v1/remote-sensing/cases/x/repair-report", police, map[string]any{"reference": "x"}, 403},
			{"sensor reads the limits", "GET", "/v1/remote-sensing/limits", sensor1, nil, 200},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got := e.do(t, tc.method, tc.path, tc.token, tc.body)
				if got.status != tc.want {
					t.Fatalf("%s %s = %d %v, want %d", tc.method, tc.path, got.status, got.body, tc.want)
				}
				if got.status >= 400 && got.ctype != "application/problem+json" {
					t.Fatalf("error content type = %q", got.ctype)
				}
			})
		}
		if n := count(t, e.db, "rs_readings", bson.D{}); n != 0 {
			t.Fatalf("%d readings written by refused uploads", n)
		}
	})

	first := []any{
		rd("RS-01", "晋F12345", "yellow", 3*time.Hour, 45),   // 0 exceed opacity
		rd("RS-01", "晋F23456", "yellow", 3*time.Hour, 12),   // 1 pass
		rd("RS-01", "晋F8A888", "blue", 3*time.Hour, 5),      // 2 petrol: not judged
		rd("RS-01", "晋F00000", "yellow", 3*time.Hour, 60),   // 3 unknown vehicle
		rd("RS-01", "晋F23456", "yellow", 2*time.Hour, 80),   // 4 invalid: too slow
		rd("RS-OLD", "晋F23456", "yellow", 2*time.Hour, 80),  // 5 out of calibration
		rd("RS-01", "晋F67890", "yellow", 2*time.Hour, 10.5), // 6 registry API only: pass
	}
	first[4].(map[string]any)["speed_kmh"] = 2.0

	t.Run("upload judges each reading", func(t *testing.T) {
		r := e.do(t, "POST", "/v1/remote-sensing/measurements", sensor1, first)
		if r.status != 200 || r.body["created"].(float64) != 7 {
			t.Fatalf("upload = %d %v", r.status, r.body)
		}
		want := []string{"exceed", "pass", "not_judged", "unknown_vehicle", "invalid", "not_judged", "pass"}
		for i, it := range items(r) {
			if it["status"] != "created" || it["verdict"] != want[i] {
				t.Errorf("item %d = %v, want created %s", i, it, want[i])
			}
		}
		x := items(r)[0]["exceedances"].([]any)[0].(map[string]any)
		if x["parameter"] != "opacity" || x["value"].(float64) != 45 || x["limit"].(float64) != 30 || x["standard"] != "GB 3847-2018" || items(r)[0]["table_version"] != "2019-05-01-default" {
			t.Fatalf("exceedance = %v", x)
		}
		if reasons := items(r)[5]["reasons"].([]any); reasons[0].(map[string]any)["code"] != "calibration_expired" {
			t.Fatalf("RS-OLD reasons = %v", reasons)
		}
		if reasons := items(r)[4]["reasons"].([]any); reasons[0].(map[string]any)["code"] != "speed_out_of_window" {
			t.Fatalf("slow reading reasons = %v", reasons)
		}
		// One exceedance: recorded and shown, no case.
		if n := count(t, e.db, "rs_cases", bson.D{}); n != 0 {
			t.Fatalf("%d cases after one exceedance", n)
		}
		st := e.part(t, "晋F12345", "yellow")
		if st == nil || st["exceeding"] != false || st["exceedances_in_cycle"].(float64) != 1 || st["last_exceedance"].(map[string]any)["pollutant"] != "opacity" {
			t.Fatalf("summary after one exceedance = %v", st)
		}
		if n := count(t, e.db, "rs_jobs", bson.D{}); n != 0 {
			t.Fatalf("%d outbox jobs left after a clean upload", n)
		}
	})

	t.Run("re-upload is idempotent; different content is a conflict", func(t *testing.T) {
		before := count(t, e.db, "rs_readings", bson.D{})
		r := e.do(t, "POST", "/v1/remote-sensing/measurements", sensor1, first)
		if r.status != 200 || r.body["duplicates"].(float64) != 7 || r.body["created"].(float64) != 0 {
			t.Fatalf("re-upload = %d %v", r.status, r.body)
		}
		if it := items(r)[0]; it["status"] != "duplicate" || it["verdict"] != "exceed" {
			t.Fatalf("repeat answers the stored verdict: %v", it)
		}
		changed := map[string]any{}
		for k, v := range first[1].(map[string]any) {
			changed[k] = v
		}
		changed["opacity_pct"] = 99.0
		fresh := rd("RS-01", "晋F23456", "yellow", time.Hour, 10)
		r = e.do(t, "POST", "/v1/remote-sensing/measurements", sensor1, []any{changed, fresh, fresh})
		if r.status != 200 || r.body["conflicts"].(float64) != 1 || r.body["created"].(float64) != 1 || r.body["duplicates"].(float64) != 1 {
			t.Fatalf("conflicting re-upload = %d %v", r.status, r.body)
		}
		if it := items(r)[0]; it["status"] != "conflict" || it["verdict"] != nil {
			t.Fatalf("conflict item = %v", it)
		}
		if after := count(t, e.db, "rs_readings", bson.D{}); after != before+1 {
			t.Fatalf("readings %d -> %d, want one more", before, after)
		}
		if n := count(t, e.db, "rs_readings", bson.D{{Key: "_id", Value: "RS-01|" + first[1].(map[string]any)["reading_id"].(string)}, {Key: "opacity_pct", Value: 12.0}}); n != 1 {
			t.Fatal("the conflicting upload changed the stored reading")
		}
	})

	t.Run("a bad batch is refused whole and names the reading", func(t *testing.T) {
		before := count(t, e.db, "rs_readings", bson.D{})
		with := func(i int, k string, v any) []any {
			b := []any{rd("RS-01", "晋F12345", "yellow", time.Hour, 10), rd("RS-01", "晋F12345", "yellow", time.Hour, 10)}
			b[i].(map[string]any)[k] = v
			return b
		}
		tooMany := make([]any, 5001)
		for i := range tooMany {
			tooMany[i] = map[string]any{}
		}
		cases := []struct {
			name      string
			body      any
			wantField string
		}{
			{"bad plate in the second", with(1, "plate", "XYZ"), "[1].plate"},
			{"unknown field in the second", with(1, "colour", "yellow"), "[1].colour"},
			{"wrong type in the first", with(0, "opacity_pct", "high"), "[0].opacity_pct"},
			{"bad time", with(1, "measured_at", "yesterday"), "[1].measured_at"},
			{"unknown station", with(0, "station_id", "RS-99"), "[0].station_id"},
			{"opacity over 100", with(1, "opacity_pct", 140), "[1].opacity_pct"},
			{"no speed", with(0, "speed_kmh", nil), "[0].speed_kmh"},
			{"not an array", map[string]any{"reading_id": "x"}, "body"},
			{"empty array", []any{}, "body"},
			{"malformed JSON", `[{"reading_id": `, "body"},
			{"too many readings", tooMany, "body"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(t, "POST", "/v1/remote-sensing/measurements", sensor1, tc.body)
				if r.status != 400 || fieldOf(r) != tc.wantField || r.ctype != "application/problem+json" {
					t.Fatalf("= %d field %q %v, want 400 %q", r.status, fieldOf(r), r.body, tc.wantField)
				}
			})
		}
		if after := count(t, e.db, "rs_readings", bson.D{}); after != before {
			t.Fatalf("readings %d -> %d after refused batches", before, after)
		}
	})

	var caseID string
	t.Run("a second exceedance in the cycle opens a case", func(t *testing.T) {
		r := e.do(t, "POST", "/v1/remote-sensing/measurements", sensor1, []any{rd("RS-01", "晋F12345", "yellow", 90*time.Minute, 52)})
		if r.status != 200 || items(r)[0]["verdict"] != "exceed" {
			t.Fatalf("upload = %d %v", r.status, r.body)
		}
		r = e.do(t, "GET", "/v1/remote-sensing/cases?plate="+url.QueryEscape("晋F12345")+"&colour=yellow", police, nil)
		cs := items(r)
		if r.status != 200 || len(cs) != 1 {
			t.Fatalf("cases = %d %v", r.status, r.body)
		}
		c := cs[0]
		caseID = c["id"].(string)
		chain := c["chain"].(map[string]any)
		if c["state"] != "detected" || c["pollutant"] != "opacity" || len(c["triggers"].([]any)) != 2 || chain["maker"] != "Sinotruk" ||
			chain["inspection_station"] != "JC-01" || chain["transport_company"] != "fleet-shuozhou-logistics" || chain["registered_place"] != "朔州市朔城区" {
			t.Fatalf("case = %v", c)
		}
		st := e.part(t, "晋F12345", "yellow")
		open := st["open_cases"].([]any)
		if st["exceeding"] != true || len(open) != 1 || open[0].(map[string]any)["state"] != "detected" || st["exceedances_in_cycle"].(float64) != 2 {
			t.Fatalf("summary = %v", st)
		}
		// A third exceedance keeps the one open case.
		e.do(t, "POST", "/v1/remote-sensing/measurements", sensor1, []any{rd("RS-01", "晋F12345", "yellow", 80*time.Minute, 61)})
		if n := count(t, e.db, "rs_cases", bson.D{}); n != 1 {
			t.Fatalf("%d cases after a third exceedance, want 1", n)
		}
	})

	move := func(t *testing.T, tok, to string, extra map[string]any) response {
		t.Helper()
		b := map[string]any{"to": to}
		for k, v := range extra {
			b[k] = v
		}
		return e.do(t, "POST", "/v1/remote-sensing/cases/"+caseID+"/transitions", tok, b)
	}
	t.Run("the enforcement loop", func(t *testing.T) {
		steps := []struct {
			name, token, to string
			extra           map[string]any
			want            int
			wantField       string
		}{
			{"police cannot notify", police, "notified", nil, 403, ""},
			{"bureau cannot skip to penalised", bureau, "penalised", map[string]any{"reference": "x"}, 403, ""},
			{"bureau notifies", bureau, "notified", map[string]any{"reason": "notice sent", "reference": "TZ-2026-0042"}, 200, ""},
			{"bureau cannot notify twice", bureau, "notified", nil, 409, ""},
			{"transport cannot confirm before the penalty", transport, "repaired", nil, 409, ""},
			{"police must cite the decision", police, "penalised", nil, 400, "reference"},
			{"police penalises", police, "penalised", map[string]any{"reference": "FK-2026-0007", "reason": "GB 3847-2018 exceedance"}, 200, ""},
			{"transport cannot confirm an unreported repair", transport, "repaired", nil, 409, ""},
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				r := move(t, s.token, s.to, s.extra)
				if r.status != s.want || fieldOf(r) != s.wantField {
					t.Fatalf("= %d %q %v, want %d %q", r.status, fieldOf(r), r.body, s.want, s.wantField)
				}
			})
		}
		// Any repair shop could read any penalised case with its VIN and fleet, and one shop's
		// report replaced another's. Now the owner chooses one shop; only it sees and reports.
		choose := func(t *testing.T, tok string, body any) response {
			t.Helper()
			return e.do(t, "POST", "/v1/remote-sensing/cases/"+caseID+"/repair-shop", tok, body)
		}
		report := func(t *testing.T, tok, ref string) response {
			t.Helper()
			return e.do(t, "POST", "/v1/remote-sensing/cases/"+caseID+"/repair-report", tok, map[string]any{"reference": ref})
		}
		shopRows := []struct {
			name string
			do   func(t *testing.T) response
			want int
		}{
			{"an unassigned shop cannot read a penalised case", func(t *testing.T) response { return e.do(t, "GET", "/v1/remote-sensing/cases/"+caseID, shop8, nil) }, 404},
			{"an unassigned shop cannot report", func(t *testing.T) response { return report(t, shop7, "WX-1") }, 404},
			{"another fleet cannot choose", func(t *testing.T) response { return choose(t, otherFleet, map[string]any{"shop_id": "shop-7"}) }, 404},
			{"transport cannot choose for a fleet", func(t *testing.T) response { return choose(t, transport, map[string]any{"shop_id": "shop-7"}) }, 403},
			{"a shop cannot choose itself", func(t *testing.T) response { return choose(t, shop7, map[string]any{"shop_id": "shop-7"}) }, 403},
			{"the bureau does not choose", func(t *testing.T) response { return choose(t, bureau, map[string]any{"shop_id": "shop-7"}) }, 403},
			{"a choice names the shop", func(t *testing.T) response { return choose(t, fleet, map[string]any{}) }, 400},
			{"the owner chooses shop-8", func(t *testing.T) response {
				return choose(t, fleet, map[string]any{"shop_id": "shop-8", "note": "the fleet's contracted workshop"})
			}, 200},
			{"shop-8 reads it", func(t *testing.T) response { return e.do(t, "GET", "/v1/remote-sensing/cases/"+caseID, shop8, nil) }, 200},
			{"shop-7 still cannot", func(t *testing.T) response { return e.do(t, "GET", "/v1/remote-sensing/cases/"+caseID, shop7, nil) }, 404},
			{"shop-8 reports", func(t *testing.T) response { return report(t, shop8, "WX-88") }, 200},
			{"shop-7 cannot replace shop-8's report", func(t *testing.T) response { return report(t, shop7, "WX-FAKE") }, 404},
			{"the owner moves the case to shop-7", func(t *testing.T) response { return choose(t, fleet, map[string]any{"shop_id": "shop-7"}) }, 200},
			{"shop-8's report left the case", func(t *testing.T) response { return move(t, transport, "repaired", nil) }, 409},
			{"shop-8 no longer sees it", func(t *testing.T) response { return e.do(t, "GET", "/v1/remote-sensing/cases/"+caseID, shop8, nil) }, 404},
			{"shop-7 needs the order number", func(t *testing.T) response {
				return e.do(t, "POST", "/v1/remote-sensing/cases/"+caseID+"/repair-report", shop7, map[string]any{})
			}, 400},
		}
		for _, row := range shopRows {
			t.Run(row.name, func(t *testing.T) {
				if r := row.do(t); r.status != row.want {
					t.Fatalf("= %d %v, want %d", r.status, r.body, row.want)
				}
			})
		}
		if r := e.do(t, "GET", "/v1/remote-sensing/cases", shop8, nil); r.status != 200 || len(items(r)) != 0 {
			t.Fatalf("shop-8 lists %v, want no case", r.body)
		}
		if r := e.do(t, "GET", "/v1/remote-sensing/cases", shop7, nil); r.status != 200 || len(items(r)) != 1 {
			t.Fatalf("shop-7 lists %v, want its one case", r.body)
		}
		r := e.do(t, "POST", "/v1/remote-sensing/cases/"+caseID+"/repair-report", shop7, map[string]any{"reference": "WX-77", "description": "DPF replaced"})
		if r.status != 200 || r.body["state"] != "penalised" || r.body["chain"].(map[string]any)["repair_shop"] != "shop-7" {
			t.Fatalf("repair report = %d %v", r.status, r.body)
		}
		if rep := r.body["repair"].(map[string]any); rep["shop_id"] != "shop-7" || rep["reference"] != "WX-77" {
			t.Fatalf("repair on the case = %v", rep)
		}
		if r := move(t, transport, "repaired", map[string]any{"reason": "repair order checked"}); r.status != 200 || r.body["state"] != "repaired" {
			t.Fatalf("transport confirms = %d %v", r.status, r.body)
		}
		if r := choose(t, fleet, map[string]any{"shop_id": "shop-8"}); r.status != 409 {
			t.Fatalf("choosing a shop after the confirmation = %d, want 409", r.status)
		}
		if r := e.do(t, "GET", "/v1/remote-sensing/cases/"+caseID, shop8, nil); r.status != 404 {
			t.Fatalf("another shop reads a case repaired by shop-7 = %d", r.status)
		}
		if r := e.do(t, "GET", "/v1/remote-sensing/cases/"+caseID, shop7, nil); r.status != 200 {
			t.Fatalf("shop-7 reads its repair = %d", r.status)
		}
		if r := e.do(t, "GET", "/v1/remote-sensing/cases/"+caseID, otherFleet, nil); r.status != 404 {
			t.Fatalf("another fleet reads the case = %d", r.status)
		}
		if r := e.do(t, "GET", "/v1/remote-sensing/cases", fleet, nil); len(items(r)) != 1 {
			t.Fatalf("the owner fleet lists %v", r.body)
		}
		// A passing reading after the repair retests the vehicle automatically.
		pass := rd("RS-01", "晋F12345", "yellow", 0, 8)
		r = e.do(t, "POST", "/v1/remote-sensing/measurements", sensor1, []any{pass})
		if r.status != 200 || items(r)[0]["verdict"] != "pass" {
			t.Fatalf("passing reading = %d %v", r.status, r.body)
		}
		c := e.do(t, "GET", "/v1/remote-sensing/cases/"+caseID, bureau, nil).body
		hist := c["history"].([]any)
		last := hist[len(hist)-1].(map[string]any)
		if c["state"] != "retested" || last["role"] != "system" || last["from"] != "repaired" || c["retest_reading"] != "RS-01|"+pass["reading_id"].(string) {
			t.Fatalf("after a passing reading: %v", c)
		}
		if r := move(t, bureau, "closed", map[string]any{"reason": "retest passed"}); r.status != 200 || r.body["ended_at"] == nil {
			t.Fatalf("close = %d %v", r.status, r.body)
		}
		if r := move(t, bureau, "dismissed", map[string]any{"reason": "late"}); r.status != 409 {
			t.Fatalf("dismiss a closed case = %d", r.status)
		}
		c = e.do(t, "GET", "/v1/remote-sensing/cases/"+caseID, bureau, nil).body
		var path []string
		for _, h := range c["history"].([]any) {
			m := h.(map[string]any)
			path = append(path, m["role"].(string)+":"+m["to"].(string))
			if m["at"] == nil || m["by"] == "" {
				t.Fatalf("entry without who or when: %v", m)
			}
		}
		want := "[system:detected bureau:notified police:penalised fleet:penalised repair:penalised fleet:penalised repair:penalised transport:repaired system:retested bureau:closed]"
		if fmt.Sprint(path) != want {
			t.Fatalf("history = %v, want %s", path, want)
		}
		var chosen []string
		for _, h := range c["history"].([]any) {
			if m := h.(map[string]any); m["event"] == "repair_shop_chosen" {
				if m["tenant"] != "fleet-shuozhou-logistics" || m["by"] == "" {
					t.Fatalf("choice without the owner: %v", m)
				}
				chosen = append(chosen, m["shop"].(string))
			}
		}
		if fmt.Sprint(chosen) != "[shop-8 shop-7]" {
			t.Fatalf("choices in the history = %v, want shop-8 then shop-7", chosen)
		}
		if st := e.part(t, "晋F12345", "yellow"); st["exceeding"] != false || len(st["open_cases"].([]any)) != 0 {
			t.Fatalf("summary after closing = %v", st)
		}
	})

	t.Run("dismissal needs a reason", func(t *testing.T) {
		e.do(t, "POST", "/v1/remote-sensing/measurements", sensor1, []any{rd("RS-01", "晋F23456", "yellow", 70*time.Minute, 70), rd("RS-01", "晋F23456", "yellow", 60*time.Minute, 75)})
		r := e.do(t, "GET", "/v1/remote-sensing/cases?plate="+url.QueryEscape("晋F23456")+"&state=detected", bureau, nil)
		if len(items(r)) != 1 {
			t.Fatalf("two exceedances in one batch open one case: %v", r.body)
		}
		id := items(r)[0]["id"].(string)
		if r := e.do(t, "POST", "/v1/remote-sensing/cases/"+id+"/transitions", bureau, map[string]any{"to": "dismissed"}); r.status != 400 || fieldOf(r) != "reason" {
			t.Fatalf("dismiss without reason = %d %v", r.status, r.body)
		}
		if r := e.do(t, "POST", "/v1/remote-sensing/cases/"+id+"/transitions", bureau, map[string]any{"to": "dismissed", "reason": "device fault confirmed"}); r.status != 200 {
			t.Fatalf("dismiss = %d %v", r.status, r.body)
		}
		if r := e.do(t, "POST", "/v1/remote-sensing/cases/nope/transitions", bureau, map[string]any{"to": "notified"}); r.status != 404 {
			t.Fatalf("unknown case = %d", r.status)
		}
	})

	t.Run("reading lists are scoped and plate lookups audited", func(t *testing.T) {
		q := "/v1/remote-sensing/measurements?plate=" + url.QueryEscape("晋F12345") + "&colour=yellow"
		r := e.do(t, "GET", q, police, nil)
		if r.status != 200 || len(items(r)) != 4 || items(r)[0]["vehicle"].(map[string]any)["maker"] != "Sinotruk" {
			t.Fatalf("police list = %d, %d items", r.status, len(items(r)))
		}
		// A passing reading lists every judged parameter with its limit (recomputed from its
		// table version); an exceeding one its exceedance.
		for _, it := range items(r) {
			res, _ := it["results"].([]any)
			switch it["verdict"] {
			case "pass":
				if len(res) != 3 || res[0].(map[string]any)["parameter"] != "no" || res[0].(map[string]any)["limit"].(float64) != 1500 {
					t.Fatalf("pass reading results = %v", res)
				}
			case "exceed":
				if len(res) != 3 || res[1].(map[string]any)["exceeded"] != true || res[1].(map[string]any)["standard"] != "GB 3847-2018" {
					t.Fatalf("exceeding reading results = %v", res)
				}
			}
		}
		if n := count(t, e.db, "audit_log", bson.D{{Key: "subject", Value: "晋F12345:yellow"}, {Key: "role", Value: "police"}}); n == 0 {
			t.Fatal("no audit entry for the police's plate lookup")
		}
		if r := e.do(t, "GET", q, sensor2, nil); len(items(r)) != 0 {
			t.Fatalf("op-2 sees op-1's readings: %d", len(items(r)))
		}
		if r := e.do(t, "GET", q, otherFleet, nil); len(items(r)) != 0 {
			t.Fatalf("another fleet sees the readings: %d", len(items(r)))
		}
		if r := e.do(t, "GET", q, fleet, nil); len(items(r)) != 4 {
			t.Fatalf("the owner fleet sees %d", len(items(r)))
		}
		seen, path := 0, "/v1/remote-sensing/measurements?limit=3&station_id=RS-01"
		for path != "" {
			r := e.do(t, "GET", path, bureau, nil)
			seen += len(items(r))
			path = ""
			if c, _ := r.body["next_cursor"].(string); c != "" {
				path = "/v1/remote-sensing/measurements?limit=3&station_id=RS-01&cursor=" + c
			}
		}
		if want := count(t, e.db, "rs_readings", bson.D{{Key: "station_id", Value: "RS-01"}}); int64(seen) != want {
			t.Fatalf("paged through %d readings, want %d", seen, want)
		}
		for _, bad := range []struct{ q, field string }{{"?verdict=great", "verdict"}, {"?plate=XX", "plate"}, {"?limit=0", "limit"}, {"?cursor=!!", "cursor"}, {"?from=yesterday", "from"}} {
			if r := e.do(t, "GET", "/v1/remote-sensing/measurements"+bad.q, bureau, nil); r.status != 400 || fieldOf(r) != bad.field {
				t.Errorf("%s = %d %q", bad.q, r.status, fieldOf(r))
			}
		}
	})

	t.Run("status fallback rebuilds the part", func(t *testing.T) {
		key := summary.Key(prefix, vehicleid.Key("晋F23456", vehicleid.Yellow), summary.RemoteSensing)
		rdb.Del(context.Background(), key)
		r := e.do(t, "GET", "/v1/remote-sensing/status?plate="+url.QueryEscape("晋f23456")+"&colour=yellow", police, nil)
		if r.status != 200 || r.body["plate"] != "晋F23456" || r.body["exceedances_in_cycle"].(float64) != 2 || r.body["exceeding"] != false {
			t.Fatalf("status = %d %v", r.status, r.body)
		}
		if e.part(t, "晋F23456", "yellow") == nil {
			t.Fatal("the status route did not rewrite the Redis part")
		}
		r = e.do(t, "GET", "/v1/remote-sensing/status?plate="+url.QueryEscape("晋F55555")+"&colour=blue", bureau, nil)
		if r.status != 200 || r.body["exceeding"] != false || len(r.body["open_cases"].([]any)) != 0 {
			t.Fatalf("unknown plate = %d %v, want an empty part", r.status, r.body)
		}
		if r := e.do(t, "GET", "/v1/remote-sensing/status?plate="+url.QueryEscape("晋F55555"), bureau, nil); r.status != 400 || fieldOf(r) != "colour" {
			t.Fatalf("no colour = %d %v", r.status, r.body)
		}
	})

	t.Run("reports", func(t *testing.T) {
		r := e.do(t, "GET", "/v1/remote-sensing/reports/exceedance?by=maker", bureau, nil)
		rows := map[string]map[string]any{}
		for _, x := range r.body["rows"].([]any) {
			rows[x.(map[string]any)["key"].(string)] = x.(map[string]any)
		}
		if r.status != 200 || rows["Sinotruk"]["exceeding_vehicles"].(float64) != 1 || rows["Sinotruk"]["exceeding_readings"].(float64) != 3 ||
			rows["Dongfeng"]["exceeding_vehicles"].(float64) != 0 {
			t.Fatalf("by maker = %d %v", r.status, r.body)
		}
		r = e.do(t, "GET", "/v1/remote-sensing/reports/exceedance?by=inspection_station", bureau, nil)
		if r.status != 200 || r.body["fraud_signal"] == nil {
			t.Fatalf("by inspection station = %d %v", r.status, r.body)
		}
		r = e.do(t, "GET", "/v1/remote-sensing/reports/repeat-offenders?min=2", transport, nil)
		if r.status != 200 || len(items(r)) != 2 || items(r)[0]["plate"] != "晋F12345" || items(r)[0]["cases_opened"].(float64) != 1 {
			t.Fatalf("repeat offenders = %d %v", r.status, r.body)
		}
		for _, bad := range []struct{ q, field string }{{"exceedance?by=colour", "by"}, {"exceedance?from=2026-13-01", "from"}, {"exceedance?from=2026-02-01&to=2026-01-01", "to"}, {"repeat-offenders?min=0", "min"}} {
			if r := e.do(t, "GET", "/v1/remote-sensing/reports/"+bad.q, bureau, nil); r.status != 400 || fieldOf(r) != bad.field {
				t.Errorf("%s = %d %q", bad.q, r.status, fieldOf(r))
			}
		}
	})

	t.Run("registry down: readings wait as pending and are judged later", func(t *testing.T) {
		reg.down.Store(true)
		batch := []any{rd("RS-01", "晋F67890", "yellow", 50*time.Minute, 66), rd("RS-01", "晋F67890", "yellow", 40*time.Minute, 71)}
		r := e.do(t, "POST", "/v1/remote-sensing/measurements", sensor1, batch)
		if r.status != 200 || items(r)[0]["verdict"] != "pending" || items(r)[1]["verdict"] != "pending" {
			t.Fatalf("upload with the registry down = %d %v", r.status, r.body)
		}
		if n := count(t, e.db, "rs_jobs", bson.D{}); n != 1 {
			t.Fatalf("outbox jobs = %d, want 1", n)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.svc.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		// Wait until the runner has tried the job with the registry still down (it reschedules
		// the job with one more attempt), then check that the readings are still pending.
		tried := time.Now().Add(10 * time.Second)
		for count(t, e.db, "rs_jobs", bson.D{{Key: "attempts", Value: bson.D{{Key: "$gte", Value: 1}}}}) != 1 {
			if time.Now().After(tried) {
				t.Fatal("the outbox job was not tried within 10 s of the runner starting")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n := count(t, e.db, "rs_readings", bson.D{{Key: "verdict", Value: "pending"}}); n != 2 {
			t.Fatalf("pending readings while the registry is down = %d, want 2", n)
		}
		reg.down.Store(false)
		deadline := time.Now().Add(10 * time.Second)
		for count(t, e.db, "rs_jobs", bson.D{}) != 0 {
			if time.Now().After(deadline) {
				t.Fatal("pending readings not judged within 10 s of the registry coming back")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if n := count(t, e.db, "rs_readings", bson.D{{Key: "plate", Value: "晋F67890"}, {Key: "verdict", Value: "exceed"}, {Key: "maker", Value: "Dongfeng"}}); n != 2 {
			t.Fatalf("judged exceeding readings = %d, want 2", n)
		}
		if n := count(t, e.db, "rs_cases", bson.D{{Key: "plate", Value: "晋F67890"}}); n != 1 {
			t.Fatalf("cases after the late judgement = %d, want 1", n)
		}
		if st := e.part(t, "晋F67890", "yellow"); st == nil || st["exceeding"] != true {
			t.Fatalf("summary after the late judgement = %v", st)
		}
	})
}

// TestRedisDown: with Redis unreachable, uploads and case steps still succeed (the registry
// answers over HTTP), nothing is lost, and once Redis is back the parts are published.
func TestRedisDown(t *testing.T) {
	db := testenv.Mongo(t)
	live, prefix := testenv.Redis(t)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	reg := newFakeRegistry(t)
	reg.add(truck)
	down := newEnv(t, db, dead, prefix, reg)
	bureau, sensor := down.token(t, auth.Bureau, ""), down.token(t, auth.Sensor, "op-1")
	if r := down.do(t, "POST", "/v1/remote-sensing/stations", bureau, station("RS-01", "op-1", time.Now().AddDate(0, 0, -1))); r.status != 201 {
		t.Fatalf("station = %d %v", r.status, r.body)
	}
	r := down.do(t, "POST", "/v1/remote-sensing/measurements", sensor, []any{rd("RS-01", "晋F12345", "yellow", time.Hour, 50), rd("RS-01", "晋F12345", "yellow", 30*time.Minute, 55)})
	if r.status != 200 || r.body["created"].(float64) != 2 || items(r)[1]["verdict"] != "exceed" {
		t.Fatalf("upload with Redis down = %d %v", r.status, r.body)
	}
	if n := count(t, db, "rs_cases", bson.D{}); n != 1 {
		t.Fatalf("cases = %d, want 1 (MongoDB is the truth)", n)
	}
	if n := count(t, db, "rs_jobs", bson.D{}); n != 1 {
		t.Fatalf("outbox jobs = %d, want 1 left for the republish", n)
	}
	key := summary.Key(prefix, vehicleid.Key("晋F12345", vehicleid.Yellow), summary.RemoteSensing)
	up := newEnv(t, db, live, prefix, reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { up.svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st := up.part(t, "晋F12345", "yellow"); st != nil && st["exceeding"] == true {
			break
		}
		if time.Now().After(deadline) {
			n, _ := live.Exists(context.Background(), key).Result()
			t.Fatalf("part not published within 10 s after Redis came back (exists %d)", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for count(t, db, "rs_jobs", bson.D{}) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("outbox job not finished")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDemoData applies seeds/demo/40-remotesensing.json twice, with the registry's demo
// vehicles (seeds/demo/10-registry.json) behind the fake registry: every call succeeds, the
// second pass changes nothing, and the two repeat offenders have their cases.
func TestDemoData(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	reg := newFakeRegistry(t)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix, reg)
	var registry seeds.File
	raw, err := os.ReadFile("../../seeds/demo/10-registry.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &registry); err != nil {
		t.Fatal(err)
	}
	for _, s := range registry.Steps {
		if s.Method != "POST" || s.Path != "/v1/vehicles" {
			continue
		}
		var v struct {
			VIN, Plate, PlateColour, FuelType, Maker, RegisteredPlace string
		}
		var b map[string]any
		_ = json.Unmarshal(s.Body, &b)
		v.VIN, v.Plate, v.PlateColour, v.FuelType, v.Maker = b["vin"].(string), b["plate"].(string), b["plate_colour"].(string), b["fuel_type"].(string), b["maker"].(string)
		v.RegisteredPlace, _ = b["registered_place"].(string)
		reg.add(summary.Vehicle{VIN: v.VIN, Plate: v.Plate, PlateColour: v.PlateColour, FuelType: v.FuelType, Maker: v.Maker, FleetID: s.Tenant,
			RegisteredPlace: v.RegisteredPlace, Status: "active"})
	}
	raw, err = os.ReadFile("../../seeds/demo/40-remotesensing.json")
	if err != nil {
		t.Fatal(err)
	}
	var demo seeds.File
	if err := json.Unmarshal(raw, &demo); err != nil {
		t.Fatal(err)
	}
	demo.Name = "40-remotesensing.json"
	for pass := range 2 {
		res, err := seeds.Apply(context.Background(), e.Engine, e.Keys, demo)
		if err != nil || res.Created != len(demo.Steps) {
			t.Fatalf("pass %d: %+v, %v", pass+1, res, err)
		}
	}
	if n := count(t, e.db, "rs_readings", bson.D{}); n != 11 {
		t.Fatalf("readings = %d, want 11", n)
	}
	for _, want := range []struct {
		plate, pollutant string
	}{{"晋F34567", "opacity"}, {"晋F56789", "ringelmann"}} {
		if n := count(t, e.db, "rs_cases", bson.D{{Key: "plate", Value: want.plate}, {Key: "pollutant", Value: want.pollutant}, {Key: "state", Value: "detected"}}); n != 1 {
			t.Errorf("%s %s cases = %d, want 1", want.plate, want.pollutant, n)
		}
	}
	if n := count(t, e.db, "rs_cases", bson.D{}); n != 2 {
		t.Fatalf("cases = %d, want 2", n)
	}
	for verdict, want := range map[string]int64{"exceed": 5, "pass": 3, "not_judged": 1, "invalid": 2} {
		if n := count(t, e.db, "rs_readings", bson.D{{Key: "verdict", Value: verdict}}); n != want {
			t.Errorf("%s readings = %d, want %d", verdict, n, want)
		}
	}
}

// The bureau adds a limit version at run time: readings measured from its day are judged by it,
// on every replica; a version that would rewrite the past, or clash with one, is refused.
func TestLimitVersionAddedAtRunTime(t *testing.T) {
	db := testenv.Mongo(t)
	rdb, prefix := testenv.Redis(t)
	reg := newFakeRegistry(t)
	reg.add(truck)
	a, b := newEnv(t, db, rdb, prefix, reg), newEnv(t, db, rdb, prefix, reg)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go b.svc.Run(ctx) // the other replica takes versions up in its background loop
	a.cacheVehicle(t, truck)
	bureau, police, sensor := a.token(t, auth.Bureau, ""), a.token(t, auth.Police, ""), a.token(t, auth.Sensor, "op-1")
	if r := a.do(t, "POST", "/v1/remote-sensing/stations", bureau, station("RS-01", "op-1", time.Now().AddDate(0, 0, -3))); r.status != 201 {
		t.Fatalf("station = %d %v", r.status, r.body)
	}
	judge := func(opacity float64) map[string]any {
		t.Helper()
		r := a.do(t, "POST", "/v1/remote-sensing/measurements", sensor, []any{rd("RS-01", truck.Plate, truck.PlateColour, time.Second, opacity)})
		if r.status != 200 {
			t.Fatalf("upload = %d %v", r.status, r.body)
		}
		return items(r)[0]
	}
	if it := judge(20); it["verdict"] != "pass" || it["table_version"] != "2019-05-01-default" {
		t.Fatalf("opacity 20 under the shipped table = %v", it)
	}

	// The version in force, with opacity tightened to 15 %, as a new version from today.
	r := a.do(t, "GET", "/v1/remote-sensing/limits", bureau, nil)
	versions := r.body["versions"].([]any)
	v := versions[len(versions)-1].(map[string]any)
	today := time.Now().In(time.FixedZone("CST", 8*3600))
	v["version"], v["effective_from"], v["source"] = "bureau-tighter-opacity", today.Format(time.DateOnly), "bureau notice 2026-118"
	for _, row := range v["limits"].([]any) {
		if row := row.(map[string]any); row["parameter"] == "opacity" {
			row["limit"] = 15.0
		}
	}
	clone := func(change func(map[string]any)) map[string]any {
		raw, _ := json.Marshal(v)
		var c map[string]any
		_ = json.Unmarshal(raw, &c)
		change(c)
		return c
	}
	for _, tc := range []struct {
		name   string
		token  string
		body   map[string]any
		status int
		field  string
	}{
		{"police may not", police, v, 403, ""},
		{"a day already past", bureau, clone(func(c map[string]any) { c["effective_from"] = today.AddDate(0, 0, -1).Format(time.DateOnly) }), 400, "effective_from"},
		{"a unit that is not the parameter's", bureau, clone(func(c map[string]any) { c["limits"].([]any)[0].(map[string]any)["unit"] = "furlongs" }), 400, "limits[0].unit"},
		{"the shipped version's name", bureau, clone(func(c map[string]any) {
			c["version"], c["effective_from"] = "2019-05-01-default", today.AddDate(0, 0, 1).Format(time.DateOnly)
		}), 400, "version"},
		{"an unknown field", bureau, clone(func(c map[string]any) { c["limits_v2"] = true }), 400, ""},
	} {
		if r := a.do(t, "POST", "/v1/remote-sensing/limits/versions", tc.token, tc.body); r.status != tc.status || (tc.field != "" && fieldOf(r) != tc.field) {
			t.Errorf("%s: %d %v, want %d naming %q", tc.name, r.status, r.body, tc.status, tc.field)
		}
	}
	if n := count(t, db, "rs_limit_versions", bson.D{}); n != 0 {
		t.Fatalf("%d versions stored after refusals", n)
	}
	if r := a.do(t, "POST", "/v1/remote-sensing/limits/versions", bureau, v); r.status != 201 {
		t.Fatalf("add version = %d %v", r.status, r.body)
	}
	if r := a.do(t, "POST", "/v1/remote-sensing/limits/versions", bureau, clone(func(c map[string]any) { c["version"] = "another-same-day" })); r.status != 400 || fieldOf(r) != "effective_from" {
		t.Fatalf("a second version the same day = %d %v, want 400 on effective_from", r.status, r.body)
	}
	x := judge(20)
	exc, _ := x["exceedances"].([]any)
	if x["verdict"] != "exceed" || x["table_version"] != "bureau-tighter-opacity" || len(exc) != 1 || exc[0].(map[string]any)["limit"].(float64) != 15 {
		t.Fatalf("opacity 20 under the bureau's version = %v", x)
	}
	if r := a.do(t, "GET", "/v1/remote-sensing/limits", bureau, nil); r.body["in_force"] != "bureau-tighter-opacity" {
		t.Fatalf("in force on this replica = %v", r.body["in_force"])
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.do(t, "GET", "/v1/remote-sensing/limits", bureau, nil).body["in_force"] != "bureau-tighter-opacity" {
		if time.Now().After(deadline) {
			t.Fatal("the other replica did not take the version up within 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNoStationOrReadingLeaks: reading ids are the station's own (a reading is identified by
// station and id), so two operators may both send R-1; and an operator is told the same of
// another operator's station as of one that does not exist (it used to get 403 for the one and
// 400 for the other, which told it which station ids exist).
func TestNoStationOrReadingLeaks(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	reg := newFakeRegistry(t)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix, reg)
	reg.add(truck)
	e.cacheVehicle(t, truck)
	bureau := e.token(t, auth.Bureau, "")
	op1, op2 := e.token(t, auth.Sensor, "op-1"), e.token(t, auth.Sensor, "op-2")
	today := time.Now()
	for id, op := range map[string]string{"RS-A": "op-1", "RS-B": "op-2"} {
		if r := e.do(t, "POST", "/v1/remote-sensing/stations", bureau, station(id, op, today.AddDate(0, 0, -10))); r.status != 201 {
			t.Fatalf("register %s = %d %v", id, r.status, r.body)
		}
	}
	a := rd("RS-A", "晋F12345", "yellow", time.Hour, 10)
	a["reading_id"] = "R-1"
	if r := e.do(t, "POST", "/v1/remote-sensing/measurements", op1, []any{a}); r.status != 200 || items(r)[0]["status"] != "created" {
		t.Fatalf("op-1 R-1 = %d %v", r.status, r.body)
	}
	b := rd("RS-B", "晋F12345", "yellow", 30*time.Minute, 11)
	b["reading_id"] = "R-1"
	if r := e.do(t, "POST", "/v1/remote-sensing/measurements", op2, []any{b}); r.status != 200 || items(r)[0]["status"] != "created" {
		t.Fatalf("op-2 R-1 at its own station = %d %v, want created (ids are per station)", r.status, r.body)
	}
	message := func(station string) (int, string) {
		x := rd(station, "晋F12345", "yellow", time.Hour, 10)
		r := e.do(t, "POST", "/v1/remote-sensing/measurements", op2, []any{x})
		errs, _ := r.body["errors"].([]any)
		if len(errs) == 0 {
			return r.status, ""
		}
		m := errs[0].(map[string]any)
		return r.status, m["field"].(string) + ": " + strings.ReplaceAll(m["message"].(string), station, "ID")
	}
	otherCode, other := message("RS-A")
	noneCode, none := message("RS-NOPE")
	if otherCode != 400 || noneCode != 400 || other != none || other == "" {
		t.Fatalf("another operator's station = %d %q; a station that does not exist = %d %q; want the same 400", otherCode, other, noneCode, none)
	}
}
