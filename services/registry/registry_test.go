package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/registry"
)

type env struct {
	*testenv.API
	db     *mongo.Database
	rdb    *redis.Client
	prefix string
	svc    *registry.Service
}

func newEnv(t *testing.T, db *mongo.Database, rdb *redis.Client, prefix string) *env {
	t.Helper()
	deps := testenv.Platform(t, registry.Name, db, rdb, prefix)
	svc, err := registry.New(context.Background(), registry.Config{RepublishEvery: 50 * time.Millisecond}, deps)
	if err != nil {
		t.Fatal(err)
	}
	return &env{API: testenv.Serve(t, registry.Name, deps, svc.Routes), db: db, rdb: rdb, prefix: prefix, svc: svc}
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

func truck(t *testing.T, n string, plate string) map[string]any {
	vin, err := vehicleid.WithCheckDigit("LZZ1CLVB0N00000" + n)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"vin": vin, "plate": plate, "plate_colour": "yellow", "fuel_type": "diesel", "emission_standard": "VIa",
		"category": "N3", "use": "operating", "maker": "Sinotruk", "owner": "Demo Logistics Co.", "registered_on": "2022-03-15", "gross_mass_kg": 25000}
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

func TestRegistryHTTP(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix)
	fleet1, fleet2 := e.token(t, auth.Fleet, "f1"), e.token(t, auth.Fleet, "f2")
	police, bureau, station := e.token(t, auth.Police, ""), e.token(t, auth.Bureau, ""), e.token(t, auth.Station, "s1")
	admin := e.token(t, auth.Admin, "")
	t1 := truck(t, "01", "晋F12345")
	vin := t1["vin"].(string)

	r := e.do(t, "POST", "/v1/vehicles", fleet1, t1)
	if r.status != http.StatusCreated || r.body["fleet_id"] != "f1" || r.body["status"] != "active" {
		t.Fatalf("register: %d %v", r.status, r.body)
	}

	t.Run("authorisation matrix", func(t *testing.T) {
		cases := []struct {
			name, method, path, token string
			body                      any
			want                      int
		}{
			{"owner fleet reads", "GET", "/v1/vehicles/" + vin, fleet1, nil, 200},
			{"other fleet cannot see", "GET", "/v1/vehicles/" + vin, fleet2, nil, 404},
			{"other fleet cannot patch", "PATCH", "/v1/vehicles/" + vin, fleet2, map[string]any{"maker": "x"}, 404},
			{"other fleet cannot bind", "PUT", "/v1/vehicles/" + vin + "/terminal", fleet2, map[string]any{"iccid": "89860012345678901234"}, 404},
			{"police reads", "GET", "/v1/vehicles/" + vin, police, nil, 200},
			{"bureau reads", "GET", "/v1/vehicles/" + vin, bureau, nil, 200},
			{"station may not read", "GET", "/v1/vehicles/" + vin, station, nil, 403},
			{"no token", "GET", "/v1/vehicles/" + vin, "", nil, 401},
			{"bad token", "GET", "/v1/vehicles/" + vin, "not-a-token", nil, 401},
			{"police may not register", "POST", "/v1/vehicles", police, truck(t, "02", "晋F22222"), 403},
			{"fleet may not screen", "POST", "/v1/screenings", fleet1, map[string]any{"purpose": "inspection_mark", "vin": vin}, 403},
			{"fleet may not read clean-energy report", "GET", "/v1/reports/clean-energy", fleet1, nil, 403},
			{"fleet may not read another fleet's list", "GET", "/v1/vehicles?fleet_id=f2", fleet1, nil, 403},
			{"fleet may not read status fallback", "GET", "/v1/registry/status?plate=" + url.QueryEscape("晋F12345") + "&colour=yellow", fleet1, nil, 403},
			{"admin reads", "GET", "/v1/vehicles/" + vin, admin, nil, 200},
			{"admin lists", "GET", "/v1/vehicles", admin, nil, 200},
			{"admin may not change a vehicle", "PATCH", "/v1/vehicles/" + vin, admin, map[string]any{"status": "scrapped", "status_reason": "x"}, 403},
			{"admin may not register", "POST", "/v1/vehicles", admin, truck(t, "04", "晋F44444"), 403},
			{"admin may not screen", "POST", "/v1/screenings", admin, map[string]any{"purpose": "inspection_mark", "vin": vin}, 403},
			{"police read the plates to declare void", "GET", "/v1/registry/void-candidates", police, nil, 200},
			{"fleet may not read the plates to declare void", "GET", "/v1/registry/void-candidates", fleet1, nil, 403},
			{"fleet may not declare plates void", "POST", "/v1/registry/void-declarations", fleet1, map[string]any{"vins": []string{vin}, "reason": "x"}, 403},
			{"admin may not declare plates void", "POST", "/v1/registry/void-declarations", admin, map[string]any{"vins": []string{vin}, "reason": "x"}, 403},
			{"other fleet may not record a catalyst", "POST", "/v1/vehicles/" + vin + "/catalyst-replacements", fleet2, map[string]any{"replaced_on": "2025-01-01", "shop": "x"}, 404},
			{"police may not record a catalyst", "POST", "/v1/vehicles/" + vin + "/catalyst-replacements", police, map[string]any{"replaced_on": "2025-01-01", "shop": "x"}, 403},
			{"fleet reads its taxi catalysts", "GET", "/v1/reports/taxi-catalysts", fleet1, nil, 200},
			{"police may not read the taxi catalysts", "GET", "/v1/reports/taxi-catalysts", police, nil, 403},
			{"fleet may not read the catalyst interval", "GET", "/v1/registry/settings/taxi-catalyst-interval", fleet1, nil, 403},
			{"transport may not set the catalyst interval", "PUT", "/v1/registry/settings/taxi-catalyst-interval", e.token(t, auth.Transport, ""), map[string]any{"months": 12, "reason": "x"}, 403},
			{"admin may not set the catalyst interval", "PUT", "/v1/registry/settings/taxi-catalyst-interval", admin, map[string]any{"months": 12, "reason": "x"}, 403},
			{"transport reads a phase-out target", "GET", "/v1/registry/settings/phase-out-target/2026", e.token(t, auth.Transport, ""), nil, 200},
			{"police may not read a phase-out target", "GET", "/v1/registry/settings/phase-out-target/2026", police, nil, 403},
			{"fleet may not set a phase-out target", "PUT", "/v1/registry/settings/phase-out-target/2026", fleet1, map[string]any{"vehicles": 1, "reason": "x"}, 403},
			{"admin may not set a phase-out target", "PUT", "/v1/registry/settings/phase-out-target/2026", admin, map[string]any{"vehicles": 1, "reason": "x"}, 403},
			{"bureau reads the phase-out progress", "GET", "/v1/reports/phase-out/progress", bureau, nil, 200},
			{"fleet may not read the phase-out progress", "GET", "/v1/reports/phase-out/progress", fleet1, nil, 403},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got := e.do(t, tc.method, tc.path, tc.token, tc.body)
				if got.status != tc.want {
					t.Fatalf("%s %s = %d %v, want %d", tc.method, tc.path, got.status, got.body, tc.want)
				}
				if got.status >= 400 && got.ctype != "application/problem+json" {
					t.Fatalf("error content type = %q, want application/problem+json", got.ctype)
				}
			})
		}
	})

	t.Run("reads by police are audited", func(t *testing.T) {
		if n := count(t, e.db, "audit_log", bson.D{{Key: "subject", Value: vin}, {Key: "role", Value: "police"}}); n == 0 {
			t.Fatal("no audit entry for the police read")
		}
		if n := count(t, e.db, "audit_log", bson.D{{Key: "subject", Value: vin}, {Key: "role", Value: "fleet"}}); n != 0 {
			t.Fatalf("owner fleet reads audited %d times, want 0", n)
		}
	})

	t.Run("bad input is refused, names the field, and writes nothing", func(t *testing.T) {
		before := count(t, e.db, "vehicles", bson.D{})
		withField := func(k string, v any) map[string]any { b := truck(t, "03", "晋F33333"); b[k] = v; return b }
		cases := []struct {
			name      string
			body      any
			wantCode  int
			wantField string
		}{
			{"malformed JSON", `{"vin": "LZZ`, 400, "body"},
			{"unknown field", withField("colour", "yellow"), 400, "colour"},
			{"bad check digit", withField("vin", "LZZ1CLVB1N0000003"), 400, "vin"},
			{"impossible date", withField("registered_on", "2023-02-30"), 400, "registered_on"},
			{"wrong type", withField("gross_mass_kg", "heavy"), 400, "gross_mass_kg"},
			{"bad plate", withField("plate", "ABC"), 400, "plate"},
			{"fleet sets status", withField("status", "scrapped"), 400, "status"},
			{"duplicate VIN", withField("vin", vin), 409, ""},
			{"duplicate plate", withField("plate", "晋F12345"), 409, ""},
			{"empty body", "", 400, "body"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got := e.do(t, "POST", "/v1/vehicles", fleet1, tc.body)
				if got.status != tc.wantCode || fieldOf(got) != tc.wantField {
					t.Fatalf("POST = %d field %q (%v), want %d field %q", got.status, fieldOf(got), got.body, tc.wantCode, tc.wantField)
				}
				if got.body["type"] == nil || got.body["title"] == nil || int(got.body["status"].(float64)) != tc.wantCode {
					t.Fatalf("not a problem document: %v", got.body)
				}
			})
		}
		if after := count(t, e.db, "vehicles", bson.D{}); after != before {
			t.Fatalf("vehicles = %d after bad input, want %d", after, before)
		}
	})

	t.Run("status is changed by the police only and reaches Redis", func(t *testing.T) {
		if r := e.do(t, "PATCH", "/v1/vehicles/"+vin, fleet1, map[string]any{"status": "scrapped"}); r.status != 400 || fieldOf(r) != "status" {
			t.Fatalf("fleet PATCH status = %d %v, want 400 status", r.status, r.body)
		}
		if r := e.do(t, "PATCH", "/v1/vehicles/"+vin, police, map[string]any{"status": "scrapped"}); r.status != 400 || fieldOf(r) != "status_reason" {
			t.Fatalf("PATCH without reason = %d %v, want 400 status_reason", r.status, r.body)
		}
		r := e.do(t, "PATCH", "/v1/vehicles/"+vin, police, map[string]any{"status": "scrapped", "status_reason": "dismantled"})
		if r.status != 200 || r.body["status"] != "scrapped" {
			t.Fatalf("police PATCH = %d %v", r.status, r.body)
		}
		raw, err := e.rdb.Get(context.Background(), summary.Key(prefix, vehicleid.Key("晋F12345", vehicleid.Yellow), summary.Registry)).Bytes()
		if err != nil {
			t.Fatalf("registry summary not in Redis: %v", err)
		}
		env, _ := summary.Decode(raw)
		var st map[string]any
		_ = json.Unmarshal(env.Data, &st)
		if st["status"] != "scrapped" || st["vin"] != vin {
			t.Fatalf("summary = %v, want scrapped", st)
		}
		if n, _ := e.rdb.Exists(context.Background(), summary.VINKey(prefix, vin)).Result(); n != 1 {
			t.Fatal("registry summary by VIN not in Redis")
		}
		system := e.token(t, auth.System, "")
		if r := e.do(t, "GET", "/v1/registry/status?vin="+vin, system, nil); r.status != 200 || r.body["status"] != "scrapped" {
			t.Fatalf("status by VIN for a service = %d %v", r.status, r.body)
		}
		if r := e.do(t, "GET", "/v1/registry/status?vin=LZZ1CLVB1N0000001", system, nil); r.status != 400 || fieldOf(r) != "vin" {
			t.Fatalf("status by bad VIN = %d %v", r.status, r.body)
		}
	})

	t.Run("list pages with a cursor and pins a fleet to itself", func(t *testing.T) {
		for i, p := range []string{"晋F40001", "晋F40002", "晋F40003"} {
			if r := e.do(t, "POST", "/v1/vehicles", fleet2, truck(t, "1"+string(rune('0'+i)), p)); r.status != 201 {
				t.Fatalf("register %s: %d %v", p, r.status, r.body)
			}
		}
		seen := 0
		path := "/v1/vehicles?limit=2"
		for path != "" {
			r := e.do(t, "GET", path, fleet2, nil)
			items := r.body["items"].([]any)
			seen += len(items)
			for _, it := range items {
				if it.(map[string]any)["fleet_id"] != "f2" {
					t.Fatalf("fleet f2 saw %v", it)
				}
			}
			path = ""
			if c, ok := r.body["next_cursor"].(string); ok && c != "" {
				path = "/v1/vehicles?limit=2&cursor=" + c
			}
		}
		if seen != 3 {
			t.Fatalf("fleet f2 listed %d vehicles, want 3", seen)
		}
		r := e.do(t, "GET", "/v1/vehicles?limit=100", bureau, nil)
		items := r.body["items"].([]any)
		if len(items) != 4 {
			t.Fatalf("bureau listed %d, want 4", len(items))
		}
		if _, has := items[0].(map[string]any)["owner"]; has {
			t.Fatal("a list for the bureau carries the owner's name; it must be read one by one, audited")
		}
		if r := e.do(t, "GET", "/v1/vehicles?limit=0", bureau, nil); r.status != 400 || fieldOf(r) != "limit" {
			t.Fatalf("limit=0 = %d %v", r.status, r.body)
		}
		if r := e.do(t, "GET", "/v1/vehicles?cursor=!!!", bureau, nil); r.status != 400 {
			t.Fatalf("bad cursor = %d", r.status)
		}
	})

	t.Run("screenings", func(t *testing.T) {
		cand := truck(t, "20", "晋F50000")
		cand["emission_standard"] = "V"
		r := e.do(t, "POST", "/v1/screenings", police, map[string]any{"purpose": "registration", "vehicle": cand})
		if r.status != 201 || r.body["decision"] != "refused" {
			t.Fatalf("China V registration screening = %d %v, want refused", r.status, r.body)
		}
		reasons := r.body["reasons"].([]any)
		if reasons[0].(map[string]any)["code"] != "standard_not_in_force" {
			t.Fatalf("reasons = %v", reasons)
		}
		id := r.body["screening_id"].(string)
		if got := e.do(t, "GET", "/v1/screenings/"+id, bureau, nil); got.status != 200 || got.body["decision"] != "refused" {
			t.Fatalf("stored screening = %d %v", got.status, got.body)
		}
		// An inspection mark for a fleet-2 truck with a passing report from today.
		v2, _ := vehicleid.WithCheckDigit("LZZ1CLVB0N0000010")
		report := map[string]any{"report_id": "JC-2026-1", "station_id": "station-jc-01", "result": "pass", "inspected_on": time.Now().UTC().Format(time.DateOnly)}
		r = e.do(t, "POST", "/v1/screenings", police, map[string]any{"purpose": "inspection_mark", "vin": v2, "inspection_report": report})
		if r.status != 201 || r.body["decision"] != "approved" {
			t.Fatalf("inspection mark = %d %v, want approved", r.status, r.body)
		}
		got := e.do(t, "GET", "/v1/vehicles/"+v2, bureau, nil)
		if li, _ := got.body["last_inspection"].(map[string]any); li["station_id"] != "station-jc-01" {
			t.Fatalf("last_inspection = %v, want the report's station", got.body["last_inspection"])
		}
		if r := e.do(t, "POST", "/v1/screenings", police, map[string]any{"purpose": "inspection_mark", "vin": vin}); r.body["decision"] != "refused" {
			t.Fatalf("scrapped vehicle inspection mark = %v, want refused", r.body)
		}
		if r := e.do(t, "POST", "/v1/screenings", police, map[string]any{"purpose": "permit"}); r.status != 400 || fieldOf(r) != "purpose" {
			t.Fatalf("bad purpose = %d %v", r.status, r.body)
		}
		if r := e.do(t, "GET", "/v1/vehicles/"+v2+"/screenings", bureau, nil); len(r.body["items"].([]any)) != 1 {
			t.Fatalf("screenings of %s = %v", v2, r.body)
		}
	})

	t.Run("reports", func(t *testing.T) {
		old := truck(t, "30", "晋F60000")
		old["emission_standard"] = "III"
		if r := e.do(t, "POST", "/v1/vehicles", fleet1, old); r.status != 201 {
			t.Fatalf("register China III: %d %v", r.status, r.body)
		}
		r := e.do(t, "GET", "/v1/reports/phase-out", fleet1, nil)
		if r.status != 200 || r.body["total"].(float64) != 1 {
			t.Fatalf("phase-out for fleet 1 = %v", r.body)
		}
		r = e.do(t, "GET", "/v1/reports/phase-out?list=diesel_truck_china3", bureau, nil)
		if r.body["overdue"].(float64) != 1 {
			t.Fatalf("phase-out overdue = %v", r.body)
		}
		bus := truck(t, "40", "晋FD40000")
		bus["plate_colour"], bus["fuel_type"], bus["category"], bus["service_class"], bus["registered_on"] = "yellow_green", "electric", "M3", "bus", "2026-01-10"
		if r := e.do(t, "POST", "/v1/vehicles", bureau, bus); r.status != 201 {
			t.Fatalf("register bus: %d %v", r.status, r.body)
		}
		r = e.do(t, "GET", "/v1/reports/clean-energy?from=2026-01-01&to=2027-01-01", bureau, nil)
		classes := r.body["classes"].([]any)
		first := classes[0].(map[string]any)
		if first["service_class"] != "bus" || first["total"].(float64) != 1 || first["new_energy_share"].(float64) != 1 || first["met"] != true {
			t.Fatalf("clean-energy bus row = %v", first)
		}
		if r := e.do(t, "GET", "/v1/reports/clean-energy?from=2026-13-01", bureau, nil); r.status != 400 || fieldOf(r) != "from" {
			t.Fatalf("bad from = %d %v", r.status, r.body)
		}
	})
}

