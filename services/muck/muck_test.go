package muck_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/events"
	"github.com/clearsky/clearsky/libs/outbox"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/seeds"
	"github.com/clearsky/clearsky/services/muck"
)

// Trucks of the fake registry (the demo's, plus one of another fleet).
const (
	vinEV    = "LZZ1CLVBXN0000005" // 晋FD12345, electric muck truck of f1
	vinNewD  = "LZZ1CLVB1N0000006" // 晋F56789, China VIa diesel of f1 first registered 2021: not new-energy
	vinOldD  = "LZZ1CLVB8N0000004" // 晋F45678, China V diesel of f1 first registered 2017: qualifies
	vinOther = "LZZ1CLVB3N0000007" // 晋F67890, truck of f2
)

func trucks() []summary.Vehicle {
	return []summary.Vehicle{
		{VIN: vinEV, Plate: "晋FD12345", PlateColour: "yellow_green", Status: "active", FuelType: "electric", EmissionStandard: "VIb",
			Category: "N3", ServiceClass: "muck", Heavy: true, NewEnergy: true, FleetID: "f1", RegisteredOn: "2025-02-01"},
		{VIN: vinNewD, Plate: "晋F56789", PlateColour: "yellow", Status: "active", FuelType: "diesel", EmissionStandard: "VIa",
			Category: "N3", ServiceClass: "muck", Heavy: true, FleetID: "f1", RegisteredOn: "2021-09-09"},
		{VIN: vinOldD, Plate: "晋F45678", PlateColour: "yellow", Status: "active", FuelType: "diesel", EmissionStandard: "V",
			Category: "N2", Heavy: true, FleetID: "f1", RegisteredOn: "2017-06-01"},
		{VIN: vinOther, Plate: "晋F67890", PlateColour: "yellow", Status: "active", FuelType: "diesel", EmissionStandard: "VI",
			Category: "N3", Heavy: true, FleetID: "f2", RegisteredOn: "2016-04-01"},
	}
}

