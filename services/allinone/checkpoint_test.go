package allinone_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/telemetry"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/seeds"
	"github.com/clearsky/clearsky/services/allinone"
	"github.com/clearsky/clearsky/services/checkpoint"
	"github.com/clearsky/clearsky/services/muck"
	"github.com/clearsky/clearsky/services/registry"
)

// stack is every service in one engine over real FerretDB and Redis, with the demo data.
type stack struct {
	srv    *httptest.Server
	engine http.Handler
	keys   *auth.Keys
	deps   platform.Deps
}

func newDeps(t testing.TB, name string, exp *tracetest.InMemoryExporter) platform.Deps {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	d := testenv.Platform(t, name, testenv.Mongo(t), rdb, prefix)
	if exp != nil {
		tel, err := telemetry.Setup(context.Background(), telemetry.Options{ServiceName: name, Exporter: exp})
		if err != nil {
			t.Fatal(err)
		}
		d.Telemetry = tel
	}
	return d
}

func newStack(t testing.TB) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	deps := newDeps(t, "allinone", nil)
	engine, svcs, err := allinone.Build(ctx, allinone.Config{OBDAddr: "127.0.0.1:0", Getenv: func(string) string { return "" }}, deps)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = platform.Serve(ctx, "127.0.0.1:0", engine, deps.Logger, svcs...); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	files, err := seeds.Demo()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := seeds.Apply(ctx, engine, deps.Keys, f); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	return &stack{srv: srv, engine: engine, keys: deps.Keys, deps: deps}
}

func (s *stack) token(role auth.Role, tenant, subject string) string {
	tok, _ := s.keys.Issue(auth.Principal{Role: role, Tenant: tenant, Subject: subject}, time.Now(), time.Hour)
	return tok
}