// TestRedisDown: with Redis unreachable, writes still succeed, reads come from MongoDB, /readyz
// says degraded, and once Redis is back the stale entries are republished.
func TestRedisDown(t *testing.T) {
	db := testenv.Mongo(t)
	live, prefix := testenv.Redis(t)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	down := newEnv(t, db, dead, prefix)
	fleet := down.token(t, auth.Fleet, "f1")
	body := truck(t, "01", "晋F12345")
	if r := down.do(t, "POST", "/v1/vehicles", fleet, body); r.status != 201 {
		t.Fatalf("register with Redis down = %d %v, want 201", r.status, r.body)
	}
	if r := down.do(t, "GET", "/v1/vehicles/"+body["vin"].(string), fleet, nil); r.status != 200 {
		t.Fatalf("read with Redis down = %d", r.status)
	}
	if r := down.do(t, "GET", "/readyz", "", nil); r.status != 200 || r.body["status"] != "degraded" {
		t.Fatalf("/readyz with Redis down = %d %v, want 200 degraded", r.status, r.body)
	}
	key := summary.Key(prefix, vehicleid.Key("晋F12345", vehicleid.Yellow), summary.Registry)
	if n, _ := live.Exists(context.Background(), key).Result(); n != 0 {
		t.Fatal("summary present although Redis was down")
	}
	// Redis is back: the next registry instance's republisher fixes the entry.
	up := newEnv(t, db, live, prefix)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { up.svc.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if n, _ := live.Exists(context.Background(), key).Result(); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("summary not republished within 10 s after Redis came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	if r := up.do(t, "GET", "/readyz", "", nil); r.body["status"] != "ready" {
		t.Fatalf("/readyz with Redis up = %v", r.body)
	}
}

// TestRedisRolledBack: Redis restored from an older snapshot (a restore, a failover to a lagging
// replica) brings back the old parts and the synced marker with them. Ten trucks scrapped after
// the snapshot must not pass: the generation check finds Redis older than the truth within a
// resync period (50 ms here, 10 s by default) and every part is rebuilt.
func TestRedisRolledBack(t *testing.T) {
	db := testenv.Mongo(t)
	rdb, prefix := testenv.Redis(t)
	e := newEnv(t, db, rdb, prefix)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	bureau, police := e.token(t, auth.Bureau, ""), e.token(t, auth.Police, "")
	var vins, plates []string
	for i := range 10 {
		body := truck(t, fmt.Sprintf("%02d", i+10), fmt.Sprintf("晋F%05d", 30000+i))
		body["fleet_id"] = "f1"
		if r := e.do(t, "POST", "/v1/vehicles", bureau, body); r.status != 201 {
			t.Fatalf("register = %d %v", r.status, r.body)
		}
		vins, plates = append(vins, body["vin"].(string)), append(plates, body["plate"].(string))
	}
	status := func(plate string) string {
		raw, err := rdb.Get(ctx, summary.Key(prefix, vehicleid.Key(plate, vehicleid.Yellow), summary.Registry)).Result()
		if err != nil {
			return "missing"
		}
		v, _, ok := summary.Read[summary.Vehicle](raw, time.Now())
		if !ok {
			return "unreadable"
		}
		return v.Status
	}
	wait := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s", what)
			}
		}
	}
	wait("the synced marker", func() bool { return rdb.Exists(ctx, prefix+"registry:synced:v2").Val() == 1 })
	// The snapshot: every key of the test's prefix, as DUMP sees them.
	keys := rdb.Keys(ctx, prefix+"*").Val()
	snapshot := map[string]string{}
	for _, k := range keys {
		snapshot[k] = rdb.Dump(ctx, k).Val()
	}
	for _, vin := range vins {
		if r := e.do(t, "PATCH", "/v1/vehicles/"+vin, police, map[string]any{"status": "scrapped", "status_reason": "dismantled"}); r.status != 200 {
			t.Fatalf("scrap = %d %v", r.status, r.body)
		}
	}
	wait("the scrapped parts", func() bool { return status(plates[9]) == "scrapped" })
	time.Sleep(200 * time.Millisecond) // a few resync periods: the generation moves on
	for k, v := range snapshot {
		if err := rdb.RestoreReplace(ctx, k, 0, v).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if status(plates[0]) != "active" {
		t.Fatal("the restore did not bring the old part back; the test proves nothing")
	}
	start := time.Now()
	wait("every scrapped truck's part rebuilt after the rollback", func() bool {
		for _, p := range plates {
			if status(p) != "scrapped" {
				return false
			}
		}
		return true
	})
	t.Logf("parts correct again %v after the rollback", time.Since(start).Round(time.Millisecond))
}