// fakeRegistry answers GET /v1/registry/status like the registry does, for when Redis is down.
func fakeRegistry(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for _, v := range trucks() {
			if v.VIN == q.Get("vin") || (v.Plate == q.Get("plate") && v.PlateColour == q.Get("colour")) {
				_ = json.NewEncoder(w).Encode(v)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// seedRegistry writes the registry's Redis entries of the trucks, as the registry would.
func seedRegistry(t *testing.T, rdb *redis.Client, prefix string, vs ...summary.Vehicle) {
	ctx := context.Background()
	if len(vs) == 0 {
		vs = trucks()
	}
	for _, v := range vs {
		b, err := summary.Encode(summary.Registry, time.Now(), v)
		if err != nil {
			t.Fatal(err)
		}
		rdb.Set(ctx, summary.VINKey(prefix, v.VIN), b, time.Hour)
		rdb.Set(ctx, summary.Key(prefix, vehicleid.Key(v.Plate, vehicleid.Colour(v.PlateColour)), summary.Registry), b, time.Hour)
	}
}

type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

type env struct {
	*testenv.API
	db     *mongo.Database
	rdb    redis.UniversalClient
	prefix string
	svc    *muck.Service
	clock  *clock
}

func newEnv(t *testing.T, db *mongo.Database, rdb redis.UniversalClient, prefix, registryURL string, opts ...func(*muck.Config)) *env {
	t.Helper()
	ctx := context.Background()
	deps := testenv.Platform(t, muck.Name, db, rdb, prefix)
	deps.Vehicles = platform.NewVehicles(muck.Name, registryURL, nil, deps)
	clk := &clock{}
	cfg := muck.Config{SweepEvery: 50 * time.Millisecond, Clock: clk.now}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := muck.New(ctx, cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return &env{API: testenv.Serve(t, muck.Name, deps, svc.Routes), db: db, rdb: rdb, prefix: prefix, svc: svc, clock: clk}
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

func (e *env) must(t *testing.T, want int, method, path, token string, body any) map[string]any {
	t.Helper()
	r := e.do(t, method, path, token, body)
	if r.status != want {
		t.Fatalf("%s %s = %d %v, want %d", method, path, r.status, r.body, want)
	}
	return r.body
}

func fieldOf(r response) string { return testenv.Response{Body: r.body}.Field() }

func count(t *testing.T, db *mongo.Database, coll string) int64 {
	t.Helper()
	n, err := db.Collection(coll).CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// cached returns the muck summary of a plate as Redis holds it.
func (e *env) cached(t *testing.T, plate string, colour vehicleid.Colour) (summary.MuckStatus, bool) {
	t.Helper()
	raw, err := e.rdb.Get(context.Background(), summary.Key(e.prefix, vehicleid.Key(plate, colour), summary.Muck)).Bytes()
	if err != nil {
		return summary.MuckStatus{}, false
	}
	env, err := summary.Decode(raw)
	if err != nil || env.Part != summary.Muck {
		t.Fatalf("muck summary envelope = %+v, %v", env, err)
	}
	var m summary.MuckStatus
	if err := json.Unmarshal(env.Data, &m); err != nil {
		t.Fatal(err)
	}
	return m, true
}

func reasonCodes(body map[string]any) []string {
	var out []string
	rs, _ := body["reasons"].([]any)
	for _, r := range rs {
		out = append(out, r.(map[string]any)["code"].(string))
	}
	return out
}

const (
	constructionZone = `{"type":"Polygon","coordinates":[[[112.40,39.30],[112.50,39.30],[112.50,39.40],[112.40,39.40],[112.40,39.30]]]}`
	disposalZone     = `{"type":"Polygon","coordinates":[[[112.60,39.20],[112.70,39.20],[112.70,39.25],[112.60,39.25],[112.60,39.20]]]}`
	// passZone is the restricted district between the two, with a hole (a school) the trucks
	// may not cross.
	passZone = `{"type":"Polygon","coordinates":[[[112.40,39.20],[112.70,39.20],[112.70,39.40],[112.40,39.40],[112.40,39.20]],[[112.54,39.29],[112.56,39.29],[112.56,39.31],[112.54,39.31],[112.54,39.29]]]}`
)

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func constructionSite() map[string]any {
	return map[string]any{"site_id": "cs-shuocheng-01", "kind": "construction", "name": "朔城区民福街住宅项目", "address": "朔州市朔城区民福街",
		"area": raw(constructionZone), "developer": "朔州置业有限公司", "contractor": "山西建工集团", "period_from": "2026-03-01", "period_to": "2027-10-31",
		"dust_control": map[string]any{"hoarding": true, "covered_stockpiles": true, "wet_excavation": true, "paved_roads": true,
			"vehicle_washing": true, "enclosed_transport": true, "online_monitoring": true, "video": false}}
}

func disposalSite() map[string]any {
	return map[string]any{"site_id": "ds-north-01", "kind": "disposal", "name": "北郊建筑垃圾消纳场", "area": raw(disposalZone),
		"accepted_materials": []string{"spoil", "construction_waste"}, "opening_hours": map[string]any{"from": "20:00", "to": "06:00"}}
}

// window is a permit validity from an hour ago for 30 days.
func window(now time.Time) (string, string) {
	return now.Add(-time.Hour).UTC().Format(time.RFC3339), now.AddDate(0, 0, 30).UTC().Format(time.RFC3339)
}

func application(id, vin string, now time.Time) map[string]any {
	from, to := window(now)
	return map[string]any{"permit_id": id, "vin": vin, "from_site": "cs-shuocheng-01", "to_site": "ds-north-01",
		"valid_from": from, "valid_to": to, "enclosed": true, "gps": true, "video": true}
}

// nightAt is 23:30 Beijing time on the day after now.
func nightAt(now time.Time) time.Time {
	cst := time.FixedZone("CST", 8*3600)
	d := now.In(cst).AddDate(0, 0, 1)
	return time.Date(d.Year(), d.Month(), d.Day(), 23, 30, 0, 0, cst)
}

func TestMuckHTTP(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	seedRegistry(t, rdb, prefix)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix, "")
	now := time.Now()
	zj := e.token(t, auth.Construction, "zjj-shuocheng")
	zjOther := e.token(t, auth.Construction, "zjj-pinglu") // another district bureau's tenant
	f1, f2 := e.token(t, auth.Fleet, "f1"), e.token(t, auth.Fleet, "f2")
	police, bureau, system, station := e.token(t, auth.Police, ""), e.token(t, auth.Bureau, ""), e.token(t, auth.System, ""), e.token(t, auth.Station, "s1")
	admin := e.token(t, auth.Admin, "")

	t.Run("sites: registered by the construction bureau, idempotent on site_id", func(t *testing.T) {
		b := e.must(t, 201, "POST", "/v1/muck/sites", zj, constructionSite())
		if dc := b["dust_control"].(map[string]any); dc["complete"] != false || dc["hoarding"] != true {
			t.Fatalf("dust_control = %v", dc)
		}
		e.must(t, 200, "POST", "/v1/muck/sites", zj, constructionSite())
		changed := constructionSite()
		changed["contractor"] = "another contractor"
		e.must(t, 409, "POST", "/v1/muck/sites", zj, changed)
		e.must(t, 201, "POST", "/v1/muck/sites", zj, disposalSite())
		if b := e.must(t, 200, "GET", "/v1/muck/sites/ds-north-01", f1, nil); b["opening_hours"].(map[string]any)["from"] != "20:00" {
			t.Fatalf("disposal site = %v", b)
		}
		if b := e.must(t, 200, "GET", "/v1/muck/sites?kind=construction", police, nil); len(b["items"].([]any)) != 1 {
			t.Fatalf("construction sites = %v", b)
		}
		if b := e.must(t, 200, "GET", "/v1/muck/sites/cs-shuocheng-01", f1, nil); b["authority"] != "zjj-shuocheng" {
			t.Fatalf("site authority = %v, want the registering bureau's tenant", b["authority"])
		}
		e.must(t, 403, "POST", "/v1/muck/sites", admin, disposalSite())
	})

	t.Run("permit applications are checked against the rules", func(t *testing.T) {
		b := e.must(t, 201, "POST", "/v1/muck/permits", f1, application("pmt-ev-1", vinEV, now))
		if b["state"] != "pending" || b["plate"] != "晋FD12345" || b["fleet_id"] != "f1" || len(b["reasons"].([]any)) != 0 {
			t.Fatalf("EV application = %v", b)
		}
		if b := e.must(t, 200, "POST", "/v1/muck/permits", f1, application("pmt-ev-1", vinEV, now)); b["state"] != "pending" {
			t.Fatalf("retried application = %v", b)
		}
		other := application("pmt-ev-1", vinEV, now)
		other["to_site"] = "cs-shuocheng-01"
		e.must(t, 409, "POST", "/v1/muck/permits", f1, other)

		bad := application("pmt-diesel-1", vinNewD, now)
		bad["gps"] = false
		b = e.must(t, 201, "POST", "/v1/muck/permits", f1, bad)
		if got := reasonCodes(b); b["state"] != "refused" || len(got) != 2 || got[0] != "not_new_energy" || got[1] != "no_gps" {
			t.Fatalf("diesel truck added in 2021 without GPS = %v %v, want refused not_new_energy, no_gps", b["state"], got)
		}
		if m, ok := e.cached(t, "晋F56789", vehicleid.Yellow); !ok || m.PermitState != "refused" {
			t.Fatalf("summary of the refused truck = %+v, %v", m, ok)
		}
		e.must(t, 201, "POST", "/v1/muck/permits", f1, application("pmt-old-1", vinOldD, now))
	})

	t.Run("a fleet applies for and sees only its own trucks", func(t *testing.T) {
		r := e.do(t, "POST", "/v1/muck/permits", f1, application("", vinOther, now))
		if r.status != 400 || fieldOf(r) != "vin" {
			t.Fatalf("f1 applying for f2's truck = %d %v, want 400 vin", r.status, r.body)
		}
		e.must(t, 404, "GET", "/v1/muck/permits/f1:pmt-ev-1", f2, nil)
		if b := e.must(t, 200, "GET", "/v1/muck/permits", f2, nil); len(b["items"].([]any)) != 0 {
			t.Fatalf("f2 lists %v", b)
		}
		if b := e.must(t, 200, "GET", "/v1/muck/permits", f1, nil); len(b["items"].([]any)) != 3 {
			t.Fatalf("f1 lists %d permits, want 3", len(b["items"].([]any)))
		}
		e.must(t, 403, "GET", "/v1/muck/permits?fleet_id=f2", f1, nil)
		// A permit id a fleet chooses is its own: f2 choosing the id f1 used gets its own permit.
		// It used to get 409, which told it that f1's record existed.
		r = e.do(t, "POST", "/v1/muck/permits", f2, application("pmt-ev-1", vinOther, now))
		if r.status != 201 || r.body["permit_id"] != "f2:pmt-ev-1" || r.body["fleet_id"] != "f2" {
			t.Fatalf("f2 applying under f1's permit id = %d %v, want 201 f2:pmt-ev-1", r.status, r.body)
		}
		e.must(t, 404, "GET", "/v1/muck/permits/f1:pmt-ev-1", f2, nil)
		if b := e.must(t, 200, "GET", "/v1/muck/permits/f1:pmt-ev-1", f1, nil); b["vin"] != vinEV {
			t.Fatalf("f1's permit after f2's application = %v", b)
		}
	})

	t.Run("permit lifecycle by role, and the summary follows every change", func(t *testing.T) {
		p := "/v1/muck/permits/f1:pmt-ev-1/"
		state := func() string {
			m, ok := e.cached(t, "晋FD12345", vehicleid.YellowGreen)
			if !ok {
				t.Fatal("no muck summary in Redis")
			}
			return m.PermitState
		}
		steps := []struct {
			name, action, token string
			body                any
			want                int
			wantState           string
		}{
			{"a fleet may not approve", "approve", f1, nil, 403, "pending"},
			{"another construction bureau may not approve", "approve", zjOther, nil, 403, "pending"},
			{"another construction bureau may not refuse", "refuse", zjOther, map[string]any{"reason": "x"}, 403, "pending"},
			{"admin may not approve", "approve", admin, nil, 403, "pending"},
			{"the police may not approve", "approve", police, nil, 403, "pending"},
			{"the bureau may not approve", "approve", bureau, nil, 403, "pending"},
			{"a pending permit cannot be suspended", "suspend", zj, map[string]any{"reason": "x"}, 409, "pending"},
			{"the construction bureau approves", "approve", zj, nil, 200, "approved"},
			{"an approved permit cannot be approved again", "approve", zj, nil, 409, "approved"},
			{"an approved permit cannot be refused", "refuse", zj, map[string]any{"reason": "x"}, 409, "approved"},
			{"an approved permit cannot be resumed", "resume", zj, nil, 409, "approved"},
			{"an approved permit cannot be reinstated", "reinstate", bureau, map[string]any{"reason": "x"}, 409, "approved"},
			{"suspension needs a reason", "suspend", zj, nil, 400, "approved"},
			{"the police may not suspend", "suspend", police, map[string]any{"reason": "x"}, 403, "approved"},
			{"another construction bureau may not suspend", "suspend", zjOther, map[string]any{"reason": "x"}, 403, "approved"},
			{"another construction bureau may not revoke", "revoke", zjOther, map[string]any{"reason": "x"}, 403, "approved"},
			{"admin may not revoke", "revoke", admin, map[string]any{"reason": "x"}, 403, "approved"},
			{"the construction bureau suspends", "suspend", zj, map[string]any{"reason": "site under dust-control review"}, 200, "suspended"},
			{"the construction bureau resumes", "resume", zj, nil, 200, "approved"},
			{"the construction bureau revokes", "revoke", zj, map[string]any{"reason": "false statement on enclosure"}, 200, "revoked"},
			{"a revoked permit cannot be resumed", "resume", zj, nil, 409, "revoked"},
			{"admin may not reinstate", "reinstate", admin, map[string]any{"reason": "x"}, 403, "revoked"},
			{"the construction bureau may not decide an appeal", "reinstate", zj, map[string]any{"reason": "x"}, 403, "revoked"},
			{"the appeal needs a reason", "reinstate", bureau, map[string]any{}, 400, "revoked"},
			{"the bureau upholds the appeal", "reinstate", bureau, map[string]any{"reason": "appeal upheld: enclosure certificate produced"}, 200, "approved"},
			{"an unknown field is refused", "suspend", zj, map[string]any{"why": "x"}, 400, "approved"},
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				r := e.do(t, "POST", p+s.action, s.token, s.body)
				if r.status != s.want {
					t.Fatalf("%s = %d %v, want %d", s.action, r.status, r.body, s.want)
				}
				if r.status >= 400 && r.ctype != "application/problem+json" {
					t.Fatalf("error content type %q", r.ctype)
				}
				if got := state(); got != s.wantState {
					t.Fatalf("summary permit_state after %s = %s, want %s", s.action, got, s.wantState)
				}
			})
		}
		b := e.must(t, 200, "GET", "/v1/muck/permits/f1:pmt-ev-1", bureau, nil)
		hist := b["history"].([]any)
		var actions []string
		for _, h := range hist {
			ev := h.(map[string]any)
			actions = append(actions, ev["action"].(string))
			if ev["by"] == "" || ev["at"] == "" || ev["role"] == "" {
				t.Fatalf("history entry without who or when: %v", ev)
			}
		}
		want := []string{"apply", "approve", "suspend", "resume", "revoke", "reinstate"}
		if len(actions) != len(want) {
			t.Fatalf("history = %v, want %v", actions, want)
		}
		for i := range want {
			if actions[i] != want[i] {
				t.Fatalf("history = %v, want %v", actions, want)
			}
		}
		if last := hist[len(hist)-1].(map[string]any); last["role"] != "bureau" || last["reason"] != "appeal upheld: enclosure certificate produced" {
			t.Fatalf("reinstatement entry = %v", last)
		}
		// Refusing a pending application, and the rules re-checked on approval.
		e.must(t, 200, "POST", "/v1/muck/permits/f1:pmt-old-1/refuse", zj, map[string]any{"reason": "site quota reached"})
	})

	from, to := now.Add(-time.Hour).UTC().Format(time.RFC3339), now.AddDate(0, 0, 10).UTC().Format(time.RFC3339)
	pass := func(id, permitID string) map[string]any {
		return map[string]any{"pass_id": id, "permit_id": permitID, "zone": raw(passZone), "hours": map[string]any{"from": "22:00", "to": "05:00"},
			"valid_from": from, "valid_to": to, "route": "民福街 - 北环路 - 北郊消纳场"}
	}

	t.Run("restricted-road passes are issued by the police for approved permits", func(t *testing.T) {
		e.must(t, 403, "POST", "/v1/muck/passes", zj, pass("pass-1", "f1:pmt-ev-1"))
		e.must(t, 403, "POST", "/v1/muck/passes", f1, pass("pass-1", "f1:pmt-ev-1"))
		e.must(t, 409, "POST", "/v1/muck/passes", police, pass("pass-x", "f1:pmt-diesel-1"))
		b := e.must(t, 201, "POST", "/v1/muck/passes", police, pass("pass-1", "f1:pmt-ev-1"))
		if b["state"] != "active" || b["hours"].(map[string]any)["to"] != "05:00" || b["timezone"] != "Asia/Shanghai" {
			t.Fatalf("pass = %v", b)
		}
		e.must(t, 200, "POST", "/v1/muck/passes", police, pass("pass-1", "f1:pmt-ev-1"))
		m, _ := e.cached(t, "晋FD12345", vehicleid.YellowGreen)
		if len(m.Passes) != 1 || m.Passes[0].Hours.From != "22:00" || m.Passes[0].PermitID != "f1:pmt-ev-1" {
			t.Fatalf("summary passes = %+v", m.Passes)
		}
		if b := e.must(t, 200, "GET", "/v1/muck/passes/pass-1", f1, nil); b["pass_id"] != "pass-1" {
			t.Fatalf("owner reads its pass: %v", b)
		}
		e.must(t, 404, "GET", "/v1/muck/passes/pass-1", f2, nil)
	})

	night := nightAt(now)
	allowed := func(lat, lon float64, at time.Time, token string) response {
		q := url.Values{"lat": {jsonNum(lat)}, "lon": {jsonNum(lon)}, "at": {at.Format(time.RFC3339)}}
		return e.do(t, "GET", "/v1/muck/vehicles/"+vinEV+"/allowed?"+q.Encode(), token, nil)
	}

	t.Run("allowed here and now", func(t *testing.T) {
		cases := []struct {
			name     string
			lat, lon float64
			at       time.Time
			want     []string
		}{
			{"inside the zone at night", 39.35, 112.45, night, nil},
			{"on the zone's edge", 39.40, 112.45, night, nil},
			{"after midnight", 39.35, 112.45, night.Add(5 * time.Hour), nil},
			{"at 05:00 the window has closed", 39.35, 112.45, night.Add(5*time.Hour + 30*time.Minute), []string{"outside_hours"}},
			{"in the afternoon", 39.35, 112.45, night.Add(-9 * time.Hour), []string{"outside_hours"}},
			{"in the hole", 39.30, 112.55, night, []string{"outside_zone"}},
			{"outside the zone", 39.50, 112.45, night, []string{"outside_zone"}},
			{"after the pass expired", 39.35, 112.45, night.AddDate(0, 0, 15), []string{"pass_expired"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := allowed(tc.lat, tc.lon, tc.at, system)
				if r.status != 200 {
					t.Fatalf("allowed = %d %v", r.status, r.body)
				}
				got := reasonCodes(r.body)
				if (tc.want == nil) != (r.body["allowed"] == true) || len(got) != len(tc.want) {
					t.Fatalf("allowed = %v %v, want reasons %v", r.body["allowed"], got, tc.want)
				}
				for i := range tc.want {
					if got[i] != tc.want[i] {
						t.Fatalf("reasons = %v, want %v", got, tc.want)
					}
				}
			})
		}
		if r := allowed(39.35, 112.45, night, f1); r.status != 403 {
			t.Fatalf("fleet asks allowed = %d", r.status)
		}
		for _, q := range []string{"lat=91&lon=112", "lat=NaN&lon=112", "lat=Inf&lon=112", "lat=1e999&lon=112", "lat=-infinity&lon=NaN"} {
			if r := e.do(t, "GET", "/v1/muck/vehicles/"+vinEV+"/allowed?"+q, police, nil); r.status != 400 || fieldOf(r) != "lat" {
				t.Fatalf("%s = %d %v, want 400 naming lat", q, r.status, r.body)
			}
		}
		if r := e.do(t, "GET", "/v1/muck/vehicles/"+vinEV+"/allowed?lat=39&lon=NaN", police, nil); r.status != 400 || fieldOf(r) != "lon" {
			t.Fatalf("lon NaN = %d %v, want 400 naming lon", r.status, r.body)
		}
		if r := e.do(t, "GET", "/v1/muck/vehicles/"+vinEV+"/allowed?lat=39&lon=112&at=tonight", police, nil); r.status != 400 || fieldOf(r) != "at" {
			t.Fatalf("bad at = %d %v", r.status, r.body)
		}
		// A pass for a suspended permit does not allow.
		e.must(t, 200, "POST", "/v1/muck/permits/f1:pmt-ev-1/suspend", zj, map[string]any{"reason": "inspection"})
		if r := allowed(39.35, 112.45, night, police); r.body["allowed"] != false || reasonCodes(r.body)[0] != "permit_suspended" {
			t.Fatalf("allowed on a suspended permit = %v", r.body)
		}
		e.must(t, 200, "POST", "/v1/muck/permits/f1:pmt-ev-1/resume", zj, nil)
	})

	t.Run("violations are traced back to the site and revoke the permit", func(t *testing.T) {
		v := map[string]any{"violation_id": "vio-1", "kind": "leaky_cover", "plate": "晋FD12345", "plate_colour": "yellow_green",
			"observed_at": now.Add(-10 * time.Minute).Format(time.RFC3339), "location": map[string]any{"lat": 39.33, "lon": 112.52},
			"place": "北环路与民福街路口", "photos": []string{"evidence://police/2026/0001.jpg"}}
		e.must(t, 403, "POST", "/v1/muck/violations", f1, v)
		e.must(t, 403, "POST", "/v1/muck/violations", zj, v)
		b := e.must(t, 201, "POST", "/v1/muck/violations", police, v)
		if b["vin"] != vinEV || b["from_site"] != "cs-shuocheng-01" || b["site_source"] != "permit" || b["permit_id"] != "f1:pmt-ev-1" || b["fleet_id"] != "f1" {
			t.Fatalf("violation trace-back = %v", b)
		}
		if rp := b["revoked_permits"].([]any); len(rp) != 1 || rp[0] != "f1:pmt-ev-1" || b["revoke_pending"] != false {
			t.Fatalf("revoked permits = %v", b)
		}
		e.must(t, 200, "POST", "/v1/muck/violations", police, v)
		v2 := map[string]any{}
		for k, x := range v {
			v2[k] = x
		}
		v2["note"] = "different"
		e.must(t, 409, "POST", "/v1/muck/violations", police, v2)

		p := e.must(t, 200, "GET", "/v1/muck/permits/f1:pmt-ev-1", zj, nil)
		hist := p["history"].([]any)
		last := hist[len(hist)-1].(map[string]any)
		if p["state"] != "revoked" || last["violation_id"] != "vio-1" || last["role"] != "police" {
			t.Fatalf("permit after the violation = %v %v", p["state"], last)
		}
		m, _ := e.cached(t, "晋FD12345", vehicleid.YellowGreen)
		if m.PermitState != "revoked" || len(m.RecentViolations) != 1 || !m.RecentViolations[0].Revoked || m.RecentViolations[0].FromSite != "cs-shuocheng-01" {
			t.Fatalf("summary after the violation = %+v", m)
		}
		st := e.must(t, 200, "GET", "/v1/muck/status?plate="+url.QueryEscape("晋FD12345")+"&colour=yellow_green", police, nil)
		if st["permit_state"] != "revoked" {
			t.Fatalf("status after revocation = %v", st)
		}
		if r := allowed(39.35, 112.45, night, police); r.body["allowed"] != false || reasonCodes(r.body)[0] != "permit_revoked" {
			t.Fatalf("allowed after revocation = %v", r.body)
		}

		// Muddy wheels, site named by the officer: traced, but no revocation by default.
		mud := map[string]any{"kind": "muddy_wheels", "vin": vinOldD, "from_site": "cs-shuocheng-01",
			"observed_at": now.Add(-time.Hour).Format(time.RFC3339), "location": map[string]any{"lat": 39.31, "lon": 112.41},
			"photos": []string{"evidence://bureau/77.jpg"}}
		b = e.must(t, 201, "POST", "/v1/muck/violations", bureau, mud)
		if b["site_source"] != "given" || b["plate"] != "晋F45678" || len(b["revoked_permits"].([]any)) != 0 || b["revoke_pending"] != false {
			t.Fatalf("muddy wheels = %v", b)
		}
		// Dumping inside the disposal site is not a violation.
		dump := map[string]any{"kind": "unauthorised_dumping", "vin": vinOldD, "observed_at": now.Format(time.RFC3339),
			"location": map[string]any{"lat": 39.22, "lon": 112.65}, "photos": []string{"p.jpg"}}
		if r := e.do(t, "POST", "/v1/muck/violations", police, dump); r.status != 400 || fieldOf(r) != "location" {
			t.Fatalf("dumping inside the disposal site = %d %v", r.status, r.body)
		}
		// The fleet sees its trucks' violations; another fleet does not.
		if b := e.must(t, 200, "GET", "/v1/muck/violations", f1, nil); len(b["items"].([]any)) != 2 {
			t.Fatalf("f1 violations = %v", b)
		}
		e.must(t, 404, "GET", "/v1/muck/violations/vio-1", f2, nil)
	})

	t.Run("site report", func(t *testing.T) {
		e.must(t, 403, "GET", "/v1/muck/reports/sites", f1, nil)
		b := e.must(t, 200, "GET", "/v1/muck/reports/sites", zj, nil)
		sites := b["sites"].([]any)
		if len(sites) != 1 || b["total"].(float64) != 2 {
			t.Fatalf("site report = %v", b)
		}
		row := sites[0].(map[string]any)
		byKind := row["by_kind"].(map[string]any)
		if row["site_id"] != "cs-shuocheng-01" || row["developer"] != "朔州置业有限公司" || byKind["leaky_cover"].(float64) != 1 || byKind["muddy_wheels"].(float64) != 1 {
			t.Fatalf("site row = %v", row)
		}
		day := now.In(time.FixedZone("CST", 8*3600)).AddDate(0, 0, -40).Format(time.DateOnly)
		if b := e.must(t, 200, "GET", "/v1/muck/reports/sites?from="+day+"&to="+day, bureau, nil); b["total"].(float64) != 0 {
			t.Fatalf("report of a quiet day = %v", b)
		}
		if r := e.do(t, "GET", "/v1/muck/reports/sites?from=2026-02-30", bureau, nil); r.status != 400 || fieldOf(r) != "from" {
			t.Fatalf("bad from = %d %v", r.status, r.body)
		}
	})

	t.Run("status of a plate the service does not know is a clean answer", func(t *testing.T) {
		b := e.must(t, 200, "GET", "/v1/muck/status?plate="+url.QueryEscape("晋F99999")+"&colour=yellow", system, nil)
		if b["permit_state"] != "none" || len(b["permits"].([]any)) != 0 || b["plate"] != "晋F99999" {
			t.Fatalf("unknown plate = %v", b)
		}
		if _, ok := e.cached(t, "晋F99999", vehicleid.Yellow); !ok {
			t.Fatal("the status read did not write the summary")
		}
		e.must(t, 403, "GET", "/v1/muck/status?plate="+url.QueryEscape("晋F99999")+"&colour=yellow", f1, nil)
		if r := e.do(t, "GET", "/v1/muck/status?plate="+url.QueryEscape("晋F99999")+"&colour=pink", police, nil); r.status != 400 || fieldOf(r) != "colour" {
			t.Fatalf("bad colour = %d %v", r.status, r.body)
		}
	})

	t.Run("authorisation matrix", func(t *testing.T) {
		cases := []struct {
			method, path, token string
			want                int
		}{
			{"GET", "/v1/muck/sites", "", 401},
			{"GET", "/v1/muck/sites", "not-a-token", 401},
			{"GET", "/v1/muck/sites", station, 403},
			{"POST", "/v1/muck/sites", police, 403},
			{"POST", "/v1/muck/sites", bureau, 403},
			{"POST", "/v1/muck/permits", zj, 403},
			{"POST", "/v1/muck/permits", police, 403},
			{"GET", "/v1/muck/permits", station, 403},
			{"GET", "/v1/muck/permits/f1:pmt-ev-1", system, 403},
			{"POST", "/v1/muck/passes", bureau, 403},
			{"POST", "/v1/muck/passes/pass-1/cancel", zj, 403},
			{"GET", "/v1/muck/passes", station, 403},
			{"POST", "/v1/muck/violations", system, 403},
			{"GET", "/v1/muck/violations", system, 403},
			{"GET", "/v1/muck/reports/sites", police, 403},
			{"GET", "/v1/muck/status?plate=x&colour=yellow", zj, 403},
			{"GET", "/v1/muck/permits/f1:pmt-ev-1", police, 200},
			{"GET", "/v1/muck/violations/vio-1", zj, 200},
			{"GET", "/v1/muck/disclosure?month=2026-11", zj, 403},
			{"GET", "/v1/muck/disclosure?month=2026-11", f1, 403},
			{"GET", "/v1/muck/disclosure?month=2026-11", bureau, 200},
			{"GET", "/v1/muck/disclosure?month=2026-11", system, 200},
			{"GET", "/v1/muck/disclosure?month=2026-13", bureau, 400},
		}
		for _, tc := range cases {
			r := e.do(t, tc.method, tc.path, tc.token, map[string]any{})
			if tc.method == "GET" {
				r = e.do(t, tc.method, tc.path, tc.token, nil)
			}
			if r.status != tc.want {
				t.Errorf("%s %s as %q = %d, want %d", tc.method, tc.path, tc.token, r.status, tc.want)
			}
			if r.status >= 400 && r.ctype != "application/problem+json" {
				t.Errorf("%s %s: content type %q", tc.method, tc.path, r.ctype)
			}
		}
	})

	t.Run("bad input is refused, names the field, and writes nothing", func(t *testing.T) {
		colls := []string{"muck_sites", "muck_permits", "muck_passes", "muck_violations"}
		before := map[string]int64{}
		for _, c := range colls {
			before[c] = count(t, e.db, c)
		}
		with := func(m map[string]any, k string, v any) map[string]any {
			out := map[string]any{}
			for kk, vv := range m {
				out[kk] = vv
			}
			if v == nil {
				delete(out, k)
			} else {
				out[k] = v
			}
			return out
		}
		site := with(constructionSite(), "site_id", "cs-new")
		app := application("pmt-new", vinEV, now)
		ps := pass("pass-new", "f1:pmt-diesel-1")
		vio := map[string]any{"kind": "leaky_cover", "vin": vinEV, "observed_at": now.Format(time.RFC3339),
			"location": map[string]any{"lat": 39.3, "lon": 112.5}, "photos": []string{"p.jpg"}}
		cases := []struct {
			name, path, token string
			body              any
			wantField         string
		}{
			{"site: malformed JSON", "/v1/muck/sites", zj, `{"site_id": `, "body"},
			{"site: unknown field", "/v1/muck/sites", zj, with(site, "owner", "x"), "owner"},
			{"site: open ring", "/v1/muck/sites", zj, with(site, "area", raw(`{"type":"Polygon","coordinates":[[[112.4,39.3],[112.5,39.3],[112.5,39.4],[112.4,39.4]]]}`)), "area.coordinates[0]"},
			{"site: longitude out of range", "/v1/muck/sites", zj, with(site, "area", raw(`{"type":"Polygon","coordinates":[[[212.4,39.3],[112.5,39.3],[112.5,39.4],[212.4,39.3]]]}`)), "area.coordinates[0][0]"},
			{"site: no area", "/v1/muck/sites", zj, with(site, "area", nil), "area"},
			{"site: bad kind", "/v1/muck/sites", zj, with(site, "kind", "quarry"), "kind"},
			{"site: impossible date", "/v1/muck/sites", zj, with(site, "period_to", "2027-02-30"), "period_to"},
			{"site: bad id", "/v1/muck/sites", zj, with(site, "site_id", "a b"), "site_id"},
			{"permit: bad VIN", "/v1/muck/permits", f1, with(app, "vin", "LZZ1CLVB0N0000005"), "vin"},
			{"permit: unknown site", "/v1/muck/permits", f1, with(app, "from_site", "nowhere"), "from_site"},
			{"permit: disposal site as origin", "/v1/muck/permits", f1, with(app, "from_site", "ds-north-01"), "from_site"},
			{"permit: bad time", "/v1/muck/permits", f1, with(app, "valid_from", "tomorrow"), "valid_from"},
			{"permit: ends before it starts", "/v1/muck/permits", f1, with(app, "valid_to", now.AddDate(0, 0, -2).Format(time.RFC3339)), "valid_to"},
			{"permit: too long", "/v1/muck/permits", f1, with(app, "valid_to", now.AddDate(2, 0, 0).Format(time.RFC3339)), "valid_to"},
			{"permit: wrong type", "/v1/muck/permits", f1, with(app, "gps", "yes"), "gps"},
			{"pass: bad hours", "/v1/muck/passes", police, with(ps, "hours", map[string]any{"from": "22:00", "to": "25:00"}), "hours.to"},
			{"pass: no hours", "/v1/muck/passes", police, with(ps, "hours", nil), "hours"},
			{"pass: bad zone", "/v1/muck/passes", police, with(ps, "zone", raw(`{"type":"LineString","coordinates":[[1,2],[3,4]]}`)), "zone.type"},
			{"pass: unknown permit", "/v1/muck/passes", police, with(ps, "permit_id", "nope"), "permit_id"},
			{"violation: bad kind", "/v1/muck/violations", police, with(vio, "kind", "speeding"), "kind"},
			{"violation: no photos", "/v1/muck/violations", police, with(vio, "photos", []string{}), "photos"},
			{"violation: no location", "/v1/muck/violations", police, with(vio, "location", nil), "location"},
			{"violation: latitude missing", "/v1/muck/violations", police, with(vio, "location", map[string]any{"lon": 112.5}), "location.lat"},
			{"violation: in the future", "/v1/muck/violations", police, with(vio, "observed_at", now.Add(time.Hour).Format(time.RFC3339)), "observed_at"},
			{"violation: no truck", "/v1/muck/violations", police, with(vio, "vin", nil), "vin"},
			{"violation: plate without colour", "/v1/muck/violations", police, with(with(vio, "vin", nil), "plate", "晋FD12345"), "plate_colour"},
			{"violation: disposal site as origin", "/v1/muck/violations", police, with(vio, "from_site", "ds-north-01"), "from_site"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(t, "POST", tc.path, tc.token, tc.body)
				if r.status != 400 || fieldOf(r) != tc.wantField {
					t.Fatalf("POST %s = %d field %q (%v), want 400 field %q", tc.path, r.status, fieldOf(r), r.body, tc.wantField)
				}
				if r.ctype != "application/problem+json" || r.body["type"] == nil || r.body["title"] == nil {
					t.Fatalf("not a problem document: %s %v", r.ctype, r.body)
				}
			})
		}
		for _, c := range colls {
			if n := count(t, e.db, c); n != before[c] {
				t.Fatalf("%s has %d documents after bad input, want %d", c, n, before[c])
			}
		}
	})

	t.Run("cancelling a pass", func(t *testing.T) {
		e.must(t, 400, "POST", "/v1/muck/passes/pass-1/cancel", police, map[string]any{"reason": " "})
		b := e.must(t, 200, "POST", "/v1/muck/passes/pass-1/cancel", police, map[string]any{"reason": "road closed for works"})
		if b["state"] != "cancelled" {
			t.Fatalf("cancelled pass = %v", b)
		}
		e.must(t, 409, "POST", "/v1/muck/passes/pass-1/cancel", police, map[string]any{"reason": "again"})
		if m, _ := e.cached(t, "晋FD12345", vehicleid.YellowGreen); len(m.Passes) != 0 {
			t.Fatalf("summary still lists the cancelled pass: %+v", m.Passes)
		}
	})

	t.Run("with Redis up every write clears its own outbox records", func(t *testing.T) {
		// Only domain events (approvals, violations, passes) are left, for the runner.
		for _, c := range []string{"muck_permits", "muck_passes", "muck_violations"} {
			n, err := e.db.Collection(c).CountDocuments(context.Background(), bson.D{{Key: outbox.FieldDue, Value: bson.D{{Key: "$exists", Value: true}}},
				{Key: outbox.FieldEvents, Value: bson.D{{Key: "$exists", Value: false}}}})
			if err != nil || n != 0 {
				t.Fatalf("%s: %d records with outbox part records left (%v), want 0", c, n, err)
			}
		}
		if _, err := e.svc.Republish(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"muck_permits", "muck_passes", "muck_violations"} {
			n, err := e.db.Collection(c).CountDocuments(context.Background(), bson.D{{Key: outbox.FieldDue, Value: bson.D{{Key: "$exists", Value: true}}}})
			if err != nil || n != 0 {
				t.Fatalf("%s: %d records with outbox records left after the runner (%v), want 0", c, n, err)
			}
		}
		for _, typ := range []events.Type{events.MuckPermitApproved, events.MuckPassIssued, events.MuckPassCancelled, events.MuckViolation} {
			if n, _ := e.db.Collection(events.Collection).CountDocuments(context.Background(), bson.D{{Key: "type", Value: string(typ)}}); n == 0 {
				t.Errorf("no %s event stored", typ)
			}
		}
	})
}

func jsonNum(f float64) string { b, _ := json.Marshal(f); return string(b) }

// TestExpiryAndRepublish: permits past their validity are marked expired by the sweep, with a
// history entry, and the summary follows; a Redis flush is rebuilt by the resync.
func TestExpiryAndRepublish(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	seedRegistry(t, rdb, prefix)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix, "")
	zj, f1 := e.token(t, auth.Construction, "zjj"), e.token(t, auth.Fleet, "f1")
	now := time.Now()
	e.must(t, 201, "POST", "/v1/muck/sites", zj, constructionSite())
	e.must(t, 201, "POST", "/v1/muck/sites", zj, disposalSite())
	e.must(t, 201, "POST", "/v1/muck/permits", f1, application("pmt-1", vinEV, now))
	e.must(t, 200, "POST", "/v1/muck/permits/f1:pmt-1/approve", zj, nil)
	// A plate nothing else touches: only the resync can bring its entry back.
	e.must(t, 201, "POST", "/v1/muck/permits", f1, application("pmt-2", vinNewD, now))
	e.clock.advance(31 * 24 * time.Hour)
	if b := e.must(t, 200, "GET", "/v1/muck/permits/f1:pmt-1", zj, nil); b["state"] != "expired" {
		t.Fatalf("state read after the validity = %v, want expired before any sweep", b["state"])
	}
	e.must(t, 409, "POST", "/v1/muck/permits/f1:pmt-1/suspend", zj, map[string]any{"reason": "x"})
	// Redis loses its data; the service's background work rebuilds it and sweeps.
	ctx := context.Background()
	evKey := summary.Key(prefix, vehicleid.Key("晋FD12345", vehicleid.YellowGreen), summary.Muck)
	dieselKey := summary.Key(prefix, vehicleid.Key("晋F56789", vehicleid.Yellow), summary.Muck)
	if err := rdb.Del(ctx, evKey, dieselKey, prefix+"muck:synced").Err(); err != nil {
		t.Fatal(err)
	}
	stop := e.run(t)
	defer stop()
	e.eventually(t, "the sweep's expiry and the rebuilt summaries", func() bool {
		b := e.must(t, 200, "GET", "/v1/muck/permits/f1:pmt-1", zj, nil)
		hist := b["history"].([]any)
		last := hist[len(hist)-1].(map[string]any)
		ev, okEV := e.cached(t, "晋FD12345", vehicleid.YellowGreen)
		d, okD := e.cached(t, "晋F56789", vehicleid.Yellow)
		return last["action"] == "expire" && last["by"] == "service:muck" && last["role"] == "system" && b["state"] == "expired" &&
			okEV && ev.PermitState == "expired" && okD && d.PermitState == "refused"
	})
}

// run starts the service's background work; the returned func stops it.
func (e *env) run(t *testing.T) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); e.svc.Run(ctx) }()
	return func() { cancel(); wg.Wait() }
}

