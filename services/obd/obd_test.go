package obd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/platform"
	"github.com/clearsky/clearsky/libs/summary"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/libs/vehicleid"
	"github.com/clearsky/clearsky/services/obd"
	"github.com/clearsky/clearsky/services/obd/internal/protocol"
	"github.com/clearsky/clearsky/services/obd/internal/sim"
)

type env struct {
	t      *testing.T
	srv    *httptest.Server
	svc    *obd.Service
	deps   platform.Deps
	keys   *auth.Keys
	regURL string // a real registry's base URL (newRegistryEnv), or ""
}

func vinOf(t *testing.T, i int) string {
	v, err := vehicleid.WithCheckDigit(fmt.Sprintf("LFSMTRKA0%08d", i))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func plateOf(i int) string { return fmt.Sprintf("晋F%05d", i) }

func iccidOf(i int) string { return fmt.Sprintf("898600%014d", i) }

// register writes the registry's entries for truck i straight into Redis, as the registry would.
func (e *env) register(i int, fleet string) {
	v := summary.Vehicle{VIN: vinOf(e.t, i), Plate: plateOf(i), PlateColour: "yellow", Status: "active", FuelType: "diesel",
		EmissionStandard: "VIa", Category: "N3", Heavy: true, FleetID: fleet, TerminalBound: true, TerminalICCID: iccidOf(i)}
	b, _ := summary.Encode(summary.Registry, time.Now(), v)
	ctx := context.Background()
	e.deps.Redis.Set(ctx, summary.VINKey(e.deps.RedisPrefix, v.VIN), b, time.Hour)
	e.deps.Redis.Set(ctx, summary.Key(e.deps.RedisPrefix, vehicleid.Key(v.Plate, vehicleid.Yellow), summary.Registry), b, time.Hour)
}

func newEnv(t *testing.T, opts ...func(*obd.Config)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rdb, prefix := testenv.Redis(t)
	deps := testenv.Platform(t, obd.Name, testenv.Mongo(t), rdb, prefix)
	// The registry: known trucks are in Redis (register); its API knows nothing else.
	registry := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(registry.Close)
	deps.Vehicles = platform.NewVehicles("obd-test", registry.URL, nil, deps)
	cfg := obd.Config{Gateway: obd.GatewayConfig{Addr: "127.0.0.1:0"}}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := obd.New(ctx, cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	engine := platform.Engine(obd.Name, deps)
	svc.Routes(engine)
	srv := httptest.NewServer(engine)
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	return &env{t: t, srv: srv, svc: svc, deps: deps, keys: deps.Keys}
}

func (e *env) token(role auth.Role, tenant string) string {
	tok, _ := e.keys.Issue(auth.Principal{Role: role, Tenant: tenant}, time.Now(), time.Hour)
	return tok
}

func (e *env) do(method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func openKinds(t *testing.T, e *env, vin string) map[string]bool {
	t.Helper()
	code, body := e.do("GET", "/v1/obd/vehicles/"+vin+"/alarms?state=open", e.token(auth.Bureau, ""), nil)
	if code != 200 {
		t.Fatalf("alarms of %s = %d %v", vin, code, body)
	}
	kinds := map[string]bool{}
	for _, it := range body["items"].([]any) {
		kinds[it.(map[string]any)["kind"].(string)] = true
	}
	return kinds
}

// TestGatewayEndToEnd drives the real TCP gateway with concurrent simulated terminals whose
// streams are split, joined, interleaved with garbage and corrupted copies, cut by disconnects
// and followed by reissues, and checks that every sample is stored exactly once and that every
// alarm the profiles call for fires.
func TestGatewayEndToEnd(t *testing.T) {
	e := newEnv(t)
	const trucks, frames = 24, 40
	var terms []sim.Terminal
	profiles := map[int]sim.Profile{0: sim.NOxHigh, 1: sim.ReagentEmpty, 2: sim.MILOn, 3: sim.Removal}
	for i := 0; i < trucks; i++ {
		e.register(i, "fleet-sim")
		p, ok := profiles[i]
		if !ok {
			p = sim.Clean
		}
		terms = append(terms, sim.Terminal{VIN: vinOf(t, i), ICCID: iccidOf(i), Profile: p})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := sim.Run(ctx, sim.Options{Addr: e.svc.GatewayAddr().String(), Terminals: terms, Frames: frames, Seed: 7,
		Faults: sim.Faults{Garbage: 0.1, BadChecksum: 0.1, Disconnect: 0.05, Reissue: 0.1, SplitJoin: true}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Corrupted == 0 || rep.Reissued == 0 || rep.Disconnects == 0 {
		t.Fatalf("the simulation injected too little: %+v", rep)
	}
	// A terminal the registry does not know, and one whose SIM is not the bound one.
	if _, err := sim.Run(ctx, sim.Options{Addr: e.svc.GatewayAddr().String(), Frames: 3, Terminals: []sim.Terminal{
		{VIN: vinOf(t, 900), ICCID: iccidOf(900), Profile: sim.Clean}, {VIN: vinOf(t, 5), ICCID: iccidOf(999), Profile: sim.Clean}}}); err != nil {
		t.Fatal(err)
	}

	frameDocs := e.deps.DB.Collection("obd_frames")
	want := int64(trucks * frames)
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := frameDocs.CountDocuments(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		if n == want {
			break
		}
		if n > want || time.Now().After(deadline) {
			t.Fatalf("stored %d frames, want exactly %d (sim report %+v)", n, want, rep)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rejected := e.svc.RejectedFrames()
	for _, reason := range []string{"bad_checksum", "unknown_vin", "iccid_mismatch", "not_logged_in"} {
		if got := testutil.ToFloat64(rejected.WithLabelValues(reason)); got == 0 {
			t.Errorf("no frame rejected as %s", reason)
		}
	}
	bureau := e.token(auth.Bureau, "")
	for _, i := range []int{0, 7} {
		code, body := e.do("GET", fmt.Sprintf("/v1/obd/vehicles/%s/samples?from=%s&to=%s", vinOf(t, i),
			url.QueryEscape(time.Now().Add(-2*time.Hour).Format(time.RFC3339)), url.QueryEscape(time.Now().Format(time.RFC3339))), bureau, nil)
		if code != 200 || int(body["count"].(float64)) != frames*10 {
			t.Fatalf("samples of truck %d = %d, count %v; want %d", i, code, body["count"], frames*10)
		}
		first := body["items"].([]any)[0].(map[string]any)
		if first["nox_down_ppm"] == nil || first["speed_kmh"].(float64) != 50 || first["atmospheric_pressure_kpa"].(float64) != 90 {
			t.Fatalf("first sample = %v", first)
		}
	}
	// Every alarm the profiles call for has fired; clean trucks have none.
	wantAlarm := map[int]string{0: "nox_exceedance", 1: "reagent_empty", 2: "mil_on", 3: "tamper_removal_alarm"}
	for i, kind := range wantAlarm {
		if kinds := openKinds(t, e, vinOf(t, i)); !kinds[kind] {
			t.Errorf("truck %d (%s): open alarms %v, want %s", i, profiles[i], kinds, kind)
		}
	}
	if kinds := openKinds(t, e, vinOf(t, 2)); !kinds["fault_codes"] {
		t.Errorf("MIL truck lacks the fault_codes alarm: %v", kinds)
	}
	for i := 4; i < trucks; i++ {
		if kinds := openKinds(t, e, vinOf(t, i)); len(kinds) != 0 {
			t.Errorf("clean truck %d has alarms %v", i, kinds)
		}
	}
	// The bureau's district list: every open alarm once, newest first, page by page; by kind.
	seen := map[string]bool{}
	var last time.Time
	for page, cur := 0, ""; page == 0 || cur != ""; page++ {
		code, body := e.do("GET", "/v1/obd/alarms?state=open&limit=2&cursor="+cur, e.token(auth.Bureau, ""), nil)
		if code != 200 || page > 50 {
			t.Fatalf("district alarms page %d = %d %v", page, code, body)
		}
		for _, it := range body["items"].([]any) {
			a := it.(map[string]any)
			id := a["alarm_id"].(string)
			opened, err := time.Parse(time.RFC3339Nano, a["opened_at"].(string))
			if err != nil || seen[id] {
				t.Fatalf("alarm %s listed twice, or its opened_at unreadable (%v)", id, err)
			}
			if !last.IsZero() && opened.After(last) {
				t.Fatalf("alarm %s opened %s after the one before it (%s): not newest first", id, opened, last)
			}
			seen[id], last = true, opened
			if a["vin"] == "" || a["kind"] == "" {
				t.Fatalf("district alarm without its truck or kind: %v", a)
			}
		}
		cur = body["next_cursor"].(string)
	}
	open := 0
	for i := range trucks {
		open += len(openKinds(t, e, vinOf(t, i)))
	}
	if len(seen) != open {
		t.Fatalf("district list has %d open alarms, the trucks have %d", len(seen), open)
	}
	code, body := e.do("GET", "/v1/obd/alarms?kind=reagent_empty", e.token(auth.Bureau, ""), nil)
	if items, _ := body["items"].([]any); code != 200 || len(items) != 1 || items[0].(map[string]any)["vin"] != vinOf(t, 1) {
		t.Fatalf("reagent_empty alarms = %d %v, want truck 1's", code, body)
	}
	if code, body := e.do("GET", "/v1/obd/alarms?kind=smoke", e.token(auth.Bureau, ""), nil); code != 400 {
		t.Fatalf("unknown kind = %d %v, want 400", code, body)
	}
	if code, _ := e.do("GET", "/v1/obd/alarms", e.token(auth.Fleet, "fleet-1"), nil); code != 403 {
		t.Fatalf("a fleet listing the district's alarms = %d, want 403", code)
	}
	// The checkpoint's part in Redis shows the NOx alarm.
	raw, err := e.deps.Redis.Get(ctx, summary.Key(e.deps.RedisPrefix, vehicleid.Key(plateOf(0), vehicleid.Yellow), summary.OBD)).Bytes()
	if err != nil {
		t.Fatalf("OBD part of truck 0 not in Redis: %v", err)
	}
	env, _ := summary.Decode(raw)
	var part summary.Truck
	_ = json.Unmarshal(env.Data, &part)
	found := false
	for _, a := range part.OpenAlarms {
		found = found || a.Kind == "nox_exceedance"
	}
	if !found || part.VIN != vinOf(t, 0) {
		t.Fatalf("OBD part = %+v, want the NOx alarm", part)
	}
}

// TestGatewayHJ1239 runs the gateway in the HJ 1239 layout (CLEARSKY_OBD_LAYOUT=hj1239), whose
// items carry their own collection times: its frames are stored and judged with the decoder
// that read them, so the alarms fire and the samples keep the items' times. (Before, the
// monitor decoded stored frames again as GB 17691: they were stored but never judged.)
func TestGatewayHJ1239(t *testing.T) {
	e := newEnv(t, func(c *obd.Config) { c.Gateway.Layout = protocol.LayoutHJ1239 })
	profiles := []sim.Profile{sim.NOxHigh, sim.ReagentEmpty, sim.Clean}
	var terms []sim.Terminal
	for i, p := range profiles {
		e.register(i, "fleet-1")
		terms = append(terms, sim.Terminal{VIN: vinOf(t, i), ICCID: iccidOf(i), Profile: p, Layout: protocol.LayoutHJ1239})
	}
	const frames = 40
	start := time.Now().Add(-frames * 10 * time.Second).Truncate(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sim.Run(ctx, sim.Options{Addr: e.svc.GatewayAddr().String(), Terminals: terms, Frames: frames, Start: start, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	frameDocs := e.deps.DB.Collection("obd_frames")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n, err := frameDocs.CountDocuments(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		if n == int64(len(profiles)*frames) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored %d frames, want %d", n, len(profiles)*frames)
		}
	}
	want := map[int]string{0: "nox_exceedance", 1: "reagent_empty"}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if openKinds(t, e, vinOf(t, 0))[want[0]] && openKinds(t, e, vinOf(t, 1))[want[1]] || time.Now().After(deadline) {
			break
		}
	}
	for i, p := range profiles {
		kinds := openKinds(t, e, vinOf(t, i))
		if w := want[i]; w != "" && !kinds[w] {
			t.Errorf("HJ 1239 truck %d (%s): open alarms %v, want %s", i, p, kinds, w)
		}
		if want[i] == "" && len(kinds) > 0 {
			t.Errorf("clean HJ 1239 truck has alarms %v", kinds)
		}
	}
	// The samples keep the items' own times: ten a frame, a second apart from each frame's start.
	from, to := start.Add(-time.Second), start.Add(frames*10*time.Second)
	code, body := e.do("GET", "/v1/obd/vehicles/"+vinOf(t, 2)+"/samples?from="+url.QueryEscape(from.Format(time.RFC3339))+"&to="+url.QueryEscape(to.Format(time.RFC3339)), e.token(auth.Bureau, ""), nil)
	if code != 200 {
		t.Fatalf("samples = %d %v", code, body)
	}
	samples, _ := body["items"].([]any)
	if len(samples) != frames*10 {
		t.Fatalf("%d samples stored and read back, want %d", len(samples), frames*10)
	}
	first, _ := time.Parse(time.RFC3339, samples[0].(map[string]any)["at"].(string))
	if !first.Equal(start) {
		t.Fatalf("first sample at %v, want the first item's own time %v", first, start)
	}
}

func TestTimeCalibrationReply(t *testing.T) {
	e := newEnv(t)
	c, err := net.Dial("tcp", e.svc.GatewayAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	vin, _ := protocol.ParseVIN(vinOf(t, 1))
	req, _ := protocol.AppendFrame(nil, protocol.Header{Command: protocol.CmdTimeCalibration, VIN: vin, Encryption: protocol.EncNone}, nil)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	raw, err := protocol.NewReader(c, 0).Next()
	if err != nil {
		t.Fatal(err)
	}
	var f protocol.Frame
	if err := protocol.Decode(raw, &f); err != nil {
		t.Fatal(err)
	}
	if f.Header.Command != protocol.CmdTimeCalibration || time.Since(f.Time).Abs() > 5*time.Second {
		t.Fatalf("reply = %v at %v, want a time calibration with the platform's time", f.Header.Command, f.Time)
	}
}

func TestRESTUpload(t *testing.T) {
	e := newEnv(t)
	e.register(1, "fleet-a")
	e.register(2, "fleet-b")
	fleetA := e.token(auth.Fleet, "fleet-a")
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	var samples []map[string]any
	for i := 0; i < 25; i++ {
		samples = append(samples, map[string]any{"vin": vinOf(t, 1), "at": base.Add(time.Duration(i) * time.Second).Format(time.RFC3339),
			"speed_kmh": 40.5, "engine_speed_rpm": 1200, "nox_up_ppm": 650, "nox_down_ppm": 80.25, "reagent_pct": 55.2,
			"scr_inlet_c": 305, "lon": 112.43, "lat": 39.33, "mil": "off", "fault_codes": []int{}})
	}
	code, body := e.do("POST", "/v1/obd/samples", fleetA, map[string]any{"samples": samples})
	if code != 200 || body["accepted"].(float64) != 25 || body["duplicates"].(float64) != 0 {
		t.Fatalf("upload = %d %v", code, body)
	}
	code, body = e.do("POST", "/v1/obd/samples", fleetA, map[string]any{"samples": samples})
	if code != 200 || body["accepted"].(float64) != 0 || body["duplicates"].(float64) != 25 {
		t.Fatalf("re-upload = %d %v, want all duplicates", code, body)
	}
	q := fmt.Sprintf("?from=%s&to=%s", url.QueryEscape(base.Format(time.RFC3339)), url.QueryEscape(base.Add(time.Minute).Format(time.RFC3339)))
	code, body = e.do("GET", "/v1/obd/vehicles/"+vinOf(t, 1)+"/samples"+q, fleetA, nil)
	if code != 200 || body["count"].(float64) != 25 {
		t.Fatalf("read back = %d %v", code, body["count"])
	}
	s0 := body["items"].([]any)[0].(map[string]any)
	if s0["nox_down_ppm"].(float64) != 80.25 || s0["speed_kmh"].(float64) != 40.5 || s0["fuel_flow_lph"] != nil || s0["source"] != "rest" {
		t.Fatalf("sample read back = %v", s0)
	}
	before, _ := e.deps.DB.Collection("obd_frames").CountDocuments(context.Background(), bson.D{})
	cases := []struct {
		name      string
		token     string
		body      any
		wantCode  int
		wantField string
	}{
		{"another fleet's truck", fleetA, map[string]any{"samples": []map[string]any{{"vin": vinOf(t, 2), "at": base.Format(time.RFC3339)}}}, 400, "samples[0].vin"},
		{"value out of range", fleetA, map[string]any{"samples": []map[string]any{{"vin": vinOf(t, 1), "at": base.Format(time.RFC3339), "nox_down_ppm": 5000}}}, 400, "samples[0].nox_down_ppm"},
		{"bad check digit", fleetA, map[string]any{"samples": []map[string]any{{"vin": "LFSMTRKA100000001", "at": base.Format(time.RFC3339)}}}, 400, "samples[0].vin"},
		{"missing time", fleetA, map[string]any{"samples": []map[string]any{{"vin": vinOf(t, 1)}}}, 400, "samples[0].at"},
		{"unknown field", fleetA, map[string]any{"samples": []map[string]any{{"vin": vinOf(t, 1), "at": base.Format(time.RFC3339), "nox": 1}}}, 400, "nox"},
		{"empty", fleetA, map[string]any{"samples": []any{}}, 400, "samples"},
		{"police may not upload", e.token(auth.Police, ""), map[string]any{"samples": samples[:1]}, 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := e.do("POST", "/v1/obd/samples", tc.token, tc.body)
			field := ""
			if errs, ok := body["errors"].([]any); ok && len(errs) > 0 {
				field = errs[0].(map[string]any)["field"].(string)
			}
			if code != tc.wantCode || field != tc.wantField {
				t.Fatalf("= %d field %q (%v), want %d %q", code, field, body, tc.wantCode, tc.wantField)
			}
		})
	}
	if after, _ := e.deps.DB.Collection("obd_frames").CountDocuments(context.Background(), bson.D{}); after != before {
		t.Fatalf("frames %d -> %d after refused uploads", before, after)
	}
	// Reads are scoped: fleet B cannot see fleet A's truck; the checkpoint's status route works by plate.
	if code, _ := e.do("GET", "/v1/obd/vehicles/"+vinOf(t, 1)+"/state", e.token(auth.Fleet, "fleet-b"), nil); code != 404 {
		t.Fatalf("fleet B reading fleet A's truck = %d, want 404", code)
	}
	code, body = e.do("GET", "/v1/obd/status?plate="+url.QueryEscape(plateOf(1))+"&colour=yellow", e.token(auth.Police, ""), nil)
	if code != 200 || body["vin"] != vinOf(t, 1) {
		t.Fatalf("status = %d %v", code, body)
	}
	code, body = e.do("GET", "/v1/obd/status?plate="+url.QueryEscape("晋F99999")+"&colour=yellow", e.token(auth.Police, ""), nil)
	if code != 200 || body["vin"] != "" {
		t.Fatalf("status of an unknown plate = %d %v, want an empty part", code, body)
	}
	if code, _ := e.do("GET", "/v1/obd/status?plate=x&colour=yellow", e.token(auth.Police, ""), nil); code != 400 {
		t.Fatalf("status of a non-plate = %d, want 400", code)
	}
}