// registryPart reads the registry's Redis part of a plate.
func (e *env) registryPart(t *testing.T, plate string, colour vehicleid.Colour) map[string]any {
	t.Helper()
	raw, err := e.rdb.Get(context.Background(), summary.Key(e.prefix, vehicleid.Key(plate, colour), summary.Registry)).Bytes()
	if err != nil {
		t.Fatalf("registry part of %s not in Redis: %v", plate, err)
	}
	env, err := summary.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(env.Data, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestFieldsTheVerdictRestsOn: a fleet moved its truck's scrap_due from 2025-06-01 to 2040-01-01
// with a PATCH (200) and the checkpoint's next answer went from STOP to PASS. Now a fleet's
// change of a field the authority owns is a pending proposal (202); the record, its Redis part
// and the status route keep the accepted value until the bureau accepts it; every decision is in
// the proposal's history. Fields the fleet owns still apply at once.
func TestFieldsTheVerdictRestsOn(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix)
	fleet1, fleet2 := e.token(t, auth.Fleet, "f1"), e.token(t, auth.Fleet, "f2")
	bureau, police, admin := e.token(t, auth.Bureau, ""), e.token(t, auth.Police, ""), e.token(t, auth.Admin, "")
	system := e.token(t, auth.System, "")
	body := truck(t, "50", "晋F55555")
	body["scrap_due"], body["fleet_id"] = "2025-06-01", "f1"
	vin := body["vin"].(string)
	if r := e.do(t, "POST", "/v1/vehicles", bureau, body); r.status != 201 {
		t.Fatalf("register = %d %v", r.status, r.body)
	}
	statusOf := func(t *testing.T) map[string]any {
		t.Helper()
		r := e.do(t, "GET", "/v1/registry/status?vin="+vin, system, nil)
		if r.status != 200 {
			t.Fatalf("status = %d %v", r.status, r.body)
		}
		return r.body
	}
	if st := statusOf(t); st["scrap_due"] != "2025-06-01" || st["past_scrap_due"] != true {
		t.Fatalf("status before = %v", st)
	}

	// The fleet's scrap_due change: 202 and a pending proposal; nothing the verdict reads moves.
	r := e.do(t, "PATCH", "/v1/vehicles/"+vin, fleet1, map[string]any{"scrap_due": "2040-01-01"})
	if r.status != http.StatusAccepted || r.body["scrap_due"] != "2025-06-01" {
		t.Fatalf("fleet PATCH scrap_due = %d %v, want 202 with the accepted 2025-06-01", r.status, r.body)
	}
	prop, _ := r.body["proposal"].(map[string]any)
	changes, _ := prop["changes"].([]any)
	if prop["state"] != "pending" || len(changes) != 1 {
		t.Fatalf("proposal = %v", prop)
	}
	if ch := changes[0].(map[string]any); ch["field"] != "scrap_due" || ch["from"] != "2025-06-01" || ch["to"] != "2040-01-01" {
		t.Fatalf("change = %v, want scrap_due 2025-06-01 → 2040-01-01", ch)
	}
	scrapID := prop["proposal_id"].(string)
	if got := e.do(t, "GET", "/v1/vehicles/"+vin, fleet1, nil); got.body["scrap_due"] != "2025-06-01" || got.body["version"].(float64) != 1 {
		t.Fatalf("vehicle after the proposal = %v, want scrap_due 2025-06-01 at version 1", got.body)
	}
	if st := e.registryPart(t, "晋F55555", vehicleid.Yellow); st["scrap_due"] != "2025-06-01" || st["past_scrap_due"] != true {
		t.Fatalf("Redis part after the proposal = %v, want the accepted scrap_due, past", st)
	}
	if st := statusOf(t); st["scrap_due"] != "2025-06-01" || st["past_scrap_due"] != true {
		t.Fatalf("status route after the proposal = %v", st)
	}
	// A retried PATCH proposes once.
	if again := e.do(t, "PATCH", "/v1/vehicles/"+vin, fleet1, map[string]any{"scrap_due": "2040-01-01"}); again.status != 202 ||
		again.body["proposal"].(map[string]any)["proposal_id"] != scrapID {
		t.Fatalf("retried PATCH = %d %v, want the same proposal %s", again.status, again.body, scrapID)
	}

	// A mixed PATCH: the fleet's own field applies, the standard is proposed.
	r = e.do(t, "PATCH", "/v1/vehicles/"+vin, fleet1, map[string]any{"maker": "FAW Jiefang", "emission_standard": "VIb"})
	if r.status != 202 || r.body["maker"] != "FAW Jiefang" || r.body["emission_standard"] != "VIa" {
		t.Fatalf("mixed PATCH = %d %v, want 202, maker applied, standard still VIa", r.status, r.body)
	}
	stdID := r.body["proposal"].(map[string]any)["proposal_id"].(string)
	if st := e.registryPart(t, "晋F55555", vehicleid.Yellow); st["maker"] != "FAW Jiefang" || st["emission_standard"] != "VIa" {
		t.Fatalf("Redis part after the mixed PATCH = %v", st)
	}
	// Only the fleet's own fields: 200, no proposal; an unchanged value proposes nothing.
	if r := e.do(t, "PATCH", "/v1/vehicles/"+vin, fleet1, map[string]any{"owner": "Demo Logistics Ltd.", "fuel_type": "diesel"}); r.status != 200 || r.body["proposal"] != nil {
		t.Fatalf("fleet PATCH of its own fields = %d %v, want 200 without a proposal", r.status, r.body)
	}
	// An invalid proposal is refused now, naming the field.
	if r := e.do(t, "PATCH", "/v1/vehicles/"+vin, fleet1, map[string]any{"emission_standard": "VII"}); r.status != 400 || fieldOf(r) != "emission_standard" {
		t.Fatalf("invalid proposal = %d %v", r.status, r.body)
	}
	// Status stays the authorities' alone: a fleet cannot even propose it.
	if r := e.do(t, "PATCH", "/v1/vehicles/"+vin, fleet1, map[string]any{"status": "active"}); r.status != 400 || fieldOf(r) != "status" {
		t.Fatalf("fleet PATCH status = %d %v", r.status, r.body)
	}

	t.Run("authorisation", func(t *testing.T) {
		cases := []struct {
			name, method, path, token string
			body                      any
			want                      int
		}{
			{"fleet lists its proposals", "GET", "/v1/vehicle-proposals?state=pending", fleet1, nil, 200},
			{"fleet reads its proposal", "GET", "/v1/vehicle-proposals/" + scrapID, fleet1, nil, 200},
			{"other fleet cannot see it", "GET", "/v1/vehicle-proposals/" + scrapID, fleet2, nil, 404},
			{"other fleet cannot list f1's", "GET", "/v1/vehicle-proposals?fleet_id=f1", fleet2, nil, 403},
			{"bureau reads", "GET", "/v1/vehicle-proposals/" + scrapID, bureau, nil, 200},
			{"admin reads", "GET", "/v1/vehicle-proposals/" + scrapID, admin, nil, 200},
			{"police may not read", "GET", "/v1/vehicle-proposals", police, nil, 403},
			{"fleet may not accept its own", "POST", "/v1/vehicle-proposals/" + scrapID + "/accept", fleet1, nil, 403},
			{"other fleet may not accept", "POST", "/v1/vehicle-proposals/" + scrapID + "/accept", fleet2, nil, 403},
			{"police may not accept", "POST", "/v1/vehicle-proposals/" + scrapID + "/accept", police, nil, 403},
			{"admin may not accept", "POST", "/v1/vehicle-proposals/" + scrapID + "/accept", admin, nil, 403},
			{"fleet may not refuse", "POST", "/v1/vehicle-proposals/" + scrapID + "/refuse", fleet1, map[string]any{"reason": "x"}, 403},
			{"admin may not refuse", "POST", "/v1/vehicle-proposals/" + scrapID + "/refuse", admin, map[string]any{"reason": "x"}, 403},
			{"refusal needs a reason", "POST", "/v1/vehicle-proposals/" + scrapID + "/refuse", bureau, nil, 400},
			{"unknown proposal", "POST", "/v1/vehicle-proposals/vp_nope/accept", bureau, nil, 404},
			{"bad state filter", "GET", "/v1/vehicle-proposals?state=maybe", bureau, nil, 400},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if got := e.do(t, tc.method, tc.path, tc.token, tc.body); got.status != tc.want {
					t.Fatalf("%s %s = %d %v, want %d", tc.method, tc.path, got.status, got.body, tc.want)
				}
			})
		}
		if r := e.do(t, "GET", "/v1/vehicle-proposals", fleet2, nil); len(r.body["items"].([]any)) != 0 {
			t.Fatalf("fleet 2 lists %v, want none", r.body["items"])
		}
		if r := e.do(t, "GET", "/v1/vehicle-proposals?state=pending&vin="+vin, bureau, nil); len(r.body["items"].([]any)) != 2 {
			t.Fatalf("bureau's pending list = %v, want the 2 proposals", r.body["items"])
		}
	})

	// The bureau refuses the scrap_due change: nothing moves; the history says who and why.
	r = e.do(t, "POST", "/v1/vehicle-proposals/"+scrapID+"/refuse", bureau, map[string]any{"reason": "the scrappage day is the vehicle administration's"})
	if r.status != 200 || r.body["state"] != "refused" || r.body["decided_by"] == "" {
		t.Fatalf("refuse = %d %v", r.status, r.body)
	}
	hist := r.body["history"].([]any)
	if len(hist) != 2 || hist[0].(map[string]any)["action"] != "proposed" || hist[0].(map[string]any)["role"] != "fleet" ||
		hist[1].(map[string]any)["action"] != "refused" || hist[1].(map[string]any)["role"] != "bureau" || hist[1].(map[string]any)["reason"] == "" {
		t.Fatalf("history = %v", hist)
	}
	if r := e.do(t, "POST", "/v1/vehicle-proposals/"+scrapID+"/accept", bureau, nil); r.status != 409 {
		t.Fatalf("accepting a refused proposal = %d, want 409", r.status)
	}
	if st := statusOf(t); st["scrap_due"] != "2025-06-01" {
		t.Fatalf("status after the refusal = %v", st)
	}

	// The bureau accepts the standard: the record, the part and the status route follow.
	r = e.do(t, "POST", "/v1/vehicle-proposals/"+stdID+"/accept", bureau, nil)
	if r.status != 200 || r.body["proposal"].(map[string]any)["state"] != "accepted" || r.body["vehicle"].(map[string]any)["emission_standard"] != "VIb" {
		t.Fatalf("accept = %d %v", r.status, r.body)
	}
	if st := e.registryPart(t, "晋F55555", vehicleid.Yellow); st["emission_standard"] != "VIb" {
		t.Fatalf("Redis part after acceptance = %v", st)
	}
	if st := statusOf(t); st["emission_standard"] != "VIb" {
		t.Fatalf("status after acceptance = %v", st)
	}
	if r := e.do(t, "POST", "/v1/vehicle-proposals/"+stdID+"/accept", bureau, nil); r.status != 409 {
		t.Fatalf("accepting twice = %d, want 409", r.status)
	}

	// A proposal the record has moved past since is not applied over the newer value.
	r = e.do(t, "PATCH", "/v1/vehicles/"+vin, fleet1, map[string]any{"gross_mass_kg": 18000})
	staleID := r.body["proposal"].(map[string]any)["proposal_id"].(string)
	if r := e.do(t, "PATCH", "/v1/vehicles/"+vin, bureau, map[string]any{"gross_mass_kg": 31000}); r.status != 200 || r.body["gross_mass_kg"].(float64) != 31000 {
		t.Fatalf("bureau PATCH = %d %v, want it applied at once", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/vehicle-proposals/"+staleID+"/accept", bureau, nil); r.status != 409 {
		t.Fatalf("accepting a stale proposal = %d %v, want 409", r.status, r.body)
	}
	if r := e.do(t, "GET", "/v1/vehicles/"+vin, bureau, nil); r.body["gross_mass_kg"].(float64) != 31000 {
		t.Fatalf("gross mass after the stale acceptance = %v", r.body["gross_mass_kg"])
	}
	if n := count(t, e.db, "vehicle_proposals", bson.D{}); n != 3 {
		t.Fatalf("proposals stored = %d, want 3", n)
	}
}