// eventually polls cond for up to 10 s.
func (e *env) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInterruptedRevocation: a violation whose automatic revocation did not finish (a crash
// between the insert and the revocation) is finished by the background work, once: a permit the
// bureau reinstated after this violation's revocation stays reinstated.
func TestInterruptedRevocation(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	seedRegistry(t, rdb, prefix)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix, "")
	zj, f1, police, bureau := e.token(t, auth.Construction, "zjj"), e.token(t, auth.Fleet, "f1"), e.token(t, auth.Police, ""), e.token(t, auth.Bureau, "")
	now := time.Now()
	e.must(t, 201, "POST", "/v1/muck/sites", zj, constructionSite())
	e.must(t, 201, "POST", "/v1/muck/sites", zj, disposalSite())
	e.must(t, 201, "POST", "/v1/muck/permits", f1, application("pmt-ev", vinEV, now))
	e.must(t, 200, "POST", "/v1/muck/permits/f1:pmt-ev/approve", zj, nil)
	e.must(t, 201, "POST", "/v1/muck/permits", f1, application("pmt-old", vinOldD, now))
	e.must(t, 200, "POST", "/v1/muck/permits/f1:pmt-old/approve", zj, nil)
	vio := func(id, kind, vin string) map[string]any {
		return map[string]any{"violation_id": id, "kind": kind, "vin": vin, "observed_at": now.Add(-time.Minute).Format(time.RFC3339),
			"location": map[string]any{"lat": 39.33, "lon": 112.52}, "photos": []string{"p.jpg"}}
	}
	// Revoked, then reinstated on appeal.
	e.must(t, 201, "POST", "/v1/muck/violations", police, vio("vio-a", "leaky_cover", vinEV))
	e.must(t, 200, "POST", "/v1/muck/permits/f1:pmt-ev/reinstate", bureau, map[string]any{"reason": "photo shows another truck"})
	// A non-revoking violation of the other truck.
	e.must(t, 201, "POST", "/v1/muck/violations", police, vio("vio-b", "muddy_wheels", vinOldD))
	// The crash: both look as if their revocation had not finished.
	coll := e.db.Collection("muck_violations")
	if _, err := coll.UpdateMany(context.Background(), bson.D{}, bson.D{{Key: "$set", Value: bson.D{{Key: "revoke_pending", Value: true}}}}); err != nil {
		t.Fatal(err)
	}
	stop := e.run(t)
	defer stop()
	e.eventually(t, "both revocations finished", func() bool {
		n, _ := coll.CountDocuments(context.Background(), bson.D{{Key: "revoke_pending", Value: true}})
		return n == 0
	})
	if b := e.must(t, 200, "GET", "/v1/muck/permits/f1:pmt-ev", zj, nil); b["state"] != "approved" {
		t.Fatalf("reinstated permit = %v, want still approved", b["state"])
	}
	b := e.must(t, 200, "GET", "/v1/muck/permits/f1:pmt-old", zj, nil)
	hist := b["history"].([]any)
	if last := hist[len(hist)-1].(map[string]any); b["state"] != "revoked" || last["violation_id"] != "vio-b" {
		t.Fatalf("permit of the truck whose revocation was interrupted = %v %v", b["state"], last)
	}
	e.eventually(t, "the summary shows the revocation", func() bool {
		m, ok := e.cached(t, "晋F45678", vehicleid.Yellow)
		return ok && m.PermitState == "revoked"
	})
}