func call(t *testing.T, base, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func lookup(t *testing.T, base, token, plate, colour string) (int, map[string]any) {
	t.Helper()
	return call(t, base, "GET", "/v1/checkpoint/"+url.PathEscape(plate)+"?colour="+colour, token, nil)
}

func codes(body map[string]any) []string {
	var out []string
	rs, _ := body["reasons"].([]any)
	for _, r := range rs {
		out = append(out, r.(map[string]any)["code"].(string))
	}
	return out
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestCheckpointVerdicts(t *testing.T) {
	s := newStack(t)
	police := s.token(auth.Police, "", "officer-7")
	cases := []struct {
		name, plate, colour string
		want                string
		code                string
	}{
		{"clean truck", "晋F23456", "yellow", "pass", ""},
		{"void plate", "晋F89012", "yellow", "stop", "plate_void"},
		{"scrapped car", "晋F6B666", "blue", "stop", "scrapped"},
		{"unknown plate", "晋F00000", "yellow", "inspect", "unknown_vehicle"},
		{"China III truck past its phase-out", "晋F34567", "yellow", "inspect", "phase_out_overdue"},
		{"muck truck on a valid permit", "晋FD12345", "yellow_green", "pass", ""},
		{"muck truck whose permit was revoked", "晋F45678", "yellow", "stop", "muck_no_valid_permit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := lookup(t, s.srv.URL, police, tc.plate, tc.colour)
			if code != 200 || body["verdict"] != tc.want || (tc.code != "" && !has(codes(body), tc.code)) {
				t.Fatalf("lookup %s = %d %v %v, want %s with %s", tc.plate, code, body["verdict"], codes(body), tc.want, tc.code)
			}
			for _, r := range body["reasons"].([]any) {
				if r.(map[string]any)["source"] == "" {
					t.Fatalf("reason without source: %v", r)
				}
			}
			if len(body["parts"].([]any)) != 4 {
				t.Fatalf("parts = %v, want all four with their freshness", body["parts"])
			}
		})
	}
	if code, body := lookup(t, s.srv.URL, police, "not-a-plate", "yellow"); code != 400 || body["errors"] == nil {
		t.Fatalf("bad plate = %d %v", code, body)
	}
	for _, role := range []auth.Role{auth.Fleet, auth.Station, auth.Construction} {
		if code, _ := lookup(t, s.srv.URL, s.token(role, "x", ""), "晋F23456", "yellow"); code != 403 {
			t.Fatalf("%s lookup = %d, want 403", role, code)
		}
	}
	// Every lookup is audited: the officer sees their own.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body := call(t, s.srv.URL, "GET", "/v1/lookups/mine?limit=50", police, nil)
		items, _ := body["items"].([]any)
		if len(items) >= len(cases) {
			first := items[0].(map[string]any)
			if first["verdict"] == nil || first["plate"] == nil {
				t.Fatalf("lookup record = %v", first)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audited lookups = %d, want %d", len(items), len(cases))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCheckpointCoherence: when an owner changes a vehicle's state, the checkpoint's next
// answer reflects it — for the registry, the OBD service, the muck service and the alerts.
func TestCheckpointCoherence(t *testing.T) {
	s := newStack(t)
	police := s.token(auth.Police, "", "officer-8")
	bureau := s.token(auth.Bureau, "", "")
	expect := func(t *testing.T, plate, colour, want, code string) {
		t.Helper()
		_, body := lookup(t, s.srv.URL, police, plate, colour)
		if body["verdict"] != want || (code != "" && !has(codes(body), code)) {
			t.Fatalf("%s: verdict %v %v, want %s with %s", plate, body["verdict"], codes(body), want, code)
		}
	}
	expect(t, "晋F23456", "yellow", "pass", "")

	t.Run("registry: a vehicle is scrapped", func(t *testing.T) {
		if code, b := call(t, s.srv.URL, "PATCH", "/v1/vehicles/LZZ1CLVB4N0000002", police, map[string]any{"status": "scrapped", "status_reason": "dismantled"}); code != 200 {
			t.Fatalf("scrap = %d %v", code, b)
		}
		expect(t, "晋F23456", "yellow", "stop", "scrapped")
	})
	t.Run("obd: the reagent runs empty", func(t *testing.T) {
		expect(t, "晋F12345", "yellow", "pass", "")
		fleet := s.token(auth.Fleet, "fleet-shuozhou-logistics", "")
		at := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
		sample := map[string]any{"vin": "LZZ1CLVB2N0000001", "at": at.Format(time.RFC3339), "speed_kmh": 40, "engine_speed_rpm": 1100, "reagent_pct": 0}
		if code, b := call(t, s.srv.URL, "POST", "/v1/obd/samples", fleet, map[string]any{"samples": []any{sample}}); code != 200 {
			t.Fatalf("upload = %d %v", code, b)
		}
		expect(t, "晋F12345", "yellow", "inspect", "obd_reagent_empty")
	})
	t.Run("muck: the permit is revoked", func(t *testing.T) {
		expect(t, "晋FD12345", "yellow_green", "pass", "")
		zjj := s.token(auth.Construction, "zjj-shuocheng", "")
		if code, b := call(t, s.srv.URL, "POST", "/v1/muck/permits/fleet-shuozhou-logistics:pmt-demo-fd12345/revoke", zjj, map[string]any{"reason": "cover found open"}); code != 200 {
			t.Fatalf("revoke = %d %v", code, b)
		}
		expect(t, "晋FD12345", "yellow_green", "stop", "muck_no_valid_permit")
	})
	t.Run("remote sensing: a second exceedance opens a case", func(t *testing.T) {
		expect(t, "晋F78901", "yellow", "pass", "")
		sensor := s.token(auth.Sensor, "op-shuozhou-rs", "")
		for i := 0; i < 2; i++ {
			at := time.Now().Add(time.Duration(i-3) * time.Hour).Format(time.RFC3339)
			reading := map[string]any{"reading_id": fmt.Sprintf("coherence-%d", i), "station_id": "RS-SZ-01", "plate": "晋F78901", "plate_colour": "yellow",
				"measured_at": at, "speed_kmh": 40, "accel_ms2": 0.3, "wind_ms": 1, "rain": false, "fog": false, "opacity_pct": 55, "no_ppm": 300, "ringelmann": 0}
			if code, b := call(t, s.srv.URL, "POST", "/v1/remote-sensing/measurements", sensor, []any{reading}); code != 200 {
				t.Fatalf("upload = %d %v", code, b)
			}
		}
		expect(t, "晋F78901", "yellow", "inspect", "open_remote_sensing_case")
	})
	t.Run("alerts: a red alert bars China V-and-below heavy diesel", func(t *testing.T) {
		expect(t, "晋F45678", "yellow", "stop", "muck_no_valid_permit")
		expect(t, "晋F67890", "yellow", "pass", "")
		now := time.Now().UTC()
		code, b := call(t, s.srv.URL, "POST", "/v1/alerts", bureau, map[string]any{"level": "red", "starts_at": now.Add(-time.Minute).Format(time.RFC3339),
			"ends_at": now.Add(time.Hour).Format(time.RFC3339), "reason": "PM2.5 forecast above 300"})
		if code != 201 || b["level"] != "red" || len(b["restrictions"].([]any)) == 0 {
			t.Fatalf("declare = %d %v", code, b)
		}
		expect(t, "晋F67890", "yellow", "stop", "restricted_by_alert")
		expect(t, "晋F23456", "yellow", "stop", "scrapped") // scrapped above; unchanged by the alert
		if code, b := call(t, s.srv.URL, "POST", "/v1/alerts/"+b["alert_id"].(string)+"/end", bureau, nil); code != 200 {
			t.Fatalf("end = %d %v", code, b)
		}
		expect(t, "晋F67890", "yellow", "pass", "")
		if code, b := call(t, s.srv.URL, "POST", "/v1/alerts", bureau, map[string]any{"level": "purple"}); code != 400 || b["errors"] == nil {
			t.Fatalf("bad alert = %d %v", code, b)
		}
		if code, _ := call(t, s.srv.URL, "POST", "/v1/alerts", police, map[string]any{"level": "red"}); code != 403 {
			t.Fatalf("police declaring = %d", code)
		}
	})
}

// TestCheckpointFallbackAndTrace: with nothing in Redis, the checkpoint asks the owners over
// HTTP; one lookup then yields one trace with spans from the checkpoint, the registry and the
// muck service; an owner that is down makes its part unknown (inspect), never clean; the rate
// limit answers 429.
func TestCheckpointFallbackAndTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serve := func(name string, build func(platform.Deps) (platform.Service, error)) (*httptest.Server, platform.Deps) {
		deps := newDeps(t, name, exp)
		svc, err := build(deps)
		if err != nil {
			t.Fatal(err)
		}
		engine := platform.Engine(name, deps)
		svc.Routes(engine)
		srv := httptest.NewServer(engine)
		t.Cleanup(srv.Close)
		return srv, deps
	}
	regSrv, regDeps := serve("registry", func(d platform.Deps) (platform.Service, error) { return registry.New(ctx, registry.Config{}, d) })
	var muckDeps platform.Deps
	muckSrv, muckDeps := serve("muck", func(d platform.Deps) (platform.Service, error) {
		d.Vehicles = platform.NewVehicles("muck", regSrv.URL, nil, d)
		return muck.New(ctx, muck.Config{}, d)
	})
	_ = muckDeps
	cpSrv, cpDeps := serve("checkpoint", func(d platform.Deps) (platform.Service, error) {
		return checkpoint.New(ctx, checkpoint.Config{RatePerMinute: 5, Owners: map[summary.Part]string{
			summary.Registry: regSrv.URL, summary.Muck: muckSrv.URL,
			summary.RemoteSensing: "http://127.0.0.1:1", summary.OBD: "http://127.0.0.1:1"}}, d)
	})
	// Each service has its own Redis prefix here, so the checkpoint finds nothing cached.
	bureauReg := regDeps
	fleetTok, _ := bureauReg.Keys.Issue(auth.Principal{Role: auth.Bureau}, time.Now(), time.Hour)
	vin, _ := vehicleid.WithCheckDigit("LZZ1CLVB0N0000042")
	if code, b := call(t, regSrv.URL, "POST", "/v1/vehicles", fleetTok, map[string]any{"vin": vin, "plate": "晋F42042", "plate_colour": "yellow",
		"fuel_type": "electric", "emission_standard": "VIb", "category": "N3", "use": "operating", "service_class": "muck", "maker": "BYD",
		"registered_on": "2025-01-01", "fleet_id": "f1"}); code != 201 {
		t.Fatalf("register = %d %v", code, b)
	}
	exp.Reset()
	police, _ := cpDeps.Keys.Issue(auth.Principal{Role: auth.Police, Subject: "officer-9"}, time.Now(), time.Hour)
	code, body := lookup(t, cpSrv.URL, police, "晋F42042", "yellow")
	if code != 200 || body["verdict"] != "stop" || !has(codes(body), "part_unknown") || !has(codes(body), "muck_no_valid_permit") {
		t.Fatalf("lookup = %d %v %v; want stop (no permit) with the unreachable remote-sensing part unknown", code, body["verdict"], codes(body))
	}
	states := map[string]string{}
	for _, p := range body["parts"].([]any) {
		pm := p.(map[string]any)
		states[pm["part"].(string)] = pm["state"].(string)
	}
	if states["registry"] != "fetched" || states["muck"] != "fetched" || states["remotesensing"] != "unknown" {
		t.Fatalf("part states = %v", states)
	}
	// One trace, spans from each service.
	var lookupTrace string
	services := map[string]bool{}
	for _, sp := range exp.GetSpans() {
		if sp.Name == "checkpoint.lookup" {
			lookupTrace = sp.SpanContext.TraceID().String()
		}
	}
	for _, sp := range exp.GetSpans() {
		if sp.SpanContext.TraceID().String() != lookupTrace {
			continue
		}
		for _, kv := range sp.Resource.Attributes() {
			if kv.Key == "service.name" {
				services[kv.Value.AsString()] = true
			}
		}
	}
	if lookupTrace == "" || !services["checkpoint"] || !services["registry"] || !services["muck"] {
		t.Fatalf("trace %s has spans from %v; want checkpoint, registry and muck", lookupTrace, services)
	}
	// The answers were written back: the next lookup reads them from Redis.
	_, body = lookup(t, cpSrv.URL, police, "晋F42042", "yellow")
	for _, p := range body["parts"].([]any) {
		pm := p.(map[string]any)
		if (pm["part"] == "registry" || pm["part"] == "muck") && pm["state"] != "cached" {
			t.Fatalf("second lookup part %v, want cached", pm)
		}
	}
	// Rate limit: 5 a minute for this officer.
	got := 0
	for i := 0; i < 6; i++ {
		code, _ = lookup(t, cpSrv.URL, police, "晋F42042", "yellow")
		if code == 429 {
			got++
		}
	}
	if got == 0 {
		t.Fatal("no 429 after the officer's rate was exceeded")
	}
	req, _ := http.NewRequest("GET", cpSrv.URL+"/v1/checkpoint/"+url.PathEscape("晋F42042")+"?colour=yellow", nil)
	req.Header.Set("Authorization", "Bearer "+police)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); res.StatusCode != 429 || err != nil || ra < 1 || ra > 120 {
		t.Fatalf("over the limit: %d with Retry-After %q; want 429 saying when (1 to 120 s: the sliding window weighs the previous minute)", res.StatusCode, res.Header.Get("Retry-After"))
	}
	_ = fmt.Sprintf
}

// TestCheckpointWithoutColour: a lookup without a colour is never answered for a guessed one.
// The plate is looked up under every colour: one registered vehicle is answered for, saying
// which colour was used; none gives the unknown-plate answer; several a 400 naming colour with
// the colours found. A misspelt parameter is refused, not ignored.
func TestCheckpointWithoutColour(t *testing.T) {
	s := newStack(t)
	police := s.token(auth.Police, "", "officer-11")
	get := func(path string) (int, map[string]any) { return call(t, s.srv.URL, "GET", path, police, nil) }
	for _, tc := range []struct{ plate, colour, verdict, code string }{
		{"晋F89012", "yellow", "stop", "plate_void"},
		{"晋FD12345", "yellow_green", "pass", ""},
		{"晋F6B666", "blue", "stop", "scrapped"},
	} {
		code, body := get("/v1/checkpoint/" + url.PathEscape(tc.plate))
		if code != 200 || body["verdict"] != tc.verdict || body["colour"] != tc.colour || body["colour_used"] != tc.colour || (tc.code != "" && !has(codes(body), tc.code)) {
			t.Fatalf("%s without colour = %d %v; want %s under %s, colour_used %s", tc.plate, code, body, tc.verdict, tc.colour, tc.colour)
		}
		// Given, the colour is not echoed as found.
		if _, body := lookup(t, s.srv.URL, police, tc.plate, tc.colour); body["colour_used"] != nil || body["verdict"] != tc.verdict {
			t.Fatalf("%s with colour = %v", tc.plate, body)
		}
	}
	code, body := get("/v1/checkpoint/" + url.PathEscape("晋F00000"))
	if code != 200 || body["verdict"] != "inspect" || !has(codes(body), "unknown_vehicle") || body["colour"] != nil || body["colour_used"] != nil {
		t.Fatalf("unregistered plate without colour = %d %v; want inspect, unknown_vehicle, no colour", code, body)
	}
	// The same characters on a blue plate: two vehicles, the officer must say which.
	fleet := s.token(auth.Fleet, "fleet-shuozhou-logistics", "")
	vin, _ := vehicleid.WithCheckDigit("LZZ1CLVB0N0000777")
	if code, b := call(t, s.srv.URL, "POST", "/v1/vehicles", fleet, map[string]any{"vin": vin, "plate": "晋F89012", "plate_colour": "blue",
		"fuel_type": "gasoline", "emission_standard": "VIb", "category": "M1", "use": "non_operating", "service_class": "other",
		"maker": "Geely", "registered_on": "2025-01-01", "gross_mass_kg": 1500}); code != 201 {
		t.Fatalf("register the blue 晋F89012 = %d %v", code, b)
	}
	code, body = get("/v1/checkpoint/" + url.PathEscape("晋F89012"))
	if code != 400 || fieldOf(body) != "colour" || !strings.Contains(fmt.Sprint(body["errors"]), "blue, yellow") {
		t.Fatalf("plate under two colours = %d %v; want 400 naming colour with blue, yellow", code, body)
	}
	for _, q := range []string{"color=yellow", "colour=yellow&lat=39.3&lon=112.4&plate_colour=yellow"} {
		code, body = get("/v1/checkpoint/" + url.PathEscape("晋F89012") + "?" + q)
		if code != 400 || fieldOf(body) == "" || fieldOf(body) == "colour" {
			t.Fatalf("?%s = %d %v; want 400 naming the unknown parameter", q, code, body)
		}
	}
	if code, body = get("/v1/registry/status?plate=" + url.QueryEscape("晋F89012") + "&color=yellow"); code != 400 || fieldOf(body) != "color" {
		t.Fatalf("registry status with color = %d %v; want 400 naming color", code, body)
	}
}

// fieldOf is the first field a problem names.
func fieldOf(body map[string]any) string {
	errs, _ := body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	f, _ := errs[0].(map[string]any)["field"].(string)
	return f
}

// TestCheckpointRefusesNonFinitePosition: NaN and infinities are refused at the edge naming
// the field (they used to answer 200, after which the officer's audit trail, and that of every
// officer in the same batch, answered 500 for good), and the trail keeps answering.
func TestCheckpointRefusesNonFinitePosition(t *testing.T) {
	s := newStack(t)
	police, other := s.token(auth.Police, "", "officer-nan"), s.token(auth.Police, "", "officer-beside")
	for _, q := range []string{"lat=NaN&lon=NaN", "lat=39.3&lon=Inf", "lat=-Infinity&lon=112.4", "lat=1e999&lon=112.4", "lat=nan&lon=112.4"} {
		code, body := call(t, s.srv.URL, "GET", "/v1/checkpoint/"+url.PathEscape("晋F23456")+"?colour=yellow&"+q, police, nil)
		field := ""
		if errs, _ := body["errors"].([]any); len(errs) > 0 {
			field, _ = errs[0].(map[string]any)["field"].(string)
		}
		want := "lat"
		if strings.HasPrefix(q, "lat=39.3") {
			want = "lon"
		}
		if code != 400 || field != want {
			t.Fatalf("lookup with %s = %d %v, want 400 naming %s", q, code, body, want)
		}
	}
	for _, tok := range []string{police, other} {
		if code, body := call(t, s.srv.URL, "GET", "/v1/checkpoint/"+url.PathEscape("晋F23456")+"?colour=yellow&lat=39.33&lon=112.43", tok, nil); code != 200 {
			t.Fatalf("lookup with a real position = %d %v", code, body)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, tok := range []string{police, other} {
		for {
			code, body := call(t, s.srv.URL, "GET", "/v1/lookups/mine", tok, nil)
			if code != 200 {
				t.Fatalf("/v1/lookups/mine = %d %v, want 200", code, body)
			}
			if items, _ := body["items"].([]any); len(items) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/v1/lookups/mine = %v, want the one lookup with a real position", body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestFleetCannotClearItsOwnVerdict: a fleet moved its truck's scrap_due into the future, or its
// emission standard up, with a PATCH, and the checkpoint's next answer dropped the STOP or the
// phase-out reason. Now the change waits for the bureau and the verdict keeps the accepted
// values; once the bureau accepts, the verdict follows.
func TestFleetCannotClearItsOwnVerdict(t *testing.T) {
	s := newStack(t)
	police := s.token(auth.Police, "", "officer-integrity")
	bureau := s.token(auth.Bureau, "", "bureau-officer")
	fleet := s.token(auth.Fleet, "fleet-shuozhou-logistics", "")
	expect := func(t *testing.T, plate, want, code string) {
		t.Helper()
		_, body := lookup(t, s.srv.URL, police, plate, "yellow")
		if body["verdict"] != want || !has(codes(body), code) {
			t.Fatalf("%s: verdict %v %v, want %s with %s", plate, body["verdict"], codes(body), want, code)
		}
	}
	vin, _ := vehicleid.WithCheckDigit("LZZ1CLVB0N0000077")
	if code, b := call(t, s.srv.URL, "POST", "/v1/vehicles", bureau, map[string]any{"vin": vin, "plate": "晋F77007", "plate_colour": "yellow",
		"fuel_type": "diesel", "emission_standard": "VIa", "category": "N3", "use": "operating", "maker": "Sinotruk",
		"registered_on": "2015-05-01", "scrap_due": "2025-06-01", "fleet_id": "fleet-shuozhou-logistics"}); code != 201 {
		t.Fatalf("register = %d %v", code, b)
	}
	expect(t, "晋F77007", "stop", "past_forced_scrappage")
	code, b := call(t, s.srv.URL, "PATCH", "/v1/vehicles/"+vin, fleet, map[string]any{"scrap_due": "2040-01-01"})
	if code != 202 {
		t.Fatalf("fleet PATCH scrap_due = %d %v, want 202 (a proposal)", code, b)
	}
	expect(t, "晋F77007", "stop", "past_forced_scrappage")

	expect(t, "晋F34567", "inspect", "phase_out_overdue")
	code, b = call(t, s.srv.URL, "PATCH", "/v1/vehicles/LZZ1CLVB6N0000003", fleet, map[string]any{"emission_standard": "VIa"})
	if code != 202 {
		t.Fatalf("fleet PATCH emission_standard = %d %v, want 202", code, b)
	}
	expect(t, "晋F34567", "inspect", "phase_out_overdue")

	// The bureau accepts the standard (say the engine was replaced): the verdict follows.
	id := b["proposal"].(map[string]any)["proposal_id"].(string)
	if code, b := call(t, s.srv.URL, "POST", "/v1/vehicle-proposals/"+id+"/accept", bureau, map[string]any{"reason": "engine replacement certified"}); code != 200 {
		t.Fatalf("accept = %d %v", code, b)
	}
	_, body := lookup(t, s.srv.URL, police, "晋F34567", "yellow")
	if has(codes(body), "phase_out_overdue") {
		t.Fatalf("after acceptance the verdict still lists the China III phase-out: %v", codes(body))
	}
}