// TestRedisDown: with Redis unreachable, writes still succeed (the registry answers over HTTP),
// and once Redis is back the stale summaries are republished.
func TestRedisDown(t *testing.T) {
	db := testenv.Mongo(t)
	live, prefix := testenv.Redis(t)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	reg := fakeRegistry(t)
	down := newEnv(t, db, dead, prefix, reg.URL)
	zj, f1 := down.token(t, auth.Construction, "zjj"), down.token(t, auth.Fleet, "f1")
	now := time.Now()
	down.must(t, 201, "POST", "/v1/muck/sites", zj, constructionSite())
	down.must(t, 201, "POST", "/v1/muck/sites", zj, disposalSite())
	if b := down.must(t, 201, "POST", "/v1/muck/permits", f1, application("pmt-1", vinEV, now)); b["state"] != "pending" {
		t.Fatalf("application with Redis down = %v", b)
	}
	down.must(t, 200, "POST", "/v1/muck/permits/f1:pmt-1/approve", zj, nil)
	key := summary.Key(prefix, vehicleid.Key("晋FD12345", vehicleid.YellowGreen), summary.Muck)
	if n, _ := live.Exists(context.Background(), key).Result(); n != 0 {
		t.Fatal("summary present although Redis was down")
	}
	if n, _ := db.Collection("muck_permits").CountDocuments(context.Background(), bson.D{{Key: outbox.FieldDue, Value: bson.D{{Key: "$exists", Value: true}}}}); n != 1 {
		t.Fatalf("permits with outbox records due = %d, want 1", n)
	}
	up := newEnv(t, db, live, prefix, reg.URL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { up.svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m, ok := up.cached(t, "晋FD12345", vehicleid.YellowGreen); ok && m.PermitState == "approved" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("summary not republished within 10 s after Redis came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The outbox record is settled just after the part is written: wait for it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n, _ := db.Collection("muck_permits").CountDocuments(context.Background(), bson.D{{Key: outbox.FieldDue, Value: bson.D{{Key: "$exists", Value: true}}}})
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("permits with outbox records due after republish = %d, want 0", n)
		}
	}
}

// TestDemoSeed applies seeds/demo/50-muck.json twice through the API, on the clock of the day
// it was written for, against the demo registry's trucks.
func TestDemoSeed(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	var demo []summary.Vehicle
	for _, v := range trucks()[:3] {
		v.FleetID = "fleet-shuozhou-logistics"
		demo = append(demo, v)
	}
	seedRegistry(t, rdb, prefix, demo...)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix, "")
	e.clock.advance(time.Until(time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)))
	files, err := seeds.Demo()
	if err != nil {
		t.Fatal(err)
	}
	var f seeds.File
	for _, d := range files {
		if d.Name == "demo/50-muck.json" {
			f = d
		}
	}
	if len(f.Steps) == 0 {
		t.Fatal("seeds/demo/50-muck.json is missing or empty")
	}
	for i := 0; i < 2; i++ {
		if _, err := seeds.Apply(context.Background(), e.Engine, e.Keys, f); err != nil {
			t.Fatalf("apply %d: %v", i+1, err)
		}
	}
	bureau := e.token(t, auth.Bureau, "")
	for id, want := range map[string]string{"fleet-shuozhou-logistics:pmt-demo-fd12345": "approved", "fleet-shuozhou-logistics:pmt-demo-f56789": "refused", "fleet-shuozhou-logistics:pmt-demo-f45678": "revoked"} {
		if b := e.must(t, 200, "GET", "/v1/muck/permits/"+id, bureau, nil); b["state"] != want {
			t.Errorf("demo permit %s = %v, want %s", id, b["state"], want)
		}
	}
	rep := e.must(t, 200, "GET", "/v1/muck/reports/sites?from=2026-11-01&to=2026-11-30", bureau, nil)
	if rep["total"].(float64) != 2 || rep["sites"].([]any)[0].(map[string]any)["site_id"] != "cs-kaifa-utility-tunnel" {
		t.Fatalf("demo site report = %v", rep)
	}
}

// TestRequireClean: with the bureau's clean-record check on, an open remote-sensing case (read
// from the remote-sensing service's part in Redis) refuses the application and its approval.
func TestRequireClean(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	seedRegistry(t, rdb, prefix)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix, "", func(c *muck.Config) {
		c.RequireClean = true
		c.Owners = map[summary.Part]string{summary.RemoteSensing: "http://127.0.0.1:1", summary.OBD: "http://127.0.0.1:1"}
	})
	zj, f1 := e.token(t, auth.Construction, "zjj"), e.token(t, auth.Fleet, "f1")
	now := time.Now()
	e.must(t, 201, "POST", "/v1/muck/sites", zj, constructionSite())
	e.must(t, 201, "POST", "/v1/muck/sites", zj, disposalSite())
	// No remote-sensing or OBD part in Redis and their owners unreachable: the record is
	// unknown, not clean (this passed as clean before).
	if r := e.do(t, "POST", "/v1/muck/permits", f1, application("pmt-1", vinEV, now)); r.status != 503 {
		t.Fatalf("application with the record unknown = %d %v, want 503", r.status, r.body)
	}
	plate := vehicleid.Key("晋FD12345", vehicleid.YellowGreen)
	for p, data := range map[summary.Part]any{summary.RemoteSensing: summary.RemoteSensingStatus{OpenCases: []summary.RemoteSensingCase{}},
		summary.OBD: summary.Truck{OpenAlarms: []summary.OBDAlarm{}}} {
		b, _ := summary.Encode(p, time.Now(), data)
		rdb.Set(context.Background(), summary.Key(prefix, plate, p), b, time.Minute)
	}
	if b := e.must(t, 201, "POST", "/v1/muck/permits", f1, application("pmt-1", vinEV, now)); b["state"] != "pending" {
		t.Fatalf("clean truck = %v", b)
	}
	part, _ := summary.Encode(summary.RemoteSensing, time.Now(), summary.RemoteSensingStatus{OpenCases: []summary.RemoteSensingCase{{ID: "rsc-1", Pollutant: "opacity", State: "notified"}}})
	rdb.Set(context.Background(), summary.Key(prefix, vehicleid.Key("晋FD12345", vehicleid.YellowGreen), summary.RemoteSensing), part, time.Minute)
	if r := e.do(t, "POST", "/v1/muck/permits/f1:pmt-1/approve", zj, nil); r.status != 409 {
		t.Fatalf("approval with an open case = %d %v, want 409", r.status, r.body)
	}
	b := e.must(t, 201, "POST", "/v1/muck/permits", f1, application("pmt-2", vinEV, now))
	if got := reasonCodes(b); b["state"] != "refused" || len(got) != 1 || got[0] != "open_remote_sensing_case" {
		t.Fatalf("application with an open case = %v %v", b["state"], got)
	}
}

// TestPermitsAreDecidedByTheSiteAuthority: a construction bureau tenant approved a permit for a
// truck hauling from another tenant's site (200). A permit is decided only by the bureau whose
// construction site the loads come from; every construction bureau still reads every permit.
func TestPermitsAreDecidedByTheSiteAuthority(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	seedRegistry(t, rdb, prefix)
	e := newEnv(t, testenv.Mongo(t), rdb, prefix, "")
	now := time.Now()
	shuocheng, pinglu := e.token(t, auth.Construction, "zjj-shuocheng"), e.token(t, auth.Construction, "zjj-pinglu")
	f1 := e.token(t, auth.Fleet, "f1")
	e.must(t, 201, "POST", "/v1/muck/sites", shuocheng, constructionSite())
	e.must(t, 201, "POST", "/v1/muck/sites", shuocheng, disposalSite())
	other := constructionSite()
	other["site_id"], other["name"] = "cs-pinglu-01", "平鲁区安置房项目"
	e.must(t, 201, "POST", "/v1/muck/sites", pinglu, other)

	e.must(t, 201, "POST", "/v1/muck/permits", f1, application("pmt-a", vinEV, now))
	fromPinglu := application("pmt-b", vinOldD, now)
	fromPinglu["from_site"] = "cs-pinglu-01"
	e.must(t, 201, "POST", "/v1/muck/permits", f1, fromPinglu)
	a, b := "/v1/muck/permits/f1:pmt-a", "/v1/muck/permits/f1:pmt-b"

	cases := []struct {
		name, method, path, token string
		body                      any
		want                      int
	}{
		{"the other bureau reads the permit", "GET", a, pinglu, nil, 200},
		{"the other bureau may not approve", "POST", a + "/approve", pinglu, nil, 403},
		{"the other bureau may not refuse", "POST", a + "/refuse", pinglu, map[string]any{"reason": "x"}, 403},
		{"nor approve the other way round", "POST", b + "/approve", shuocheng, nil, 403},
		{"the site's bureau approves", "POST", a + "/approve", shuocheng, nil, 200},
		{"the other site's bureau approves its own", "POST", b + "/approve", pinglu, nil, 200},
		{"the other bureau may not suspend", "POST", a + "/suspend", pinglu, map[string]any{"reason": "x"}, 403},
		{"the other bureau may not revoke", "POST", a + "/revoke", pinglu, map[string]any{"reason": "x"}, 403},
		{"the site's bureau suspends", "POST", a + "/suspend", shuocheng, map[string]any{"reason": "dust-control review"}, 200},
		{"the other bureau may not resume", "POST", a + "/resume", pinglu, nil, 403},
		{"the site's bureau resumes", "POST", a + "/resume", shuocheng, nil, 200},
		{"the site's bureau revokes", "POST", b + "/revoke", pinglu, map[string]any{"reason": "cover found open"}, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.do(t, tc.method, tc.path, tc.token, tc.body); r.status != tc.want {
				t.Fatalf("%s %s = %d %v, want %d", tc.method, tc.path, r.status, r.body, tc.want)
			}
		})
	}
	if got := e.must(t, 200, "GET", a, shuocheng, nil); got["state"] != "approved" {
		t.Fatalf("permit a = %v, want approved", got["state"])
	}
}
